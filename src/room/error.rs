//! Why a room refused a request.
//!
//! The wire code of each variant is decided in one place, the service
//! layer's `refusal.rs`, beside the codes of every other domain's errors.

use std::time::Duration;

use crate::clock::UnixMillis;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoomError {
    #[error("your role does not allow this")]
    Forbidden,
    #[error("you cannot do this to someone of equal or higher rank than you")]
    Outranked,
    #[error("you cannot do this to yourself")]
    OwnIdentity,
    #[error("no such room")]
    RoomNotFound,
    #[error("no such product in this room")]
    ProductNotFound,
    #[error("no such chat message")]
    MessageNotFound,
    #[error("this room has ended")]
    Ended,
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("you are muted in this room")]
    Muted { until: UnixMillis },
    #[error("slow mode is on: wait before sending another message")]
    SlowMode { retry_after: Duration },
    #[error("the message contains a word not allowed in this room")]
    BannedWord,
    #[error("you are banned from this room")]
    Banned,
    #[error("a room with this id exists already")]
    AlreadyExists,
    /// The room store did not answer in time or is down; whether the
    /// request took effect is unknown.
    #[error("the room store is unavailable: {0}")]
    Unavailable(String),
    /// The room store answered something this code does not understand.
    #[error("room store error: {0}")]
    Internal(String),
}

impl RoomError {
    /// When the client may try again, for errors that pass with time.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            RoomError::SlowMode { retry_after } => Some(retry_after.as_millis().max(1) as u64),
            RoomError::Muted { until } => Some(until.saturating_sub(crate::clock::unix_millis())),
            _ => None,
        }
    }
}
