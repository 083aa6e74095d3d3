//! Why a webhook operation failed. One enum for the handle, both outboxes
//! and the target checks; the service layer's `refusal.rs` gives each
//! variant its stable wire code.

use crate::redis_link::LinkError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not an absolute `http`/`https` URL we accept, or its host
    /// does not resolve.
    #[error("{0}")]
    InvalidUrl(String),
    /// The URL's host is (or resolves to) an address the server must not
    /// call: loopback, private, link-local, … (server-side request forgery).
    #[error("{0}")]
    TargetForbidden(String),
    /// A secret given by the seller that cannot be used.
    #[error("{0}")]
    InvalidSecret(String),
    /// The room id is not one a room can have.
    #[error("a room id has 1 to 64 lower-case letters, digits or dashes")]
    InvalidRoom,
    /// The room has no webhook.
    #[error("this room has no webhook")]
    NotConfigured,
    /// No delivery with this event id in this room (never made, or expired).
    #[error("no such delivery")]
    DeliveryNotFound,
    /// The outbox did not answer in time or is down; whether the request
    /// took effect is unknown.
    #[error("the webhook outbox is unavailable: {0}")]
    Unavailable(String),
    /// The outbox answered something this code does not understand.
    #[error("webhook outbox error: {0}")]
    Internal(String),
}

impl From<LinkError> for WebhookError {
    fn from(error: LinkError) -> WebhookError {
        match error {
            LinkError::Unavailable(reason) => WebhookError::Unavailable(reason),
            LinkError::Internal(reason) => WebhookError::Internal(reason),
        }
    }
}
