//! Each room's shopping bag in the Redis store (see `sale::bag`): the bag's
//! keys are a sale's under the pseudo id `bag` (`{room:R}:sale:bag:*`, no
//! `meta`), and every change is one call of `chophien_bag_add`,
//! `chophien_bag_checkout`, `chophien_cancel` or `chophien_bag_expire_due`.
//!
//! The bag is in `chophien:sales:active` (as `<room>/bag`) while it has
//! pending holds, so every node's sweeper returns expired ones. An add puts
//! it there before its call (a node that dies right after reserving still
//! left it listed) and again after (a sweeper that found the bag idle and
//! is removing it cannot hide the new hold); a sweeper that removes it
//! looks again and puts it back if a hold arrived meanwhile.

use super::codec::{
    active_member, internal, parse_json, refusal, split_reply, HoldRecord, RoomKeys, SaleKeys,
};
use super::orders::order_room_key;
use super::{RedisSaleStore, ACTIVE_SALES, EXPIRE_BATCH};
use crate::clock::UnixMillis;
use crate::sale::bag::{self, BagAdd, BagAddResult, BagCheckout, BagHold, BAG};
use crate::sale::{
    ids, validate, BuyOutcome, BuyResult, Checkout, Confirmation, ExpiryReport, OrderEventKind,
    SaleError, SaleRef, Voucher,
};

impl RedisSaleStore {
    pub(super) async fn bag_add(
        &self,
        room_id: &str,
        add: &BagAdd,
        now: UnixMillis,
    ) -> Result<BagAddResult, SaleError> {
        validate::room_id(room_id)?;
        validate::bag_add(add)?;
        let bag = SaleRef::new(room_id, BAG);
        let buyer = &add.buyer_id;
        let idem_field = format!("{}:{buyer}:{}", buyer.len(), add.idempotency_key);
        let hold_id = ids::new_hold_id(BAG);
        let numbers = [
            add.quantity.to_string(),
            add.unit_price_vnd.to_string(),
            add.per_buyer_limit.unwrap_or(0).to_string(),
            add.product_stock.to_string(),
            add.hold_secs.to_string(),
        ];
        let [quantity, price, limit, seed, hold_secs] = numbers.each_ref().map(String::as_str);
        let args = [
            buyer.as_str(),
            add.buyer_name.as_str(),
            quantity,
            &idem_field,
            &hold_id,
            &add.product_id,
            add.product_name.trim(),
            price,
            limit,
            seed,
            hold_secs,
        ];
        let reply = async {
            self.list_active(&bag).await?;
            let reply: Vec<String> = self.call("chophien_bag_add", &bag, now, &args).await?;
            Ok::<_, SaleError>(reply)
        };
        let (outcome, payload) = match reply.await {
            Ok(reply) => split_reply(reply)?,
            Err(SaleError::Unavailable(reason)) => {
                tracing::warn!(room = %room_id, %reason, "bag add answered unavailable");
                return Ok(BagAddResult {
                    result: BuyResult::rejected(BuyOutcome::Unavailable),
                    stock: None,
                });
            }
            Err(error) => return Err(error),
        };
        let [hold, stock] = payload.as_slice() else {
            return Err(refusal(&outcome));
        };
        let stock = Some(stock.parse().map_err(internal)?);
        let held = |outcome| -> Result<BagAddResult, SaleError> {
            let record: HoldRecord = parse_json(hold)?;
            Ok(BagAddResult {
                result: BuyResult::held(outcome, Some(record.hold())),
                stock,
            })
        };
        let rejected = |outcome| {
            Ok(BagAddResult {
                result: BuyResult::rejected(outcome),
                stock,
            })
        };
        match outcome.as_str() {
            "reserved" => {
                // Listed again after the hold exists (see the module's docs);
                // the hold stands even if this write is lost.
                if let Err(error) = self.list_active(&bag).await {
                    tracing::warn!(room = %room_id, %error, "could not list a bag for sweeping");
                }
                held(BuyOutcome::Reserved)
            }
            "duplicate" => held(BuyOutcome::Duplicate),
            "sold_out" => rejected(BuyOutcome::SoldOut),
            "limit_reached" => rejected(BuyOutcome::LimitReached),
            other => Err(refusal(other)),
        }
    }

    pub(super) async fn bag_checkout(
        &self,
        room_id: &str,
        buyer_id: &str,
        hold_ids: &[String],
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        validate::room_id(room_id)?;
        let (shipping, payment, code) = validate::checkout(checkout)?;
        let hold_ids = bag::checkout_holds(hold_ids)?;
        let bag = SaleRef::new(room_id, BAG);
        let keys = SaleKeys::new(room_id, BAG);
        // Hold records and a voucher's definition never change once written,
        // so the order can be priced from this read; the function re-checks
        // every hold's status and the voucher's counts.
        let mut read = redis::pipe();
        read.cmd("HMGET").arg(keys.holds()).arg(&hold_ids).hget(
            &RoomKeys::new(room_id).vouchers,
            code.as_deref().unwrap_or("-"),
        );
        // The order's room for the order page, written before the call (see
        // `confirm`).
        let order_id = ids::new_order_id();
        let mut index = redis::cmd("SET");
        index.arg(order_room_key(&order_id)).arg(room_id);
        type Read = (Vec<Option<String>>, Option<String>);
        let (read, indexed) = tokio::join!(self.run_pipe::<Read>(&read), self.run::<()>(&index));
        let (raw_holds, raw_voucher) = read?;
        indexed?;
        let mut holds = Vec::with_capacity(hold_ids.len());
        for raw in raw_holds {
            let hold: BagHold = parse_json(&raw.ok_or(SaleError::HoldNotFound)?)?;
            if hold.buyer_id != buyer_id {
                return Err(SaleError::Forbidden);
            }
            holds.push(hold);
        }
        // An unknown code is the function's to refuse, after the holds'
        // checks, as in the memory store.
        let definition: Option<Voucher> = raw_voucher.as_deref().map(parse_json).transpose()?;
        let order = bag::order(
            &holds,
            BagCheckout {
                order_id,
                shipping,
                payment,
                voucher: definition.as_ref(),
                voucher_code: code.clone(),
                now,
            },
        )?;
        let order_json = serde_json::to_string(&order).map_err(internal)?;
        let lines = hold_ids.len().to_string();
        let mut args = vec![
            buyer_id,
            order_json.as_str(),
            order.shipping.phone.as_str(),
            order.order_id.as_str(),
            code.as_deref().unwrap_or(""),
            lines.as_str(),
        ];
        args.extend(hold_ids.iter().map(String::as_str));
        let entry = self
            .journal_entry(room_id, OrderEventKind::Created, &order, now)
            .await;
        let reply = self
            .call_journaled("chophien_bag_checkout", &bag, now, &args, entry.as_ref())
            .await?;
        self.confirmation(room_id, reply, entry).await
    }

    pub(super) async fn bag_expire_due(
        &self,
        room_id: &str,
        now: UnixMillis,
    ) -> Result<ExpiryReport, SaleError> {
        validate::room_id(room_id)?;
        let bag = SaleRef::new(room_id, BAG);
        let batch = EXPIRE_BATCH.to_string();
        let reply = self
            .call("chophien_bag_expire_due", &bag, now, &[&batch])
            .await?;
        let (outcome, payload) = split_reply(reply)?;
        let [returned, idle, restocked @ ..] = payload.as_slice() else {
            return Err(refusal(&outcome));
        };
        let retired = idle == "1";
        if retired {
            self.unlist_idle(&bag).await?;
        }
        Ok(ExpiryReport {
            sale_id: BAG.to_owned(),
            room_id: room_id.to_owned(),
            returned_units: 0,
            remaining: 0,
            retired,
            product_id: String::new(),
            to_product: returned.parse().map_err(internal)?,
            restocked: restocked.to_vec(),
        })
    }

    async fn list_active(&self, bag: &SaleRef) -> Result<(), SaleError> {
        self.run(redis::cmd("SADD").arg(ACTIVE_SALES).arg(active_member(bag)))
            .await
    }

    /// Stops sweeping a bag found idle, unless a hold arrived meanwhile.
    async fn unlist_idle(&self, bag: &SaleRef) -> Result<(), SaleError> {
        self.run::<()>(redis::cmd("SREM").arg(ACTIVE_SALES).arg(active_member(bag)))
            .await?;
        let keys = SaleKeys::new(&bag.room_id, &bag.sale_id);
        let pending: u64 = self.run(redis::cmd("ZCARD").arg(keys.deadlines())).await?;
        if pending > 0 {
            self.list_active(bag).await?;
        }
        Ok(())
    }
}
