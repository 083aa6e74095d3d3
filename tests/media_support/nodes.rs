//! Several `chophien` servers in one test process, sharing one media
//! directory: the nodes of a deployment, on loopback, talking real HTTP and
//! real WebRTC to each other.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chophien::config::Config;
use chophien::media::{
    DirectoryError, MediaConfig, MediaDirectory, MemoryDirectory, NodeAddr, Origin, Sfu,
};
use chophien::server::{AppState, Server};
use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One running server.
pub struct TestNode {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: CancellationToken,
    handle: Option<JoinHandle<()>>,
}

/// The embedded defaults on a free loopback port, loopback media, and quick
/// relay supervision.
pub fn node_config() -> Config {
    let mut config = Config::defaults();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.server.shutdown_grace_secs = 1;
    config.demo.enabled = false;
    config.media = MediaConfig::loopback();
    config.media.relay_poll_ms = 100;
    config
}

/// A directory for nodes that serve the same rooms.
pub fn shared_directory() -> Arc<dyn MediaDirectory> {
    Arc::new(MemoryDirectory::default())
}

/// A shared directory in which a node can crash: once crashed, its attempts
/// to clear its claims are lost, as they would be if its process died.
#[derive(Default)]
pub struct CrashDirectory {
    inner: MemoryDirectory,
    crashed: Mutex<Vec<String>>,
}

impl CrashDirectory {
    pub fn crash(&self, node_id: &str) {
        self.crashed.lock().push(node_id.to_owned());
    }
}

#[async_trait::async_trait]
impl MediaDirectory for CrashDirectory {
    async fn origin(&self, room_id: &str) -> Result<Option<Origin>, DirectoryError> {
        self.inner.origin(room_id).await
    }

    async fn set_origin(&self, room_id: &str, node: &NodeAddr) -> Result<u64, DirectoryError> {
        self.inner.set_origin(room_id, node).await
    }

    async fn clear_origin(
        &self,
        room_id: &str,
        node_id: &str,
        epoch: u64,
    ) -> Result<bool, DirectoryError> {
        if self.crashed.lock().iter().any(|id| id == node_id) {
            return Ok(false);
        }
        self.inner.clear_origin(room_id, node_id, epoch).await
    }
}

/// Logs to the test output when `RUST_LOG` is set (e.g. `chophien=debug`).
pub fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

impl TestNode {
    pub async fn start(directory: &Arc<dyn MediaDirectory>) -> TestNode {
        TestNode::start_with(directory, node_config()).await
    }

    pub async fn start_with(directory: &Arc<dyn MediaDirectory>, config: Config) -> TestNode {
        logs();
        let server = Server::bind_with(config, Arc::clone(directory))
            .await
            .expect("bind");
        let addr = server.local_addr();
        let state = server.state().clone();
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        let handle = tokio::spawn(async move {
            server.run(signal).await.expect("server run");
        });
        TestNode {
            addr,
            state,
            stop,
            handle: Some(handle),
        }
    }

    pub fn sfu(&self) -> &Sfu {
        &self.state.sfu
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The node dies: its room's media closes and its HTTP endpoint stops.
    pub async fn kill(mut self, room: &str) {
        self.sfu().close_room(room).await;
        self.stop.cancel();
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
