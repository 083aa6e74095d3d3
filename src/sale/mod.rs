//! Flash sales: stock, holds and orders, behind one seam.
//!
//! A seller starts a sale of one product in a live room; viewers `buy`
//! (which reserves units as a [`Hold`] with a deadline), then `confirm` the
//! hold with shipping details (which records an [`Order`]) or `cancel` it. A
//! hold that reaches its deadline gives its units back, exactly once, when the
//! [`sweeper`] (or a late confirm/cancel) finds it.
//!
//! Beside its flash sales each room has one shopping [`bag`]: catalog
//! products reserved at their regular price from the product's stock (each
//! a hold with a deadline, like a buy) and checked out together as one
//! order with lines.
//!
//! Every sale belongs to one room, and every operation that names a sale or a
//! hold takes the caller's room: a sale or hold of another room answers
//! exactly as if it did not exist. One sale runs in a room at a time, decided
//! inside the store's atomic step that creates it.
//!
//! [`SaleStore`] is the seam. Two implementations pass one conformance suite
//! (`tests/stores/sale_conformance.rs`):
//! - [`MemorySaleStore`]: one process, one mutex; the embedded default and
//!   practice rooms.
//! - [`RedisSaleStore`]: production and multi-node; every operation is one
//!   Redis Function call (`src/sale/redis/chophien.lua`) over a multiplexed
//!   connection, with AOF for durability. A room's sales share one hash tag,
//!   `{room:ID}`. Concurrent buys of one sale are group-committed: one atomic
//!   call carries a whole batch.
//!
//! Every order a store makes or changes is also handed to its
//! [`OrderJournal`] (the shop's webhook outbox), in the same atomic step
//! where the store has steps that can be cut short (Redis).
//!
//! Invariants, for both stores:
//! - Stock changes only inside a store's atomic operations, and in each the
//!   checks (room → idempotency → state → stock → per-buyer limit) precede
//!   every write.
//! - `remaining + units held + units ordered == stock_total`, always.
//! - A product's units are on hand (its stock), in a sale (carved out), in
//!   a bag hold, or ordered; never two of these, never none.
//! - An idempotency key (scoped to its buyer) reserves at most once.
//! - At most one sale of a room is scheduled, live or sold out at any time.
//! - Time comes from the caller (`now`, Unix ms), never from the store, so
//!   both stores agree and tests control the clock.

pub mod bag;
mod error;
pub mod fulfilment;
pub mod ids;
pub mod journal;
mod memory;
mod redis;
pub mod sweeper;
mod types;
pub mod validate;
pub mod voucher;

use std::future::Future;

pub use bag::{BagAdd, BagAddResult, OrderLine};
pub use error::SaleError;
pub use fulfilment::{
    Carrier, OrderActor, OrderChange, OrderStatus, OrderUpdate, PaymentMethod, Shipment,
};
pub use journal::{JournalEntry, OrderEventKind, OrderJournal};
pub use memory::MemorySaleStore;
pub(crate) use redis::{ended_room_sale_keys, ended_room_stock_keys, room_sale_keys};
pub use redis::{GroupCommit, RedisSaleStore, RedisStoreOptions};
pub use types::{
    BuyOutcome, BuyRequest, BuyResult, Checkout, Confirmation, ExpiryReport, Hold, NewSale, Order,
    SaleInfo, SaleRef, SaleState, SaleTimes, Shipping, DEFAULT_HOLD_SECS,
};
pub use voucher::{Discount, NewVoucher, Voucher};

use crate::clock::UnixMillis;

/// Where sales live. Every method is one atomic step of the store.
///
/// Inputs are validated by the store ([`validate`]); bad input is a typed
/// [`SaleError`], never a panic. Methods return `Send` futures so the server
/// can call them from any task.
///
/// **Rooms.** `room_id` is always the caller's room (from its verified
/// token), never a client's say. A room id that is not `[a-z0-9-]{1,64}` is
/// `invalid_value`. A sale or a hold of another room answers exactly as one
/// that does not exist (`sale_not_found`, `hold_not_found`): a token for one
/// room reaches nothing of another.
///
/// **Holds belong to their buyer.** Only the buyer who made a hold may
/// confirm or cancel it; anyone else, an admin included, gets `forbidden`.
pub trait SaleStore: Send + Sync + 'static {
    /// Starts a sale in `room_id`; it is `scheduled` or, with
    /// `starts_in_secs == 0`, `live` at once. Its units are carved out of
    /// its product's stock in the same step (`InsufficientStock` when the
    /// product has fewer); what is left goes back when the sale ends
    /// (`end_sale`, or the first sweep after `ends_at`), and so does
    /// anything that comes back to it after that.
    ///
    /// One sale runs in a room at a time: while the room's current sale is
    /// scheduled, live or sold out at `now`, this refuses with
    /// [`SaleError::SaleRunning`] and writes nothing. A sale that has ended
    /// (by time, or early) no longer counts. Decided inside the atomic step,
    /// so of concurrent starts in one room exactly one wins.
    fn create_sale(
        &self,
        room_id: &str,
        sale: NewSale,
        now: UnixMillis,
    ) -> impl Future<Output = Result<SaleInfo, SaleError>> + Send;

    fn get_sale(
        &self,
        room_id: &str,
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
        room_id: &str,
        sale_id: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<SaleInfo, SaleError>> + Send;

    /// Tries to reserve units of `request.sale_id`, a sale of `room_id`.
    /// Every answer a buyer may see is an `Ok` outcome, `unavailable`
    /// included; errors are for bad input (`invalid_value`) and unknown sales
    /// (`sale_not_found`).
    ///
    /// Rejections write nothing (so a sold-out storm costs no writes), which
    /// means only reservations are remembered by idempotency key: repeating
    /// a key that reserved answers `duplicate` with the original hold.
    fn buy(
        &self,
        room_id: &str,
        request: &BuyRequest,
        now: UnixMillis,
    ) -> impl Future<Output = Result<BuyResult, SaleError>> + Send;

    /// Turns the buyer's hold into an order, less `voucher`'s discount when
    /// one is given: the voucher's checks (valid now, uses or the buyer's
    /// claim left, not used by this buyer or this shipping phone, the
    /// order's minimum) and its use are part of the same atomic step.
    /// Confirming an already confirmed
    /// hold returns the same order with `created: false` (safe to retry);
    /// only the call that made the order says `created: true`. After the
    /// deadline: `hold_expired` (and the units go back on sale if not
    /// already). Someone else's hold: `forbidden`, whatever their role.
    fn confirm(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        checkout: &Checkout,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Confirmation, SaleError>> + Send;

    /// Puts `add.quantity` units of a catalog product in the buyer's bag:
    /// one atomic step reserves them from the product's stock as a bag hold
    /// (`reserved`), or answers `sold_out` (the product has fewer on hand),
    /// `limit_reached` (the buyer's bag holds and bag orders of it would pass
    /// `per_buyer_limit`) or `duplicate` (this idempotency key reserved
    /// already: the same hold). Like a buy, a refusal writes nothing, and
    /// `unavailable` means the store did not answer (retry with the key).
    fn add_to_bag(
        &self,
        room_id: &str,
        add: &BagAdd,
        now: UnixMillis,
    ) -> impl Future<Output = Result<BagAddResult, SaleError>> + Send;

    /// Checks the buyer's bag holds out as one order, all or nothing: every
    /// hold must be hers and open (`hold_not_found`, `hold_expired`,
    /// `forbidden` otherwise, and then nothing is ordered), every product's
    /// limit must hold for the shipping phone too (`limit_reached`), and a
    /// voucher applies to the whole subtotal with the same checks as in
    /// [`confirm`](SaleStore::confirm). The order has one line per hold;
    /// its `hold_id` is the first of the (sorted) holds. Checking the same
    /// holds out again returns that order with `created: false`.
    fn checkout_bag(
        &self,
        room_id: &str,
        buyer_id: &str,
        hold_ids: &[String],
        checkout: &Checkout,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Confirmation, SaleError>> + Send;

    /// Gives the buyer's held units back (a bag hold's to its product).
    /// Cancelling twice is harmless.
    /// Someone else's hold: `forbidden`, whatever their role.
    fn cancel(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<(), SaleError>> + Send;

    /// Returns the units of every hold whose deadline is `<= now`, each hold
    /// exactly once however many sweepers race. `sale` may name a room's
    /// bag (sale id [`bag::BAG`]): its holds' units go back to their products.
    fn expire_due(
        &self,
        sale: &SaleRef,
        now: UnixMillis,
    ) -> impl Future<Output = Result<ExpiryReport, SaleError>> + Send;

    /// Sales a sweeper must visit, in every room: not yet ended, or with
    /// pending holds; and bags with pending holds.
    fn active_sales(&self) -> impl Future<Output = Result<Vec<SaleRef>, SaleError>> + Send;

    /// The sale's orders (or, for [`bag::BAG`], the bag's), oldest first.
    fn orders_for_sale(
        &self,
        room_id: &str,
        sale_id: &str,
    ) -> impl Future<Output = Result<Vec<Order>, SaleError>> + Send;

    /// Every order of the room (its sales' and its bag's), oldest first.
    fn orders_for_room(
        &self,
        room_id: &str,
    ) -> impl Future<Output = Result<Vec<Order>, SaleError>> + Send;

    /// One order of the room, by its id; another room's order is
    /// `order_not_found`.
    fn order(
        &self,
        room_id: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<Order, SaleError>> + Send;

    /// The room an order belongs to, by the order's id alone (the order
    /// page, reached by order code and phone); `None` when no such order.
    fn order_room(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<String>, SaleError>> + Send;

    /// Moves an order of the room along its life ([`fulfilment::next`]
    /// decides whether `actor` may). A cancellation gives the order's units
    /// back to its sale (and frees the buyer's and the phone's per-buyer
    /// count) in the same atomic step, exactly once. Asking for the status
    /// the order has answers it with `changed: false`.
    fn update_order(
        &self,
        room_id: &str,
        order_id: &str,
        change: &OrderChange,
        actor: &OrderActor,
        now: UnixMillis,
    ) -> impl Future<Output = Result<OrderUpdate, SaleError>> + Send;

    /// The buyer's holds in the room's latest sale and in its bag that are
    /// still open at `now` (held, not confirmed, cancelled or expired),
    /// soonest deadline first: what a reloaded page shows again.
    fn open_holds(
        &self,
        room_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Vec<Hold>, SaleError>> + Send;

    /// The buyer's orders in the room (every sale of it, and the bag),
    /// oldest first:
    /// what a reloaded page shows again.
    fn buyer_orders(
        &self,
        room_id: &str,
        buyer_id: &str,
    ) -> impl Future<Output = Result<Vec<Order>, SaleError>> + Send;

    /// Units of a product of the room on hand outside any flash sale, as the
    /// store counts them; `None` until the store has seen the product (a
    /// sale of it, or the seller setting its stock).
    fn product_stock(
        &self,
        room_id: &str,
        product_id: &str,
    ) -> impl Future<Output = Result<Option<u32>, SaleError>> + Send;

    /// The seller sets a product's stock (units on hand outside any flash
    /// sale; a running sale's units are not part of it and come back when
    /// it ends).
    fn set_product_stock(
        &self,
        room_id: &str,
        product_id: &str,
        units: u32,
    ) -> impl Future<Output = Result<(), SaleError>> + Send;

    /// Creates a voucher in the room (`VoucherExists` for a code in use).
    fn create_voucher(
        &self,
        room_id: &str,
        voucher: NewVoucher,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Voucher, SaleError>> + Send;

    /// The room's vouchers with their counts, by code.
    fn vouchers(
        &self,
        room_id: &str,
    ) -> impl Future<Output = Result<Vec<Voucher>, SaleError>> + Send;

    /// Opens a drop voucher for claiming (`VoucherNotDropped` for one typed
    /// at checkout; `VoucherExpired` outside its window). Dropping twice is
    /// harmless.
    fn drop_voucher(
        &self,
        room_id: &str,
        code: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Voucher, SaleError>> + Send;

    /// The buyer claims a dropped voucher: of any number of concurrent
    /// claimers exactly `total_uses` succeed (`VoucherUsedUp` for the
    /// rest). Claiming again answers the same.
    fn claim_voucher(
        &self,
        room_id: &str,
        code: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> impl Future<Output = Result<Voucher, SaleError>> + Send;

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

impl AnySaleStore {
    /// Group-commit calls sent to Redis and the buys they carried, when
    /// this is the Redis store with group commit on.
    pub fn batch_totals(&self) -> Option<(u64, u64)> {
        match self {
            AnySaleStore::Memory(_) => None,
            AnySaleStore::Redis(store) => store.batch_totals(),
        }
    }
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
    async fn get_sale(
        &self,
        room_id: &str,
        sale_id: &str,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        dispatch!(self, s => s.get_sale(room_id, sale_id, now))
    }
    async fn latest_sale(
        &self,
        room_id: &str,
        now: UnixMillis,
    ) -> Result<Option<SaleInfo>, SaleError> {
        dispatch!(self, s => s.latest_sale(room_id, now))
    }
    async fn end_sale(
        &self,
        room_id: &str,
        sale_id: &str,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        dispatch!(self, s => s.end_sale(room_id, sale_id, now))
    }
    async fn buy(
        &self,
        room_id: &str,
        request: &BuyRequest,
        now: UnixMillis,
    ) -> Result<BuyResult, SaleError> {
        dispatch!(self, s => s.buy(room_id, request, now))
    }
    async fn confirm(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        dispatch!(self, s => s.confirm(room_id, hold_id, buyer_id, checkout, now))
    }
    async fn add_to_bag(
        &self,
        room_id: &str,
        add: &BagAdd,
        now: UnixMillis,
    ) -> Result<BagAddResult, SaleError> {
        dispatch!(self, s => s.add_to_bag(room_id, add, now))
    }
    async fn checkout_bag(
        &self,
        room_id: &str,
        buyer_id: &str,
        hold_ids: &[String],
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        dispatch!(self, s => s.checkout_bag(room_id, buyer_id, hold_ids, checkout, now))
    }
    async fn cancel(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<(), SaleError> {
        dispatch!(self, s => s.cancel(room_id, hold_id, buyer_id, now))
    }
    async fn expire_due(&self, sale: &SaleRef, now: UnixMillis) -> Result<ExpiryReport, SaleError> {
        dispatch!(self, s => s.expire_due(sale, now))
    }
    async fn active_sales(&self) -> Result<Vec<SaleRef>, SaleError> {
        dispatch!(self, s => s.active_sales())
    }
    async fn orders_for_sale(&self, room_id: &str, sale_id: &str) -> Result<Vec<Order>, SaleError> {
        dispatch!(self, s => s.orders_for_sale(room_id, sale_id))
    }
    async fn orders_for_room(&self, room_id: &str) -> Result<Vec<Order>, SaleError> {
        dispatch!(self, s => s.orders_for_room(room_id))
    }
    async fn open_holds(
        &self,
        room_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<Vec<Hold>, SaleError> {
        dispatch!(self, s => s.open_holds(room_id, buyer_id, now))
    }
    async fn buyer_orders(&self, room_id: &str, buyer_id: &str) -> Result<Vec<Order>, SaleError> {
        dispatch!(self, s => s.buyer_orders(room_id, buyer_id))
    }
    async fn order(&self, room_id: &str, order_id: &str) -> Result<Order, SaleError> {
        dispatch!(self, s => s.order(room_id, order_id))
    }
    async fn order_room(&self, order_id: &str) -> Result<Option<String>, SaleError> {
        dispatch!(self, s => s.order_room(order_id))
    }
    async fn update_order(
        &self,
        room_id: &str,
        order_id: &str,
        change: &OrderChange,
        actor: &OrderActor,
        now: UnixMillis,
    ) -> Result<OrderUpdate, SaleError> {
        dispatch!(self, s => s.update_order(room_id, order_id, change, actor, now))
    }
    async fn product_stock(
        &self,
        room_id: &str,
        product_id: &str,
    ) -> Result<Option<u32>, SaleError> {
        dispatch!(self, s => s.product_stock(room_id, product_id))
    }
    async fn set_product_stock(
        &self,
        room_id: &str,
        product_id: &str,
        units: u32,
    ) -> Result<(), SaleError> {
        dispatch!(self, s => s.set_product_stock(room_id, product_id, units))
    }
    async fn create_voucher(
        &self,
        room_id: &str,
        voucher: NewVoucher,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        dispatch!(self, s => s.create_voucher(room_id, voucher, now))
    }
    async fn vouchers(&self, room_id: &str) -> Result<Vec<Voucher>, SaleError> {
        dispatch!(self, s => s.vouchers(room_id))
    }
    async fn drop_voucher(
        &self,
        room_id: &str,
        code: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        dispatch!(self, s => s.drop_voucher(room_id, code, now))
    }
    async fn claim_voucher(
        &self,
        room_id: &str,
        code: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        dispatch!(self, s => s.claim_voucher(room_id, code, buyer_id, now))
    }
    async fn health(&self) -> Result<(), SaleError> {
        dispatch!(self, s => s.health())
    }
}

/// The deadline of a hold made at `now` in a sale whose holds last `hold_secs`.
fn hold_deadline(now: UnixMillis, hold_secs: u32) -> UnixMillis {
    now.saturating_add(u64::from(hold_secs) * 1000)
}

/// Holds by deadline, ties by id, so both stores list them alike.
fn soonest_first(holds: &mut [Hold]) {
    holds.sort_by(|a, b| (a.expires_at, &a.hold_id).cmp(&(b.expires_at, &b.hold_id)));
}

/// Orders oldest first, ties by id, so both stores list them alike.
fn oldest_first(orders: &mut [Order]) {
    orders.sort_by(|a, b| (a.created_at, &a.order_id).cmp(&(b.created_at, &b.order_id)));
}
