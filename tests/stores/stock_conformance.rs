//! The `SaleStore` contract for a product's one stock, run against both
//! stores like `sale_conformance.rs`: a flash sale carves its units out of
//! its product's stock when it is created, gives back what is left exactly
//! once when it ends (early, or by time at the next sweep), and sends
//! anything that comes back after that (expired holds, cancelled orders) to
//! the product too. Nothing is ever counted twice or lost:
//! `product stock + remaining + held + ordered` stays what the product had.

use crate::support;

use chophien::sale::{NewSale, OrderActor, OrderChange, SaleError, SaleRef, SaleStore};

use support::sale::{cod, request, shipping, tea};

const ROOM: &str = "tra-thai-nguyen";
const OTHER_ROOM: &str = "gom-bat-trang";
const T0: u64 = 1_700_000_000_000;
const SECOND: u64 = 1000;

crate::chophien_sale_suite!(
    a_sale_carves_its_units_out_of_the_products_stock,
    a_sale_larger_than_the_stock_is_refused_and_changes_nothing,
    ending_a_sale_gives_back_what_is_left_once,
    a_sale_that_ends_by_time_gives_back_at_the_next_sweep,
    units_that_come_back_after_the_end_go_to_the_product,
    the_seller_sets_a_products_stock,
    each_room_counts_its_own_products,
);

/// A sale of p1 (`stock` units) when the catalog says p1 has `catalog`.
fn tea_from(stock: u32, catalog: u32) -> NewSale {
    NewSale {
        product_stock: catalog,
        ..tea(stock, 5)
    }
}

async fn stock<S: SaleStore>(store: &S) -> Option<u32> {
    store.product_stock(ROOM, "p1").await.unwrap()
}

async fn a_sale_carves_its_units_out_of_the_products_stock<S: SaleStore>(store: S) {
    assert_eq!(stock(&store).await, None, "unknown until first used");
    let sale = store
        .create_sale(ROOM, tea_from(20, 120), T0)
        .await
        .unwrap();
    assert_eq!(sale.remaining, 20);
    assert_eq!(stock(&store).await, Some(100));
    // The catalog's figure only seeds the count: later sales take from the
    // store's own count, whatever the catalog says.
    store.end_sale(ROOM, &sale.id, T0 + 1).await.unwrap();
    let next = store
        .create_sale(ROOM, tea_from(30, 5), T0 + 2)
        .await
        .unwrap();
    assert_eq!(next.remaining, 30);
    assert_eq!(stock(&store).await, Some(90), "100 + 20 back − 30");
}

async fn a_sale_larger_than_the_stock_is_refused_and_changes_nothing<S: SaleStore>(store: S) {
    assert_eq!(
        store.create_sale(ROOM, tea_from(21, 20), T0).await,
        Err(SaleError::InsufficientStock { available: 20 })
    );
    assert_eq!(stock(&store).await, None, "a refusal writes nothing");
    assert_eq!(store.latest_sale(ROOM, T0).await.unwrap(), None);
    let sale = store.create_sale(ROOM, tea_from(20, 20), T0).await.unwrap();
    assert_eq!(sale.remaining, 20);
    assert_eq!(stock(&store).await, Some(0));
}

async fn ending_a_sale_gives_back_what_is_left_once<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea_from(10, 50), T0).await.unwrap();
    let key = "key-lan-000001";
    let bought = store
        .buy(ROOM, &request(&sale.id, "lan", 3, key), T0)
        .await
        .unwrap();
    let hold = bought.hold.unwrap();
    store
        .confirm(ROOM, &hold.hold_id, "lan", &cod(shipping()), T0)
        .await
        .unwrap();
    let ended = store.end_sale(ROOM, &sale.id, T0 + SECOND).await.unwrap();
    assert_eq!((ended.remaining, ended.returned_to_stock), (0, 7));
    assert_eq!(stock(&store).await, Some(47), "40 + the 7 not sold");
    // Ending again, and sweeping, give nothing more.
    store
        .end_sale(ROOM, &sale.id, T0 + 2 * SECOND)
        .await
        .unwrap();
    let swept = store
        .expire_due(&SaleRef::new(ROOM, &sale.id), T0 + 3 * SECOND)
        .await
        .unwrap();
    assert_eq!(swept.to_product, 0);
    assert_eq!(stock(&store).await, Some(47));
}

async fn a_sale_that_ends_by_time_gives_back_at_the_next_sweep<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea_from(10, 10), T0).await.unwrap();
    assert_eq!(stock(&store).await, Some(0));
    let after_end = sale.ends_at + 1;
    let swept = store
        .expire_due(&SaleRef::new(ROOM, &sale.id), after_end)
        .await
        .unwrap();
    assert_eq!((swept.to_product, swept.product_id.as_str()), (10, "p1"));
    assert!(swept.retired);
    assert_eq!(stock(&store).await, Some(10));
    let read = store.get_sale(ROOM, &sale.id, after_end).await.unwrap();
    assert_eq!((read.remaining, read.returned_to_stock), (0, 10));
}

async fn units_that_come_back_after_the_end_go_to_the_product<S: SaleStore>(store: S) {
    let sale = store.create_sale(ROOM, tea_from(10, 10), T0).await.unwrap();
    let held = store
        .buy(ROOM, &request(&sale.id, "lan", 2, "key-lan-000001"), T0)
        .await
        .unwrap()
        .hold
        .unwrap();
    let ordered = store
        .buy(ROOM, &request(&sale.id, "minh", 3, "key-minh-00001"), T0)
        .await
        .unwrap()
        .hold
        .unwrap();
    let order = store
        .confirm(ROOM, &ordered.hold_id, "minh", &cod(shipping()), T0)
        .await
        .unwrap()
        .order;
    store.end_sale(ROOM, &sale.id, T0 + SECOND).await.unwrap();
    assert_eq!(
        stock(&store).await,
        Some(5),
        "the 5 neither held nor ordered"
    );

    // Lan's hold expires after the end: its 2 units go to the product.
    let swept = store
        .expire_due(&SaleRef::new(ROOM, &sale.id), held.expires_at)
        .await
        .unwrap();
    assert_eq!(swept.to_product, 2);
    assert_eq!(stock(&store).await, Some(7));
    // Minh's order is cancelled: its 3 units too.
    let cancelled = store
        .update_order(
            ROOM,
            &order.order_id,
            &OrderChange::Cancelled,
            &OrderActor::Seller,
            held.expires_at + 1,
        )
        .await
        .unwrap();
    assert_eq!(cancelled.returned_units, 3);
    assert_eq!(
        stock(&store).await,
        Some(10),
        "every unit is back, none twice"
    );
    let read = store
        .get_sale(ROOM, &sale.id, held.expires_at + 2)
        .await
        .unwrap();
    assert_eq!((read.remaining, read.returned_to_stock), (0, 10));
}

async fn the_seller_sets_a_products_stock<S: SaleStore>(store: S) {
    store.set_product_stock(ROOM, "p1", 40).await.unwrap();
    assert_eq!(stock(&store).await, Some(40));
    let sale = store
        .create_sale(ROOM, tea_from(15, 999), T0)
        .await
        .unwrap();
    assert_eq!(sale.remaining, 15);
    assert_eq!(
        stock(&store).await,
        Some(25),
        "the store's count, not the catalog's seed"
    );
    // While the sale runs, the seller restocks what is outside it.
    store.set_product_stock(ROOM, "p1", 60).await.unwrap();
    store.end_sale(ROOM, &sale.id, T0 + 1).await.unwrap();
    assert_eq!(stock(&store).await, Some(75));
    assert!(matches!(
        store.set_product_stock(ROOM, "p1", 1_000_001).await,
        Err(SaleError::InvalidValue(_))
    ));
    assert!(matches!(
        store.set_product_stock(ROOM, "", 1).await,
        Err(SaleError::InvalidValue(_))
    ));
}

async fn each_room_counts_its_own_products<S: SaleStore>(store: S) {
    store.create_sale(ROOM, tea_from(5, 10), T0).await.unwrap();
    store
        .create_sale(OTHER_ROOM, tea_from(1, 30), T0)
        .await
        .unwrap();
    assert_eq!(stock(&store).await, Some(5));
    assert_eq!(
        store.product_stock(OTHER_ROOM, "p1").await.unwrap(),
        Some(29)
    );
}
