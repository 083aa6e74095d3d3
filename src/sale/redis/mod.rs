//! The Redis sale store: production, shared by every node.
//!
//! Every stock-changing operation is one call of a Redis Function from the
//! `chophien` library (`chophien.lua`, compiled in), so Redis runs it
//! atomically. The library is loaded with `FUNCTION LOAD REPLACE` on connect
//! and reloaded whenever a call answers "Function not found" (a `FUNCTION
//! FLUSH`, or a server that lost its data), then the call is retried once.
//!
//! Keys are grouped by room: everything of room `R` carries the hash tag
//! `{room:R}`, so a room and all its sales share one Cluster slot and one
//! function call may read and write any of it (every key passed in `KEYS`):
//! - `{room:R}:sale:S:meta`, `…:buyers`, `…:idem`, `…:holds`,
//!   `…:deadlines`, `…:statuses`, `…:orders`: sale `S` (see `chophien.lua`);
//! - `{room:R}:current_sale`: the room's latest sale and when it stops
//!   running, read and written inside `chophien_create_sale` (one sale runs
//!   in a room at a time) and `chophien_end_sale`;
//! - `{room:R}:sales`: the room's sale ids, oldest first (pushed inside
//!   `chophien_create_sale`);
//! - `{room:R}:sale:bag:*`: the room's shopping bag, a sale's keys but
//!   `meta` ([`bag`]).
//!
//! Because the caller's room is part of every key name, a sale or hold of
//! another room is simply not there.
//!
//! One index lives outside any room and is written beside (not inside) the
//! atomic calls: `chophien:sales:active`, the set of `<room>/<sale>` the
//! sweepers of every node iterate, so a restarted node finds pending holds.
//! Losing a write to it can leave a sale unswept, never corrupt stock.
//!
//! One multiplexed connection ([`RedisLink`], shared with the Redis room
//! store when both run) carries every request and reconnects by itself; it
//! loads the one function library `chophien` (these functions and the
//! room's) and reloads it when Redis has lost it. Buys go through [`batch`]
//! (group commit and admission control, one lane per sale of a room) unless
//! [`RedisStoreOptions::group_commit`] is off. Every call has a deadline
//! (`op_timeout`) that runs from the moment it is sent to Redis: when Redis
//! is down a buy answers `unavailable` promptly instead of hanging, and a
//! buy that would only wait in this node's queue answers `busy` at once.

mod bag;
mod batch;
mod codec;
/// Buys, confirmations, the sweep of a sale, a buyer's open holds, and the
/// journal's two ends.
mod holds;
mod orders;
mod vouchers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::FromRedisValue;

use super::bag::{is_bag_hold, BAG};
use super::{
    ids, soonest_first, validate, BagAdd, BagAddResult, BuyOutcome, BuyRequest, BuyResult,
    Checkout, Confirmation, ExpiryReport, Hold, NewSale, Order, SaleError, SaleInfo, SaleRef,
    SaleStore,
};
use super::{JournalEntry, OrderJournal};
use super::{NewVoucher, OrderActor, OrderChange, OrderUpdate, Voucher};
use crate::clock::UnixMillis;
use crate::redis_link::{LinkError, RedisLink, RedisTarget};
use batch::BuyBatcher;
use codec::{
    active_member, internal, parse_active_member, refusal, sale_info, sorted_orders, split_reply,
    RoomKeys, SaleKeys,
};

pub use batch::GroupCommit;
pub(crate) use codec::{ended_room_sale_keys, ended_room_stock_keys, room_sale_keys};

/// Sales a sweeper must visit, as `<room>/<sale>` (not tagged: it spans
/// rooms).
const ACTIVE_SALES: &str = "chophien:sales:active";
/// Most holds one `expire_due` call returns, to keep each call short.
const EXPIRE_BATCH: u32 = 1000;

/// How to reach Redis, and how to use it.
#[derive(Debug, Clone)]
pub struct RedisStoreOptions {
    /// One server (`redis://host:port/db`) or a Redis Cluster's seed nodes.
    pub target: RedisTarget,
    /// The most one call to Redis may take, reconnecting included, counted
    /// from the moment it is sent (never from a buy's arrival in this
    /// node's queue). Under a second so a buy can answer `unavailable`
    /// within one.
    pub op_timeout: Duration,
    /// Send concurrent buys of one sale to Redis together, in one atomic
    /// call, with a bounded queue (see `batch.rs`). On by default: under a
    /// flash-sale burst it turns thousands of round trips into a few. `None`:
    /// one call per buy, no queue.
    pub group_commit: Option<GroupCommit>,
}

impl RedisStoreOptions {
    pub fn new(target: impl Into<RedisTarget>) -> RedisStoreOptions {
        RedisStoreOptions {
            target: target.into(),
            op_timeout: Duration::from_millis(800),
            group_commit: Some(GroupCommit::default()),
        }
    }
}

/// Cheap to clone; clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisSaleStore {
    /// Multiplexed: concurrent buys pipeline over one socket instead of
    /// waiting for a pooled connection. Reconnects on its own after errors;
    /// carries the deadline and the function library.
    link: RedisLink,
    /// Present when group commit is on; shared by clones so one sale of a
    /// room has one lane per node.
    batcher: Option<Arc<BuyBatcher>>,
    /// Given an entry for every order made or changed, which rides in the
    /// same function call as the order (`JournalEntry`).
    journal: Option<Arc<dyn OrderJournal>>,
}

impl RedisSaleStore {
    /// Connects and loads the function library. Fails with `unavailable` if
    /// Redis does not answer within `op_timeout`; the caller decides whether
    /// that is fatal.
    pub async fn connect(options: RedisStoreOptions) -> Result<RedisSaleStore, SaleError> {
        let link = RedisLink::connect(options.target, options.op_timeout).await?;
        Ok(RedisSaleStore::on(link, options.group_commit))
    }

    /// A store over an open link (shared with the room store).
    pub fn on(link: RedisLink, group_commit: Option<GroupCommit>) -> RedisSaleStore {
        RedisSaleStore {
            link,
            batcher: group_commit.map(|options| Arc::new(BuyBatcher::new(options))),
            journal: None,
        }
    }

    /// The store, writing `journal`'s entry with every order it makes or
    /// changes, in the same call.
    pub fn with_journal(mut self, journal: Arc<dyn OrderJournal>) -> RedisSaleStore {
        self.journal = Some(journal);
        self
    }

    /// The thirteen keys every sale function of `chophien.lua` takes, in
    /// its order, for one sale of a room: for a caller of the functions
    /// themselves (an operator's script, a test); the ids are not checked.
    pub fn function_keys(room_id: &str, sale_id: &str) -> Vec<String> {
        SaleKeys::new(room_id, sale_id).0.to_vec()
    }

    /// Group-commit calls sent to Redis and the buys they carried; `None`
    /// with group commit off.
    pub fn batch_totals(&self) -> Option<(u64, u64)> {
        self.batcher.as_ref().map(|batcher| batcher.totals())
    }

    /// Runs one command under the operation deadline.
    async fn run<T: FromRedisValue + Send + 'static>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, SaleError> {
        Ok(self.link.run(cmd).await?)
    }

    /// Runs a pipeline (one round trip, not atomic) under the deadline.
    async fn run_pipe<T: FromRedisValue + Send + 'static>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, SaleError> {
        Ok(self.link.run_pipe(pipe).await?)
    }

    /// `FCALL name 9 <keys of the sale and its room> now args...`,
    /// reloading the library once if Redis has lost it. The ids must have
    /// been validated: they become key names.
    async fn call<T: FromRedisValue + Send + 'static>(
        &self,
        function: &str,
        sale: &SaleRef,
        now: UnixMillis,
        args: &[&str],
    ) -> Result<T, SaleError> {
        self.call_journaled(function, sale, now, args, None).await
    }

    /// [`call`](Self::call) with a journal entry riding along: its two keys
    /// after the thirteen (KEYS 14 and 15) and its arguments after the
    /// function's own (see `chophien.lua`, `journal`).
    async fn call_journaled<T: FromRedisValue + Send + 'static>(
        &self,
        function: &str,
        sale: &SaleRef,
        now: UnixMillis,
        args: &[&str],
        entry: Option<&JournalEntry>,
    ) -> Result<T, SaleError> {
        let mut keys = Self::function_keys(&sale.room_id, &sale.sale_id);
        let now = now.to_string();
        let mut args: Vec<&str> = std::iter::once(now.as_str())
            .chain(args.iter().copied())
            .collect();
        let entry_args = entry.map(JournalEntry::args).unwrap_or_default();
        if let Some(entry) = entry {
            keys.extend([entry.key.clone(), entry.list_key.clone()]);
            args.extend(entry_args.iter().map(String::as_str));
        }
        Ok(self.link.fcall(function, &keys, &args[..]).await?)
    }

    /// The meta hash of a sale of `room_id`; `sale_not_found` when the room
    /// has no such sale.
    async fn meta(
        &self,
        room_id: &str,
        sale_id: &str,
    ) -> Result<HashMap<String, String>, SaleError> {
        validate::room_id(room_id)?;
        validate::sale_id(sale_id)?;
        let meta: HashMap<String, String> = self
            .run(redis::cmd("HGETALL").arg(SaleKeys::new(room_id, sale_id).meta()))
            .await?;
        if meta.is_empty() {
            return Err(SaleError::SaleNotFound);
        }
        Ok(meta)
    }

    /// The room's sale ids, oldest first (`LRANGE {room:R}:sales 0 -1`).
    async fn room_sale_ids(&self, room_id: &str) -> Result<Vec<String>, SaleError> {
        validate::room_id(room_id)?;
        self.run(
            redis::cmd("LRANGE")
                .arg(RoomKeys::new(room_id).sales)
                .arg(0)
                .arg(-1),
        )
        .await
    }

    /// The id of the room's latest sale (`LINDEX {room:R}:sales -1`).
    async fn latest_sale_id(&self, room_id: &str) -> Result<Option<String>, SaleError> {
        validate::room_id(room_id)?;
        self.run(
            redis::cmd("LINDEX")
                .arg(RoomKeys::new(room_id).sales)
                .arg(-1),
        )
        .await
    }

    /// The sale a hold id of `room_id` belongs to (validated).
    fn sale_of_hold(room_id: &str, hold_id: &str) -> Result<SaleRef, SaleError> {
        validate::room_id(room_id)?;
        let sale_id = ids::sale_of_hold(hold_id).ok_or(SaleError::HoldNotFound)?;
        Ok(SaleRef::new(room_id, sale_id))
    }
}

impl SaleStore for RedisSaleStore {
    async fn create_sale(
        &self,
        room_id: &str,
        sale: NewSale,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        validate::room_id(room_id)?;
        let sale = validate::new_sale(sale)?;
        let sale_ref = SaleRef::new(room_id, ids::new_sale_id());
        let sale_product_stock = sale.product_stock;
        let starts_at = now + u64::from(sale.starts_in_secs) * 1000;
        let ends_at = starts_at + u64::from(sale.duration_secs) * 1000;
        let fields: [(&str, String); 13] = [
            ("sale_id", sale_ref.sale_id.clone()),
            ("room_id", room_id.to_owned()),
            ("product_id", sale.product_id),
            ("product_name", sale.product_name),
            ("price_vnd", sale.price_vnd.to_string()),
            ("stock_total", sale.stock.to_string()),
            ("remaining", sale.stock.to_string()),
            ("per_buyer_limit", sale.per_buyer_limit.to_string()),
            ("starts_at", starts_at.to_string()),
            ("ends_at", ends_at.to_string()),
            ("hold_secs", sale.hold_secs.to_string()),
            ("ended", "0".to_owned()),
            ("created_at", now.to_string()),
        ];
        let seed = sale_product_stock.to_string();
        let args: Vec<&str> = std::iter::once(seed.as_str())
            .chain(
                fields
                    .iter()
                    .flat_map(|(name, value)| [*name, value.as_str()]),
            )
            .collect();
        let (outcome, payload) = split_reply(
            self.call("chophien_create_sale", &sale_ref, now, &args)
                .await?,
        )?;
        match outcome.as_str() {
            "ok" => {}
            "sale_running" => return Err(SaleError::SaleRunning),
            "insufficient_stock" => {
                let available = payload.first().and_then(|n| n.parse().ok()).unwrap_or(0);
                return Err(SaleError::InsufficientStock { available });
            }
            other => return Err(internal(format!("creating sale {sale_ref}: {other}"))),
        }
        self.run::<()>(
            redis::cmd("SADD")
                .arg(ACTIVE_SALES)
                .arg(active_member(&sale_ref)),
        )
        .await?;
        self.get_sale(room_id, &sale_ref.sale_id, now).await
    }

    async fn get_sale(
        &self,
        room_id: &str,
        sale_id: &str,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        sale_info(&self.meta(room_id, sale_id).await?, now)
    }

    async fn latest_sale(
        &self,
        room_id: &str,
        now: UnixMillis,
    ) -> Result<Option<SaleInfo>, SaleError> {
        let latest = self.latest_sale_id(room_id).await?;
        match latest {
            Some(sale_id) => self.get_sale(room_id, &sale_id, now).await.map(Some),
            None => Ok(None),
        }
    }

    async fn end_sale(
        &self,
        room_id: &str,
        sale_id: &str,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        validate::room_id(room_id)?;
        validate::sale_id(sale_id)?;
        let sale = SaleRef::new(room_id, sale_id);
        let (outcome, _) = split_reply(self.call("chophien_end_sale", &sale, now, &[]).await?)?;
        if outcome != "ok" {
            return Err(refusal(&outcome));
        }
        self.get_sale(room_id, sale_id, now).await
    }

    async fn buy(
        &self,
        room_id: &str,
        request: &BuyRequest,
        now: UnixMillis,
    ) -> Result<BuyResult, SaleError> {
        validate::room_id(room_id)?;
        validate::buy_request(request)?;
        let sale = SaleRef::new(room_id, request.sale_id.as_str());
        match self.buy_once(&sale, request, now).await {
            Err(SaleError::Unavailable(reason)) => {
                tracing::warn!(%sale, %reason, "buy answered unavailable");
                Ok(BuyResult::rejected(BuyOutcome::Unavailable))
            }
            other => other,
        }
    }

    async fn confirm(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        if is_bag_hold(hold_id) {
            let holds = [hold_id.to_owned()];
            return self
                .bag_checkout(room_id, buyer_id, &holds, checkout, now)
                .await;
        }
        self.confirm_hold(room_id, hold_id, buyer_id, checkout, now)
            .await
    }

    async fn add_to_bag(
        &self,
        room_id: &str,
        add: &BagAdd,
        now: UnixMillis,
    ) -> Result<BagAddResult, SaleError> {
        self.bag_add(room_id, add, now).await
    }

    async fn checkout_bag(
        &self,
        room_id: &str,
        buyer_id: &str,
        hold_ids: &[String],
        checkout: &Checkout,
        now: UnixMillis,
    ) -> Result<Confirmation, SaleError> {
        self.bag_checkout(room_id, buyer_id, hold_ids, checkout, now)
            .await
    }

    async fn cancel(
        &self,
        room_id: &str,
        hold_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<(), SaleError> {
        let sale = Self::sale_of_hold(room_id, hold_id)?;
        let (outcome, _) = split_reply(
            self.call("chophien_cancel", &sale, now, &[buyer_id, hold_id])
                .await?,
        )?;
        match outcome.as_str() {
            "cancelled" => Ok(()),
            other => Err(refusal(other)),
        }
    }

    async fn expire_due(&self, sale: &SaleRef, now: UnixMillis) -> Result<ExpiryReport, SaleError> {
        if sale.sale_id == BAG {
            return self.bag_expire_due(&sale.room_id, now).await;
        }
        self.expire_sale(sale, now).await
    }

    async fn active_sales(&self) -> Result<Vec<SaleRef>, SaleError> {
        let members: Vec<String> = self.run(redis::cmd("SMEMBERS").arg(ACTIVE_SALES)).await?;
        Ok(members
            .iter()
            .filter_map(|member| {
                let sale = parse_active_member(member);
                if sale.is_none() {
                    tracing::debug!(%member, "skipping an active-sales member of another layout");
                }
                sale
            })
            .collect())
    }

    async fn orders_for_sale(&self, room_id: &str, sale_id: &str) -> Result<Vec<Order>, SaleError> {
        if sale_id == BAG {
            validate::room_id(room_id)?;
        } else {
            self.meta(room_id, sale_id).await?;
        }
        sorted_orders(
            self.run(redis::cmd("HVALS").arg(SaleKeys::new(room_id, sale_id).orders()))
                .await?,
        )
    }

    async fn orders_for_room(&self, room_id: &str) -> Result<Vec<Order>, SaleError> {
        let sale_ids = self.room_sale_ids(room_id).await?;
        // One round trip for every sale's orders and the bag's.
        let mut pipe = redis::pipe();
        for sale_id in sale_ids.iter().map(String::as_str).chain([BAG]) {
            pipe.hvals(SaleKeys::new(room_id, sale_id).orders());
        }
        let per_sale: Vec<Vec<String>> = self.run_pipe(&pipe).await?;
        sorted_orders(per_sale.into_iter().flatten().collect())
    }

    /// The buyer's open holds in the room's latest sale and in its bag.
    async fn open_holds(
        &self,
        room_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<Vec<Hold>, SaleError> {
        let latest = self.latest_sale_id(room_id).await?;
        let bag = SaleKeys::new(room_id, BAG);
        let in_bag = self.open_holds_in(&bag, buyer_id, now);
        let mut open = match latest {
            Some(sale_id) => {
                let keys = SaleKeys::new(room_id, &sale_id);
                let (in_sale, in_bag) =
                    tokio::join!(self.open_holds_in(&keys, buyer_id, now), in_bag);
                let mut open = in_sale?;
                open.extend(in_bag?);
                open
            }
            None => in_bag.await?,
        };
        soonest_first(&mut open);
        Ok(open)
    }

    /// The room's sales, then the buyer's order ids in each and in the bag
    /// (listed by `chophien_confirm` and `chophien_bag_checkout` under
    /// `orders <buyer>` in the `buyers` hash), then those orders: three
    /// round trips, each one pipeline.
    async fn buyer_orders(&self, room_id: &str, buyer_id: &str) -> Result<Vec<Order>, SaleError> {
        let sale_ids = self.room_sale_ids(room_id).await?;
        let keys: Vec<SaleKeys> = sale_ids
            .iter()
            .map(String::as_str)
            .chain([BAG])
            .map(|sale_id| SaleKeys::new(room_id, sale_id))
            .collect();
        let mut listed = redis::pipe();
        for sale in &keys {
            listed.hget(sale.buyers(), format!("orders {buyer_id}"));
        }
        let listed: Vec<Option<String>> = self.run_pipe(&listed).await?;
        let mut reads = redis::pipe();
        let mut any = false;
        for (sale, ids) in keys.iter().zip(&listed) {
            if let Some(ids) = ids {
                let ids: Vec<&str> = ids.split(',').collect();
                reads.cmd("HMGET").arg(sale.orders()).arg(ids);
                any = true;
            }
        }
        if !any {
            return Ok(Vec::new());
        }
        let found: Vec<Vec<Option<String>>> = self.run_pipe(&reads).await?;
        sorted_orders(found.into_iter().flatten().flatten().collect())
    }

    /// Calls a function of the library (reloading it if missing), which
    /// proves more than a PING: the functions are there to serve buys.
    async fn order(&self, room_id: &str, order_id: &str) -> Result<Order, SaleError> {
        self.find_order(room_id, order_id).await
    }

    async fn order_room(&self, order_id: &str) -> Result<Option<String>, SaleError> {
        self.room_of_order(order_id).await
    }

    async fn update_order(
        &self,
        room_id: &str,
        order_id: &str,
        change: &OrderChange,
        actor: &OrderActor,
        now: UnixMillis,
    ) -> Result<OrderUpdate, SaleError> {
        self.change_order(room_id, order_id, change, actor, now)
            .await
    }

    async fn product_stock(
        &self,
        room_id: &str,
        product_id: &str,
    ) -> Result<Option<u32>, SaleError> {
        self.stock_of_product(room_id, product_id).await
    }

    async fn set_product_stock(
        &self,
        room_id: &str,
        product_id: &str,
        units: u32,
    ) -> Result<(), SaleError> {
        self.set_stock_of_product(room_id, product_id, units).await
    }

    async fn create_voucher(
        &self,
        room_id: &str,
        voucher: NewVoucher,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        self.add_voucher(room_id, voucher, now).await
    }

    async fn vouchers(&self, room_id: &str) -> Result<Vec<Voucher>, SaleError> {
        self.list_vouchers(room_id).await
    }

    async fn drop_voucher(
        &self,
        room_id: &str,
        code: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        self.open_voucher(room_id, code, now).await
    }

    async fn claim_voucher(
        &self,
        room_id: &str,
        code: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        self.take_voucher(room_id, code, buyer_id, now).await
    }

    async fn health(&self) -> Result<(), SaleError> {
        Ok(self.link.health().await?)
    }
}

impl From<LinkError> for SaleError {
    fn from(error: LinkError) -> SaleError {
        match error {
            LinkError::Unavailable(reason) => SaleError::Unavailable(reason),
            LinkError::Internal(reason) => SaleError::Internal(reason),
        }
    }
}
