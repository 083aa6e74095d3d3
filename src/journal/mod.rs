//! The session journal: what happened in each room, in order, with times —
//! the one source reports and metrics are computed from (`analytics`,
//! `docs/metrics.md`), so any figure can be recomputed and audited.
//!
//! Entries come from two places:
//! - **Room events**, exactly as they went out, recorded by the room store in
//!   the same step that numbered them (in Redis, inside the room's function;
//!   in memory, under the room's lock): once per event, whichever node ran it.
//! - **What only a node sees**: joins and leaves (with how long the visit
//!   lasted), product-card taps, the answers to buys, bag adds and
//!   checkouts, orders placed, vouchers claimed, and who moderated whom.
//!
//! Writing never waits for storage: [`Journal::record`] serializes the entry
//! and queues it; a writer drains the queue in batches (a thread appending
//! JSON lines to one file per session under `data.dir` in the embedded mode,
//! which survives a restart; a task appending to the room's Redis stream
//! `{room:R}:journal` otherwise). Fan-out never shares a lock with it. A
//! crash loses at most the batch being written.
//!
//! Entries are kept `journal.retention_days` after a session's last entry.

mod file;
mod redis;
#[cfg(test)]
pub(crate) mod test_support;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::auth::Role;
use crate::clock::UnixMillis;
use crate::money::Vnd;
use crate::protocol::{ErrorCode, Product, SequencedEvent};
use crate::redis_link::{LinkError, RedisLink};
use crate::sale::BuyOutcome;

pub use self::file::FileJournal;
pub use self::redis::{journal_key, RedisJournal};

/// One line of a journal: when, and what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JournalEntry {
    /// Unix milliseconds, from the clock of the node (or, for room events
    /// in Redis, the caller's clock passed to the room's function).
    pub at: UnixMillis,
    #[serde(flatten)]
    pub record: Record,
}

/// What a journal entry says happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The room was created: the first entry of every session.
    SessionOpened {
        room_id: String,
        title: String,
        seller_name: String,
        products: Vec<Product>,
        /// A practice room of a trainer's class ("Phòng luyện tập"): its
        /// report, replay and orders say so after the room is gone. Absent
        /// in journals written before it was recorded, and for real rooms.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        practice: bool,
    },
    /// A room event, with its seq, as every client received it.
    Event { event: SequencedEvent },
    /// A connection joined the room. `visit` names it until it leaves.
    Joined {
        visit: String,
        user_id: String,
        name: String,
        role: Role,
    },
    /// The connection `visit` left, `duration_ms` after it joined.
    Left {
        visit: String,
        user_id: String,
        role: Role,
        duration_ms: u64,
    },
    /// A viewer opened a product's card (`view_product`).
    ProductViewed { user_id: String, product_id: String },
    /// The answer to a flash-sale `buy`.
    BuyAnswered {
        user_id: String,
        sale_id: String,
        quantity: u32,
        outcome: BuyOutcome,
    },
    /// The answer to an `add_to_bag`.
    BagAnswered {
        user_id: String,
        product_id: String,
        quantity: u32,
        outcome: BuyOutcome,
    },
    /// An order was placed (a confirmed hold or a checked-out bag), once
    /// per order whatever the retries.
    OrderPlaced {
        order_id: String,
        buyer_id: String,
        /// The flash sale, or `bag`.
        sale_id: String,
        /// One line per product; a flash-sale order's product is its sale's.
        lines: Vec<OrderedLine>,
        discount_vnd: Vnd,
        total_vnd: Vnd,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        voucher_code: Option<String>,
    },
    /// A confirmation or checkout was refused.
    OrderRefused { user_id: String, code: ErrorCode },
    /// A viewer claimed a dropped voucher.
    VoucherClaimed { user_id: String, code: String },
    /// Someone moderated: deleted a message, muted, banned, changed the
    /// chat's rules. The room event says what; this says who.
    Moderated {
        by_user_id: String,
        by_role: Role,
        action: String,
        target: String,
    },
    /// Practice rooms: someone coached the trainee privately (the trainer's
    /// whisper or canned nudge, or the automatic prompter). Never shown to
    /// the audience.
    Coached {
        /// The trainer's user id, or `auto` for the automatic prompter.
        by: String,
        /// `whisper`, `nudge`, or the prompter's reason (`question_waiting`,
        /// `viewers_dropping`, `silent`).
        kind: String,
        text: String,
    },
    /// Practice rooms: a scenario began (fired live or from the lesson's
    /// timeline); the scorecard times the trainee's response from here.
    ScenarioFired {
        scenario_id: String,
        title: String,
        /// `live` (the trainer fired it) or `timeline`.
        how: String,
    },
    /// The compliance checker flagged a text of the host.
    ComplianceFlagged {
        rule_id: String,
        /// `serious` caps the scorecard; `warning` costs points.
        severity: String,
        /// Where the text was: `chat`, `product`, `pinned_note`, `script`.
        source: String,
        /// The words that matched, as written.
        excerpt: String,
    },
    /// Practice rooms: the trainer's own marks for the attempt (0–10 each);
    /// the latest one counts (`practice::review`, the scorecard).
    TrainerMarked {
        /// The trainer's (or admin's) user id.
        by: String,
        presentation: u8,
        product_knowledge: u8,
        /// Up to 500 characters; may be empty.
        comment: String,
    },
    /// Practice rooms: the trainer's note on a moment of the replay, shown
    /// to the trainee and the trainer, never on the public replay.
    Annotated {
        by: String,
        /// The moment of the session the note is about (unix ms).
        moment: UnixMillis,
        /// 1 to 500 characters.
        text: String,
    },
}

/// One product of a placed order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderedLine {
    /// Empty for a flash-sale order: its sale's `sale_updated` names it.
    #[serde(default)]
    pub product_id: String,
    pub quantity: u32,
    pub unit_price_vnd: Vnd,
}

/// A session of a room: a room id names one session in Redis (ids are not
/// reused), but the embedded mode re-creates its demo room at every start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    pub room_id: String,
    /// When the session's room was created (unix ms).
    pub opened_at: UnixMillis,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JournalError {
    #[error("the journal is turned off")]
    Disabled,
    #[error("no journal for this room")]
    NotFound,
    #[error("the journal store is unavailable: {0}")]
    Unavailable(String),
}

impl From<LinkError> for JournalError {
    fn from(error: LinkError) -> JournalError {
        JournalError::Unavailable(error.to_string())
    }
}

/// A serialized entry on its way to storage.
#[derive(Debug)]
pub(crate) struct Line {
    pub room_id: String,
    pub json: String,
    /// Set for `session_opened`: which session the following lines join.
    pub opens: Option<Opened>,
}

#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub at: UnixMillis,
    pub seller_name: String,
}

/// What the writer is asked to do, in order.
pub(crate) enum Job {
    Append(Line),
    /// Answer once every line queued before this one is stored.
    Flush(oneshot::Sender<()>),
}

/// This node's handle on the journal: cheap to clone, `record` never waits.
#[derive(Clone)]
pub struct Journal {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    jobs: mpsc::UnboundedSender<Job>,
    store: Store,
}

enum Store {
    Files(FileJournal),
    Redis(RedisJournal),
}

impl Journal {
    /// No journal: `record` does nothing, reads answer `Disabled`.
    pub fn disabled() -> Journal {
        Journal { inner: None }
    }

    /// JSON-lines files under `dir`, one per session, written by a thread of
    /// their own.
    pub fn in_files(dir: std::path::PathBuf, retention_days: u32) -> Journal {
        let (jobs, queue) = mpsc::unbounded_channel();
        let store = FileJournal::new(dir, retention_days);
        store.spawn_writer(queue);
        Journal::with(jobs, Store::Files(store))
    }

    /// A Redis stream per room (`{room:R}:journal`), written by a task.
    pub fn on_redis(link: RedisLink, retention_days: u32) -> Journal {
        let (jobs, queue) = mpsc::unbounded_channel();
        let store = RedisJournal::new(link, retention_days);
        store.spawn_writer(queue);
        Journal::with(jobs, Store::Redis(store))
    }

    fn with(jobs: mpsc::UnboundedSender<Job>, store: Store) -> Journal {
        Journal {
            inner: Some(Arc::new(Inner { jobs, store })),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Queue `record` for `room_id`, stamped `at`.
    pub fn record(&self, room_id: &str, at: UnixMillis, record: Record) {
        let Some(inner) = &self.inner else { return };
        let opens = match &record {
            Record::SessionOpened { seller_name, .. } => Some(Opened {
                at,
                seller_name: seller_name.clone(),
            }),
            _ => None,
        };
        let entry = JournalEntry { at, record };
        match serde_json::to_string(&entry) {
            Ok(json) => {
                let _ = inner.jobs.send(Job::Append(Line {
                    room_id: room_id.to_owned(),
                    json,
                    opens,
                }));
            }
            Err(error) => tracing::error!(%error, "a journal entry could not be serialized"),
        }
    }

    /// Queue a room event already serialized as the protocol's
    /// `SequencedEvent` (the memory room store's frames), without parsing
    /// it again.
    pub fn record_event(&self, room_id: &str, at: UnixMillis, event_json: &str) {
        let Some(inner) = &self.inner else { return };
        let json = event_line(at, event_json);
        let _ = inner.jobs.send(Job::Append(Line {
            room_id: room_id.to_owned(),
            json,
            opens: None,
        }));
    }

    /// Wait until everything recorded so far is stored.
    pub async fn flush(&self) {
        let Some(inner) = &self.inner else { return };
        let (done, stored) = oneshot::channel();
        if inner.jobs.send(Job::Flush(done)).is_ok() {
            let _ = stored.await;
        }
    }

    /// The room's latest session, oldest entry first, after this node's
    /// queued entries are stored. Lines that cannot be read (a line torn by
    /// a crash) are skipped.
    pub async fn read(&self, room_id: &str) -> Result<Vec<JournalEntry>, JournalError> {
        let lines = self.read_lines(room_id).await?;
        Ok(parse_lines(&lines))
    }

    /// The room's latest session as stored: one JSON object per line, for
    /// export.
    pub async fn read_lines(&self, room_id: &str) -> Result<Vec<String>, JournalError> {
        let inner = self.inner.as_ref().ok_or(JournalError::Disabled)?;
        self.flush().await;
        match &inner.store {
            Store::Files(files) => files.read_latest(room_id).await,
            Store::Redis(redis) => redis.read(room_id).await,
        }
    }

    /// One session's entries.
    pub async fn read_session(
        &self,
        session: &SessionRef,
    ) -> Result<Vec<JournalEntry>, JournalError> {
        let inner = self.inner.as_ref().ok_or(JournalError::Disabled)?;
        let lines = match &inner.store {
            Store::Files(files) => files.read_session(session).await?,
            Store::Redis(redis) => redis.read(&session.room_id).await?,
        };
        Ok(parse_lines(&lines))
    }

    /// The sessions of the seller named `seller_name`, newest first.
    pub async fn sessions_of(&self, seller_name: &str) -> Result<Vec<SessionRef>, JournalError> {
        let inner = self.inner.as_ref().ok_or(JournalError::Disabled)?;
        self.flush().await;
        match &inner.store {
            Store::Files(files) => files.sessions_of(seller_name).await,
            Store::Redis(redis) => redis.sessions_of(seller_name).await,
        }
    }
}

/// The journal line of a room event serialized as a `SequencedEvent`: the
/// same shape the Redis room functions write (`room.lua`, `publish`).
fn event_line(at: UnixMillis, event_json: &str) -> String {
    let mut json = String::with_capacity(event_json.len() + 40);
    json.push_str("{\"at\":");
    json.push_str(&at.to_string());
    json.push_str(",\"type\":\"event\",\"event\":");
    json.push_str(event_json);
    json.push('}');
    json
}

fn parse_lines(lines: &[String]) -> Vec<JournalEntry> {
    let mut skipped = 0usize;
    let entries = lines
        .iter()
        .filter_map(|line| {
            let parsed = serde_json::from_str(line);
            skipped += usize::from(parsed.is_err());
            parsed.ok()
        })
        .collect();
    if skipped > 0 {
        tracing::warn!(skipped, "journal lines that could not be read were skipped");
    }
    entries
}

/// Days in milliseconds.
fn days_ms(days: u32) -> u64 {
    u64::from(days) * 24 * 60 * 60 * 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RoomEvent;

    #[test]
    fn a_room_event_line_reads_back_as_the_event() {
        let event = SequencedEvent {
            seq: 7,
            event: RoomEvent::ProductUnpinned,
        };
        let json = serde_json::to_string(&event).unwrap();
        let line = event_line(1_000, &json);
        let entry: JournalEntry = serde_json::from_str(&line).unwrap();
        assert_eq!(
            entry,
            JournalEntry {
                at: 1_000,
                record: Record::Event { event }
            }
        );
    }

    #[test]
    fn a_torn_line_is_skipped_and_the_others_kept() {
        let good = serde_json::to_string(&JournalEntry {
            at: 5,
            record: Record::ProductViewed {
                user_id: "u".into(),
                product_id: "p1".into(),
            },
        })
        .unwrap();
        let lines = vec![good.clone(), good[..good.len() / 2].to_owned(), good];
        assert_eq!(parse_lines(&lines).len(), 2);
    }
}
