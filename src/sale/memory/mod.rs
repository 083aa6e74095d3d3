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

mod bag;
mod orders;
mod vouchers;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use super::bag::{is_bag_hold, BAG};
use super::{
    hold_deadline, ids, oldest_first, soonest_first, validate, voucher, BagAdd, BagAddResult,
    BuyOutcome, BuyRequest, BuyResult, Checkout, Confirmation, ExpiryReport, Hold, NewSale, Order,
    SaleError, SaleInfo, SaleRef, SaleState, SaleStore, SaleTimes,
};
use super::{NewVoucher, OrderActor, OrderChange, OrderStatus, OrderUpdate, Voucher};
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

struct Sale {
    /// The one room whose callers may see this sale and its holds.
    room_id: String,
    /// `state` in here is stale; [`Sale::info`] derives it on every read.
    info: SaleInfo,
    /// The seller ended the sale early.
    ended: bool,
    /// Units each buyer holds or has ordered (the per-buyer limit's count).
    units_by_buyer: HashMap<String, u32>,
    /// Each buyer's holds, oldest first, and her orders (indexes into
    /// `orders`): a join lists hers without walking everyone's.
    holds_by_buyer: HashMap<String, Vec<String>>,
    orders_by_buyer: HashMap<String, Vec<usize>>,
    /// Units ordered per normalised shipping phone: the per-buyer limit
    /// across identities (one person, two devices).
    units_by_phone: HashMap<String, u32>,
    /// `(buyer, idempotency key)` → the hold that key reserved.
    reservations: HashMap<(String, String), String>,
    /// Every hold ever made, with its fate, so a late confirm can say
    /// `hold_expired` rather than `hold_not_found`.
    holds: HashMap<String, HoldEntry>,
    /// Pending holds by deadline, so a sweep touches only what is due.
    deadlines: BTreeSet<(UnixMillis, String)>,
    /// In creation order.
    orders: Vec<Order>,
    /// Ended with no hold pending, as found by a sweep: no longer active.
    retired: bool,
    /// Ended and its leftover given back to the product (once): units that
    /// come back later go to the product too.
    closed: bool,
}

struct HoldEntry {
    /// What the buyer was given (also the answer to a duplicate buy).
    hold: Hold,
    /// Only this buyer may confirm or cancel.
    buyer_id: String,
    /// Copied onto the order.
    buyer_name: String,
    status: HoldStatus,
}

enum HoldStatus {
    Held,
    /// Index into `Sale::orders`.
    Confirmed(usize),
    Cancelled,
    Expired,
}

impl Sale {
    fn info(&self, now: UnixMillis) -> SaleInfo {
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
    fn give_back(&mut self, units: u32, books: &mut RoomBooks) {
        if self.closed {
            *books.stock_of(&self.room_id, &self.info.product_id) += units;
            self.info.returned_to_stock += units;
        } else {
            self.info.remaining += units;
        }
    }

    /// Closes an ended sale: what is left goes back to its product, once.
    fn close(&mut self, books: &mut RoomBooks) {
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
    fn release(&mut self, hold_id: &str, status: HoldStatus, books: &mut RoomBooks) {
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

    fn is_finished(&self, now: UnixMillis) -> bool {
        self.info(now).state == SaleState::Ended && self.deadlines.is_empty()
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

    /// Confirms a flash-sale hold (under the lock).
    fn confirm_hold(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        let (shipping, payment, voucher) = validate::checkout(checkout)?;
        let confirmation = self.with_hold(room_id, hold_id, buyer_id, |sale, books| {
            let Some(entry) = sale.holds.get_mut(hold_id) else {
                return Err(SaleError::HoldNotFound);
            };
            match entry.status {
                HoldStatus::Confirmed(index) => {
                    let order = sale.orders.get(index).cloned().ok_or_else(|| {
                        SaleError::Internal("a confirmed hold lost its order".into())
                    })?;
                    return Ok(Confirmation {
                        order,
                        created: false,
                    });
                }
                HoldStatus::Cancelled => return Err(SaleError::HoldNotFound),
                HoldStatus::Expired => return Err(SaleError::HoldExpired),
                HoldStatus::Held if now >= entry.hold.expires_at => {
                    sale.release(hold_id, HoldStatus::Expired, books);
                    return Err(SaleError::HoldExpired);
                }
                HoldStatus::Held => {}
            }
            let phone = shipping.phone.clone();
            let by_phone = sale.units_by_phone.get(&phone).copied().unwrap_or(0);
            if by_phone + entry.hold.quantity > sale.info.per_buyer_limit {
                return Err(SaleError::LimitReached);
            }
            // The voucher's checks, then (below, with the order) its use.
            let book = match &voucher {
                Some(code) => {
                    let key = (sale.room_id.clone(), code.clone());
                    let book = books.vouchers.get(&key).ok_or(SaleError::VoucherNotFound)?;
                    book.check_use(&entry.buyer_id, &phone, now)?;
                    Some(key)
                }
                None => None,
            };
            let definition = book
                .as_ref()
                .and_then(|key| books.vouchers.get(key))
                .map(|book| &book.voucher);
            let (discount_vnd, total_vnd) =
                voucher::price(definition, sale.info.price_vnd, entry.hold.quantity)?;
            let order = Order {
                order_id: ids::new_order_id(),
                sale_id: sale.info.id.clone(),
                hold_id: hold_id.to_owned(),
                buyer_id: entry.buyer_id.clone(),
                buyer_name: entry.buyer_name.clone(),
                product_name: sale.info.product_name.clone(),
                quantity: entry.hold.quantity,
                unit_price_vnd: sale.info.price_vnd,
                total_vnd,
                shipping,
                created_at: now,
                payment,
                voucher_code: voucher.clone(),
                discount_vnd,
                status: OrderStatus::Confirmed,
                shipment: None,
                history: Vec::new(),
                status_tag: ids::new_status_tag(),
                lines: Vec::new(),
            };
            entry.status = HoldStatus::Confirmed(sale.orders.len());
            sale.deadlines
                .remove(&(entry.hold.expires_at, hold_id.to_owned()));
            sale.orders_by_buyer
                .entry(order.buyer_id.clone())
                .or_default()
                .push(sale.orders.len());
            books.order_index.insert(
                order.order_id.clone(),
                OrderPlace {
                    room_id: sale.room_id.clone(),
                    sale_id: sale.info.id.clone(),
                    index: sale.orders.len(),
                },
            );
            if let Some(book) = book.and_then(|key| books.vouchers.get_mut(&key)) {
                book.record_use(&order.buyer_id, &phone);
            }
            sale.orders.push(order.clone());
            *sale.units_by_phone.entry(phone).or_default() += order.quantity;
            Ok(Confirmation {
                order,
                created: true,
            })
        })?;
        Ok(confirmation)
    }

    /// Gives a flash-sale hold back (under the lock).
    fn cancel_hold(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<(), SaleError> {
        self.with_hold(room_id, hold_id, buyer_id, |sale, books| {
            let Some(entry) = sale.holds.get(hold_id) else {
                return Err(SaleError::HoldNotFound);
            };
            match entry.status {
                HoldStatus::Cancelled => Ok(()),
                HoldStatus::Confirmed(_) => Err(SaleError::HoldNotFound),
                HoldStatus::Expired => Err(SaleError::HoldExpired),
                HoldStatus::Held if now >= entry.hold.expires_at => {
                    sale.release(hold_id, HoldStatus::Expired, books);
                    Err(SaleError::HoldExpired)
                }
                HoldStatus::Held => {
                    sale.release(hold_id, HoldStatus::Cancelled, books);
                    Ok(())
                }
            }
        })
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
        validate::buy_request(request)?;
        self.with_sale(room_id, &request.sale_id, |sale, _| {
            let key = (request.buyer_id.clone(), request.idempotency_key.clone());
            if let Some(hold_id) = sale.reservations.get(&key) {
                let hold = sale.holds.get(hold_id).map(|entry| entry.hold.clone());
                return Ok(BuyResult::held(BuyOutcome::Duplicate, hold));
            }
            let quantity = request.quantity;
            let rejection = match sale.info(now).state {
                SaleState::Ended => Some(BuyOutcome::Ended),
                SaleState::Scheduled => Some(BuyOutcome::NotStarted),
                _ if sale.info.remaining < quantity => Some(BuyOutcome::SoldOut),
                _ => {
                    let held = sale
                        .units_by_buyer
                        .get(&request.buyer_id)
                        .copied()
                        .unwrap_or(0);
                    (held + quantity > sale.info.per_buyer_limit)
                        .then_some(BuyOutcome::LimitReached)
                }
            };
            if let Some(outcome) = rejection {
                return Ok(BuyResult::rejected(outcome));
            }
            let hold = Hold {
                hold_id: ids::new_hold_id(&sale.info.id),
                sale_id: sale.info.id.clone(),
                quantity,
                expires_at: hold_deadline(now, sale.info.hold_secs),
                product_id: None,
                unit_price_vnd: None,
            };
            sale.info.remaining -= quantity;
            *sale
                .units_by_buyer
                .entry(request.buyer_id.clone())
                .or_default() += quantity;
            sale.reservations.insert(key, hold.hold_id.clone());
            sale.holds_by_buyer
                .entry(request.buyer_id.clone())
                .or_default()
                .push(hold.hold_id.clone());
            sale.deadlines
                .insert((hold.expires_at, hold.hold_id.clone()));
            sale.holds.insert(
                hold.hold_id.clone(),
                HoldEntry {
                    hold: hold.clone(),
                    buyer_id: request.buyer_id.clone(),
                    buyer_name: request.buyer_name.clone(),
                    status: HoldStatus::Held,
                },
            );
            Ok(BuyResult::held(BuyOutcome::Reserved, Some(hold)))
        })
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
        self.with_sale(&sale_ref.room_id, &sale_ref.sale_id, |sale, books| {
            let product = (sale.room_id.clone(), sale.info.product_id.clone());
            let stock_before = books.stock.get(&product).copied().unwrap_or(0);
            let due: Vec<String> = sale
                .deadlines
                .iter()
                .take_while(|(deadline, _)| *deadline <= now)
                .map(|(_, hold_id)| hold_id.clone())
                .collect();
            let before = sale.info.remaining;
            for hold_id in &due {
                sale.release(hold_id, HoldStatus::Expired, books);
            }
            let returned_units = sale.info.remaining - before;
            if sale.info(now).state == SaleState::Ended {
                sale.close(books);
            }
            let stock_after = books.stock.get(&product).copied().unwrap_or(0);
            let to_product = stock_after - stock_before;
            Ok(ExpiryReport {
                sale_id: sale_ref.sale_id.clone(),
                room_id: sale.room_id.clone(),
                returned_units,
                remaining: sale.info.remaining,
                restocked: if to_product > 0 {
                    vec![product.1.clone()]
                } else {
                    Vec::new()
                },
                product_id: product.1,
                to_product,
                retired: {
                    sale.retired = sale.is_finished(now);
                    sale.retired
                },
            })
        })
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
