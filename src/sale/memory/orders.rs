//! Orders after checkout and products' stock in the memory store: finding
//! an order by id, moving it along its life (`fulfilment::next`, under the
//! store's one lock, a cancellation giving its units back in the same step),
//! and each product's count outside any flash sale.

use super::{MemorySaleStore, Sales};
use crate::clock::UnixMillis;
use crate::sale::{fulfilment, validate, Order, OrderActor, OrderChange, OrderUpdate, SaleError};

impl MemorySaleStore {
    pub(super) fn find_order(&self, room_id: &str, order_id: &str) -> Result<Order, SaleError> {
        validate::room_id(room_id)?;
        let sales = self.inner.lock();
        let place = sales
            .books
            .order_index
            .get(order_id)
            .filter(|place| place.room_id == room_id)
            .ok_or(SaleError::OrderNotFound)?;
        sales
            .by_id
            .get(&place.sale_id)
            .and_then(|sale| sale.orders.get(place.index))
            .cloned()
            .ok_or_else(|| SaleError::Internal("an indexed order is missing".into()))
    }

    pub(super) fn room_of_order(&self, order_id: &str) -> Result<Option<String>, SaleError> {
        let sales = self.inner.lock();
        Ok(sales
            .books
            .order_index
            .get(order_id)
            .map(|place| place.room_id.clone()))
    }

    pub(super) fn change_order(
        &self,
        room_id: &str,
        order_id: &str,
        change: &OrderChange,
        actor: &OrderActor,
        now: UnixMillis,
    ) -> Result<OrderUpdate, SaleError> {
        validate::room_id(room_id)?;
        let mut sales = self.inner.lock();
        let Sales { by_id, books, .. } = &mut *sales;
        let (sale_id, index) = books
            .order_index
            .get(order_id)
            .filter(|place| place.room_id == room_id)
            .map(|place| (place.sale_id.clone(), place.index))
            .ok_or(SaleError::OrderNotFound)?;
        let sale = by_id
            .get_mut(&sale_id)
            .ok_or_else(|| SaleError::Internal("an indexed order's sale is missing".into()))?;
        let order = sale
            .orders
            .get(index)
            .ok_or_else(|| SaleError::Internal("an indexed order is missing".into()))?;
        let Some(changed) = fulfilment::next(order, change, actor, now)? else {
            return Ok(OrderUpdate {
                order: order.clone(),
                changed: false,
                returned_units: 0,
            });
        };
        let returned_units = fulfilment::units_returned(order, &changed);
        if returned_units > 0 {
            sale.give_back(returned_units, books);
            for (units, key) in [
                (&mut sale.units_by_buyer, &changed.buyer_id),
                (&mut sale.units_by_phone, &changed.shipping.phone),
            ] {
                if let Some(count) = units.get_mut(key) {
                    *count = count.saturating_sub(returned_units);
                }
            }
            // Its voucher's use comes back too.
            if let Some(code) = &changed.voucher_code {
                let key = (room_id.to_owned(), code.clone());
                if let Some(book) = books.vouchers.get_mut(&key) {
                    book.give_back_use(&changed.buyer_id, &changed.shipping.phone);
                }
            }
        }
        sale.orders[index] = changed.clone();
        Ok(OrderUpdate {
            order: changed,
            changed: true,
            returned_units,
        })
    }

    pub(super) fn stock_of_product(
        &self,
        room_id: &str,
        product_id: &str,
    ) -> Result<Option<u32>, SaleError> {
        validate::room_id(room_id)?;
        let sales = self.inner.lock();
        let key = (room_id.to_owned(), product_id.to_owned());
        Ok(sales.books.stock.get(&key).copied())
    }

    pub(super) fn set_stock_of_product(
        &self,
        room_id: &str,
        product_id: &str,
        units: u32,
    ) -> Result<(), SaleError> {
        validate::room_id(room_id)?;
        validate::product_stock(product_id, units)?;
        *self.inner.lock().books.stock_of(room_id, product_id) = units;
        Ok(())
    }
}
