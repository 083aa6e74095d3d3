//! The Markdown summary of a report, for people: the headline figures,
//! the connection ramp apart from the measured phase, latency per class,
//! where the buy phase's time went, the audits, baselines and counters.

use std::fmt::Write as _;

use super::{Comparison, CostPerDecision, Ramp, Report, RunSummary, TargetInfo};
use crate::stats::LatencySummary;

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
        if let Some(c) = &self.comparison {
            comparison_markdown(&mut out, c, &self.runs, &self.throughput_unit);
            let _ = writeln!(
                out,
                "## The last run ({})\n",
                self.runs.last().map_or("", |r| r.label.as_str())
            );
        }
        let _ = writeln!(
            out,
            "Target: {} ({})\n",
            target_urls(&self.target),
            target_words(&self.target)
        );
        let _ = writeln!(
            out,
            "**Throughput: {:.0} {}/s** over {:.2} s; errors: {}\n",
            self.throughput_per_s, self.throughput_unit, self.duration_s, self.errors
        );
        if let Some(t) = self.time_to_sell_out_ms {
            let _ = writeln!(out, "Time to sell out: {t:.0} ms\n");
        }
        if let Some(ramp) = &self.ramp {
            ramp_markdown(&mut out, ramp);
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
        for (name, summary) in &self.latency_by_node_ms {
            row(&mut out, name, summary);
        }
        let _ = writeln!(out);
        if let Some(cost) = &self.cost_per_decision {
            cost_markdown(&mut out, cost);
        }
        if let Some(video) = &self.video {
            video.markdown(&mut out);
        }
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
        if let Some(d) = &self.delivery {
            let verdict = if d.ok { "OK" } else { "**VIOLATED**" };
            let _ = writeln!(
                out,
                "Delivery: {verdict} — {} viewers checked; lost {}, duplicates {}, out of order {}, seq gaps {}",
                d.viewers_checked, d.messages_lost, d.duplicates, d.out_of_order, d.seq_gaps
            );
            if d.unknown_outcome > 0 {
                let _ = writeln!(
                    out,
                    "- {} messages answered `unavailable` (outcome unknown): {} were committed after all, so every viewer must have them",
                    d.unknown_outcome, d.unknown_delivered
                );
            }
            for v in &d.violations {
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

fn row(out: &mut String, name: &str, s: &LatencySummary) {
    let _ = writeln!(
        out,
        "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
        s.count, s.p50, s.p90, s.p99, s.p999, s.max
    );
}

/// Every node's URL (or the one URL of an older report).
fn target_urls(target: &TargetInfo) -> String {
    if target.nodes.is_empty() {
        target.url.clone()
    } else {
        target.nodes.join(", ")
    }
}

/// "spawned, 3 nodes, store redis", for the Markdown.
fn target_words(target: &TargetInfo) -> String {
    let mut words = vec![if target.spawned {
        "spawned"
    } else {
        "external"
    }
    .to_owned()];
    if target.nodes.len() > 1 {
        words.push(format!("{} nodes", target.nodes.len()));
    }
    if let Some(store) = target.store {
        words.push(format!("store {}", store.as_str()));
    }
    if !target.redis_settings.is_empty() {
        words.push(format!("Redis with {}", target.redis_settings.join(", ")));
    }
    if let Some(pin) = &target.pinning {
        words.push(format!(
            "pinned: harness on CPU {}, servers and Redis on CPU {}",
            pin.harness_cpus, pin.server_cpus
        ));
    }
    words.join(", ")
}

/// The runs side by side, then their ratios.
fn comparison_markdown(out: &mut String, c: &Comparison, runs: &[RunSummary], unit: &str) {
    let _ = writeln!(out, "## Comparison\n");
    let _ = writeln!(
        out,
        "| run | {unit}/s | p50 ms | p99 ms | max ms | errors | audit |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for run in runs {
        let audit = if run.invariants.is_none() && run.delivery.is_none() {
            "—"
        } else if run.violations().is_empty() {
            "OK"
        } else {
            "**VIOLATED**"
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {audit} |",
            run.label,
            run.throughput_per_s,
            run.latency_ms.p50,
            run.latency_ms.p99,
            run.latency_ms.max,
            run.errors,
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "- Redis ÷ memory on one node: throughput **{:.3}** (goal ≥ {}: {}), p99 {:.3}",
        c.redis_over_memory.throughput,
        c.redis_over_memory_goal,
        if c.meets_goal { "met" } else { "not met" },
        c.redis_over_memory.p99
    );
    let _ = writeln!(
        out,
        "- {} nodes ÷ 1 node through Redis: throughput **{:.3}**, p99 {:.3}\n",
        c.nodes, c.nodes_over_single.throughput, c.nodes_over_single.p99
    );
}

/// "Connection ramp: …", apart from the measured phase.
fn ramp_markdown(out: &mut String, ramp: &Ramp) {
    let _ = writeln!(
        out,
        "Connection ramp (not part of the figures above): {} of {} clients connected in {:.2} s = **{:.0} connects/s**; {} failed",
        ramp.connected, ramp.clients, ramp.duration_s, ramp.connects_per_s, ramp.failures
    );
    if !ramp.source_addresses.is_empty() {
        let _ = writeln!(
            out,
            "- from {} source addresses: {}",
            ramp.source_addresses.len(),
            ramp.source_addresses.join(", ")
        );
    }
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    if let Some(bytes) = ramp.harness_rss_bytes {
        let _ = writeln!(
            out,
            "- harness memory once connected: {:.0} MiB",
            mib(bytes)
        );
    }
    if let Some(bytes) = ramp.nodes_rss_bytes {
        let _ = writeln!(
            out,
            "- server memory once connected: {:.0} MiB (all nodes)",
            mib(bytes)
        );
    }
    for error in &ramp.first_errors {
        let _ = writeln!(out, "- connect failed: {error}");
    }
    let _ = writeln!(out);
}

/// "Where the time goes, per store decision", over the buy phase.
fn cost_markdown(out: &mut String, cost: &CostPerDecision) {
    let _ = writeln!(
        out,
        "Where the time goes, per store decision ({} decisions in a buy phase of {:.2} s):\n",
        cost.decisions, cost.buy_phase_s
    );
    let _ = writeln!(out, "| per decision | value |\n|---|---|");
    let micros = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.1} µs"));
    let rows = [
        ("server CPU (all nodes, /proc)", micros(cost.server_cpu_us)),
        ("redis-server CPU (/proc)", micros(cost.redis_cpu_us)),
        (
            "Redis FCALL time (INFO commandstats)",
            micros(cost.redis_fcall_us),
        ),
        ("harness CPU (/proc)", micros(Some(cost.harness_cpu_us))),
        (
            "mean batch size (buys per Redis call, server /metrics)",
            cost.mean_batch_size
                .map_or("—".to_owned(), |v| format!("{v:.1}")),
        ),
        (
            "frames written to clients (server /metrics)",
            cost.frames_out
                .map_or("—".to_owned(), |v| format!("{v:.2}")),
        ),
        (
            "server's busy answers (/metrics, whole phase)",
            cost.server_busy_answers
                .map_or("—".to_owned(), |v| v.to_string()),
        ),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    if let Some(ms) = cost.hog_cpu_ms {
        let _ = writeln!(out, "| CPU hog (stress-ng, whole phase) | {ms} ms |");
    }
    let _ = writeln!(out);
}
