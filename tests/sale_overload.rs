//! The Redis sale store past its capacity: a buy that finds its sale's queue
//! full, or would wait longer than the queue allows, is answered `busy` at
//! once (nothing reserved); a buy behind a failing call is answered
//! `unavailable` within one deadline; and a burst far larger than the queue
//! still ends exact, with no `unavailable` while Redis is healthy.

mod support;

use std::time::{Duration, Instant};

use chophien::sale::{
    BuyOutcome, BuyResult, GroupCommit, RedisSaleStore, RedisStoreOptions, SaleStore,
};

use support::redis::RedisServer;
use support::sale::{request, tea};

const ROOM: &str = "tra-thai-nguyen";
const T0: u64 = 1_700_000_000_000;
/// The production deadline, so "within one deadline" is the real one.
const DEADLINE: Duration = Duration::from_millis(800);

async fn store_with_queue(server: &RedisServer, queue_limit: usize) -> RedisSaleStore {
    let options = RedisStoreOptions {
        op_timeout: DEADLINE,
        group_commit: Some(GroupCommit {
            queue_limit,
            ..GroupCommit::default()
        }),
        ..RedisStoreOptions::new(server.url())
    };
    RedisSaleStore::connect(options).await.unwrap()
}

/// Starts one buy in the background, answering with how long it took.
fn spawn_buy(
    store: &RedisSaleStore,
    sale_id: &str,
    buyer: &str,
    key: &str,
) -> tokio::task::JoinHandle<(BuyResult, Duration)> {
    let (store, request) = (store.clone(), request(sale_id, buyer, 1, key));
    tokio::spawn(async move {
        let sent = Instant::now();
        let result = store.buy(ROOM, &request, T0).await.unwrap();
        (result, sent.elapsed())
    })
}

/// Lets a spawned buy reach the store's queue.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buy_that_finds_the_queue_full_is_answered_busy_at_once_and_reserves_nothing() {
    let server = RedisServer::start();
    let store = store_with_queue(&server, 2).await;
    let sale = store.create_sale(ROOM, tea(100, 5), T0).await.unwrap();

    server.freeze();
    let in_flight = spawn_buy(&store, &sale.id, "an", "key-an-00001");
    settle().await;
    let queued = [
        spawn_buy(&store, &sale.id, "binh", "key-binh-0001"),
        spawn_buy(&store, &sale.id, "chi", "key-chi-00001"),
    ];
    settle().await;
    let started = Instant::now();
    let crowded = request(&sale.id, "dung", 1, "key-dung-0001");
    let busy = store.buy(ROOM, &crowded, T0).await.unwrap();
    let waited = started.elapsed();
    server.thaw();

    assert_eq!(busy.outcome, BuyOutcome::Busy);
    assert!(waited < Duration::from_millis(50), "busy took {waited:?}");
    assert!(busy.hold.is_none());
    let retry_after = busy.retry_after_ms.expect("busy says when to retry");
    assert!((100..=3000).contains(&retry_after), "{retry_after} ms");
    for buy in std::iter::once(in_flight).chain(queued) {
        assert_eq!(buy.await.unwrap().0.outcome, BuyOutcome::Reserved);
    }
    // Nothing was reserved for the busy buy: its key reserves now, once.
    let retried = store.buy(ROOM, &crowded, T0).await.unwrap();
    assert_eq!(retried.outcome, BuyOutcome::Reserved);
    assert_eq!(
        store.get_sale(ROOM, &sale.id, T0).await.unwrap().remaining,
        96
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_call_in_flight_takes_longer_than_the_queue_allows_a_new_buy_is_busy() {
    let server = RedisServer::start();
    let options = RedisStoreOptions {
        // The call in flight outlives the freeze instead of failing.
        op_timeout: Duration::from_secs(10),
        group_commit: Some(GroupCommit {
            queue_wait: Duration::from_millis(300),
            ..GroupCommit::default()
        }),
        ..RedisStoreOptions::new(server.url())
    };
    let store = RedisSaleStore::connect(options).await.unwrap();
    let sale = store.create_sale(ROOM, tea(100, 5), T0).await.unwrap();

    server.freeze();
    let in_flight = spawn_buy(&store, &sale.id, "an", "key-an-00001");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let late = request(&sale.id, "binh", 1, "key-binh-0001");
    let busy = store.buy(ROOM, &late, T0).await.unwrap();
    server.thaw();

    assert_eq!(busy.outcome, BuyOutcome::Busy, "the queue itself was empty");
    assert!(busy.retry_after_ms.unwrap() >= 400);
    assert_eq!(in_flight.await.unwrap().0.outcome, BuyOutcome::Reserved);
    assert_eq!(
        store.buy(ROOM, &late, T0).await.unwrap().outcome,
        BuyOutcome::Reserved
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buys_queued_behind_a_silent_redis_answer_unavailable_within_one_deadline_and_charge_once_on_retry(
) {
    const QUEUED: usize = 20;
    let server = RedisServer::start();
    let store = store_with_queue(&server, 1024).await;
    let sale = store.create_sale(ROOM, tea(100, 5), T0).await.unwrap();

    server.freeze();
    let mut buys = vec![spawn_buy(&store, &sale.id, "buyer-0", "key-buyer-0000")];
    settle().await;
    for i in 1..=QUEUED {
        let (buyer, key) = (format!("buyer-{i}"), format!("key-buyer-{i:04}"));
        buys.push(spawn_buy(&store, &sale.id, &buyer, &key));
    }
    for buy in buys {
        let (result, took) = buy.await.unwrap();
        assert_eq!(result.outcome, BuyOutcome::Unavailable);
        assert!(
            took < DEADLINE + Duration::from_millis(300),
            "answered after {took:?}"
        );
    }
    server.thaw();

    // The call in flight may have run once Redis woke up; every key, retried,
    // holds exactly one unit.
    for i in 0..=QUEUED {
        let retry = request(
            &sale.id,
            &format!("buyer-{i}"),
            1,
            &format!("key-buyer-{i:04}"),
        );
        let mut result = store.buy(ROOM, &retry, T0).await.unwrap();
        while result.outcome == BuyOutcome::Unavailable {
            tokio::time::sleep(Duration::from_millis(50)).await;
            result = store.buy(ROOM, &retry, T0).await.unwrap();
        }
        assert!(
            matches!(result.outcome, BuyOutcome::Reserved | BuyOutcome::Duplicate),
            "{:?}",
            result.outcome
        );
    }
    assert_eq!(
        store.get_sale(ROOM, &sale.id, T0).await.unwrap().remaining,
        100 - (QUEUED as u32 + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_far_larger_than_the_queue_ends_exact_with_no_unavailable() {
    const BUYERS: usize = 1500;
    const STOCK: u32 = 400;
    let server = RedisServer::start();
    let store = store_with_queue(&server, 32).await;
    let sale = store.create_sale(ROOM, tea(STOCK, 1), T0).await.unwrap();

    let mut buyers = tokio::task::JoinSet::new();
    for i in 0..BUYERS {
        let (store, retry) = (
            store.clone(),
            request(&sale.id, &format!("b{i}"), 1, &format!("key-{i:08}")),
        );
        buyers.spawn(async move {
            let mut busy = 0;
            loop {
                let result = store.buy(ROOM, &retry, T0).await.unwrap();
                match result.retry_after_ms {
                    Some(ms) if result.outcome == BuyOutcome::Busy => {
                        busy += 1;
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    _ => return (result.outcome, busy),
                }
            }
        });
    }
    let (mut reserved, mut sold_out, mut busy) = (0, 0, 0);
    while let Some(answer) = buyers.join_next().await {
        let (outcome, times_busy) = answer.unwrap();
        busy += times_busy;
        match outcome {
            BuyOutcome::Reserved => reserved += 1,
            BuyOutcome::SoldOut => sold_out += 1,
            other => panic!("a healthy Redis answered {other:?}"),
        }
    }

    assert_eq!(
        (reserved, sold_out),
        (STOCK as usize, BUYERS - STOCK as usize)
    );
    assert!(
        busy > 0,
        "a queue of 32 under {BUYERS} buyers was never full"
    );
    assert_eq!(
        store.get_sale(ROOM, &sale.id, T0).await.unwrap().remaining,
        0
    );
    let (batches, buys) = store.batch_totals().unwrap();
    assert_eq!(
        buys, BUYERS as u64,
        "each buy reaches Redis once; busy ones never"
    );
    assert!(batches < buys, "{buys} buys in {batches} calls");
}
