//! Signed webhooks (issue 11 part 6), black-box: a real server on
//! 127.0.0.1:0 (memory and Redis stores), a real receiver that fails and
//! then accepts, and every signature checked with the documented scheme.

#[path = "../support/mod.rs"]
mod support;

mod delivery;
mod durability;
mod endpoints;
mod journal;
mod orders;
mod outbox;
mod receiver;

use chophien::auth::Role;
use chophien::clock::unix_millis;
use chophien::config::Config;
use chophien::webhook::EventType;
use reqwest::StatusCode;
use serde_json::{json, Value};

use support::server::{test_config, Store, TestServer};

pub const ROOM: &str = "tra-thai-nguyen";

/// Fast retries, a quick poll, and receivers on loopback allowed.
pub fn config() -> Config {
    let mut config = test_config();
    config.webhooks.allow_private_targets = true;
    config.webhooks.retry_base_ms = 200;
    config.webhooks.retry_cap_ms = 5_000;
    config.webhooks.max_attempts = 5;
    config.webhooks.poll_interval_ms = 20;
    config.webhooks.request_timeout_ms = 2_000;
    config
}

/// A server on `store` with [`config`] and the room [`ROOM`].
pub async fn server(store: Store, config: Config) -> TestServer {
    let server = store.with_config(config).await;
    server.room(ROOM).await;
    server
}

pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

pub fn seller(server: &TestServer) -> String {
    server.token(ROOM, Role::Seller, "hoa")
}

/// `PUT /api/rooms/{ROOM}/webhook` as the room's seller; the answer.
pub async fn put_webhook(server: &TestServer, body: Value) -> (StatusCode, Value) {
    let response = http()
        .put(server.http(&format!("/api/rooms/{ROOM}/webhook")))
        .bearer_auth(seller(server))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Sets the room's webhook to `url`; answers its secret.
pub async fn set_webhook(server: &TestServer, url: &str) -> String {
    let (status, webhook) = put_webhook(server, json!({ "url": url })).await;
    assert_eq!(status, StatusCode::OK, "{webhook}");
    webhook["secret"].as_str().unwrap().to_owned()
}

/// What the order code does: publish an event of the room.
pub async fn publish(server: &TestServer, kind: EventType, data: Value) -> Option<String> {
    server
        .state
        .webhooks
        .publish(ROOM, kind, data, unix_millis())
        .await
        .unwrap()
}

/// `GET …/webhook/deliveries` as the seller.
pub async fn deliveries(server: &TestServer) -> Vec<Value> {
    let log: Value = http()
        .get(server.http(&format!("/api/rooms/{ROOM}/webhook/deliveries")))
        .bearer_auth(seller(server))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log["deliveries"].as_array().unwrap().clone()
}

/// Polls the log until the delivery `event_id` is in `state` (at most 20 s).
pub async fn wait_for_state(server: &TestServer, event_id: &str, state: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let log = deliveries(server).await;
        let entry = log.iter().find(|d| d["event_id"] == event_id).cloned();
        if let Some(entry) = &entry {
            if entry["state"] == state {
                return entry.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "delivery {event_id} never reached {state}: {entry:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
