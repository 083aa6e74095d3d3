//! A real deployment on one machine: a `redis-server` (or a Redis Cluster),
//! several `chophien` processes sharing it, and HAProxy in front of them
//! (`config/haproxy.cfg`).
//!
//! Every process listens on its own free loopback port and logs to a file in
//! the cluster's temporary directory; everything is killed when the cluster
//! drops. Nodes can be crashed (`kill -9`), stopped gracefully (SIGTERM) and
//! started again on the same port, so tests can do to a deployment what an
//! operator or a failure would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chophien::auth::{Claims, Role, TokenKeys};
use tempfile::TempDir;

use super::redis::{free_port, RedisServer};
use super::redis_cluster::RedisCluster;

/// The secret every node of a test cluster signs tokens with.
pub const SECRET: &str = "cluster-test-secret-0123456789";

/// The Redis the nodes share.
pub enum Backend {
    /// One `redis-server`, started with the deployment.
    Server(RedisServer),
    /// A Redis Cluster started by the test (its seed URLs).
    Cluster(Vec<String>),
}

pub struct Cluster {
    pub backend: Backend,
    nodes: Vec<Node>,
    haproxy: Option<HaProxy>,
    /// Logs and the rendered HAProxy environment live here.
    dir: TempDir,
}

struct Node {
    port: u16,
    id: String,
    /// `None` while the node is down.
    child: Option<Child>,
}

struct HaProxy {
    port: u16,
    child: Child,
}

impl Cluster {
    /// Redis and `nodes` chophien processes on it, each ready.
    pub fn start(nodes: usize) -> Cluster {
        Cluster::on(Backend::Server(RedisServer::start()), nodes)
    }

    /// `nodes` chophien processes on the Redis Cluster `redis`, each ready.
    pub fn on_redis_cluster(redis: &RedisCluster, nodes: usize) -> Cluster {
        Cluster::on(Backend::Cluster(redis.urls()), nodes)
    }

    fn on(backend: Backend, nodes: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("create a temp dir for the cluster");
        let mut cluster = Cluster {
            backend,
            nodes: (0..nodes)
                .map(|i| Node {
                    port: free_port(),
                    id: format!("node-{}", i + 1),
                    child: None,
                })
                .collect(),
            haproxy: None,
            dir,
        };
        for index in 0..nodes {
            cluster.spawn_node(index);
        }
        for index in 0..nodes {
            cluster.wait_ready(index);
        }
        cluster
    }

    /// Put HAProxy (with the project's `config/haproxy.cfg`) in front of
    /// the nodes; the cluster must have three.
    pub fn with_haproxy(mut self) -> Cluster {
        assert_eq!(self.nodes.len(), 3, "config/haproxy.cfg names three nodes");
        let port = free_port();
        let stats = free_port();
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/haproxy.cfg");
        let log = std::fs::File::create(self.dir.path().join("haproxy.log")).expect("log file");
        let mut command = Command::new("haproxy");
        command
            .arg("-f")
            .arg(&config)
            .arg("-db")
            .env("CHOPHIEN_LB_BIND", format!("127.0.0.1:{port}"))
            .env("CHOPHIEN_LB_STATS", format!("127.0.0.1:{stats}"))
            .env("CHOPHIEN_LB_MAXCONN", "4000")
            .stdout(Stdio::null())
            .stderr(log);
        for (i, node) in self.nodes.iter().enumerate() {
            command.env(
                format!("CHOPHIEN_NODE{}", i + 1),
                format!("127.0.0.1:{}", node.port),
            );
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "could not start haproxy ({e}). These tests need Debian's haproxy: \
                 apt-get install haproxy (the README test command does)."
            )
        });
        self.haproxy = Some(HaProxy { port, child });
        wait_until(
            Duration::from_secs(20),
            "haproxy to accept connections",
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        // HAProxy starts with every server up and checks them within a
        // second; wait until a request gets through to a node.
        let url = self.lb_http("/readyz");
        wait_until(
            Duration::from_secs(20),
            "a node to answer through haproxy",
            || http_status(&url) == Some(200),
        );
        self
    }

    /// The one `redis-server` of a deployment started with [`start`](Self::start).
    pub fn redis(&self) -> &RedisServer {
        match &self.backend {
            Backend::Server(redis) => redis,
            Backend::Cluster(_) => panic!("this deployment runs on a Redis Cluster"),
        }
    }

    /// `http://127.0.0.1:PORT` of node `index`.
    pub fn node_http(&self, index: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.nodes[index].port)
    }

    /// The WebSocket URL of `room` on node `index`.
    pub fn node_ws(&self, index: usize, room: &str, token: &str) -> String {
        format!(
            "ws://127.0.0.1:{}/ws/rooms/{room}?token={token}",
            self.nodes[index].port
        )
    }

    /// `http://…` through the load balancer.
    pub fn lb_http(&self, path: &str) -> String {
        let port = self.haproxy.as_ref().expect("with_haproxy() first").port;
        format!("http://127.0.0.1:{port}{path}")
    }

    /// The WebSocket URL of `room` through the load balancer.
    pub fn lb_ws(&self, room: &str, token: &str) -> String {
        let port = self.haproxy.as_ref().expect("with_haproxy() first").port;
        format!("ws://127.0.0.1:{port}/ws/rooms/{room}?token={token}")
    }

    /// The id node `index` reports in the node directory.
    pub fn node_id(&self, index: usize) -> &str {
        &self.nodes[index].id
    }

    /// A token every node accepts.
    pub fn token(&self, room: &str, role: Role, user: &str) -> String {
        let claims = Claims::new(
            user,
            &format!("Tên {user}"),
            room,
            role,
            Duration::from_secs(600),
        );
        TokenKeys::new(SECRET).sign(&claims).expect("sign a token")
    }

    /// Crash node `index` (SIGKILL: no shutdown, nothing said to clients).
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop node `index` gracefully (SIGTERM) and wait for it to exit.
    pub fn stop(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("node {index} did not stop within 20 s of SIGTERM");
        }
    }

    /// Start node `index` again on its port, and wait until it is ready.
    pub fn restart(&mut self, index: usize) {
        assert!(self.nodes[index].child.is_none(), "node {index} is running");
        self.spawn_node(index);
        self.wait_ready(index);
    }

    /// The last lines of node `index`'s log, for failure messages.
    pub fn node_log(&self, index: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(index)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn log_path(&self, index: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.log", self.nodes[index].id))
    }

    fn spawn_node(&mut self, index: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(index))
            .expect("node log file");
        let node = &self.nodes[index];
        let store = match &self.backend {
            Backend::Server(redis) => ("CHOPHIEN_STORE__REDIS_URL", redis.url()),
            Backend::Cluster(urls) => (
                "CHOPHIEN_STORE__REDIS_CLUSTER_URLS",
                format!("[{}]", urls.join(",")),
            ),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_chophien"))
            .env(
                "CHOPHIEN_SERVER__LISTEN",
                format!("127.0.0.1:{}", node.port),
            )
            .env("CHOPHIEN_AUTH__SECRET", SECRET)
            .env("CHOPHIEN_STORE__KIND", "redis")
            .env(store.0, store.1)
            .env("CHOPHIEN_DEMO__ENABLED", "false")
            // One data directory for every node, as a deployment shares it.
            .env("CHOPHIEN_DATA__DIR", self.dir.path().join("data"))
            .env("CHOPHIEN_CLUSTER__NODE_ID", &node.id)
            .env("CHOPHIEN_CLUSTER__HEARTBEAT_MS", "300")
            .env("CHOPHIEN_CLUSTER__NODE_TTL_MS", "1500")
            .env("CHOPHIEN_CLUSTER__PARTITION_GRACE_MS", "1000")
            .env("CHOPHIEN_SERVER__SHUTDOWN_GRACE_SECS", "3")
            .env("CHOPHIEN_ROOMS__HEARTS_INTERVAL_MS", "100")
            .env("CHOPHIEN_ROOMS__VIEWER_COUNT_INTERVAL_MS", "100")
            .env("CHOPHIEN_MEDIA__BIND_IP", "127.0.0.1")
            // Tests chat faster than people may.
            .env("CHOPHIEN_LIMITS__CHAT_PER_SEC", "1000")
            .env("CHOPHIEN_LIMITS__CHAT_BURST", "1000")
            .env("RUST_LOG", "chophien=info")
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start the chophien binary");
        self.nodes[index].child = Some(child);
    }

    fn wait_ready(&mut self, index: usize) {
        let url = self.node_http(index, "/readyz");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.nodes[index].child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "node {index} exited at start ({status}):\n{}",
                        self.node_log(index)
                    );
                }
            }
            if http_status(&url) == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {index} was not ready within 30 s:\n{}",
                self.node_log(index)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Cluster {
    /// Open `room` through node `index` with an admin's HTTP call: one
    /// product, `p1` (500 in stock).
    pub async fn open_room(&self, index: usize, room: &str) {
        let admin = self.token("*", Role::Admin, "root");
        let created = http()
            .post(self.node_http(index, "/api/rooms"))
            .bearer_auth(admin)
            .json(&serde_json::json!({"id": room, "title": "Phiên nhiều máy", "seller_name": "Chị Hoa",
                "products": [{"name": "Chè Tân Cương 500g", "price_vnd": 199000, "stock": 500}]}))
            .send()
            .await
            .expect("create the room");
        assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    }
}

/// An HTTP client whose calls give up after 10 s (a hang guard).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(haproxy) = self.haproxy.as_mut() {
            let _ = haproxy.child.kill();
            let _ = haproxy.child.wait();
        }
        for index in 0..self.nodes.len() {
            self.kill(index);
        }
    }
}

/// The status of a plain `GET`, or `None` if nothing answered (blocking;
/// for readiness polls outside the runtime's hot path).
pub fn http_status(url: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(authority).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Poll `ready` until it holds, or fail naming `what`.
pub fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
