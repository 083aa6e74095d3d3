//! The system under test: running servers (`--url`, once per node) or
//! nodes the harness spawns (`--spawn`, the default) together with their
//! `redis-server`.
//!
//! Spawned processes listen on free loopback ports the harness picks, log to
//! files in a temporary directory of their own, and are killed when their
//! handle drops — also when the run fails half-way. The harness only ever
//! talks to loopback addresses: a load test pointed at someone else's server
//! by mistake is a denial-of-service attack.
//!
//! Several nodes share one Redis (`CHOPHIEN_STORE__KIND=redis`) and one
//! token secret; clients are spread over them round-robin ([`Target::node`]).

mod process;
mod redis;

pub use process::{cpu_ms, nofile_limit, raise_nofile_limit, vm_rss_bytes, CpuUse};
pub use redis::{redis_command_stats, redis_keys_naming, redis_setting, spawn_redis};

use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use crate::pinning::Pinning;

/// Where a spawned node keeps rooms and flash sales (`CHOPHIEN_STORE__KIND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// In the process (rooms on the memory bus, the memory sale store).
    Memory,
    /// In one `redis-server` every node shares.
    Redis,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Redis => "redis",
        }
    }
}

/// One `chophien` node: where it listens and, when spawned, its process.
pub struct Node {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub http_base: String,
    /// `ws://127.0.0.1:PORT`.
    pub ws_base: String,
    /// The spawned server, for reading its memory; `None` with `--url`.
    pub server: Option<Spawned>,
}

/// The nodes under test and the Redis they share, if the harness knows it.
pub struct Target {
    /// At least one; client `i` goes to node `i mod len` (see [`Target::node`]).
    pub nodes: Vec<Node>,
    /// The spawned Redis the nodes' stores use, if any.
    pub redis: Option<Spawned>,
    /// The store spawned nodes were given; `None` for `--url` (unknown).
    pub store: Option<StoreKind>,
    /// Settings given to the spawned Redis over `config/redis.conf`
    /// (`NAME VALUE`).
    pub redis_settings: Vec<String>,
}

impl Target {
    /// Running servers at these loopback URLs (one per node).
    pub fn external(urls: &[String]) -> anyhow::Result<Target> {
        if urls.is_empty() {
            bail!("no --url given");
        }
        let mut nodes: Vec<Node> = Vec::with_capacity(urls.len());
        for url in urls {
            let (http_base, ws_base) = loopback_bases(url)?;
            if nodes.iter().any(|n| n.http_base == http_base) {
                bail!("--url {http_base} is given twice: each --url is one node");
            }
            nodes.push(Node {
                http_base,
                ws_base,
                server: None,
            });
        }
        Ok(Target {
            nodes,
            redis: None,
            store: None,
            redis_settings: Vec::new(),
        })
    }

    /// Start a `redis-server` when `store` is Redis (with `redis_settings`,
    /// `NAME VALUE` pairs, over `config/redis.conf`), then `count` nodes of
    /// `binary` on it, each on its own port with its own log.
    pub async fn spawn(
        binary: &Path,
        secret: &str,
        count: usize,
        store: StoreKind,
        redis_settings: &[(String, String)],
        server_env: &[(String, String)],
        pin: Option<&Pinning>,
    ) -> anyhow::Result<Target> {
        if count > 1 && store == StoreKind::Memory {
            bail!("{count} nodes share rooms and sales only through Redis: use --store redis");
        }
        let redis = match store {
            StoreKind::Redis => Some(spawn_redis(redis_settings, pin).await?),
            StoreKind::Memory => None,
        };
        let mut nodes = Vec::with_capacity(count);
        for k in 0..count {
            let server = spawn_server(ServerOptions {
                binary: Some(binary),
                secret,
                redis_port: redis.as_ref().map(|r| r.port),
                extra_env: server_env.to_vec(),
                pin,
            })
            .await
            .with_context(|| format!("starting node {k}"))?;
            let base = format!("127.0.0.1:{}", server.port);
            nodes.push(Node {
                http_base: format!("http://{base}"),
                ws_base: format!("ws://{base}"),
                server: Some(server),
            });
        }
        let redis_settings = match redis {
            Some(_) => redis_settings
                .iter()
                .map(|(name, value)| format!("{name} {value}"))
                .collect(),
            None => Vec::new(),
        };
        Ok(Target {
            nodes,
            redis,
            store: Some(store),
            redis_settings,
        })
    }

    /// The node client number `i` uses: round-robin over the nodes.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[self.node_index(i)]
    }

    /// Which node client number `i` uses.
    pub fn node_index(&self, i: usize) -> usize {
        i % self.nodes.len()
    }

    /// Node 0: where rooms are created, the seller sits and the audit reads.
    pub fn first(&self) -> &Node {
        &self.nodes[0]
    }

    pub fn spawned(&self) -> bool {
        self.nodes.iter().all(|n| n.server.is_some())
    }

    /// Process ids of the spawned nodes (empty with `--url`).
    pub fn server_pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter_map(|n| n.server.as_ref().map(Spawned::pid))
            .collect()
    }
}

/// A child process killed on drop, with the directory holding its files.
pub struct Spawned {
    pub child: Child,
    pub port: u16,
    /// Logs (and Redis data) live here; removed on drop.
    pub dir: TempDir,
    pub name: &'static str,
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.name))
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the spawned server needs beyond the defaults.
pub struct ServerOptions<'a> {
    pub binary: Option<&'a Path>,
    pub secret: &'a str,
    /// Keep rooms and sales in the Redis on this port (`STORE__KIND=redis`).
    pub redis_port: Option<u16>,
    /// Extra `CHOPHIEN_*` variables (name, value).
    pub extra_env: Vec<(String, String)>,
    /// With `--pin`: start it on the servers' CPUs.
    pub pin: Option<&'a Pinning>,
}

/// A free TCP port on 127.0.0.1 (bound and released; racy but fine locally).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Refuse anything but a loopback URL; returns (http base, ws base).
pub fn loopback_bases(url: &str) -> anyhow::Result<(String, String)> {
    let url = url.trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("--url must start with http:// (got {url})"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority} (give host:port)"))?
        .collect();
    if addrs.is_empty() || !addrs.iter().all(|a| is_loopback(a.ip())) {
        bail!("refusing to load-test {authority}: only loopback addresses (127.0.0.0/8, ::1) are allowed");
    }
    Ok((format!("http://{authority}"), format!("ws://{authority}")))
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// The workspace root (the loadtest crate's parent), for default paths.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The `chophien` binary: `--server-bin`, else target/release, else target/debug
/// (under `CARGO_TARGET_DIR` when set, else the workspace's `target/`).
pub fn locate_server(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        bail!("--server-bin {} does not exist", path.display());
    }
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(workspace_root().join("target"));
    let candidates: Vec<PathBuf> = ["release", "debug"]
        .iter()
        .flat_map(|profile| dirs.iter().map(move |d| d.join(profile).join("chophien")))
        .collect();
    candidates.iter().find(|p| p.is_file()).cloned().with_context(|| {
        format!(
            "no chophien binary found (looked at {}); run `cargo build --release` or pass --server-bin",
            candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Start `chophien` on a free port with limits raised for load, and wait
/// until `/healthz` answers.
pub async fn spawn_server(options: ServerOptions<'_>) -> anyhow::Result<Spawned> {
    let binary = locate_server(options.binary)?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let log = std::fs::File::create(dir.path().join("chophien.log"))?;
    let mut command = match options.pin {
        Some(pin) => pin.server_command(&binary),
        None => Command::new(&binary),
    };
    command
        .arg("serve")
        .env("CHOPHIEN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHOPHIEN_AUTH__SECRET", options.secret)
        .env("CHOPHIEN_DATA__DIR", dir.path().join("data"))
        .env(
            "RUST_LOG",
            std::env::var("CHOPHIEN_LOADTEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        );
    for (name, value) in load_limits() {
        command.env(name, value);
    }
    if let Some(redis_port) = options.redis_port {
        command.env("CHOPHIEN_STORE__KIND", "redis").env(
            "CHOPHIEN_STORE__REDIS_URL",
            format!("redis://127.0.0.1:{redis_port}/"),
        );
    }
    for (name, value) in &options.extra_env {
        command.env(name, value);
    }
    command
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .stdin(Stdio::null());
    let child = command
        .spawn()
        .with_context(|| format!("could not start {}", binary.display()))?;
    let mut spawned = Spawned {
        child,
        port,
        dir,
        name: "chophien",
    };
    let health = format!("http://127.0.0.1:{port}/healthz");
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(status)) = spawned.child.try_wait() {
            bail!(
                "{} exited with {status} at start:\n{}",
                binary.display(),
                spawned.log_tail()
            );
        }
        if client
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(spawned);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "{} did not become healthy within 20 s:\n{}",
        binary.display(),
        spawned.log_tail()
    )
}

/// Per-connection rate limits high enough that they never shape the load
/// (the load test measures the server, not its abuse protection).
fn load_limits() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CHOPHIEN_LIMITS__PINGS_PER_SEC", "100000"),
        ("CHOPHIEN_LIMITS__PINGS_BURST", "100000"),
        ("CHOPHIEN_LIMITS__CHAT_PER_SEC", "100000"),
        ("CHOPHIEN_LIMITS__CHAT_BURST", "100000"),
        ("CHOPHIEN_LIMITS__HEARTS_PER_SEC", "100000"),
        ("CHOPHIEN_LIMITS__HEARTS_BURST", "100000"),
        ("CHOPHIEN_LIMITS__ACTIONS_PER_SEC", "100000"),
        ("CHOPHIEN_LIMITS__ACTIONS_BURST", "100000"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_accepted() {
        let (http, ws) = loopback_bases("http://127.0.0.1:8080/").unwrap();
        assert_eq!(http, "http://127.0.0.1:8080");
        assert_eq!(ws, "ws://127.0.0.1:8080");
        assert!(loopback_bases("http://localhost:8080").is_ok());
    }

    #[test]
    fn other_addresses_are_refused() {
        assert!(loopback_bases("http://10.0.0.1:8080").is_err());
        assert!(loopback_bases("http://192.168.1.2:80").is_err());
        assert!(loopback_bases("https://127.0.0.1:8080").is_err());
    }

    #[test]
    fn clients_are_spread_round_robin_over_external_nodes() {
        let urls = [
            "http://127.0.0.1:8080".to_owned(),
            "http://127.0.0.1:8081".to_owned(),
        ];
        let target = Target::external(&urls).unwrap();
        assert_eq!(target.node(0).ws_base, "ws://127.0.0.1:8080");
        assert_eq!(target.node(1).ws_base, "ws://127.0.0.1:8081");
        assert_eq!(target.node(4).http_base, "http://127.0.0.1:8080");
        assert_eq!(target.node_index(7), 1);
        assert!(!target.spawned());
    }

    #[test]
    fn a_node_given_twice_or_a_remote_one_is_refused() {
        let twice = [
            "http://127.0.0.1:8080/".to_owned(),
            "http://127.0.0.1:8080".to_owned(),
        ];
        assert!(Target::external(&twice).is_err());
        let remote = [
            "http://127.0.0.1:8080".to_owned(),
            "http://10.0.0.1:8080".to_owned(),
        ];
        assert!(Target::external(&remote).is_err());
    }
}
