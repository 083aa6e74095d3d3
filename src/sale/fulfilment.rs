//! What happens to an order after it is placed: how it is paid, where it is
//! in its life (`confirmed` → `paid` → `packed` → `shipped` → `delivered`, or
//! `cancelled`), and the one rule ([`next`]) that decides whether a change
//! asked by the seller or the buyer may happen.
//!
//! Both stores apply [`next`] inside their atomic step (the memory store under
//! its mutex; the Redis store in Rust, then a compare-and-set function that
//! writes only if the order is still what was read), so the rule lives once.
//! A cancellation returns the order's units to its sale in that same step.
//!
//! ```text
//!            ┌── bank transfer ──┐
//! confirmed ─┤                   ▼
//!            └── cash ──────▶ packed ──▶ shipped ──▶ delivered
//!   │  paid ─────────────────▲   │
//!   └─────┴──── cancelled ◀──────┘  (seller: before shipping;
//!                                    buyer: while confirmed, within the window)
//! ```

use serde::{Deserialize, Serialize};

use super::{Order, SaleError};
use crate::clock::UnixMillis;

/// How the buyer pays. Chosen at checkout; never changes.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Cash on delivery: the carrier collects it; the default for these
    /// sellers, so an order placed without a choice is one.
    #[default]
    Cod,
    /// Bank transfer by VietQR: the seller marks the order `paid` when the
    /// money arrives, before packing it.
    BankTransfer,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    #[default]
    Confirmed,
    Paid,
    Packed,
    Shipped,
    Delivered,
    /// Final; its units went back to the sale.
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Confirmed,
        OrderStatus::Paid,
        OrderStatus::Packed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    /// The status as it appears on the wire, in CSV and in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Paid => "paid",
            OrderStatus::Packed => "packed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Not yet handed to a carrier: the seller may still cancel.
    fn before_shipping(self) -> bool {
        matches!(
            self,
            OrderStatus::Confirmed | OrderStatus::Paid | OrderStatus::Packed
        )
    }
}

/// The carriers Vietnamese sellers ship with.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// Giao Hàng Nhanh.
    Ghn,
    /// Giao Hàng Tiết Kiệm.
    Ghtk,
    ViettelPost,
    Vnpost,
    Other,
}

/// Longest tracking code, in bytes.
pub const MAX_TRACKING_CODE: usize = 64;

/// Who carries the parcel and how to follow it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Shipment {
    pub carrier: Carrier,
    /// Letters, digits and `-`, 1 to [`MAX_TRACKING_CODE`] bytes.
    pub tracking_code: String,
}

/// One step in an order's history.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: UnixMillis,
    pub by: OrderActorKind,
}

/// Who changed an order, as its history records it.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OrderActorKind {
    Seller,
    Buyer,
}

/// What someone asks to happen to an order.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OrderChange {
    /// The transfer arrived (bank-transfer orders only).
    Paid,
    Packed,
    /// Handed to a carrier; sent again while `shipped`, it corrects the
    /// carrier or tracking code.
    Shipped(Shipment),
    Delivered,
    Cancelled,
}

impl OrderChange {
    /// The status this change leads to.
    pub fn status(&self) -> OrderStatus {
        match self {
            OrderChange::Paid => OrderStatus::Paid,
            OrderChange::Packed => OrderStatus::Packed,
            OrderChange::Shipped(_) => OrderStatus::Shipped,
            OrderChange::Delivered => OrderStatus::Delivered,
            OrderChange::Cancelled => OrderStatus::Cancelled,
        }
    }
}

/// Who asks, with what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderActor {
    /// The room's seller (or an admin): every step, and cancelling before
    /// shipping.
    Seller,
    /// The buyer who placed the order: cancelling only, while it is
    /// `confirmed` and within `cancel_window_ms` of its creation.
    Buyer {
        buyer_id: String,
        cancel_window_ms: u64,
    },
}

impl OrderActor {
    fn kind(&self) -> OrderActorKind {
        match self {
            OrderActor::Seller => OrderActorKind::Seller,
            OrderActor::Buyer { .. } => OrderActorKind::Buyer,
        }
    }
}

/// What an order change did: the order as it now stands, and whether this
/// very call changed it (asking for the status an order already has is a
/// harmless repeat, answered with `changed: false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    pub order: Order,
    pub changed: bool,
    /// Units this call gave back to the sale (a cancellation), else 0.
    pub returned_units: u32,
}

/// The one transition rule. `Ok(None)`: the order already is what was asked
/// (nothing to write). `Ok(Some(order))`: the order after the change, its
/// history extended. Refusals change nothing.
pub fn next(
    order: &Order,
    change: &OrderChange,
    actor: &OrderActor,
    now: UnixMillis,
) -> Result<Option<Order>, SaleError> {
    if let OrderChange::Shipped(shipment) = change {
        validate_shipment(shipment)?;
    }
    let from = order.status;
    let to = change.status();
    if let OrderActor::Buyer {
        buyer_id,
        cancel_window_ms,
    } = actor
    {
        if *buyer_id != order.buyer_id {
            return Err(SaleError::Forbidden);
        }
        if to != OrderStatus::Cancelled {
            return Err(SaleError::Forbidden);
        }
        if from == OrderStatus::Cancelled {
            return Ok(None);
        }
        if from != OrderStatus::Confirmed
            || now >= order.created_at.saturating_add(*cancel_window_ms)
        {
            return Err(SaleError::CancelWindowClosed);
        }
    }
    let correcting_shipment = from == OrderStatus::Shipped
        && matches!(change, OrderChange::Shipped(s) if order.shipment.as_ref() != Some(s));
    if from == to && !correcting_shipment {
        return Ok(None);
    }
    let allowed = match to {
        OrderStatus::Confirmed => false,
        OrderStatus::Paid => {
            from == OrderStatus::Confirmed && order.payment == PaymentMethod::BankTransfer
        }
        OrderStatus::Packed => match order.payment {
            PaymentMethod::Cod => from == OrderStatus::Confirmed,
            PaymentMethod::BankTransfer => from == OrderStatus::Paid,
        },
        OrderStatus::Shipped => from == OrderStatus::Packed || correcting_shipment,
        OrderStatus::Delivered => from == OrderStatus::Shipped,
        OrderStatus::Cancelled => from.before_shipping(),
    };
    if !allowed {
        return Err(SaleError::InvalidTransition { from, to });
    }
    let mut changed = order.clone();
    changed.status = to;
    if let OrderChange::Shipped(shipment) = change {
        changed.shipment = Some(shipment.clone());
    }
    changed.history.push(StatusChange {
        status: to,
        at: now,
        by: actor.kind(),
    });
    Ok(Some(changed))
}

/// Units a change from `before` to `after` gives back to the sale: the
/// order's quantity when it becomes `cancelled`, else none. Both stores
/// return exactly this, inside the step that writes `after`.
pub fn units_returned(before: &Order, after: &Order) -> u32 {
    if after.status == OrderStatus::Cancelled && before.status != OrderStatus::Cancelled {
        after.quantity
    } else {
        0
    }
}

fn validate_shipment(shipment: &Shipment) -> Result<(), SaleError> {
    let code = &shipment.tracking_code;
    let ok = !code.is_empty()
        && code.len() <= MAX_TRACKING_CODE
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(SaleError::InvalidValue(format!(
            "tracking_code must be 1 to {MAX_TRACKING_CODE} letters, digits or '-'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::Shipping;

    const WINDOW: u64 = 30 * 60 * 1000;

    fn order(payment: PaymentMethod, status: OrderStatus) -> Order {
        Order {
            order_id: "o1".into(),
            sale_id: "s1".into(),
            hold_id: "s1-h1".into(),
            buyer_id: "g-lan".into(),
            buyer_name: "Lan".into(),
            product_name: "Chè".into(),
            quantity: 2,
            unit_price_vnd: 100_000,
            total_vnd: 200_000,
            shipping: Shipping {
                name: "Lan".into(),
                phone: "0912345678".into(),
                address: "Thái Nguyên".into(),
            },
            created_at: 1_000,
            payment,
            status,
            shipment: None,
            history: Vec::new(),
            voucher_code: None,
            discount_vnd: 0,
            status_tag: "t".into(),
            lines: Vec::new(),
        }
    }

    fn buyer(id: &str) -> OrderActor {
        OrderActor::Buyer {
            buyer_id: id.into(),
            cancel_window_ms: WINDOW,
        }
    }

    fn ghn() -> OrderChange {
        OrderChange::Shipped(Shipment {
            carrier: Carrier::Ghn,
            tracking_code: "GHN-123".into(),
        })
    }

    #[test]
    fn a_cash_order_goes_from_confirmed_to_delivered_without_paid() {
        let mut o = order(PaymentMethod::Cod, OrderStatus::Confirmed);
        for change in [OrderChange::Packed, ghn(), OrderChange::Delivered] {
            o = next(&o, &change, &OrderActor::Seller, 2_000)
                .unwrap()
                .unwrap();
        }
        assert_eq!(o.status, OrderStatus::Delivered);
        assert_eq!(o.history.len(), 3);
        assert_eq!(o.shipment.as_ref().unwrap().carrier, Carrier::Ghn);
    }

    #[test]
    fn a_transfer_order_must_be_paid_before_it_is_packed() {
        let o = order(PaymentMethod::BankTransfer, OrderStatus::Confirmed);
        assert_eq!(
            next(&o, &OrderChange::Packed, &OrderActor::Seller, 2_000),
            Err(SaleError::InvalidTransition {
                from: OrderStatus::Confirmed,
                to: OrderStatus::Packed
            })
        );
        let paid = next(&o, &OrderChange::Paid, &OrderActor::Seller, 2_000)
            .unwrap()
            .unwrap();
        assert!(next(&paid, &OrderChange::Packed, &OrderActor::Seller, 3_000).is_ok());
    }

    #[test]
    fn a_cash_order_is_never_marked_paid() {
        let o = order(PaymentMethod::Cod, OrderStatus::Confirmed);
        assert!(matches!(
            next(&o, &OrderChange::Paid, &OrderActor::Seller, 2_000),
            Err(SaleError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn repeating_the_current_status_changes_nothing() {
        let o = order(PaymentMethod::Cod, OrderStatus::Packed);
        assert_eq!(
            next(&o, &OrderChange::Packed, &OrderActor::Seller, 2_000),
            Ok(None)
        );
    }

    #[test]
    fn the_seller_may_correct_a_tracking_code_while_shipped() {
        let o = order(PaymentMethod::Cod, OrderStatus::Packed);
        let shipped = next(&o, &ghn(), &OrderActor::Seller, 2_000)
            .unwrap()
            .unwrap();
        assert_eq!(next(&shipped, &ghn(), &OrderActor::Seller, 3_000), Ok(None));
        let fixed = OrderChange::Shipped(Shipment {
            carrier: Carrier::ViettelPost,
            tracking_code: "VTP9".into(),
        });
        let corrected = next(&shipped, &fixed, &OrderActor::Seller, 3_000)
            .unwrap()
            .unwrap();
        assert_eq!(corrected.shipment.unwrap().carrier, Carrier::ViettelPost);
    }

    #[test]
    fn the_seller_cancels_only_before_shipping() {
        for status in [
            OrderStatus::Confirmed,
            OrderStatus::Paid,
            OrderStatus::Packed,
        ] {
            let o = order(PaymentMethod::BankTransfer, status);
            assert!(next(&o, &OrderChange::Cancelled, &OrderActor::Seller, 2_000).is_ok());
        }
        for status in [OrderStatus::Shipped, OrderStatus::Delivered] {
            let o = order(PaymentMethod::Cod, status);
            assert!(matches!(
                next(&o, &OrderChange::Cancelled, &OrderActor::Seller, 2_000),
                Err(SaleError::InvalidTransition { .. })
            ));
        }
    }

    #[test]
    fn the_buyer_cancels_only_her_confirmed_order_within_the_window() {
        let o = order(PaymentMethod::Cod, OrderStatus::Confirmed);
        let cancelled = next(&o, &OrderChange::Cancelled, &buyer("g-lan"), 2_000)
            .unwrap()
            .unwrap();
        assert_eq!(cancelled.history[0].by, OrderActorKind::Buyer);
        assert_eq!(
            next(&o, &OrderChange::Cancelled, &buyer("g-lan"), 1_000 + WINDOW),
            Err(SaleError::CancelWindowClosed)
        );
        assert_eq!(
            next(&o, &OrderChange::Cancelled, &buyer("g-other"), 2_000),
            Err(SaleError::Forbidden)
        );
        let packed = order(PaymentMethod::Cod, OrderStatus::Packed);
        assert_eq!(
            next(&packed, &OrderChange::Cancelled, &buyer("g-lan"), 2_000),
            Err(SaleError::CancelWindowClosed)
        );
    }

    #[test]
    fn the_buyer_may_not_move_an_order_forward() {
        let o = order(PaymentMethod::Cod, OrderStatus::Confirmed);
        assert_eq!(
            next(&o, &OrderChange::Packed, &buyer("g-lan"), 2_000),
            Err(SaleError::Forbidden)
        );
    }

    #[test]
    fn a_cancelled_order_stays_cancelled() {
        let o = order(PaymentMethod::Cod, OrderStatus::Cancelled);
        assert_eq!(
            next(&o, &OrderChange::Cancelled, &OrderActor::Seller, 2_000),
            Ok(None)
        );
        assert!(next(&o, &OrderChange::Packed, &OrderActor::Seller, 2_000).is_err());
    }

    #[test]
    fn a_malformed_tracking_code_is_refused() {
        let o = order(PaymentMethod::Cod, OrderStatus::Packed);
        for code in ["", "a b", "<script>", &"x".repeat(65)] {
            let change = OrderChange::Shipped(Shipment {
                carrier: Carrier::Ghtk,
                tracking_code: code.into(),
            });
            assert!(matches!(
                next(&o, &change, &OrderActor::Seller, 2_000),
                Err(SaleError::InvalidValue(_))
            ));
        }
    }
}
