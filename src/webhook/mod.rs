//! Signed webhooks to a shop's own system (issue 11).
//!
//! A room's seller sets a webhook: a URL and a secret. Order events of the
//! room (`order.created`, `order.updated`, `order.cancelled`, and `ping` on
//! request) are then POSTed there, signed, at least once, from a durable
//! outbox, with exponential backoff, under an event id that stays the same
//! on every attempt so the shop can drop repeats. The seller reads a
//! delivery log and may retry any delivery.
//!
//! - [`Webhooks`] (this file): the handle the service layer and the order
//!   code use: `publish`, `configure`, `config`, `log`, `retry`, `ping`.
//! - `event.rs`: event types, the envelope, [`Delivery`] (an outbox entry).
//! - `signature.rs`: the `Chophien-Signature` header and [`verify`].
//! - `target.rs`: URL rules and the server-side request forgery defence.
//! - `secret.rs`: making and checking secrets.
//! - `outbox.rs` (+ `outbox/`): the [`Outbox`] seam, in memory or in Redis.
//! - `journal.rs`: [`Webhooks`] as the sale store's `OrderJournal`, so an
//!   order's event is written in the same atomic step as the order.
//! - `delivery.rs`: the worker that claims, signs, sends and reschedules.
//!
//! Knows nothing of rooms or HTTP handlers, and of orders only how they
//! serialize: it takes a room id and JSON data (or, as the sale store's
//! journal, an order), and the service layer decides who may do what.

mod delivery;
mod error;
mod event;
mod journal;
mod outbox;
mod secret;
pub mod signature;
pub mod target;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::UnixMillis;
use crate::redis_link::RedisLink;

pub use delivery::backoff;
pub use error::WebhookError;
pub use event::{check_room_id, Delivery, DeliveryState, DueRef, EventType};
pub use outbox::{MemoryOutbox, Outbox, RedisOutbox};
pub use signature::{sign, verify, VerifyError};

/// How long a webhook host may take to resolve.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// How webhooks are sent (`[webhooks]` in the configuration).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Let webhooks go to loopback and private addresses: tests and local
    /// development only (see `target.rs`).
    pub allow_private_targets: bool,
    /// The longest one attempt may take, connecting included.
    pub request_timeout: Duration,
    /// The wait after the first failed attempt; it doubles after each.
    pub retry_base: Duration,
    /// The longest wait between two attempts.
    pub retry_cap: Duration,
    /// Attempts before a delivery is `failed`.
    pub max_attempts: u32,
    /// How often the worker looks for due deliveries (it is also woken when
    /// this node publishes).
    pub poll_interval: Duration,
    /// Attempts one node makes at once.
    pub max_concurrent: usize,
    /// Deliveries listed in a room's log.
    pub log_size: usize,
    /// How long a delivered or failed entry is kept (Redis).
    pub retention: Duration,
}

impl Default for WebhookSettings {
    /// The defaults of `config/default.toml`.
    fn default() -> WebhookSettings {
        WebhookSettings {
            allow_private_targets: false,
            request_timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(60),
            retry_cap: Duration::from_secs(15 * 60),
            max_attempts: 8,
            poll_interval: Duration::from_secs(1),
            max_concurrent: 16,
            log_size: 100,
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl WebhookSettings {
    /// How long a claimed delivery is hidden from other workers: the
    /// attempt's own limit and a margin for reading and recording it.
    pub fn lease(&self) -> Duration {
        self.request_timeout + DNS_TIMEOUT + Duration::from_secs(30)
    }
}

/// A room's webhook. Shown to the room's seller (and admins) only.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct WebhookConfig {
    pub url: String,
    /// The signing key, `whsec_…` when the server made it.
    pub secret: String,
    pub updated_at: UnixMillis,
}

impl fmt::Debug for WebhookConfig {
    /// Never prints the secret (logs are not the seller's).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"…")
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// What a seller sets.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    /// `None`: keep the current secret, or make one for a new webhook.
    pub secret: Option<String>,
}

/// The webhooks of every room: cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Webhooks(Arc<Inner>);

struct Inner {
    /// Where settings and deliveries live (memory or Redis, like the stores).
    outbox: Arc<dyn Outbox>,
    settings: WebhookSettings,
    /// Wakes this node's worker when it publishes or retries, so a delivery
    /// does not wait for the next poll.
    wake: Notify,
}

impl Webhooks {
    pub fn new(outbox: Arc<dyn Outbox>, settings: WebhookSettings) -> Webhooks {
        Webhooks(Arc::new(Inner {
            outbox,
            settings,
            wake: Notify::new(),
        }))
    }

    /// Webhooks of this process alone (the memory store).
    pub fn in_memory(settings: WebhookSettings) -> Webhooks {
        let outbox = MemoryOutbox::new(settings.log_size);
        Webhooks::new(Arc::new(outbox), settings)
    }

    /// Webhooks in Redis, shared by every node on it. `link` must have
    /// loaded the `chophien` library ([`RedisLink::connect`]).
    pub fn on_redis(link: RedisLink, settings: WebhookSettings) -> Webhooks {
        let outbox = RedisOutbox::new(link, settings.log_size, settings.retention);
        Webhooks::new(Arc::new(outbox), settings)
    }

    pub fn settings(&self) -> &WebhookSettings {
        &self.0.settings
    }

    fn outbox(&self) -> &dyn Outbox {
        self.0.outbox.as_ref()
    }

    async fn woken(&self) {
        self.0.wake.notified().await
    }

    /// Queues `event_type` with `data` for the room's webhook, if it has
    /// one; answers the event id, or `None` when the room has no webhook.
    /// Once this answers `Ok(Some(_))` the event is in the outbox (with
    /// Redis: in Redis) and will be delivered at least once; an `Err`
    /// means it may or may not be. `now` is the event's `created_at`.
    pub async fn publish(
        &self,
        room_id: &str,
        event_type: EventType,
        data: serde_json::Value,
        now: UnixMillis,
    ) -> Result<Option<String>, WebhookError> {
        check_room_id(room_id)?;
        if self.outbox().config(room_id).await?.is_none() {
            return Ok(None);
        }
        self.enqueue(room_id, event_type, &data, now)
            .await
            .map(Some)
    }

    async fn enqueue(
        &self,
        room_id: &str,
        event_type: EventType,
        data: &serde_json::Value,
        now: UnixMillis,
    ) -> Result<String, WebhookError> {
        let delivery = Delivery::new(room_id, event_type, data, now)?;
        self.outbox().enqueue(&delivery).await?;
        self.0.wake.notify_one();
        Ok(delivery.event_id)
    }

    /// Sends a `ping` event to the room's webhook; answers its event id.
    pub async fn ping(&self, room_id: &str, now: UnixMillis) -> Result<String, WebhookError> {
        check_room_id(room_id)?;
        if self.outbox().config(room_id).await?.is_none() {
            return Err(WebhookError::NotConfigured);
        }
        let data = serde_json::json!({ "message": "Chợ Phiên webhook test" });
        self.enqueue(room_id, EventType::Ping, &data, now).await
    }

    /// Sets (`Some`) or removes (`None`) the room's webhook. The URL is
    /// checked, its host resolved and refused if it is a private address
    /// (unless `allow_private_targets`). Answers the webhook as set.
    pub async fn configure(
        &self,
        room_id: &str,
        webhook: Option<NewWebhook>,
        now: UnixMillis,
    ) -> Result<Option<WebhookConfig>, WebhookError> {
        check_room_id(room_id)?;
        let Some(webhook) = webhook else {
            self.outbox().set_config(room_id, None).await?;
            return Ok(None);
        };
        let url = target::parse(&webhook.url)?;
        target::resolve(&url, self.settings().allow_private_targets, DNS_TIMEOUT).await?;
        let secret = match webhook.secret {
            Some(secret) => {
                secret::check(&secret)?;
                secret
            }
            None => match self.outbox().config(room_id).await? {
                Some(current) => current.secret,
                None => secret::generate(),
            },
        };
        let config = WebhookConfig {
            url: url.to_string(),
            secret,
            updated_at: now,
        };
        self.outbox().set_config(room_id, Some(&config)).await?;
        Ok(Some(config))
    }

    /// The room's webhook, if any.
    pub async fn config(&self, room_id: &str) -> Result<Option<WebhookConfig>, WebhookError> {
        check_room_id(room_id)?;
        self.outbox().config(room_id).await
    }

    /// The room's latest deliveries, newest first.
    pub async fn log(&self, room_id: &str) -> Result<Vec<Delivery>, WebhookError> {
        check_room_id(room_id)?;
        self.outbox().log(room_id).await
    }

    /// One more attempt of a delivery, now, whatever its state (a failed one
    /// included). Needs the room's webhook.
    pub async fn retry(
        &self,
        room_id: &str,
        event_id: &str,
        now: UnixMillis,
    ) -> Result<Delivery, WebhookError> {
        check_room_id(room_id)?;
        let event_id = event::parse_event_id(event_id).ok_or(WebhookError::DeliveryNotFound)?;
        if self.outbox().config(room_id).await?.is_none() {
            return Err(WebhookError::NotConfigured);
        }
        let due = DueRef {
            room_id: room_id.to_owned(),
            event_id,
        };
        let delivery = self
            .outbox()
            .retry(&due, now)
            .await?
            .ok_or(WebhookError::DeliveryNotFound)?;
        self.0.wake.notify_one();
        Ok(delivery)
    }

    /// Starts this node's delivery worker; it stops when `shutdown` is
    /// cancelled.
    pub fn spawn_worker(&self, shutdown: CancellationToken) -> JoinHandle<()> {
        delivery::spawn(self.clone(), shutdown)
    }
}
