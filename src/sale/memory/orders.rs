//! Orders after checkout and products' stock in the memory store: finding
//! an order by id, moving it along its life (`fulfilment::next`, under the
//! store's one lock, a cancellation giving its units back in the same step),
//! and each product's count outside any flash sale.

use super::bag::Bag;
use super::{MemorySaleStore, Sale, Sales};
use crate::clock::UnixMillis;
use crate::sale::bag::BAG;
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
        let orders = if place.sale_id == BAG {
            sales.bags.get(room_id).map(|bag| &bag.orders)
        } else {
            sales.by_id.get(&place.sale_id).map(|sale| &sale.orders)
        };
        orders
            .and_then(|orders| orders.get(place.index))
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
        let Sales {
            by_id, books, bags, ..
        } = &mut *sales;
        let (sale_id, index) = books
            .order_index
            .get(order_id)
            .filter(|place| place.room_id == room_id)
            .map(|place| (place.sale_id.clone(), place.index))
            .ok_or(SaleError::OrderNotFound)?;
        let missing = || SaleError::Internal("an indexed order's sale or bag is missing".into());
        let mut book = if sale_id == BAG {
            Book::Bag(bags.get_mut(room_id).ok_or_else(missing)?)
        } else {
            Book::Sale(by_id.get_mut(&sale_id).ok_or_else(missing)?)
        };
        let order = book
            .orders()
            .get(index)
            .cloned()
            .ok_or_else(|| SaleError::Internal("an indexed order is missing".into()))?;
        let Some(changed) = fulfilment::next(&order, change, actor, now)? else {
            return Ok(OrderUpdate {
                order,
                changed: false,
                returned_units: 0,
            });
        };
        let returned_units = fulfilment::units_returned(&order, &changed);
        if returned_units > 0 {
            match &mut book {
                Book::Sale(sale) => {
                    sale.give_back(returned_units, books);
                    for (units, key) in [
                        (&mut sale.units_by_buyer, &changed.buyer_id),
                        (&mut sale.units_by_phone, &changed.shipping.phone),
                    ] {
                        if let Some(count) = units.get_mut(key) {
                            *count = count.saturating_sub(returned_units);
                        }
                    }
                }
                Book::Bag(bag) => bag.return_order(room_id, &changed, books),
            }
            // Its voucher's use comes back too.
            if let Some(code) = &changed.voucher_code {
                let key = (room_id.to_owned(), code.clone());
                if let Some(book) = books.vouchers.get_mut(&key) {
                    book.give_back_use(&changed.buyer_id, &changed.shipping.phone);
                }
            }
        }
        if let Some(slot) = book.orders().get_mut(index) {
            *slot = changed.clone();
        }
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

/// Where an order lives: a sale's orders or the room's bag's.
enum Book<'a> {
    Sale(&'a mut Sale),
    Bag(&'a mut Bag),
}

impl Book<'_> {
    fn orders(&mut self) -> &mut Vec<Order> {
        match self {
            Book::Sale(sale) => &mut sale.orders,
            Book::Bag(bag) => &mut bag.orders,
        }
    }
}
