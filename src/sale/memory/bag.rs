//! Each room's shopping bag in the memory store (see `sale::bag`): bag
//! holds reserved from the room's product stock, released to it, and
//! checked out together as one order, each step under the store's one lock
//! with every check before the first write.

use std::collections::{BTreeSet, HashMap};

use super::{HoldStatus, MemorySaleStore, OrderPlace, RoomBooks, Sales};
use crate::clock::UnixMillis;
use crate::sale::bag::{self, BagAdd, BagAddResult, BagCheckout, BagHold, BAG};
use crate::sale::{
    hold_deadline, ids, validate, BuyOutcome, BuyResult, Checkout, Confirmation, ExpiryReport,
    Hold, Order, SaleError,
};

/// One room's bag.
#[derive(Default)]
pub(super) struct Bag {
    /// Every bag hold ever made, with its fate (a late checkout can say
    /// `hold_expired` rather than `hold_not_found`).
    holds: HashMap<String, BagEntry>,
    /// Pending holds by deadline, so a sweep touches only what is due.
    deadlines: BTreeSet<(UnixMillis, String)>,
    /// `(buyer, idempotency key)` → the hold that key reserved.
    reservations: HashMap<(String, String), String>,
    /// Each buyer's holds, oldest first (a join lists hers).
    holds_by_buyer: HashMap<String, Vec<String>>,
    /// `(product, buyer)` → units held or ordered from the bag: what a
    /// product's per-buyer limit counts.
    units_by_buyer: HashMap<(String, String), u32>,
    /// `(product, shipping phone)` → units ordered: the limit across
    /// identities (one person, two devices).
    units_by_phone: HashMap<(String, String), u32>,
    /// In creation order; the order index points into it.
    pub(super) orders: Vec<Order>,
    orders_by_buyer: HashMap<String, Vec<usize>>,
}

struct BagEntry {
    hold: BagHold,
    status: HoldStatus,
}

impl Bag {
    /// Gives a pending hold's units back to its product and marks it; the
    /// deadline entry's removal is what makes this happen once.
    fn release(&mut self, room_id: &str, hold_id: &str, status: HoldStatus, books: &mut RoomBooks) {
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
        let hold = &entry.hold;
        let key = (hold.product_id.clone(), hold.buyer_id.clone());
        if let Some(units) = self.units_by_buyer.get_mut(&key) {
            *units = units.saturating_sub(hold.quantity);
        }
        *books.stock_of(room_id, &hold.product_id) += hold.quantity;
    }

    /// A cancelled bag order's units go back to their products, and the
    /// buyer's and the phone's counts come down.
    pub(super) fn return_order(&mut self, room_id: &str, order: &Order, books: &mut RoomBooks) {
        for line in &order.lines {
            *books.stock_of(room_id, &line.product_id) += line.quantity;
            for (units, who) in [
                (&mut self.units_by_buyer, &order.buyer_id),
                (&mut self.units_by_phone, &order.shipping.phone),
            ] {
                if let Some(count) = units.get_mut(&(line.product_id.clone(), who.clone())) {
                    *count = count.saturating_sub(line.quantity);
                }
            }
        }
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.deadlines.is_empty()
    }

    pub(super) fn open_holds(
        &self,
        buyer_id: &str,
        now: UnixMillis,
    ) -> impl Iterator<Item = Hold> + '_ {
        self.holds_by_buyer
            .get(buyer_id)
            .into_iter()
            .flatten()
            .filter_map(|hold_id| self.holds.get(hold_id))
            .filter(move |entry| {
                matches!(entry.status, HoldStatus::Held) && entry.hold.expires_at > now
            })
            .map(|entry| entry.hold.hold())
    }

    pub(super) fn buyer_orders(&self, buyer_id: &str) -> impl Iterator<Item = &Order> + '_ {
        let mine = self.orders_by_buyer.get(buyer_id).into_iter().flatten();
        mine.filter_map(|&index| self.orders.get(index))
    }
}

impl MemorySaleStore {
    pub(super) fn bag_add(
        &self,
        room_id: &str,
        add: &BagAdd,
        now: UnixMillis,
    ) -> Result<BagAddResult, SaleError> {
        validate::room_id(room_id)?;
        validate::bag_add(add)?;
        let mut sales = self.inner.lock();
        let Sales { bags, books, .. } = &mut *sales;
        let bag = bags.entry(room_id.to_owned()).or_default();
        let product = (room_id.to_owned(), add.product_id.clone());
        let answer = |outcome, hold, stock| BagAddResult {
            result: BuyResult::held(outcome, hold),
            stock,
        };
        let key = (add.buyer_id.clone(), add.idempotency_key.clone());
        if let Some(hold_id) = bag.reservations.get(&key) {
            let hold = bag.holds.get(hold_id).map(|entry| entry.hold.hold());
            let stock = books.stock.get(&product).copied();
            return Ok(answer(BuyOutcome::Duplicate, hold, stock));
        }
        // The product's count starts from the catalog's the first time (and
        // a refusal writes nothing, not even that).
        let on_hand = books
            .stock
            .get(&product)
            .copied()
            .unwrap_or(add.product_stock);
        if on_hand < add.quantity {
            return Ok(answer(BuyOutcome::SoldOut, None, Some(on_hand)));
        }
        let counted = (add.product_id.clone(), add.buyer_id.clone());
        let had = bag.units_by_buyer.get(&counted).copied().unwrap_or(0);
        if add
            .per_buyer_limit
            .is_some_and(|limit| had + add.quantity > limit)
        {
            return Ok(answer(BuyOutcome::LimitReached, None, Some(on_hand)));
        }

        let hold = BagHold {
            hold_id: ids::new_hold_id(BAG),
            product_id: add.product_id.clone(),
            product_name: add.product_name.trim().to_owned(),
            unit_price_vnd: add.unit_price_vnd,
            quantity: add.quantity,
            expires_at: hold_deadline(now, add.hold_secs),
            buyer_id: add.buyer_id.clone(),
            buyer_name: add.buyer_name.clone(),
            per_buyer_limit: add.per_buyer_limit.unwrap_or(0),
        };
        let left = on_hand - add.quantity;
        books.stock.insert(product, left);
        *bag.units_by_buyer.entry(counted).or_default() += add.quantity;
        bag.reservations.insert(key, hold.hold_id.clone());
        bag.holds_by_buyer
            .entry(add.buyer_id.clone())
            .or_default()
            .push(hold.hold_id.clone());
        bag.deadlines
            .insert((hold.expires_at, hold.hold_id.clone()));
        let public = hold.hold();
        bag.holds.insert(
            hold.hold_id.clone(),
            BagEntry {
                hold,
                status: HoldStatus::Held,
            },
        );
        Ok(answer(BuyOutcome::Reserved, Some(public), Some(left)))
    }

    pub(super) fn bag_checkout(
        &self,
        room_id: &str,
        buyer_id: &str,
        hold_ids: &[String],
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        validate::room_id(room_id)?;
        let (shipping, payment, code) = validate::checkout(checkout)?;
        let ids = bag::checkout_holds(hold_ids)?;
        let mut sales = self.inner.lock();
        let Sales { bags, books, .. } = &mut *sales;
        let bag = bags.get_mut(room_id).ok_or(SaleError::HoldNotFound)?;

        // Every hold must exist and be hers; then a retry (the first hold
        // made the order) answers that order; then every hold must be open.
        let mut entries = Vec::with_capacity(ids.len());
        for hold_id in &ids {
            let entry = bag.holds.get(hold_id).ok_or(SaleError::HoldNotFound)?;
            if entry.hold.buyer_id != buyer_id {
                return Err(SaleError::Forbidden);
            }
            entries.push(entry);
        }
        if let HoldStatus::Confirmed(index) = entries[0].status {
            if let Some(order) = bag.orders.get(index).filter(|o| o.hold_id == ids[0]) {
                return Ok(Confirmation {
                    order: order.clone(),
                    created: false,
                });
            }
        }
        let mut holds = Vec::with_capacity(ids.len());
        let mut expired = None;
        for entry in entries {
            match entry.status {
                HoldStatus::Confirmed(_) | HoldStatus::Cancelled => {
                    return Err(SaleError::HoldNotFound)
                }
                HoldStatus::Expired => return Err(SaleError::HoldExpired),
                HoldStatus::Held if now >= entry.hold.expires_at => {
                    expired = Some(entry.hold.hold_id.clone());
                    break;
                }
                HoldStatus::Held => holds.push(entry.hold.clone()),
            }
        }
        if let Some(hold_id) = expired {
            bag.release(room_id, &hold_id, HoldStatus::Expired, books);
            return Err(SaleError::HoldExpired);
        }
        // Each product's limit holds for the shipping phone too.
        let mut by_product: HashMap<&str, (u32, u32)> = HashMap::new();
        for hold in &holds {
            let wanted = by_product.entry(&hold.product_id).or_default();
            wanted.0 += hold.quantity;
            wanted.1 = hold.per_buyer_limit;
        }
        for (product, (units, limit)) in &by_product {
            let key = (product.to_string(), shipping.phone.clone());
            let ordered = bag.units_by_phone.get(&key).copied().unwrap_or(0);
            if *limit > 0 && ordered + units > *limit {
                return Err(SaleError::LimitReached);
            }
        }
        let voucher = match &code {
            Some(code) => {
                let book = books
                    .vouchers
                    .get(&(room_id.to_owned(), code.clone()))
                    .ok_or(SaleError::VoucherNotFound)?;
                book.check_use(buyer_id, &shipping.phone, now)?;
                Some(&book.voucher)
            }
            None => None,
        };
        let order = bag::order(
            &holds,
            BagCheckout {
                order_id: ids::new_order_id(),
                shipping,
                payment,
                voucher,
                voucher_code: code.clone(),
                now,
            },
        )?;

        let index = bag.orders.len();
        for hold in &holds {
            if let Some(entry) = bag.holds.get_mut(&hold.hold_id) {
                entry.status = HoldStatus::Confirmed(index);
            }
            bag.deadlines
                .remove(&(hold.expires_at, hold.hold_id.clone()));
            let key = (hold.product_id.clone(), order.shipping.phone.clone());
            *bag.units_by_phone.entry(key).or_default() += hold.quantity;
        }
        if let Some(book) =
            code.and_then(|code| books.vouchers.get_mut(&(room_id.to_owned(), code)))
        {
            book.record_use(buyer_id, &order.shipping.phone);
        }
        books.order_index.insert(
            order.order_id.clone(),
            OrderPlace {
                room_id: room_id.to_owned(),
                sale_id: BAG.to_owned(),
                index,
            },
        );
        bag.orders_by_buyer
            .entry(buyer_id.to_owned())
            .or_default()
            .push(index);
        bag.orders.push(order.clone());
        Ok(Confirmation {
            order,
            created: true,
        })
    }

    pub(super) fn bag_cancel(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<(), SaleError> {
        validate::room_id(room_id)?;
        let mut sales = self.inner.lock();
        let Sales { bags, books, .. } = &mut *sales;
        let bag = bags.get_mut(room_id).ok_or(SaleError::HoldNotFound)?;
        let entry = bag.holds.get(hold_id).ok_or(SaleError::HoldNotFound)?;
        if entry.hold.buyer_id != buyer_id {
            return Err(SaleError::Forbidden);
        }
        match entry.status {
            HoldStatus::Cancelled => Ok(()),
            HoldStatus::Confirmed(_) => Err(SaleError::HoldNotFound),
            HoldStatus::Expired => Err(SaleError::HoldExpired),
            HoldStatus::Held if now >= entry.hold.expires_at => {
                bag.release(room_id, hold_id, HoldStatus::Expired, books);
                Err(SaleError::HoldExpired)
            }
            HoldStatus::Held => {
                bag.release(room_id, hold_id, HoldStatus::Cancelled, books);
                Ok(())
            }
        }
    }

    pub(super) fn bag_expire_due(
        &self,
        room_id: &str,
        now: UnixMillis,
    ) -> Result<ExpiryReport, SaleError> {
        validate::room_id(room_id)?;
        let mut sales = self.inner.lock();
        let Sales { bags, books, .. } = &mut *sales;
        let bag = bags.get_mut(room_id).ok_or(SaleError::SaleNotFound)?;
        let due: Vec<(UnixMillis, String)> = bag
            .deadlines
            .iter()
            .take_while(|(deadline, _)| *deadline <= now)
            .cloned()
            .collect();
        let mut returned = 0;
        let mut restocked: Vec<String> = Vec::new();
        for (_, hold_id) in &due {
            if let Some(entry) = bag.holds.get(hold_id) {
                returned += entry.hold.quantity;
                if !restocked.contains(&entry.hold.product_id) {
                    restocked.push(entry.hold.product_id.clone());
                }
            }
            bag.release(room_id, hold_id, HoldStatus::Expired, books);
        }
        Ok(ExpiryReport {
            sale_id: BAG.to_owned(),
            room_id: room_id.to_owned(),
            returned_units: 0,
            remaining: 0,
            retired: !bag.has_pending(),
            product_id: String::new(),
            to_product: returned,
            restocked,
        })
    }
}
