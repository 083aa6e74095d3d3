//! The hold sweeper: gives the units of expired holds back to their sales.
//!
//! Every `interval` it lists the store's active sales (of every room, as
//! [`SaleRef`]s) and calls [`SaleStore::expire_due`] on each with the current
//! time. Expiry is decided
//! inside the store's atomic step (in Redis, by `ZREM` of the hold's deadline
//! answering 1), so any number of sweepers — one per node — may run at once
//! and each hold's units still return exactly once. Keyspace notifications are
//! not used: they are fire-and-forget and lost while a node is down.
//!
//! A sweep that returned units is reported to `on_report`, so the caller can
//! announce the new stock to the sale's room.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{ExpiryReport, SaleRef, SaleStore};
use crate::clock;

/// Runs sweeps every `interval` until `shutdown` is cancelled.
pub fn spawn<S, F>(
    store: S,
    interval: Duration,
    shutdown: CancellationToken,
    on_report: F,
) -> JoinHandle<()>
where
    S: SaleStore,
    F: Fn(ExpiryReport) + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => sweep_once(&store, clock::unix_millis(), &on_report).await,
            }
        }
    })
}

/// One pass over every active sale. Errors are logged and retried next pass:
/// a hold that stays due is simply expired a little later.
pub async fn sweep_once<S, F>(store: &S, now: u64, on_report: &F)
where
    S: SaleStore,
    F: Fn(ExpiryReport),
{
    let sales: Vec<SaleRef> = match store.active_sales().await {
        Ok(sales) => sales,
        Err(err) => {
            tracing::warn!(%err, "sweeper could not list active sales");
            return;
        }
    };
    for sale in sales {
        match store.expire_due(&sale, now).await {
            Ok(report) if report.returned_units > 0 || !report.restocked.is_empty() => {
                on_report(report)
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%sale, %err, "sweeper could not expire holds"),
        }
    }
}
