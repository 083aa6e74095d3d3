//! The Redis sale store: production, shared by every node.
//!
//! Every stock-changing operation is one call of a Redis Function from the
//! `chophien` library (`chophien.lua`, compiled in), so Redis runs it
//! atomically. The library is loaded with `FUNCTION LOAD REPLACE` on connect
//! and reloaded whenever a call answers "Function not found" (a `FUNCTION
//! FLUSH`, or a server that lost its data), then the call is retried once.
//!
//! A sale's keys share the hash tag `{sale:ID}` and are all passed in `KEYS`,
//! so the library runs unchanged on Redis Cluster. Two index keys live outside
//! any sale and are written beside (not inside) the atomic calls:
//! `chophien:sales:active` (a set the sweepers of every node iterate, so a
//! restarted node finds pending holds) and `chophien:room-sales:<room>` (a
//! list of a room's sales, oldest first). Losing a write to them can hide a
//! sale, never corrupt stock.
//!
//! One multiplexed connection ([`ConnectionManager`]) carries every request
//! and reconnects by itself. Buys go through [`batch`] (group commit) unless
//! [`RedisStoreOptions::group_commit`] is off. Every call has a deadline
//! (`op_timeout`): when Redis is down a buy answers `unavailable` promptly
//! instead of hanging.

mod batch;
mod codec;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, RedisError};

use super::{
    ids, validate, BuyOutcome, BuyRequest, BuyResult, ExpiryReport, NewSale, Order, SaleError,
    SaleInfo, SaleStore, Shipping,
};
use crate::clock::UnixMillis;
use batch::BuyBatcher;
use codec::{
    classify, function_missing, internal, parse_json, refusal, room_sales_key, sale_info,
    sorted_orders, split_reply, HoldRecord, SaleKeys,
};

/// The functions, loaded into Redis as the library `chophien`.
const LIBRARY: &str = include_str!("chophien.lua");
/// Sales a sweeper must visit (not tagged: it spans sales).
const ACTIVE_SALES: &str = "chophien:sales:active";
/// Most holds one `expire_due` call returns, to keep each call short.
const EXPIRE_BATCH: u32 = 1000;

/// How to reach Redis, and how to use it.
#[derive(Debug, Clone)]
pub struct RedisStoreOptions {
    /// `redis://host:port/db`.
    pub url: String,
    /// The most one store operation may take, reconnecting and queueing
    /// included. Under a second so a buy can answer `unavailable` within one.
    pub op_timeout: Duration,
    /// Send concurrent buys of one sale to Redis together, in one atomic
    /// call (see `batch.rs`). On by default: under a flash-sale burst it
    /// turns thousands of round trips into a few.
    pub group_commit: bool,
}

impl RedisStoreOptions {
    pub fn new(url: impl Into<String>) -> RedisStoreOptions {
        RedisStoreOptions {
            url: url.into(),
            op_timeout: Duration::from_millis(800),
            group_commit: true,
        }
    }
}

/// Cheap to clone; clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisSaleStore {
    /// Multiplexed: concurrent buys pipeline over one socket instead of
    /// waiting for a pooled connection. Reconnects on its own after errors.
    conn: ConnectionManager,
    op_timeout: Duration,
    /// Present when group commit is on; shared by clones so one sale has
    /// one lane per node.
    batcher: Option<Arc<BuyBatcher>>,
}

impl RedisSaleStore {
    /// Connects and loads the function library. Fails with `unavailable` if
    /// Redis does not answer within `op_timeout`; the caller decides whether
    /// that is fatal.
    pub async fn connect(options: RedisStoreOptions) -> Result<RedisSaleStore, SaleError> {
        let client = redis::Client::open(options.url.as_str())
            .map_err(|e| SaleError::InvalidValue(format!("bad Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.op_timeout))
            .set_response_timeout(Some(options.op_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = client
            .get_connection_manager_lazy(config)
            .map_err(classify)?;
        let store = RedisSaleStore {
            conn,
            op_timeout: options.op_timeout,
            batcher: options.group_commit.then(Arc::default),
        };
        store.load_library().await?;
        Ok(store)
    }

    /// Runs one command under the operation deadline.
    async fn run<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, SaleError> {
        self.try_run(cmd).await?.map_err(classify)
    }

    /// Like [`run`](Self::run) but hands Redis' own errors back for inspection.
    async fn try_run<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<Result<T, RedisError>, SaleError> {
        let mut conn = self.conn.clone();
        self.within_deadline(async move { cmd.query_async(&mut conn).await })
            .await
    }

    /// Runs a pipeline (one round trip, not atomic) under the deadline.
    async fn run_pipe<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, SaleError> {
        let mut conn = self.conn.clone();
        self.within_deadline(async move { pipe.query_async(&mut conn).await })
            .await?
            .map_err(classify)
    }

    async fn within_deadline<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, SaleError> {
        tokio::time::timeout(self.op_timeout, work)
            .await
            .map_err(|_| {
                SaleError::Unavailable(format!("no answer from Redis in {:?}", self.op_timeout))
            })
    }

    async fn load_library(&self) -> Result<(), SaleError> {
        let mut load = redis::cmd("FUNCTION");
        load.arg("LOAD").arg("REPLACE").arg(LIBRARY);
        self.run::<String>(&load).await.map(drop)
    }

    /// `FCALL name 7 <sale keys> now args...`, reloading the library once if
    /// Redis has lost it.
    async fn call<T: FromRedisValue>(
        &self,
        function: &str,
        sale_id: &str,
        now: UnixMillis,
        args: &[&str],
    ) -> Result<T, SaleError> {
        let keys = SaleKeys::new(sale_id);
        let mut fcall = redis::cmd("FCALL");
        fcall
            .arg(function)
            .arg(keys.0.len())
            .arg(&keys.0)
            .arg(now)
            .arg(args);
        match self.try_run(&fcall).await? {
            Err(err) if function_missing(&err) => {
                tracing::warn!("Redis lost the chophien functions; reloading");
                self.load_library().await?;
                self.run(&fcall).await
            }
            result => result.map_err(classify),
        }
    }

    async fn meta(&self, sale_id: &str) -> Result<HashMap<String, String>, SaleError> {
        validate::sale_id(sale_id)?;
        let meta: HashMap<String, String> = self
            .run(redis::cmd("HGETALL").arg(SaleKeys::new(sale_id).meta()))
            .await?;
        if meta.is_empty() {
            return Err(SaleError::SaleNotFound);
        }
        Ok(meta)
    }

    async fn buy_once(
        &self,
        request: &BuyRequest,
        now: UnixMillis,
    ) -> Result<BuyResult, SaleError> {
        let buyer = &request.buyer_id;
        // Length-prefixed so no (buyer, key) pair can imitate another.
        let idem_field = format!("{}:{buyer}:{}", buyer.len(), request.idempotency_key);
        let hold_id = ids::new_hold_id(&request.sale_id);
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
                let queued = batcher.submit(self, &request.sale_id, args);
                self.within_deadline(queued).await??
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
                self.call("chophien_buy", &request.sale_id, now, &args)
                    .await?
            }
        };
        let (outcome, payload) = split_reply(reply)?;
        let with_hold = |outcome| -> Result<BuyResult, SaleError> {
            let record: HoldRecord = parse_json(
                payload
                    .first()
                    .ok_or_else(|| internal("reply lacks the hold"))?,
            )?;
            Ok(BuyResult {
                outcome,
                hold: Some(record.hold()),
            })
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
}

impl SaleStore for RedisSaleStore {
    async fn create_sale(
        &self,
        room_id: &str,
        sale: NewSale,
        now: UnixMillis,
    ) -> Result<SaleInfo, SaleError> {
        let sale = validate::new_sale(sale)?;
        let sale_id = ids::new_sale_id();
        let starts_at = now + u64::from(sale.starts_in_secs) * 1000;
        let ends_at = starts_at + u64::from(sale.duration_secs) * 1000;
        let fields: [(&str, String); 13] = [
            ("sale_id", sale_id.clone()),
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
        let args: Vec<&str> = fields
            .iter()
            .flat_map(|(name, value)| [*name, value.as_str()])
            .collect();
        let (outcome, _) = split_reply(
            self.call("chophien_create_sale", &sale_id, now, &args)
                .await?,
        )?;
        if outcome != "ok" {
            return Err(internal(format!("creating sale {sale_id}: {outcome}")));
        }
        let mut index = redis::pipe();
        index
            .sadd(ACTIVE_SALES, &sale_id)
            .ignore()
            .rpush(room_sales_key(room_id), &sale_id)
            .ignore();
        self.run_pipe::<()>(&index).await?;
        self.get_sale(&sale_id, now).await
    }

    async fn get_sale(&self, sale_id: &str, now: UnixMillis) -> Result<SaleInfo, SaleError> {
        sale_info(&self.meta(sale_id).await?, now)
    }

    async fn latest_sale(
        &self,
        room_id: &str,
        now: UnixMillis,
    ) -> Result<Option<SaleInfo>, SaleError> {
        let latest: Option<String> = self
            .run(redis::cmd("LINDEX").arg(room_sales_key(room_id)).arg(-1))
            .await?;
        match latest {
            Some(sale_id) => self.get_sale(&sale_id, now).await.map(Some),
            None => Ok(None),
        }
    }

    async fn end_sale(&self, sale_id: &str, now: UnixMillis) -> Result<SaleInfo, SaleError> {
        validate::sale_id(sale_id)?;
        let (outcome, _) = split_reply(self.call("chophien_end_sale", sale_id, now, &[]).await?)?;
        if outcome != "ok" {
            return Err(refusal(&outcome));
        }
        self.get_sale(sale_id, now).await
    }

    async fn buy(&self, request: &BuyRequest, now: UnixMillis) -> Result<BuyResult, SaleError> {
        validate::buy_request(request)?;
        match self.buy_once(request, now).await {
            Err(SaleError::Unavailable(reason)) => {
                tracing::warn!(sale = %request.sale_id, %reason, "buy answered unavailable");
                Ok(BuyResult::rejected(BuyOutcome::Unavailable))
            }
            other => other,
        }
    }

    async fn confirm(
        &self,
        hold_id: &str,
        buyer_id: &str,
        shipping: &Shipping,
        now: UnixMillis,
    ) -> Result<Order, SaleError> {
        let shipping = validate::shipping(shipping)?;
        let sale_id = ids::sale_of_hold(hold_id).ok_or(SaleError::HoldNotFound)?;
        let keys = SaleKeys::new(sale_id);
        // The hold record and the price never change once written, so the
        // order can be built from this read; the function re-checks the hold.
        let (raw_hold, price): (Option<String>, Option<u64>) = self
            .run_pipe(
                redis::pipe()
                    .hget(keys.holds(), hold_id)
                    .hget(keys.meta(), "price_vnd"),
            )
            .await?;
        let record: HoldRecord = parse_json(&raw_hold.ok_or(SaleError::HoldNotFound)?)?;
        if record.buyer_id != buyer_id {
            return Err(SaleError::Forbidden);
        }
        let unit_price_vnd = price.ok_or(SaleError::HoldNotFound)?;
        let order = Order {
            order_id: ids::new_order_id(),
            sale_id: sale_id.to_owned(),
            hold_id: hold_id.to_owned(),
            buyer_id: record.buyer_id,
            buyer_name: record.buyer_name,
            quantity: record.quantity,
            unit_price_vnd,
            total_vnd: unit_price_vnd * u64::from(record.quantity),
            shipping,
            created_at: now,
        };
        let order_json = serde_json::to_string(&order).map_err(internal)?;
        let (outcome, payload) = split_reply(
            self.call(
                "chophien_confirm",
                sale_id,
                now,
                &[buyer_id, hold_id, &order_json],
            )
            .await?,
        )?;
        match (outcome.as_str(), payload.first()) {
            ("confirmed", Some(stored)) => parse_json(stored),
            (other, _) => Err(refusal(other)),
        }
    }

    async fn cancel(
        &self,
        hold_id: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<(), SaleError> {
        let sale_id = ids::sale_of_hold(hold_id).ok_or(SaleError::HoldNotFound)?;
        let (outcome, _) = split_reply(
            self.call("chophien_cancel", sale_id, now, &[buyer_id, hold_id])
                .await?,
        )?;
        match outcome.as_str() {
            "cancelled" => Ok(()),
            other => Err(refusal(other)),
        }
    }

    async fn expire_due(&self, sale_id: &str, now: UnixMillis) -> Result<ExpiryReport, SaleError> {
        validate::sale_id(sale_id)?;
        let batch = EXPIRE_BATCH.to_string();
        let (outcome, payload) = split_reply(
            self.call("chophien_expire_due", sale_id, now, &[&batch])
                .await?,
        )?;
        let [returned, remaining, retired, room_id] = payload.as_slice() else {
            if outcome == "sale_not_found" {
                // Its keys are gone (deleted by hand): stop visiting it.
                self.run::<()>(redis::cmd("SREM").arg(ACTIVE_SALES).arg(sale_id))
                    .await?;
            }
            return Err(refusal(&outcome));
        };
        let report = ExpiryReport {
            sale_id: sale_id.to_owned(),
            room_id: room_id.clone(),
            returned_units: returned.parse().map_err(internal)?,
            remaining: remaining.parse().map_err(internal)?,
            retired: retired == "1",
        };
        if report.retired {
            self.run::<()>(redis::cmd("SREM").arg(ACTIVE_SALES).arg(sale_id))
                .await?;
        }
        Ok(report)
    }

    async fn active_sales(&self) -> Result<Vec<String>, SaleError> {
        self.run(redis::cmd("SMEMBERS").arg(ACTIVE_SALES)).await
    }

    async fn orders_for_sale(&self, sale_id: &str) -> Result<Vec<Order>, SaleError> {
        validate::sale_id(sale_id)?;
        self.meta(sale_id).await?;
        sorted_orders(
            self.run(redis::cmd("HVALS").arg(SaleKeys::new(sale_id).orders()))
                .await?,
        )
    }

    async fn orders_for_room(&self, room_id: &str) -> Result<Vec<Order>, SaleError> {
        let sale_ids: Vec<String> = self
            .run(
                redis::cmd("LRANGE")
                    .arg(room_sales_key(room_id))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        let mut raw = Vec::new();
        for sale_id in sale_ids {
            let orders: Vec<String> = self
                .run(redis::cmd("HVALS").arg(SaleKeys::new(&sale_id).orders()))
                .await?;
            raw.extend(orders);
        }
        sorted_orders(raw)
    }

    /// Calls a function of the library (reloading it if missing), which
    /// proves more than a PING: the functions are there to serve buys.
    async fn health(&self) -> Result<(), SaleError> {
        let mut fcall = redis::cmd("FCALL_RO");
        fcall.arg("chophien_ping").arg(0);
        match self.try_run::<Vec<String>>(&fcall).await? {
            Err(err) if function_missing(&err) => self.load_library().await,
            result => result.map(drop).map_err(classify),
        }
    }
}
