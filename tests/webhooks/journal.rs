//! An order's event is written by the very store call that writes the
//! order (`sale::journal`): a node that dies right after that call leaves
//! the event in the outbox, reachable from the due index, never lost; a
//! refused or repeated call writes none.

use std::sync::Arc;

use async_trait::async_trait;
use chophien::clock::{unix_millis, UnixMillis};
use chophien::redis_link::RedisLink;
use chophien::sale::{
    JournalEntry, Order, OrderActor, OrderChange, OrderEventKind, OrderJournal, RedisSaleStore,
    SaleError, SaleStore,
};
use chophien::webhook::{EventType, NewWebhook, WebhookSettings, Webhooks};

use super::support::redis::RedisServer;
use super::support::sale::{cod, request, shipping, tea};
use super::ROOM;

/// The webhooks' journal on a node that dies as soon as the store's call
/// returns: it never makes the entry due itself.
struct DiesAfterTheCall(Webhooks);

#[async_trait]
impl OrderJournal for DiesAfterTheCall {
    async fn prepare(
        &self,
        room_id: &str,
        kind: OrderEventKind,
        order: &Order,
        now: UnixMillis,
    ) -> Option<JournalEntry> {
        self.0.prepare(room_id, kind, order, now).await
    }

    async fn committed(&self, _room_id: &str, _entry: JournalEntry) {}
}

async fn node(redis: &RedisServer, with_webhook: bool) -> (Webhooks, RedisSaleStore) {
    let link = RedisLink::connect(redis.url(), std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let settings = WebhookSettings {
        allow_private_targets: true,
        ..WebhookSettings::default()
    };
    let webhooks = Webhooks::on_redis(link.clone(), settings);
    if with_webhook {
        let webhook = NewWebhook {
            url: "http://127.0.0.1:9/hooks".into(),
            secret: None,
        };
        webhooks
            .configure(ROOM, Some(webhook), unix_millis())
            .await
            .unwrap();
    }
    let journal = Arc::new(DiesAfterTheCall(webhooks.clone()));
    let store = RedisSaleStore::on(link, None).with_journal(journal);
    (webhooks, store)
}

/// `<room>/<event id>` members of the due index, with their due times.
fn due(redis: &RedisServer) -> Vec<(String, u64)> {
    redis::cmd("ZRANGE")
        .arg("chophien:webhooks:due")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut redis.client())
        .unwrap()
}

async fn placed(store: &RedisSaleStore, buyer: &str) -> Order {
    let sale = store.create_sale(ROOM, tea(10, 5), unix_millis()).await;
    let sale_id = match sale {
        Ok(sale) => sale.id,
        Err(SaleError::SaleRunning) => {
            store
                .latest_sale(ROOM, unix_millis())
                .await
                .unwrap()
                .unwrap()
                .id
        }
        Err(other) => panic!("{other}"),
    };
    let key = format!("key-{buyer}-0001");
    let hold = store
        .buy(ROOM, &request(&sale_id, buyer, 2, &key), unix_millis())
        .await
        .unwrap()
        .hold
        .unwrap();
    let confirmation = store
        .confirm(ROOM, &hold.hold_id, buyer, &cod(shipping()), unix_millis())
        .await
        .unwrap();
    assert!(confirmation.created);
    confirmation.order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_and_its_event_are_written_by_one_call() {
    let redis = RedisServer::start();
    let (webhooks, store) = node(&redis, true).await;
    let before = unix_millis();
    let order = placed(&store, "lan").await;

    // The node died before making the entry due: it is in the outbox all the
    // same, with the order, and its reservation in the due index makes any
    // node's worker send it within a minute.
    let log = webhooks.log(ROOM).await.unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].event_type, EventType::OrderCreated);
    let body: serde_json::Value = serde_json::from_str(&log[0].body).unwrap();
    assert_eq!(body["data"]["order_id"], order.order_id.as_str());
    let member = format!("{ROOM}/{}", log[0].event_id);
    let (indexed, at) = due(&redis).into_iter().next().unwrap();
    assert_eq!(indexed, member);
    assert!(at >= before + 59_000, "reserved a minute ahead: {at}");

    // Confirming again returns the order and writes no second event.
    let again = store
        .confirm(ROOM, &order.hold_id, "lan", &cod(shipping()), unix_millis())
        .await
        .unwrap();
    assert!(!again.created);
    // Someone else's hold: refused, nothing written.
    let refused = store
        .confirm(
            ROOM,
            &order.hold_id,
            "minh",
            &cod(shipping()),
            unix_millis(),
        )
        .await;
    assert_eq!(refused, Err(SaleError::Forbidden));
    assert_eq!(webhooks.log(ROOM).await.unwrap().len(), 1);

    // A change writes its own event with it.
    store
        .update_order(
            ROOM,
            &order.order_id,
            &OrderChange::Cancelled,
            &OrderActor::Seller,
            unix_millis(),
        )
        .await
        .unwrap();
    let log = webhooks.log(ROOM).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].event_type, EventType::OrderCancelled);
    // Every entry is reachable from the due index. (A call that wrote none
    // may leave a reservation that names no entry: a worker drops it.)
    let indexed: Vec<String> = due(&redis).into_iter().map(|(member, _)| member).collect();
    for entry in &log {
        assert!(
            indexed.contains(&format!("{ROOM}/{}", entry.event_id)),
            "{indexed:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_without_a_webhook_gets_no_event() {
    let redis = RedisServer::start();
    let (webhooks, store) = node(&redis, false).await;
    placed(&store, "lan").await;
    assert!(webhooks.log(ROOM).await.unwrap().is_empty());
    assert!(due(&redis).is_empty());
}
