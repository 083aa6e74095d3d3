//! The mixed scenario's audit: what the shoppers were told, and what the
//! store holds once every hold is settled, checked against each other and
//! against the stock every product started with.
//!
//! Pure logic over plain data, unit-tested on its own. The rules:
//! - **one stock per product**: for every product, units on hand + units in
//!   orders that stand (not cancelled) == the stock it started with, once
//!   the flash sale has ended (its leftover gone back) and every bag and
//!   sale hold has been checked out or taken out. Fewer is stock lost
//!   (`unreturned_units`), more is stock made up (`oversold`);
//! - **every screen the same**: a late joiner's catalog shows the store's
//!   count for every product;
//! - **orders**: every standing order in the store was told to its buyer
//!   and every order a buyer was told of stands (or was cancelled by her);
//!   one idempotency key never answered two different holds
//!   (`duplicate_charges`);
//! - **limits**: no buyer's standing orders pass a product's bag limit or
//!   the sale's per-buyer limit (`limit_violations`);
//! - **vouchers**: standing orders with the voucher never outnumber its
//!   uses, and the store's count of uses is exactly theirs.

use std::collections::{BTreeMap, BTreeSet};

use crate::report::Invariants;

/// What one shopper was told.
#[derive(Debug, Clone, Default)]
pub struct Told {
    pub buyer_id: String,
    /// Orders she was told were placed: order id → what it holds.
    pub orders: BTreeMap<String, ToldOrder>,
    /// Idempotency keys whose answers named two different holds.
    pub keys_with_two_holds: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToldOrder {
    /// Units per product.
    pub units: BTreeMap<String, u64>,
    /// She cancelled it (and was told so).
    pub cancelled: bool,
}

/// One order as the store lists it (`GET /api/rooms/{id}/orders`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredOrder {
    pub order_id: String,
    pub buyer_id: String,
    /// `bag`, or the flash sale's id.
    pub sale_id: String,
    pub cancelled: bool,
    pub units: BTreeMap<String, u64>,
    pub voucher_code: Option<String>,
}

/// What the store says after the run, and what the run started from.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// Each product's stock at the start (before the sale carved from it).
    pub initial: BTreeMap<String, u64>,
    /// Each product's units on hand now, as the store counts them.
    pub stock: BTreeMap<String, u64>,
    /// Each product's stock in a late joiner's catalog (`None`: not read).
    pub catalog: Option<BTreeMap<String, u64>>,
    /// The flash sale's units still in it (0 once it ended and closed).
    pub sale_remaining: u64,
    pub sale_product: String,
    pub sale_limit: u64,
    pub orders: Vec<StoredOrder>,
    /// Per-buyer bag limits by product.
    pub bag_limits: BTreeMap<String, u64>,
    pub voucher_code: String,
    pub voucher_total_uses: u64,
    /// The store's count of the voucher's uses.
    pub voucher_used: u64,
}

/// Units per product of an order as the server gives it (`order_confirmed`,
/// the orders API): a bag order's lines, else its quantity of the flash
/// sale's product.
pub fn order_units(order: &serde_json::Value, sale_product: &str) -> BTreeMap<String, u64> {
    let mut units = BTreeMap::new();
    match order["lines"].as_array() {
        Some(lines) => {
            for line in lines {
                let product = line["product_id"].as_str().unwrap_or("?").to_owned();
                *units.entry(product).or_default() += line["quantity"].as_u64().unwrap_or(0);
            }
        }
        None => {
            let quantity = order["quantity"].as_u64().unwrap_or(0);
            units.insert(sale_product.to_owned(), quantity);
        }
    }
    units
}

/// Audit the run.
pub fn audit(told: &[Told], store: &Store) -> Invariants {
    let mut inv = Invariants::default();
    let standing: Vec<&StoredOrder> = store.orders.iter().filter(|o| !o.cancelled).collect();

    // One stock per product.
    for (product, &initial) in &store.initial {
        let on_hand = store.stock.get(product).copied().unwrap_or(0);
        let ordered: u64 = standing.iter().filter_map(|o| o.units.get(product)).sum();
        let in_sale = if *product == store.sale_product {
            store.sale_remaining
        } else {
            0
        };
        let accounted = on_hand + ordered + in_sale;
        if accounted < initial {
            inv.unreturned_units += initial - accounted;
            inv.violations.push(format!(
                "{product}: {initial} units at the start, but {on_hand} on hand + {ordered} ordered + {in_sale} in the sale: {} lost",
                initial - accounted
            ));
        } else if accounted > initial {
            inv.oversold += accounted - initial;
            inv.violations.push(format!(
                "{product}: {initial} units at the start, but {on_hand} on hand + {ordered} ordered + {in_sale} in the sale: {} made up",
                accounted - initial
            ));
        }
        if let Some(shown) = store.catalog.as_ref().map(|c| c.get(product).copied()) {
            if shown != Some(on_hand) {
                inv.violations.push(format!(
                    "{product}: the store has {on_hand} on hand, a late joiner's catalog shows {shown:?}"
                ));
            }
        }
    }

    // Orders told and stored agree.
    let told_standing: BTreeSet<&str> = told
        .iter()
        .flat_map(|t| t.orders.iter())
        .filter(|(_, o)| !o.cancelled)
        .map(|(id, _)| id.as_str())
        .collect();
    let stored_standing: BTreeSet<&str> = standing.iter().map(|o| o.order_id.as_str()).collect();
    for phantom in stored_standing.difference(&told_standing) {
        inv.duplicate_charges += 1;
        inv.violations.push(format!(
            "order {phantom} stands in the store but no buyer was told of it"
        ));
    }
    for lost in told_standing.difference(&stored_standing) {
        inv.violations.push(format!(
            "a buyer was told of order {lost}, which the store does not have standing"
        ));
    }
    for shopper in told.iter().filter(|t| t.keys_with_two_holds > 0) {
        inv.duplicate_charges += shopper.keys_with_two_holds;
        inv.violations.push(format!(
            "{}: {} idempotency keys answered two different holds",
            shopper.buyer_id, shopper.keys_with_two_holds
        ));
    }

    // Limits, per buyer over her standing orders.
    let mut bag_units: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut sale_units: BTreeMap<&str, u64> = BTreeMap::new();
    for order in &standing {
        for (product, units) in &order.units {
            if order.sale_id == "bag" {
                *bag_units.entry((&order.buyer_id, product)).or_default() += units;
            } else {
                *sale_units.entry(&order.buyer_id).or_default() += units;
            }
        }
    }
    for ((buyer, product), units) in bag_units {
        if let Some(&limit) = store.bag_limits.get(product) {
            if units > limit {
                inv.limit_violations += 1;
                inv.violations.push(format!(
                    "{buyer} ordered {units} of {product} from the bag, limit {limit}"
                ));
            }
        }
    }
    for (buyer, units) in sale_units {
        if units > store.sale_limit {
            inv.limit_violations += 1;
            inv.violations.push(format!(
                "{buyer} ordered {units} in the flash sale, limit {}",
                store.sale_limit
            ));
        }
    }

    // The voucher.
    let with_voucher = standing
        .iter()
        .filter(|o| o.voucher_code.as_deref() == Some(store.voucher_code.as_str()))
        .count() as u64;
    if with_voucher > store.voucher_total_uses {
        inv.duplicate_charges += with_voucher - store.voucher_total_uses;
        inv.violations.push(format!(
            "{with_voucher} standing orders used voucher {}, which allows {}",
            store.voucher_code, store.voucher_total_uses
        ));
    }
    if with_voucher != store.voucher_used {
        inv.violations.push(format!(
            "{with_voucher} standing orders used voucher {}, the store counts {} uses",
            store.voucher_code, store.voucher_used
        ));
    }

    inv.ok = inv.violations.is_empty();
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(p, n)| (p.to_string(), *n)).collect()
    }

    fn order(id: &str, buyer: &str, sale: &str, pairs: &[(&str, u64)]) -> StoredOrder {
        StoredOrder {
            order_id: id.into(),
            buyer_id: buyer.into(),
            sale_id: sale.into(),
            cancelled: false,
            units: units(pairs),
            voucher_code: None,
        }
    }

    fn told(buyer: &str, orders: &[(&str, &[(&str, u64)])]) -> Told {
        Told {
            buyer_id: buyer.into(),
            orders: orders
                .iter()
                .map(|(id, pairs)| {
                    let order = ToldOrder {
                        units: units(pairs),
                        cancelled: false,
                    };
                    (id.to_string(), order)
                })
                .collect(),
            keys_with_two_holds: 0,
        }
    }

    /// p1: 100 at the start, 10 carved into the sale; a bag order of 3 p1
    /// and 2 p2, a sale order of 1; everything else back on hand.
    fn clean() -> (Vec<Told>, Store) {
        let store = Store {
            initial: units(&[("p1", 100), ("p2", 50)]),
            stock: units(&[("p1", 96), ("p2", 48)]),
            catalog: Some(units(&[("p1", 96), ("p2", 48)])),
            sale_remaining: 0,
            sale_product: "p1".into(),
            sale_limit: 1,
            orders: vec![
                order("o1", "b1", "bag", &[("p1", 3), ("p2", 2)]),
                order("o2", "b2", "s1", &[("p1", 1)]),
            ],
            bag_limits: units(&[("p2", 2)]),
            voucher_code: "MIXED10".into(),
            voucher_total_uses: 5,
            voucher_used: 0,
        };
        let told = vec![
            told("b1", &[("o1", &[("p1", 3), ("p2", 2)])]),
            told("b2", &[("o2", &[("p1", 1)])]),
        ];
        (told, store)
    }

    #[test]
    fn a_run_where_every_unit_is_accounted_for_passes() {
        let (told, store) = clean();
        let inv = audit(&told, &store);
        assert!(inv.ok, "{:?}", inv.violations);
    }

    #[test]
    fn a_unit_that_never_came_back_is_lost_stock() {
        let (told, mut store) = clean();
        store.stock.insert("p2".into(), 47);
        store.catalog = None;
        let inv = audit(&told, &store);
        assert_eq!(inv.unreturned_units, 1);
        assert!(!inv.ok);
    }

    #[test]
    fn a_unit_counted_twice_is_overselling() {
        let (told, mut store) = clean();
        store.stock.insert("p1".into(), 97);
        store.catalog = None;
        assert_eq!(audit(&told, &store).oversold, 1);
    }

    #[test]
    fn a_catalog_that_disagrees_with_the_store_is_a_violation() {
        let (told, mut store) = clean();
        store.catalog = Some(units(&[("p1", 95), ("p2", 48)]));
        assert!(!audit(&told, &store).ok);
    }

    #[test]
    fn an_order_nobody_was_told_of_is_a_phantom() {
        let (told, mut store) = clean();
        store.orders.push(order("o9", "b3", "bag", &[]));
        assert_eq!(audit(&told, &store).duplicate_charges, 1);
    }

    #[test]
    fn a_cancelled_order_neither_stands_nor_counts() {
        let (mut told, mut store) = clean();
        store.orders[1].cancelled = true;
        store.stock.insert("p1".into(), 97);
        store.catalog = None;
        told[1].orders.get_mut("o2").unwrap().cancelled = true;
        assert!(audit(&told, &store).ok);
    }

    #[test]
    fn passing_a_bag_limit_or_the_sales_limit_is_a_violation() {
        let (mut told, mut store) = clean();
        store.orders.push(order("o3", "b1", "bag", &[("p2", 1)]));
        store.orders.push(order("o4", "b2", "s1", &[("p1", 1)]));
        store.stock = units(&[("p1", 95), ("p2", 47)]);
        store.catalog = None;
        told[0].orders.insert("o3".into(), ToldOrder::default());
        told[1].orders.insert("o4".into(), ToldOrder::default());
        assert_eq!(audit(&told, &store).limit_violations, 2);
    }

    #[test]
    fn more_voucher_orders_than_uses_or_than_the_store_counts_fail() {
        let (told, mut store) = clean();
        store.orders[0].voucher_code = Some("MIXED10".into());
        store.voucher_used = 1;
        assert!(audit(&told, &store).ok);
        store.voucher_total_uses = 0;
        assert!(!audit(&told, &store).ok);
        store.voucher_total_uses = 5;
        store.voucher_used = 2;
        assert!(!audit(&told, &store).ok);
    }
}
