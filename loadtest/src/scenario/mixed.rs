//! `mixed`: a live sale as it really runs — the flash sale, the shopping
//! bag and a voucher at once, on one room's products — then the [`ledger`]
//! audit of every unit.
//!
//! Setup: a fresh room with tea (`p1`), which the flash sale carves
//! `--sale-stock` units from; the seller goes live, adds honey (`p2`, at
//! most 2 per buyer) and a typed voucher with `--voucher-uses` uses. Every
//! shopper connects first (the ramp, not measured). Then, open loop at
//! `--rate`, each shopper does what her seeded [`shopper::Plan`] says:
//! race for the flash sale, put tea and honey in her bag (greedy ones one
//! honey too many), check out (with the voucher for some; without it once
//! it is used up) or take everything out again, and some cancel their
//! order. Every request's latency is recorded per operation.
//!
//! Audit: the seller ends the sale (its leftover goes back to tea); the
//! store's orders, the voucher's count and each product's stock (straight
//! from Redis when the run has one) are checked against what the shoppers
//! were told and against the stock each product started with; a late
//! joiner's catalog must show the same counts. The baseline, with Redis,
//! is `redis-benchmark` on the bag's own add function: the store's ceiling
//! for the commonest operation here.

mod ledger;
mod shopper;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{stream, StreamExt};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::baseline::redis_bench;
use crate::client::{self, Line};
use crate::report::{Baseline, Report};
use crate::schedule::Schedule;
use crate::stats::{cdf_points, Timeline};

use super::seller::Seller;
use super::{unix_ms, Ctx};
use ledger::{StoredOrder, Told};
use shopper::{Plan, Shopper, Tally};

/// The voucher every voucher-minded shopper types.
const VOUCHER: &str = "MIXED10";
/// Honey's per-buyer limit in the bag.
const HONEY_LIMIT: u64 = 2;
/// The flash sale's per-buyer limit.
const SALE_LIMIT: u64 = 1;
/// Shoppers connecting at once during the ramp.
const RAMP_CONCURRENCY: usize = 200;
/// How long a late joiner's catalog may take to show the store's counts
/// (the announcer re-reads stock every `rooms.sale_stock_interval_ms`).
const CATALOG_SETTLE: Duration = Duration::from_secs(5);
/// Two of the server's default announcer intervals (250 ms), and margin.
const CATALOG_CATCH_UP: Duration = Duration::from_millis(1_000);

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct MixedArgs {
    /// Shoppers in the room.
    #[arg(long, default_value_t = 2_000)]
    pub shoppers: usize,
    /// Tea's stock at the start; the flash sale carves --sale-stock from it.
    #[arg(long, default_value_t = 2_000)]
    pub tea_stock: u32,
    #[arg(long, default_value_t = 300)]
    pub sale_stock: u32,
    /// Honey's stock (at most 2 per buyer): fewer than the shoppers want.
    #[arg(long, default_value_t = 1_000)]
    pub honey_stock: u32,
    /// Uses of the voucher: fewer than the shoppers who type it.
    #[arg(long, default_value_t = 100)]
    pub voucher_uses: u32,
    /// Shoppers who race for the flash sale first.
    #[arg(long, default_value_t = 0.5)]
    pub flash_fraction: f64,
    /// Shoppers who check out (the others take everything out again).
    #[arg(long, default_value_t = 0.7)]
    pub checkout_fraction: f64,
    /// Shoppers who type the voucher at checkout.
    #[arg(long, default_value_t = 0.3)]
    pub voucher_fraction: f64,
    /// Shoppers who cancel their order after placing it.
    #[arg(long, default_value_t = 0.1)]
    pub cancel_fraction: f64,
    /// Shoppers who try one more honey than its limit.
    #[arg(long, default_value_t = 0.1)]
    pub greedy_fraction: f64,
    /// Shoppers starting per second (open loop).
    #[arg(long, default_value_t = 1_000.0)]
    pub rate: f64,
    /// `redis-benchmark` calls of the bag's add function for the baseline
    /// (with Redis; 0: no baseline).
    #[arg(long, default_value_t = 200_000)]
    pub bench_requests: u64,
}

impl MixedArgs {
    pub fn quick(mut self) -> MixedArgs {
        self.shoppers = self.shoppers.min(80);
        self.tea_stock = self.tea_stock.min(200);
        self.sale_stock = self.sale_stock.min(20);
        // Far fewer than the shoppers who keep theirs want (~50 units), so
        // honey sells out whatever the timing: the smoke test relies on it.
        self.honey_stock = self.honey_stock.min(20);
        self.voucher_uses = self.voucher_uses.min(8);
        self.rate = self.rate.min(400.0);
        self.bench_requests = self.bench_requests.min(20_000);
        self
    }

    pub fn without_baseline(mut self) -> MixedArgs {
        self.bench_requests = 0;
        self
    }
}

pub async fn run(ctx: &Ctx, args: MixedArgs) -> anyhow::Result<Report> {
    let args = if ctx.quick { args.quick() } else { args };
    if args.sale_stock > args.tea_stock {
        bail!("--sale-stock must be at most --tea-stock");
    }
    let started_at_ms = unix_ms();
    let room = ctx.fresh_room("mixed", args.tea_stock).await?;
    let seller_token = ctx
        .minter
        .token("lt-seller", "Chị Hoa (load test)", &room, "seller")?;
    let first = ctx.target.first();
    let seller = Seller::connect(&client::room_url(&first.ws_base, &room, &seller_token)).await?;
    let sale_id = set_up(ctx, &args, &room, &seller, &seller_token).await?;

    // The ramp: everyone connects and reads past the snapshot.
    let bar = ctx.progress(args.shoppers as u64, "shoppers join");
    let lines = stream::iter(0..args.shoppers)
        .map(|i| {
            let url = shopper_url(ctx, &room, i);
            let bar = bar.clone();
            async move {
                let line = join(&url?).await;
                bar.inc(1);
                line
            }
        })
        .buffered(RAMP_CONCURRENCY)
        .collect::<Vec<anyhow::Result<Line>>>()
        .await;
    bar.finish_and_clear();
    let lines: Vec<Line> = lines
        .into_iter()
        .collect::<anyhow::Result<_>>()
        .context("a shopper could not join")?;

    // The mixed phase, open loop.
    let tally = Arc::new(Tally::new());
    let plans = plans(&args);
    let start = Instant::now() + Duration::from_millis(200);
    let schedule = Schedule::new(start, Some(args.rate));
    let span = Duration::from_secs_f64(args.shoppers as f64 / args.rate.max(0.001) + 600.0);
    let timeline = Arc::new(Timeline::new(Duration::from_millis(250), span));
    let bar = ctx.progress(args.shoppers as u64, "shop");
    let mut tasks = Vec::with_capacity(args.shoppers);
    for (i, (line, plan)) in lines.into_iter().zip(plans).enumerate() {
        let (tally, timeline, bar, sale_id) = (
            tally.clone(),
            timeline.clone(),
            bar.clone(),
            sale_id.clone(),
        );
        let at = schedule.at(i as u64);
        tasks.push(tokio::spawn(async move {
            let mut line = line;
            line.read_while(tokio::time::sleep_until(at)).await;
            let shopper = Shopper::new(i, line, &tally, (&sale_id, "p1"), VOUCHER);
            let done = shopper.shop(&plan).await;
            timeline.add(Instant::now() - start, 1);
            bar.inc(1);
            done
        }));
    }
    let mut told: Vec<Told> = Vec::with_capacity(args.shoppers);
    let mut errors = 0;
    for task in tasks {
        let (seen, failed) = task.await?;
        told.push(seen);
        errors += failed;
    }
    bar.finish_and_clear();
    let duration_s = start.elapsed().as_secs_f64();

    // The audit.
    seller
        .must(json!({"type": "end_sale", "sale_id": sale_id}))
        .await?;
    let store = read_store(ctx, &args, &room, &seller_token).await?;
    let invariants = ledger::audit(&told, &store);
    seller.finish().await;

    let answers = tally.answers.lock().map(|a| a.clone()).unwrap_or_default();
    let answered: u64 = answers.values().sum();
    let throughput = if duration_s > 0.0 {
        answered as f64 / duration_s
    } else {
        0.0
    };
    let (baselines, mut notes) = baseline(ctx, &args, throughput).await?;
    notes.push(
        "Throughput counts every answered request (buys, bag adds, checkouts, confirms, \
         removals, order cancels) over the phase, from the first shopper's start to the \
         last one's end; latency is from each request's send to its answer."
            .into(),
    );
    let histogram = tally.all.merged();
    let mut counts: BTreeMap<String, u64> = answers;
    counts.insert("shoppers".into(), args.shoppers as u64);
    counts.insert(
        "orders_standing".into(),
        store.orders.iter().filter(|o| !o.cancelled).count() as u64,
    );
    counts.insert("voucher_uses_counted".into(), store.voucher_used);
    Ok(Report {
        scenario: "mixed".into(),
        quick: ctx.quick,
        started_at_ms,
        target: ctx.target_info(),
        parameters: serde_json::to_value(&args)?,
        throughput_per_s: throughput,
        throughput_unit: "answered requests".into(),
        duration_s,
        latency_ms: crate::stats::LatencySummary::of(&histogram),
        latency_by_outcome_ms: tally
            .by_op
            .iter()
            .map(|(op, recorder)| (op.to_string(), recorder.summary()))
            .filter(|(_, summary)| summary.count > 0)
            .collect(),
        counts,
        errors,
        invariants: Some(invariants),
        baselines,
        throughput_over_time: timeline.rates(),
        latency_cdf: cdf_points(&histogram),
        notes,
        ..Report::default()
    })
}

/// The seller goes live, adds honey, makes the voucher and starts the
/// flash sale of tea; the sale's id.
async fn set_up(
    ctx: &Ctx,
    args: &MixedArgs,
    room: &str,
    seller: &Seller,
    seller_token: &str,
) -> anyhow::Result<String> {
    seller.must(json!({"type": "go_live"})).await?;
    let honey = json!({"name": "Mật ong rừng (load test)", "price_vnd": 250000,
        "stock": args.honey_stock, "per_buyer_limit": HONEY_LIMIT});
    seller
        .must(json!({"type": "add_product", "product": honey}))
        .await?;
    let voucher = json!({"code": VOUCHER, "discount": {"kind": "fixed", "amount_vnd": 10000},
        "total_uses": args.voucher_uses, "ends_at": unix_ms() + 24 * 3_600_000});
    let base = &ctx.target.first().http_base;
    let made = ctx
        .http
        .post(format!("{base}/api/rooms/{room}/vouchers"))
        .bearer_auth(seller_token)
        .json(&voucher)
        .send()
        .await?;
    if !made.status().is_success() {
        bail!(
            "creating the voucher answered {}: {}",
            made.status(),
            made.text().await?
        );
    }
    seller
        .must(
            json!({"type": "start_sale", "product_id": "p1", "stock": args.sale_stock,
            "price_vnd": 99000, "per_buyer_limit": SALE_LIMIT, "duration_secs": 3600,
            "hold_secs": 600}),
        )
        .await?;
    // The sale's id, as a joiner's snapshot gives it.
    let (_, snapshot) = observe(ctx, room).await?;
    snapshot["sale"]["id"]
        .as_str()
        .map(str::to_owned)
        .context("the snapshot after start_sale has no sale")
}

/// Each shopper's plan, seeded: the same flags give the same mix.
fn plans(args: &MixedArgs) -> Vec<Plan> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6d1c);
    (0..args.shoppers)
        .map(|_| {
            let mut lines = Vec::new();
            if rng.random::<f64>() < 0.7 {
                lines.push(("p1".to_owned(), 1));
            }
            if lines.is_empty() || rng.random::<f64>() < 0.6 {
                lines.push(("p2".to_owned(), rng.random_range(1..=2)));
            }
            Plan {
                flash: rng.random::<f64>() < args.flash_fraction,
                lines,
                greedy: rng.random::<f64>() < args.greedy_fraction,
                checkout: rng.random::<f64>() < args.checkout_fraction,
                voucher: rng.random::<f64>() < args.voucher_fraction,
                cancel_order: rng.random::<f64>() < args.cancel_fraction,
            }
        })
        .collect()
}

fn shopper_url(ctx: &Ctx, room: &str, i: usize) -> anyhow::Result<String> {
    let name = format!("Khách {i}");
    let token = ctx
        .minter
        .token(&shopper::buyer_id(i), &name, room, "viewer")?;
    Ok(client::room_url(&ctx.target.node(i).ws_base, room, &token))
}

/// Connect and read past the snapshot.
async fn join(url: &str) -> anyhow::Result<Line> {
    let mut line = Line::new(client::connect(url).await?);
    line.wait_for_any(&["snapshot"], Instant::now() + Duration::from_secs(30))
        .await?;
    Ok(line)
}

/// A late joiner: its socket and snapshot.
async fn observe(ctx: &Ctx, room: &str) -> anyhow::Result<(Line, Value)> {
    let token = ctx
        .minter
        .token("lt-observer", "Người xem", room, "viewer")?;
    let url = client::room_url(&ctx.target.first().ws_base, room, &token);
    let mut line = Line::new(client::connect(&url).await?);
    let snapshot = line
        .wait_for_any(&["snapshot"], Instant::now() + Duration::from_secs(30))
        .await?;
    Ok((line, snapshot))
}

/// What the store holds after the run: its orders, the voucher's count,
/// each product's stock (from Redis when there is one, else the catalog)
/// and a late joiner's catalog, read until it shows the store's counts.
async fn read_store(
    ctx: &Ctx,
    args: &MixedArgs,
    room: &str,
    seller_token: &str,
) -> anyhow::Result<ledger::Store> {
    let base = &ctx.target.first().http_base;
    let get = |path: String| {
        let request = ctx
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(seller_token);
        async move {
            let response = request.send().await?;
            if !response.status().is_success() {
                bail!("GET answered {}", response.status());
            }
            Ok::<Value, anyhow::Error>(response.json().await?)
        }
    };
    let orders = get(format!("/api/rooms/{room}/orders")).await?;
    let orders: Vec<StoredOrder> = orders["orders"]
        .as_array()
        .map(|all| all.iter().map(stored_order).collect())
        .unwrap_or_default();
    let vouchers = get(format!("/api/rooms/{room}/vouchers")).await?;
    let voucher_used = vouchers["vouchers"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["code"] == VOUCHER))
        .and_then(|v| v["used"].as_u64())
        .unwrap_or(0);
    let products = ["p1", "p2"];
    let redis_stock = match &ctx.target.redis {
        Some(redis) => Some(redis_bench::read_stock(redis.port, room, &products).await?),
        None => None,
    };
    // A late joiner's catalog, once the announcer has caught up: it reads
    // a changed count twice, an interval apart, so wait that long at least
    // (without Redis there is no count of the store's to wait for).
    tokio::time::sleep(CATALOG_CATCH_UP).await;
    let deadline = Instant::now() + CATALOG_SETTLE;
    let (catalog, sale_remaining) = loop {
        let (_, snapshot) = observe(ctx, room).await?;
        let catalog: BTreeMap<String, u64> = snapshot["products"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|p| Some((p["id"].as_str()?.to_owned(), p["stock"].as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let remaining = snapshot["sale"]["remaining"].as_u64().unwrap_or(0);
        let agrees = redis_stock.as_ref().is_none_or(|stock| *stock == catalog);
        if agrees || Instant::now() > deadline {
            break (catalog, remaining);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let initial = BTreeMap::from([
        ("p1".to_owned(), u64::from(args.tea_stock)),
        ("p2".to_owned(), u64::from(args.honey_stock)),
    ]);
    Ok(ledger::Store {
        initial,
        stock: redis_stock.clone().unwrap_or_else(|| catalog.clone()),
        catalog: redis_stock.map(|_| catalog),
        sale_remaining,
        sale_product: "p1".into(),
        sale_limit: SALE_LIMIT,
        orders,
        bag_limits: BTreeMap::from([("p2".to_owned(), HONEY_LIMIT)]),
        voucher_code: VOUCHER.into(),
        voucher_total_uses: u64::from(args.voucher_uses),
        voucher_used,
    })
}

/// An order as `GET /api/rooms/{id}/orders` lists it.
fn stored_order(order: &Value) -> StoredOrder {
    let text = |field: &str| order[field].as_str().unwrap_or_default().to_owned();
    StoredOrder {
        order_id: text("order_id"),
        buyer_id: text("buyer_id"),
        sale_id: text("sale_id"),
        cancelled: order["status"] == "cancelled",
        units: ledger::order_units(order, "p1"),
        voucher_code: order["voucher_code"].as_str().map(str::to_owned),
    }
}

/// `redis-benchmark` on the bag's add, with Redis; notes otherwise.
async fn baseline(
    ctx: &Ctx,
    args: &MixedArgs,
    throughput: f64,
) -> anyhow::Result<(Vec<Baseline>, Vec<String>)> {
    let mut notes = Vec::new();
    let Some(redis) = &ctx.target.redis else {
        notes.push("No Redis of the run's own (memory store or --url): no baseline.".into());
        return Ok((Vec::new(), notes));
    };
    if args.bench_requests == 0 {
        return Ok((Vec::new(), notes));
    }
    let prefix = ctx
        .pinning
        .as_ref()
        .map(|p| p.harness_prefix())
        .unwrap_or_default();
    let connections = args.shoppers.clamp(1, 2_000);
    let bench = redis_bench::run_bag_add(
        redis.port,
        connections,
        args.bench_requests,
        unix_ms(),
        &prefix,
    )
    .await?;
    Ok((
        vec![Baseline {
            name: "redis-benchmark FCALL chophien_bag_add".into(),
            throughput_per_s: bench.per_second,
            ratio: if bench.per_second > 0.0 {
                throughput / bench.per_second
            } else {
                0.0
            },
            command: bench.command,
        }],
        notes,
    ))
}
