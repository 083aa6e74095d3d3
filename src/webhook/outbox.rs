//! The durable outbox: where each room's webhook settings and every event
//! on its way to a webhook live until delivered or given up, and the due
//! index through which any node's worker finds what to send next.
//!
//! [`Outbox`] is the seam: [`MemoryOutbox`] for one process (the embedded
//! default; lost on restart) and [`RedisOutbox`] with `store.kind =
//! "redis"`, where an entry written by one node is delivered by any node,
//! also after the node that wrote it is gone. Both pass one suite
//! (`tests/webhooks/outbox.rs`).
//!
//! **Claiming is a lease.** [`Outbox::claim`] takes the due entries and, in
//! the same atomic step, moves each one's due time to `lease_until`: another
//! worker (on this node or another) does not see it again until the lease
//! runs out, by which time the attempt has been recorded, or its worker
//! died and the entry is due again. Delivery is at least once: a worker
//! that dies after sending but before recording makes the entry be sent
//! again, under the same event id.
//!
//! **Recording is compare-and-set** on the attempt count read before the
//! attempt, so of two workers that both attempted an entry (a lease that ran
//! out under a very slow receiver) only the first outcome is kept.

mod memory;
mod redis;

use async_trait::async_trait;

use crate::clock::UnixMillis;
use crate::sale::JournalEntry;

use super::event::{Delivery, DueRef};
use super::{WebhookConfig, WebhookError};

pub use memory::MemoryOutbox;
pub use redis::RedisOutbox;

#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Sets (`Some`) or removes (`None`) the room's webhook.
    async fn set_config(
        &self,
        room_id: &str,
        config: Option<&WebhookConfig>,
    ) -> Result<(), WebhookError>;

    async fn config(&self, room_id: &str) -> Result<Option<WebhookConfig>, WebhookError>;

    /// Stores a new pending delivery and makes it due at its
    /// `next_attempt_at`; it heads the room's log. Once this returns `Ok`,
    /// some worker will attempt it.
    async fn enqueue(&self, delivery: &Delivery) -> Result<(), WebhookError>;

    /// Readies `delivery` to be written by another atomic step (the sale
    /// store's, with the order it is about): the entry as a
    /// [`JournalEntry`]. In Redis its place in the due index is reserved
    /// first, so the entry is reachable as soon as it is written, whatever
    /// happens after.
    async fn stage(&self, delivery: &Delivery) -> Result<JournalEntry, WebhookError>;

    /// The step that wrote a staged entry of `room_id` has committed: it is
    /// due now (the memory outbox stores it only now).
    async fn staged(&self, room_id: &str, entry: &JournalEntry) -> Result<(), WebhookError>;

    /// Up to `limit` deliveries due at `now`, each leased until
    /// `lease_until` (see the module doc). Atomic: two workers never claim
    /// the same entry at once.
    async fn claim(
        &self,
        now: UnixMillis,
        lease_until: UnixMillis,
        limit: usize,
    ) -> Result<Vec<DueRef>, WebhookError>;

    /// The entry, if it is still kept.
    async fn get(&self, due: &DueRef) -> Result<Option<Delivery>, WebhookError>;

    /// Writes `delivery` (an attempt's outcome) if the entry still has
    /// `attempts_before` attempts, then makes it due at its
    /// `next_attempt_at` while pending, or takes it out of the due index.
    /// Answers whether it wrote.
    async fn record(&self, delivery: &Delivery, attempts_before: u32)
        -> Result<bool, WebhookError>;

    /// Takes an entry out of the due index (it is gone, or settled).
    async fn forget(&self, due: &DueRef) -> Result<(), WebhookError>;

    /// The room's latest deliveries, newest first.
    async fn log(&self, room_id: &str) -> Result<Vec<Delivery>, WebhookError>;

    /// Makes the entry pending and due at `now` (one more attempt, whatever
    /// its state); `None` if it is not kept.
    async fn retry(&self, due: &DueRef, now: UnixMillis) -> Result<Option<Delivery>, WebhookError>;
}
