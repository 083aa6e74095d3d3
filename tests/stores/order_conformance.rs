//! The `SaleStore` contract for orders after confirmation — statuses,
//! cancellations that give units back, lookups by id — run against both
//! stores like `sale_conformance.rs` (memory, Redis with and without group
//! commit, Redis Cluster). The transition rule itself is unit-tested in
//! `src/sale/fulfilment.rs`; these check that each store applies it inside
//! one atomic step.

use crate::support;

use chophien::sale::{
    Carrier, Checkout, Order, OrderActor, OrderChange, OrderStatus, PaymentMethod, SaleError,
    SaleStore, Shipment,
};

use support::sale::{request, shipping, tea};

const ROOM: &str = "tra-thai-nguyen";
const OTHER_ROOM: &str = "gom-bat-trang";
const T0: u64 = 1_700_000_000_000;
const MINUTE: u64 = 60_000;

crate::chophien_sale_suite!(
    an_order_moves_from_confirmed_to_delivered_and_keeps_its_history,
    a_transfer_must_be_paid_before_it_is_packed,
    cancelling_an_order_returns_its_units_once_and_frees_the_limits,
    racing_cancellations_return_the_units_exactly_once,
    the_buyer_cancels_only_her_own_confirmed_order_within_the_window,
    an_order_is_found_by_id_only_in_its_room,
    a_shipped_order_can_no_longer_be_cancelled,
    stock_stays_whole_while_orders_are_placed_and_cancelled,
);

const WINDOW: u64 = 30 * MINUTE;

fn buyer(id: &str) -> OrderActor {
    OrderActor::Buyer {
        buyer_id: id.into(),
        cancel_window_ms: WINDOW,
    }
}

fn ghn(code: &str) -> OrderChange {
    OrderChange::Shipped(Shipment {
        carrier: Carrier::Ghn,
        tracking_code: code.into(),
    })
}

/// `buyer` reserves `quantity` of the sale and confirms it at `now` (every
/// buyer ships to the same phone, [`shipping`]).
async fn order<S: SaleStore>(
    store: &S,
    sale_id: &str,
    buyer: &str,
    quantity: u32,
    payment: PaymentMethod,
    now: u64,
) -> Order {
    let key = uuid::Uuid::new_v4().simple().to_string();
    let bought = store
        .buy(ROOM, &request(sale_id, buyer, quantity, &key), now)
        .await
        .unwrap();
    let hold = bought
        .hold
        .unwrap_or_else(|| panic!("{:?}", bought.outcome));
    store
        .confirm(
            ROOM,
            &hold.hold_id,
            buyer,
            &Checkout {
                shipping: shipping(),
                payment,
                voucher_code: None,
            },
            now,
        )
        .await
        .unwrap()
        .order
}

async fn remaining<S: SaleStore>(store: &S, sale_id: &str, now: u64) -> u32 {
    store.get_sale(ROOM, sale_id, now).await.unwrap().remaining
}

async fn an_order_moves_from_confirmed_to_delivered_and_keeps_its_history<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let placed = order(&store, &sale.id, "lan", 2, PaymentMethod::Cod, T0).await;
    assert_eq!(placed.status, OrderStatus::Confirmed);
    assert_eq!(placed.payment, PaymentMethod::Cod);
    assert!(!placed.status_tag.is_empty());

    let steps = [OrderChange::Packed, ghn("GHN123"), OrderChange::Delivered];
    for (i, step) in steps.iter().enumerate() {
        let at = T0 + (i as u64 + 1) * MINUTE;
        let update = store
            .update_order(ROOM, &placed.order_id, step, &OrderActor::Seller, at)
            .await
            .unwrap();
        assert!(update.changed);
        assert_eq!(update.order.status, step.status());
        assert_eq!(update.returned_units, 0);
    }
    let stored = store.order(ROOM, &placed.order_id).await.unwrap();
    assert_eq!(stored.status, OrderStatus::Delivered);
    assert_eq!(stored.shipment.as_ref().unwrap().tracking_code, "GHN123");
    let history: Vec<(OrderStatus, u64)> =
        stored.history.iter().map(|c| (c.status, c.at)).collect();
    assert_eq!(
        history,
        [
            (OrderStatus::Packed, T0 + MINUTE),
            (OrderStatus::Shipped, T0 + 2 * MINUTE),
            (OrderStatus::Delivered, T0 + 3 * MINUTE),
        ]
    );
    // The seller's list and the buyer's list show the same order.
    assert_eq!(
        store.orders_for_room(ROOM).await.unwrap(),
        std::slice::from_ref(&stored)
    );
    assert_eq!(store.buyer_orders(ROOM, "lan").await.unwrap(), [stored]);

    // Repeating a step is harmless and changes nothing.
    let again = store
        .update_order(
            ROOM,
            &placed.order_id,
            &OrderChange::Delivered,
            &OrderActor::Seller,
            T0 + 4 * MINUTE,
        )
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.order.history.len(), 3);
}

async fn a_transfer_must_be_paid_before_it_is_packed<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let placed = order(&store, &sale.id, "lan", 1, PaymentMethod::BankTransfer, T0).await;
    assert_eq!(placed.payment, PaymentMethod::BankTransfer);
    assert_eq!(
        store
            .update_order(
                ROOM,
                &placed.order_id,
                &OrderChange::Packed,
                &OrderActor::Seller,
                T0 + 1
            )
            .await,
        Err(SaleError::InvalidTransition {
            from: OrderStatus::Confirmed,
            to: OrderStatus::Packed,
        })
    );
    assert_eq!(
        store.order(ROOM, &placed.order_id).await.unwrap(),
        placed,
        "a refused change writes nothing"
    );
    for step in [OrderChange::Paid, OrderChange::Packed] {
        store
            .update_order(ROOM, &placed.order_id, &step, &OrderActor::Seller, T0 + 2)
            .await
            .unwrap();
    }
    let cash = order(&store, &sale.id, "minh", 1, PaymentMethod::Cod, T0).await;
    assert!(matches!(
        store
            .update_order(
                ROOM,
                &cash.order_id,
                &OrderChange::Paid,
                &OrderActor::Seller,
                T0 + 3
            )
            .await,
        Err(SaleError::InvalidTransition { .. })
    ));
}

async fn cancelling_an_order_returns_its_units_once_and_frees_the_limits<S: SaleStore>(store: S) {
    // Limit 2 per buyer (and per phone): Lan orders both.
    let sale = store.create_sale(ROOM, tea(10, 2), T0).await.unwrap();
    let placed = order(&store, &sale.id, "lan", 2, PaymentMethod::Cod, T0).await;
    assert_eq!(remaining(&store, &sale.id, T0).await, 8);

    let cancelled = store
        .update_order(
            ROOM,
            &placed.order_id,
            &OrderChange::Cancelled,
            &OrderActor::Seller,
            T0 + 1,
        )
        .await
        .unwrap();
    assert!(cancelled.changed);
    assert_eq!(cancelled.returned_units, 2);
    assert_eq!(cancelled.order.status, OrderStatus::Cancelled);
    assert_eq!(remaining(&store, &sale.id, T0 + 1).await, 10);

    let again = store
        .update_order(
            ROOM,
            &placed.order_id,
            &OrderChange::Cancelled,
            &OrderActor::Seller,
            T0 + 2,
        )
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.returned_units, 0);
    assert_eq!(
        remaining(&store, &sale.id, T0 + 2).await,
        10,
        "returned once"
    );

    // Her identity and her phone may order the limit again.
    let second = order(&store, &sale.id, "lan", 2, PaymentMethod::Cod, T0 + 3).await;
    assert_eq!(second.quantity, 2);
    assert_eq!(remaining(&store, &sale.id, T0 + 3).await, 8);
}

async fn racing_cancellations_return_the_units_exactly_once<S: SaleStore + Clone>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let placed = order(&store, &sale.id, "lan", 3, PaymentMethod::Cod, T0).await;
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..10u64 {
        let store = store.clone();
        let order_id = placed.order_id.clone();
        let actor = if i % 2 == 0 {
            OrderActor::Seller
        } else {
            buyer("lan")
        };
        racers.spawn(async move {
            store
                .update_order(ROOM, &order_id, &OrderChange::Cancelled, &actor, T0 + 1 + i)
                .await
        });
    }
    let mut returned = 0;
    let mut changed = 0;
    while let Some(result) = racers.join_next().await {
        let update = result.unwrap().unwrap();
        returned += update.returned_units;
        changed += u32::from(update.changed);
    }
    assert_eq!((changed, returned), (1, 3));
    assert_eq!(remaining(&store, &sale.id, T0 + 20).await, 10);
}

async fn the_buyer_cancels_only_her_own_confirmed_order_within_the_window<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let placed = order(&store, &sale.id, "lan", 1, PaymentMethod::Cod, T0).await;
    assert_eq!(
        store
            .update_order(
                ROOM,
                &placed.order_id,
                &OrderChange::Cancelled,
                &buyer("minh"),
                T0 + 1
            )
            .await,
        Err(SaleError::Forbidden)
    );
    assert_eq!(
        store
            .update_order(
                ROOM,
                &placed.order_id,
                &OrderChange::Packed,
                &buyer("lan"),
                T0 + 1
            )
            .await,
        Err(SaleError::Forbidden),
        "a buyer only cancels"
    );
    assert_eq!(
        store
            .update_order(
                ROOM,
                &placed.order_id,
                &OrderChange::Cancelled,
                &buyer("lan"),
                T0 + WINDOW
            )
            .await,
        Err(SaleError::CancelWindowClosed)
    );
    let mine = store
        .update_order(
            ROOM,
            &placed.order_id,
            &OrderChange::Cancelled,
            &buyer("lan"),
            T0 + WINDOW - 1,
        )
        .await
        .unwrap();
    assert_eq!(mine.order.status, OrderStatus::Cancelled);
    assert_eq!(mine.returned_units, 1);

    let packed = order(&store, &sale.id, "lan", 1, PaymentMethod::Cod, T0).await;
    store
        .update_order(
            ROOM,
            &packed.order_id,
            &OrderChange::Packed,
            &OrderActor::Seller,
            T0 + 1,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .update_order(
                ROOM,
                &packed.order_id,
                &OrderChange::Cancelled,
                &buyer("lan"),
                T0 + 2
            )
            .await,
        Err(SaleError::CancelWindowClosed),
        "once packed, only the seller cancels"
    );
}

async fn an_order_is_found_by_id_only_in_its_room<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let placed = order(&store, &sale.id, "lan", 1, PaymentMethod::Cod, T0).await;
    assert_eq!(store.order(ROOM, &placed.order_id).await.unwrap(), placed);
    assert_eq!(
        store.order_room(&placed.order_id).await.unwrap().as_deref(),
        Some(ROOM)
    );
    assert_eq!(
        store.order(OTHER_ROOM, &placed.order_id).await,
        Err(SaleError::OrderNotFound)
    );
    assert_eq!(
        store
            .update_order(
                OTHER_ROOM,
                &placed.order_id,
                &OrderChange::Cancelled,
                &OrderActor::Seller,
                T0 + 1
            )
            .await,
        Err(SaleError::OrderNotFound)
    );
    for forged in [
        "",
        "0123456789abcdef",
        "{room:x}",
        "../../etc",
        &"f".repeat(400),
    ] {
        assert_eq!(
            store.order(ROOM, forged).await,
            Err(SaleError::OrderNotFound),
            "{forged}"
        );
        assert_eq!(store.order_room(forged).await, Ok(None), "{forged}");
    }
    assert_eq!(
        remaining(&store, &sale.id, T0 + 1).await,
        9,
        "nothing returned"
    );
}

async fn a_shipped_order_can_no_longer_be_cancelled<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let placed = order(&store, &sale.id, "lan", 2, PaymentMethod::Cod, T0).await;
    for step in [OrderChange::Packed, ghn("X1")] {
        store
            .update_order(ROOM, &placed.order_id, &step, &OrderActor::Seller, T0 + 1)
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .update_order(
                ROOM,
                &placed.order_id,
                &OrderChange::Cancelled,
                &OrderActor::Seller,
                T0 + 2
            )
            .await,
        Err(SaleError::InvalidTransition {
            from: OrderStatus::Shipped,
            to: OrderStatus::Cancelled,
        })
    );
    assert_eq!(remaining(&store, &sale.id, T0 + 2).await, 8);
    // A wrong tracking code can be corrected while shipped.
    let fixed = store
        .update_order(
            ROOM,
            &placed.order_id,
            &ghn("X2"),
            &OrderActor::Seller,
            T0 + 3,
        )
        .await
        .unwrap();
    assert!(fixed.changed);
    assert_eq!(fixed.order.shipment.unwrap().tracking_code, "X2");
}

async fn stock_stays_whole_while_orders_are_placed_and_cancelled<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea(6, 6), T0).await.unwrap();
    let mut orders = Vec::new();
    for (i, buyer) in ["an", "binh", "chi"].iter().enumerate() {
        orders.push(
            order(
                &store,
                &sale.id,
                buyer,
                2,
                PaymentMethod::Cod,
                T0 + i as u64,
            )
            .await,
        );
    }
    assert_eq!(remaining(&store, &sale.id, T0 + 5).await, 0);
    store
        .update_order(
            ROOM,
            &orders[1].order_id,
            &OrderChange::Cancelled,
            &OrderActor::Seller,
            T0 + 6,
        )
        .await
        .unwrap();
    let listed = store.orders_for_room(ROOM).await.unwrap();
    let ordered: u32 = listed
        .iter()
        .filter(|o| o.status != OrderStatus::Cancelled)
        .map(|o| o.quantity)
        .sum();
    let info = store.get_sale(ROOM, &sale.id, T0 + 6).await.unwrap();
    assert_eq!(info.remaining + ordered, info.stock_total);
    assert_eq!(info.remaining, 2);
    // What came back sells again, to someone else.
    let late = order(&store, &sale.id, "dung", 2, PaymentMethod::Cod, T0 + 7).await;
    assert_eq!(late.quantity, 2);
}
