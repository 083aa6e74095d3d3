//! A real Redis Cluster of three primaries (no replicas): three
//! `redis-server --cluster-enabled yes` on free ports, each in its own
//! directory, joined by `redis-cli --cluster create`, and ready once every
//! node says `cluster_state:ok`. Killed when dropped.
//!
//! Starting a cluster takes a few seconds (`redis-cli` waits for the nodes
//! to agree), so the tests of one binary share one: [`take_turn`] starts it
//! on first use, lets tests use it one at a time and empties it
//! (`FLUSHALL` on every primary) before each; the binary kills it when it
//! exits. A test that needs a cluster of its own (real `chophien`
//! processes that outlive a turn) starts one with [`RedisCluster::start`].
//!
//! If `redis-server` or `redis-cli` is missing the test fails with a clear
//! message; it never skips.

use std::ops::Deref;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chophien::redis_link::RedisTarget;
use tempfile::TempDir;

use super::redis::free_port;

/// How many primaries a test cluster has.
pub const PRIMARIES: usize = 3;

pub struct RedisCluster {
    /// The client port of each primary, in start order (index = shard).
    ports: Vec<u16>,
    /// Each primary's cluster-bus port, kept for restarts.
    bus_ports: Vec<u16>,
    /// The processes; behind a mutex so the shared cluster can be killed
    /// at exit through a `&'static`.
    children: Mutex<Vec<Child>>,
    /// Each node's directory (`nodes.conf`, AOF) and the logs.
    dir: TempDir,
}

impl RedisCluster {
    /// Three primaries covering all 16384 slots, every node agreeing.
    pub fn start() -> RedisCluster {
        let dir = tempfile::tempdir().expect("create a temp dir for the Redis Cluster");
        // Not port + 10000 for the bus: that could be another test's port.
        let ports: Vec<u16> = (0..PRIMARIES).map(|_| free_port()).collect();
        let bus_ports: Vec<u16> = (0..PRIMARIES).map(|_| free_port()).collect();
        let children = (0..PRIMARIES)
            .map(|shard| spawn_node(dir.path(), shard, ports[shard], bus_ports[shard]))
            .collect();
        let cluster = RedisCluster {
            ports,
            bus_ports,
            children: Mutex::new(children),
            dir,
        };
        for shard in 0..PRIMARIES {
            cluster.wait_answering(shard);
        }
        cluster.create();
        cluster
    }

    /// `redis://127.0.0.1:PORT/` of every primary.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}/"))
            .collect()
    }

    /// The cluster as the link's target (every primary a seed).
    pub fn target(&self) -> RedisTarget {
        RedisTarget::Cluster(self.urls())
    }

    /// `store.redis_cluster_urls` as an environment value.
    pub fn env_urls(&self) -> String {
        format!("[{}]", self.urls().join(","))
    }

    /// A plain connection to one primary (no redirections followed).
    pub fn node(&self, shard: usize) -> redis::Connection {
        redis::Client::open(self.urls()[shard].as_str())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(5)))
            .unwrap_or_else(|e| panic!("connect to cluster node {shard}: {e}"))
    }

    /// The shard whose primary serves `key` (the one that answers rather
    /// than redirecting).
    pub fn owner(&self, key: &str) -> usize {
        (0..PRIMARIES)
            .find(|&shard| {
                redis::cmd("EXISTS")
                    .arg(key)
                    .query::<i64>(&mut self.node(shard))
                    .is_ok()
            })
            .unwrap_or_else(|| panic!("no primary serves {key}"))
    }

    /// `CLUSTER KEYSLOT key`.
    pub fn slot(&self, key: &str) -> u16 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.node(0))
            .expect("CLUSTER KEYSLOT")
    }

    /// Reshards the slot of `key`, with its keys, to primary `to`, as
    /// `redis-cli --cluster reshard` does: IMPORTING/MIGRATING, `MIGRATE`
    /// every key, then `SETSLOT … NODE` on every primary.
    pub fn move_slot_of(&self, key: &str, to: usize) {
        let from = self.owner(key);
        assert_ne!(from, to, "{key} already lives on shard {to}");
        let slot = self.slot(key);
        let id = |shard: usize| -> String {
            redis::cmd("CLUSTER")
                .arg("MYID")
                .query(&mut self.node(shard))
                .expect("CLUSTER MYID")
        };
        let (from_id, to_id) = (id(from), id(to));
        let setslot = |shard: usize, args: &[&str]| {
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(args)
                .query::<()>(&mut self.node(shard))
                .unwrap_or_else(|e| panic!("CLUSTER SETSLOT {slot} {args:?} on {shard}: {e}"));
        };
        setslot(to, &["IMPORTING", &from_id]);
        setslot(from, &["MIGRATING", &to_id]);
        loop {
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query(&mut self.node(from))
                .expect("CLUSTER GETKEYSINSLOT");
            if keys.is_empty() {
                break;
            }
            redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(self.ports[to])
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys)
                .query::<()>(&mut self.node(from))
                .expect("MIGRATE");
        }
        setslot(to, &["NODE", &to_id]);
        setslot(from, &["NODE", &to_id]);
        for shard in (0..PRIMARIES).filter(|s| *s != from && *s != to) {
            setslot(shard, &["NODE", &to_id]);
        }
        assert_eq!(self.owner(key), to);
    }

    /// Crashes primary `shard` (SIGKILL) and starts it again on the same
    /// ports and directory: it reloads its AOF and its `nodes.conf`, and
    /// serves its slots again once the cluster says `ok`.
    pub fn crash_and_restart(&self, shard: usize) {
        {
            let mut children = self.children.lock().unwrap();
            let _ = children[shard].kill();
            let _ = children[shard].wait();
            children[shard] = spawn_node(
                self.dir.path(),
                shard,
                self.ports[shard],
                self.bus_ports[shard],
            );
        }
        self.wait_answering(shard);
        self.wait_ok();
    }

    /// Empties every primary (the function library stays).
    pub fn flush(&self) {
        for shard in 0..PRIMARIES {
            redis::cmd("FLUSHALL")
                .query::<()>(&mut self.node(shard))
                .unwrap_or_else(|e| panic!("FLUSHALL on cluster node {shard}: {e}"));
        }
    }

    /// SIGKILLs every node and removes their files.
    fn kill(&self) {
        let mut children = self
            .children
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for child in children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        children.clear();
    }

    fn wait_answering(&self, shard: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = self.urls()[shard].clone();
        loop {
            let pid = {
                let mut children = self.children.lock().unwrap();
                if let Ok(Some(status)) = children[shard].try_wait() {
                    panic!(
                        "cluster node {shard} exited at start ({status}):\n{}",
                        self.log(shard)
                    );
                }
                children[shard].id()
            };
            let info = redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                .and_then(|mut c| redis::cmd("INFO").arg("server").query::<String>(&mut c));
            if let Ok(info) = info {
                // Ours, not a server another test started on this port.
                let answering = info
                    .lines()
                    .find_map(|l| l.strip_prefix("process_id:"))
                    .and_then(|p| p.trim().parse::<u32>().ok());
                assert_eq!(
                    answering,
                    Some(pid),
                    "another redis-server answers on {url}"
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "cluster node {shard} did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis-cli --cluster create`, then wait until every node is `ok`.
    fn create(&self) {
        let log = std::fs::File::create(self.dir.path().join("create.log")).expect("log file");
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(self.ports.iter().map(|port| format!("127.0.0.1:{port}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .status()
            .unwrap_or_else(|e| {
                panic!("could not run redis-cli ({e}): install redis-tools (apt-get install redis)")
            });
        let created = std::fs::read_to_string(self.dir.path().join("create.log"));
        assert!(
            status.success(),
            "redis-cli --cluster create failed:\n{}",
            created.unwrap_or_default()
        );
        self.wait_ok();
    }

    /// Waits until every node says `cluster_state:ok`.
    fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for shard in 0..PRIMARIES {
            loop {
                // A node restarted a moment ago may still be loading its
                // data (`BusyLoading`): not ok yet, ask again.
                let info: String = match redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut self.node(shard))
                {
                    Ok(info) => info,
                    Err(e)
                        if e.kind()
                            == redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading) =>
                    {
                        format!("(still loading: {e})")
                    }
                    Err(e) => panic!("CLUSTER INFO: {e}"),
                };
                if info.lines().any(|l| l.trim() == "cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "cluster node {shard} not ok within 30 s:\n{info}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn log(&self, shard: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node-{shard}.log")))
            .unwrap_or_default()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts primary `shard` of a cluster in `root`, in its own directory.
fn spawn_node(root: &Path, shard: usize, port: u16, bus_port: u16) -> Child {
    let dir = root.join(format!("node-{shard}"));
    std::fs::create_dir_all(&dir).expect("create a cluster node directory");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join(format!("node-{shard}.log")))
        .expect("log file");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/redis.conf");
    Command::new("redis-server")
        .arg(&config)
        .args(["--port", &port.to_string()])
        .args(["--cluster-port", &bus_port.to_string()])
        .arg("--dir")
        .arg(&dir)
        .args(["--cluster-enabled", "yes"])
        .args(["--cluster-config-file", "nodes.conf"])
        .args(["--appendonly", "yes"])
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "could not start redis-server ({e}). These tests need a real Redis 7+: \
                 install it (apt-get install redis-server) so `redis-server` is on PATH."
            )
        })
}

/// The cluster this test binary's tests share.
static SHARED: OnceLock<RedisCluster> = OnceLock::new();
/// One test at a time on the shared cluster. A Tokio mutex: each test runs
/// on its own runtime and holds its turn across awaits.
static TURNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A test's exclusive use of the shared cluster, emptied for it.
pub struct Turn {
    cluster: &'static RedisCluster,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Deref for Turn {
    type Target = RedisCluster;

    fn deref(&self) -> &RedisCluster {
        self.cluster
    }
}

/// Waits for this binary's other cluster tests, starts the shared cluster
/// if it is the first, and empties it.
pub async fn take_turn() -> Turn {
    let turn = TURNS.lock().await;
    let cluster = SHARED.get_or_init(|| {
        let cluster = RedisCluster::start();
        // SAFETY: `kill_shared` is a plain `extern "C" fn` without
        // arguments that only touches the static initialised here.
        unsafe {
            libc::atexit(kill_shared);
        }
        cluster
    });
    cluster.flush();
    Turn {
        cluster,
        _turn: turn,
    }
}

/// Statics are never dropped: kill the shared cluster's nodes when the
/// test binary exits.
extern "C" fn kill_shared() {
    if let Some(cluster) = SHARED.get() {
        cluster.kill();
        let _ = std::fs::remove_dir_all(cluster.dir.path());
    }
}
