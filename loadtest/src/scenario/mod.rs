//! The scenarios and what they share: the run context, fresh rooms, and
//! progress bars.
//!
//! - [`chat`]: many viewers in one room, a few senders; chat fan-out.
//! - [`join`]: a storm of viewers joining; join latency and memory per viewer.
//! - [`flash_sale`]: many buyers racing for little stock; then [`audit`]
//!   checks the store against what the buyers were told.
//! - [`delivery`]: the chat audit — every viewer gets every message, in
//!   order, once.
//! - [`mixed`]: the flash sale, the shopping bag and a voucher at once;
//!   then every unit of every product is accounted for.
//! - [`practice`]: practice rooms with the server's simulated audiences,
//!   a soak test: errors, server memory and CPU over time.
//! - [`video`]: a synthetic WebRTC publisher and N webrtc-rs viewers: the
//!   SFU's CPU, memory, losses and forward delay per viewer.
//! - `seller`: the seller's connection, read for its whole life, shared by
//!   the scenarios that have one.
//!
//! With several nodes, client `i` connects to node `i mod N`
//! ([`Target::node`]); the room is created on node 0 and every node must
//! know it ([`Ctx::fresh_room`]).

pub mod audit;
mod buyer;
pub mod chat;
pub mod delivery;
pub mod flash_sale;
pub mod join;
pub mod mixed;
pub mod practice;
mod seller;
pub mod video;

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};

use crate::client;
use crate::pinning::Pinning;
use crate::report::TargetInfo;
use crate::target::{self, Target};
use crate::tokens::Minter;

/// What every scenario runs against.
pub struct Ctx {
    pub target: Target,
    /// Signs tokens with the server's secret; shared by client tasks.
    pub minter: Arc<Minter>,
    /// That secret (buyer agents mint their own tokens with it).
    pub secret: String,
    pub http: reqwest::Client,
    pub quick: bool,
    /// Draw progress bars (off in tests and when stderr is not a terminal).
    pub show_progress: bool,
    /// Where the spawned server binary is, for the report.
    pub server_binary: Option<String>,
    /// `--pin`: which process runs on which CPUs.
    pub pinning: Option<Pinning>,
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
            url: self.target.first().http_base.clone(),
            spawned: self.target.spawned(),
            server_binary: self.server_binary.clone(),
            nodes: self
                .target
                .nodes
                .iter()
                .map(|n| n.http_base.clone())
                .collect(),
            store: self.target.store,
            redis_settings: self.target.redis_settings.clone(),
            pinning: self.pinning.clone(),
        }
    }

    /// Open a fresh room (product `p1` with `stock` units) for this run on
    /// node 0; its id. Every other node must know it (they share rooms
    /// through the Redis room store), and with a Redis the harness started
    /// the room must have left keys in it: anything else fails the run, as
    /// the scenario would measure something else than it says.
    pub async fn fresh_room(&self, scenario: &str, stock: u32) -> anyhow::Result<String> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let id = format!("lt-{scenario}-{}", &suffix[..8]);
        let admin = self.minter.admin()?;
        let first = &self.target.first().http_base;
        client::create_room(&self.http, first, &admin, &id, stock).await?;
        for (k, node) in self.target.nodes.iter().enumerate().skip(1) {
            if !client::room_exists(&self.http, &node.http_base, &id).await? {
                bail!(
                    "node {k} ({}) does not know room {id}, just created on node 0 ({first}): \
                     several nodes must share rooms through one Redis (store.kind = \"redis\", \
                     the same store.redis_url), which needs a server with the Redis room store",
                    node.http_base
                );
            }
        }
        if let Some(redis) = &self.target.redis {
            if target::redis_keys_naming(redis.port, &id).await? == 0 {
                bail!(
                    "room {id} left no key in the Redis on port {} although the nodes were \
                     started with store.kind = \"redis\": this server keeps rooms in memory \
                     (it predates the Redis room store), so the run would not measure the Redis path",
                    redis.port
                );
            }
        }
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
