//! The flash sale's report: throughput and latency of the buy phase, the
//! ramp and the phase's costs beside them, counters, the audit, and the
//! same-run baselines (run here, after every buyer has gone, so they
//! measure a quiet machine).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::baseline::{postgres, redis_bench};
use crate::hog::HogRun;
use crate::report::{ratio, Baseline, CostPerDecision, Ramp, Report};
use crate::scenario::audit::{self, BuyerSeen};
use crate::scenario::{unix_ms, Ctx};
use crate::stats::{cdf_points, LatencySummary};

use super::args::{BaselineKind, FlashSaleArgs};
use super::tally::{is_error, Tally};
use super::verdict::Verdict;

/// Socket-end reasons kept verbatim in the notes.
const FIRST_DISCONNECTS: usize = 5;

/// Everything a finished run hands to its report.
pub struct Run {
    pub args: FlashSaleArgs,
    /// Buyer agents (child processes) the buyers were spread over; 0: none.
    pub agents: usize,
    pub started_at_ms: u64,
    pub ramp: Ramp,
    /// What every buyer was told, buyer `i` at `i`.
    pub buyers: Vec<BuyerSeen>,
    /// Settle answers by class (`confirm`, `cancel`, `settle_<code>`).
    pub settle_counts: BTreeMap<String, u64>,
    pub tally: Arc<Tally>,
    /// `buy_phase_…` counters.
    pub phase_counts: Vec<(String, u64)>,
    pub cost: CostPerDecision,
    pub hog: Option<HogRun>,
    pub verdict: Verdict,
    pub redis_port: Option<u16>,
    /// Buyers whose socket ended before the run did: `"<stage>: <why>"`.
    pub disconnects: Vec<String>,
    /// The buyer agents' CPU over their whole life, ms.
    pub agents_cpu_ms: Option<u64>,
    /// Why the seller's socket ended early, if it did.
    pub seller_ended: Option<String>,
}

pub async fn report(ctx: &Ctx, run: Run) -> anyhow::Result<Report> {
    let Run {
        args,
        agents,
        started_at_ms,
        ramp,
        buyers,
        settle_counts,
        tally,
        phase_counts,
        cost,
        hog,
        verdict,
        redis_port,
        disconnects,
        agents_cpu_ms,
        seller_ended,
    } = run;
    let decisions = tally.decisions();
    let duration_s = tally.duration_s();
    let throughput = if duration_s > 0.0 {
        decisions as f64 / duration_s
    } else {
        0.0
    };
    let mut notes = vec![
        "Throughput counts the store's decisions (reserved, sold out, limit reached, duplicate), not `unavailable` answers (the store failed, outcome unknown) nor `busy` ones (the node's queue was full, nothing reserved); both are retried with the same key.".to_owned(),
        "Latency is per buy, from its intended send time (open loop; a burst means all at sale start) to its definite answer, through any `busy` answers and retries; the `busy` class is each busy answer's own time (send → busy).".to_owned(),
        format!(
            "The connection ramp ({} of {} buyers in {:.1} s, into a room already live) came before the sale and is not in its throughput or latency; the room was then left {} s to tell its viewer count before the sale started; every socket was read from connect to the end of the run.",
            ramp.connected, ramp.clients, ramp.duration_s, super::ROOM_SETTLE.as_secs()
        ),
    ];
    if agents > 0 {
        notes.push(format!(
            "The buyers were spread over {agents} buyer agents (child processes of the harness; one process may open only so many sockets): the buy phase's harness CPU and the ramp's harness memory include them; `cpu_ms_harness` is the coordinating process alone, `cpu_ms_agents` the agents over the whole run."
        ));
    }
    if let Some(pin) = &ctx.pinning {
        notes.push(format!("Pinned: {}.", pin.commands.join("; ")));
    }
    if let Some(hog) = &hog {
        notes.push(format!(
            "CPU hog: `{}` ran from before the sale's start until every buyer had its answer, and used {} ms of CPU{}.",
            hog.command,
            hog.cpu_ms,
            if hog.ended_early { " — it ended early, so it did not cover the whole phase" } else { "" }
        ));
    }
    if !disconnects.is_empty() {
        let first: Vec<&str> = disconnects
            .iter()
            .take(FIRST_DISCONNECTS)
            .map(String::as_str)
            .collect();
        notes.push(format!(
            "{} buyer sockets ended before the run did; the first: {}",
            disconnects.len(),
            first.join(" | ")
        ));
    }
    if let Some(why) = &seller_ended {
        notes.push(format!(
            "The seller's socket ended before the run did: {why}"
        ));
    }
    let baselines = baselines(ctx, &args, redis_port, throughput, &mut notes).await?;

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for b in &buyers {
        for a in &b.answers {
            *counts.entry(format!("buy_{}", a.outcome)).or_default() += 1;
        }
    }
    let gave_up = class_count(&tally, "gave_up");
    if gave_up > 0 {
        counts.insert("buy_gave_up".into(), gave_up);
    }
    let errors = counts
        .iter()
        .filter(|(k, _)| is_error(k))
        .map(|(_, v)| v)
        .sum::<u64>()
        + settle_counts
            .iter()
            .filter(|(k, _)| k.starts_with("settle"))
            .map(|(_, v)| v)
            .sum::<u64>()
        + ramp.failures
        + disconnects.len() as u64
        + u64::from(seller_ended.is_some());
    counts.extend(settle_counts);
    counts.insert("buyers".into(), args.buyers as u64);
    if ctx.target.nodes.len() > 1 {
        for k in 0..ctx.target.nodes.len() {
            let here: Vec<BuyerSeen> = buyers.iter().filter(|b| b.node == k).cloned().collect();
            counts.insert(format!("node{k}_buyers"), here.len() as u64);
            counts.insert(
                format!("node{k}_buy_answers"),
                here.iter().map(|b| b.answers.len() as u64).sum(),
            );
            counts.insert(
                format!("node{k}_reserved_units"),
                audit::reserved_units(&here),
            );
        }
    }
    counts.extend(phase_counts);
    counts.insert("buy_phase_decisions".into(), decisions);
    counts.insert("connect_failures".into(), ramp.failures);
    counts.insert("ramp_connected".into(), ramp.connected);
    counts.insert("ramp_ms".into(), (ramp.duration_s * 1000.0).round() as u64);
    counts.insert("buyer_disconnects".into(), disconnects.len() as u64);
    counts.insert("harness_processes".into(), 1 + agents as u64);
    if let Some(ms) = agents_cpu_ms {
        counts.insert("cpu_ms_agents".into(), ms);
    }
    counts.insert("reserved_units".into(), audit::reserved_units(&buyers));
    counts.insert("units_sold".into(), verdict.sold);
    counts.insert(
        "orders_reported_units_sold".into(),
        verdict.orders_units_sold,
    );
    if let Some(remaining) = verdict.final_remaining {
        counts.insert("final_remaining".into(), remaining);
    }
    if let Some(remaining) = verdict.redis_remaining {
        counts.insert("redis_remaining".into(), remaining);
    }
    for (k, remaining) in verdict.other_remaining.iter().enumerate() {
        if let Some(remaining) = remaining {
            counts.insert(format!("node{}_final_remaining", k + 1), *remaining);
        }
    }
    let histogram = tally.all().merged();
    Ok(Report {
        scenario: "flash-sale".into(),
        quick: ctx.quick,
        started_at_ms,
        target: ctx.target_info(),
        parameters: serde_json::to_value(&args)?,
        throughput_per_s: throughput,
        throughput_unit: "buy answers".into(),
        duration_s,
        latency_ms: LatencySummary::of(&histogram),
        latency_by_outcome_ms: tally
            .by_class()
            .map(|(c, r)| (c.to_string(), r.summary()))
            .filter(|(_, s)| s.count > 0)
            .collect(),
        latency_by_node_ms: tally
            .by_node()
            .iter()
            .enumerate()
            .map(|(k, r)| (format!("node{k}"), r.summary()))
            .collect(),
        counts,
        errors,
        invariants: Some(verdict.invariants),
        baselines,
        time_to_sell_out_ms: tally.time_to_sell_out_ms(),
        ramp: Some(ramp),
        cost_per_decision: Some(cost),
        throughput_over_time: tally.rates(),
        latency_cdf: cdf_points(&histogram),
        notes,
        ..Report::default()
    })
}

/// Answers recorded in latency class `class`.
fn class_count(tally: &Tally, class: &str) -> u64 {
    tally
        .by_class()
        .find(|(c, _)| *c == class)
        .map_or(0, |(_, r)| r.summary().count)
}

/// The same-run baselines `args` ask for, against our `throughput`.
async fn baselines(
    ctx: &Ctx,
    args: &FlashSaleArgs,
    redis_port: Option<u16>,
    throughput: f64,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<Baseline>> {
    let mut baselines = Vec::new();
    let connections = args
        .bench_connections
        .unwrap_or(args.buyers.min(2_000))
        .max(1);
    let prefix = ctx
        .pinning
        .as_ref()
        .map(|p| p.harness_prefix())
        .unwrap_or_default();
    for kind in &args.baseline {
        match (kind, redis_port) {
            (BaselineKind::None, _) => {}
            (BaselineKind::Redis, None) => notes.push(
                "No Redis port known (--url without --redis-port): Redis baseline skipped.".into(),
            ),
            (BaselineKind::Redis, Some(port)) => {
                let bench =
                    redis_bench::run(port, connections, args.bench_requests, unix_ms(), &prefix)
                        .await?;
                baselines.push(Baseline {
                    name: "redis-benchmark FCALL chophien_buy".into(),
                    throughput_per_s: bench.per_second,
                    ratio: ratio(throughput, bench.per_second),
                    command: bench.command,
                });
            }
            (BaselineKind::Postgres, _) => {
                let bench = postgres::run(connections, args.pgbench_secs).await?;
                baselines.push(Baseline {
                    name: "pgbench hot-row UPDATE".into(),
                    throughput_per_s: bench.per_second,
                    ratio: ratio(throughput, bench.per_second),
                    command: bench.command,
                });
            }
        }
    }
    Ok(baselines)
}
