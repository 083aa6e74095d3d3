//! Why a sale operation failed. One enum for both stores; the service layer's
//! `refusal.rs` gives each variant its stable wire code.

use super::fulfilment::OrderStatus;
use crate::money::Vnd;

/// A refused or failed sale operation. Buy outcomes such as `sold_out` are not
/// errors (they are [`BuyOutcome`](super::BuyOutcome)s); these are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaleError {
    #[error("no such sale")]
    SaleNotFound,
    #[error("no such active hold")]
    HoldNotFound,
    #[error("the hold expired and its units went back on sale")]
    HoldExpired,
    /// Confirming would take the shipping phone number past the sale's
    /// per-buyer limit, counting orders made from any identity.
    #[error("this phone number has already ordered the most this sale allows per buyer")]
    LimitReached,
    #[error("invalid shipping details: {0}")]
    InvalidShipping(String),
    #[error("{0}")]
    InvalidValue(String),
    /// A sale would take more units than its product has on hand.
    #[error("only {available} units of this product are in stock")]
    InsufficientStock { available: u32 },
    #[error("no such voucher in this room")]
    VoucherNotFound,
    /// Outside the voucher's validity window.
    #[error("this voucher is not valid now")]
    VoucherExpired,
    /// Every use (or, for a dropped voucher, every claim) is taken.
    #[error("this voucher has been used up")]
    VoucherUsedUp,
    /// This buyer, or this shipping phone, has used it already.
    #[error("this voucher has already been used by you")]
    VoucherAlreadyUsed,
    /// A dropped voucher used without claiming it first.
    #[error("claim this voucher first: tap it when the seller drops it")]
    VoucherNotClaimed,
    /// The order's subtotal is under the voucher's minimum.
    #[error("this voucher needs an order of at least {min_order_vnd} đồng")]
    VoucherMinOrder { min_order_vnd: Vnd },
    /// Claiming a voucher not (yet) dropped, or dropping one typed at checkout.
    #[error("this voucher is not open for claiming")]
    VoucherNotDropped,
    #[error("a voucher with this code exists already in this room")]
    VoucherExists,
    #[error("no such order")]
    OrderNotFound,
    /// The order's status does not allow this change (e.g. packing a
    /// transfer that is not paid, cancelling a shipped order).
    #[error("an order that is {} cannot become {}", from.as_str(), to.as_str())]
    InvalidTransition { from: OrderStatus, to: OrderStatus },
    /// The buyer may cancel only a `confirmed` order, within the window.
    #[error("this order can no longer be cancelled by the buyer: ask the seller")]
    CancelWindowClosed,
    #[error("this hold belongs to someone else")]
    Forbidden,
    /// The room's current sale is scheduled, live or sold out: one sale runs
    /// in a room at a time.
    #[error("a flash sale is already running in this room: end it first")]
    SaleRunning,
    /// The store did not answer in time or is down; whether the request took
    /// effect is unknown. Every operation is safe to retry.
    #[error("the sale store is unavailable: {0}")]
    Unavailable(String),
    /// The store answered something this code does not understand (a bug or
    /// a corrupted record), as opposed to being unreachable.
    #[error("sale store error: {0}")]
    Internal(String),
}
