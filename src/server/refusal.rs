//! Why the server refused a client's request, as it goes on the wire.
//!
//! Each domain has its own error enum (`RoomError`, `SaleError`, …); the
//! connection layer turns any of them into a [`Refusal`] — a stable code, a
//! message for people and, when waiting helps, how long to wait.

use crate::protocol::{DirectEvent, ErrorCode, ErrorEvent};
use crate::room::RoomError;
use crate::sale::SaleError;

#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// The `error` event answering the request with this id.
    pub fn into_event(self, id: Option<String>) -> DirectEvent {
        DirectEvent::Error(ErrorEvent {
            id,
            code: self.code,
            message: self.message,
            retry_after_ms: self.retry_after_ms,
        })
    }
}

impl From<RoomError> for Refusal {
    fn from(error: RoomError) -> Refusal {
        Refusal {
            code: error.code(),
            retry_after_ms: error.retry_after_ms(),
            message: error.to_string(),
        }
    }
}

impl From<SaleError> for Refusal {
    fn from(error: SaleError) -> Refusal {
        Refusal::new(error.error_code(), error.to_string())
    }
}
