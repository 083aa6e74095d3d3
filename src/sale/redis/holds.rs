//! Flash-sale holds in the Redis store: a buy (through the group-commit
//! batcher or alone), confirming a hold into an order priced from one
//! pre-read (with the journal's entry riding in the same call), the sweep
//! of a sale's expired holds, and a buyer's open holds of one sale; and the
//! journal's two ends (`sale::journal`), shared with the bag and order
//! changes.

use super::batch::Queued;
use super::codec::{
    active_member, internal, parse_json, refusal, split_reply, HoldRecord, RoomKeys, SaleKeys,
};
use super::orders::order_room_key;
use super::{RedisSaleStore, ACTIVE_SALES, EXPIRE_BATCH};
use crate::clock::UnixMillis;
use crate::sale::{
    ids, validate, voucher, BuyOutcome, BuyRequest, BuyResult, Checkout, Confirmation,
    ExpiryReport, Hold, JournalEntry, Order, OrderEventKind, OrderStatus, SaleError, SaleRef,
    Voucher,
};

impl RedisSaleStore {
    /// The journal's entry for `order`, before the call that writes it.
    pub(super) async fn journal_entry(
        &self,
        room_id: &str,
        kind: OrderEventKind,
        order: &Order,
        now: UnixMillis,
    ) -> Option<JournalEntry> {
        let journal = self.journal.as_ref()?;
        journal.prepare(room_id, kind, order, now).await
    }

    /// A confirming function's reply (`created` or `confirmed` and the
    /// stored order, or a refusal); the journal hears of a created one.
    pub(super) async fn confirmation(
        &self,
        room_id: &str,
        reply: Vec<String>,
        entry: Option<JournalEntry>,
    ) -> Result<Confirmation, SaleError> {
        let (outcome, payload) = split_reply(reply)?;
        let (created, stored) = match (outcome.as_str(), payload.first()) {
            ("created", Some(stored)) => (true, stored),
            ("confirmed", Some(stored)) => (false, stored),
            (other, _) => return Err(refusal(other)),
        };
        let order = parse_json(stored)?;
        if created {
            self.journal_committed(room_id, entry).await;
        }
        Ok(Confirmation { order, created })
    }

    /// The call that wrote `entry` (with its order) has committed.
    pub(super) async fn journal_committed(&self, room_id: &str, entry: Option<JournalEntry>) {
        if let (Some(journal), Some(entry)) = (&self.journal, entry) {
            journal.committed(room_id, entry).await;
        }
    }

    pub(super) async fn buy_once(
        &self,
        sale: &SaleRef,
        request: &BuyRequest,
        now: UnixMillis,
    ) -> Result<BuyResult, SaleError> {
        let buyer = &request.buyer_id;
        // Length-prefixed so no (buyer, key) pair can imitate another.
        let idem_field = format!("{}:{buyer}:{}", buyer.len(), request.idempotency_key);
        let hold_id = ids::new_hold_id(&sale.sale_id);
        let reply = match &self.batcher {
            Some(batcher) => {
                let args = [
                    now.to_string(),
                    buyer.clone(),
                    request.buyer_name.clone(),
                    request.quantity.to_string(),
                    idem_field,
                    hold_id,
                ];
                // No deadline here: each Redis call has its own, and the
                // queue ahead of it is bounded (see `batch.rs`).
                match batcher.submit(self, sale, args).await? {
                    Queued::Answered(reply) => reply,
                    Queued::Busy(retry_after) => return Ok(BuyResult::busy(retry_after)),
                }
            }
            None => {
                let quantity = request.quantity.to_string();
                let args = [
                    buyer.as_str(),
                    request.buyer_name.as_str(),
                    quantity.as_str(),
                    idem_field.as_str(),
                    hold_id.as_str(),
                ];
                // Boxed: a whole Redis call's state, inline, would make
                // every buy's future (thousands wait at once in a flash
                // sale) the size of this rarer path's, not the lane's.
                Box::pin(self.call("chophien_buy", sale, now, &args)).await?
            }
        };
        let (outcome, payload) = split_reply(reply)?;
        let with_hold = |outcome| -> Result<BuyResult, SaleError> {
            let record: HoldRecord = parse_json(
                payload
                    .first()
                    .ok_or_else(|| internal("reply lacks the hold"))?,
            )?;
            Ok(BuyResult::held(outcome, Some(record.hold())))
        };
        match outcome.as_str() {
            "reserved" => with_hold(BuyOutcome::Reserved),
            "duplicate" => with_hold(BuyOutcome::Duplicate),
            "sold_out" => Ok(BuyResult::rejected(BuyOutcome::SoldOut)),
            "limit_reached" => Ok(BuyResult::rejected(BuyOutcome::LimitReached)),
            "not_started" => Ok(BuyResult::rejected(BuyOutcome::NotStarted)),
            "ended" => Ok(BuyResult::rejected(BuyOutcome::Ended)),
            other => Err(refusal(other)),
        }
    }

    /// The buyer's open holds among those of one sale (or the bag): her
    /// hold ids (listed under `holds <buyer>` in the `buyers` hash), then
    /// their records and statuses in one round trip. Two reads, not one
    /// atomic step: a hold confirmed in between shows as open once, which a
    /// page corrects at its next answer.
    pub(super) async fn open_holds_in(
        &self,
        keys: &SaleKeys,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<Vec<Hold>, SaleError> {
        let listed: Option<String> = self
            .run(
                redis::cmd("HGET")
                    .arg(keys.buyers())
                    .arg(format!("holds {buyer_id}")),
            )
            .await?;
        let ids: Vec<&str> = listed
            .as_deref()
            .map_or(Vec::new(), |l| l.split(',').collect());
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (records, statuses): (Vec<Option<String>>, Vec<Option<String>>) = self
            .run_pipe(
                redis::pipe()
                    .cmd("HMGET")
                    .arg(keys.holds())
                    .arg(&ids)
                    .cmd("HMGET")
                    .arg(keys.statuses())
                    .arg(&ids),
            )
            .await?;
        let mut open = Vec::new();
        for (record, status) in records.into_iter().zip(statuses) {
            let (Some(record), Some("held")) = (record, status.as_deref()) else {
                continue;
            };
            let record: HoldRecord = parse_json(&record)?;
            if record.buyer_id == buyer_id && record.expires_at > now {
                open.push(record.hold());
            }
        }
        Ok(open)
    }

    /// Confirms a flash-sale hold: one pre-read to price the order, then
    /// `chophien_confirm` (with the journal's entry).
    pub(super) async fn confirm_hold(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        let (shipping, payment, code) = validate::checkout(checkout)?;
        let sale = Self::sale_of_hold(room_id, hold_id)?;
        let keys = SaleKeys::new(&sale.room_id, &sale.sale_id);
        let room_keys = RoomKeys::new(room_id);
        // The hold record, the price and a voucher's definition never change
        // once written, so the order can be priced from this read; the
        // function re-checks the hold and the voucher's counts.
        type Read = (
            Option<String>,
            (Option<u64>, Option<String>),
            Option<String>,
        );
        let mut read = redis::pipe();
        read.hget(keys.holds(), hold_id)
            .cmd("HMGET")
            .arg(keys.meta())
            .arg("price_vnd")
            .arg("product_name")
            .hget(&room_keys.vouchers, code.as_deref().unwrap_or("-"));
        // The order's room, for the order page, by id alone: untagged (so
        // beside, not inside, the atomic call; on a Cluster another slot, so
        // not in the read's pipeline) and written *before* the call, so an
        // order that exists can always be found (an id whose confirm was
        // refused or repeated points at no order and reads as not found).
        let order_id = ids::new_order_id();
        let mut index = redis::cmd("SET");
        index.arg(order_room_key(&order_id)).arg(room_id);
        let (read, indexed) = tokio::join!(self.run_pipe::<Read>(&read), self.run::<()>(&index));
        let (raw_hold, (price, product_name), raw_voucher) = read?;
        indexed?;
        let record: HoldRecord = parse_json(&raw_hold.ok_or(SaleError::HoldNotFound)?)?;
        if record.buyer_id != buyer_id {
            return Err(SaleError::Forbidden);
        }
        let unit_price_vnd = price.ok_or(SaleError::HoldNotFound)?;
        let definition: Option<Voucher> = match (&code, raw_voucher) {
            (None, _) => None,
            (Some(_), None) => return Err(SaleError::VoucherNotFound),
            (Some(_), Some(raw)) => Some(parse_json(&raw)?),
        };
        let (discount_vnd, total_vnd) =
            voucher::price(definition.as_ref(), unit_price_vnd, record.quantity)?;
        let order = Order {
            order_id,
            sale_id: sale.sale_id.clone(),
            hold_id: hold_id.to_owned(),
            buyer_id: record.buyer_id,
            buyer_name: record.buyer_name,
            product_name: product_name.unwrap_or_default(),
            quantity: record.quantity,
            unit_price_vnd,
            total_vnd,
            shipping,
            created_at: now,
            payment,
            voucher_code: code.clone(),
            discount_vnd,
            status: OrderStatus::Confirmed,
            shipment: None,
            history: Vec::new(),
            status_tag: ids::new_status_tag(),
            lines: Vec::new(),
        };
        let order_json = serde_json::to_string(&order).map_err(internal)?;
        let entry = self
            .journal_entry(room_id, OrderEventKind::Created, &order, now)
            .await;
        let reply = self
            .call_journaled(
                "chophien_confirm",
                &sale,
                now,
                &[
                    buyer_id,
                    hold_id,
                    &order_json,
                    &order.shipping.phone,
                    &order.order_id,
                    code.as_deref().unwrap_or(""),
                ],
                entry.as_ref(),
            )
            .await?;
        self.confirmation(room_id, reply, entry).await
    }

    /// Returns a sale's expired holds (and closes it once it has ended);
    /// a sale found retired leaves the sweepers' set.
    pub(super) async fn expire_sale(
        &self,
        sale: &SaleRef,
        now: UnixMillis,
    ) -> Result<ExpiryReport, SaleError> {
        validate::room_id(&sale.room_id)?;
        validate::sale_id(&sale.sale_id)?;
        let batch = EXPIRE_BATCH.to_string();
        let (outcome, payload) = split_reply(
            self.call("chophien_expire_due", sale, now, &[&batch])
                .await?,
        )?;
        let [returned, remaining, retired, to_product, product_id] = payload.as_slice() else {
            if outcome == "sale_not_found" {
                // Its keys are gone (deleted by hand): stop visiting it.
                self.run::<()>(
                    redis::cmd("SREM")
                        .arg(ACTIVE_SALES)
                        .arg(active_member(sale)),
                )
                .await?;
            }
            return Err(refusal(&outcome));
        };
        let to_product: u32 = to_product.parse().map_err(internal)?;
        let report = ExpiryReport {
            sale_id: sale.sale_id.clone(),
            room_id: sale.room_id.clone(),
            returned_units: returned.parse().map_err(internal)?,
            remaining: remaining.parse().map_err(internal)?,
            retired: retired == "1",
            product_id: product_id.clone(),
            to_product,
            restocked: if to_product > 0 {
                vec![product_id.clone()]
            } else {
                Vec::new()
            },
        };
        if report.retired {
            self.run::<()>(
                redis::cmd("SREM")
                    .arg(ACTIVE_SALES)
                    .arg(active_member(sale)),
            )
            .await?;
        }
        Ok(report)
    }
}
