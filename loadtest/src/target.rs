//! The system under test: a running server (`--url`) or one the harness
//! spawns (`--spawn`, the default) together with its `redis-server`.
//!
//! Spawned processes listen on free loopback ports the harness picks, log to
//! files in a temporary directory, and are killed when their handle drops —
//! also when the run fails half-way. The harness only ever talks to loopback
//! addresses: a load test pointed at someone else's server by mistake is a
//! denial-of-service attack.

use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the server is and, when spawned, its process.
pub struct Target {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub http_base: String,
    /// `ws://127.0.0.1:PORT`.
    pub ws_base: String,
    /// The spawned server, for reading its memory; `None` with `--url`.
    pub server: Option<Spawned>,
    /// The spawned Redis the server's sale store uses, if any.
    pub redis: Option<Spawned>,
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
    /// Use the Redis sale store on this port (flash-sale).
    pub redis_port: Option<u16>,
    /// Extra `CHOPHIEN_*` variables (name, value).
    pub extra_env: Vec<(String, String)>,
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

/// Start `redis-server` on a free port in a temporary directory, with
/// `config/redis.conf` when the workspace has one.
pub async fn spawn_redis() -> anyhow::Result<Spawned> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let log = std::fs::File::create(dir.path().join("redis-server.log"))?;
    let mut command = Command::new("redis-server");
    let conf = workspace_root().join("config/redis.conf");
    if conf.is_file() {
        command.arg(&conf);
    }
    command
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "no",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log));
    let child = command
        .spawn()
        .context("could not start redis-server (is it installed?)")?;
    let spawned = Spawned {
        child,
        port,
        dir,
        name: "redis-server",
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if redis_ping(port).await {
            return Ok(spawned);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "redis-server did not answer PING within 10 s:\n{}",
        spawned.log_tail()
    )
}

async fn redis_ping(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut reply = [0u8; 16];
    matches!(stream.read(&mut reply).await, Ok(n) if reply[..n].starts_with(b"+PONG"))
}

/// Start `chophien` on a free port with limits raised for load, and wait
/// until `/healthz` answers.
pub async fn spawn_server(options: ServerOptions<'_>) -> anyhow::Result<Spawned> {
    let binary = locate_server(options.binary)?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let log = std::fs::File::create(dir.path().join("chophien.log"))?;
    let mut command = Command::new(&binary);
    command
        .arg("serve")
        .env("CHOPHIEN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHOPHIEN_AUTH__SECRET", options.secret)
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

/// Resident memory of a process in bytes (`VmRSS` of /proc/<pid>/status).
pub fn vm_rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line in /proc status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmRSS line")?
        .parse()
        .context("malformed VmRSS value")?;
    Ok(kib * 1024)
}

/// Raise the open-file limit to its hard maximum: ten thousand sockets need
/// more than the usual 1024. Spawned servers inherit the raised limit.
pub fn raise_nofile_limit() -> anyhow::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            bail!("getrlimit failed: {}", std::io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            bail!("setrlimit failed: {}", std::io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
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
    fn own_memory_is_readable() {
        assert!(vm_rss_bytes(std::process::id()).unwrap() > 0);
    }
}
