//! Configuration: embedded defaults, an optional file, then environment.
//!
//! `config/default.toml` is compiled into the binary, so `chophien serve`
//! runs anywhere. A `--config` file overrides any subset of its keys, and
//! `CHOPHIEN_<SECTION>__<KEY>` environment variables override both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

use crate::redis_link::RedisTarget;
use crate::room::{RoomLimits, RoomSettings};

/// The embedded default configuration.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub rooms: RoomsConfig,
    pub orders: OrdersConfig,
    pub limits: LimitsConfig,
    pub store: StoreConfig,
    pub demo: DemoConfig,
    /// WebRTC SFU settings (`[media]`).
    pub media: crate::media::MediaConfig,
    /// This node among others (`[cluster]`).
    pub cluster: ClusterConfig,
    /// Signed webhooks to shops' own systems (`[webhooks]`).
    pub webhooks: WebhooksConfig,
    /// Where files that outlive the process go (`[data]`).
    pub data: DataConfig,
    /// Each room's session journal (`[journal]`).
    pub journal: JournalConfig,
    /// Recording the seller's stream for replays (`[recording]`).
    pub recording: RecordingConfig,
    /// The compliance checker: where it runs, which rules (`[compliance]`).
    #[serde(default)]
    pub compliance: crate::compliance::ComplianceConfig,
    /// Practice rooms' simulated audiences (`[practice]`).
    #[serde(default)]
    pub practice: PracticeConfig,
    /// Product photos sellers upload (`[photos]`).
    #[serde(default)]
    pub photos: PhotosConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PhotosConfig {
    /// Where photos go; empty: `<data.dir>/photos`. With several nodes, a
    /// directory they share (any node serves a photo any node stored).
    pub dir: PathBuf,
    /// The largest upload accepted, in bytes (a phone's photo is a few MB;
    /// past this the body is refused before it is read whole).
    pub max_bytes: usize,
    /// Photos one room may store (re-uploading one it has is free): disk
    /// is bounded per room.
    pub per_room: usize,
}

impl Default for PhotosConfig {
    fn default() -> PhotosConfig {
        PhotosConfig {
            dir: PathBuf::new(),
            max_bytes: 8 * 1024 * 1024,
            per_room: 200,
        }
    }
}

impl Config {
    /// Where product photos go (`photos.dir`, else under `data.dir`).
    pub fn photos_dir(&self) -> PathBuf {
        if self.photos.dir.as_os_str().is_empty() {
            self.data.dir.join("photos")
        } else {
            self.photos.dir.clone()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataConfig {
    /// The embedded mode's files: session journals (JSON lines) and, unless
    /// `recording.dir` says otherwise, recordings. Relative to the working
    /// directory.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JournalConfig {
    /// Record every room's session journal (analytics and reports read it).
    pub enabled: bool,
    /// How long a session's journal is kept after its last entry.
    pub retention_days: u32,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PracticeConfig {
    /// A trainer's personas (`*.toml` like `config/personas/vi.toml`),
    /// added to the built-in ones or replacing them by id; empty: none.
    #[serde(default)]
    pub personas_dir: PathBuf,
}

impl Config {
    /// Where trainers' saved scenarios go.
    pub fn scenarios_dir(&self) -> PathBuf {
        self.data.dir.join("practice").join("scenarios")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecordingConfig {
    /// Record the seller's stream while she is live.
    pub enabled: bool,
    /// Where recordings go; empty: `<data.dir>/recordings`.
    pub dir: PathBuf,
    /// How long a recording is kept after its live ended.
    pub retention_days: u32,
    /// The `ffmpeg` program that writes the recording file.
    pub ffmpeg: PathBuf,
}

impl Config {
    /// Where recordings go (`recording.dir`, else under `data.dir`).
    pub fn recording_dir(&self) -> PathBuf {
        if self.recording.dir.as_os_str().is_empty() {
            self.data.dir.join("recordings")
        } else {
            self.recording.dir.clone()
        }
    }

    /// Where the embedded mode's session journals go.
    pub fn journal_dir(&self) -> PathBuf {
        self.data.dir.join("journal")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhooksConfig {
    /// Let webhooks go to loopback and private addresses (tests, local
    /// development). Off in production: server-side request forgery.
    pub allow_private_targets: bool,
    /// The longest one delivery attempt may take, connecting included.
    pub request_timeout_ms: u64,
    /// The wait after the first failed attempt; doubles after each.
    pub retry_base_ms: u64,
    /// The longest wait between two attempts.
    pub retry_cap_ms: u64,
    /// Attempts before a delivery is given up (`failed`).
    pub max_attempts: u32,
    /// How often each node looks for due deliveries.
    pub poll_interval_ms: u64,
    /// Attempts one node makes at once.
    pub max_concurrent: usize,
    /// Deliveries listed in a room's delivery log.
    pub log_size: usize,
    /// With the Redis store: how long a delivered or failed entry is kept.
    pub retention_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClusterConfig {
    /// This node's id in the node directory; empty: a fresh random one at
    /// every start.
    pub node_id: String,
    /// Where other nodes reach this one over HTTP; empty: `http://` and the
    /// bound address.
    pub advertise_url: String,
    pub heartbeat_ms: u64,
    /// A node whose last beat is older than this is gone.
    pub node_ttl_ms: u64,
    /// After this long without Redis, a node stops taking clients and sends
    /// its own elsewhere.
    pub partition_grace_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: String,
    pub max_frame_bytes: usize,
    pub room_event_buffer: usize,
    pub direct_queue: usize,
    pub write_batch: usize,
    pub ws_read_buffer_bytes: usize,
    pub ws_write_buffer_bytes: usize,
    pub ping_interval_secs: u64,
    pub write_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub web_root: PathBuf,
    /// Behind a reverse proxy: a client's address is the last
    /// `X-Forwarded-For` entry (the proxy's), not the peer's.
    pub behind_proxy: bool,
    /// How long the allocator keeps freed memory before giving it back to
    /// the system (`-1`: never). With mimalloc's 1 s a flash-sale burst gave
    /// pages back and faulted them in again thousands of times; set by the
    /// binary at start (`main.rs`).
    pub allocator_purge_delay_ms: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    pub secret: String,
    pub token_ttl_secs: u64,
    pub dev_tokens: bool,
    /// Serve `POST /api/guest/token` (guest identities bound to a device
    /// cookie) for public rooms.
    pub guest_tokens: bool,
    /// New guest devices per client address per minute.
    pub guests_per_minute: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoomsConfig {
    pub chat_history: usize,
    pub max_chat_chars: usize,
    pub replay_buffer: usize,
    pub hearts_interval_ms: u64,
    pub viewer_count_interval_ms: u64,
    pub sale_stock_interval_ms: u64,
    /// The most `sale_stock` frames a second one node writes to one room:
    /// in a room larger than this × the interval, stock is announced more
    /// rarely (see `server::sales::stock_spacing`).
    pub sale_stock_frames_per_sec: u64,
    /// How long a Redis-stored room's keys live on after it ended (its
    /// orders stay).
    pub ended_ttl_secs: u64,
}

/// What buyers may do with their orders (`[orders]`).
#[derive(Debug, Clone, Deserialize)]
pub struct OrdersConfig {
    /// How long after placing it a buyer may cancel a `confirmed` order.
    pub buyer_cancel_secs: u64,
    /// Order-page lookups per client address per minute.
    pub lookups_per_minute: u32,
    /// Voucher codes one identity may try per minute.
    pub voucher_tries_per_minute: u32,
    /// How long a product put in the bag stays reserved (1–3600 s).
    pub bag_hold_secs: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LimitsConfig {
    pub pings_per_sec: u32,
    pub pings_burst: u32,
    pub chat_per_sec: u32,
    pub chat_burst: u32,
    pub hearts_per_sec: u32,
    pub hearts_burst: u32,
    pub actions_per_sec: u32,
    pub actions_burst: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    Memory,
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoreConfig {
    pub kind: StoreKind,
    /// One Redis server, used when `redis_cluster_urls` is empty.
    pub redis_url: String,
    /// Seed nodes of a Redis Cluster; when not empty, the Redis store (and
    /// the node directory) use the Cluster they lead to, not `redis_url`.
    pub redis_cluster_urls: Vec<String>,
    pub sweep_interval_ms: u64,
    /// Redis store: the deadline of one call to Redis, from when it is sent.
    pub op_timeout_ms: u64,
    /// Redis store: a buy expected to wait longer than this on this node
    /// before it is sent to Redis is answered `busy` at once.
    pub buy_queue_ms: u64,
    /// Redis store: the most buys of one sale waiting on this node; past
    /// it, `busy`.
    pub buy_queue_limit: usize,
}

impl StoreConfig {
    /// Where the Redis store is: the Cluster if seed nodes are given, else
    /// the one server.
    pub fn redis_target(&self) -> RedisTarget {
        if self.redis_cluster_urls.is_empty() {
            RedisTarget::Server(self.redis_url.clone())
        } else {
            RedisTarget::Cluster(self.redis_cluster_urls.clone())
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DemoConfig {
    pub enabled: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Defaults, then `file` (if any), then `CHOPHIEN_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!("{} does not exist", file.display())));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("CHOPHIEN_").split("__"));
        let config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded defaults alone, ignoring the environment (for tests).
    pub fn defaults() -> Config {
        // The embedded file is part of the binary and covered by a test.
        Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .unwrap_or_else(|e| panic!("config/default.toml is invalid: {e}"))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        // A configured rules file is compiled (and its examples checked) now,
        // so a bad one stops the server at start rather than later.
        if !self.compliance.rules.as_os_str().is_empty() {
            crate::compliance::Checker::load(&self.compliance)
                .map_err(|e| ConfigError(e.to_string()))?;
        }
        let s = &self.server;
        if s.max_frame_bytes < 256 {
            return Err(ConfigError(
                "server.max_frame_bytes must be at least 256".into(),
            ));
        }
        if s.room_event_buffer == 0 || s.direct_queue == 0 || s.write_batch == 0 {
            return Err(ConfigError("server queue sizes must be positive".into()));
        }
        if s.allocator_purge_delay_ms < -1 {
            return Err(ConfigError(
                "server.allocator_purge_delay_ms must be -1 (never) or at least 0".into(),
            ));
        }
        let l = &self.limits;
        if [
            l.pings_per_sec,
            l.pings_burst,
            l.chat_per_sec,
            l.chat_burst,
            l.hearts_per_sec,
            l.hearts_burst,
            l.actions_per_sec,
            l.actions_burst,
        ]
        .contains(&0)
        {
            return Err(ConfigError("limits must be positive".into()));
        }
        if self.journal.retention_days == 0 || self.recording.retention_days == 0 {
            return Err(ConfigError(
                "journal.retention_days and recording.retention_days must be positive".into(),
            ));
        }
        let c = &self.cluster;
        if c.heartbeat_ms == 0 || c.node_ttl_ms <= c.heartbeat_ms {
            return Err(ConfigError(
                "cluster.node_ttl_ms must exceed cluster.heartbeat_ms (> 0)".into(),
            ));
        }
        if self.rooms.chat_history == 0 {
            return Err(ConfigError(
                "rooms.chat_history must be at least 1 (snapshots and message deletion use it)"
                    .into(),
            ));
        }
        if self
            .store
            .redis_cluster_urls
            .iter()
            .any(|url| !url.starts_with("redis://") && !url.starts_with("rediss://"))
        {
            return Err(ConfigError(
                "store.redis_cluster_urls must be redis:// URLs".into(),
            ));
        }
        if !(50..=60_000).contains(&self.store.op_timeout_ms) {
            return Err(ConfigError(
                "store.op_timeout_ms must be between 50 and 60000".into(),
            ));
        }
        if !(1..=1_000_000).contains(&self.store.buy_queue_limit) {
            return Err(ConfigError(
                "store.buy_queue_limit must be between 1 and 1000000".into(),
            ));
        }
        if self.store.buy_queue_ms > 60_000 {
            return Err(ConfigError(
                "store.buy_queue_ms must be at most 60000".into(),
            ));
        }
        if !(1..=crate::sale::validate::MAX_HOLD_SECS).contains(&self.orders.bag_hold_secs) {
            return Err(ConfigError(
                "orders.bag_hold_secs must be between 1 and 3600".into(),
            ));
        }
        if self.rooms.ended_ttl_secs == 0 {
            return Err(ConfigError("rooms.ended_ttl_secs must be positive".into()));
        }
        if self.auth.guests_per_minute == 0 {
            return Err(ConfigError(
                "auth.guests_per_minute must be positive".into(),
            ));
        }
        if self.auth.secret.len() < 16 {
            return Err(ConfigError("auth.secret must be at least 16 bytes".into()));
        }
        let w = &self.webhooks;
        if !(100..=120_000).contains(&w.request_timeout_ms) {
            return Err(ConfigError(
                "webhooks.request_timeout_ms must be between 100 and 120000".into(),
            ));
        }
        if w.retry_base_ms == 0 || w.retry_cap_ms < w.retry_base_ms {
            return Err(ConfigError(
                "webhooks.retry_cap_ms must be at least webhooks.retry_base_ms (> 0)".into(),
            ));
        }
        if !(1..=100).contains(&w.max_attempts) {
            return Err(ConfigError(
                "webhooks.max_attempts must be between 1 and 100".into(),
            ));
        }
        if w.poll_interval_ms == 0 || w.max_concurrent == 0 || w.log_size == 0 {
            return Err(ConfigError(
                "webhooks.poll_interval_ms, max_concurrent and log_size must be positive".into(),
            ));
        }
        if w.retention_secs == 0 {
            return Err(ConfigError(
                "webhooks.retention_secs must be positive".into(),
            ));
        }
        self.media
            .validate()
            .map_err(|e| ConfigError(e.to_string()))?;
        Ok(())
    }

    pub fn room_settings(&self) -> RoomSettings {
        RoomSettings {
            limits: RoomLimits {
                chat_history: self.rooms.chat_history,
                max_chat_chars: self.rooms.max_chat_chars,
                ..RoomLimits::default()
            },
            replay_capacity: self.rooms.replay_buffer,
            fanout_capacity: self.server.room_event_buffer,
            hearts_every: Duration::from_millis(self.rooms.hearts_interval_ms.max(10)),
            viewer_count_every: Duration::from_millis(self.rooms.viewer_count_interval_ms.max(10)),
            ice_servers: self.media.ice_servers.clone(),
        }
    }

    /// How the Redis room store keeps rooms (`store.kind = "redis"`).
    pub fn redis_room_options(&self) -> crate::room::store::RedisRoomOptions {
        let settings = self.room_settings();
        crate::room::store::RedisRoomOptions {
            limits: settings.limits,
            replay_capacity: settings.replay_capacity,
            ended_ttl: Duration::from_secs(self.rooms.ended_ttl_secs),
            journal: self
                .journal
                .enabled
                .then(|| Duration::from_secs(u64::from(self.journal.retention_days) * 24 * 3600)),
        }
    }

    /// How webhooks are sent (`[webhooks]`).
    pub fn webhook_settings(&self) -> crate::webhook::WebhookSettings {
        let w = &self.webhooks;
        crate::webhook::WebhookSettings {
            allow_private_targets: w.allow_private_targets,
            request_timeout: Duration::from_millis(w.request_timeout_ms),
            retry_base: Duration::from_millis(w.retry_base_ms),
            retry_cap: Duration::from_millis(w.retry_cap_ms),
            max_attempts: w.max_attempts,
            poll_interval: Duration::from_millis(w.poll_interval_ms),
            max_concurrent: w.max_concurrent,
            log_size: w.log_size,
            retention: Duration::from_secs(w.retention_secs),
        }
    }

    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.auth.token_ttl_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_parse_and_validate() {
        let config = Config::defaults();
        config.validate().unwrap();
        assert_eq!(config.server.max_frame_bytes, 16 * 1024);
        assert_eq!(config.store.kind, StoreKind::Memory);
    }

    #[test]
    fn a_file_overrides_only_the_keys_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nmax_frame_bytes = 4096\n").unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.server.max_frame_bytes, 4096);
        assert_eq!(config.rooms.chat_history, 50);
    }

    #[test]
    fn an_empty_chat_history_is_refused() {
        let mut config = Config::defaults();
        config.rooms.chat_history = 0;
        assert!(config.validate().is_err());
    }

    #[test]
    fn an_allocator_purge_delay_below_never_is_refused() {
        let mut config = Config::defaults();
        config.server.allocator_purge_delay_ms = -1;
        config.validate().unwrap();
        config.server.allocator_purge_delay_ms = -2;
        assert!(config.validate().is_err());
    }

    #[test]
    fn redis_cluster_seed_nodes_replace_the_single_server() {
        let mut config = Config::defaults();
        assert!(matches!(
            config.store.redis_target(),
            RedisTarget::Server(_)
        ));
        config.store.redis_cluster_urls = vec!["redis://10.0.0.1:7000/".into()];
        config.validate().unwrap();
        assert_eq!(
            config.store.redis_target(),
            RedisTarget::Cluster(vec!["redis://10.0.0.1:7000/".into()])
        );
        config.store.redis_cluster_urls = vec!["10.0.0.1:7000".into()];
        assert!(config.validate().is_err());
    }

    #[test]
    fn webhooks_default_to_public_targets_only_and_the_documented_schedule() {
        let settings = Config::defaults().webhook_settings();
        assert!(!settings.allow_private_targets);
        let defaults = crate::webhook::WebhookSettings::default();
        assert_eq!(settings.request_timeout, defaults.request_timeout);
        assert_eq!(settings.retry_base, defaults.retry_base);
        assert_eq!(settings.retry_cap, defaults.retry_cap);
        assert_eq!(settings.max_attempts, defaults.max_attempts);
        assert_eq!(settings.log_size, defaults.log_size);
        assert_eq!(settings.retention, defaults.retention);
    }

    #[test]
    fn a_webhook_retry_cap_below_its_base_is_refused() {
        let mut config = Config::defaults();
        config.webhooks.retry_cap_ms = config.webhooks.retry_base_ms - 1;
        assert!(config.validate().is_err());
    }

    #[test]
    fn a_missing_file_is_an_error() {
        assert!(Config::load(Some(Path::new("/nonexistent/chophien.toml"))).is_err());
    }
}
