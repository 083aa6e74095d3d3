//! The Redis room store: rooms shared by every node on one Redis.
//!
//! Every change is one call of a Redis Function of the library `chophien`
//! (`room.lua`, loaded with the sale functions through [`RedisLink`]): it
//! checks the room's rules, changes the state, numbers its events with the
//! room's next `seq`, records them in the room's bounded stream and
//! publishes them on the room's shard channel — or changes nothing and
//! answers a refusal. Each node's [`feed`] delivers what any node committed
//! to its connections in `seq` order.
//!
//! Checks that need no room data (chat text, product fields) run here,
//! before the call; their verdict travels with it (`precheck`), so the
//! function refuses at the same point of the rules as the memory store.
//! Time comes from the caller. Every call has the link's deadline: Redis
//! down or frozen is `RoomError::Unavailable`, never a hang.
//!
//! When a room ends, every key of it gets a TTL (`ended_ttl`), its sales'
//! keys included — except each sale's meta and orders and the room's sale
//! list, which the orders export keeps reading. A room whose sale list is
//! still kept cannot be created again.

mod command;
mod feed;
mod keys;
mod reply;

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use redis::Value;

use crate::auth::Role;
use crate::bus::FrameSink;
use crate::clock::{Now, UnixMillis};
use crate::protocol::{Product, RoomEvent, RoomInfo, RoomStatus, SaleInfo};
use crate::redis_link::{LinkError, RedisLink};

use super::super::{Actor, RoomCommand, RoomError, RoomFact, RoomLimits};
use super::{newest_first, Joined, RoomRecord, RoomStore};
use feed::{Feed, SinkCell};
use keys::{RoomKeys, ROOM_INDEX};
use reply::{internal, refusal, split, text};

/// How rooms behave in this store; from the configuration.
#[derive(Debug, Clone)]
pub struct RedisRoomOptions {
    pub limits: RoomLimits,
    /// Events a room keeps for clients that resume by seq
    /// (`rooms.replay_buffer`): the stream's `MAXLEN ~`, and the most a
    /// resume may ask for.
    pub replay_capacity: usize,
    /// How long an ended room's keys live on (`rooms.ended_ttl_secs`).
    pub ended_ttl: Duration,
    /// Rooms created here record their events in their journal, kept this
    /// long after the room ends (`journal.enabled`, `journal.retention_days`).
    pub journal: Option<Duration>,
}

pub struct RedisRoomStore {
    /// The multiplexed connection with the deadline and the library; shared
    /// with the sale store when both run, so one socket carries both.
    link: RedisLink,
    options: RedisRoomOptions,
    /// This node, set once at start; shared with the feed task, which
    /// delivers through it (weak because the node owns the store).
    sink: SinkCell,
    /// This node's subscription to its attached rooms; its task ends when
    /// the store is dropped.
    feed: Feed,
}

/// How many times `end` re-reads the room's sales when one was created
/// between its read and its call.
const END_ATTEMPTS: usize = 3;

impl RedisRoomStore {
    /// A store over `link` (which has loaded the function library); starts
    /// this node's feed, so it must run inside a Tokio runtime.
    pub fn new(link: RedisLink, options: RedisRoomOptions) -> RedisRoomStore {
        let sink: SinkCell = Arc::new(OnceLock::new());
        let feed = Feed::start(&link, Arc::clone(&sink));
        RedisRoomStore {
            link,
            options,
            sink,
            feed,
        }
    }

    /// The `CLIENT LIST` name of this node's feed connection.
    pub fn feed_client_name(&self) -> &str {
        self.feed.name()
    }

    /// `FCALL function <the room's keys> channel now maxlen args...`: the
    /// outcome word and the rest of the reply.
    async fn call(
        &self,
        function: &str,
        keys: &RoomKeys,
        now: UnixMillis,
        args: Vec<String>,
    ) -> Result<(String, Vec<Value>), RoomError> {
        let mut argv = vec![
            keys.channel.clone(),
            now.to_string(),
            self.options.replay_capacity.max(1).to_string(),
        ];
        argv.extend(args);
        let reply: Value = self.link.fcall(function, &keys.keys, &argv[..]).await?;
        split(reply)
    }

    async fn call_ro(
        &self,
        function: &str,
        room_id: &str,
        args: Vec<String>,
    ) -> Result<(String, Vec<Value>), RoomError> {
        let keys = RoomKeys::new(room_id);
        let mut argv = vec![keys.channel.clone(), "0".to_owned(), "1".to_owned()];
        argv.extend(args);
        let reply: Value = self.link.fcall_ro(function, &keys.keys, &argv[..]).await?;
        split(reply)
    }

    /// A change: `Ok` when the function answered `ok`, the precheck's error
    /// when it reached that point of the rules, else its refusal.
    async fn change(
        &self,
        function: &str,
        room_id: &str,
        now: UnixMillis,
        args: Vec<String>,
        precheck: Result<(), RoomError>,
    ) -> Result<Vec<Value>, RoomError> {
        let (outcome, rest) = self
            .call(function, &RoomKeys::new(room_id), now, args)
            .await?;
        match outcome.as_str() {
            "ok" => Ok(rest),
            "precheck" => Err(precheck
                .err()
                .unwrap_or_else(|| internal("a precheck refusal without an error"))),
            word => Err(refusal(word, rest, &self.options.limits)),
        }
    }

    /// End the room (by `actor`'s command, or by no one's), expiring its keys.
    async fn end(
        &self,
        room_id: &str,
        actor: Option<&Actor>,
        reason: &str,
        now: UnixMillis,
    ) -> Result<(), RoomError> {
        let (user, rank) = actor.map_or((String::new(), 0), |a| (a.user_id.clone(), a.role.rank()));
        for _ in 0..END_ATTEMPTS {
            let sales: Vec<String> = self
                .link
                .run(
                    redis::cmd("LRANGE")
                        .arg(RoomKeys::new(room_id).sales())
                        .arg(0)
                        .arg(-1),
                )
                .await?;
            let keys = RoomKeys::with_sales(room_id, &sales);
            let mut args = vec![
                user.clone(),
                rank.to_string(),
                reason.to_owned(),
                self.options.ended_ttl.as_secs().max(1).to_string(),
            ];
            args.extend(sales);
            let (outcome, rest) = self.call("chophien_room_end", &keys, now, args).await?;
            match outcome.as_str() {
                "ok" => return Ok(()),
                "sales_changed" => continue,
                word => return Err(refusal(word, rest, &self.options.limits)),
            }
        }
        Err(internal("the room's sales kept changing while it ended"))
    }
}

impl From<LinkError> for RoomError {
    fn from(error: LinkError) -> RoomError {
        match error {
            LinkError::Unavailable(reason) => RoomError::Unavailable(reason),
            LinkError::Internal(reason) => RoomError::Internal(reason),
        }
    }
}

impl RoomStore for RedisRoomStore {
    fn connect_sink(&self, sink: Weak<dyn FrameSink>) {
        let _ = self.sink.set(sink);
    }

    fn attach(&self, room_id: &str) {
        self.feed.attach(room_id);
    }

    fn detach(&self, room_id: &str) {
        self.feed.detach(room_id);
    }

    async fn create(&self, room: RoomRecord) -> Result<RoomInfo, RoomError> {
        let mut args = vec![
            room.id.clone(),
            room.title.clone(),
            room.seller_name.clone(),
            room.created_at.to_string(),
            self.options
                .journal
                .map_or(0, |retention| retention.as_secs().max(1))
                .to_string(),
            flag_bit(room.practice),
            room.starts_at.map_or_else(String::new, |at| at.to_string()),
            room.cover_url.clone().unwrap_or_default(),
        ];
        for product in &room.products {
            args.push(product.id.clone());
            args.push(serde_json::to_string(product).map_err(internal)?);
        }
        self.change(
            "chophien_room_create",
            &room.id,
            room.created_at,
            args,
            Ok(()),
        )
        .await?;
        // Beside the call, not in it: the index spans rooms (and slots).
        let listed = self
            .link
            .run::<()>(
                redis::cmd("ZADD")
                    .arg(ROOM_INDEX)
                    .arg(room.created_at)
                    .arg(&room.id),
            )
            .await;
        if let Err(error) = listed {
            tracing::warn!(room = %room.id, %error, "room created but not listed");
        }
        Ok(RoomInfo {
            id: room.id,
            title: room.title,
            seller_name: room.seller_name,
            status: RoomStatus::Scheduled,
            viewer_count: 0,
            pinned_product_id: None,
            created_at: room.created_at,
            practice: room.practice,
            starts_at: room.starts_at,
            cover_url: room.cover_url,
        })
    }

    async fn info(&self, room_id: &str) -> Result<RoomInfo, RoomError> {
        let fields: Vec<Option<String>> = self
            .link
            .run(
                redis::cmd("HMGET")
                    .arg(RoomKeys::new(room_id).room())
                    .arg(&INFO_FIELDS[..]),
            )
            .await?;
        reply::info(room_id, fields)?.ok_or(RoomError::RoomNotFound)
    }

    async fn list(&self) -> Result<Vec<RoomInfo>, RoomError> {
        let ids: Vec<String> = self
            .link
            .run(redis::cmd("ZRANGE").arg(ROOM_INDEX).arg(0).arg(-1))
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Each room on its own slot: not one pipeline, but all at once.
        let reads: Vec<redis::Cmd> = ids
            .iter()
            .map(|id| {
                let mut read = redis::cmd("HMGET");
                read.arg(RoomKeys::new(id).room()).arg(&INFO_FIELDS[..]);
                read
            })
            .collect();
        let rows: Vec<Vec<Option<String>>> = self.link.run_each(&reads).await?;
        let mut infos = Vec::with_capacity(ids.len());
        let mut expired = Vec::new();
        for (id, fields) in ids.iter().zip(rows) {
            match reply::info(id, fields)? {
                Some(info) => infos.push(info),
                None => expired.push(id.clone()),
            }
        }
        if !expired.is_empty() {
            // Their keys expired after they ended: they leave the list.
            self.link
                .run::<()>(redis::cmd("ZREM").arg(ROOM_INDEX).arg(&expired))
                .await?;
        }
        newest_first(&mut infos);
        Ok(infos)
    }

    async fn join(
        &self,
        room_id: &str,
        actor: &Actor,
        last_seq: Option<u64>,
    ) -> Result<Joined, RoomError> {
        // Read only once this node's feed delivers the room: the view is
        // then never older than where the feed starts.
        self.feed.ready(room_id).await?;
        let args = vec![
            actor.user_id.clone(),
            actor.role.rank().to_string(),
            last_seq.map(|s| s.to_string()).unwrap_or_default(),
            self.options.replay_capacity.to_string(),
        ];
        let (outcome, rest) = self
            .call("chophien_room_join", &RoomKeys::new(room_id), 0, args)
            .await?;
        match outcome.as_str() {
            "resumed" | "snapshot" => reply::joined(&outcome, rest, room_id, last_seq),
            word => Err(refusal(word, rest, &self.options.limits)),
        }
    }

    async fn apply(
        &self,
        room_id: &str,
        actor: &Actor,
        command: &RoomCommand,
        now: Now,
    ) -> Result<(), RoomError> {
        if *command == RoomCommand::EndLive {
            let reason = "the seller ended the live session";
            return self.end(room_id, Some(actor), reason, now.wall).await;
        }
        let call = command::call(actor, command, &self.options.limits)?;
        self.change(call.function, room_id, now.wall, call.args, call.precheck)
            .await
            .map(drop)
    }

    async fn observe(&self, room_id: &str, fact: RoomFact) -> Result<(), RoomError> {
        let (function, args) = match fact {
            RoomFact::SaleChanged {
                sale,
                product_stock,
            } => (
                "chophien_room_sale",
                sale_args("replace", &sale, product_stock)?,
            ),
            RoomFact::SaleRead(sale) => ("chophien_room_sale", sale_args("refresh", &sale, None)?),
            RoomFact::OrderPlaced {
                sale_id,
                buyer_name,
                quantity,
            } => (
                "chophien_room_purchase",
                vec![sale_id, buyer_name, quantity.to_string()],
            ),
            RoomFact::ProductStock { product_id, stock } => (
                "chophien_room_product_stock",
                vec![product_id, stock.to_string()],
            ),
            RoomFact::VoucherDropped(voucher) => {
                let event = RoomEvent::VoucherDropped { voucher };
                let json = serde_json::to_string(&event)
                    .map_err(|error| RoomError::Internal(error.to_string()))?;
                ("chophien_room_announce", vec![json])
            }
            RoomFact::OrderStatus { status_tag, status } => (
                "chophien_room_order_status",
                vec![status_tag, status.as_str().to_owned()],
            ),
            RoomFact::StreamLive(live) => ("chophien_room_stream", vec![flag_bit(live)]),
        };
        let now = crate::clock::unix_millis();
        self.change(function, room_id, now, args, Ok(()))
            .await
            .map(drop)
    }

    async fn close(&self, room_id: &str, reason: &str) -> Result<RoomInfo, RoomError> {
        match self
            .end(room_id, None, reason, crate::clock::unix_millis())
            .await
        {
            Ok(()) | Err(RoomError::Ended) => self.info(room_id).await,
            Err(error) => Err(error),
        }
    }

    async fn product(&self, room_id: &str, product_id: &str) -> Result<Product, RoomError> {
        let (outcome, mut rest) = self
            .call_ro(
                "chophien_room_product",
                room_id,
                vec![product_id.to_owned()],
            )
            .await?;
        match (outcome.as_str(), rest.pop()) {
            ("ok", Some(json)) => reply::parse(&text(json)?),
            (word, _) => Err(refusal(word, rest, &self.options.limits)),
        }
    }

    async fn current_sale(&self, room_id: &str) -> Result<Option<SaleInfo>, RoomError> {
        let (status, sale): (Option<String>, Option<String>) = self
            .link
            .run(
                redis::cmd("HMGET")
                    .arg(RoomKeys::new(room_id).room())
                    .arg("status")
                    .arg("sale"),
            )
            .await?;
        match status.as_deref() {
            None => Err(RoomError::RoomNotFound),
            Some("ended") => Ok(None),
            Some(_) => reply::sale_of(sale.as_deref().unwrap_or("")),
        }
    }

    async fn is_banned(&self, room_id: &str, user_id: &str, role: Role) -> Result<bool, RoomError> {
        let args = vec![user_id.to_owned(), role.rank().to_string()];
        let (outcome, mut rest) = self
            .call_ro("chophien_room_is_banned", room_id, args)
            .await?;
        match (outcome.as_str(), rest.pop()) {
            ("ok", Some(banned)) => Ok(text(banned)? == "1"),
            (word, _) => Err(refusal(word, rest, &self.options.limits)),
        }
    }

    async fn add_hearts(
        &self,
        room_id: &str,
        count: u64,
        now: UnixMillis,
        every_ms: u64,
    ) -> Result<bool, RoomError> {
        let args = vec![count.to_string(), every_ms.to_string()];
        let rest = self
            .change("chophien_room_hearts", room_id, now, args, Ok(()))
            .await?;
        let owed = rest.into_iter().next().map(text).transpose()?;
        Ok(owed.as_deref() == Some("1"))
    }

    async fn report_viewers(
        &self,
        room_id: &str,
        node: &str,
        viewers: u64,
        now: UnixMillis,
        ttl_ms: u64,
    ) -> Result<(), RoomError> {
        let args = vec![node.to_owned(), viewers.to_string(), ttl_ms.to_string()];
        self.change("chophien_room_viewers", room_id, now, args, Ok(()))
            .await
            .map(drop)
    }

    async fn health(&self) -> Result<(), RoomError> {
        Ok(self.link.health().await?)
    }
}

/// The room hash fields `info` reads, in `reply::info`'s order.
const INFO_FIELDS: [&str; 9] = [
    "title",
    "seller_name",
    "status",
    "viewers",
    "pinned",
    "created_at",
    "practice",
    "starts_at",
    "cover",
];

fn flag_bit(set: bool) -> String {
    if set { "1" } else { "0" }.to_owned()
}

/// What `chophien_room_sale` compares: the sale as JSON and the fields a
/// refresh looks at; then its product and that product's stock after the
/// change (`''` when not known), which a replace tells and sets.
fn sale_args(
    mode: &str,
    sale: &SaleInfo,
    product_stock: Option<u32>,
) -> Result<Vec<String>, RoomError> {
    let state = serde_json::to_value(sale.state).map_err(internal)?;
    Ok(vec![
        mode.to_owned(),
        serde_json::to_string(sale).map_err(internal)?,
        sale.id.clone(),
        state.as_str().unwrap_or_default().to_owned(),
        sale.ends_at.to_string(),
        sale.remaining.to_string(),
        sale.product_id.clone(),
        product_stock
            .map(|stock| stock.to_string())
            .unwrap_or_default(),
    ])
}
