//! `flash-sale`: B buyers race for S units of one product.
//!
//! Phases: buyers connect; the seller starts a live sale; every buyer sends
//! one `buy` at its intended time (open loop at `--rate`, or all at once —
//! the burst at sale start), a fraction sends the same request twice (a
//! client retry with the same idempotency key) and a fraction tries again
//! with a new key (probing the per-buyer limit), and a buy answered
//! `unavailable` (or not at all) is retried with the same key, as the
//! protocol tells clients to. Then holders confirm,
//! cancel, or let their holds expire; once every hold has ended the
//! harness reads the store and runs the invariant [`audit`](super::audit).
//!
//! With several nodes, buyer `i` connects to node `i mod N` and the seller
//! to node 0; the audit sums what every node's buyers were told, reads the
//! orders through every node, and the sale's `remaining` from a snapshot on
//! every node and straight from Redis — all must agree.
//!
//! The baseline is `redis-benchmark` on the store's own single-buy function
//! in the same Redis (see `baseline::redis_bench`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::baseline::{postgres, redis_bench};
use crate::client::{self, Socket};
use crate::report::{ratio, Baseline, Report};
use crate::schedule::Schedule;
use crate::stats::{cdf_points, LatencyRecorder, LatencySummary, Timeline};

use super::audit::{self, AuditInput, BuyerSeen, NodeView};
use super::buyer::{self, Plan, Settle};
use super::{unix_ms, Ctx};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries of a buy whose outcome is unknown (`unavailable`, no answer).
const UNKNOWN_OUTCOME_RETRIES: usize = 2;
/// Outcome classes with their own latency histogram; anything else is `error`.
const CLASSES: &[&str] = &[
    "reserved",
    "sold_out",
    "limit_reached",
    "duplicate",
    "not_started",
    "ended",
    "unavailable",
    "error",
    "timeout",
    "confirm",
    "cancel",
    "settle_error",
];

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct FlashSaleArgs {
    /// Buyers, each on its own connection.
    #[arg(long, default_value_t = 10_000)]
    pub buyers: usize,
    /// Units for sale.
    #[arg(long, default_value_t = 1_000)]
    pub stock: u32,
    #[arg(long, default_value_t = 1)]
    pub per_buyer_limit: u32,
    /// Units per buy request.
    #[arg(long, default_value_t = 1)]
    pub quantity: u32,
    /// Buy requests per second (open loop); absent: all at once at sale start.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Fraction of buyers that send their buy twice with the same key.
    #[arg(long, default_value_t = 0.1)]
    pub retry_fraction: f64,
    /// Fraction of reserving buyers that buy again with a new key.
    #[arg(long, default_value_t = 0.05)]
    pub greedy_fraction: f64,
    /// Fraction of holders that confirm their order.
    #[arg(long, default_value_t = 0.5)]
    pub confirm_fraction: f64,
    /// Fraction of holders that cancel (the rest let the hold expire).
    #[arg(long, default_value_t = 0.2)]
    pub cancel_fraction: f64,
    /// Hold lifetime, seconds (the run waits for it to pass).
    #[arg(long, default_value_t = 30)]
    pub hold_secs: u32,
    /// Same-run baselines, comma-separated: `redis` (redis-benchmark on the
    /// buy function), `postgres` (pgbench on a hot stock row), or `none`.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BaselineKind::Redis])]
    pub baseline: Vec<BaselineKind>,
    /// How long the postgres baseline runs, seconds.
    #[arg(long, default_value_t = 10)]
    pub pgbench_secs: u64,
    /// Calls the redis-benchmark baseline makes.
    #[arg(long, default_value_t = 200_000)]
    pub bench_requests: u64,
    /// redis-benchmark connections (default: the buyer count, at most 2,000).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench_connections: Option<usize>,
    /// With --url: the port of the server's Redis, for the baseline and the
    /// direct stock check.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_port: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineKind {
    Redis,
    Postgres,
    None,
}

impl FlashSaleArgs {
    /// The same sale without same-run baselines (for the configurations of
    /// `--compare-nodes` other than the last).
    pub fn without_baselines(mut self) -> FlashSaleArgs {
        self.baseline = vec![BaselineKind::None];
        self
    }

    pub fn quick(mut self) -> FlashSaleArgs {
        self.buyers = self.buyers.min(300);
        self.stock = self.stock.min(100);
        self.hold_secs = self.hold_secs.min(4);
        self.bench_requests = self.bench_requests.min(20_000);
        self.pgbench_secs = self.pgbench_secs.min(3);
        self
    }
}

/// What buyer tasks record into.
struct Shared {
    start: Instant,
    all: LatencyRecorder,
    by_class: BTreeMap<&'static str, LatencyRecorder>,
    /// With several nodes: buy answers of buyer `i` also go to recorder
    /// `i mod nodes` (empty with one node).
    by_node: Vec<LatencyRecorder>,
    timeline: Timeline,
    answers: AtomicU64,
    reserved_units: AtomicU64,
    /// Micros after `start` when the stock was all reserved (MAX: never).
    sold_out_us: AtomicU64,
    last_answer_us: AtomicU64,
    stock: u64,
}

impl Shared {
    fn record(&self, i: usize, class: &str, latency: Duration, counts_as_buy: bool) {
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
        if counts_as_buy {
            self.all.record(i, latency);
            if !self.by_node.is_empty() {
                self.by_node[i % self.by_node.len()].record(i, latency);
            }
            // Throughput counts decisions of the store only: an
            // `unavailable` answer (or none) decided nothing.
            if is_legit_answer(&format!("buy_{class}")) {
                let now_us = self.start.elapsed().as_micros() as u64;
                self.timeline.add(Duration::from_micros(now_us), 1);
                self.answers.fetch_add(1, Ordering::Relaxed);
                self.last_answer_us.fetch_max(now_us, Ordering::Relaxed);
            }
        }
    }

    fn reserved(&self, units: u64) {
        let before = self.reserved_units.fetch_add(units, Ordering::Relaxed);
        if before < self.stock && before + units >= self.stock {
            self.sold_out_us
                .store(self.start.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
    }
}

pub async fn run(ctx: &Ctx, args: FlashSaleArgs) -> anyhow::Result<Report> {
    let args = if ctx.quick { args.quick() } else { args };
    let started_at_ms = unix_ms();
    let room = ctx.fresh_room("sale", args.stock).await?;
    let seller_token = ctx
        .minter
        .token("lt-seller", "Chị Hoa (load test)", &room, "seller")?;
    let first = ctx.target.first();
    let mut seller =
        client::connect(&client::room_url(&first.ws_base, &room, &seller_token)).await?;
    client::wait_for(&mut seller, "snapshot", CONNECT_TIMEOUT).await?;

    let mut sockets = buyer::connect_all(ctx, &room, args.buyers).await;
    let connect_failures = sockets.iter().filter(|s| s.is_none()).count() as u64;
    let sale_id = start_sale(&mut seller, &args).await?;
    // The seller keeps reading (stock and purchase events) so the server
    // never drops it as a slow consumer; it leaves when the run ends.
    let seller = tokio::spawn(async move { while let Some(Ok(_)) = seller.next().await {} });

    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let plans: Vec<Plan> = (0..args.buyers)
        .map(|_| {
            let roll: f64 = rng.random();
            Plan {
                retry: rng.random::<f64>() < args.retry_fraction,
                greedy: rng.random::<f64>() < args.greedy_fraction,
                settle: if roll < args.confirm_fraction {
                    Settle::Confirm
                } else if roll < args.confirm_fraction + args.cancel_fraction {
                    Settle::Cancel
                } else {
                    Settle::Expire
                },
            }
        })
        .collect();

    // Buy phase, with what each process and Redis spent on it.
    let cpu_before = ctx.target.cpu_use();
    let redis_before = redis_stats(ctx).await;
    let start = Instant::now() + Duration::from_millis(200);
    let schedule = Schedule::new(start, args.rate);
    let shared = Arc::new(Shared {
        start,
        all: LatencyRecorder::default(),
        by_class: CLASSES
            .iter()
            .map(|c| (*c, LatencyRecorder::with_shards(2)))
            .collect(),
        by_node: match ctx.target.nodes.len() {
            1 => Vec::new(),
            n => (0..n).map(|_| LatencyRecorder::with_shards(4)).collect(),
        },
        timeline: Timeline::new(Duration::from_millis(100), Duration::from_secs(600)),
        answers: AtomicU64::new(0),
        reserved_units: AtomicU64::new(0),
        sold_out_us: AtomicU64::new(u64::MAX),
        last_answer_us: AtomicU64::new(0),
        stock: u64::from(args.stock),
    });
    let bar = ctx.progress(args.buyers as u64, "buy");
    let mut tasks = Vec::with_capacity(args.buyers);
    for (i, socket) in sockets.drain(..).enumerate() {
        let (shared, sale_id, plan, bar) = (shared.clone(), sale_id.clone(), plans[i], bar.clone());
        let (quantity, at) = (args.quantity, schedule.at(i as u64));
        let node = ctx.target.node_index(i);
        tasks.push(tokio::spawn(async move {
            let mut seen = BuyerSeen {
                buyer_id: buyer::buyer_id(i),
                node,
                ..BuyerSeen::default()
            };
            if let Some(mut socket) = socket {
                buy(
                    i,
                    &mut socket,
                    &mut seen,
                    &sale_id,
                    quantity,
                    plan,
                    at,
                    &shared,
                )
                .await;
                bar.inc(1);
                return (seen, Some(socket));
            }
            bar.inc(1);
            (seen, None)
        }));
    }
    let mut buyers = Vec::with_capacity(args.buyers);
    for task in tasks {
        let (seen, socket) = task.await?;
        buyers.push(seen);
        sockets.push(socket);
    }
    bar.finish_and_clear();
    let buy_phase_end_ms = unix_ms();
    let mut phase_counts: Vec<(String, u64)> = ctx
        .target
        .cpu_use()
        .counts_since(&cpu_before)
        .into_iter()
        .map(|(name, ms)| (format!("buy_phase_{name}"), ms))
        .collect();
    if let (Some(before), Some(after)) = (redis_before, redis_stats(ctx).await) {
        for (command, calls, usec) in after {
            let (calls_0, usec_0) = before
                .iter()
                .find(|(c, _, _)| *c == command)
                .map_or((0, 0), |(_, calls, usec)| (*calls, *usec));
            if calls > calls_0 && matches!(command.as_str(), "fcall" | "fcall_ro") {
                phase_counts.push((format!("buy_phase_redis_{command}_calls"), calls - calls_0));
                phase_counts.push((format!("buy_phase_redis_{command}_usec"), usec - usec_0));
            }
        }
    }

    // Settle phase: confirm, cancel or let expire each buyer's first hold.
    let mut tasks = Vec::new();
    for (i, (mut seen, socket)) in buyers.drain(..).zip(sockets.drain(..)).enumerate() {
        let (shared, settle) = (shared.clone(), plans[i].settle);
        tasks.push(tokio::spawn(async move {
            let first_hold = seen
                .answers
                .iter()
                .find_map(|a| a.hold.as_ref().map(|h| h.hold_id.clone()));
            if let (Some(mut socket), Some(hold_id)) = (socket, first_hold) {
                let sent = Instant::now();
                if let Some(class) = buyer::settle(
                    &mut socket,
                    &mut seen,
                    &hold_id,
                    settle,
                    &format!("Khách {i}"),
                )
                .await
                {
                    shared.record(i, &class, sent.elapsed(), false);
                    return (seen, Some(class));
                }
            }
            (seen, None)
        }));
    }
    let mut settle_counts: BTreeMap<String, u64> = BTreeMap::new();
    for task in tasks {
        let (seen, class) = task.await?;
        if let Some(class) = class {
            *settle_counts.entry(class).or_default() += 1;
        }
        buyers.push(seen);
    }

    // Wait for every unsettled hold to expire, then read the store.
    let last_expiry = buyers
        .iter()
        .flat_map(|b| {
            b.answers
                .iter()
                .filter_map(|a| a.hold.as_ref())
                .map(move |h| (b, h))
        })
        .filter(|(b, h)| !b.confirmed.contains_key(&h.hold_id) && !b.cancelled.contains(&h.hold_id))
        .map(|(_, h)| h.expires_at)
        .max();
    let orders = client::orders(&ctx.http, &first.http_base, &seller_token, &room).await?;
    let mut other_orders = Vec::new();
    for node in &ctx.target.nodes[1..] {
        let listed = client::orders(&ctx.http, &node.http_base, &seller_token, &room).await;
        other_orders.push(listed.map_err(|e| format!("{e:#}")));
    }
    let sold: u64 = orders
        .orders
        .iter()
        .filter(|o| o.sale_id == sale_id)
        .map(|o| u64::from(o.quantity))
        .sum();
    let expected_remaining = u64::from(args.stock).saturating_sub(sold);
    let redis_port = ctx
        .target
        .redis
        .as_ref()
        .map(|r| r.port)
        .or(args.redis_port);
    let wait = last_expiry.unwrap_or(0).saturating_sub(unix_ms());
    tokio::time::sleep(Duration::from_millis(wait + 200)).await;
    // Redis is the store itself: read it first, until the sweeper has
    // returned every expired hold (or 20 s pass).
    let redis_remaining = match redis_port {
        Some(port) => read_redis_remaining(port, &room, &sale_id, expected_remaining).await,
        None => None,
    };
    // Every node's room hears every stock change through the room store:
    // each snapshot must come to show what Redis holds.
    let patience = Duration::from_secs(20);
    let final_remaining = read_remaining(
        ctx,
        &first.ws_base,
        &room,
        &sale_id,
        expected_remaining,
        patience,
    )
    .await;
    let mut other_remaining = Vec::new();
    for node in &ctx.target.nodes[1..] {
        let expected = final_remaining.unwrap_or(expected_remaining);
        let read = read_remaining(ctx, &node.ws_base, &room, &sale_id, expected, patience);
        other_remaining.push(read.await);
    }

    let mut invariants = audit::audit(&AuditInput {
        sale_id: &sale_id,
        stock: u64::from(args.stock),
        per_buyer_limit: u64::from(args.per_buyer_limit),
        buyers: &buyers,
        buy_phase_end_ms,
        orders: &orders.orders,
        final_remaining,
    });
    let views: Vec<NodeView<'_>> = other_orders
        .iter()
        .zip(&other_remaining)
        .enumerate()
        .map(|(k, (orders, remaining))| NodeView {
            node: k + 1,
            orders: orders
                .as_ref()
                .map(|o| o.orders.as_slice())
                .map_err(Clone::clone),
            remaining: *remaining,
        })
        .collect();
    audit::cross_check(
        &mut invariants,
        &sale_id,
        &orders.orders,
        final_remaining,
        &views,
    );
    if let (Some(direct), Some(seen)) = (redis_remaining, final_remaining) {
        if direct != seen {
            invariants.ok = false;
            invariants.violations.push(format!(
                "MISMATCH: Redis says remaining {direct}, node 0's snapshot {seen}"
            ));
        }
    }

    // Throughput and the baseline.
    let answers = shared.answers.load(Ordering::Relaxed);
    let duration_s = shared.last_answer_us.load(Ordering::Relaxed) as f64 / 1e6;
    let throughput = if duration_s > 0.0 {
        answers as f64 / duration_s
    } else {
        0.0
    };
    let mut notes = vec![
        "Throughput counts the store's decisions (reserved, sold out, limit reached, duplicate), not `unavailable` answers; latency counts every answer, a retry's from the buy's first intended time.".to_owned(),
        "Latency is from each buy's intended send time (open loop; a burst means all at sale start).".to_owned(),
    ];
    let mut baselines = Vec::new();
    let connections = args
        .bench_connections
        .unwrap_or(args.buyers.min(2_000))
        .max(1);
    for kind in &args.baseline {
        match (kind, redis_port) {
            (BaselineKind::None, _) => {}
            (BaselineKind::Redis, None) => notes.push(
                "No Redis port known (--url without --redis-port): Redis baseline skipped.".into(),
            ),
            (BaselineKind::Redis, Some(port)) => {
                let bench =
                    redis_bench::run(port, connections, args.bench_requests, unix_ms()).await?;
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

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for b in &buyers {
        for a in &b.answers {
            *counts.entry(format!("buy_{}", a.outcome)).or_default() += 1;
        }
    }
    let errors = counts
        .iter()
        .filter(|(k, _)| !is_legit_answer(k))
        .map(|(_, v)| v)
        .sum::<u64>()
        + settle_counts
            .iter()
            .filter(|(k, _)| k.starts_with("settle"))
            .map(|(_, v)| v)
            .sum::<u64>()
        + connect_failures;
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
    counts.insert("connect_failures".into(), connect_failures);
    counts.insert("reserved_units".into(), audit::reserved_units(&buyers));
    counts.insert("units_sold".into(), sold);
    counts.insert("orders_reported_units_sold".into(), orders.units_sold);
    if let Some(remaining) = final_remaining {
        counts.insert("final_remaining".into(), remaining);
    }
    if let Some(remaining) = redis_remaining {
        counts.insert("redis_remaining".into(), remaining);
    }
    for (k, remaining) in other_remaining.iter().enumerate() {
        if let Some(remaining) = remaining {
            counts.insert(format!("node{}_final_remaining", k + 1), *remaining);
        }
    }
    let sold_out_us = shared.sold_out_us.load(Ordering::Relaxed);
    let histogram = shared.all.merged();
    seller.abort();
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
        latency_by_outcome_ms: shared
            .by_class
            .iter()
            .map(|(c, r)| (c.to_string(), r.summary()))
            .filter(|(_, s)| s.count > 0)
            .collect(),
        latency_by_node_ms: shared
            .by_node
            .iter()
            .enumerate()
            .map(|(k, r)| (format!("node{k}"), r.summary()))
            .collect(),
        counts,
        errors,
        invariants: Some(invariants),
        baselines,
        time_to_sell_out_ms: (sold_out_us != u64::MAX).then(|| sold_out_us as f64 / 1000.0),
        throughput_over_time: shared.timeline.rates(),
        latency_cdf: cdf_points(&histogram),
        notes,
        ..Report::default()
    })
}

/// Redis's time per command so far, when the harness started that Redis.
async fn redis_stats(ctx: &Ctx) -> Option<Vec<(String, u64, u64)>> {
    let redis = ctx.target.redis.as_ref()?;
    crate::target::redis_command_stats(redis.port).await.ok()
}

fn is_legit_answer(counter: &str) -> bool {
    matches!(
        counter,
        "buy_reserved" | "buy_sold_out" | "buy_limit_reached" | "buy_duplicate"
    )
}

/// Go live and start a live sale of product `p1` as the seller; its id.
async fn start_sale(seller: &mut Socket, args: &FlashSaleArgs) -> anyhow::Result<String> {
    // A sale happens during a live session: go live first (an error here
    // only means the room is live already).
    seller
        .send(Message::text(
            json!({ "id": "live", "type": "go_live" }).to_string(),
        ))
        .await?;
    client::wait_for_any(seller, &["ack", "error"], CONNECT_TIMEOUT).await?;
    let frame = json!({
        "id": "start", "type": "start_sale", "product_id": "p1", "stock": args.stock, "price_vnd": 199000,
        "per_buyer_limit": args.per_buyer_limit, "starts_in_secs": 0, "duration_secs": 3600, "hold_secs": args.hold_secs,
    });
    seller.send(Message::text(frame.to_string())).await?;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = client::wait_for_any(seller, &["sale_updated", "error"], remaining)
            .await
            .context("starting the sale (does this server support flash sales yet?)")?;
        if event.get("type").and_then(Value::as_str) == Some("error") {
            bail!("start_sale was refused: {event}");
        }
        let sale = &event["sale"];
        if sale.get("state").and_then(Value::as_str) == Some("live") {
            return sale
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .context("sale_updated without an id");
        }
    }
}

/// One buyer's buy phase.
#[allow(clippy::too_many_arguments)]
async fn buy(
    i: usize,
    socket: &mut Socket,
    seen: &mut BuyerSeen,
    sale_id: &str,
    quantity: u32,
    plan: Plan,
    at: Instant,
    shared: &Shared,
) {
    tokio::time::sleep_until(at).await;
    let key = uuid::Uuid::new_v4().to_string();
    let mut frames = vec![(
        "b1".to_owned(),
        buyer::buy_frame("b1", sale_id, quantity, &key),
    )];
    if plan.retry {
        frames.push((
            "b2".to_owned(),
            buyer::buy_frame("b2", sale_id, quantity, &key),
        ));
    }
    let ids: Vec<String> = frames.iter().map(|(id, _)| id.clone()).collect();
    let answers = buyer::request(socket, frames).await;
    let mut reserved = false;
    let mut unknown = false;
    for id in &ids {
        let arrival = answers.get(id);
        let outcome = buyer::answer(seen, &key, quantity, arrival);
        let latency = arrival.map_or(buyer::ANSWER_TIMEOUT, |a| a.at - at);
        shared.record(i, &outcome, latency, true);
        if outcome == "reserved" && !reserved {
            reserved = true;
            shared.reserved(u64::from(quantity));
        }
        unknown |= buyer::outcome_unknown(&outcome);
    }
    // `unavailable` (or no answer) means the outcome is unknown: a correct
    // client retries with the same key, and must not be charged twice.
    for attempt in 0..UNKNOWN_OUTCOME_RETRIES {
        if reserved || !unknown {
            break;
        }
        let id = format!("r{attempt}");
        let answers = buyer::request(
            socket,
            vec![(id.clone(), buyer::buy_frame(&id, sale_id, quantity, &key))],
        )
        .await;
        let arrival = answers.get(&id);
        let outcome = buyer::answer(seen, &key, quantity, arrival);
        shared.record(
            i,
            &outcome,
            arrival.map_or(buyer::ANSWER_TIMEOUT, |a| a.at - at),
            true,
        );
        if outcome == "reserved"
            || (outcome == "duplicate" && arrival.is_some_and(|a| a.frame.get("hold").is_some()))
        {
            reserved = true;
            shared.reserved(u64::from(quantity));
        }
        unknown = buyer::outcome_unknown(&outcome);
    }
    if reserved && plan.greedy {
        let key = uuid::Uuid::new_v4().to_string();
        let sent = Instant::now();
        let answers = buyer::request(
            socket,
            vec![("b3".into(), buyer::buy_frame("b3", sale_id, quantity, &key))],
        )
        .await;
        let arrival = answers.get("b3");
        let outcome = buyer::answer(seen, &key, quantity, arrival);
        shared.record(
            i,
            &outcome,
            arrival.map_or(buyer::ANSWER_TIMEOUT, |a| a.at - sent),
            true,
        );
        if outcome == "reserved" {
            shared.reserved(u64::from(quantity));
        }
    }
}

/// The sale's `remaining` straight from Redis, polled until it equals
/// `expected` (or 20 s pass); `None` when Redis could not be read.
async fn read_redis_remaining(port: u16, room: &str, sale_id: &str, expected: u64) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(read) = redis_bench::read_remaining(port, room, sale_id).await {
            last = read;
        }
        if last == Some(expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}

/// The sale's `remaining` from a fresh join snapshot on the node at
/// `ws_base`, polled until it equals `expected` (or `patience` passes).
/// `None` when no snapshot could be read or it shows no such sale.
async fn read_remaining(
    ctx: &Ctx,
    ws_base: &str,
    room: &str,
    sale_id: &str,
    expected: u64,
    patience: Duration,
) -> Option<u64> {
    let deadline = Instant::now() + patience;
    let token = ctx
        .minter
        .token("lt-auditor", "Auditor", room, "viewer")
        .ok()?;
    let url = client::room_url(ws_base, room, &token);
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(mut socket) = client::connect(&url).await {
            if let Ok(snapshot) = client::wait_for(&mut socket, "snapshot", CONNECT_TIMEOUT).await {
                let sale = &snapshot["sale"];
                if sale.get("id").and_then(Value::as_str) != Some(sale_id) {
                    let _ = socket.close(None).await;
                    return None;
                }
                last = sale.get("remaining").and_then(Value::as_u64);
            }
            let _ = socket.close(None).await;
        }
        if last == Some(expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    last
}
