//! Flash-sale data: the wire types every client sees (`SaleInfo`, `Hold`,
//! `Shipping`, `Order`, `BuyOutcome`), the inputs the server hands a store,
//! and what a store answers beyond them (`Confirmation`, `ExpiryReport`,
//! `SaleRef`).
//!
//! These are plain serde data, shared by both store implementations and (via
//! re-export) by `protocol.rs`. The one piece of logic here is
//! [`SaleTimes::state_at`], the single definition of a sale's state, so the
//! in-memory and Redis stores derive it identically.

use serde::{Deserialize, Serialize};

use super::bag::OrderLine;
use super::fulfilment::{OrderStatus, PaymentMethod, Shipment, StatusChange};
use crate::clock::UnixMillis;
use crate::money::Vnd;

/// Where a sale is in its life. Derived from the clock and the stored flags,
/// never stored itself, so it cannot drift from the stock it describes.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SaleState {
    /// Before `starts_at`.
    Scheduled,
    /// Open for buying.
    Live,
    /// No unit is available right now. A hold that expires or is cancelled
    /// puts units back and the sale is `live` again until it ends.
    SoldOut,
    /// Past `ends_at`, or ended early by the seller. Final.
    Ended,
}

/// The public view of one flash sale.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SaleInfo {
    pub id: String,
    pub product_id: String,
    /// Copied from the catalog at creation so orders and receipts keep the
    /// name the buyer saw even if the product is renamed later.
    pub product_name: String,
    pub price_vnd: Vnd,
    pub stock_total: u32,
    /// Units neither held nor ordered (0 once the sale has closed: what was
    /// left went back to the product).
    pub remaining: u32,
    /// Units given back to the product's stock: what was left when the sale
    /// ended, and any that came back after (expired holds, cancelled
    /// orders). `remaining + held + ordered + returned_to_stock ==
    /// stock_total`.
    #[serde(default)]
    pub returned_to_stock: u32,
    pub per_buyer_limit: u32,
    pub state: SaleState,
    pub starts_at: UnixMillis,
    /// Moved to the moment of ending when the seller ends the sale early.
    pub ends_at: UnixMillis,
    pub hold_secs: u32,
}

/// Units reserved for one buyer until `expires_at`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Hold {
    /// `<sale id>-<random>`: the sale id is recoverable from a hold id, so a
    /// client can confirm with the hold id alone.
    pub hold_id: String,
    pub sale_id: String,
    pub quantity: u32,
    pub expires_at: UnixMillis,
    /// A bag hold's product (a flash-sale hold's is its sale's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// A bag hold's price, fixed when it went in the bag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_vnd: Option<Vnd>,
}

/// Where a confirmed order is shipped. Private to the buyer and the seller.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Shipping {
    pub name: String,
    pub phone: String,
    pub address: String,
}

/// What a buyer gives at checkout: where to ship, how she pays, and a
/// voucher to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub shipping: Shipping,
    pub payment: PaymentMethod,
    /// A voucher code as typed (or claimed from a drop).
    pub voucher_code: Option<String>,
}

/// A confirmed purchase: the durable record the seller ships from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Order {
    pub order_id: String,
    pub sale_id: String,
    /// The hold this order consumed; one hold yields at most one order.
    pub hold_id: String,
    pub buyer_id: String,
    pub buyer_name: String,
    /// The product as the sale named it, so the order page and the shop's
    /// system need no other lookup. Orders stored before it existed: empty.
    #[serde(default)]
    pub product_name: String,
    pub quantity: u32,
    /// The sale price at the time of the order (a sale's price never changes).
    pub unit_price_vnd: Vnd,
    pub total_vnd: Vnd,
    pub shipping: Shipping,
    pub created_at: UnixMillis,
    /// Chosen at checkout. Orders stored before payments existed were cash.
    #[serde(default)]
    pub payment: PaymentMethod,
    /// Where the order is in its life (see [`super::fulfilment`]).
    #[serde(default)]
    pub status: OrderStatus,
    /// Set once the order is shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment: Option<Shipment>,
    /// Every status change after `confirmed`, oldest first.
    #[serde(default)]
    pub history: Vec<StatusChange>,
    /// The voucher the buyer applied at checkout, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher_code: Option<String>,
    /// What the voucher took off `unit_price_vnd × quantity`; `total_vnd`
    /// is after it.
    #[serde(default)]
    pub discount_vnd: Vnd,
    /// Random and unique to the order: the room's `order_status` events
    /// carry it instead of the order id, so everyone in the room can see
    /// that *some* order moved but only its buyer (who has her orders) and
    /// the seller can tell which.
    #[serde(default)]
    pub status_tag: String,
    /// A bag order's products, one line per bag hold (`sale::bag`); empty
    /// for a flash-sale order, which is one product at `unit_price_vnd`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<OrderLine>,
}

/// The answer to one `buy`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BuyOutcome {
    /// Units are held for the buyer; the result carries the hold.
    Reserved,
    /// Fewer units remain than were asked for.
    SoldOut,
    /// The buyer's held and ordered units plus this quantity exceed the limit.
    LimitReached,
    NotStarted,
    Ended,
    /// This idempotency key already reserved; the result carries that hold.
    Duplicate,
    /// The store did not answer in time, so whether the buy took effect is
    /// unknown. Retrying with the same idempotency key is safe: it reserves
    /// or answers `duplicate` with the hold that was made.
    Unavailable,
    /// This node's queue for the sale is full: the buy was not sent to the
    /// store, so *nothing was reserved*. The result carries when to retry
    /// (with the same idempotency key).
    Busy,
}

impl BuyOutcome {
    /// The outcome as it appears on the wire and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            BuyOutcome::Reserved => "reserved",
            BuyOutcome::SoldOut => "sold_out",
            BuyOutcome::LimitReached => "limit_reached",
            BuyOutcome::NotStarted => "not_started",
            BuyOutcome::Ended => "ended",
            BuyOutcome::Duplicate => "duplicate",
            BuyOutcome::Unavailable => "unavailable",
            BuyOutcome::Busy => "busy",
        }
    }
}

/// What a confirmation did: the order, and whether this very call created it.
///
/// Confirming is safe to retry, so the same order comes back every time; only
/// the one call that turned the hold into the order says `created`, which is
/// how the caller announces a purchase exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub order: Order,
    /// True only for the call that turned the hold into the order.
    pub created: bool,
}

/// An outcome and, for `reserved` and `duplicate`, the hold it refers to.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct BuyResult {
    pub outcome: BuyOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// For `busy`: how long to wait before retrying, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl BuyResult {
    /// An outcome that carries no hold.
    pub fn rejected(outcome: BuyOutcome) -> BuyResult {
        BuyResult {
            outcome,
            hold: None,
            retry_after_ms: None,
        }
    }

    /// `reserved` or `duplicate`, with the hold it refers to.
    pub fn held(outcome: BuyOutcome, hold: Option<Hold>) -> BuyResult {
        BuyResult {
            hold,
            ..BuyResult::rejected(outcome)
        }
    }

    /// `busy`: nothing was reserved; retry after `retry_after`.
    pub fn busy(retry_after: std::time::Duration) -> BuyResult {
        BuyResult {
            retry_after_ms: Some(retry_after.as_millis().try_into().unwrap_or(u64::MAX)),
            ..BuyResult::rejected(BuyOutcome::Busy)
        }
    }
}

/// What a seller asks for when starting a sale (`start_sale`), with the
/// product's name filled in from the room's catalog by the caller.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct NewSale {
    pub product_id: String,
    pub product_name: String,
    /// The product's stock as the room's catalog shows it: the store's own
    /// count of the product starts from it the first time the store sees
    /// the product (afterwards the store's count is the truth). The sale's
    /// `stock` is carved out of it.
    #[serde(default)]
    pub product_stock: u32,
    pub price_vnd: Vnd,
    pub stock: u32,
    pub per_buyer_limit: u32,
    /// 0 starts the sale at once.
    #[serde(default)]
    pub starts_in_secs: u32,
    pub duration_secs: u32,
    #[serde(default = "default_hold_secs")]
    pub hold_secs: u32,
}

/// Holds last five minutes unless the seller says otherwise.
pub const DEFAULT_HOLD_SECS: u32 = 300;

fn default_hold_secs() -> u32 {
    DEFAULT_HOLD_SECS
}

/// Names one sale completely: its room and its id. Sweepers get these from
/// [`SaleStore::active_sales`](super::SaleStore::active_sales), which spans
/// rooms, and hand them back to
/// [`SaleStore::expire_due`](super::SaleStore::expire_due).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaleRef {
    pub room_id: String,
    pub sale_id: String,
}

impl SaleRef {
    pub fn new(room_id: impl Into<String>, sale_id: impl Into<String>) -> SaleRef {
        SaleRef {
            room_id: room_id.into(),
            sale_id: sale_id.into(),
        }
    }
}

impl std::fmt::Display for SaleRef {
    /// `<room id>/<sale id>`, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.room_id, self.sale_id)
    }
}

/// One buy request, as a store receives it (already validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyRequest {
    pub sale_id: String,
    /// The verified identity from the buyer's token (never client-supplied):
    /// the per-buyer limit and hold ownership key on it.
    pub buyer_id: String,
    /// Kept on the hold so the order (and the social-proof event) can name
    /// the buyer without another lookup.
    pub buyer_name: String,
    pub quantity: u32,
    /// Client-generated; scoped to the buyer, so two buyers never collide.
    pub idempotency_key: String,
}

/// What one sweep of a sale did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryReport {
    pub sale_id: String,
    /// The room the sale belongs to, so the caller can announce new stock.
    pub room_id: String,
    /// Units that expired holds gave back in this sweep (each exactly once).
    pub returned_units: u32,
    pub remaining: u32,
    /// The sale has ended and no hold is pending: sweepers stop visiting it.
    pub retired: bool,
    /// The sale's product, and units that went back to its stock in this
    /// sweep (a closing sale's leftover, holds that expired after it closed).
    pub product_id: String,
    pub to_product: u32,
    /// Every product whose stock rose in this sweep (the sale's, or the
    /// products of a bag's expired holds), for announcing.
    pub restocked: Vec<String>,
}

/// The times and flags a sale's state is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleTimes {
    pub starts_at: UnixMillis,
    pub ends_at: UnixMillis,
    /// Set when the seller ends the sale early.
    pub ended: bool,
    pub remaining: u32,
}

impl SaleTimes {
    /// The one definition of a sale's state (the Lua functions mirror it).
    pub fn state_at(&self, now: UnixMillis) -> SaleState {
        if self.ended || now >= self.ends_at {
            SaleState::Ended
        } else if now < self.starts_at {
            SaleState::Scheduled
        } else if self.remaining == 0 {
            SaleState::SoldOut
        } else {
            SaleState::Live
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(remaining: u32, ended: bool) -> SaleTimes {
        SaleTimes {
            starts_at: 100,
            ends_at: 200,
            ended,
            remaining,
        }
    }

    #[test]
    fn state_follows_the_clock_and_the_flags() {
        assert_eq!(times(5, false).state_at(99), SaleState::Scheduled);
        assert_eq!(times(5, false).state_at(100), SaleState::Live);
        assert_eq!(times(0, false).state_at(150), SaleState::SoldOut);
        assert_eq!(times(5, false).state_at(200), SaleState::Ended);
        assert_eq!(times(5, true).state_at(50), SaleState::Ended);
    }

    #[test]
    fn buy_result_omits_an_absent_hold() {
        let json = serde_json::to_string(&BuyResult::rejected(BuyOutcome::SoldOut)).unwrap();
        assert_eq!(json, r#"{"outcome":"sold_out"}"#);
    }
}
