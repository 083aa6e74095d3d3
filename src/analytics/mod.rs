//! Session analytics: every figure of a seller's report, computed from the
//! session journal alone (`crate::journal`), so a report can be recomputed
//! and audited. `docs/metrics.md` defines each metric; this module is its
//! implementation and must agree with it word for word.
//!
//! [`Session::read`] makes one pass over the journal and applies the
//! counting rules (what a view, a viewer, a click, a question is);
//! [`Metrics`] are the totals, [`Series`] the curves per time bucket,
//! [`advice`] the weakest metrics against the seller's own previous
//! sessions. Pure functions of the entries and `now`: no I/O here.

pub mod advice;
pub mod metrics;
pub mod question;
pub mod series;
pub mod session;

use serde::Serialize;

use crate::clock::UnixMillis;
use crate::journal::JournalEntry;

pub use self::advice::Weakness;
pub use self::metrics::{top_products, Metrics, ProductFigures};
pub use self::series::Series;
pub use self::session::Session;

/// Sessions compared at most (the newest before this one).
pub const PREVIOUS_SESSIONS: usize = 10;

/// A moment the report's curves are overlaid with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionEvent {
    pub at: UnixMillis,
    /// `live`, `ended`, `stream_on`, `stream_off`, `pin`, `unpin`,
    /// `sale_started`, `sale_ended`, `voucher`, `moderation`.
    pub kind: &'static str,
    /// What it was about: a product, a voucher code, a moderation action.
    pub label: String,
}

/// A previous session, as the comparison shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviousSession {
    pub room_id: String,
    pub title: String,
    pub started_at: UnixMillis,
    pub metrics: Metrics,
}

impl PreviousSession {
    pub fn of(entries: &[JournalEntry], now: UnixMillis) -> PreviousSession {
        let session = Session::read(entries, now);
        PreviousSession {
            metrics: Metrics::of(&session),
            room_id: session.room_id,
            title: session.title,
            started_at: session.started_at.unwrap_or(session.opened_at),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub opened_at: UnixMillis,
    pub started_at: Option<UnixMillis>,
    pub ended_at: Option<UnixMillis>,
    pub live_secs: f64,
}

/// Everything the report page and the studio's charts show.
#[derive(Debug, Clone, Serialize)]
pub struct SessionReport {
    pub window: Window,
    pub metrics: Metrics,
    pub series: Series,
    pub events: Vec<SessionEvent>,
    pub top_products: Vec<ProductFigures>,
    pub previous: Vec<PreviousSession>,
    /// Per metric, the median over `previous` (`null` without values).
    pub baseline: serde_json::Map<String, serde_json::Value>,
    pub weakest: Vec<Weakness>,
}

impl SessionReport {
    /// The report of the session in `entries` as of `now`, curves in
    /// buckets of `bucket_secs`, compared with `previous` sessions.
    pub fn of(
        entries: &[JournalEntry],
        now: UnixMillis,
        bucket_secs: u64,
        previous: Vec<PreviousSession>,
    ) -> SessionReport {
        let session = Session::read(entries, now);
        let metrics = Metrics::of(&session);
        let baseline_of = |name: &str| {
            let mut values: Vec<f64> = previous
                .iter()
                .filter_map(|p| p.metrics.get(name))
                .collect();
            values.sort_by(f64::total_cmp);
            metrics::median(&values)
        };
        let mut baseline = serde_json::Map::new();
        if let Ok(serde_json::Value::Object(names)) = serde_json::to_value(&metrics) {
            for name in names.keys() {
                let value = baseline_of(name).map_or(serde_json::Value::Null, |v| v.into());
                baseline.insert(name.clone(), value);
            }
        }
        SessionReport {
            window: Window {
                opened_at: session.opened_at,
                started_at: session.started_at,
                ended_at: session.ended_at,
                live_secs: session.live_secs(),
            },
            weakest: advice::weakest(&metrics, baseline_of),
            series: Series::of(&session, bucket_secs),
            top_products: top_products(&session),
            events: session.events.clone(),
            metrics,
            previous,
            baseline,
        }
    }
}

#[cfg(test)]
mod tests;
