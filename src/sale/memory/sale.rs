//! A flash sale in the memory store: its public view, its holds with their
//! fates, its orders and per-buyer counts, and the three ways units come
//! back — `give_back` (to the sale while it is open, to the product once it
//! has closed), `close` (the leftover, once) and `release` (a pending hold,
//! once: removing its deadline entry is the guard).

use std::collections::{BTreeSet, HashMap};

use super::RoomBooks;
use crate::clock::UnixMillis;
use crate::sale::{Hold, Order, SaleInfo, SaleState, SaleTimes};

pub(super) struct Sale {
    /// The one room whose callers may see this sale and its holds.
    pub(super) room_id: String,
    /// `state` in here is stale; [`Sale::info`] derives it on every read.
    pub(super) info: SaleInfo,
    /// The seller ended the sale early.
    pub(super) ended: bool,
    /// Units each buyer holds or has ordered (the per-buyer limit's count).
    pub(super) units_by_buyer: HashMap<String, u32>,
    /// Each buyer's holds, oldest first, and her orders (indexes into
    /// `orders`): a join lists hers without walking everyone's.
    pub(super) holds_by_buyer: HashMap<String, Vec<String>>,
    pub(super) orders_by_buyer: HashMap<String, Vec<usize>>,
    /// Units ordered per normalised shipping phone: the per-buyer limit
    /// across identities (one person, two devices).
    pub(super) units_by_phone: HashMap<String, u32>,
    /// `(buyer, idempotency key)` → the hold that key reserved.
    pub(super) reservations: HashMap<(String, String), String>,
    /// Every hold ever made, with its fate, so a late confirm can say
    /// `hold_expired` rather than `hold_not_found`.
    pub(super) holds: HashMap<String, HoldEntry>,
    /// Pending holds by deadline, so a sweep touches only what is due.
    pub(super) deadlines: BTreeSet<(UnixMillis, String)>,
    /// In creation order.
    pub(super) orders: Vec<Order>,
    /// Ended with no hold pending, as found by a sweep: no longer active.
    pub(super) retired: bool,
    /// Ended and its leftover given back to the product (once): units that
    /// come back later go to the product too.
    pub(super) closed: bool,
}

pub(super) struct HoldEntry {
    /// What the buyer was given (also the answer to a duplicate buy).
    pub(super) hold: Hold,
    /// Only this buyer may confirm or cancel.
    pub(super) buyer_id: String,
    /// Copied onto the order.
    pub(super) buyer_name: String,
    pub(super) status: HoldStatus,
}

pub(super) enum HoldStatus {
    Held,
    /// Index into `Sale::orders`.
    Confirmed(usize),
    Cancelled,
    Expired,
}

impl Sale {
    pub(super) fn info(&self, now: UnixMillis) -> SaleInfo {
        let times = SaleTimes {
            starts_at: self.info.starts_at,
            ends_at: self.info.ends_at,
            ended: self.ended,
            remaining: self.info.remaining,
        };
        SaleInfo {
            state: times.state_at(now),
            ..self.info.clone()
        }
    }

    /// Units coming back to the sale: to `remaining` while it is open, to
    /// its product's stock once it has closed.
    pub(super) fn give_back(&mut self, units: u32, books: &mut RoomBooks) {
        if self.closed {
            *books.stock_of(&self.room_id, &self.info.product_id) += units;
            self.info.returned_to_stock += units;
        } else {
            self.info.remaining += units;
        }
    }

    /// Closes an ended sale: what is left goes back to its product, once.
    pub(super) fn close(&mut self, books: &mut RoomBooks) {
        if self.closed {
            return;
        }
        let left = std::mem::take(&mut self.info.remaining);
        *books.stock_of(&self.room_id, &self.info.product_id) += left;
        self.info.returned_to_stock += left;
        self.closed = true;
    }

    /// Gives a pending hold's units back and marks it; the deadline entry's
    /// removal is what makes this happen once.
    pub(super) fn release(&mut self, hold_id: &str, status: HoldStatus, books: &mut RoomBooks) {
        let Some(entry) = self.holds.get_mut(hold_id) else {
            return;
        };
        if !matches!(entry.status, HoldStatus::Held)
            || !self
                .deadlines
                .remove(&(entry.hold.expires_at, hold_id.to_owned()))
        {
            return;
        }
        entry.status = status;
        let quantity = entry.hold.quantity;
        if let Some(units) = self.units_by_buyer.get_mut(&entry.buyer_id) {
            *units = units.saturating_sub(quantity);
        }
        self.give_back(quantity, books);
    }

    pub(super) fn is_finished(&self, now: UnixMillis) -> bool {
        self.info(now).state == SaleState::Ended && self.deadlines.is_empty()
    }
}
