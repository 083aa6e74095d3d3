//! The outbox seam, run on memory and on a real Redis: leases, outcomes,
//! the log and retries, with times given by the test.

use std::sync::Arc;
use std::time::Duration;

use chophien::redis_link::RedisLink;
use chophien::webhook::{
    Delivery, DeliveryState, DueRef, EventType, MemoryOutbox, Outbox, RedisOutbox, WebhookConfig,
};
use serde_json::json;

use super::support::redis::RedisServer;
use super::ROOM;

const T0: u64 = 1_700_000_000_000;
const LEASE: u64 = 40_000;

/// An outbox of `kind` keeping `log_size` deliveries per room, and its Redis.
async fn outbox(redis: bool, log_size: usize) -> (Arc<dyn Outbox>, Option<RedisServer>) {
    if !redis {
        return (Arc::new(MemoryOutbox::new(log_size)), None);
    }
    let server = RedisServer::start();
    let link = RedisLink::connect(server.url(), Duration::from_secs(2))
        .await
        .unwrap();
    let outbox = RedisOutbox::new(link, log_size, Duration::from_secs(3600));
    (Arc::new(outbox), Some(server))
}

fn delivery(at: u64) -> Delivery {
    Delivery::new(
        ROOM,
        EventType::OrderCreated,
        &json!({"order_id": "o-1"}),
        at,
    )
    .unwrap()
}

async fn a_claim_leases_its_entries_until_the_lease_ends(redis: bool) {
    let (outbox, _redis) = outbox(redis, 100).await;
    let first = delivery(T0);
    let later = delivery(T0 + 5_000);
    outbox.enqueue(&first).await.unwrap();
    outbox.enqueue(&later).await.unwrap();

    assert!(outbox
        .claim(T0 - 1, T0 + LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = outbox.claim(T0, T0 + LEASE, 10).await.unwrap();
    assert_eq!(claimed, [first.due_ref()]);
    // Leased: no other worker gets it, even once the later entry is due.
    let claimed = outbox
        .claim(T0 + 5_000, T0 + 5_000 + LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed, [later.due_ref()]);
    assert!(outbox
        .claim(T0 + LEASE - 1, T0 + 2 * LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    // Its worker died without recording: due again when the lease ends.
    let claimed = outbox.claim(T0 + LEASE, T0 + 2 * LEASE, 10).await.unwrap();
    assert_eq!(claimed, [first.due_ref()]);
}

async fn a_claim_takes_at_most_its_limit_soonest_first(redis: bool) {
    let (outbox, _redis) = outbox(redis, 100).await;
    let entries: Vec<Delivery> = (0..5).map(|i| delivery(T0 + i)).collect();
    for entry in entries.iter().rev() {
        outbox.enqueue(entry).await.unwrap();
    }
    let claimed = outbox.claim(T0 + 10, T0 + LEASE, 2).await.unwrap();
    assert_eq!(claimed, [entries[0].due_ref(), entries[1].due_ref()]);
    let claimed = outbox.claim(T0 + 10, T0 + LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
}

async fn an_outcome_reschedules_a_pending_entry_and_settles_a_delivered_one(redis: bool) {
    let (outbox, _redis) = outbox(redis, 100).await;
    let entry = delivery(T0);
    outbox.enqueue(&entry).await.unwrap();
    outbox.claim(T0, T0 + LEASE, 10).await.unwrap();

    let mut failed = entry.clone();
    failed.attempts = 1;
    failed.last_attempt_at = Some(T0 + 100);
    failed.last_status = Some(503);
    failed.last_error = Some("HTTP 503".into());
    failed.next_attempt_at = Some(T0 + 2_000);
    assert!(outbox.record(&failed, 0).await.unwrap());
    assert_eq!(
        outbox.get(&entry.due_ref()).await.unwrap(),
        Some(failed.clone())
    );
    // The lease is over: due at its next attempt, not before.
    assert!(outbox
        .claim(T0 + 1_999, T0 + LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        outbox.claim(T0 + 2_000, T0 + LEASE, 10).await.unwrap(),
        [entry.due_ref()]
    );

    let mut delivered = failed.clone();
    delivered.attempts = 2;
    delivered.state = DeliveryState::Delivered;
    delivered.next_attempt_at = None;
    delivered.last_status = Some(200);
    delivered.last_error = None;
    assert!(outbox.record(&delivered, 1).await.unwrap());
    assert_eq!(outbox.get(&entry.due_ref()).await.unwrap(), Some(delivered));
    assert!(outbox
        .claim(u64::MAX / 2, u64::MAX / 2, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn an_outcome_recorded_after_another_is_ignored(redis: bool) {
    let (outbox, _redis) = outbox(redis, 100).await;
    let entry = delivery(T0);
    outbox.enqueue(&entry).await.unwrap();
    let mut first = entry.clone();
    first.attempts = 1;
    first.state = DeliveryState::Delivered;
    first.next_attempt_at = None;
    assert!(outbox.record(&first, 0).await.unwrap());
    // A second worker whose lease ran out attempted it too.
    let mut second = entry.clone();
    second.attempts = 1;
    second.next_attempt_at = Some(T0 + 1_000);
    assert!(!outbox.record(&second, 0).await.unwrap());
    assert_eq!(outbox.get(&entry.due_ref()).await.unwrap(), Some(first));
    // An entry that is gone records nothing.
    let gone = delivery(T0);
    assert!(!outbox.record(&gone, 0).await.unwrap());
    assert_eq!(outbox.get(&gone.due_ref()).await.unwrap(), None);
}

async fn the_log_lists_the_newest_deliveries_first(redis: bool) {
    let (outbox, _redis) = outbox(redis, 3).await;
    let entries: Vec<Delivery> = (0..5).map(|i| delivery(T0 + i)).collect();
    for entry in &entries {
        outbox.enqueue(entry).await.unwrap();
    }
    let log: Vec<String> = outbox
        .log(ROOM)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event_id)
        .collect();
    let newest: Vec<String> = entries[2..]
        .iter()
        .rev()
        .map(|d| d.event_id.clone())
        .collect();
    assert_eq!(log, newest);
    // Out of the log but still pending: still delivered.
    let claimed = outbox.claim(T0 + 10, T0 + LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 5);
    assert!(outbox.log("another-room").await.unwrap().is_empty());
}

async fn a_retry_makes_a_settled_delivery_due_now(redis: bool) {
    let (outbox, _redis) = outbox(redis, 100).await;
    let entry = delivery(T0);
    outbox.enqueue(&entry).await.unwrap();
    outbox.claim(T0, T0 + LEASE, 10).await.unwrap();
    let mut failed = entry.clone();
    failed.attempts = 8;
    failed.state = DeliveryState::Failed;
    failed.next_attempt_at = None;
    outbox.record(&failed, 0).await.unwrap();
    assert!(outbox
        .claim(T0 + 10 * LEASE, T0 + 11 * LEASE, 10)
        .await
        .unwrap()
        .is_empty());

    let now = T0 + 60_000;
    let retried = outbox.retry(&entry.due_ref(), now).await.unwrap().unwrap();
    assert_eq!(retried.state, DeliveryState::Pending);
    assert_eq!(retried.next_attempt_at, Some(now));
    assert_eq!(retried.attempts, 8, "a retry keeps the count of attempts");
    assert_eq!(
        outbox.claim(now, now + LEASE, 10).await.unwrap(),
        [entry.due_ref()]
    );
    let unknown = DueRef {
        room_id: ROOM.into(),
        event_id: uuid::Uuid::new_v4().to_string(),
    };
    assert_eq!(outbox.retry(&unknown, now).await.unwrap(), None);
}

async fn a_rooms_webhook_is_set_replaced_and_removed(redis: bool) {
    let (outbox, _redis) = outbox(redis, 100).await;
    assert_eq!(outbox.config(ROOM).await.unwrap(), None);
    let first = WebhookConfig {
        url: "https://shop.example.vn/hooks".into(),
        secret: "whsec_one".into(),
        updated_at: T0,
    };
    outbox.set_config(ROOM, Some(&first)).await.unwrap();
    assert_eq!(outbox.config(ROOM).await.unwrap(), Some(first));
    let second = WebhookConfig {
        url: "https://shop.example.vn/v2".into(),
        secret: "whsec_two".into(),
        updated_at: T0 + 1,
    };
    outbox.set_config(ROOM, Some(&second)).await.unwrap();
    assert_eq!(outbox.config(ROOM).await.unwrap(), Some(second));
    assert_eq!(outbox.config("another-room").await.unwrap(), None);
    outbox.set_config(ROOM, None).await.unwrap();
    assert_eq!(outbox.config(ROOM).await.unwrap(), None);
}

/// Runs each listed test on the memory outbox and on a Redis one.
macro_rules! on_every_outbox {
    ($($test:ident),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(false).await;
                }
            )*
        }
        mod in_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(true).await;
                }
            )*
        }
    };
}

on_every_outbox!(
    a_claim_leases_its_entries_until_the_lease_ends,
    a_claim_takes_at_most_its_limit_soonest_first,
    an_outcome_reschedules_a_pending_entry_and_settles_a_delivered_one,
    an_outcome_recorded_after_another_is_ignored,
    the_log_lists_the_newest_deliveries_first,
    a_retry_makes_a_settled_delivery_due_now,
    a_rooms_webhook_is_set_replaced_and_removed,
);
