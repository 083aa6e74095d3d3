//! Prometheus metrics, served at `/metrics`.
//!
//! Each server owns its own `prometheus::Registry` (no global recorder), so
//! several servers in one test process keep separate counts.

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use crate::protocol::{BuyOutcome, ErrorCode};

pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Rooms on this node; set at scrape time from the room registry.
    pub rooms: IntGauge,
    /// Client frames received.
    pub messages_in: IntCounter,
    /// Frames written to clients (room events and direct replies).
    pub messages_out: IntCounter,
    /// Connections dropped because they fell too far behind their room.
    pub slow_consumers: IntCounter,
    /// Errors sent to clients, by stable code.
    pub errors: IntCounterVec,
    /// Answers to `buy`, by outcome (`sold_out` is not an error).
    pub buy_outcomes: IntCounterVec,
    /// Group-commit calls sent to Redis, and the buys they carried (mean
    /// batch size = buys ÷ batches); set at scrape time from the sale store.
    pub buy_batches: IntCounter,
    pub buy_batch_buys: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("chophien".into()), None).unwrap_or_else(|_| Registry::new());
        let connections = IntGauge::new("connections", "Open WebSocket connections")
            .unwrap_or_else(unreachable_metric);
        let rooms = IntGauge::new("rooms", "Rooms on this node").unwrap_or_else(unreachable_metric);
        let messages_in = IntCounter::new("messages_in_total", "Client frames received")
            .unwrap_or_else(unreachable_metric);
        let messages_out = IntCounter::new("messages_out_total", "Frames written to clients")
            .unwrap_or_else(unreachable_metric);
        let slow_consumers = IntCounter::new(
            "slow_consumer_disconnects_total",
            "Connections dropped for falling too far behind their room",
        )
        .unwrap_or_else(unreachable_metric);
        let errors = IntCounterVec::new(
            Opts::new("errors_total", "Errors sent to clients, by code"),
            &["code"],
        )
        .unwrap_or_else(unreachable_metric);
        let buy_outcomes = IntCounterVec::new(
            Opts::new("buy_outcomes_total", "Answers to buy, by outcome"),
            &["outcome"],
        )
        .unwrap_or_else(unreachable_metric);
        let buy_batches = IntCounter::new(
            "buy_batches_total",
            "Group-commit calls sent to Redis (each carries one or more buys)",
        )
        .unwrap_or_else(unreachable_metric);
        let buy_batch_buys = IntCounter::new(
            "buy_batch_buys_total",
            "Buys carried by group-commit calls to Redis",
        )
        .unwrap_or_else(unreachable_metric);
        for collector in [
            Box::new(connections.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(rooms.clone()),
            Box::new(messages_in.clone()),
            Box::new(messages_out.clone()),
            Box::new(slow_consumers.clone()),
            Box::new(errors.clone()),
            Box::new(buy_outcomes.clone()),
            Box::new(buy_batches.clone()),
            Box::new(buy_batch_buys.clone()),
        ] {
            // Names are distinct constants, so registration cannot collide.
            let _ = registry.register(collector);
        }
        Metrics {
            registry,
            connections,
            rooms,
            messages_in,
            messages_out,
            slow_consumers,
            errors,
            buy_outcomes,
            buy_batches,
            buy_batch_buys,
        }
    }

    pub fn error(&self, code: ErrorCode) {
        self.errors.with_label_values(&[code.as_str()]).inc();
    }

    pub fn buy_outcome(&self, outcome: BuyOutcome) {
        self.buy_outcomes
            .with_label_values(&[outcome.as_str()])
            .inc();
    }

    /// Bring the batch counters up to the sale store's totals (only this
    /// writes them, and the store's totals only grow).
    pub fn observe_batches(&self, batches: u64, buys: u64) {
        self.buy_batches
            .inc_by(batches.saturating_sub(self.buy_batches.get()));
        self.buy_batch_buys
            .inc_by(buys.saturating_sub(self.buy_batch_buys.get()));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "could not encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Metric constructors fail only on invalid names or labels, which are
/// constants here: reaching this is a programming error caught by the tests.
fn unreachable_metric<T>(error: prometheus::Error) -> T {
    panic!("invalid metric definition: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_up_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.connections.set(3);
        metrics.error(ErrorCode::RateLimited);
        let text = metrics.render();
        assert!(text.contains("chophien_connections 3"));
        assert!(text.contains(r#"chophien_errors_total{code="rate_limited"} 1"#));
    }
}
