//! A real `chophien` server on a free loopback port, stopped on drop: on
//! the embedded memory stores, or on a real `redis-server` of its own
//! ([`Store::Redis`]: rooms and sales both in Redis).

use std::net::SocketAddr;
use std::time::Duration;

use chophien::auth::{Claims, Role};
use chophien::config::{Config, StoreKind};
use chophien::room::NewRoom;
use chophien::server::{AppState, Server};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::client::Client;
use super::redis::RedisServer;

/// Where a test server keeps its rooms and sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Memory,
    /// A `redis-server` started for (and stopped with) the test server.
    Redis,
}

impl Store {
    pub async fn start(self) -> TestServer {
        self.with_config(test_config()).await
    }

    pub async fn with_config(self, mut config: Config) -> TestServer {
        match self {
            Store::Memory => TestServer::with_config(config).await,
            Store::Redis => {
                let redis = RedisServer::start();
                config.store.kind = StoreKind::Redis;
                config.store.redis_url = redis.url();
                let mut server = TestServer::with_config(config).await;
                server.redis = Some(redis);
                server
            }
        }
    }
}

/// Runs each listed test (an `async fn(Store)`) once on the memory store
/// (`on_memory::name`) and once on Redis (`on_redis::name`).
#[macro_export]
macro_rules! on_every_store {
    ($($test:ident),* $(,)?) => {
        mod on_memory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test($crate::support::server::Store::Memory).await;
                }
            )*
        }
        mod on_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::support::server::Store::Redis).await;
                }
            )*
        }
    };
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: CancellationToken,
    handle: Option<JoinHandle<()>>,
    /// The server's own Redis, for [`Store::Redis`]; stopped after it.
    pub redis: Option<RedisServer>,
    /// The server's data directory (journals, recordings), removed after it.
    pub data_dir: Option<tempfile::TempDir>,
}

/// The embedded defaults on a free port, without the demo room.
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.demo.enabled = false;
    config.rooms.hearts_interval_ms = 50;
    config.rooms.viewer_count_interval_ms = 50;
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::with_config(test_config()).await
    }

    /// With `config` as given, except that the default data directory is
    /// replaced by a fresh temporary one.
    pub async fn with_config(mut config: Config) -> TestServer {
        let data_dir = (config.data.dir == Config::defaults().data.dir)
            .then(|| tempfile::tempdir().expect("create a data dir"));
        if let Some(dir) = &data_dir {
            config.data.dir = dir.path().to_path_buf();
        }
        let server = Server::bind(config).await.expect("bind");
        let addr = server.local_addr();
        let state = server.state().clone();
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        let handle = tokio::spawn(async move {
            server.run(signal).await.expect("server run");
        });
        TestServer {
            addr,
            state,
            stop,
            handle: Some(handle),
            redis: None,
            data_dir,
        }
    }

    /// Open a room (scheduled) with two products, `p1` and `p2`.
    /// A practice room `id` (as a class opens one, without the class): its
    /// sales go to this node's practice store, and bots may come.
    pub async fn practice_room(&self, id: &str) {
        self.state
            .rooms
            .create_practice(NewRoom {
                id: Some(id.into()),
                title: "Phòng luyện tập".into(),
                seller_name: "Chị Hoa".into(),
                products: chophien::demo::products().into_iter().take(2).collect(),
                starts_at: None,
                cover_url: None,
            })
            .await
            .expect("create practice room");
        self.state.classes.mark_practice_room(id);
    }

    pub async fn room(&self, id: &str) {
        self.state
            .rooms
            .create(NewRoom {
                id: Some(id.into()),
                title: "Phiên thử".into(),
                seller_name: "Chị Hoa".into(),
                products: chophien::demo::products().into_iter().take(2).collect(),
                starts_at: None,
                cover_url: None,
            })
            .await
            .expect("create room");
    }

    pub fn token(&self, room: &str, role: Role, user: &str) -> String {
        let claims = Claims::new(
            user,
            &format!("Tên {user}"),
            room,
            role,
            Duration::from_secs(600),
        );
        self.state.keys.sign(&claims).unwrap()
    }

    /// Join `room` as `user` with `role`; the client and its snapshot.
    pub async fn join(&self, room: &str, role: Role, user: &str) -> (Client, serde_json::Value) {
        Client::join(&self.ws_url(room, &self.token(room, role, user))).await
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, room: &str, token: &str) -> String {
        format!("ws://{}/ws/rooms/{room}?token={token}", self.addr)
    }

    /// Trigger a graceful shutdown and wait for the server to finish.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(15), handle)
                .await
                .expect("shutdown hang")
                .unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
