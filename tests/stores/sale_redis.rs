//! What only the Redis sale store must survive: a crash and restart of Redis
//! (AOF), a flush of its functions and scripts, and Redis being down.

use crate::support;

use std::time::{Duration, Instant};

use chophien::sale::{
    BuyOutcome, Hold, RedisSaleStore, RedisStoreOptions, SaleError, SaleRef, SaleStore,
};

use support::redis::RedisServer;
use support::sale::{cod, request, shipping, tea};

const ROOM: &str = "tra-thai-nguyen";
const T0: u64 = 1_700_000_000_000;

async fn reserve(
    store: &RedisSaleStore,
    sale_id: &str,
    buyer: &str,
    quantity: u32,
    key: &str,
) -> Hold {
    let result = store
        .buy(ROOM, &request(sale_id, buyer, quantity, key), T0)
        .await
        .unwrap();
    assert_eq!(result.outcome, BuyOutcome::Reserved);
    result.hold.unwrap()
}

/// The production deadline (under a second), so "promptly" is the real one.
async fn connect(server: &RedisServer) -> RedisSaleStore {
    RedisSaleStore::connect(RedisStoreOptions::new(server.url()))
        .await
        .unwrap()
}

/// Retries while Redis is still reloading its AOF after a restart (a hang
/// guard, not a timing claim).
async fn until_available<T>(mut attempt: impl AsyncFnMut() -> Result<T, SaleError>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match attempt().await {
            Err(SaleError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other.unwrap(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_orders_and_stock_survive_a_redis_crash() {
    let mut server = RedisServer::start();
    let store = connect(&server).await;
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let ordered = reserve(&store, &sale.id, "lan", 2, "key-lan-0001").await;
    let order = store
        .confirm(ROOM, &ordered.hold_id, "lan", &cod(shipping()), T0)
        .await
        .unwrap()
        .order;
    let held = reserve(&store, &sale.id, "minh", 3, "key-minh-001").await;

    server.crash_and_restart();

    let after = until_available(async || store.get_sale(ROOM, &sale.id, T0).await).await;
    assert_eq!(after.remaining, 5, "2 ordered + 3 held");
    assert_eq!(
        store.orders_for_room(ROOM).await.unwrap(),
        vec![order.clone()]
    );
    let retry = store
        .buy(ROOM, &request(&sale.id, "minh", 3, "key-minh-001"), T0)
        .await
        .unwrap();
    assert_eq!(
        (retry.outcome, retry.hold),
        (BuyOutcome::Duplicate, Some(held.clone())),
        "no second charge"
    );
    let again = store
        .confirm(ROOM, &ordered.hold_id, "lan", &cod(shipping()), T0)
        .await
        .unwrap();
    assert_eq!(
        (again.order, again.created),
        (order, false),
        "no second order"
    );
    store
        .confirm(ROOM, &held.hold_id, "minh", &cod(shipping()), T0)
        .await
        .unwrap();
    assert_eq!(
        store.orders_for_sale(ROOM, &sale.id).await.unwrap().len(),
        2
    );
    assert_eq!(
        store.get_sale(ROOM, &sale.id, T0).await.unwrap().remaining,
        5
    );
    assert!(
        store
            .active_sales()
            .await
            .unwrap()
            .contains(&SaleRef::new(ROOM, sale.id.as_str())),
        "a restarted node's sweeper finds it"
    );
    assert_eq!(
        store.create_sale(ROOM, tea(1, 1), T0).await,
        Err(SaleError::SaleRunning),
        "the room still knows its sale is running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_hold_still_expires_once_after_a_crash() {
    let mut server = RedisServer::start();
    let store = connect(&server).await;
    let sale = store.create_sale(ROOM, tea(4, 5), T0).await.unwrap();
    let hold = reserve(&store, &sale.id, "lan", 4, "key-lan-0001").await;

    server.crash_and_restart();

    let report = until_available(async || {
        store
            .expire_due(&SaleRef::new(ROOM, sale.id.as_str()), hold.expires_at)
            .await
    })
    .await;
    assert_eq!(report.returned_units, 4);
    assert_eq!(
        store
            .expire_due(&SaleRef::new(ROOM, sale.id.as_str()), hold.expires_at)
            .await
            .unwrap()
            .returned_units,
        0
    );
    assert_eq!(
        store
            .get_sale(ROOM, &sale.id, hold.expires_at)
            .await
            .unwrap()
            .remaining,
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buys_keep_working_after_function_flush_and_script_flush() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    reserve(&store, &sale.id, "lan", 1, "key-lan-0001").await;

    let mut admin = server.client();
    redis::cmd("FUNCTION")
        .arg("FLUSH")
        .exec(&mut admin)
        .unwrap();
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut admin).unwrap();
    reserve(&store, &sale.id, "lan", 1, "key-lan-0002").await;

    redis::cmd("FUNCTION")
        .arg("FLUSH")
        .exec(&mut admin)
        .unwrap();
    store.health().await.unwrap();
    reserve(&store, &sale.id, "lan", 1, "key-lan-0003").await;
    assert_eq!(
        store.get_sale(ROOM, &sale.id, T0).await.unwrap().remaining,
        7
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buys_answer_unavailable_promptly_while_redis_is_down_and_recover_after() {
    let mut server = RedisServer::start();
    let store = connect(&server).await;
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();

    server.crash();
    for attempt in 0..3 {
        let started = Instant::now();
        let key = format!("key-down-{attempt:04}");
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            store.buy(ROOM, &request(&sale.id, "lan", 1, &key), T0),
        )
        .await
        .expect("a buy must not hang while Redis is down")
        .unwrap();
        assert_eq!(result.outcome, BuyOutcome::Unavailable);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered within the store's deadline"
        );
    }
    assert!(matches!(
        store.health().await,
        Err(SaleError::Unavailable(_))
    ));

    server.restart();
    until_available(async || store.health().await).await;
    let result = until_available(async || {
        match store
            .buy(ROOM, &request(&sale.id, "lan", 1, "key-after-01"), T0)
            .await?
        {
            r if r.outcome == BuyOutcome::Unavailable => {
                Err(SaleError::Unavailable("still reconnecting".into()))
            }
            r => Ok(r),
        }
    })
    .await;
    assert_eq!(
        result.outcome,
        BuyOutcome::Reserved,
        "the connection came back by itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_of_a_room_and_its_sales_shares_the_rooms_hash_tag() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let hold = reserve(&store, &sale.id, "lan", 1, "key-lan-0001").await;
    store
        .confirm(ROOM, &hold.hold_id, "lan", &cod(shipping()), T0)
        .await
        .unwrap();
    reserve(&store, &sale.id, "lan", 1, "key-lan-0002").await;

    let mut admin = server.client();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut admin).unwrap();
    let tag = format!("{{room:{ROOM}}}:");
    let (room_keys, index_keys): (Vec<_>, Vec<_>) = keys.iter().partition(|k| k.starts_with(&tag));
    let sale_prefix = format!("{tag}sale:{}:", sale.id);
    let sale_keys = room_keys
        .iter()
        .filter(|k| k.starts_with(&sale_prefix))
        .count();
    assert!(sale_keys >= 6, "{room_keys:?}");
    assert_eq!(room_keys.len(), sale_keys + 4, "{room_keys:?}");
    assert!(
        room_keys.contains(&&format!("{tag}current_sale"))
            && room_keys.contains(&&format!("{tag}sales"))
            && room_keys.contains(&&format!("{tag}order_index"))
            && room_keys.contains(&&format!("{tag}stock")),
        "{room_keys:?}"
    );
    // Beside the sweepers' index, one untagged key per order: its room,
    // for the order page.
    let mut index_keys = index_keys;
    index_keys.sort();
    assert_eq!(index_keys.len(), 2, "{index_keys:?}");
    assert_eq!(index_keys[1], "chophien:sales:active");
    assert!(
        index_keys[0].starts_with("chophien:order:"),
        "{index_keys:?}"
    );
    let active: Vec<String> = redis::cmd("SMEMBERS")
        .arg("chophien:sales:active")
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        active,
        [format!("{ROOM}/{}", sale.id)],
        "a sweeper can build the keys"
    );
}

#[tokio::test]
async fn connecting_to_an_absent_redis_fails_as_unavailable() {
    let server = RedisServer::start();
    let url = server.url();
    drop(server);
    let result = RedisSaleStore::connect(RedisStoreOptions::new(url)).await;
    assert!(matches!(result, Err(SaleError::Unavailable(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_sends_concurrent_buys_of_a_sale_together() {
    const BUYERS: u32 = 500;
    let server = RedisServer::start();
    let options = RedisStoreOptions {
        op_timeout: Duration::from_secs(10),
        ..RedisStoreOptions::new(server.url())
    };
    let store = RedisSaleStore::connect(options).await.unwrap();
    let sale = store.create_sale(ROOM, tea(1000, 5), T0).await.unwrap();
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .exec(&mut server.client())
        .unwrap();

    let mut buys = tokio::task::JoinSet::new();
    for i in 0..BUYERS {
        let (store, sale_id) = (store.clone(), sale.id.clone());
        buys.spawn(async move {
            let key = format!("key-{i:08}");
            store
                .buy(ROOM, &request(&sale_id, &format!("b{i}"), 1, &key), T0)
                .await
                .unwrap()
                .outcome
        });
    }
    while let Some(outcome) = buys.join_next().await {
        assert_eq!(outcome.unwrap(), BuyOutcome::Reserved);
    }

    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut server.client())
        .unwrap();
    let calls: u32 = stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_fcall:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(calls < BUYERS, "{BUYERS} buys took {calls} FCALLs");
    assert_eq!(
        store.get_sale(ROOM, &sale.id, T0).await.unwrap().remaining,
        1000 - BUYERS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buys_answer_unavailable_promptly_while_redis_hangs_and_charge_at_most_once() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();

    server.freeze();
    let started = Instant::now();
    let frozen = request(&sale.id, "lan", 1, "key-frozen-1");
    let result = tokio::time::timeout(Duration::from_secs(5), store.buy(ROOM, &frozen, T0))
        .await
        .expect("a buy must not hang while Redis hangs")
        .unwrap();
    assert_eq!(result.outcome, BuyOutcome::Unavailable);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered within the store's deadline"
    );
    server.thaw();

    // The frozen request may still have run once Redis woke up; retrying
    // its key must never reserve a second time.
    let retry = until_available(async || match store.buy(ROOM, &frozen, T0).await? {
        r if r.outcome == BuyOutcome::Unavailable => Err(SaleError::Unavailable("retry".into())),
        r => Ok(r),
    })
    .await;
    assert!(matches!(
        retry.outcome,
        BuyOutcome::Reserved | BuyOutcome::Duplicate
    ));
    let again = store.buy(ROOM, &frozen, T0).await.unwrap();
    assert_eq!(
        (again.outcome, again.hold),
        (BuyOutcome::Duplicate, retry.hold)
    );
    assert_eq!(
        store.get_sale(ROOM, &sale.id, T0).await.unwrap().remaining,
        9
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_decides_each_buy_as_if_it_came_alone() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    let sale = store.create_sale(ROOM, tea(3, 2), T0).await.unwrap();
    let now = T0.to_string();
    // (buyer, quantity, key): what each buy meets is the stock and the
    // limit the buys before it in the same call left.
    let buys = [
        ("lan", 2, "k1"),  // reserved: 1 left
        ("lan", 1, "k2"),  // limit reached: she holds 2 of 2
        ("lan", 2, "k1"),  // her first buy again: duplicate
        ("minh", 2, "k3"), // sold out: 1 left, 2 asked
        ("hoa", 1, "k4"),  // reserved: 0 left
        ("tuan", 1, "k5"), // sold out
    ];
    let mut args = vec![now.clone()];
    for (i, (buyer, quantity, key)) in buys.iter().enumerate() {
        let idem = format!("{}:{buyer}:{key}", buyer.len());
        let hold_id = format!("h{i}");
        args.extend([now.clone(), buyer.to_string(), buyer.to_string()]);
        args.extend([quantity.to_string(), idem, hold_id]);
    }
    let keys = RedisSaleStore::function_keys(ROOM, &sale.id);
    let replies: Vec<Vec<String>> = redis::cmd("FCALL")
        .arg("chophien_buy_batch")
        .arg(keys.len())
        .arg(&keys)
        .arg(&args)
        .query(&mut server.client())
        .unwrap();

    let outcomes: Vec<&str> = replies.iter().map(|reply| reply[0].as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "reserved",
            "limit_reached",
            "duplicate",
            "sold_out",
            "reserved",
            "sold_out"
        ]
    );
    assert!(replies[2][1].contains("\"hold_id\":\"h0\""), "{replies:?}");
    let after = store.get_sale(ROOM, &sale.id, T0).await.unwrap();
    assert_eq!(after.remaining, 0);
}
