//! Builders of hand-written journals for unit tests (the analytics' and the
//! scorecard's): entries at whole seconds after a fixed start, so every
//! figure computed from them is known exactly.

use crate::auth::Role;
use crate::clock::UnixMillis;
use crate::protocol::{ChatMessage, ChatQuote, Product, RoomEvent, SequencedEvent};

use super::{JournalEntry, Record};

/// When the hand-written session starts.
pub const T0: UnixMillis = 1_700_000_000_000;
/// One second, in the journal's milliseconds.
pub const S: u64 = 1000;

/// `record`, `secs` after [`T0`].
pub fn at(secs: u64, record: Record) -> JournalEntry {
    JournalEntry {
        at: T0 + secs * S,
        record,
    }
}

/// The room event `event`, `secs` after [`T0`].
pub fn event(secs: u64, event: RoomEvent) -> JournalEntry {
    at(
        secs,
        Record::Event {
            event: SequencedEvent { seq: 0, event },
        },
    )
}

/// A product of 10 units at `price` đồng.
pub fn product(id: &str, price: u64) -> Product {
    Product {
        id: id.into(),
        name: format!("Sản phẩm {id}"),
        description: String::new(),
        price_vnd: price,
        stock: 10,
        image_url: None,
        per_buyer_limit: None,
    }
}

/// Viewer `user`'s visit `visit` begins.
pub fn join(secs: u64, visit: &str, user: &str) -> JournalEntry {
    at(
        secs,
        Record::Joined {
            visit: visit.into(),
            user_id: user.into(),
            name: user.into(),
            role: Role::Viewer,
        },
    )
}

/// Viewer `user`'s visit `visit` ends after `stayed` seconds.
pub fn leave(secs: u64, visit: &str, user: &str, stayed: u64) -> JournalEntry {
    at(
        secs,
        Record::Left {
            visit: visit.into(),
            user_id: user.into(),
            role: Role::Viewer,
            duration_ms: stayed * S,
        },
    )
}

/// Chat message `id` by `user` (`role`), quoting message `reply` if any.
pub fn chat(
    secs: u64,
    id: u64,
    user: &str,
    role: Role,
    text: &str,
    reply: Option<u64>,
) -> JournalEntry {
    event(
        secs,
        RoomEvent::Chat {
            message: ChatMessage {
                id,
                user_id: user.into(),
                name: user.into(),
                role,
                text: text.into(),
                sent_at: T0 + secs * S,
                reply_to: reply.map(|id| ChatQuote {
                    id,
                    user_id: String::new(),
                    name: String::new(),
                    text: String::new(),
                }),
            },
        },
    )
}
