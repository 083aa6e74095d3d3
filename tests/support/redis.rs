//! A real `redis-server` for one test: started with `config/redis.conf` on a
//! free port in its own temporary directory, killed when dropped.
//!
//! If `redis-server` is not installed the test fails with a clear message
//! (it never skips); the project's test script installs it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

pub struct RedisServer {
    port: u16,
    /// Holds the AOF across restarts; deleted with the server.
    dir: TempDir,
    /// `None` while stopped.
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server and waits until it answers PING.
    pub fn start() -> RedisServer {
        let port = free_port();
        let dir = tempfile::tempdir().expect("create a temp dir for redis-server");
        let mut server = RedisServer {
            port,
            dir,
            child: None,
        };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A plain synchronous connection, for poking at the server from a test.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Kills the server with SIGKILL (a crash: no shutdown, no final save).
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Crashes the server and starts it again on the same port and directory,
    /// so it reloads its AOF.
    pub fn crash_and_restart(&mut self) {
        self.crash();
        self.spawn();
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing is
    /// answered, as when Redis hangs.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Undoes [`freeze`](Self::freeze).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self
            .child
            .as_ref()
            .expect("server is running")
            .id()
            .to_string();
        let status = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// Starts a stopped server again.
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "restart() needs a stopped server; use crash_and_restart()"
        );
        self.spawn();
    }

    fn spawn(&mut self) {
        let config = config_path();
        let child = Command::new("redis-server")
            .arg(&config)
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start redis-server ({e}). These tests need a real Redis 7+: \
                     install it (apt-get install redis-server) so `redis-server` is on PATH."
                )
            });
        self.child = Some(child);
        self.wait_until_ready();
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server exited at start ({status}); config {}",
                    config_path().display()
                );
            }
            // Ready means *our* process answers: a server another test started
            // on this port must not pass for ours.
            let pid = self.child.as_ref().map(Child::id);
            let info = redis::Client::open(self.url())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                .and_then(|mut c| redis::cmd("INFO").arg("server").query::<String>(&mut c));
            if let Ok(info) = info {
                let answering = info
                    .lines()
                    .find_map(|l| l.strip_prefix("process_id:"))
                    .map(str::trim);
                assert_eq!(
                    answering.and_then(|p| p.parse().ok()),
                    pid,
                    "another redis-server answers on port {}",
                    self.port
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL ends a frozen (SIGSTOPped) server too.
        self.crash();
    }
}

fn config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/redis.conf")
}

/// A port below Linux's ephemeral range (32768+), so neither the kernel nor
/// another test of this process hands it out again while a server is
/// crashed and about to restart on it. The start is random so concurrent
/// test processes rarely meet; when they do, readiness checks catch it.
pub fn free_port() -> u16 {
    static NEXT: OnceLock<AtomicU16> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        AtomicU16::new(20_000 + ((nanos ^ std::process::id()) % 10_000) as u16)
    });
    loop {
        let port = next.fetch_add(1, Ordering::Relaxed);
        assert!(port < 32_000, "ran out of test ports");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
