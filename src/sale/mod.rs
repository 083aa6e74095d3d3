//! Flash sales: stock, holds and orders, behind one seam.
//!
//! A seller starts a sale of one product in a live room; viewers `buy`
//! (which reserves units as a [`Hold`] with a deadline), then `confirm` the
//! hold with shipping details (which records an [`Order`]) or `cancel` it. A
//! hold that reaches its deadline gives its units back, exactly once, when the
//! [`sweeper`] (or a late confirm/cancel) finds it.
//!
//! [`SaleStore`] is the seam. Two implementations pass one conformance suite
//! (`tests/sale_conformance.rs`):
//! - [`MemorySaleStore`]: one process, one mutex; the embedded default and
//!   practice rooms.
//! - [`RedisSaleStore`]: production and multi-node; every operation is one
//!   Redis Function call (`src/sale/redis/chophien.lua`) over a multiplexed
//!   connection, with AOF for durability. Concurrent buys of one sale are
//!   group-committed: one atomic call carries a whole batch.
//!
//! Invariants, for both stores:
//! - Stock changes only inside a store's atomic operations, and in each the
//!   checks (idempotency → state → stock → per-buyer limit) precede every write.
//! - `remaining + units held + units ordered == stock_total`, always.
//! - An idempotency key (scoped to its buyer) reserves at most once.
//! - Time comes from the caller (`now`, Unix ms), never from the store, so
//!   both stores agree and tests control the clock.

mod error;
pub mod ids;
mod memory;
mod redis;
pub mod sweeper;
mod types;
pub mod validate;

use std::future::Future;

pub use error::SaleError;
pub use memory::MemorySaleStore;
pub use redis::{RedisSaleStore, RedisStoreOptions};
pub use types::{
    BuyOutcome, BuyRequest, BuyResult, ExpiryReport, Hold, NewSale, Order, SaleInfo, SaleState,
    SaleTimes, Shipping, DEFAULT_HOLD_SECS,
};

use crate::clock::UnixMillis;

/// Where sales live. Every method is one atomic step of the store.
///
/// Inputs are validated by the store ([`validate`]); bad input is a typed
/// [`SaleError`], never a panic. Methods return `Send` futures so the server
/// can call them from any task.
///
/// Room ids are trusted (the caller authorised the seller for the room).
pub trait SaleStore: Send + Sync + 'static {
    /// Starts a sale in `room_id`; it is `scheduled` or, with
    /// `starts_in_secs == 0`, `live` at once.
    fn create_sale(
        &self,
        room_id: &str,
        sale: NewSale,
        now: UnixMillis,
    ) -> impl Future<Output = Result<SaleInfo, SaleError>> + Send;

    fn get_sale(
        &self,
        sale_id: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<SaleInfo, SaleError>> + Send;

    /// The room's most recently created sale (current or last), for snapshots.
    fn latest_sale(
        &self,
        room_id: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Option<SaleInfo>, SaleError>> + Send;

    /// Ends the sale now. Ending an ended sale changes nothing. Existing
    /// holds may still be confirmed until their deadlines.
    fn end_sale(
        &self,
        sale_id: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<SaleInfo, SaleError>> + Send;

    /// Tries to reserve units. Every answer a buyer may see is an `Ok`
    /// outcome, `unavailable` included; errors are for bad input
    /// (`invalid_value`) and unknown sales (`sale_not_found`).
    ///
    /// Rejections write nothing (so a sold-out storm costs no writes), which
    /// means only reservations are remembered by idempotency key: repeating
    /// a key that reserved answers `duplicate` with the original hold.
    fn buy(
        &self,
        request: &BuyRequest,
        now: UnixMillis,
    ) -> impl Future<Output = Result<BuyResult, SaleError>> + Send;

    /// Turns the buyer's hold into an order. Confirming an already confirmed
    /// hold returns the same order (safe to retry). After the deadline:
    /// `hold_expired` (and the units go back on sale if not already).
    fn confirm(
        &self,
        hold_id: &str,
        buyer_id: &str,
        shipping: &Shipping,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Order, SaleError>> + Send;

    /// Gives the buyer's held units back. Cancelling twice is harmless.
    fn cancel(
        &self,
        hold_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<(), SaleError>> + Send;

    /// Returns the units of every hold whose deadline is `<= now`, each hold
    /// exactly once however many sweepers race.
    fn expire_due(
        &self,
        sale_id: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<ExpiryReport, SaleError>> + Send;

    /// Sales a sweeper must visit: not yet ended, or with pending holds.
    fn active_sales(&self) -> impl Future<Output = Result<Vec<String>, SaleError>> + Send;

    /// The sale's orders, oldest first.
    fn orders_for_sale(
        &self,
        sale_id: &str,
    ) -> impl Future<Output = Result<Vec<Order>, SaleError>> + Send;

    /// Every order of every sale of the room, oldest first.
    fn orders_for_room(
        &self,
        room_id: &str,
    ) -> impl Future<Output = Result<Vec<Order>, SaleError>> + Send;

    /// `Ok` when the store can serve sales right now (for `/readyz`).
    fn health(&self) -> impl Future<Output = Result<(), SaleError>> + Send;
}

/// The store the server runs with, chosen by configuration (`store.kind`).
/// Enum dispatch keeps the trait's futures unboxed.
#[derive(Clone)]
pub enum AnySaleStore {
    Memory(MemorySaleStore),
    Redis(RedisSaleStore),
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnySaleStore::Memory($store) => $call.await,
            AnySaleStore::Redis($store) => $call.await,
        }
    };
}

impl SaleStore for AnySaleStore {
    async fn create_sale(
        &self,
        room_id: &str,
        sale: NewSale,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        dispatch!(self, s => s.create_sale(room_id, sale, now))
    }
    async fn get_sale(&self, sale_id: &str, now: UnixMillis) -> Result<SaleInfo, SaleError> {
        dispatch!(self, s => s.get_sale(sale_id, now))
    }
    async fn latest_sale(
        &self,
        room_id: &str,
        now: UnixMillis,
    ) -> Result<Option<SaleInfo>, SaleError> {
        dispatch!(self, s => s.latest_sale(room_id, now))
    }
    async fn end_sale(&self, sale_id: &str, now: UnixMillis) -> Result<SaleInfo, SaleError> {
        dispatch!(self, s => s.end_sale(sale_id, now))
    }
    async fn buy(&self, request: &BuyRequest, now: UnixMillis) -> Result<BuyResult, SaleError> {
        dispatch!(self, s => s.buy(request, now))
    }
    async fn confirm(
        &self,
        hold_id: &str,
        buyer_id: &str,
        shipping: &Shipping,
        now: UnixMillis,
    ) -> Result<Order, SaleError> {
        dispatch!(self, s => s.confirm(hold_id, buyer_id, shipping, now))
    }
    async fn cancel(
        &self,
        hold_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<(), SaleError> {
        dispatch!(self, s => s.cancel(hold_id, buyer_id, now))
    }
    async fn expire_due(&self, sale_id: &str, now: UnixMillis) -> Result<ExpiryReport, SaleError> {
        dispatch!(self, s => s.expire_due(sale_id, now))
    }
    async fn active_sales(&self) -> Result<Vec<String>, SaleError> {
        dispatch!(self, s => s.active_sales())
    }
    async fn orders_for_sale(&self, sale_id: &str) -> Result<Vec<Order>, SaleError> {
        dispatch!(self, s => s.orders_for_sale(sale_id))
    }
    async fn orders_for_room(&self, room_id: &str) -> Result<Vec<Order>, SaleError> {
        dispatch!(self, s => s.orders_for_room(room_id))
    }
    async fn health(&self) -> Result<(), SaleError> {
        dispatch!(self, s => s.health())
    }
}

/// The deadline of a hold made at `now` in a sale whose holds last `hold_secs`.
fn hold_deadline(now: UnixMillis, hold_secs: u32) -> UnixMillis {
    now.saturating_add(u64::from(hold_secs) * 1000)
}

/// Orders oldest first, ties by id, so both stores list them alike.
fn oldest_first(orders: &mut [Order]) {
    orders.sort_by(|a, b| (a.created_at, &a.order_id).cmp(&(b.created_at, &b.order_id)));
}
