//! The scenarios and what they share: the run context, fresh rooms, and
//! progress bars.
//!
//! - [`chat`]: many viewers in one room, a few senders; chat fan-out.
//! - [`join`]: a storm of viewers joining; join latency and memory per viewer.
//! - [`flash_sale`]: many buyers racing for little stock; then [`audit`]
//!   checks the store against what the buyers were told.
//! - [`delivery`]: the chat audit — every viewer gets every message, in
//!   order, once.
//!
//! With several nodes, client `i` connects to node `i mod N`
//! ([`Target::node`]); the room is created on node 0 ([`Ctx::fresh_room`]).

pub mod audit;
mod buyer;
pub mod chat;
pub mod delivery;
pub mod flash_sale;
pub mod join;

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::client;
use crate::report::TargetInfo;
use crate::target::{self, Target};
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

    pub fn target_info(&self, room: &RoomSetup) -> TargetInfo {
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
            rooms_shared: room.shared,
            rooms_in_redis: room.in_redis,
        }
    }

    /// Open a fresh room (product `p1` with `stock` units) for this run on
    /// node 0, and make sure every other node knows it: a node that answers
    /// 404 does not share rooms (no Redis room store), so the room is
    /// created there too and the run is marked `rooms_shared: false`.
    pub async fn fresh_room(&self, scenario: &str, stock: u32) -> anyhow::Result<RoomSetup> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let id = format!("lt-{scenario}-{}", &suffix[..8]);
        let admin = self.minter.admin()?;
        let first = &self.target.first().http_base;
        client::create_room(&self.http, first, &admin, &id, stock).await?;
        let mut shared = None;
        for node in &self.target.nodes[1..] {
            let known = client::room_exists(&self.http, &node.http_base, &id).await?;
            if !known {
                client::create_room(&self.http, &node.http_base, &admin, &id, stock).await?;
            }
            shared = Some(shared.unwrap_or(true) && known);
        }
        let in_redis = match &self.target.redis {
            Some(redis) => Some(target::redis_keys_naming(redis.port, &id).await? > 0),
            None => None,
        };
        Ok(RoomSetup {
            id,
            shared,
            in_redis,
        })
    }
}

/// The run's room, and what creating it told about the nodes.
pub struct RoomSetup {
    pub id: String,
    /// With several nodes: whether every node already knew the room made on
    /// node 0. `None` with one node.
    pub shared: Option<bool>,
    /// With a Redis the harness knows: whether the room left keys in it.
    pub in_redis: Option<bool>,
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
