//! The result of a run: one JSON document (schema in `loadtest/README.md`)
//! and its Markdown summary (`report::markdown`).

mod markdown;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::pinning::Pinning;
use crate::stats::LatencySummary;
use crate::target::StoreKind;

/// Everything a run measured. Serialized as the `--json` report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// `flash-sale`, `chat` or `join`.
    pub scenario: String,
    /// Whether this was the small `--quick` variant.
    pub quick: bool,
    /// When the run started, Unix milliseconds.
    pub started_at_ms: u64,
    /// The server's base URL and whether the harness spawned it.
    pub target: TargetInfo,
    /// The scenario's parameters as given (after `--quick` defaults).
    pub parameters: serde_json::Value,
    /// The headline rate: buy answers/s, chat deliveries/s or joins/s.
    pub throughput_per_s: f64,
    /// What `throughput_per_s` counts.
    pub throughput_unit: String,
    /// Wall time of the measured phase, seconds.
    pub duration_s: f64,
    /// All measured latencies (coordinated-omission corrected), ms.
    pub latency_ms: LatencySummary,
    /// Latencies per outcome class (flash-sale: reserved, sold_out, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_by_outcome_ms: BTreeMap<String, LatencySummary>,
    /// With several nodes: latencies per node (`node<k>`: flash-sale buy
    /// answers and joins of clients on node k) or per route (chat,
    /// `<sender's node>-><viewer's node>`), ms.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_by_node_ms: BTreeMap<String, LatencySummary>,
    /// Named counters (requests sent, deliveries, disconnects, …).
    pub counts: BTreeMap<String, u64>,
    /// Failures that are not a legitimate answer (sold out is not one).
    pub errors: u64,
    /// Flash-sale only: the invariant audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariants: Option<Invariants>,
    /// Chat only: every viewer got every message, in order, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryAudit>,
    /// Same-run baselines; `ratio` = our throughput / theirs.
    pub baselines: Vec<Baseline>,
    /// Join only: server memory per connected viewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Flash-sale only: from the first buy until the stock was all reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_sell_out_ms: Option<f64>,
    /// Flash-sale only: how the buyers connected, before (and apart from)
    /// the measured phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Ramp>,
    /// Flash-sale only: where the buy phase's time went, per decision of
    /// the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_decision: Option<CostPerDecision>,
    /// (seconds since start, events per second), for the chart.
    pub throughput_over_time: Vec<(f64, f64)>,
    /// (latency ms, fraction of requests at or below it), for the chart.
    pub latency_cdf: Vec<(f64, f64)>,
    /// Anything a reader should know about how to read these numbers.
    pub notes: Vec<String>,
    /// One entry per configuration run in this invocation (one, or three
    /// with `--compare-nodes`); the fields above are those of the last.
    #[serde(default)]
    pub runs: Vec<RunSummary>,
    /// `--compare-nodes` only: the runs' ratios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// `--compare-journal` only: the run with the session journal on ÷ the
    /// run with it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_on_over_off: Option<Ratio>,
    /// Practice only: the server's memory and CPU, and the bots present,
    /// every sample.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceSample>,
    /// Video only: the SFU's cost per viewer, one row per viewer count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<crate::scenario::video::VideoFigures>,
}

/// One sample of a soak run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResourceSample {
    /// Seconds since the measured phase began.
    pub at_s: f64,
    /// Summed over the spawned nodes; `None` with `--url`.
    pub server_rss_bytes: Option<u64>,
    /// Since the previous sample; 100 = one core. `None` with `--url`.
    pub server_cpu_percent: Option<f64>,
    pub bots_present: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Node 0's URL (where rooms are created and the seller sits).
    pub url: String,
    pub spawned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_binary: Option<String>,
    /// Every node's URL, node 0 first; clients go round-robin.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// The store spawned nodes were given; absent for `--url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreKind>,
    /// `--redis-set` settings the spawned Redis ran with over
    /// `config/redis.conf` (`NAME VALUE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redis_settings: Vec<String>,
    /// `--pin`: which process ran on which CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinning: Option<Pinning>,
}

/// The connection ramp: every client connecting (and reading past its
/// snapshot) before the measured phase, which it is no part of.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Ramp {
    /// Connections attempted.
    pub clients: u64,
    pub connected: u64,
    pub failures: u64,
    /// From the first connect attempt to the last one's end, seconds.
    pub duration_s: f64,
    /// `connected` ÷ `duration_s`.
    pub connects_per_s: f64,
    /// Local addresses the clients connected from, when spread over
    /// several (empty: the kernel's choice, 127.0.0.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_addresses: Vec<String>,
    /// The first few connect errors, verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_errors: Vec<String>,
    /// The harness's resident memory once every client was connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_rss_bytes: Option<u64>,
    /// The spawned nodes' resident memory then, summed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes_rss_bytes: Option<u64>,
}

/// Where the buy phase's time went, divided by the store's decisions in
/// it (`None`: not measurable here — no spawned process, no counter).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CostPerDecision {
    /// The store's decisions in the buy phase.
    pub decisions: u64,
    /// The buy phase's wall time, seconds.
    pub buy_phase_s: f64,
    /// CPU of every spawned node (`/proc/PID/stat`), µs per decision.
    pub server_cpu_us: Option<f64>,
    /// CPU of the spawned redis-server, µs per decision.
    pub redis_cpu_us: Option<f64>,
    /// Redis's own time in `FCALL` (`INFO commandstats`), µs per decision.
    pub redis_fcall_us: Option<f64>,
    /// CPU of this harness, µs per decision.
    pub harness_cpu_us: f64,
    /// Buys per group-commit call to Redis (`chophien_buy_batch_buys_total`
    /// ÷ `chophien_buy_batches_total`, growth over the phase, all nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_batch_size: Option<f64>,
    /// `busy` answers the servers counted over the phase
    /// (`chophien_buy_outcomes_total{outcome="busy"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_busy_answers: Option<u64>,
    /// Frames the servers wrote to clients per decision (answers and room
    /// events: `chophien_messages_out_total`, growth over the phase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames_out: Option<f64>,
    /// `--hog`: CPU the hog used over the phase, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hog_cpu_ms: Option<u64>,
}

/// The flash-sale audit. `ok` is false when any count below is non-zero.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Invariants {
    pub ok: bool,
    /// Units reserved or sold beyond the stock.
    pub oversold: u64,
    /// Units the sale refused (sold out) while stock was left.
    pub undersold: u64,
    /// Buyers holding or owning more than the per-buyer limit.
    pub limit_violations: u64,
    /// Idempotency keys that produced more than one hold, and holds
    /// confirmed into more than one order.
    pub duplicate_charges: u64,
    /// Units of expired or cancelled holds that did not return to stock.
    pub unreturned_units: u64,
    /// One line per violation, for people.
    pub violations: Vec<String>,
}

/// The chat delivery audit: each viewer that stayed connected must get
/// every accepted message, in order, exactly once, and see the room's
/// `seq` go up by one from its snapshot on. `ok` is false when any count is
/// non-zero.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeliveryAudit {
    pub ok: bool,
    /// Viewers connected until the end (their losses count).
    pub viewers_checked: u64,
    /// Messages a viewer connected until the end never received.
    pub messages_lost: u64,
    /// Frames a viewer received twice (same seq, or same message).
    pub duplicates: u64,
    /// Frames that came after a later one (seq or a sender's order).
    pub out_of_order: u64,
    /// Room events missing from a viewer's seq sequence.
    pub seq_gaps: u64,
    /// Messages whose send was answered `unavailable` or `internal` (the
    /// store's outcome unknown): expected by nobody unless delivered.
    #[serde(default)]
    pub unknown_outcome: u64,
    /// Of those, how many some viewer received (committed after all):
    /// every viewer must then have it.
    #[serde(default)]
    pub unknown_delivered: u64,
    /// Lost messages by route, `"<sender's node>-><viewer's node>"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lost_by_route: BTreeMap<String, u64>,
    /// One line per violation (or group of them), for people.
    pub violations: Vec<String>,
}

/// One configuration of a run: which nodes and store, and what it measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunSummary {
    /// `1 node, memory`, `3 nodes, redis`, `2 nodes (external)`.
    pub label: String,
    pub nodes: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreKind>,
    pub throughput_per_s: f64,
    pub duration_s: f64,
    pub latency_ms: LatencySummary,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_by_node_ms: BTreeMap<String, LatencySummary>,
    pub counts: BTreeMap<String, u64>,
    pub errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariants: Option<Invariants>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryAudit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_sell_out_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Ramp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_decision: Option<CostPerDecision>,
    pub throughput_over_time: Vec<(f64, f64)>,
    pub latency_cdf: Vec<(f64, f64)>,
}

impl RunSummary {
    /// The summary of `report`, the run of one configuration.
    pub fn of(report: &Report, label: String) -> RunSummary {
        RunSummary {
            label,
            nodes: report.target.nodes.len().max(1),
            store: report.target.store,
            throughput_per_s: report.throughput_per_s,
            duration_s: report.duration_s,
            latency_ms: report.latency_ms.clone(),
            latency_by_node_ms: report.latency_by_node_ms.clone(),
            counts: report.counts.clone(),
            errors: report.errors,
            invariants: report.invariants.clone(),
            delivery: report.delivery.clone(),
            memory: report.memory.clone(),
            time_to_sell_out_ms: report.time_to_sell_out_ms,
            ramp: report.ramp.clone(),
            cost_per_decision: report.cost_per_decision.clone(),
            throughput_over_time: report.throughput_over_time.clone(),
            latency_cdf: report.latency_cdf.clone(),
        }
    }

    /// Every audit violation of this run (flash-sale invariants, chat
    /// delivery).
    pub fn violations(&self) -> Vec<String> {
        let mut all = Vec::new();
        if let Some(inv) = self.invariants.as_ref().filter(|i| !i.ok) {
            all.extend(inv.violations.iter().cloned());
        }
        if let Some(d) = self.delivery.as_ref().filter(|d| !d.ok) {
            all.extend(d.violations.iter().cloned());
        }
        all
    }
}

/// `--compare-nodes N`: the same scenario on 1 node with the memory store,
/// 1 node through Redis, and N nodes through Redis.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    /// N, the node count of the third run.
    pub nodes: usize,
    /// 1 node through Redis ÷ 1 node in memory: the cost of the Redis hop
    /// (the goal: throughput ≥ [`REDIS_OVER_MEMORY_GOAL`]).
    pub redis_over_memory: Ratio,
    /// N nodes through Redis ÷ 1 node through Redis.
    pub nodes_over_single: Ratio,
    pub redis_over_memory_goal: f64,
    /// Whether `redis_over_memory.throughput` reached the goal.
    pub meets_goal: bool,
}

/// One configuration's figures divided by another's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Ratio {
    /// Throughput ÷ throughput (> 1: faster).
    pub throughput: f64,
    /// p99 latency ÷ p99 latency (> 1: slower).
    pub p99: f64,
}

/// The goal for Redis ÷ memory throughput on one node.
pub const REDIS_OVER_MEMORY_GOAL: f64 = 0.7;

impl Comparison {
    /// Compare the three runs of `--compare-nodes`, in their order.
    pub fn of(memory: &RunSummary, redis: &RunSummary, many: &RunSummary) -> Comparison {
        let between = |a: &RunSummary, b: &RunSummary| Ratio {
            throughput: ratio(a.throughput_per_s, b.throughput_per_s),
            p99: ratio(a.latency_ms.p99, b.latency_ms.p99),
        };
        let redis_over_memory = between(redis, memory);
        Comparison {
            nodes: many.nodes,
            meets_goal: redis_over_memory.throughput >= REDIS_OVER_MEMORY_GOAL,
            redis_over_memory,
            nodes_over_single: between(many, redis),
            redis_over_memory_goal: REDIS_OVER_MEMORY_GOAL,
        }
    }
}

/// A baseline measured in the same run against the same machine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Baseline {
    pub name: String,
    pub throughput_per_s: f64,
    /// Our `throughput_per_s` divided by the baseline's.
    pub ratio: f64,
    /// How the baseline was produced (a command line or a description).
    pub command: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Memory {
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    pub viewers: u64,
    pub bytes_per_viewer: f64,
}

impl Report {
    /// Every audit violation of every run, each prefixed by its run's label
    /// when there were several. Empty when every audit passed.
    pub fn violations(&self) -> Vec<String> {
        if self.runs.is_empty() {
            let alone = RunSummary::of(self, String::new());
            return alone.violations();
        }
        let several = self.runs.len() > 1;
        self.runs
            .iter()
            .flat_map(|run| {
                run.violations().into_iter().map(move |v| {
                    if several {
                        format!("[{}] {v}", run.label)
                    } else {
                        v
                    }
                })
            })
            .collect()
    }
}

/// Our rate as a fraction of a baseline's (0 when the baseline measured nothing).
pub fn ratio(ours: f64, theirs: f64) -> f64 {
    if theirs > 0.0 {
        ours / theirs
    } else {
        0.0
    }
}
