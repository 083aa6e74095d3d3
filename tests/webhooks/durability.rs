//! What only the Redis outbox must do: outlive the node that wrote an
//! entry (and Redis' own crash), and share due deliveries between nodes
//! without handing one to two of them at once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chophien::clock::unix_millis;
use chophien::redis_link::RedisLink;
use chophien::webhook::{
    Delivery, EventType, NewWebhook, Outbox, RedisOutbox, WebhookSettings, Webhooks,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::receiver::Receiver;
use super::support::redis::RedisServer;
use super::ROOM;

fn settings() -> WebhookSettings {
    WebhookSettings {
        allow_private_targets: true,
        retry_base: Duration::from_millis(200),
        poll_interval: Duration::from_millis(20),
        ..WebhookSettings::default()
    }
}

/// A node's link to `redis`, retried while Redis reloads after a restart.
async fn link(redis: &RedisServer) -> RedisLink {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match RedisLink::connect(redis.url(), Duration::from_secs(2)).await {
            Ok(link) => return link,
            Err(error) if Instant::now() < deadline => {
                tracing::debug!(%error, "Redis not ready yet");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("no Redis: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_before_a_crash_is_delivered_by_the_next_node() {
    let receiver = Receiver::start(1).await;
    let mut redis = RedisServer::start();

    // The first node sets the webhook, publishes, and dies before sending.
    let first = Webhooks::on_redis(link(&redis).await, settings());
    let webhook = NewWebhook {
        url: receiver.url("/hooks"),
        secret: None,
    };
    let config = first
        .configure(ROOM, Some(webhook), unix_millis())
        .await
        .unwrap()
        .unwrap();
    let data = json!({"order_id": "o-1", "total_vnd": 150000});
    let event_id = first
        .publish(ROOM, EventType::OrderCreated, data.clone(), unix_millis())
        .await
        .unwrap()
        .unwrap();
    drop(first);
    // Redis crashes too, and comes back from its append-only file.
    redis.crash_and_restart();

    // Another node, on the same Redis, delivers it (after one failure).
    let second = Webhooks::on_redis(link(&redis).await, settings());
    let stop = CancellationToken::new();
    let worker = second.spawn_worker(stop.clone());
    let got = receiver.wait_for(2).await;
    for request in &got {
        assert_eq!(request.event_id, event_id);
        assert_eq!(request.verify(&config.secret), Ok(()));
        assert_eq!(request.json()["data"], data);
    }
    assert_eq!(got[1].answered, 204);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = second.log(ROOM).await.unwrap();
        if log[0].state == chophien::webhook::DeliveryState::Delivered {
            assert_eq!(log[0].attempts, 2);
            break;
        }
        assert!(Instant::now() < deadline, "never recorded: {log:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_claiming_at_once_never_take_the_same_delivery() {
    let redis = RedisServer::start();
    let nodes: Vec<Arc<RedisOutbox>> = vec![
        Arc::new(RedisOutbox::new(
            link(&redis).await,
            100,
            Duration::from_secs(60),
        )),
        Arc::new(RedisOutbox::new(
            link(&redis).await,
            100,
            Duration::from_secs(60),
        )),
    ];
    let now = 1_700_000_000_000;
    let mut all = HashSet::new();
    for i in 0..60 {
        let entry = Delivery::new(ROOM, EventType::OrderUpdated, &json!({ "i": i }), now).unwrap();
        nodes[0].enqueue(&entry).await.unwrap();
        all.insert(entry.due_ref());
    }
    let claims = nodes.iter().map(|node| {
        let node = node.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = node.claim(now, now + 40_000, 3).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed);
            }
        })
    });
    let mut claimed = HashSet::new();
    for claim in claims {
        for due in claim.await.unwrap() {
            assert!(claimed.insert(due.clone()), "{due:?} claimed twice");
        }
    }
    assert_eq!(claimed, all);
}
