//! A real `chophien` server on a free loopback port, stopped on drop.

use std::net::SocketAddr;
use std::time::Duration;

use chophien::auth::{Claims, Role};
use chophien::config::Config;
use chophien::room::NewRoom;
use chophien::server::{AppState, Server};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::client::Client;

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: CancellationToken,
    handle: Option<JoinHandle<()>>,
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

    pub async fn with_config(config: Config) -> TestServer {
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
        }
    }

    /// Open a room (scheduled) with two products, `p1` and `p2`.
    pub async fn room(&self, id: &str) {
        self.state
            .rooms
            .create(NewRoom {
                id: Some(id.into()),
                title: "Phiên thử".into(),
                seller_name: "Chị Hoa".into(),
                products: chophien::demo::products().into_iter().take(2).collect(),
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
