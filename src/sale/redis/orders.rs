//! Orders after checkout and products' stock in the Redis store: an order
//! found by id (the room's `order_index`, or the untagged
//! `chophien:order:<id>` for the order page), moved along its life by
//! reading it, applying `fulfilment::next` in Rust and writing through
//! `chophien_update_order` (a compare-and-set on the stored JSON that also
//! gives a cancelled order's units back), and each product's count outside
//! any flash sale (`{room:R}:stock`).

use super::codec::{internal, parse_json, refusal, split_reply, RoomKeys, SaleKeys};
use super::RedisSaleStore;
use crate::clock::UnixMillis;
use crate::sale::{
    fulfilment, ids, validate, Order, OrderActor, OrderChange, OrderEventKind, OrderUpdate,
    SaleError, SaleRef,
};

/// Reads and compare-and-set writes one order change may try before
/// giving up (each retry means another change of the same order won).
const UPDATE_ATTEMPTS: usize = 5;

/// `chophien:order:<order id>` → its room id. Not tagged: the order page
/// finds an order by its id alone.
pub(super) fn order_room_key(order_id: &str) -> String {
    format!("chophien:order:{order_id}")
}

impl RedisSaleStore {
    /// An order of `room_id` by id, with its sale.
    async fn order_with_sale(
        &self,
        room_id: &str,
        order_id: &str,
    ) -> Result<(SaleRef, Order), SaleError> {
        let (sale, order, _) = self.find_order_raw(room_id, order_id).await?;
        Ok((sale, order))
    }

    /// An order of `room_id` by id, with its sale and its stored JSON (what
    /// `chophien_update_order` compares): the order index names the hold,
    /// the hold id names the sale.
    async fn find_order_raw(
        &self,
        room_id: &str,
        order_id: &str,
    ) -> Result<(SaleRef, Order, String), SaleError> {
        validate::room_id(room_id)?;
        if !ids::is_order_id(order_id) {
            return Err(SaleError::OrderNotFound);
        }
        let hold_id: Option<String> = self
            .run(
                redis::cmd("HGET")
                    .arg(RoomKeys::new(room_id).order_index)
                    .arg(order_id),
            )
            .await?;
        let hold_id = hold_id.ok_or(SaleError::OrderNotFound)?;
        let sale = Self::sale_of_hold(room_id, &hold_id)
            .map_err(|_| internal("the order index names a malformed hold"))?;
        let raw: Option<String> = self
            .run(
                redis::cmd("HGET")
                    .arg(SaleKeys::new(room_id, &sale.sale_id).orders())
                    .arg(&hold_id),
            )
            .await?;
        let raw = raw.ok_or_else(|| internal("an indexed order is missing"))?;
        let order: Order = parse_json(&raw)?;
        Ok((sale, order, raw))
    }

    pub(super) async fn find_order(
        &self,
        room_id: &str,
        order_id: &str,
    ) -> Result<Order, SaleError> {
        Ok(self.order_with_sale(room_id, order_id).await?.1)
    }

    pub(super) async fn room_of_order(&self, order_id: &str) -> Result<Option<String>, SaleError> {
        if !ids::is_order_id(order_id) {
            return Ok(None);
        }
        self.run(redis::cmd("GET").arg(order_room_key(order_id)))
            .await
    }

    pub(super) async fn change_order(
        &self,
        room_id: &str,
        order_id: &str,
        change: &OrderChange,
        actor: &OrderActor,
        now: UnixMillis,
    ) -> Result<OrderUpdate, SaleError> {
        // Read, apply the rule in Rust, write only if nothing changed in
        // between (the function compares the stored JSON). A conflict means
        // another change won the race: read again and decide again.
        for _ in 0..UPDATE_ATTEMPTS {
            let (sale, order, raw) = self.find_order_raw(room_id, order_id).await?;
            let Some(changed) = fulfilment::next(&order, change, actor, now)? else {
                return Ok(OrderUpdate {
                    order,
                    changed: false,
                    returned_units: 0,
                });
            };
            let returned_units = fulfilment::units_returned(&order, &changed);
            let written = serde_json::to_string(&changed).map_err(internal)?;
            let returned = returned_units.to_string();
            let kind = OrderEventKind::of_change(&changed);
            let entry = self.journal_entry(room_id, kind, &changed, now).await;
            let (outcome, _) = split_reply(
                self.call_journaled(
                    "chophien_update_order",
                    &sale,
                    now,
                    &[&order.hold_id, &raw, &written, &returned],
                    entry.as_ref(),
                )
                .await?,
            )?;
            match outcome.as_str() {
                "ok" => {
                    self.journal_committed(room_id, entry).await;
                    return Ok(OrderUpdate {
                        order: changed,
                        changed: true,
                        returned_units,
                    });
                }
                "conflict" => continue,
                other => return Err(refusal(other)),
            }
        }
        Err(SaleError::Unavailable(
            "the order kept changing while it was being updated; try again".into(),
        ))
    }

    pub(super) async fn stock_of_product(
        &self,
        room_id: &str,
        product_id: &str,
    ) -> Result<Option<u32>, SaleError> {
        validate::room_id(room_id)?;
        self.run(
            redis::cmd("HGET")
                .arg(RoomKeys::new(room_id).stock)
                .arg(product_id),
        )
        .await
    }

    pub(super) async fn set_stock_of_product(
        &self,
        room_id: &str,
        product_id: &str,
        units: u32,
    ) -> Result<(), SaleError> {
        validate::room_id(room_id)?;
        validate::product_stock(product_id, units)?;
        self.run(
            redis::cmd("HSET")
                .arg(RoomKeys::new(room_id).stock)
                .arg(product_id)
                .arg(units),
        )
        .await
    }
}
