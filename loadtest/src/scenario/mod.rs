//! The scenarios and what they share: the run context, fresh rooms, and
//! progress bars.
//!
//! - [`chat`]: many viewers in one room, a few senders; chat fan-out.
//! - [`join`]: a storm of viewers joining; join latency and memory per viewer.
//! - [`flash_sale`]: many buyers racing for little stock; then [`audit`]
//!   checks the store against what the buyers were told.

pub mod audit;
mod buyer;
pub mod chat;
pub mod flash_sale;
pub mod join;

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::client;
use crate::report::TargetInfo;
use crate::target::Target;
use crate::tokens::Minter;

/// What every scenario runs against.
pub struct Ctx {
    pub target: Target,
    /// Signs tokens with the server's secret; shared by client tasks.
    pub minter: Arc<Minter>,
    pub http: reqwest::Client,
    pub quick: bool,
    /// Draw progress bars (off in tests and when stderr is not a terminal).
    pub show_progress: bool,
    /// Where the spawned server binary is, for the report.
    pub server_binary: Option<String>,
}

impl Ctx {
    /// A progress bar of `len` steps, hidden when progress is off.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if !self.show_progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        let style = ProgressStyle::with_template(
            "{msg:>14} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    pub fn target_info(&self) -> TargetInfo {
        TargetInfo {
            url: self.target.http_base.clone(),
            spawned: self.target.server.is_some(),
            server_binary: self.server_binary.clone(),
        }
    }

    /// Open a fresh room (product `p1` with `stock` units) for this run.
    pub async fn fresh_room(&self, scenario: &str, stock: u32) -> anyhow::Result<String> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let id = format!("lt-{scenario}-{}", &suffix[..8]);
        let admin = self.minter.admin()?;
        client::create_room(&self.http, &self.target.http_base, &admin, &id, stock).await?;
        Ok(id)
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
