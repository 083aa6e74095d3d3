//! A record written with an order in the same atomic step: how the shop's
//! webhook outbox gets `order.created`, `order.updated` and
//! `order.cancelled` without a window in which the order exists and its
//! event does not.
//!
//! The store knows nothing of webhooks: it holds an [`OrderJournal`] (the
//! server gives it one) and, for every order it creates or changes, asks it
//! for a [`JournalEntry`] *before* its atomic step, writes the entry in
//! that step (Redis: in the same function call as the order, so the
//! entry's keys share the room's hash tag), and tells the journal once the
//! step has committed. An entry is written only with an order that was
//! made or changed by this very step: a refused, repeated or conflicting
//! call writes none. The memory store has no crash to survive: it asks and
//! tells after its step.

use async_trait::async_trait;

use super::Order;
use crate::clock::UnixMillis;

/// What happened to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEventKind {
    Created,
    Updated,
    Cancelled,
}

impl OrderEventKind {
    /// What a change that left `order` as it is did.
    pub fn of_change(order: &Order) -> OrderEventKind {
        if order.status == super::OrderStatus::Cancelled {
            OrderEventKind::Cancelled
        } else {
            OrderEventKind::Updated
        }
    }
}

/// A hash to write once (and an id to list) beside an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Unique; pushed on `list_key`.
    pub id: String,
    /// A hash written with `fields` if it does not exist yet. Carries the
    /// room's hash tag.
    pub key: String,
    pub fields: Vec<(String, String)>,
    /// A list the id is pushed on (newest first), kept to `list_cap`
    /// items. Carries the room's hash tag.
    pub list_key: String,
    pub list_cap: usize,
}

impl JournalEntry {
    /// The entry as the functions take it after their own arguments: id,
    /// list cap, then field/value pairs.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![self.id.clone(), self.list_cap.to_string()];
        for (field, value) in &self.fields {
            args.push(field.clone());
            args.push(value.clone());
        }
        args
    }
}

/// Where order events go (the server's webhooks).
#[async_trait]
pub trait OrderJournal: Send + Sync + 'static {
    /// The entry to write with `order` (as it will be stored), or `None`
    /// when there is nothing to record (the room has no webhook).
    async fn prepare(
        &self,
        room_id: &str,
        kind: OrderEventKind,
        order: &Order,
        now: UnixMillis,
    ) -> Option<JournalEntry>;

    /// The store's step that wrote `entry` has committed.
    async fn committed(&self, room_id: &str, entry: JournalEntry);
}
