//! The result of a run: one JSON document (schema in `loadtest/README.md`)
//! and its Markdown summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::stats::LatencySummary;

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
    /// Named counters (requests sent, deliveries, disconnects, …).
    pub counts: BTreeMap<String, u64>,
    /// Failures that are not a legitimate answer (sold out is not one).
    pub errors: u64,
    /// Flash-sale only: the invariant audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariants: Option<Invariants>,
    /// Same-run baselines; `ratio` = our throughput / theirs.
    pub baselines: Vec<Baseline>,
    /// Join only: server memory per connected viewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Flash-sale only: from the first buy until the stock was all reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_sell_out_ms: Option<f64>,
    /// (seconds since start, events per second), for the chart.
    pub throughput_over_time: Vec<(f64, f64)>,
    /// (latency ms, fraction of requests at or below it), for the chart.
    pub latency_cdf: Vec<(f64, f64)>,
    /// Anything a reader should know about how to read these numbers.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetInfo {
    pub url: String,
    pub spawned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_binary: Option<String>,
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

fn row(out: &mut String, name: &str, s: &LatencySummary) {
    let _ = writeln!(
        out,
        "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
        s.count, s.p50, s.p90, s.p99, s.p999, s.max
    );
}

impl Report {
    /// A Markdown summary for people.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# chophien-loadtest: {}{}\n",
            self.scenario,
            if self.quick { " (quick)" } else { "" }
        );
        let _ = writeln!(
            out,
            "Target: {} ({})\n",
            self.target.url,
            if self.target.spawned {
                "spawned"
            } else {
                "external"
            }
        );
        let _ = writeln!(
            out,
            "**Throughput: {:.0} {}/s** over {:.2} s; errors: {}\n",
            self.throughput_per_s, self.throughput_unit, self.duration_s, self.errors
        );
        if let Some(t) = self.time_to_sell_out_ms {
            let _ = writeln!(out, "Time to sell out: {t:.0} ms\n");
        }
        let _ = writeln!(
            out,
            "| latency (ms) | count | p50 | p90 | p99 | p99.9 | max |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        row(&mut out, "all", &self.latency_ms);
        for (name, summary) in &self.latency_by_outcome_ms {
            row(&mut out, name, summary);
        }
        let _ = writeln!(out);
        if let Some(inv) = &self.invariants {
            let verdict = if inv.ok { "OK" } else { "**VIOLATED**" };
            let _ = writeln!(
                out,
                "Invariants: {verdict} — oversold {}, undersold {}, limit violations {}, duplicate charges {}, unreturned units {}",
                inv.oversold, inv.undersold, inv.limit_violations, inv.duplicate_charges, inv.unreturned_units
            );
            for v in &inv.violations {
                let _ = writeln!(out, "- {v}");
            }
            let _ = writeln!(out);
        }
        if let Some(m) = &self.memory {
            let _ = writeln!(
                out,
                "Server memory: {:.1} MiB → {:.1} MiB for {} viewers = **{:.1} KiB per viewer**\n",
                m.rss_before_bytes as f64 / 1048576.0,
                m.rss_after_bytes as f64 / 1048576.0,
                m.viewers,
                m.bytes_per_viewer / 1024.0
            );
        }
        if !self.baselines.is_empty() {
            let _ = writeln!(out, "| baseline | throughput/s | ours ÷ baseline |");
            let _ = writeln!(out, "|---|---|---|");
            for b in &self.baselines {
                let _ = writeln!(
                    out,
                    "| {} | {:.0} | {:.3} |",
                    b.name, b.throughput_per_s, b.ratio
                );
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "| counter | value |\n|---|---|");
        for (name, value) in &self.counts {
            let _ = writeln!(out, "| {name} | {value} |");
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n> {note}");
        }
        out
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
