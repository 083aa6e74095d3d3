//! Order events written with the orders themselves: the webhooks' side of
//! `sale::journal`.
//!
//! The sale store asks [`Webhooks`] for a journal entry before the atomic
//! step that makes or changes an order, writes it in that step, and tells
//! it once the step has committed. So an order that exists always has its
//! event in the outbox: with Redis, the entry is written by the very
//! function call that writes the order, and its place in the due index was
//! reserved before that call (a node that dies right after leaves an entry
//! that comes due a minute later). A room without a webhook gets no entry.

use async_trait::async_trait;

use crate::clock::UnixMillis;
use crate::sale::{JournalEntry, Order, OrderEventKind, OrderJournal};

use super::{check_room_id, Delivery, EventType, Webhooks};

fn event_type(kind: OrderEventKind) -> EventType {
    match kind {
        OrderEventKind::Created => EventType::OrderCreated,
        OrderEventKind::Updated => EventType::OrderUpdated,
        OrderEventKind::Cancelled => EventType::OrderCancelled,
    }
}

#[async_trait]
impl OrderJournal for Webhooks {
    /// Failures are logged, never the order's: the order goes ahead and
    /// only its event is lost (as when Redis fails after the order).
    async fn prepare(
        &self,
        room_id: &str,
        kind: OrderEventKind,
        order: &Order,
        now: UnixMillis,
    ) -> Option<JournalEntry> {
        let staged = async {
            check_room_id(room_id)?;
            if self.outbox().config(room_id).await?.is_none() {
                return Ok(None);
            }
            let data = serde_json::to_value(order)
                .map_err(|error| super::WebhookError::Internal(error.to_string()))?;
            let delivery = Delivery::new(room_id, event_type(kind), &data, now)?;
            self.outbox().stage(&delivery).await.map(Some)
        };
        match staged.await {
            Ok(entry) => entry,
            Err(error) => {
                tracing::warn!(room = %room_id, order = %order.order_id, %error, "could not stage a webhook event");
                None
            }
        }
    }

    async fn committed(&self, room_id: &str, entry: JournalEntry) {
        match self.outbox().staged(room_id, &entry).await {
            Ok(()) => self.0.wake.notify_one(),
            // With Redis the entry is written and reserved: it is sent a
            // minute late, not lost.
            Err(error) => {
                tracing::warn!(room = %room_id, event = %entry.id, %error, "a webhook event was not made due at once")
            }
        }
    }
}
