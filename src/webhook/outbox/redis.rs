//! The outbox in Redis (`store.kind = "redis"`): shared by every node, and
//! durable as far as Redis is (AOF).
//!
//! Keys (layout in `outbox.lua`): a room's webhook settings, its entries and
//! its log carry the room's hash tag, `{room:R}:webhook:…`, so they share
//! the room's Cluster slot; the due index `chophien:webhooks:due` is one
//! untagged sorted set of `<room>/<event id>` by due time, which any node's
//! worker reads, like the sale sweepers' `chophien:sales:active`. A function
//! touches one slot only, so a room's keys and the index are written by
//! separate calls, in an order that never strands an entry:
//!
//! 1. the index gets the member with a due time [`RESERVATION`] ahead (a
//!    reservation),
//! 2. the entry is written (`chophien_webhook_enqueue`),
//! 3. the member is made due at once.
//!
//! A crash after 1 leaves a member without an entry, which the worker drops
//! (nothing had been promised: `publish` had not returned). A crash after 2
//! leaves an entry whose reservation makes it due a minute later. Every
//! entry written is therefore reachable from the index; at worst it is sent
//! late, or twice, never lost. Recording an outcome writes the entry first,
//! then moves or removes its member; a crash in between leaves the member
//! under its lease, and the next claim finds the entry settled (dropped
//! from the index) or pending (attempted). Times come from the caller, never
//! Redis' clock.
//!
//! A settled entry expires after `retention`; the log lists the newest
//! `log_size` event ids and skips those that expired.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use redis::Cmd;

use crate::clock::UnixMillis;
use crate::redis_link::{room_tag, RedisLink};
use crate::sale::JournalEntry;
use crate::webhook::event::{Delivery, DeliveryState, DueRef};
use crate::webhook::{WebhookConfig, WebhookError};

use super::Outbox;

/// The due index of every room's deliveries (not tagged: it spans rooms).
pub const DUE: &str = "chophien:webhooks:due";

/// How far ahead of its due time a new entry is first indexed (see the
/// module doc): well past the link's deadline, so step 2 has either
/// happened or failed by then.
pub const RESERVATION: Duration = Duration::from_secs(60);

pub struct RedisOutbox {
    /// The project's one link: its deadline, error classification and the
    /// function library (`outbox.lua` is part of `chophien`).
    link: RedisLink,
    /// Event ids kept in a room's log.
    log_size: usize,
    /// How long a delivered or failed entry is kept.
    retention: Duration,
}

fn config_key(room_id: &str) -> String {
    format!("{}:webhook:config", room_tag(room_id))
}

fn log_key(room_id: &str) -> String {
    format!("{}:webhook:log", room_tag(room_id))
}

fn event_key(due: &DueRef) -> String {
    format!("{}:webhook:event:{}", room_tag(&due.room_id), due.event_id)
}

impl RedisOutbox {
    /// An outbox over `link`, which must have loaded the `chophien`
    /// library ([`RedisLink::connect`]).
    pub fn new(link: RedisLink, log_size: usize, retention: Duration) -> RedisOutbox {
        RedisOutbox {
            link,
            log_size: log_size.max(1),
            retention,
        }
    }

    /// Puts `due` in the index at `at` (or moves it there).
    async fn index(&self, due: &DueRef, at: UnixMillis) -> Result<(), WebhookError> {
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(DUE).arg(at).arg(due.member());
        self.link.run::<i64>(&zadd).await?;
        Ok(())
    }
}

/// A delivery as its hash's field/value pairs, flat, for `HSET`.
fn fields(delivery: &Delivery) -> Vec<String> {
    delivery
        .fields()
        .into_iter()
        .flat_map(|(name, value)| [name, value])
        .collect()
}

/// The delivery in a hash read with `HGETALL`; `None` for an absent key.
fn decode(due: &DueRef, hash: HashMap<String, String>) -> Result<Option<Delivery>, WebhookError> {
    if hash.is_empty() {
        return Ok(None);
    }
    Delivery::from_fields(due, hash).map(Some)
}

#[async_trait]
impl Outbox for RedisOutbox {
    async fn set_config(
        &self,
        room_id: &str,
        config: Option<&WebhookConfig>,
    ) -> Result<(), WebhookError> {
        let key = config_key(room_id);
        let mut cmd = Cmd::new();
        match config {
            // The same three fields every time: HSET replaces all of them.
            Some(config) => cmd
                .arg("HSET")
                .arg(&key)
                .arg("url")
                .arg(&config.url)
                .arg("secret")
                .arg(&config.secret)
                .arg("updated_at")
                .arg(config.updated_at),
            None => cmd.arg("DEL").arg(&key),
        };
        self.link.run::<i64>(&cmd).await?;
        Ok(())
    }

    async fn config(&self, room_id: &str) -> Result<Option<WebhookConfig>, WebhookError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(config_key(room_id));
        let mut hash: HashMap<String, String> = self.link.run(&cmd).await?;
        if hash.is_empty() {
            return Ok(None);
        }
        let mut take = |field: &str| hash.remove(field).unwrap_or_default();
        Ok(Some(WebhookConfig {
            url: take("url"),
            secret: take("secret"),
            updated_at: take("updated_at").parse().unwrap_or_default(),
        }))
    }

    async fn enqueue(&self, delivery: &Delivery) -> Result<(), WebhookError> {
        let due = delivery.due_ref();
        let at = delivery.next_attempt_at.unwrap_or(delivery.created_at);
        // 1. Reserve: an entry written next is reachable even if 3 never runs.
        self.index(&due, at + RESERVATION.as_millis() as u64)
            .await?;
        // 2. The entry, first in the room's log.
        let keys = [event_key(&due), log_key(&due.room_id)];
        let mut args = vec![due.event_id.clone(), self.log_size.to_string()];
        args.extend(fields(delivery));
        self.link
            .fcall::<i64>("chophien_webhook_enqueue", &keys, args)
            .await?;
        // 3. Due now. Failing here only delays it to the reservation.
        if let Err(error) = self.index(&due, at).await {
            tracing::warn!(%error, event = %due.member(), "webhook indexed a minute late");
        }
        Ok(())
    }

    /// Step 1 here; step 2 is the sale store's call, which writes the entry
    /// with its order; step 3 is [`staged`](Outbox::staged).
    async fn stage(&self, delivery: &Delivery) -> Result<JournalEntry, WebhookError> {
        let due = delivery.due_ref();
        let at = delivery.next_attempt_at.unwrap_or(delivery.created_at);
        self.index(&due, at + RESERVATION.as_millis() as u64)
            .await?;
        Ok(JournalEntry {
            id: due.event_id.clone(),
            key: event_key(&due),
            fields: delivery.fields(),
            list_key: log_key(&due.room_id),
            list_cap: self.log_size,
        })
    }

    async fn staged(&self, room_id: &str, entry: &JournalEntry) -> Result<(), WebhookError> {
        let delivery = Delivery::from_journal(room_id, entry)?;
        let at = delivery.next_attempt_at.unwrap_or(delivery.created_at);
        self.index(&delivery.due_ref(), at).await
    }

    async fn claim(
        &self,
        now: UnixMillis,
        lease_until: UnixMillis,
        limit: usize,
    ) -> Result<Vec<DueRef>, WebhookError> {
        let members: Vec<String> = self
            .link
            .fcall(
                "chophien_webhook_claim",
                &[DUE.to_owned()],
                (now, lease_until, limit.max(1)),
            )
            .await?;
        let mut claimed = Vec::with_capacity(members.len());
        for member in members {
            match DueRef::parse(&member) {
                Some(due) => claimed.push(due),
                None => {
                    tracing::warn!(%member, "not a webhook due member; dropped");
                    let mut zrem = redis::cmd("ZREM");
                    zrem.arg(DUE).arg(&member);
                    self.link.run::<i64>(&zrem).await?;
                }
            }
        }
        Ok(claimed)
    }

    async fn get(&self, due: &DueRef) -> Result<Option<Delivery>, WebhookError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(event_key(due));
        decode(due, self.link.run(&cmd).await?)
    }

    async fn record(
        &self,
        delivery: &Delivery,
        attempts_before: u32,
    ) -> Result<bool, WebhookError> {
        let due = delivery.due_ref();
        let settled = delivery.state != DeliveryState::Pending;
        let ttl_ms = if settled {
            self.retention.as_millis().max(1) as u64
        } else {
            0
        };
        let mut args = vec![attempts_before.to_string(), ttl_ms.to_string()];
        args.extend(fields(delivery));
        let written: i64 = self
            .link
            .fcall("chophien_webhook_record", &[event_key(&due)], args)
            .await?;
        match (written, delivery.next_attempt_at) {
            (1, Some(at)) if !settled => self.index(&due, at).await?,
            (1 | -1, _) => self.forget(&due).await?,
            _ => {}
        }
        Ok(written == 1)
    }

    async fn forget(&self, due: &DueRef) -> Result<(), WebhookError> {
        let mut zrem = redis::cmd("ZREM");
        zrem.arg(DUE).arg(due.member());
        self.link.run::<i64>(&zrem).await?;
        Ok(())
    }

    async fn log(&self, room_id: &str) -> Result<Vec<Delivery>, WebhookError> {
        let mut lrange = redis::cmd("LRANGE");
        lrange
            .arg(log_key(room_id))
            .arg(0)
            .arg(self.log_size as i64 - 1);
        let ids: Vec<String> = self.link.run(&lrange).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let dues: Vec<DueRef> = ids
            .into_iter()
            .map(|event_id| DueRef {
                room_id: room_id.to_owned(),
                event_id,
            })
            .collect();
        // One room, one slot: one pipeline.
        let mut pipe = redis::pipe();
        for due in &dues {
            pipe.cmd("HGETALL").arg(event_key(due));
        }
        let hashes: Vec<HashMap<String, String>> = self.link.run_pipe(&pipe).await?;
        let mut deliveries = Vec::with_capacity(dues.len());
        for (due, hash) in dues.iter().zip(hashes) {
            if let Some(delivery) = decode(due, hash)? {
                deliveries.push(delivery);
            }
        }
        Ok(deliveries)
    }

    async fn retry(&self, due: &DueRef, now: UnixMillis) -> Result<Option<Delivery>, WebhookError> {
        let found: i64 = self
            .link
            .fcall("chophien_webhook_retry", &[event_key(due)], now)
            .await?;
        if found == 0 {
            return Ok(None);
        }
        self.index(due, now).await?;
        self.get(due).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::event::EventType;

    #[test]
    fn an_entry_reads_back_as_it_was_written() {
        let data = serde_json::json!({"order_id": "o1"});
        let mut delivery = Delivery::new("tra", EventType::OrderUpdated, &data, 5).unwrap();
        let due = delivery.due_ref();
        let hash = |delivery: &Delivery| -> HashMap<String, String> {
            let fields = fields(delivery);
            fields
                .chunks(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect()
        };
        assert_eq!(
            decode(&due, hash(&delivery)).unwrap(),
            Some(delivery.clone())
        );
        delivery.attempts = 3;
        delivery.state = DeliveryState::Failed;
        delivery.next_attempt_at = None;
        delivery.last_attempt_at = Some(9);
        delivery.last_status = Some(500);
        delivery.last_error = Some("HTTP 500".into());
        assert_eq!(decode(&due, hash(&delivery)).unwrap(), Some(delivery));
        assert_eq!(decode(&due, HashMap::new()).unwrap(), None);
    }

    #[test]
    fn keys_carry_the_room_tag_and_the_index_none() {
        let due = DueRef {
            room_id: "tra".into(),
            event_id: "e1".into(),
        };
        assert_eq!(event_key(&due), "{room:tra}:webhook:event:e1");
        assert_eq!(log_key("tra"), "{room:tra}:webhook:log");
        assert_eq!(config_key("tra"), "{room:tra}:webhook:config");
        assert!(!DUE.contains('{'));
    }
}
