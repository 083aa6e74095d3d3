//! The worker that sends webhooks: one task per node, started by the server
//! and stopped by its shutdown token.
//!
//! Every `poll_interval` (and at once when this node publishes or retries
//! something) it claims the due deliveries of every room from the outbox,
//! as many as it has free slots (`max_concurrent`), each under a lease
//! ([`WebhookSettings::lease`]), and attempts each in a task of its own: it
//! reads the entry and the room's current webhook, checks the target again
//! (`target.rs`: DNS may have changed since the seller set it), signs the
//! stored body with a fresh timestamp and POSTs it, pinned to the checked
//! addresses, following no redirect, within `request_timeout`. A 2xx answer
//! delivers it; anything else is a failed attempt, retried after
//! [`backoff`] until `max_attempts`, then `failed`. The outcome is recorded
//! in the outbox, which frees the lease.
//!
//! Shutdown aborts attempts in flight; their leases run out and any node
//! sends them again (at least once, same event id).

use std::time::Duration;

use rand::Rng;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::clock::{unix_millis, UnixMillis};

use super::event::{Delivery, DeliveryState, DueRef};
use super::signature::{self, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER};
use super::target::{self, Target};
use super::{WebhookConfig, WebhookError, WebhookSettings, Webhooks, DNS_TIMEOUT};

/// The most deliveries claimed in one call.
const CLAIM_BATCH: usize = 64;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The receiver answered 2xx.
    Delivered { status: u16 },
    /// No answer, or not a 2xx: try again later (until `max_attempts`).
    Failed { status: Option<u16>, error: String },
    /// Nothing to send to (the webhook was removed): no more attempts.
    Abandoned { error: String },
}

/// Runs the worker until `shutdown` is cancelled.
pub fn spawn(webhooks: Webhooks, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let settings = webhooks.settings().clone();
        let mut ticker = tokio::time::interval(settings.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut attempts: JoinSet<()> = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
                _ = webhooks.woken() => {}
                Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
            }
            while attempts.try_join_next().is_some() {}
            claim_and_start(&webhooks, &settings, &mut attempts).await;
        }
        attempts.abort_all();
    })
}

/// Claims what is due, up to the free slots, and starts an attempt for each.
async fn claim_and_start(
    webhooks: &Webhooks,
    settings: &WebhookSettings,
    attempts: &mut JoinSet<()>,
) {
    loop {
        let free = settings
            .max_concurrent
            .saturating_sub(attempts.len())
            .min(CLAIM_BATCH);
        if free == 0 {
            return;
        }
        let now = unix_millis();
        let lease_until = now + settings.lease().as_millis() as u64;
        let claimed = match webhooks.outbox().claim(now, lease_until, free).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "could not claim due webhooks");
                return;
            }
        };
        let more = claimed.len() == free;
        for due in claimed {
            let webhooks = webhooks.clone();
            attempts.spawn(async move { attempt(&webhooks, due).await });
        }
        if !more {
            return;
        }
    }
}

/// One attempt of a claimed delivery, recorded in the outbox.
async fn attempt(webhooks: &Webhooks, due: DueRef) {
    if let Err(error) = try_attempt(webhooks, &due).await {
        tracing::warn!(
            %error,
            room = %due.room_id,
            event = %due.event_id,
            "webhook attempt not recorded; it is attempted again after its lease"
        );
    }
}

async fn try_attempt(webhooks: &Webhooks, due: &DueRef) -> Result<(), WebhookError> {
    let outbox = webhooks.outbox();
    let Some(delivery) = outbox.get(due).await? else {
        return outbox.forget(due).await;
    };
    if delivery.state != DeliveryState::Pending {
        return outbox.forget(due).await;
    }
    let settings = webhooks.settings();
    let outcome = match outbox.config(&due.room_id).await? {
        Some(config) => send(&config, &delivery, settings).await,
        None => Outcome::Abandoned {
            error: "the room has no webhook any more".into(),
        },
    };
    match &outcome {
        Outcome::Delivered { status } => {
            tracing::debug!(room = %due.room_id, event = %due.event_id, status, "webhook delivered")
        }
        Outcome::Failed { error, .. } | Outcome::Abandoned { error } => tracing::info!(
            room = %due.room_id,
            event = %due.event_id,
            attempt = delivery.attempts + 1,
            %error,
            "webhook attempt failed"
        ),
    }
    let jitter = rand::rng().random_range(0.0..1.0);
    let after = settle(&delivery, &outcome, unix_millis(), settings, jitter);
    outbox.record(&after, delivery.attempts).await?;
    Ok(())
}

/// Signs and POSTs the delivery's body to the room's webhook.
async fn send(config: &WebhookConfig, delivery: &Delivery, settings: &WebhookSettings) -> Outcome {
    let failed = |error: WebhookError| Outcome::Failed {
        status: None,
        error: error.to_string(),
    };
    let url = match target::parse(&config.url) {
        Ok(url) => url,
        Err(error) => return failed(error),
    };
    let target = match target::resolve(&url, settings.allow_private_targets, DNS_TIMEOUT).await {
        Ok(target) => target,
        Err(error) => return failed(error),
    };
    let client = match client_for(&target, settings.request_timeout) {
        Ok(client) => client,
        Err(error) => {
            return Outcome::Failed {
                status: None,
                error: format!("no HTTP client: {error}"),
            }
        }
    };
    let timestamp = unix_millis() / 1000;
    let request = client
        .post(target.url.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(
            USER_AGENT,
            concat!("Chophien-Webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .header(
            SIGNATURE_HEADER,
            signature::sign(&config.secret, timestamp, delivery.body.as_bytes()),
        )
        .header(EVENT_ID_HEADER, &delivery.event_id)
        .header(EVENT_TYPE_HEADER, delivery.event_type.as_str())
        .body(delivery.body.clone());
    match request.send().await {
        Ok(response) if response.status().is_success() => Outcome::Delivered {
            status: response.status().as_u16(),
        },
        Ok(response) => {
            let status = response.status();
            let mut error = format!("HTTP {status}");
            if status.is_redirection() {
                error.push_str(" (redirects are not followed: give the final URL)");
            }
            Outcome::Failed {
                status: Some(status.as_u16()),
                error,
            }
        }
        Err(error) => Outcome::Failed {
            status: None,
            error: describe(&error, settings.request_timeout),
        },
    }
}

/// A client for one attempt: connects only to the checked addresses, no
/// proxy (it would resolve the name itself), no redirects.
fn client_for(target: &Target, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(0);
    if let Some(domain) = &target.domain {
        builder = builder.resolve_to_addrs(domain, &target.addrs);
    }
    builder.build()
}

/// A failed request in a few words for the seller: the innermost cause
/// (connection refused, certificate, …), never the URL.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {timeout:?}");
    }
    let mut text = if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut innermost = None;
    while let Some(current) = cause {
        innermost = Some(current);
        cause = current.source();
    }
    if let Some(innermost) = innermost {
        text.push_str(": ");
        text.push_str(&innermost.to_string());
    }
    text
}

/// The delivery after an attempt that ended at `now` with `outcome`.
/// `jitter` in `[0, 1)` shortens the wait by up to a fifth, so receivers
/// that failed together are not retried together.
fn settle(
    delivery: &Delivery,
    outcome: &Outcome,
    now: UnixMillis,
    settings: &WebhookSettings,
    jitter: f64,
) -> Delivery {
    let mut after = delivery.clone();
    after.attempts = delivery.attempts.saturating_add(1);
    after.last_attempt_at = Some(now);
    match outcome {
        Outcome::Delivered { status } => {
            after.state = DeliveryState::Delivered;
            after.next_attempt_at = None;
            after.last_status = Some(*status);
            after.last_error = None;
        }
        Outcome::Failed { status, error } => {
            after.last_status = *status;
            after.last_error = Some(error.clone());
            if after.attempts >= settings.max_attempts {
                after.state = DeliveryState::Failed;
                after.next_attempt_at = None;
            } else {
                let wait = backoff(after.attempts, settings, jitter);
                after.state = DeliveryState::Pending;
                after.next_attempt_at = Some(now + wait.as_millis() as u64);
            }
        }
        Outcome::Abandoned { error } => {
            after.state = DeliveryState::Failed;
            after.next_attempt_at = None;
            after.last_status = None;
            after.last_error = Some(error.clone());
        }
    }
    after
}

/// The wait after the `failed`-th failed attempt (1, 2, …):
/// `min(retry_base · 2^(failed − 1), retry_cap)`, less up to 20 % jitter.
pub fn backoff(failed: u32, settings: &WebhookSettings, jitter: f64) -> Duration {
    let base = settings.retry_base.as_millis() as u64;
    let cap = settings.retry_cap.as_millis() as u64;
    let factor = 1u64
        .checked_shl(failed.saturating_sub(1))
        .unwrap_or(u64::MAX);
    let full = base.saturating_mul(factor).min(cap);
    let shortened = full as f64 * (1.0 - 0.2 * jitter.clamp(0.0, 1.0));
    Duration::from_millis(shortened as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::event::EventType;

    fn settings() -> WebhookSettings {
        WebhookSettings {
            retry_base: Duration::from_secs(60),
            retry_cap: Duration::from_secs(900),
            max_attempts: 8,
            ..WebhookSettings::default()
        }
    }

    fn pending() -> Delivery {
        Delivery::new(
            "tra",
            EventType::OrderCreated,
            &serde_json::json!({}),
            1_000,
        )
        .unwrap()
    }

    #[test]
    fn the_wait_doubles_from_the_base_up_to_the_cap() {
        let waits: Vec<u64> = (1..=8)
            .map(|n| backoff(n, &settings(), 0.0).as_secs())
            .collect();
        assert_eq!(waits, [60, 120, 240, 480, 900, 900, 900, 900]);
        // Eight attempts span the first seven waits: an hour.
        assert_eq!(waits[..7].iter().sum::<u64>(), 3600);
    }

    #[test]
    fn jitter_shortens_the_wait_by_at_most_a_fifth_and_it_still_grows() {
        let s = settings();
        assert_eq!(backoff(1, &s, 0.999_999).as_secs(), 48);
        for n in 1..4 {
            assert!(backoff(n + 1, &s, 0.999) > backoff(n, &s, 0.0));
        }
        assert_eq!(backoff(64, &s, 0.0), Duration::from_secs(900));
        assert_eq!(backoff(u32::MAX, &s, 0.0), Duration::from_secs(900));
    }

    #[test]
    fn a_2xx_delivers_and_clears_the_next_attempt() {
        let after = settle(
            &pending(),
            &Outcome::Delivered { status: 204 },
            2_000,
            &settings(),
            0.0,
        );
        assert_eq!(after.state, DeliveryState::Delivered);
        assert_eq!(after.attempts, 1);
        assert_eq!(after.next_attempt_at, None);
        assert_eq!(after.last_status, Some(204));
        assert_eq!(after.last_attempt_at, Some(2_000));
    }

    #[test]
    fn a_failure_is_retried_after_the_backoff_until_the_last_attempt_fails() {
        let failure = Outcome::Failed {
            status: Some(500),
            error: "HTTP 500".into(),
        };
        let mut delivery = pending();
        for n in 1..8 {
            delivery = settle(&delivery, &failure, 10_000, &settings(), 0.0);
            assert_eq!(delivery.state, DeliveryState::Pending);
            assert_eq!(delivery.attempts, n);
            let wait = backoff(n, &settings(), 0.0).as_millis() as u64;
            assert_eq!(delivery.next_attempt_at, Some(10_000 + wait));
        }
        delivery = settle(&delivery, &failure, 10_000, &settings(), 0.0);
        assert_eq!(delivery.state, DeliveryState::Failed);
        assert_eq!(delivery.next_attempt_at, None);
        assert_eq!(delivery.last_error.as_deref(), Some("HTTP 500"));
        assert_eq!(delivery.last_status, Some(500));
    }

    #[test]
    fn a_removed_webhook_fails_the_delivery_at_once() {
        let outcome = Outcome::Abandoned {
            error: "gone".into(),
        };
        let after = settle(&pending(), &outcome, 2_000, &settings(), 0.0);
        assert_eq!(after.state, DeliveryState::Failed);
        assert_eq!(after.attempts, 1);
    }
}
