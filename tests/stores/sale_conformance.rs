//! The `SaleStore` contract, run against both stores.
//!
//! Every behaviour below is a generic async fn over `S: SaleStore`; the
//! `chophien_sale_suite!` macro (`support/sale.rs`) instantiates each once
//! for `MemorySaleStore`, for `RedisSaleStore` on its own real
//! `redis-server` (with and without group commit), and for `RedisSaleStore`
//! on a real three-primary Redis Cluster (shared by this binary's tests, one
//! at a time, emptied for each). Orders after confirmation have their own
//! suite, `order_conformance.rs`.
//! Time is passed explicitly (`T0 + …`), except in the sweeper test which
//! runs on the wall clock like production. Every call names the caller's
//! room; `ROOM` is the room the sales under test belong to.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chophien::sale::{
    sweeper, BuyOutcome, BuyResult, Checkout, Hold, NewSale, PaymentMethod, SaleError, SaleRef,
    SaleState, SaleStore, Shipping,
};
use tokio_util::sync::CancellationToken;

use support::sale::{cod, request, shipping, tea};

const ROOM: &str = "tra-thai-nguyen";
/// Another live room on the same store.
const OTHER_ROOM: &str = "gom-bat-trang";
const T0: u64 = 1_700_000_000_000;
const SECOND: u64 = 1000;

crate::chophien_sale_suite!(
    a_live_sale_reserves_units_and_lowers_remaining,
    stock_of_n_sells_exactly_n_units,
    a_scheduled_sale_answers_not_started_until_it_starts,
    a_sale_past_its_end_or_ended_early_answers_ended,
    the_per_buyer_limit_counts_held_and_ordered_units,
    a_repeated_idempotency_key_returns_the_original_hold,
    idempotency_keys_belong_to_their_buyer,
    confirming_a_hold_records_one_order,
    confirming_after_the_deadline_fails_and_returns_stock_once,
    cancelling_a_hold_returns_its_units,
    only_the_buyer_may_confirm_or_cancel_a_hold,
    racing_expiries_return_each_hold_exactly_once,
    a_sold_out_sale_is_live_again_when_a_hold_expires,
    holds_made_before_the_end_stay_confirmable,
    invalid_input_is_a_typed_error,
    two_thousand_concurrent_buyers_never_oversell,
    the_sweeper_returns_expired_stock_exactly_once,
    the_latest_sale_of_a_room_is_its_newest,
    a_healthy_store_says_so,
    twenty_concurrent_starts_in_one_room_let_exactly_one_win,
    a_room_may_start_a_new_sale_once_the_last_one_ended,
    only_the_first_confirmation_says_it_created_the_order,
    a_hold_cannot_be_confirmed_or_cancelled_from_another_room,
    a_sale_of_another_room_is_not_found,
    a_buyers_open_holds_are_hers_still_held_and_unexpired,
    a_room_without_a_sale_has_no_open_holds,
    one_phone_cannot_pass_the_per_buyer_limit_from_two_identities,
    a_buyers_orders_are_hers_across_the_rooms_sales_oldest_first,
);

async fn buy<S: SaleStore>(
    store: &S,
    sale_id: &str,
    buyer: &str,
    quantity: u32,
    now: u64,
) -> BuyResult {
    let key = uuid::Uuid::new_v4().simple().to_string();
    store
        .buy(ROOM, &request(sale_id, buyer, quantity, &key), now)
        .await
        .unwrap()
}

async fn reserve<S: SaleStore>(
    store: &S,
    sale_id: &str,
    buyer: &str,
    quantity: u32,
    now: u64,
) -> Hold {
    let result = buy(store, sale_id, buyer, quantity, now).await;
    assert_eq!(
        result.outcome,
        BuyOutcome::Reserved,
        "{buyer} buying {quantity}"
    );
    result.hold.unwrap()
}

/// A sale of `ROOM`, as sweepers name it.
fn in_room(sale_id: &str) -> SaleRef {
    SaleRef::new(ROOM, sale_id)
}

async fn remaining<S: SaleStore>(store: &S, sale_id: &str, now: u64) -> u32 {
    store.get_sale(ROOM, sale_id, now).await.unwrap().remaining
}

async fn a_live_sale_reserves_units_and_lowers_remaining<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    assert_eq!(sale.state, SaleState::Live);
    assert_eq!(
        (sale.remaining, sale.stock_total, sale.hold_secs),
        (10, 10, 60)
    );

    let hold = reserve(&store, &sale.id, "lan", 3, T0 + 1).await;
    assert_eq!(hold.sale_id, sale.id);
    assert_eq!(hold.quantity, 3);
    assert_eq!(hold.expires_at, T0 + 1 + 60 * SECOND);
    assert_eq!(remaining(&store, &sale.id, T0 + 2).await, 7);
}

async fn stock_of_n_sells_exactly_n_units<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(3, 3), T0).await.unwrap();
    reserve(&store, &sale.id, "a", 2, T0).await;
    assert_eq!(
        buy(&store, &sale.id, "b", 2, T0).await.outcome,
        BuyOutcome::SoldOut,
        "2 asked, 1 left"
    );
    reserve(&store, &sale.id, "b", 1, T0).await;
    assert_eq!(
        buy(&store, &sale.id, "c", 1, T0).await.outcome,
        BuyOutcome::SoldOut
    );
    let info = store.get_sale(ROOM, &sale.id, T0).await.unwrap();
    assert_eq!((info.remaining, info.state), (0, SaleState::SoldOut));
}

async fn a_scheduled_sale_answers_not_started_until_it_starts<S: SaleStore>(store: S) {
    let sale = store
        .create_sale(
            ROOM,
            NewSale {
                starts_in_secs: 10,
                ..tea(5, 1)
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(sale.state, SaleState::Scheduled);
    assert_eq!(sale.starts_at, T0 + 10 * SECOND);
    assert_eq!(
        buy(&store, &sale.id, "lan", 1, T0 + 9_999).await.outcome,
        BuyOutcome::NotStarted
    );
    assert_eq!(remaining(&store, &sale.id, T0).await, 5);
    reserve(&store, &sale.id, "lan", 1, T0 + 10 * SECOND).await;
}

async fn a_sale_past_its_end_or_ended_early_answers_ended<S: SaleStore>(store: S) {
    let timed = store.create_sale(ROOM, tea(5, 1), T0).await.unwrap();
    assert_eq!(timed.ends_at, T0 + 300 * SECOND);
    assert_eq!(
        buy(&store, &timed.id, "lan", 1, timed.ends_at)
            .await
            .outcome,
        BuyOutcome::Ended
    );

    // The room is free again once the timed sale is over.
    let t1 = timed.ends_at;
    let early = store.create_sale(ROOM, tea(5, 1), t1).await.unwrap();
    let ended = store
        .end_sale(ROOM, &early.id, t1 + 5 * SECOND)
        .await
        .unwrap();
    assert_eq!(
        (ended.state, ended.ends_at),
        (SaleState::Ended, t1 + 5 * SECOND)
    );
    assert_eq!(
        buy(&store, &early.id, "lan", 1, t1 + 6 * SECOND)
            .await
            .outcome,
        BuyOutcome::Ended
    );
    let again = store
        .end_sale(ROOM, &early.id, t1 + 9 * SECOND)
        .await
        .unwrap();
    assert_eq!(
        again.ends_at,
        t1 + 5 * SECOND,
        "ending twice changes nothing"
    );
}

async fn the_per_buyer_limit_counts_held_and_ordered_units<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 2), T0).await.unwrap();
    assert_eq!(
        buy(&store, &sale.id, "lan", 3, T0).await.outcome,
        BuyOutcome::LimitReached
    );
    let first = reserve(&store, &sale.id, "lan", 1, T0).await;
    store
        .confirm(ROOM, &first.hold_id, "lan", &cod(shipping()), T0)
        .await
        .unwrap();
    let second = reserve(&store, &sale.id, "lan", 1, T0).await;
    assert_eq!(
        buy(&store, &sale.id, "lan", 1, T0).await.outcome,
        BuyOutcome::LimitReached
    );
    reserve(&store, &sale.id, "minh", 2, T0).await;

    store
        .cancel(ROOM, &second.hold_id, "lan", T0)
        .await
        .unwrap();
    reserve(&store, &sale.id, "lan", 1, T0).await;
}

async fn a_repeated_idempotency_key_returns_the_original_hold<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let first = store
        .buy(ROOM, &request(&sale.id, "lan", 2, "key-00000001"), T0)
        .await
        .unwrap();
    let again = store
        .buy(ROOM, &request(&sale.id, "lan", 2, "key-00000001"), T0 + 1)
        .await
        .unwrap();
    assert_eq!(first.outcome, BuyOutcome::Reserved);
    assert_eq!(again.outcome, BuyOutcome::Duplicate);
    assert_eq!(again.hold, first.hold);
    assert_eq!(remaining(&store, &sale.id, T0).await, 8, "charged once");
}

async fn idempotency_keys_belong_to_their_buyer<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let lan = store
        .buy(ROOM, &request(&sale.id, "lan", 1, "shared-key-1"), T0)
        .await
        .unwrap();
    let minh = store
        .buy(ROOM, &request(&sale.id, "minh", 1, "shared-key-1"), T0)
        .await
        .unwrap();
    assert_eq!(
        (lan.outcome, minh.outcome),
        (BuyOutcome::Reserved, BuyOutcome::Reserved)
    );
    assert_ne!(lan.hold, minh.hold);
}

async fn confirming_a_hold_records_one_order<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let hold = reserve(&store, &sale.id, "lan", 2, T0).await;
    let order = store
        .confirm(ROOM, &hold.hold_id, "lan", &cod(shipping()), T0 + SECOND)
        .await
        .unwrap()
        .order;
    assert_eq!(
        (order.sale_id.as_str(), order.hold_id.as_str()),
        (sale.id.as_str(), hold.hold_id.as_str())
    );
    assert_eq!(
        (order.buyer_id.as_str(), order.buyer_name.as_str()),
        ("lan", "Người mua lan")
    );
    assert_eq!(
        (order.quantity, order.unit_price_vnd, order.total_vnd),
        (2, 199_000, 398_000)
    );
    assert_eq!(
        order.shipping.phone, "0912345678",
        "stored in national form"
    );
    assert_eq!(order.created_at, T0 + SECOND);

    let retry = store
        .confirm(
            ROOM,
            &hold.hold_id,
            "lan",
            &cod(shipping()),
            T0 + 2 * SECOND,
        )
        .await
        .unwrap()
        .order;
    assert_eq!(retry, order, "confirming twice returns the same order");
    assert_eq!(
        store.orders_for_sale(ROOM, &sale.id).await.unwrap(),
        vec![order.clone()]
    );
    assert_eq!(store.orders_for_room(ROOM).await.unwrap(), vec![order]);
    assert!(store
        .orders_for_room("another-room")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .expire_due(&in_room(&sale.id), T0 + 3600 * SECOND)
            .await
            .unwrap()
            .returned_units,
        0
    );
    // The sale has ended and closed: its 8 unsold units went back to the
    // product; the order keeps its 2.
    let closed = store.get_sale(ROOM, &sale.id, T0).await.unwrap();
    assert_eq!(
        (closed.remaining, closed.returned_to_stock),
        (0, 8),
        "an order keeps its units"
    );
    assert_eq!(
        store.cancel(ROOM, &hold.hold_id, "lan", T0).await,
        Err(SaleError::HoldNotFound)
    );
}

async fn confirming_after_the_deadline_fails_and_returns_stock_once<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let hold = reserve(&store, &sale.id, "lan", 2, T0).await;
    let late = store
        .confirm(
            ROOM,
            &hold.hold_id,
            "lan",
            &cod(shipping()),
            hold.expires_at,
        )
        .await;
    assert_eq!(late, Err(SaleError::HoldExpired));
    assert_eq!(remaining(&store, &sale.id, hold.expires_at).await, 10);
    assert_eq!(
        store
            .expire_due(&in_room(&sale.id), hold.expires_at)
            .await
            .unwrap()
            .returned_units,
        0
    );
    assert_eq!(
        store
            .confirm(
                ROOM,
                &hold.hold_id,
                "lan",
                &cod(shipping()),
                hold.expires_at
            )
            .await,
        Err(SaleError::HoldExpired)
    );
    assert_eq!(
        store
            .cancel(ROOM, &hold.hold_id, "lan", hold.expires_at)
            .await,
        Err(SaleError::HoldExpired)
    );
    assert_eq!(remaining(&store, &sale.id, hold.expires_at).await, 10);
    assert!(store
        .orders_for_sale(ROOM, &sale.id)
        .await
        .unwrap()
        .is_empty());
}

async fn cancelling_a_hold_returns_its_units<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(2, 2), T0).await.unwrap();
    let hold = reserve(&store, &sale.id, "lan", 2, T0).await;
    store
        .cancel(ROOM, &hold.hold_id, "lan", T0 + 1)
        .await
        .unwrap();
    store
        .cancel(ROOM, &hold.hold_id, "lan", T0 + 2)
        .await
        .unwrap();
    assert_eq!(remaining(&store, &sale.id, T0).await, 2, "returned once");
    assert_eq!(
        store
            .confirm(ROOM, &hold.hold_id, "lan", &cod(shipping()), T0 + 3)
            .await,
        Err(SaleError::HoldNotFound)
    );
    reserve(&store, &sale.id, "minh", 2, T0 + 4).await;
}

async fn only_the_buyer_may_confirm_or_cancel_a_hold<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(2, 2), T0).await.unwrap();
    let hold = reserve(&store, &sale.id, "lan", 1, T0).await;
    assert_eq!(
        store
            .confirm(ROOM, &hold.hold_id, "mallory", &cod(shipping()), T0)
            .await,
        Err(SaleError::Forbidden)
    );
    assert_eq!(
        store.cancel(ROOM, &hold.hold_id, "mallory", T0).await,
        Err(SaleError::Forbidden)
    );
    assert_eq!(remaining(&store, &sale.id, T0).await, 1);
}

async fn racing_expiries_return_each_hold_exactly_once<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(20, 5), T0).await.unwrap();
    for (i, buyer) in ["a", "b", "c", "d"].iter().enumerate() {
        reserve(&store, &sale.id, buyer, 1 + i as u32, T0).await;
    }
    let due = T0 + 60 * SECOND;
    assert_eq!(
        store
            .expire_due(&in_room(&sale.id), due - 1)
            .await
            .unwrap()
            .returned_units,
        0,
        "not yet due"
    );
    let swept = in_room(&sale.id);
    let (a, b, c) = tokio::join!(
        store.expire_due(&swept, due),
        store.expire_due(&swept, due),
        store.expire_due(&swept, due)
    );
    let returned: u32 = [a, b, c]
        .into_iter()
        .map(|r| r.unwrap().returned_units)
        .sum();
    assert_eq!(returned, 10);
    assert_eq!(remaining(&store, &sale.id, due).await, 20);
}

async fn a_sold_out_sale_is_live_again_when_a_hold_expires<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(1, 1), T0).await.unwrap();
    let hold = reserve(&store, &sale.id, "lan", 1, T0).await;
    assert_eq!(
        store.get_sale(ROOM, &sale.id, T0).await.unwrap().state,
        SaleState::SoldOut
    );
    let report = store
        .expire_due(&in_room(&sale.id), hold.expires_at)
        .await
        .unwrap();
    assert_eq!(
        (
            report.returned_units,
            report.remaining,
            report.room_id.as_str()
        ),
        (1, 1, ROOM)
    );
    assert!(!report.retired, "the sale is still running");
    assert_eq!(
        store
            .get_sale(ROOM, &sale.id, hold.expires_at)
            .await
            .unwrap()
            .state,
        SaleState::Live
    );
    reserve(&store, &sale.id, "minh", 1, hold.expires_at).await;
}

async fn holds_made_before_the_end_stay_confirmable<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(5, 5), T0).await.unwrap();
    let kept = reserve(&store, &sale.id, "lan", 1, T0).await;
    let dropped = reserve(&store, &sale.id, "minh", 1, T0).await;
    store.end_sale(ROOM, &sale.id, T0 + SECOND).await.unwrap();
    store
        .confirm(
            ROOM,
            &kept.hold_id,
            "lan",
            &cod(shipping()),
            T0 + 2 * SECOND,
        )
        .await
        .unwrap();
    assert!(
        store
            .active_sales()
            .await
            .unwrap()
            .contains(&in_room(&sale.id)),
        "a hold is still pending"
    );

    let report = store
        .expire_due(&in_room(&sale.id), dropped.expires_at)
        .await
        .unwrap();
    // The sale closed when it ended: the expired hold's unit goes to the
    // product, not back on sale.
    assert_eq!((report.returned_units, report.to_product), (0, 1));
    assert!(report.retired, "ended, nothing pending");
    assert!(!store
        .active_sales()
        .await
        .unwrap()
        .contains(&in_room(&sale.id)));
}

async fn invalid_input_is_a_typed_error<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(5, 5), T0).await.unwrap();
    let invalid = |r: Result<BuyResult, SaleError>| matches!(r, Err(SaleError::InvalidValue(_)));
    assert!(
        invalid(
            store
                .buy(ROOM, &request(&sale.id, "lan", 0, "key-00000001"), T0)
                .await
        ),
        "quantity 0"
    );
    assert!(
        invalid(
            store
                .buy(
                    ROOM,
                    &request(&sale.id, "lan", u32::MAX, "key-00000002"),
                    T0
                )
                .await
        ),
        "huge quantity"
    );
    assert!(
        invalid(
            store
                .buy(ROOM, &request(&sale.id, "lan", 1, "short"), T0)
                .await
        ),
        "short key"
    );
    assert_eq!(
        store
            .buy(ROOM, &request("0123456789ab", "lan", 1, "key-00000003"), T0)
            .await,
        Err(SaleError::SaleNotFound)
    );
    assert_eq!(
        store
            .buy(ROOM, &request("{evil}", "lan", 1, "key-00000004"), T0)
            .await,
        Err(SaleError::SaleNotFound)
    );
    assert_eq!(
        store.get_sale(ROOM, "0123456789ab", T0).await,
        Err(SaleError::SaleNotFound)
    );
    assert_eq!(
        store.end_sale(ROOM, "nope", T0).await,
        Err(SaleError::SaleNotFound)
    );
    assert_eq!(
        store
            .confirm(ROOM, "garbage", "lan", &cod(shipping()), T0)
            .await,
        Err(SaleError::HoldNotFound)
    );
    assert_eq!(
        store
            .cancel(ROOM, &format!("{}-abcdef", sale.id), "lan", T0)
            .await,
        Err(SaleError::HoldNotFound)
    );
    // A room id becomes part of key names: anything the room registry would
    // refuse is refused before it gets there.
    for bad_room in ["", "Tra-Thai", "{room:x}", "a/b", "a:b", &"r".repeat(65)] {
        let invalid_value = |r: Result<(), SaleError>| matches!(r, Err(SaleError::InvalidValue(_)));
        assert!(
            invalid_value(store.create_sale(bad_room, tea(5, 1), T0).await.map(drop)),
            "create in {bad_room:?}"
        );
        assert!(
            invalid_value(store.get_sale(bad_room, &sale.id, T0).await.map(drop)),
            "get in {bad_room:?}"
        );
        assert!(
            invalid_value(
                store
                    .buy(bad_room, &request(&sale.id, "lan", 1, "key-00000005"), T0)
                    .await
                    .map(drop)
            ),
            "buy in {bad_room:?}"
        );
        assert!(
            invalid_value(store.orders_for_room(bad_room).await.map(drop)),
            "orders of {bad_room:?}"
        );
    }

    let hold = reserve(&store, &sale.id, "lan", 1, T0).await;
    for bad in [
        Shipping {
            phone: "12345".into(),
            ..shipping()
        },
        Shipping {
            name: " ".into(),
            ..shipping()
        },
        Shipping {
            address: String::new(),
            ..shipping()
        },
    ] {
        let result = store
            .confirm(ROOM, &hold.hold_id, "lan", &cod(bad.clone()), T0)
            .await;
        assert!(
            matches!(result, Err(SaleError::InvalidShipping(_))),
            "{bad:?}: {result:?}"
        );
    }
    for bad in [
        tea(0, 1),
        tea(5, 0),
        NewSale {
            hold_secs: 0,
            ..tea(5, 1)
        },
        NewSale {
            price_vnd: 0,
            ..tea(5, 1)
        },
    ] {
        assert!(matches!(
            store.create_sale(ROOM, bad, T0).await,
            Err(SaleError::InvalidValue(_))
        ));
    }
    assert_eq!(
        remaining(&store, &sale.id, T0).await,
        4,
        "nothing invalid touched the stock"
    );
}

async fn two_thousand_concurrent_buyers_never_oversell<S: SaleStore + Clone>(store: S) {
    const STOCK: u32 = 100;
    const LIMIT: u32 = 2;
    let sale = store
        .create_sale(ROOM, tea(STOCK, LIMIT), T0)
        .await
        .unwrap();
    // 500 buyers, 4 requests each: three fresh keys and a retry of the first.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2000u32 {
        let (store, sale_id) = (store.clone(), sale.id.clone());
        let buyer = format!("buyer-{}", i / 4);
        let key = format!("key-{:05}-{}", i / 4, if i % 4 == 3 { 0 } else { i % 4 });
        tasks.spawn(async move {
            let result = store
                .buy(ROOM, &request(&sale_id, &buyer, 1, &key), T0 + u64::from(i))
                .await
                .unwrap();
            (buyer, key, result)
        });
    }
    let mut reserved_by_buyer: HashMap<String, u32> = HashMap::new();
    let mut reserved_keys = HashSet::new();
    let mut holds = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (buyer, key, result) = joined.unwrap();
        assert_ne!(result.outcome, BuyOutcome::Unavailable);
        if result.outcome == BuyOutcome::Reserved {
            assert!(
                reserved_keys.insert((buyer.clone(), key)),
                "a key reserved twice"
            );
            assert!(holds.insert(result.hold.unwrap().hold_id));
            *reserved_by_buyer.entry(buyer).or_default() += 1;
        }
    }
    assert_eq!(
        reserved_by_buyer.values().sum::<u32>(),
        STOCK,
        "exactly the stock was reserved"
    );
    assert!(
        reserved_by_buyer.values().all(|&units| units <= LIMIT),
        "a buyer exceeded the limit"
    );
    assert_eq!(remaining(&store, &sale.id, T0).await, 0);
}

async fn the_sweeper_returns_expired_stock_exactly_once<S: SaleStore + Clone>(store: S) {
    let now = chophien::clock::unix_millis();
    let sale = store
        .create_sale(
            ROOM,
            NewSale {
                hold_secs: 1,
                ..tea(5, 5)
            },
            now,
        )
        .await
        .unwrap();
    reserve(&store, &sale.id, "lan", 2, now).await;
    reserve(&store, &sale.id, "minh", 1, now).await;

    let (reports, mut received) = tokio::sync::mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    // Two sweepers, as on two nodes.
    let sweepers = [0, 1].map(|_| {
        let reports = reports.clone();
        sweeper::spawn(
            store.clone(),
            Duration::from_millis(20),
            shutdown.clone(),
            move |r| {
                let _ = reports.send(r);
            },
        )
    });
    let mut returned = 0;
    while returned < 3 {
        let report = tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(report.sale_id, sale.id);
        returned += report.returned_units;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    for sweeper in sweepers {
        sweeper.await.unwrap();
    }
    assert!(received.try_recv().is_err(), "no unit came back twice");
    assert_eq!(returned, 3);
    assert_eq!(
        remaining(&store, &sale.id, chophien::clock::unix_millis()).await,
        5
    );
}

async fn the_latest_sale_of_a_room_is_its_newest<S: SaleStore>(store: S) {
    assert_eq!(store.latest_sale(ROOM, T0).await.unwrap(), None);
    let first = store.create_sale(ROOM, tea(5, 1), T0).await.unwrap();
    store.end_sale(ROOM, &first.id, T0).await.unwrap();
    let newest = store.create_sale(ROOM, tea(7, 1), T0 + 1).await.unwrap();
    store
        .create_sale("elsewhere", tea(9, 1), T0 + 2)
        .await
        .unwrap();
    assert_eq!(
        store.latest_sale(ROOM, T0 + 3).await.unwrap().map(|s| s.id),
        Some(newest.id)
    );
}

async fn a_healthy_store_says_so<S: SaleStore>(store: S) {
    store.health().await.unwrap();
}

async fn twenty_concurrent_starts_in_one_room_let_exactly_one_win<S: SaleStore + Clone>(store: S) {
    let mut starts = tokio::task::JoinSet::new();
    for stock in 1..=20 {
        let store = store.clone();
        starts.spawn(async move { store.create_sale(ROOM, tea(stock, 1), T0).await });
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    while let Some(joined) = starts.join_next().await {
        match joined.unwrap() {
            Ok(sale) => winners.push(sale),
            Err(SaleError::SaleRunning) => refused += 1,
            Err(other) => panic!("a start failed otherwise: {other:?}"),
        }
    }
    assert_eq!((winners.len(), refused), (1, 19));
    assert_eq!(
        store.active_sales().await.unwrap(),
        vec![in_room(&winners[0].id)],
        "the refused starts left no sale behind"
    );
    assert_eq!(
        store.latest_sale(ROOM, T0).await.unwrap(),
        Some(winners[0].clone())
    );
    assert_eq!(
        SaleError::SaleRunning.to_string(),
        "a flash sale is already running in this room: end it first"
    );
}

async fn a_room_may_start_a_new_sale_once_the_last_one_ended<S: SaleStore>(store: S) {
    // Scheduled counts as running.
    let scheduled = store
        .create_sale(
            ROOM,
            NewSale {
                starts_in_secs: 60,
                ..tea(1, 1)
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(scheduled.state, SaleState::Scheduled);
    assert_eq!(
        store.create_sale(ROOM, tea(5, 1), T0 + 1).await,
        Err(SaleError::SaleRunning)
    );
    // Another room is not held up.
    store.create_sale(OTHER_ROOM, tea(5, 1), T0).await.unwrap();

    // Ended early: free at once.
    store.end_sale(ROOM, &scheduled.id, T0 + 2).await.unwrap();
    let live = store.create_sale(ROOM, tea(1, 1), T0 + 2).await.unwrap();
    assert_eq!(live.state, SaleState::Live);

    // Sold out counts as running.
    reserve(&store, &live.id, "lan", 1, T0 + 3).await;
    assert_eq!(
        store.get_sale(ROOM, &live.id, T0 + 4).await.unwrap().state,
        SaleState::SoldOut
    );
    assert_eq!(
        store.create_sale(ROOM, tea(5, 1), T0 + 4).await,
        Err(SaleError::SaleRunning)
    );

    // Ended by time: running until the last millisecond, free from `ends_at`.
    assert_eq!(
        store.create_sale(ROOM, tea(5, 1), live.ends_at - 1).await,
        Err(SaleError::SaleRunning)
    );
    let next = store
        .create_sale(ROOM, tea(5, 1), live.ends_at)
        .await
        .unwrap();
    assert_eq!(
        store
            .latest_sale(ROOM, live.ends_at)
            .await
            .unwrap()
            .map(|s| s.id),
        Some(next.id)
    );
}

async fn only_the_first_confirmation_says_it_created_the_order<S: SaleStore + Clone>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let hold = reserve(&store, &sale.id, "lan", 1, T0).await;
    let first = store
        .confirm(ROOM, &hold.hold_id, "lan", &cod(shipping()), T0 + 1)
        .await
        .unwrap();
    let retry = store
        .confirm(ROOM, &hold.hold_id, "lan", &cod(shipping()), T0 + 1)
        .await
        .unwrap();
    assert!(first.created, "the first confirmation made the order");
    assert!(!retry.created, "a retry at the same millisecond did not");
    assert_eq!(retry.order, first.order);

    // Racing confirmations of one hold: one creates, the other finds it.
    let raced = reserve(&store, &sale.id, "minh", 1, T0).await;
    let checkout = Checkout {
        shipping: shipping(),
        payment: PaymentMethod::Cod,
        voucher_code: None,
    };
    let (a, b) = tokio::join!(
        store.confirm(ROOM, &raced.hold_id, "minh", &checkout, T0 + 2),
        store.confirm(ROOM, &raced.hold_id, "minh", &checkout, T0 + 2)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        [a.created, b.created].iter().filter(|&&c| c).count(),
        1,
        "exactly one racing confirmation created the order"
    );
    assert_eq!(a.order, b.order);
    assert_eq!(
        store.orders_for_sale(ROOM, &sale.id).await.unwrap().len(),
        2
    );
}

async fn a_hold_cannot_be_confirmed_or_cancelled_from_another_room<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(5, 5), T0).await.unwrap();
    store.create_sale(OTHER_ROOM, tea(5, 5), T0).await.unwrap();
    let hold = reserve(&store, &sale.id, "lan", 2, T0).await;

    // The buyer herself, over another room: as if the hold did not exist.
    assert_eq!(
        store
            .confirm(OTHER_ROOM, &hold.hold_id, "lan", &cod(shipping()), T0 + 1)
            .await,
        Err(SaleError::HoldNotFound)
    );
    assert_eq!(
        store.cancel(OTHER_ROOM, &hold.hold_id, "lan", T0 + 1).await,
        Err(SaleError::HoldNotFound)
    );
    // Someone else, over another room: not found either (not `forbidden`,
    // which would confirm that the hold exists).
    assert_eq!(
        store
            .cancel(OTHER_ROOM, &hold.hold_id, "mallory", T0 + 1)
            .await,
        Err(SaleError::HoldNotFound)
    );
    assert_eq!(remaining(&store, &sale.id, T0 + 1).await, 3, "still held");
    assert!(store.orders_for_room(OTHER_ROOM).await.unwrap().is_empty());

    // Over its own room the hold is confirmed as usual.
    let confirmation = store
        .confirm(ROOM, &hold.hold_id, "lan", &cod(shipping()), T0 + 2)
        .await
        .unwrap();
    assert!(confirmation.created);
    assert_eq!(
        store.orders_for_room(ROOM).await.unwrap(),
        vec![confirmation.order]
    );
}

async fn a_sale_of_another_room_is_not_found<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(5, 5), T0).await.unwrap();
    reserve(&store, &sale.id, "lan", 1, T0).await;

    assert_eq!(
        store.get_sale(OTHER_ROOM, &sale.id, T0).await,
        Err(SaleError::SaleNotFound)
    );
    assert_eq!(
        store
            .buy(
                OTHER_ROOM,
                &request(&sale.id, "minh", 1, "key-00000001"),
                T0
            )
            .await,
        Err(SaleError::SaleNotFound)
    );
    assert_eq!(
        store.end_sale(OTHER_ROOM, &sale.id, T0).await,
        Err(SaleError::SaleNotFound)
    );
    assert_eq!(
        store.orders_for_sale(OTHER_ROOM, &sale.id).await,
        Err(SaleError::SaleNotFound)
    );
    assert_eq!(
        store
            .expire_due(
                &SaleRef::new(OTHER_ROOM, sale.id.as_str()),
                T0 + 3600 * SECOND
            )
            .await,
        Err(SaleError::SaleNotFound)
    );
    assert_eq!(store.latest_sale(OTHER_ROOM, T0).await.unwrap(), None);

    let untouched = store.get_sale(ROOM, &sale.id, T0).await.unwrap();
    assert_eq!(
        (untouched.state, untouched.remaining),
        (SaleState::Live, 4),
        "not ended, not bought, no hold expired"
    );
    assert!(store
        .active_sales()
        .await
        .unwrap()
        .contains(&in_room(&sale.id)));
}

async fn a_buyers_open_holds_are_hers_still_held_and_unexpired<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(20, 5), T0).await.unwrap();
    let first = reserve(&store, &sale.id, "lan", 1, T0).await;
    let confirmed = reserve(&store, &sale.id, "lan", 1, T0 + 1).await;
    let cancelled = reserve(&store, &sale.id, "lan", 1, T0 + 2).await;
    let last = reserve(&store, &sale.id, "lan", 2, T0 + 3).await;
    reserve(&store, &sale.id, "mai", 1, T0).await;
    store
        .confirm(ROOM, &confirmed.hold_id, "lan", &cod(shipping()), T0 + 4)
        .await
        .unwrap();
    store
        .cancel(ROOM, &cancelled.hold_id, "lan", T0 + 5)
        .await
        .unwrap();

    let open = store.open_holds(ROOM, "lan", T0 + 6).await.unwrap();
    assert_eq!(open, vec![first.clone(), last.clone()], "oldest first");
    // The same holds as the buy answered, countdown included.
    assert_eq!(open[1].expires_at, last.expires_at);
    // Nobody else's, and not over another room.
    assert_eq!(
        store.open_holds(ROOM, "mai", T0 + 6).await.unwrap().len(),
        1
    );
    assert!(store
        .open_holds(ROOM, "binh", T0 + 6)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .open_holds(OTHER_ROOM, "lan", T0 + 6)
        .await
        .unwrap()
        .is_empty());
    // Past its deadline a hold is no longer open, swept or not.
    let after = first.expires_at;
    assert_eq!(
        store.open_holds(ROOM, "lan", after).await.unwrap(),
        vec![last.clone()]
    );
    assert!(store
        .open_holds(ROOM, "lan", last.expires_at)
        .await
        .unwrap()
        .is_empty());
}

async fn a_room_without_a_sale_has_no_open_holds<S: SaleStore>(store: S) {
    assert!(store.open_holds(ROOM, "lan", T0).await.unwrap().is_empty());
    assert!(matches!(
        store.open_holds("not a room id!", "lan", T0).await,
        Err(SaleError::InvalidValue(_))
    ));
}

async fn one_phone_cannot_pass_the_per_buyer_limit_from_two_identities<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(20, 2), T0).await.unwrap();
    // One person, two devices (two identities): each may hold the limit...
    let on_phone = reserve(&store, &sale.id, "lan-phone", 2, T0).await;
    let on_laptop = reserve(&store, &sale.id, "lan-laptop", 1, T0).await;
    let elsewhere = reserve(&store, &sale.id, "mai", 2, T0).await;
    let ship_to = |phone: &str| Shipping {
        phone: phone.into(),
        ..shipping()
    };
    store
        .confirm(
            ROOM,
            &on_phone.hold_id,
            "lan-phone",
            &cod(ship_to("0912 345 678")),
            T0 + 1,
        )
        .await
        .unwrap();

    // ...but one phone number orders at most the limit, however it is written.
    assert_eq!(
        store
            .confirm(
                ROOM,
                &on_laptop.hold_id,
                "lan-laptop",
                &cod(ship_to("+84912345678")),
                T0 + 2
            )
            .await,
        Err(SaleError::LimitReached)
    );
    // The refused hold is still hers, and still counts against the stock.
    assert_eq!(
        store.open_holds(ROOM, "lan-laptop", T0 + 3).await.unwrap(),
        vec![on_laptop.clone()]
    );
    assert_eq!(remaining(&store, &sale.id, T0 + 3).await, 15);
    // Another phone is another buyer.
    store
        .confirm(
            ROOM,
            &elsewhere.hold_id,
            "mai",
            &cod(ship_to("0987654321")),
            T0 + 4,
        )
        .await
        .unwrap();
    // Confirming again returns the order, not a refusal.
    let again = store
        .confirm(
            ROOM,
            &on_phone.hold_id,
            "lan-phone",
            &cod(ship_to("0912345678")),
            T0 + 5,
        )
        .await
        .unwrap();
    assert!(!again.created);
}

async fn a_buyers_orders_are_hers_across_the_rooms_sales_oldest_first<S: SaleStore>(store: S) {
    assert!(store.buyer_orders(ROOM, "lan").await.unwrap().is_empty());
    let first_sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let first = reserve(&store, &first_sale.id, "lan", 1, T0).await;
    let mai = reserve(&store, &first_sale.id, "mai", 1, T0).await;
    let first = store
        .confirm(ROOM, &first.hold_id, "lan", &cod(shipping()), T0 + 1)
        .await
        .unwrap()
        .order;
    let to_mai = Shipping {
        phone: "0987654321".into(),
        ..shipping()
    };
    store
        .confirm(ROOM, &mai.hold_id, "mai", &cod(to_mai.clone()), T0 + 2)
        .await
        .unwrap();
    store.end_sale(ROOM, &first_sale.id, T0 + 3).await.unwrap();
    let second_sale = store.create_sale(ROOM, tea(10, 5), T0 + 4).await.unwrap();
    let second = reserve(&store, &second_sale.id, "lan", 2, T0 + 5).await;
    let second = store
        .confirm(ROOM, &second.hold_id, "lan", &cod(shipping()), T0 + 6)
        .await
        .unwrap()
        .order;
    reserve(&store, &second_sale.id, "lan", 1, T0 + 7).await;

    assert_eq!(
        store.buyer_orders(ROOM, "lan").await.unwrap(),
        vec![first, second],
        "her orders only, oldest first; an open hold is no order"
    );
    assert!(store
        .buyer_orders(OTHER_ROOM, "lan")
        .await
        .unwrap()
        .is_empty());
}
