//! What a webhook carries and what the outbox remembers about it: the event
//! types, the envelope (built and serialized once, so every attempt signs
//! and sends the same bytes) and a [`Delivery`], one event on its way to
//! one room's webhook.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::sale::JournalEntry;

use super::WebhookError;

/// The events a shop's system can receive. The wire names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A buyer confirmed a hold: a new order.
    #[serde(rename = "order.created")]
    OrderCreated,
    /// An order's status changed (paid, shipped, …).
    #[serde(rename = "order.updated")]
    OrderUpdated,
    /// An order was cancelled.
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// Sent on the seller's request (`POST …/webhook/test`) to check the setup.
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderUpdated => "order.updated",
            EventType::OrderCancelled => "order.cancelled",
            EventType::Ping => "ping",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        [
            EventType::OrderCreated,
            EventType::OrderUpdated,
            EventType::OrderCancelled,
            EventType::Ping,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// The JSON every webhook request carries, in this field order.
#[derive(Serialize)]
struct Envelope<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: EventType,
    created_at: UnixMillis,
    room_id: &'a str,
    data: &'a serde_json::Value,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt (or being attempted now).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed (or the webhook was removed): no more automatic
    /// attempts; the seller may retry it.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<DeliveryState> {
        match name {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One event on its way to one room's webhook: an outbox entry, and a line
/// of the room's delivery log (serialized without its body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// A UUID v4, also the envelope's `id` and the `Chophien-Event-Id`
    /// header: the same on every attempt, so receivers drop repeats.
    pub event_id: String,
    pub room_id: String,
    pub event_type: EventType,
    /// The envelope's exact JSON, built once at publish: every attempt signs
    /// and sends these bytes. Not part of the log.
    #[serde(skip)]
    pub body: String,
    pub created_at: UnixMillis,
    /// Attempts made so far (a manual retry adds one more).
    pub attempts: u32,
    pub state: DeliveryState,
    /// When the next attempt is due; `None` once delivered or failed.
    pub next_attempt_at: Option<UnixMillis>,
    pub last_attempt_at: Option<UnixMillis>,
    /// The receiver's HTTP status at the last attempt, if it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, for the seller (no secrets in it).
    pub last_error: Option<String>,
}

impl Delivery {
    /// A new pending delivery with a fresh event id, due at `now`.
    pub fn new(
        room_id: &str,
        event_type: EventType,
        data: &serde_json::Value,
        now: UnixMillis,
    ) -> Result<Delivery, WebhookError> {
        let event_id = uuid::Uuid::new_v4().to_string();
        let envelope = Envelope {
            id: &event_id,
            kind: event_type,
            created_at: now,
            room_id,
            data,
        };
        let body = serde_json::to_string(&envelope)
            .map_err(|error| WebhookError::Internal(format!("event JSON: {error}")))?;
        Ok(Delivery {
            event_id,
            room_id: room_id.to_owned(),
            event_type,
            body,
            created_at: now,
            attempts: 0,
            state: DeliveryState::Pending,
            next_attempt_at: Some(now),
            last_attempt_at: None,
            last_status: None,
            last_error: None,
        })
    }

    /// The entry as field/value pairs ("" for none): the fields of its hash
    /// in Redis, and what a journal entry carries (`sale::journal`).
    pub fn fields(&self) -> Vec<(String, String)> {
        let optional = |value: Option<String>| value.unwrap_or_default();
        [
            ("room_id", self.room_id.clone()),
            ("event_type", self.event_type.as_str().to_owned()),
            ("body", self.body.clone()),
            ("created_at", self.created_at.to_string()),
            ("attempts", self.attempts.to_string()),
            ("state", self.state.as_str().to_owned()),
            (
                "next_attempt_at",
                optional(self.next_attempt_at.map(|at| at.to_string())),
            ),
            (
                "last_attempt_at",
                optional(self.last_attempt_at.map(|at| at.to_string())),
            ),
            (
                "last_status",
                optional(self.last_status.map(|status| status.to_string())),
            ),
            ("last_error", optional(self.last_error.clone())),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// The entry [`fields`](Self::fields) describe, named by `due`.
    pub fn from_fields(
        due: &DueRef,
        mut fields: HashMap<String, String>,
    ) -> Result<Delivery, WebhookError> {
        let bad = |field: &str| {
            WebhookError::Internal(format!("webhook entry {}: bad {field}", due.member()))
        };
        let mut take = |field: &str| fields.remove(field).unwrap_or_default();
        fn number<T: std::str::FromStr>(text: &str) -> Option<Option<T>> {
            if text.is_empty() {
                Some(None)
            } else {
                text.parse().ok().map(Some)
            }
        }
        let event_type = EventType::parse(&take("event_type")).ok_or_else(|| bad("event_type"))?;
        let state = DeliveryState::parse(&take("state")).ok_or_else(|| bad("state"))?;
        let body = take("body");
        let created_at = number(&take("created_at"))
            .flatten()
            .ok_or_else(|| bad("created_at"))?;
        let attempts = number(&take("attempts"))
            .flatten()
            .ok_or_else(|| bad("attempts"))?;
        let next_attempt_at =
            number(&take("next_attempt_at")).ok_or_else(|| bad("next_attempt_at"))?;
        let last_attempt_at =
            number(&take("last_attempt_at")).ok_or_else(|| bad("last_attempt_at"))?;
        let last_status = number(&take("last_status")).ok_or_else(|| bad("last_status"))?;
        let last_error = Some(take("last_error")).filter(|error| !error.is_empty());
        Ok(Delivery {
            event_id: due.event_id.clone(),
            room_id: due.room_id.clone(),
            event_type,
            body,
            created_at,
            attempts,
            state,
            next_attempt_at,
            last_attempt_at,
            last_status,
            last_error,
        })
    }

    /// The entry a journal entry of `room_id` carries (`Outbox::stage`
    /// made it from one).
    pub fn from_journal(room_id: &str, entry: &JournalEntry) -> Result<Delivery, WebhookError> {
        let due = DueRef {
            room_id: room_id.to_owned(),
            event_id: entry.id.clone(),
        };
        Delivery::from_fields(&due, entry.fields.iter().cloned().collect())
    }

    /// Its member in the outbox's due index: `<room>/<event id>`.
    pub fn due_ref(&self) -> DueRef {
        DueRef {
            room_id: self.room_id.clone(),
            event_id: self.event_id.clone(),
        }
    }
}

/// A due delivery as the outbox's index names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DueRef {
    pub room_id: String,
    pub event_id: String,
}

impl DueRef {
    /// `<room>/<event id>`: room ids have no `/`.
    pub fn member(&self) -> String {
        format!("{}/{}", self.room_id, self.event_id)
    }

    pub fn parse(member: &str) -> Option<DueRef> {
        let (room_id, event_id) = member.split_once('/')?;
        Some(DueRef {
            room_id: room_id.to_owned(),
            event_id: event_id.to_owned(),
        })
    }
}

/// Checks a room id before it becomes part of a key: `[a-z0-9-]{1,64}`, the
/// rule the room registry enforces.
pub fn check_room_id(id: &str) -> Result<(), WebhookError> {
    if crate::redis_link::is_room_id(id) {
        Ok(())
    } else {
        Err(WebhookError::InvalidRoom)
    }
}

/// An event id as a client may send it: a UUID, in its canonical form.
pub fn parse_event_id(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id).ok().map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_id_type_created_at_room_id_data_in_that_order() {
        let data = serde_json::json!({"order_id": "o1", "total_vnd": 398000});
        let delivery =
            Delivery::new("tra", EventType::OrderCreated, &data, 1_700_000_000_000).unwrap();
        let expected = format!(
            r#"{{"id":"{}","type":"order.created","created_at":1700000000000,"room_id":"tra","data":{{"order_id":"o1","total_vnd":398000}}}}"#,
            delivery.event_id
        );
        assert_eq!(delivery.body, expected);
        assert_eq!(delivery.next_attempt_at, Some(1_700_000_000_000));
    }

    #[test]
    fn event_types_have_stable_wire_names() {
        for kind in [
            EventType::OrderCreated,
            EventType::OrderUpdated,
            EventType::OrderCancelled,
            EventType::Ping,
        ] {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn a_due_member_names_its_room_and_event() {
        let due = DueRef {
            room_id: "tra-1".into(),
            event_id: "e".into(),
        };
        assert_eq!(DueRef::parse(&due.member()), Some(due));
        assert_eq!(DueRef::parse("no-slash"), None);
    }
}
