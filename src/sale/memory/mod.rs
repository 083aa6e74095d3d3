//! The in-memory sale store: every sale in one process, behind one mutex.
//!
//! The embedded default (no Redis needed) and the store of practice rooms.
//! Each operation takes the lock once, does all its checks and then all its
//! writes, and releases it: the same atomicity the Redis functions get from
//! Redis running one function at a time. Nothing survives a restart.
//!
//! Sales are kept by id across rooms; every lookup checks the sale's room
//! against the caller's, so another room's sale or hold is not found (in
//! Redis the same falls out of the room-tagged key names).
//!
//! This file: the store, its books and the `SaleStore` surface. `sale.rs`:
//! one sale and how units come back to it; `holds.rs`: buys, confirmations,
//! cancels and the sweep; `bag.rs`, `orders.rs`, `vouchers.rs`: the bag,
//! orders after checkout and products' stock, vouchers.

mod bag;
mod holds;
mod orders;
mod sale;
mod vouchers;

use sale::{HoldStatus, Sale};

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use super::bag::{is_bag_hold, BAG};
use super::{
    ids, oldest_first, soonest_first, validate, BagAdd, BagAddResult, BuyRequest, BuyResult,
    Checkout, Confirmation, ExpiryReport, Hold, NewSale, Order, SaleError, SaleInfo, SaleRef,
    SaleState, SaleStore,
};
use super::{NewVoucher, OrderActor, OrderChange, OrderUpdate, Voucher};
use super::{OrderEventKind, OrderJournal};
use crate::clock::UnixMillis;

/// Cheap to clone; clones share the sales.
#[derive(Clone, Default)]
pub struct MemorySaleStore {
    /// A `parking_lot` mutex, not a tokio one: no `.await` happens while it is
    /// held, and every operation is a few map updates.
    inner: Arc<Mutex<Sales>>,
    /// Told of every order made or changed, after the step (one process:
    /// nothing to survive between the two).
    journal: Option<Arc<dyn OrderJournal>>,
}

#[derive(Default)]
struct Sales {
    /// Every sale ever created in this process (orders are kept for the
    /// seller's export, so sales are never dropped).
    by_id: HashMap<String, Sale>,
    /// Sale ids per room in creation order. The last is the room's latest,
    /// and the only one that may still be running (a sale is created only
    /// once the previous one has ended).
    by_room: HashMap<String, Vec<String>>,
    /// What a sale's operations may touch beyond the sale itself.
    books: RoomBooks,
    /// Each room's shopping bag, made at its first bag hold.
    bags: HashMap<String, bag::Bag>,
}

/// The records of every room that its sales' operations update beside the
/// sale (in Redis: the room's `order_index` and `stock` hashes).
#[derive(Default)]
struct RoomBooks {
    /// Order id → its room, sale and index in the sale's `orders`: how an
    /// order is found by its id (the seller's changes, the order page).
    order_index: HashMap<String, OrderPlace>,
    /// `(room, product)` → units on hand outside any flash sale.
    stock: HashMap<(String, String), u32>,
    /// `(room, code)` → a voucher and who claimed or used it.
    vouchers: HashMap<(String, String), vouchers::VoucherBook>,
}

struct OrderPlace {
    room_id: String,
    sale_id: String,
    index: usize,
}

impl Sales {
    /// Is the room's latest sale scheduled, live or sold out at `now`?
    fn running_in(&self, room_id: &str, now: UnixMillis) -> bool {
        self.by_room
            .get(room_id)
            .and_then(|ids| ids.last())
            .and_then(|id| self.by_id.get(id))
            .is_some_and(|sale| sale.info(now).state != SaleState::Ended)
    }
}

impl RoomBooks {
    /// A product's count, created at 0 (callers seed it first when a
    /// catalog value applies).
    fn stock_of(&mut self, room_id: &str, product_id: &str) -> &mut u32 {
        self.stock
            .entry((room_id.to_owned(), product_id.to_owned()))
            .or_default()
    }
}

impl MemorySaleStore {
    pub fn new() -> MemorySaleStore {
        MemorySaleStore::default()
    }

    /// The store, telling `journal` of every order it makes or changes.
    pub fn with_journal(mut self, journal: Arc<dyn OrderJournal>) -> MemorySaleStore {
        self.journal = Some(journal);
        self
    }

    /// Tells the journal of an order this store has just made or changed.
    async fn journal(&self, room_id: &str, kind: OrderEventKind, order: &Order, now: UnixMillis) {
        let Some(journal) = &self.journal else {
            return;
        };
        if let Some(entry) = journal.prepare(room_id, kind, order, now).await {
            journal.committed(room_id, entry).await;
        }
    }

    /// A confirmation, journaled when it made the order.
    async fn journaled(
        &self,
        room_id: &str,
        confirmed: Result<Confirmation, SaleError>,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        if let Ok(confirmation) = &confirmed {
            if confirmation.created {
                let order = &confirmation.order;
                self.journal(room_id, OrderEventKind::Created, order, now)
                    .await;
            }
        }
        confirmed
    }

    /// Runs `f` on a sale of `room_id`, under the lock. Another room's sale
    /// is not found.
    fn with_sale<T>(
        &self,
        room_id: &str,
        sale_id: &str,
        f: impl FnOnce(&mut Sale, &mut RoomBooks) -> Result<T, SaleError>,
    ) -> Result<T, SaleError> {
        validate::room_id(room_id)?;
        let mut sales = self.inner.lock();
        let Sales { by_id, books, .. } = &mut *sales;
        let sale = by_id
            .get_mut(sale_id)
            .filter(|sale| sale.room_id == room_id)
            .ok_or(SaleError::SaleNotFound)?;
        f(sale, books)
    }

    /// Runs `f` on the sale of a hold of `room_id` owned by `buyer_id`, under
    /// the lock. Another room's hold is not found; another buyer's is
    /// forbidden.
    fn with_hold<T>(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        f: impl FnOnce(&mut Sale, &mut RoomBooks) -> Result<T, SaleError>,
    ) -> Result<T, SaleError> {
        validate::room_id(room_id)?;
        let sale_id = ids::sale_of_hold(hold_id).ok_or(SaleError::HoldNotFound)?;
        let mut sales = self.inner.lock();
        let Sales { by_id, books, .. } = &mut *sales;
        let sale = by_id
            .get_mut(sale_id)
            .filter(|sale| sale.room_id == room_id)
            .ok_or(SaleError::HoldNotFound)?;
        let entry = sale.holds.get(hold_id).ok_or(SaleError::HoldNotFound)?;
        if entry.buyer_id != buyer_id {
            return Err(SaleError::Forbidden);
        }
        f(sale, books)
    }
}

impl SaleStore for MemorySaleStore {
    async fn create_sale(
        &self,
        room_id: &str,
        sale: NewSale,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        validate::room_id(room_id)?;
        let sale = validate::new_sale(sale)?;
        let starts_at = now + u64::from(sale.starts_in_secs) * 1000;
        let product = (room_id.to_owned(), sale.product_id.clone());
        let seed = sale.product_stock;
        let info = SaleInfo {
            id: ids::new_sale_id(),
            product_id: sale.product_id,
            product_name: sale.product_name,
            price_vnd: sale.price_vnd,
            stock_total: sale.stock,
            remaining: sale.stock,
            returned_to_stock: 0,
            per_buyer_limit: sale.per_buyer_limit,
            state: SaleState::Scheduled,
            starts_at,
            ends_at: starts_at + u64::from(sale.duration_secs) * 1000,
            hold_secs: sale.hold_secs,
        };
        let record = Sale {
            room_id: room_id.to_owned(),
            info,
            ended: false,
            units_by_buyer: HashMap::new(),
            holds_by_buyer: HashMap::new(),
            orders_by_buyer: HashMap::new(),
            units_by_phone: HashMap::new(),
            reservations: HashMap::new(),
            holds: HashMap::new(),
            deadlines: BTreeSet::new(),
            orders: Vec::new(),
            retired: false,
            closed: false,
        };
        let info = record.info(now);
        let mut sales = self.inner.lock();
        if sales.running_in(room_id, now) {
            return Err(SaleError::SaleRunning);
        }
        // The product's count starts from the catalog's the first time (and
        // a refusal writes nothing, not even that).
        let on_hand = sales.books.stock.get(&product).copied().unwrap_or(seed);
        if on_hand < info.stock_total {
            return Err(SaleError::InsufficientStock { available: on_hand });
        }
        sales
            .books
            .stock
            .insert(product, on_hand - info.stock_total);
        sales
            .by_room
            .entry(room_id.to_owned())
            .or_default()
            .push(info.id.clone());
        sales.by_id.insert(info.id.clone(), record);
        Ok(info)
    }

    async fn get_sale(
        &self,
        room_id: &str,
        sale_id: &str,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        self.with_sale(room_id, sale_id, |sale, _| Ok(sale.info(now)))
    }

    async fn latest_sale(
        &self,
        room_id: &str,
        now: UnixMillis,
    ) -> Result<Option<SaleInfo>, SaleError> {
        validate::room_id(room_id)?;
        let sales = self.inner.lock();
        let latest = sales.by_room.get(room_id).and_then(|ids| ids.last());
        Ok(latest
            .and_then(|id| sales.by_id.get(id))
            .map(|sale| sale.info(now)))
    }

    async fn end_sale(
        &self,
        room_id: &str,
        sale_id: &str,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        self.with_sale(room_id, sale_id, |sale, books| {
            if sale.info(now).state != SaleState::Ended {
                sale.ended = true;
                sale.info.ends_at = sale.info.ends_at.min(now);
            }
            sale.close(books);
            Ok(sale.info(now))
        })
    }

    async fn buy(
        &self,
        room_id: &str,
        request: &BuyRequest,
        now: UnixMillis,
    ) -> Result<BuyResult, SaleError> {
        self.reserve(room_id, request, now)
    }

    async fn confirm(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        let confirmed = if is_bag_hold(hold_id) {
            let holds = [hold_id.to_owned()];
            self.bag_checkout(room_id, buyer_id, &holds, checkout, now)
        } else {
            self.confirm_hold(room_id, hold_id, buyer_id, checkout, now)
        };
        self.journaled(room_id, confirmed, now).await
    }

    async fn add_to_bag(
        &self,
        room_id: &str,
        add: &BagAdd,
        now: UnixMillis,
    ) -> Result<BagAddResult, SaleError> {
        self.bag_add(room_id, add, now)
    }

    async fn checkout_bag(
        &self,
        room_id: &str,
        buyer_id: &str,
        hold_ids: &[String],
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        let confirmed = self.bag_checkout(room_id, buyer_id, hold_ids, checkout, now);
        self.journaled(room_id, confirmed, now).await
    }

    async fn cancel(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<(), SaleError> {
        if is_bag_hold(hold_id) {
            return self.bag_cancel(room_id, hold_id, buyer_id, now);
        }
        self.cancel_hold(room_id, hold_id, buyer_id, now)
    }

    async fn expire_due(
        &self,
        sale_ref: &SaleRef,
        now: UnixMillis,
    ) -> Result<ExpiryReport, SaleError> {
        if sale_ref.sale_id == BAG {
            return self.bag_expire_due(&sale_ref.room_id, now);
        }
        self.expire_sale(sale_ref, now)
    }

    async fn active_sales(&self) -> Result<Vec<SaleRef>, SaleError> {
        let sales = self.inner.lock();
        let bags = sales.bags.iter().filter(|(_, bag)| bag.has_pending());
        Ok(sales
            .by_id
            .iter()
            .filter(|(_, sale)| !sale.retired)
            .map(|(id, sale)| SaleRef::new(sale.room_id.clone(), id.clone()))
            .chain(bags.map(|(room_id, _)| SaleRef::new(room_id.clone(), BAG)))
            .collect())
    }

    async fn orders_for_sale(&self, room_id: &str, sale_id: &str) -> Result<Vec<Order>, SaleError> {
        if sale_id == BAG {
            validate::room_id(room_id)?;
            let sales = self.inner.lock();
            let bag = sales.bags.get(room_id);
            let mut orders = bag.map(|bag| bag.orders.clone()).unwrap_or_default();
            oldest_first(&mut orders);
            return Ok(orders);
        }
        let mut orders = self.with_sale(room_id, sale_id, |sale, _| Ok(sale.orders.clone()))?;
        oldest_first(&mut orders);
        Ok(orders)
    }

    async fn orders_for_room(&self, room_id: &str) -> Result<Vec<Order>, SaleError> {
        validate::room_id(room_id)?;
        let sales = self.inner.lock();
        let ids = sales
            .by_room
            .get(room_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut orders: Vec<Order> = ids
            .iter()
            .filter_map(|id| sales.by_id.get(id))
            .flat_map(|sale| sale.orders.iter().cloned())
            .chain(
                sales
                    .bags
                    .get(room_id)
                    .into_iter()
                    .flat_map(|bag| bag.orders.iter().cloned()),
            )
            .collect();
        oldest_first(&mut orders);
        Ok(orders)
    }

    async fn open_holds(
        &self,
        room_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<Vec<Hold>, SaleError> {
        validate::room_id(room_id)?;
        let sales = self.inner.lock();
        let latest = sales.by_room.get(room_id).and_then(|ids| ids.last());
        let in_sale = latest
            .and_then(|id| sales.by_id.get(id))
            .into_iter()
            .flat_map(|sale| {
                let mine = sale.holds_by_buyer.get(buyer_id).into_iter().flatten();
                mine.filter_map(|hold_id| sale.holds.get(hold_id))
            })
            .filter(|entry| matches!(entry.status, HoldStatus::Held))
            .filter(|entry| entry.hold.expires_at > now)
            .map(|entry| entry.hold.clone());
        let in_bag = sales.bags.get(room_id).into_iter();
        let mut open: Vec<Hold> = in_sale
            .chain(in_bag.flat_map(|bag| bag.open_holds(buyer_id, now)))
            .collect();
        soonest_first(&mut open);
        Ok(open)
    }

    async fn buyer_orders(&self, room_id: &str, buyer_id: &str) -> Result<Vec<Order>, SaleError> {
        validate::room_id(room_id)?;
        let sales = self.inner.lock();
        let mut orders: Vec<Order> = sales
            .by_room
            .get(room_id)
            .into_iter()
            .flatten()
            .filter_map(|id| sales.by_id.get(id))
            .flat_map(|sale| {
                let mine = sale.orders_by_buyer.get(buyer_id).into_iter().flatten();
                mine.filter_map(|&index| sale.orders.get(index))
            })
            .chain(
                sales
                    .bags
                    .get(room_id)
                    .into_iter()
                    .flat_map(|bag| bag.buyer_orders(buyer_id)),
            )
            .cloned()
            .collect();
        oldest_first(&mut orders);
        Ok(orders)
    }

    async fn order(&self, room_id: &str, order_id: &str) -> Result<Order, SaleError> {
        self.find_order(room_id, order_id)
    }

    async fn order_room(&self, order_id: &str) -> Result<Option<String>, SaleError> {
        self.room_of_order(order_id)
    }

    async fn update_order(
        &self,
        room_id: &str,
        order_id: &str,
        change: &OrderChange,
        actor: &OrderActor,
        now: UnixMillis,
    ) -> Result<OrderUpdate, SaleError> {
        let update = self.change_order(room_id, order_id, change, actor, now)?;
        if update.changed {
            let kind = OrderEventKind::of_change(&update.order);
            self.journal(room_id, kind, &update.order, now).await;
        }
        Ok(update)
    }

    async fn product_stock(
        &self,
        room_id: &str,
        product_id: &str,
    ) -> Result<Option<u32>, SaleError> {
        self.stock_of_product(room_id, product_id)
    }

    async fn set_product_stock(
        &self,
        room_id: &str,
        product_id: &str,
        units: u32,
    ) -> Result<(), SaleError> {
        self.set_stock_of_product(room_id, product_id, units)
    }

    async fn create_voucher(
        &self,
        room_id: &str,
        voucher: NewVoucher,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        self.add_voucher(room_id, voucher, now)
    }

    async fn vouchers(&self, room_id: &str) -> Result<Vec<Voucher>, SaleError> {
        self.list_vouchers(room_id)
    }

    async fn drop_voucher(
        &self,
        room_id: &str,
        code: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        self.open_voucher(room_id, code, now)
    }

    async fn claim_voucher(
        &self,
        room_id: &str,
        code: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        self.take_voucher(room_id, code, buyer_id, now)
    }

    async fn health(&self) -> Result<(), SaleError> {
        Ok(())
    }
}
