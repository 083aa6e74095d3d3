//! The flash-sale invariant audit: what the buyers were told, checked
//! against what the store says after the run.
//!
//! Pure logic over plain data, so it is unit-tested on its own. The rules:
//! - reserved units ≤ stock (plus units of holds that expired during the
//!   buy phase and could be sold again), and reserved == min(stock, demand)
//!   when the buy phase ends: no overselling, and no "sold out" while
//!   stock was left;
//! - no buyer holds or owns more than the per-buyer limit;
//! - one idempotency key never produces two holds, one hold never two orders,
//!   and the store has no order no buyer was told about;
//! - units sold ≤ stock, and once every unconfirmed hold has expired or been
//!   cancelled, remaining == stock − units sold (expired stock came back).
//!
//! A `busy` answer carries no hold and reserved nothing: a key answered
//! only `busy` is neither demand nor an unknown outcome.
//!
//! With several nodes the buyers are spread over them, and the audit takes
//! all of them together: what every node's buyers were told is summed
//! against one store. [`cross_check`] then asks every other node for the
//! orders and the sale's `remaining`: each must agree with node 0.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::client::Order;
use crate::report::Invariants;

/// A hold as a buyer saw it in a `buy_result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldSeen {
    pub hold_id: String,
    pub quantity: u32,
    pub expires_at: u64,
}

/// One answered (or failed) buy request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuyAnswer {
    pub idempotency_key: String,
    pub quantity: u32,
    /// `reserved`, `sold_out`, `busy`, …, or `error` / `timeout`.
    pub outcome: String,
    pub hold: Option<HoldSeen>,
}

impl BuyAnswer {
    /// Did the store give a real answer (not an error or a time-out)?
    fn answered(&self) -> bool {
        matches!(
            self.outcome.as_str(),
            "reserved" | "duplicate" | "sold_out" | "limit_reached"
        )
    }

    /// Does the answer say for certain that nothing was done? `busy`: the
    /// node's queue was full, the buy never reached the store.
    fn reserved_nothing(&self) -> bool {
        self.outcome == "busy"
    }
}

/// Everything one buyer saw (sent between harness processes as JSON when
/// the buyers are spread over several).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BuyerSeen {
    pub buyer_id: String,
    /// The node this buyer was connected to.
    pub node: usize,
    pub answers: Vec<BuyAnswer>,
    /// Holds this buyer confirmed into an order (hold id → order id).
    pub confirmed: BTreeMap<String, String>,
    /// Holds this buyer cancelled.
    pub cancelled: BTreeSet<String>,
    /// Holds whose confirmation was answered `unavailable` (or not at all)
    /// every time: the store may have made the order after all.
    pub unknown_confirms: BTreeSet<String>,
}

/// The audit's inputs.
pub struct AuditInput<'a> {
    pub sale_id: &'a str,
    pub stock: u64,
    pub per_buyer_limit: u64,
    pub buyers: &'a [BuyerSeen],
    /// When the last buy answer arrived, Unix ms.
    pub buy_phase_end_ms: u64,
    /// The room's orders from `GET /api/rooms/{id}/orders`.
    pub orders: &'a [Order],
    /// The sale's `remaining` once every pending hold has expired.
    pub final_remaining: Option<u64>,
}

/// Units the buyers were granted: distinct holds, counted once each.
pub fn reserved_units(buyers: &[BuyerSeen]) -> u64 {
    distinct_holds(buyers)
        .values()
        .map(|h| u64::from(h.quantity))
        .sum()
}

fn distinct_holds(buyers: &[BuyerSeen]) -> BTreeMap<String, HoldSeen> {
    buyers
        .iter()
        .flat_map(|b| &b.answers)
        .filter(|a| a.outcome == "reserved" || a.outcome == "duplicate")
        .filter_map(|a| a.hold.clone())
        .map(|h| (h.hold_id.clone(), h))
        .collect()
}

pub fn audit(input: &AuditInput<'_>) -> Invariants {
    let mut inv = Invariants::default();
    let holds = distinct_holds(input.buyers);
    let reserved: u64 = holds.values().map(|h| u64::from(h.quantity)).sum();

    // Oversold / undersold at the end of the buy phase.
    let returned_early: u64 = holds
        .values()
        .filter(|h| h.expires_at <= input.buy_phase_end_ms)
        .map(|h| u64::from(h.quantity))
        .sum();
    if reserved > input.stock + returned_early {
        inv.oversold += reserved - input.stock - returned_early;
        inv.violations.push(format!(
            "OVERSOLD: {reserved} units reserved from a stock of {} (+{returned_early} returned by early expiry)",
            input.stock
        ));
    }
    let demand: u64 = input
        .buyers
        .iter()
        .map(|b| demand_of(b, input.per_buyer_limit))
        .sum();
    // A buy never decided (`unavailable` or no answer, every retry) may
    // hold units nobody was told about until its hold expires.
    let undecided: u64 = input.buyers.iter().map(undecided_units).sum();
    let expected = input.stock.min(demand).saturating_sub(undecided);
    if reserved < expected {
        inv.undersold = expected - reserved;
        let unknown = if undecided > 0 {
            format!(" − {undecided} units of undecided buys")
        } else {
            String::new()
        };
        inv.violations.push(format!(
            "UNDERSOLD: {reserved} units reserved but min(stock {}, demand {demand}){unknown} = {expected}",
            input.stock
        ));
    }

    // Per-buyer limit, as told to the buyers and as ordered in the store.
    let mut over_limit = BTreeSet::new();
    for buyer in input.buyers {
        let mut mine = BTreeMap::new();
        for a in buyer
            .answers
            .iter()
            .filter(|a| a.outcome == "reserved" || a.outcome == "duplicate")
        {
            if let Some(h) = &a.hold {
                mine.insert(h.hold_id.clone(), u64::from(h.quantity));
            }
        }
        let units: u64 = mine.values().sum();
        if units > input.per_buyer_limit {
            over_limit.insert(buyer.buyer_id.clone());
            inv.violations.push(format!(
                "LIMIT: buyer {} (node {}) was granted {units} units (limit {})",
                buyer.buyer_id, buyer.node, input.per_buyer_limit
            ));
        }
    }
    let orders: Vec<&Order> = input
        .orders
        .iter()
        .filter(|o| o.sale_id == input.sale_id)
        .collect();
    let mut ordered_by_buyer: BTreeMap<&str, u64> = BTreeMap::new();
    for order in &orders {
        *ordered_by_buyer.entry(order.buyer_id.as_str()).or_default() += u64::from(order.quantity);
    }
    for (buyer, units) in ordered_by_buyer {
        if units > input.per_buyer_limit && over_limit.insert(buyer.to_owned()) {
            inv.violations.push(format!(
                "LIMIT: buyer {buyer} ordered {units} units (limit {})",
                input.per_buyer_limit
            ));
        }
    }
    inv.limit_violations = over_limit.len() as u64;

    // Idempotency: one key, one hold; one hold, one order; no phantom orders.
    for buyer in input.buyers {
        let mut by_key: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for a in &buyer.answers {
            if let Some(h) = &a.hold {
                by_key
                    .entry(a.idempotency_key.as_str())
                    .or_default()
                    .insert(h.hold_id.as_str());
            }
        }
        for (key, ids) in by_key.into_iter().filter(|(_, ids)| ids.len() > 1) {
            inv.duplicate_charges += ids.len() as u64 - 1;
            inv.violations.push(format!(
                "DUPLICATE: key {key} of buyer {} (node {}) produced holds {ids:?}",
                buyer.buyer_id, buyer.node
            ));
        }
    }
    let mut orders_per_hold: BTreeMap<&str, u64> = BTreeMap::new();
    for order in &orders {
        *orders_per_hold.entry(order.hold_id.as_str()).or_default() += 1;
    }
    for (hold, n) in orders_per_hold.iter().filter(|(_, n)| **n > 1) {
        inv.duplicate_charges += n - 1;
        inv.violations.push(format!(
            "DUPLICATE: hold {hold} was confirmed into {n} orders"
        ));
    }
    let told: BTreeSet<&str> = input
        .buyers
        .iter()
        .flat_map(|b| b.confirmed.values())
        .map(String::as_str)
        .collect();
    // A confirmation whose outcome stayed unknown may have made its order.
    let unknown: BTreeSet<&str> = input
        .buyers
        .iter()
        .flat_map(|b| &b.unknown_confirms)
        .map(String::as_str)
        .collect();
    for order in orders
        .iter()
        .filter(|o| !told.contains(o.order_id.as_str()) && !unknown.contains(o.hold_id.as_str()))
    {
        inv.violations.push(format!(
            "PHANTOM: order {} (hold {}) was never confirmed to its buyer",
            order.order_id, order.hold_id
        ));
    }
    for order_id in told
        .iter()
        .filter(|id| !orders.iter().any(|o| o.order_id == **id))
    {
        inv.violations.push(format!(
            "LOST: order {order_id} was confirmed to its buyer but is not in the store"
        ));
    }

    // Units sold, and stock returned by expired and cancelled holds.
    let sold: u64 = orders.iter().map(|o| u64::from(o.quantity)).sum();
    if sold > input.stock {
        inv.oversold += sold - input.stock;
        inv.violations.push(format!(
            "OVERSOLD: {sold} units ordered from a stock of {}",
            input.stock
        ));
    }
    let expected_remaining = input.stock.saturating_sub(sold);
    match input.final_remaining {
        None => inv
            .violations
            .push("UNVERIFIED: could not read the sale's remaining stock after expiry".into()),
        Some(remaining) if remaining < expected_remaining => {
            inv.unreturned_units = expected_remaining - remaining;
            inv.violations.push(format!(
                "UNRETURNED: remaining {remaining} after every hold ended, expected stock − sold = {expected_remaining}"
            ));
        }
        Some(remaining) if remaining > expected_remaining => {
            inv.oversold += remaining - expected_remaining;
            inv.violations.push(format!(
                "OVERSOLD: remaining {remaining} exceeds stock − sold = {expected_remaining} (stock returned twice)"
            ));
        }
        Some(_) => {}
    }
    inv.ok = inv.violations.is_empty();
    if inv.violations.len() > MAX_VIOLATION_LINES {
        let more = inv.violations.len() - MAX_VIOLATION_LINES;
        inv.violations.truncate(MAX_VIOLATION_LINES);
        inv.violations.push(format!("… and {more} more violations"));
    }
    inv
}

/// Violation lines kept in the report; a broken store can produce thousands.
const MAX_VIOLATION_LINES: usize = 50;

/// What a node other than node 0 answered after the run.
pub struct NodeView<'a> {
    pub node: usize,
    /// Its `GET /api/rooms/{id}/orders`, or why it failed.
    pub orders: Result<&'a [Order], String>,
    /// The sale's `remaining` in a fresh snapshot there; `None` when the
    /// snapshot had no such sale (or none could be read).
    pub remaining: Option<u64>,
}

/// Every other node must list the same orders of the sale as node 0 and
/// show the same `remaining` in its snapshot: orders, stock and room
/// events all come from the one store the nodes share.
pub fn cross_check(
    inv: &mut Invariants,
    sale_id: &str,
    first_orders: &[Order],
    first_remaining: Option<u64>,
    others: &[NodeView<'_>],
) {
    let of_sale = |orders: &[Order]| -> BTreeSet<(String, String, String, u32)> {
        orders
            .iter()
            .filter(|o| o.sale_id == sale_id)
            .map(|o| {
                (
                    o.order_id.clone(),
                    o.hold_id.clone(),
                    o.buyer_id.clone(),
                    o.quantity,
                )
            })
            .collect()
    };
    let first = of_sale(first_orders);
    for view in others {
        match &view.orders {
            Err(why) => inv.violations.push(format!(
                "UNVERIFIED: node {} could not list the orders: {why}",
                view.node
            )),
            Ok(orders) => {
                let theirs = of_sale(orders);
                if theirs != first {
                    inv.violations.push(format!(
                        "MISMATCH: node {} lists {} orders of the sale, node 0 {} ({} differ)",
                        view.node,
                        theirs.len(),
                        first.len(),
                        theirs.symmetric_difference(&first).count()
                    ));
                }
            }
        }
        match (view.remaining, first_remaining) {
            (Some(theirs), Some(ours)) if theirs != ours => inv.violations.push(format!(
                "MISMATCH: node {}'s snapshot says remaining {theirs}, node 0's {ours}",
                view.node
            )),
            (None, _) => inv.violations.push(format!(
                "MISMATCH: node {}'s snapshot shows no sale {sale_id}",
                view.node
            )),
            _ => {}
        }
    }
    inv.ok = inv.violations.is_empty();
}

/// Units of a buyer's keys that never got a decision (only `unavailable`,
/// errors or silence): each may hold its units without the buyer knowing.
/// A key answered only `busy` reserved nothing for certain.
fn undecided_units(buyer: &BuyerSeen) -> u64 {
    // Per key: decided, may hold something, units.
    let mut keys: BTreeMap<&str, (bool, bool, u64)> = BTreeMap::new();
    for a in &buyer.answers {
        let entry =
            keys.entry(a.idempotency_key.as_str())
                .or_insert((false, false, u64::from(a.quantity)));
        entry.0 |= a.answered();
        entry.1 |= !a.reserved_nothing();
    }
    keys.values()
        .filter(|(answered, may_hold, _)| !answered && *may_hold)
        .map(|(_, _, quantity)| quantity)
        .sum()
}

/// Units a buyer legitimately asked for: distinct answered keys, capped
/// by what the limit allows.
fn demand_of(buyer: &BuyerSeen, limit: u64) -> u64 {
    let mut asked: BTreeMap<&str, u64> = BTreeMap::new();
    for a in buyer.answers.iter().filter(|a| a.answered()) {
        asked.insert(a.idempotency_key.as_str(), u64::from(a.quantity));
    }
    let mut total = 0;
    for quantity in asked.values() {
        if total + quantity <= limit {
            total += quantity;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(id: &str, expires_at: u64) -> Option<HoldSeen> {
        Some(HoldSeen {
            hold_id: id.into(),
            quantity: 1,
            expires_at,
        })
    }

    fn answer(key: &str, outcome: &str, hold: Option<HoldSeen>) -> BuyAnswer {
        BuyAnswer {
            idempotency_key: key.into(),
            quantity: 1,
            outcome: outcome.into(),
            hold,
        }
    }

    fn buyer(id: &str, answers: Vec<BuyAnswer>) -> BuyerSeen {
        BuyerSeen {
            buyer_id: id.into(),
            answers,
            ..BuyerSeen::default()
        }
    }

    fn order(order_id: &str, hold_id: &str, buyer_id: &str) -> Order {
        Order {
            order_id: order_id.into(),
            sale_id: "s".into(),
            hold_id: hold_id.into(),
            buyer_id: buyer_id.into(),
            quantity: 1,
        }
    }

    fn input<'a>(
        buyers: &'a [BuyerSeen],
        orders: &'a [Order],
        remaining: Option<u64>,
    ) -> AuditInput<'a> {
        AuditInput {
            sale_id: "s",
            stock: 2,
            per_buyer_limit: 1,
            buyers,
            buy_phase_end_ms: 1_000,
            orders,
            final_remaining: remaining,
        }
    }

    #[test]
    fn a_clean_sale_passes() {
        let mut a = buyer(
            "a",
            vec![
                answer("ka", "reserved", hold("h1", 9_000)),
                answer("ka", "duplicate", hold("h1", 9_000)),
            ],
        );
        a.confirmed.insert("h1".into(), "o1".into());
        let b = buyer("b", vec![answer("kb", "reserved", hold("h2", 9_000))]);
        let c = buyer("c", vec![answer("kc", "sold_out", None)]);
        let buyers = [a, b, c];
        let orders = [order("o1", "h1", "a")];
        let inv = audit(&input(&buyers, &orders, Some(1)));
        assert!(inv.ok, "{inv:?}");
    }

    #[test]
    fn more_holds_than_stock_is_oversold() {
        let buyers: Vec<BuyerSeen> = (0..3)
            .map(|i| {
                buyer(
                    &format!("b{i}"),
                    vec![answer(
                        &format!("k{i}"),
                        "reserved",
                        hold(&format!("h{i}"), 9_000),
                    )],
                )
            })
            .collect();
        let inv = audit(&input(&buyers, &[], Some(2)));
        assert_eq!(inv.oversold, 1);
        assert!(!inv.ok);
    }

    #[test]
    fn sold_out_while_stock_was_left_is_undersold() {
        let buyers = [
            buyer("a", vec![answer("ka", "reserved", hold("h1", 9_000))]),
            buyer("b", vec![answer("kb", "sold_out", None)]),
        ];
        let inv = audit(&input(&buyers, &[], Some(2)));
        assert_eq!(inv.undersold, 1);
    }

    #[test]
    fn one_key_with_two_holds_is_a_duplicate_charge() {
        let buyers = [buyer(
            "a",
            vec![
                answer("ka", "reserved", hold("h1", 9_000)),
                answer("ka", "reserved", hold("h2", 9_000)),
            ],
        )];
        let inv = audit(&input(&buyers, &[], Some(2)));
        assert_eq!(inv.duplicate_charges, 1);
        assert_eq!(inv.limit_violations, 1);
    }

    #[test]
    fn a_hold_ordered_twice_is_a_duplicate_charge() {
        let mut a = buyer("a", vec![answer("ka", "reserved", hold("h1", 9_000))]);
        a.confirmed.insert("h1".into(), "o1".into());
        let buyers = [a, buyer("b", vec![answer("kb", "sold_out", None)])];
        let orders = [order("o1", "h1", "a"), order("o2", "h1", "a")];
        let inv = audit(&input(&buyers, &orders, Some(0)));
        assert_eq!(inv.duplicate_charges, 1);
        assert!(inv.violations.iter().any(|v| v.starts_with("PHANTOM")));
    }

    #[test]
    fn expired_stock_that_never_came_back_is_unreturned() {
        let buyers = [
            buyer("a", vec![answer("ka", "reserved", hold("h1", 9_000))]),
            buyer("b", vec![answer("kb", "reserved", hold("h2", 9_000))]),
        ];
        let inv = audit(&input(&buyers, &[], Some(1)));
        assert_eq!(inv.unreturned_units, 1);
    }

    #[test]
    fn an_unreadable_remaining_fails_the_audit() {
        let inv = audit(&input(&[], &[], None));
        assert!(!inv.ok);
    }

    #[test]
    fn buyers_on_every_node_are_summed_against_one_stock() {
        // Stock 2; one hold told on node 0, two on node 1: oversold by one,
        // though no node alone saw more than the stock.
        let mut buyers: Vec<BuyerSeen> = (0..3)
            .map(|i| {
                let key = format!("k{i}");
                buyer(
                    &format!("b{i}"),
                    vec![answer(&key, "reserved", hold(&format!("h{i}"), 9_000))],
                )
            })
            .collect();
        buyers[1].node = 1;
        buyers[2].node = 1;
        let inv = audit(&input(&buyers, &[], Some(2)));
        assert_eq!(inv.oversold, 1);
    }

    #[test]
    fn other_nodes_must_agree_with_node_zero() {
        let ours = [order("o1", "h1", "a")];
        let fewer: [Order; 0] = [];
        let mut inv = Invariants {
            ok: true,
            ..Invariants::default()
        };
        let views = [
            NodeView {
                node: 1,
                orders: Ok(&ours),
                remaining: Some(1),
            },
            NodeView {
                node: 2,
                orders: Ok(&fewer),
                remaining: Some(0),
            },
            NodeView {
                node: 3,
                orders: Err("503".into()),
                remaining: Some(1),
            },
        ];
        cross_check(&mut inv, "s", &ours, Some(1), &views);
        assert!(!inv.ok);
        assert_eq!(inv.violations.len(), 3, "{inv:?}");
        assert!(inv.violations[0].starts_with("MISMATCH: node 2 lists 0 orders"));
        assert!(inv.violations[1].contains("remaining 0, node 0's 1"));
        assert!(inv.violations[2].starts_with("UNVERIFIED: node 3"));
    }

    #[test]
    fn a_node_whose_snapshot_shows_no_sale_is_a_mismatch() {
        let ours = [order("o1", "h1", "a")];
        let views = [NodeView {
            node: 1,
            orders: Ok(&ours),
            remaining: None,
        }];
        let mut inv = Invariants::default();
        cross_check(&mut inv, "s", &ours, Some(1), &views);
        assert!(!inv.ok);
        assert_eq!(inv.violations.len(), 1, "{inv:?}");
        assert!(inv.violations[0].contains("node 1's snapshot shows no sale"));
    }

    #[test]
    fn undecided_buys_may_hold_the_stock_that_looks_undersold() {
        // Stock 2: one buyer reserved, one was told sold out, and one never
        // got a decision (its buy may hold the second unit).
        let buyers = [
            buyer("a", vec![answer("k1", "reserved", hold("h1", 9_000))]),
            buyer("b", vec![answer("k2", "sold_out", None)]),
            buyer(
                "c",
                vec![
                    answer("k3", "unavailable", None),
                    answer("k3", "unavailable", None),
                ],
            ),
        ];
        let mut audited = input(&buyers, &[], Some(2));
        audited.stock = 2;
        let inv = audit(&audited);
        assert_eq!(inv.undersold, 0, "{inv:?}");
        // Without the undecided buyer, the sold-out answer was wrong.
        let inv = audit(&AuditInput {
            buyers: &buyers[..2],
            ..audited
        });
        assert_eq!(inv.undersold, 1, "{inv:?}");
    }

    #[test]
    fn a_greedy_second_key_beyond_the_limit_adds_no_demand() {
        let b = buyer(
            "a",
            vec![
                answer("k1", "reserved", hold("h1", 9_000)),
                answer("k2", "limit_reached", None),
            ],
        );
        assert_eq!(demand_of(&b, 1), 1);
    }

    #[test]
    fn a_buyer_answered_only_busy_asked_for_nothing_and_holds_nothing() {
        // Stock 2: one reserved, one was told sold out, one was only ever
        // told busy: its buy never reached the store, so the sold-out
        // answer was wrong all the same.
        let buyers = [
            buyer("a", vec![answer("k1", "reserved", hold("h1", 9_000))]),
            buyer("b", vec![answer("k2", "sold_out", None)]),
            buyer(
                "c",
                vec![answer("k3", "busy", None), answer("k3", "busy", None)],
            ),
        ];
        assert_eq!(undecided_units(&buyers[2]), 0);
        assert_eq!(demand_of(&buyers[2], 1), 0);
        let inv = audit(&input(&buyers, &[], Some(2)));
        assert_eq!(inv.undersold, 1, "{inv:?}");
    }

    #[test]
    fn busy_after_an_unknown_outcome_leaves_the_key_undecided() {
        let c = buyer(
            "c",
            vec![
                answer("k3", "unavailable", None),
                answer("k3", "busy", None),
            ],
        );
        assert_eq!(undecided_units(&c), 1);
    }

    #[test]
    fn busy_answers_before_a_reservation_pass_the_audit() {
        let buyers = [
            buyer(
                "a",
                vec![
                    answer("k1", "busy", None),
                    answer("k1", "busy", None),
                    answer("k1", "reserved", hold("h1", 9_000)),
                ],
            ),
            buyer(
                "b",
                vec![
                    answer("k2", "busy", None),
                    answer("k2", "reserved", hold("h2", 9_000)),
                ],
            ),
            buyer(
                "c",
                vec![answer("k3", "busy", None), answer("k3", "sold_out", None)],
            ),
        ];
        let inv = audit(&input(&buyers, &[], Some(2)));
        assert!(inv.ok, "{inv:?}");
    }

    #[test]
    fn an_order_from_a_confirmation_of_unknown_outcome_is_no_phantom() {
        let mut a = buyer("a", vec![answer("ka", "reserved", hold("h1", 9_000))]);
        a.unknown_confirms.insert("h1".into());
        let b = buyer("b", vec![answer("kb", "reserved", hold("h2", 9_000))]);
        let buyers = [a, b];
        let orders = [order("o1", "h1", "a")];
        let inv = audit(&input(&buyers, &orders, Some(1)));
        assert!(inv.ok, "{inv:?}");
        // Without the unknown confirmation, the same order is a phantom.
        let mut told_nothing = buyers.clone();
        told_nothing[0].unknown_confirms.clear();
        let inv = audit(&input(&told_nothing, &orders, Some(1)));
        assert!(
            inv.violations.iter().any(|v| v.starts_with("PHANTOM")),
            "{inv:?}"
        );
    }
}
