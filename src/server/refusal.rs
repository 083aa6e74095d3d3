//! Why the server refused a client's request, as it goes on the wire.
//!
//! Each domain has its own error enum (`RoomError`, `SaleError`,
//! `MediaError`, `PaymentError`, `WebhookError`); this module is the one table that gives each variant its
//! stable [`ErrorCode`] ([`Coded`]), and turns any of them into a
//! [`Refusal`] — a code, a message for people and, when waiting helps, how
//! long to wait. HTTP handlers take the same codes from here.

use crate::media::MediaError;
use crate::payment::PaymentError;
use crate::practice::PracticeError;
use crate::protocol::{DirectEvent, ErrorCode, ErrorEvent};
use crate::room::RoomError;
use crate::sale::SaleError;
use crate::webhook::WebhookError;

/// A domain error's stable wire code.
pub trait Coded: std::fmt::Display {
    fn code(&self) -> ErrorCode;
}

impl Coded for RoomError {
    fn code(&self) -> ErrorCode {
        match self {
            RoomError::Forbidden | RoomError::Outranked | RoomError::OwnIdentity => {
                ErrorCode::Forbidden
            }
            RoomError::RoomNotFound => ErrorCode::RoomNotFound,
            RoomError::ProductNotFound => ErrorCode::ProductNotFound,
            RoomError::MessageNotFound => ErrorCode::MessageNotFound,
            RoomError::Ended => ErrorCode::RoomEnded,
            RoomError::InvalidState(_) => ErrorCode::InvalidState,
            RoomError::InvalidValue(_) => ErrorCode::InvalidValue,
            RoomError::Muted { .. } => ErrorCode::Muted,
            RoomError::SlowMode { .. } => ErrorCode::SlowMode,
            RoomError::BannedWord => ErrorCode::BannedWord,
            RoomError::Banned => ErrorCode::Banned,
            RoomError::AlreadyExists => ErrorCode::AlreadyExists,
            RoomError::Unavailable(_) => ErrorCode::Unavailable,
            RoomError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl Coded for SaleError {
    fn code(&self) -> ErrorCode {
        match self {
            SaleError::SaleNotFound => ErrorCode::SaleNotFound,
            SaleError::HoldNotFound => ErrorCode::HoldNotFound,
            SaleError::HoldExpired => ErrorCode::HoldExpired,
            SaleError::LimitReached => ErrorCode::LimitReached,
            SaleError::InvalidShipping(_) => ErrorCode::InvalidShipping,
            SaleError::InvalidValue(_) => ErrorCode::InvalidValue,
            SaleError::Forbidden => ErrorCode::Forbidden,
            SaleError::SaleRunning => ErrorCode::InvalidState,
            SaleError::OrderNotFound => ErrorCode::OrderNotFound,
            SaleError::InvalidTransition { .. } => ErrorCode::InvalidTransition,
            SaleError::CancelWindowClosed => ErrorCode::CancelWindowClosed,
            SaleError::InsufficientStock { .. } => ErrorCode::InsufficientStock,
            SaleError::VoucherNotFound => ErrorCode::VoucherNotFound,
            SaleError::VoucherExpired => ErrorCode::VoucherExpired,
            SaleError::VoucherUsedUp => ErrorCode::VoucherUsedUp,
            SaleError::VoucherAlreadyUsed => ErrorCode::VoucherAlreadyUsed,
            SaleError::VoucherNotClaimed => ErrorCode::VoucherNotClaimed,
            SaleError::VoucherMinOrder { .. } => ErrorCode::VoucherMinOrder,
            SaleError::VoucherNotDropped => ErrorCode::InvalidState,
            SaleError::VoucherExists => ErrorCode::AlreadyExists,
            SaleError::Unavailable(_) => ErrorCode::Unavailable,
            SaleError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl Coded for MediaError {
    fn code(&self) -> ErrorCode {
        match self {
            MediaError::NotLive => ErrorCode::MediaNotLive,
            MediaError::InvalidSdp(_) => ErrorCode::InvalidSdp,
            MediaError::UnsupportedCodec => ErrorCode::UnsupportedCodec,
            MediaError::NoSession => ErrorCode::MediaNoSession,
            MediaError::InvalidCandidate(_) => ErrorCode::InvalidCandidate,
            MediaError::Config(_) | MediaError::WebRtc(_) | MediaError::Relay(_) => {
                ErrorCode::MediaFailed
            }
        }
    }
}

impl Coded for PaymentError {
    fn code(&self) -> ErrorCode {
        match self {
            PaymentError::InvalidValue { .. } => ErrorCode::InvalidValue,
            PaymentError::Unavailable(_) => ErrorCode::Unavailable,
            PaymentError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl Coded for WebhookError {
    fn code(&self) -> ErrorCode {
        match self {
            WebhookError::InvalidUrl(_) | WebhookError::InvalidSecret(_) => ErrorCode::InvalidValue,
            WebhookError::TargetForbidden(_) => ErrorCode::WebhookTargetForbidden,
            WebhookError::InvalidRoom => ErrorCode::RoomNotFound,
            WebhookError::NotConfigured => ErrorCode::WebhookNotFound,
            WebhookError::DeliveryNotFound => ErrorCode::DeliveryNotFound,
            WebhookError::Unavailable(_) => ErrorCode::Unavailable,
            WebhookError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl Coded for PracticeError {
    fn code(&self) -> ErrorCode {
        match self {
            PracticeError::InvalidValue(_) => ErrorCode::InvalidValue,
            PracticeError::ClassNotFound => ErrorCode::ClassNotFound,
            PracticeError::RoomNotInClass => ErrorCode::RoomNotFound,
            PracticeError::NotPracticeRoom => ErrorCode::NotPracticeRoom,
            PracticeError::TooManyClasses(_) | PracticeError::TooManyRooms(_) => {
                ErrorCode::InvalidState
            }
        }
    }
}

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

    fn of(error: &impl Coded) -> Refusal {
        Refusal::new(error.code(), error.to_string())
    }
}

impl From<RoomError> for Refusal {
    fn from(error: RoomError) -> Refusal {
        Refusal {
            retry_after_ms: error.retry_after_ms(),
            ..Refusal::of(&error)
        }
    }
}

impl From<SaleError> for Refusal {
    fn from(error: SaleError) -> Refusal {
        Refusal::of(&error)
    }
}

impl From<MediaError> for Refusal {
    fn from(error: MediaError) -> Refusal {
        Refusal::of(&error)
    }
}

impl From<PracticeError> for Refusal {
    fn from(error: PracticeError) -> Refusal {
        Refusal::of(&error)
    }
}
