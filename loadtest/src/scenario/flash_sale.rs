//! `flash-sale`: B buyers race for S units of one product.
//!
//! Phases, each announced to every buyer's task (see [`lifecycle`]):
//!
//! 1. **Ramp.** The seller goes live; every buyer connects (a few hundred
//!    at a time) and reads its socket from then on; the seller's socket is
//!    read by its own task ([`seller`]). Time to connect all, connects/s and
//!    connect failures are reported apart: the ramp is no part of the
//!    sale's figures. The room is then left [`ROOM_SETTLE`] to tell its
//!    viewer count.
//! 2. **Buy.** The seller starts a live sale; every buyer sends one `buy`
//!    at its intended time — open loop at `--rate`, or all at once (the
//!    burst at sale start) — and retries as [`purchase`] describes: `busy`
//!    with the same key after `retry_after_ms`, an unknown outcome with the
//!    same key, a greedy second buy with a new key. CPU, Redis time and
//!    the servers' counters are read around this phase only ([`costs`]);
//!    with `--hog` a CPU hog shares the server's CPU during it.
//! 3. **Settle.** Holders confirm, cancel, or let their holds expire.
//! 4. **Audit.** Once every hold has ended, the store is read through
//!    every node and straight from Redis and audited against what every
//!    buyer was told ([`verdict`]). Then the buyers close, and same-run
//!    baselines run on a quiet machine ([`summary`]).
//!
//! With several nodes, buyer `i` connects to node `i mod N` and the seller
//! to node 0. A node with more than ~20,000 buyers gets them from several
//! loopback source addresses (127.0.0.1, 127.0.0.2, …): loopback has only
//! ~28,000 ephemeral ports per source and destination.

mod agent;
mod args;
mod costs;
mod crowd;
mod lifecycle;
mod purchase;
mod seller;
mod summary;
mod tally;
mod verdict;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::client;
use crate::hog::{self, Hog};
use crate::pinning;
use crate::report::{Ramp, Report};
use crate::server_metrics;
use crate::target::{nofile_limit, vm_rss_bytes};

use super::audit::BuyerSeen;
use super::buyer::{self, Plan, Settle};
use super::{unix_ms, Ctx};

use super::seller::Seller;
pub use agent::{serve as serve_agent, SUBCOMMAND as AGENT_SUBCOMMAND};
pub use args::FlashSaleArgs;
use costs::{PhaseUse, Probe};
use crowd::{Crowd, SaleSpec, Venue, Who};
use summary::Run;
use tally::Tally;
use verdict::Judged;

/// How long the room is left after the ramp before the sale starts: two of
/// the server's `rooms.viewer_count_interval_ms` (1 s by default), so the
/// count that tells the ramp's last joins reaches every socket before the
/// buy phase, as in a real room, where a sale starts minutes after the
/// audience gathered. Without it that one frame to every socket fell in the
/// measured phase or not by timing.
const ROOM_SETTLE: Duration = Duration::from_secs(2);
/// How long the servers may take to see every buyer gone after the run.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Open files a harness process or a node keeps for other things than its
/// buyers' sockets (Redis, HTTP, logs, libraries).
const FD_MARGIN: u64 = 2_000;

pub async fn run(ctx: &Ctx, args: FlashSaleArgs) -> anyhow::Result<Report> {
    let args = if ctx.quick { args.quick() } else { args };
    if args.hog {
        hog::check()?;
    }
    let agents = args
        .agents
        .unwrap_or_else(|| agents_needed(args.buyers as u64));
    check_node_capacity(ctx, args.buyers as u64)?;
    let started_at_ms = unix_ms();
    let room = ctx.fresh_room("sale", args.stock).await?;
    let seller_token = ctx
        .minter
        .token("lt-seller", "Chị Hoa (load test)", &room, "seller")?;
    let first = ctx.target.first();
    let seller = Seller::connect(&client::room_url(&first.ws_base, &room, &seller_token)).await?;
    seller::go_live(&seller).await?;

    // 1. Ramp: every buyer's task connects, then reads until the end.
    let who = buyers(ctx, &args);
    let sources = crowd::sources(&who);
    let venue = Venue {
        room: room.clone(),
        ws_bases: ctx.target.nodes.iter().map(|n| n.ws_base.clone()).collect(),
    };
    let ramp_start = crowd::unix_us();
    let mut crowd = Crowd::gather(&venue, who, ctx.minter.clone(), &ctx.secret, agents).await?;
    let bar = ctx.progress(args.buyers as u64, "buyers join");
    let joined = crowd.joined(&bar).await?;
    bar.finish_and_clear();
    let ramp = ramp(ctx, &crowd, joined, ramp_start, sources);
    // The ramp's last news (the room's viewer count) is told before the
    // sale starts, not in the middle of its burst.
    tokio::time::sleep(ROOM_SETTLE).await;

    // 2. Buy, measured on its own (and with the hog, if asked).
    let hog = if args.hog {
        Some(Hog::start(pinning::SERVER_CPU)?)
    } else {
        None
    };
    let before = Probe::take(ctx, &crowd.pids()).await;
    let sale_id = seller::start_sale(&seller, &args).await?;
    let spec = SaleSpec {
        sale_id: sale_id.clone(),
        start_unix_us: crowd::unix_us() + 200_000,
        rate: args.rate,
        quantity: args.quantity,
        patience_ms: args.busy_patience_secs * 1000,
        stock: u64::from(args.stock),
        nodes: ctx.target.nodes.len(),
    };
    let tally = Arc::new(Tally::new(spec.start(), spec.stock, spec.nodes));
    crowd.start(&spec, &tally).await?;
    let mut buyers: Vec<BuyerSeen> = (0..args.buyers)
        .map(|i| BuyerSeen {
            buyer_id: buyer::buyer_id(i),
            node: ctx.target.node_index(i),
            ..BuyerSeen::default()
        })
        .collect();
    let bar = ctx.progress(args.buyers as u64, "buy");
    for bought in crowd.bought(&bar, &tally).await? {
        buyers[bought.i] = bought.seen;
    }
    bar.finish_and_clear();
    let buy_phase_end_ms = unix_ms();
    let decisions = tally.decisions();
    let after = Probe::take(ctx, &crowd.pids()).await;
    let hog = hog.map(Hog::stop);
    let used = PhaseUse::between(&before, &after, hog.as_ref());

    // 3. Settle: confirm, cancel or let expire each buyer's first hold.
    let mut settle_counts: BTreeMap<String, u64> = BTreeMap::new();
    for settled in crowd.settle(&tally).await? {
        buyers[settled.i] = settled.seen;
        if let Some(class) = settled.class {
            *settle_counts.entry(class).or_default() += 1;
        }
    }

    // 4. Audit, then let everyone go.
    let redis_port = ctx
        .target
        .redis
        .as_ref()
        .map(|r| r.port)
        .or(args.redis_port);
    let verdict = verdict::judge(
        ctx,
        &args,
        Judged {
            room: &room,
            sale_id: &sale_id,
            seller_token: &seller_token,
            buyers: &buyers,
            buy_phase_end_ms,
            redis_port,
        },
    )
    .await?;
    let (disconnects, agents_cpu_ms) = crowd.end().await?;
    let seller_ended = seller.finish().await;
    drain(ctx).await;

    summary::report(
        ctx,
        Run {
            args,
            agents,
            started_at_ms,
            ramp,
            buyers,
            settle_counts,
            tally,
            phase_counts: used.counts(&before, &after),
            cost: used.per_decision(decisions),
            hog,
            verdict,
            redis_port,
            disconnects,
            agents_cpu_ms,
            seller_ended,
        },
    )
    .await
}

/// Buyer agents needed for `buyers` sockets at this process's open-file
/// limit (0: they all fit here).
fn agents_needed(buyers: u64) -> usize {
    let (limit, _) = nofile_limit();
    if buyers + FD_MARGIN <= limit {
        return 0;
    }
    let per_process = limit.saturating_sub(FD_MARGIN).max(1_000);
    buyers.div_ceil(per_process) as usize
}

/// Spawned nodes inherit this process's open-file limit: refuse a run in
/// which a node would need more sockets than that, before any load.
fn check_node_capacity(ctx: &Ctx, buyers: u64) -> anyhow::Result<()> {
    let (limit, hard) = nofile_limit();
    let nodes = ctx.target.nodes.len() as u64;
    let per_node = buyers.div_ceil(nodes);
    if !ctx.target.spawned() || per_node + FD_MARGIN <= limit {
        return Ok(());
    }
    let enough = buyers.div_ceil(limit.saturating_sub(FD_MARGIN).max(1));
    bail!(
        "each chophien node would hold ~{per_node} connections, but a process may open only {limit} \
         files here (RLIMIT_NOFILE, hard limit {hard}; raising it takes CAP_SYS_RESOURCE, which this \
         process lacks if the limit is still that low): spread the buyers over --nodes {enough} or more"
    )
}

/// Who every buyer is: buyer `i` on node `i mod N`, from a second (third,
/// …) loopback address once its node has more buyers than one address
/// can connect, and with its plan — decided before the run, seeded, so
/// the same flags give the same mix.
fn buyers(ctx: &Ctx, args: &FlashSaleArgs) -> Vec<Who> {
    let nodes = ctx.target.nodes.len();
    plans(args)
        .into_iter()
        .enumerate()
        .map(|(i, plan)| {
            let node = ctx.target.node_index(i);
            let on_node = (args.buyers + nodes - 1 - node) / nodes;
            Who {
                i,
                node,
                source: client::source_address(i / nodes, on_node),
                plan,
            }
        })
        .collect()
}

fn plans(args: &FlashSaleArgs) -> Vec<Plan> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    (0..args.buyers)
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
        .collect()
}

/// The ramp's figures, with the memory the harness (agents included) and
/// the nodes hold once everyone is connected.
fn ramp(
    ctx: &Ctx,
    crowd: &Crowd,
    joined: crowd::Joined,
    started_unix_us: u64,
    source_addresses: Vec<String>,
) -> Ramp {
    let duration_s = joined.last_unix_us.saturating_sub(started_unix_us) as f64 / 1e6;
    let rss = |pids: &[u32]| -> Option<u64> { pids.iter().map(|p| vm_rss_bytes(*p).ok()).sum() };
    let mut harness = crowd.pids();
    harness.push(std::process::id());
    let nodes = ctx.target.server_pids();
    Ramp {
        clients: (joined.connected + joined.failures),
        connected: joined.connected,
        failures: joined.failures,
        duration_s,
        connects_per_s: if duration_s > 0.0 {
            joined.connected as f64 / duration_s
        } else {
            0.0
        },
        source_addresses,
        first_errors: joined.first_errors,
        harness_rss_bytes: rss(&harness),
        nodes_rss_bytes: if nodes.is_empty() { None } else { rss(&nodes) },
    }
}

/// Wait (a little) until the servers have seen every client go, so a
/// baseline that follows runs on a quiet machine.
async fn drain(ctx: &Ctx) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while Instant::now() < deadline {
        let counters = server_metrics::scrape_all(&ctx.http, &ctx.target).await;
        if server_metrics::total_connections(&counters).is_none_or(|open| open == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
