//! What the buyers' tasks record into during the sale: latency per outcome
//! class, the store's decisions over time (the throughput), and when the
//! stock ran out.
//!
//! Throughput counts the store's decisions only — `reserved`, `sold_out`,
//! `limit_reached`, `duplicate`. `unavailable` (the store failed, outcome
//! unknown) and `busy` (the node's queue was full, nothing was reserved)
//! decided nothing: they have latency classes of their own and are retried.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::stats::{LatencyRecorder, Timeline};

/// Outcome classes with their own latency histogram; anything else is
/// `error` (or `settle_error`).
pub const CLASSES: &[&str] = &[
    "reserved",
    "sold_out",
    "limit_reached",
    "duplicate",
    "not_started",
    "ended",
    "unavailable",
    "busy",
    "gave_up",
    "error",
    "timeout",
    "confirm",
    "cancel",
    "settle_error",
];

/// Is `buy_<outcome>` a decision of the store (counted in throughput)?
pub fn is_decision(counter: &str) -> bool {
    matches!(
        counter,
        "buy_reserved" | "buy_sold_out" | "buy_limit_reached" | "buy_duplicate"
    )
}

/// Is the counter a failure (counted in `errors`)? Decisions are not, nor
/// is `busy`: the server shedding load, which the client retries.
pub fn is_error(counter: &str) -> bool {
    !is_decision(counter) && counter != "buy_busy"
}

/// The sale's measurements, shared by every buyer task.
pub struct Tally {
    /// The sale's time zero: the first intended buy.
    pub start: Instant,
    all: LatencyRecorder,
    by_class: BTreeMap<&'static str, LatencyRecorder>,
    /// With several nodes: buy latencies of buyer `i` also go to recorder
    /// `i mod nodes` (empty with one node).
    by_node: Vec<LatencyRecorder>,
    timeline: Timeline,
    decisions: AtomicU64,
    reserved_units: AtomicU64,
    /// Micros after `start` when the stock was all reserved (MAX: never).
    sold_out_us: AtomicU64,
    last_decision_us: AtomicU64,
    stock: u64,
    /// In a buyer agent: everything recorded, to be replayed by the
    /// coordinator's tally (`None`: not kept).
    journal: Option<Mutex<Vec<Event>>>,
}

/// One thing recorded, as an agent sends it to the coordinator; times in
/// µs after the sale's start (agents and coordinator share it as a wall
/// clock instant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Answer {
        i: usize,
        class: String,
        latency_us: u64,
        counted: Counted,
        at_us: u64,
    },
    Reserved {
        units: u64,
        at_us: u64,
    },
}

/// How one answer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Counted {
    /// A buy's final answer (or its giving up): its latency runs from the
    /// buy's first intended time, and decisions count in throughput.
    Buy,
    /// A `busy` answer or a settle step: its class's latency only.
    ClassOnly,
}

impl Tally {
    pub fn new(start: Instant, stock: u64, nodes: usize) -> Tally {
        Tally {
            start,
            all: LatencyRecorder::default(),
            by_class: CLASSES
                .iter()
                .map(|c| (*c, LatencyRecorder::with_shards(2)))
                .collect(),
            by_node: match nodes {
                1 => Vec::new(),
                n => (0..n).map(|_| LatencyRecorder::with_shards(4)).collect(),
            },
            timeline: Timeline::new(Duration::from_millis(100), Duration::from_secs(600)),
            decisions: AtomicU64::new(0),
            reserved_units: AtomicU64::new(0),
            sold_out_us: AtomicU64::new(u64::MAX),
            last_decision_us: AtomicU64::new(0),
            stock,
            journal: None,
        }
    }

    /// A tally that also keeps a journal of everything recorded (in a
    /// buyer agent, for the coordinator).
    pub fn journaled(start: Instant, stock: u64, nodes: usize) -> Tally {
        Tally {
            journal: Some(Mutex::new(Vec::new())),
            ..Tally::new(start, stock, nodes)
        }
    }

    /// The journal so far, emptied.
    pub fn take_journal(&self) -> Vec<Event> {
        self.journal
            .as_ref()
            .and_then(|j| j.lock().ok().map(|mut j| std::mem::take(&mut *j)))
            .unwrap_or_default()
    }

    /// Record the agents' journals as if their answers had come here, the
    /// reservations in time order (which one took the last unit).
    pub fn replay(&self, mut events: Vec<Event>) {
        events.sort_by_key(|e| match e {
            Event::Answer { at_us, .. } | Event::Reserved { at_us, .. } => *at_us,
        });
        for event in events {
            match event {
                Event::Answer {
                    i,
                    class,
                    latency_us,
                    counted,
                    at_us,
                } => self.apply(i, &class, Duration::from_micros(latency_us), counted, at_us),
                Event::Reserved { units, at_us } => self.apply_reserved(units, at_us),
            }
        }
    }

    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn journal(&self, event: Event) {
        if let Some(mut journal) = self.journal.as_ref().and_then(|j| j.lock().ok()) {
            journal.push(event);
        }
    }

    /// Record buyer `i`'s answer of class `class` after `latency`.
    pub fn record(&self, i: usize, class: &str, latency: Duration, counted: Counted) {
        let at_us = self.now_us();
        self.journal(Event::Answer {
            i,
            class: class.to_owned(),
            latency_us: latency.as_micros() as u64,
            counted,
            at_us,
        });
        self.apply(i, class, latency, counted, at_us);
    }

    fn apply(&self, i: usize, class: &str, latency: Duration, counted: Counted, at_us: u64) {
        let class = CLASSES.iter().find(|c| **c == class).copied().unwrap_or(
            if class.starts_with("settle") {
                "settle_error"
            } else {
                "error"
            },
        );
        if let Some(recorder) = self.by_class.get(class) {
            recorder.record(i, latency);
        }
        if counted == Counted::ClassOnly {
            return;
        }
        self.all.record(i, latency);
        if !self.by_node.is_empty() {
            self.by_node[i % self.by_node.len()].record(i, latency);
        }
        if is_decision(&format!("buy_{class}")) {
            self.timeline.add(Duration::from_micros(at_us), 1);
            self.decisions.fetch_add(1, Ordering::Relaxed);
            self.last_decision_us.fetch_max(at_us, Ordering::Relaxed);
        }
    }

    /// `units` were reserved: note when the stock ran out.
    pub fn reserved(&self, units: u64) {
        let at_us = self.now_us();
        self.journal(Event::Reserved { units, at_us });
        self.apply_reserved(units, at_us);
    }

    fn apply_reserved(&self, units: u64, at_us: u64) {
        let before = self.reserved_units.fetch_add(units, Ordering::Relaxed);
        if before < self.stock && before + units >= self.stock {
            self.sold_out_us.store(at_us, Ordering::Relaxed);
        }
    }

    /// The store's decisions so far.
    pub fn decisions(&self) -> u64 {
        self.decisions.load(Ordering::Relaxed)
    }

    /// From the sale's start to the last decision, seconds.
    pub fn duration_s(&self) -> f64 {
        self.last_decision_us.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// From the first intended buy to the reservation of the last unit, ms.
    pub fn time_to_sell_out_ms(&self) -> Option<f64> {
        let us = self.sold_out_us.load(Ordering::Relaxed);
        (us != u64::MAX).then(|| us as f64 / 1000.0)
    }

    pub fn all(&self) -> &LatencyRecorder {
        &self.all
    }

    pub fn by_class(&self) -> impl Iterator<Item = (&'static str, &LatencyRecorder)> {
        self.by_class.iter().map(|(c, r)| (*c, r))
    }

    pub fn by_node(&self) -> &[LatencyRecorder] {
        &self.by_node
    }

    /// (seconds since start, decisions per second).
    pub fn rates(&self) -> Vec<(f64, f64)> {
        self.timeline.rates()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_neither_a_decision_nor_an_error() {
        assert!(!is_decision("buy_busy"));
        assert!(!is_error("buy_busy"));
        assert!(is_decision("buy_sold_out"));
        assert!(!is_error("buy_reserved"));
        assert!(is_error("buy_unavailable"));
        assert!(is_error("buy_timeout"));
    }

    #[test]
    fn busy_answers_have_their_own_latency_and_no_throughput() {
        let tally = Tally::new(Instant::now(), 10, 1);
        tally.record(0, "busy", Duration::from_millis(2), Counted::ClassOnly);
        tally.record(0, "reserved", Duration::from_millis(700), Counted::Buy);
        tally.record(1, "unavailable", Duration::from_millis(5), Counted::Buy);
        assert_eq!(tally.decisions(), 1);
        assert_eq!(tally.all().summary().count, 2);
        let busy = tally
            .by_class()
            .find(|(c, _)| *c == "busy")
            .map(|(_, r)| r.summary());
        assert_eq!(busy.map(|s| s.count), Some(1));
    }

    #[test]
    fn a_replayed_journal_counts_as_if_answered_here() {
        let start = Instant::now();
        let agent = Tally::journaled(start, 2, 1);
        agent.record(3, "reserved", Duration::from_millis(40), Counted::Buy);
        agent.reserved(1);
        agent.record(4, "busy", Duration::from_millis(1), Counted::ClassOnly);
        let other = Tally::journaled(start, 2, 1);
        other.record(5, "reserved", Duration::from_millis(50), Counted::Buy);
        other.reserved(1);
        let here = Tally::new(start, 2, 1);
        let mut events = agent.take_journal();
        events.extend(other.take_journal());
        assert!(agent.take_journal().is_empty(), "taking empties it");
        here.replay(events);
        assert_eq!(here.decisions(), 2);
        assert_eq!(here.all().summary().count, 2);
        assert!(
            here.time_to_sell_out_ms().is_some(),
            "two agents' units add up"
        );
    }

    #[test]
    fn the_last_unit_marks_the_time_to_sell_out() {
        let tally = Tally::new(Instant::now(), 2, 1);
        tally.reserved(1);
        assert_eq!(tally.time_to_sell_out_ms(), None);
        tally.reserved(1);
        assert!(tally.time_to_sell_out_ms().is_some());
    }
}
