//! Orders under Redis faults: a status change whose answer is lost (Redis
//! held it past the deadline, then ran it) is safe to repeat — a cancellation
//! gives its units back exactly once — and a crash loses no order, status
//! or product stock that was acknowledged (AOF `appendfsync always`).

use crate::support;

use std::time::{Duration, Instant};

use chophien::sale::{
    Order, OrderActor, OrderChange, OrderStatus, RedisSaleStore, RedisStoreOptions, SaleError,
    SaleStore,
};

use support::redis::RedisServer;
use support::sale::{cod, request, shipping, tea};

const ROOM: &str = "tra-thai-nguyen";
const T0: u64 = 1_700_000_000_000;
/// The production deadline.
const DEADLINE: Duration = Duration::from_millis(800);

async fn store(server: &RedisServer) -> RedisSaleStore {
    let options = RedisStoreOptions {
        op_timeout: DEADLINE,
        ..RedisStoreOptions::new(server.url())
    };
    RedisSaleStore::connect(options).await.unwrap()
}

/// `buyer` orders `quantity` units of the sale (cash on delivery).
async fn order(store: &RedisSaleStore, sale_id: &str, buyer: &str, quantity: u32) -> Order {
    let key = format!("key-{buyer}-000001");
    let hold = store
        .buy(ROOM, &request(sale_id, buyer, quantity, &key), T0)
        .await
        .unwrap()
        .hold
        .unwrap();
    store
        .confirm(ROOM, &hold.hold_id, buyer, &cod(shipping()), T0)
        .await
        .unwrap()
        .order
}

/// Retries an order change until Redis answers (as a client does after
/// `unavailable`).
async fn until_answered(
    store: &RedisSaleStore,
    order_id: &str,
    change: &OrderChange,
) -> chophien::sale::OrderUpdate {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        match store
            .update_order(ROOM, order_id, change, &OrderActor::Seller, T0 + 5)
            .await
        {
            Ok(update) => return update,
            Err(SaleError::Unavailable(_)) if Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("{error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_whose_answer_is_lost_gives_its_units_back_once_when_retried() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let placed = order(&store, &sale.id, "lan", 3).await;

    // Redis holds every write for 1.5 s (reads go on): the cancel reads the
    // order, sends its write, gets no answer within the deadline — and
    // Redis runs the write when the pause ends. The seller was told
    // `unavailable`, and retries.
    let pause = Duration::from_millis(1500);
    let mut admin = server.client();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(pause.as_millis() as u64)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let paused_at = Instant::now();
    let started = Instant::now();
    let outcome = store
        .update_order(
            ROOM,
            &placed.order_id,
            &OrderChange::Cancelled,
            &OrderActor::Seller,
            T0 + 1,
        )
        .await;
    assert!(
        matches!(outcome, Err(SaleError::Unavailable(_))),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < pause,
        "answered within the deadline, not the pause"
    );
    tokio::time::sleep(pause.saturating_sub(paused_at.elapsed()) + Duration::from_millis(300))
        .await;

    let retried = until_answered(&store, &placed.order_id, &OrderChange::Cancelled).await;
    assert!(!retried.changed, "the lost write had cancelled it already");
    assert_eq!(retried.returned_units, 0);
    let read = store.get_sale(ROOM, &sale.id, T0 + 6).await.unwrap();
    assert_eq!(read.remaining, 10, "the 3 units came back exactly once");
    assert_eq!(
        store
            .order(ROOM, &placed.order_id)
            .await
            .unwrap()
            .history
            .len(),
        1,
        "one cancellation recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_crash_keeps_orders_their_statuses_and_the_products_stock() {
    let mut server = RedisServer::start();
    let store = store(&server).await;
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let packed = order(&store, &sale.id, "lan", 2).await;
    let cancelled = order(&store, &sale.id, "minh", 1).await;
    until_answered(&store, &packed.order_id, &OrderChange::Packed).await;
    until_answered(&store, &cancelled.order_id, &OrderChange::Cancelled).await;
    store.end_sale(ROOM, &sale.id, T0 + 10).await.unwrap();

    server.crash_and_restart();

    let after = until_read(&store, &packed.order_id).await;
    assert_eq!(after.status, OrderStatus::Packed);
    assert_eq!(
        store.order(ROOM, &cancelled.order_id).await.unwrap().status,
        OrderStatus::Cancelled
    );
    assert_eq!(
        store.order_room(&packed.order_id).await.unwrap().as_deref(),
        Some(ROOM)
    );
    // 10 carved − 2 ordered (the cancelled unit came back before the end).
    assert_eq!(
        store.product_stock(ROOM, "p1").await.unwrap(),
        Some(1_000_000 - 2)
    );
}

/// Reads an order, waiting out the reconnection after a restart.
async fn until_read(store: &RedisSaleStore, order_id: &str) -> Order {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        match store.order(ROOM, order_id).await {
            Ok(order) => return order,
            Err(SaleError::Unavailable(_)) if Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("{error}"),
        }
    }
}
