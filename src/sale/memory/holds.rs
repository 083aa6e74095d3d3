//! Flash-sale holds in the memory store: reserving (`buy`), confirming a
//! hold into an order, giving one back, and the sweep that returns
//! expired holds and closes an ended sale — each one step under the
//! store's lock, every check before the first write.

use super::sale::{HoldEntry, HoldStatus};
use super::{MemorySaleStore, OrderPlace};
use crate::clock::UnixMillis;
use crate::sale::{
    hold_deadline, ids, validate, voucher, BuyOutcome, BuyRequest, BuyResult, Checkout,
    Confirmation, ExpiryReport, Hold, Order, OrderStatus, SaleError, SaleRef, SaleState,
};

impl MemorySaleStore {
    /// Reserves units of a sale (or answers why not).
    pub(super) fn reserve(
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

    /// Confirms a flash-sale hold (under the lock).
    pub(super) fn confirm_hold(
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
    pub(super) fn cancel_hold(
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

    /// Returns a sale's expired holds and closes it once it has ended.
    pub(super) fn expire_sale(
        &self,
        sale_ref: &SaleRef,
        now: UnixMillis,
    ) -> Result<ExpiryReport, SaleError> {
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
}
