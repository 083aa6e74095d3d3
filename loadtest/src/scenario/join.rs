//! `join`: V viewers join one room at rate R (open loop).
//!
//! Latency is from a viewer's *intended* join time to its `snapshot`: TCP
//! connect, WebSocket upgrade, token check, join and first frame. With a
//! spawned server, the harness also reads the server's resident memory
//! (`VmRSS`) before the storm and once everyone is in, and divides the
//! growth by the viewers connected: the memory cost of one idle viewer.
//! With several nodes, viewer `i` joins node `i mod N` and the memory is
//! the sum over the spawned nodes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::client;
use crate::report::{Memory, Report};
use crate::schedule::Schedule;
use crate::stats::{cdf_points, LatencyRecorder, LatencySummary, Timeline};
use crate::target::vm_rss_bytes;

use super::{unix_ms, Ctx};

/// How long one join may take before it counts as failed.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long viewers stay connected after the last join, so the server's
/// memory settles before it is read.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct JoinArgs {
    /// Viewers that join.
    #[arg(long, default_value_t = 10_000)]
    pub viewers: usize,
    /// Joins per second (open loop).
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
}

impl JoinArgs {
    pub fn quick(mut self) -> JoinArgs {
        self.viewers = self.viewers.min(300);
        self.rate = self.rate.min(150.0);
        self
    }
}

pub async fn run(ctx: &Ctx, args: JoinArgs) -> anyhow::Result<Report> {
    let args = if ctx.quick { args.quick() } else { args };
    let started_at_ms = unix_ms();
    let room = ctx.fresh_room("join", 0).await?;
    let pids = ctx.target.server_pids();
    let rss_before = total_rss(&pids)?;

    let latency = Arc::new(LatencyRecorder::default());
    let span = Duration::from_secs_f64(args.viewers as f64 / args.rate.max(0.001) + 120.0);
    let timeline = Arc::new(Timeline::new(Duration::from_millis(250), span));
    let failures = Arc::new(AtomicU64::new(0));
    let nodes = ctx.target.nodes.len();
    let joined_on: Arc<Vec<AtomicU64>> = Arc::new((0..nodes).map(|_| AtomicU64::new(0)).collect());
    let by_node: Arc<Vec<LatencyRecorder>> = Arc::new(match nodes {
        1 => Vec::new(),
        n => (0..n).map(|_| LatencyRecorder::with_shards(4)).collect(),
    });
    let last_join_us = Arc::new(AtomicU64::new(0));
    let bar = ctx.progress(args.viewers as u64, "join");
    let start = Instant::now() + Duration::from_millis(100);
    let schedule = Schedule::new(start, Some(args.rate));
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);

    let mut tasks = Vec::with_capacity(args.viewers);
    for i in 0..args.viewers {
        let token =
            ctx.minter
                .token(&format!("lt-j{i}"), &format!("Khách {i}"), &room, "viewer")?;
        let url = client::room_url(&ctx.target.node(i).ws_base, &room, &token);
        let node = ctx.target.node_index(i);
        let (latency, timeline, failures, last_join_us, bar, mut release, joined_on) = (
            latency.clone(),
            timeline.clone(),
            failures.clone(),
            last_join_us.clone(),
            bar.clone(),
            release_rx.clone(),
            joined_on.clone(),
        );
        let by_node = by_node.clone();
        let at = schedule.at(i as u64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let joined = tokio::time::timeout(JOIN_TIMEOUT, async {
                let mut socket = client::connect(&url).await?;
                client::wait_for(&mut socket, "snapshot", JOIN_TIMEOUT).await?;
                anyhow::Ok(socket)
            })
            .await;
            bar.inc(1);
            let Ok(Ok(mut socket)) = joined else {
                failures.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let done = Instant::now();
            joined_on[node].fetch_add(1, Ordering::Relaxed);
            latency.record(i, done - at);
            if let Some(recorder) = by_node.get(node) {
                recorder.record(i, done - at);
            }
            timeline.add(done - start, 1);
            last_join_us.fetch_max((done - start).as_micros() as u64, Ordering::Relaxed);
            // Stay connected, reading (and so answering pings) as a watching
            // viewer does, until released.
            loop {
                tokio::select! {
                    _ = release.changed() => break,
                    next = socket.next() => if !matches!(next, Some(Ok(_))) { break },
                }
            }
        }));
    }
    // Wait for every join to finish (successfully or not).
    while bar.position() < args.viewers as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bar.finish_and_clear();
    tokio::time::sleep(SETTLE).await;
    let rss_after = total_rss(&pids)?;
    let _ = release_tx.send(true);
    for task in tasks {
        task.await?;
    }

    let failed = failures.load(Ordering::Relaxed);
    let joined = args.viewers as u64 - failed;
    let duration_s = last_join_us.load(Ordering::Relaxed) as f64 / 1e6;
    let memory = match (rss_before, rss_after) {
        (Some(before), Some(after)) => Some(Memory {
            rss_before_bytes: before,
            rss_after_bytes: after,
            viewers: joined,
            bytes_per_viewer: after.saturating_sub(before) as f64 / joined.max(1) as f64,
        }),
        _ => None,
    };
    let mut notes = vec![
        "Latency is from the intended join time (open loop) to the snapshot frame.".to_owned(),
    ];
    if memory.is_none() {
        notes.push("Server memory is measured only with a spawned server (--spawn).".to_owned());
    }
    let histogram = latency.merged();
    let mut counts = BTreeMap::from([
        ("viewers".to_owned(), args.viewers as u64),
        ("joined".to_owned(), joined),
        ("join_failures".to_owned(), failed),
    ]);
    if nodes > 1 {
        for (k, n) in joined_on.iter().enumerate() {
            counts.insert(format!("node{k}_joined"), n.load(Ordering::Relaxed));
        }
    }
    Ok(Report {
        scenario: "join".into(),
        quick: ctx.quick,
        started_at_ms,
        target: ctx.target_info(),
        parameters: serde_json::to_value(&args)?,
        throughput_per_s: if duration_s > 0.0 {
            joined as f64 / duration_s
        } else {
            0.0
        },
        throughput_unit: "joins".into(),
        duration_s,
        latency_ms: LatencySummary::of(&histogram),
        latency_by_node_ms: by_node
            .iter()
            .enumerate()
            .map(|(k, r)| (format!("node{k}"), r.summary()))
            .collect(),
        counts,
        errors: failed,
        memory,
        throughput_over_time: timeline.rates(),
        latency_cdf: cdf_points(&histogram),
        notes,
        ..Report::default()
    })
}

/// The summed `VmRSS` of the spawned nodes; `None` with `--url`.
fn total_rss(pids: &[u32]) -> anyhow::Result<Option<u64>> {
    if pids.is_empty() {
        return Ok(None);
    }
    let mut total = 0;
    for pid in pids {
        total += vm_rss_bytes(*pid)?;
    }
    Ok(Some(total))
}
