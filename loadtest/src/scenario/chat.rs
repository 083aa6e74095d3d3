//! `chat`: V viewers in one room, K senders at a total rate; chat fan-out.
//!
//! Every message carries its sender, its number and its *intended* send time
//! (`lt|sender|n|micros|`, micros since the run's epoch), so each viewer
//! measures delivery latency from when the message was meant to go out.
//! With several nodes, viewer `i` connects to node `i mod N` and sender `j`
//! to node `j mod N`. Each viewer checks what it receives as it arrives
//! ([`delivery`](super::delivery): the room's seq and each sender's
//! numbers); when sending stops and deliveries stop arriving, the delivery
//! audit counts what connected viewers lost, saw twice or out of order — any
//! of it fails the run. Viewers the server drops as slow consumers (close
//! 4008) are counted apart.
//!
//! `--peer socketio`, `--peer ws` (Node's `ws`) or `--peer all` run the same
//! load against those peers afterwards, one after the other on the same
//! machine; our deliveries/s divided by theirs is the baseline ratio.
//! `--saturate` drives each server to its capacity step by step
//! ([`saturate`]). Each run reads the CPU its server used over the send
//! window (`/proc/<pid>/stat`: ours spawned, and the peers' Node process) and
//! reports it per delivery.

mod saturate;
mod sender;
mod transport;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::baseline::{socketio, ws};
use crate::client::Socket;
use crate::report::{ratio, Baseline, DeliveryAudit, Report};
use crate::schedule::Schedule;
use crate::stats::{cdf_points, LatencyRecorder, LatencySummary, Timeline};
use crate::target::cpu_ms;

#[cfg(test)]
use sender::marker;
use sender::{send_chat, Answers};
pub use transport::Transport;

use super::delivery::{self, MessageId, SenderTotal, ViewerEnd, ViewerLog};
use super::{unix_ms, Ctx};

/// Close code of a viewer dropped as a slow consumer.
const SLOW_CONSUMER: u16 = 4008;
/// Sockets being opened at once while viewers connect.
const CONNECT_CONCURRENCY: usize = 256;
/// How long one connect + first frame may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct ChatArgs {
    /// Viewers in the room (they only read).
    #[arg(long, default_value_t = 10_000)]
    pub viewers: usize,
    /// Connections that send chat (and also read).
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Chat messages per second, all senders together (open loop).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// How long senders send, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub duration_secs: f64,
    /// Also run the same load against a baseline peer, after ours: repeat
    /// for several, or `all` for every one.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peer: Vec<Peer>,
    /// Drive each server to saturation: start at --rate and multiply it by
    /// --saturate-step after every step until deliveries/s stop rising (by
    /// 5 %), p99 passes --p99-bound-ms, a viewer is disconnected, or
    /// --saturate-max-steps ran; report each server's best deliveries/s.
    #[arg(long)]
    pub saturate: bool,
    #[arg(long, default_value_t = 1.5, value_name = "FACTOR")]
    pub saturate_step: f64,
    #[arg(long, default_value_t = 1000.0, value_name = "MS")]
    pub p99_bound_ms: f64,
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub saturate_max_steps: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    /// A minimal Socket.IO server (loadtest/peers/socketio).
    Socketio,
    /// Node's `ws`: the lean room broadcast (loadtest/peers/ws).
    Ws,
    /// Every peer above, one after the other.
    All,
}

impl Peer {
    /// Its name in reports and counters.
    fn label(self) -> &'static str {
        match self {
            Peer::Socketio => "socketio",
            Peer::Ws => "ws",
            Peer::All => "all",
        }
    }
}

impl ChatArgs {
    /// The same load without the peers (for the configurations of
    /// `--compare-nodes` other than the last).
    pub fn without_peer(mut self) -> ChatArgs {
        self.peer.clear();
        self
    }

    /// The peers to run, each once, in a fixed order (`all` expanded).
    pub fn peers(&self) -> Vec<Peer> {
        [Peer::Socketio, Peer::Ws]
            .into_iter()
            .filter(|p| self.peer.contains(p) || self.peer.contains(&Peer::All))
            .collect()
    }

    /// The small `--quick` variant.
    pub fn quick(mut self) -> ChatArgs {
        self.viewers = self.viewers.min(200);
        self.senders = self.senders.min(4);
        self.rate = self.rate.min(40.0);
        self.duration_secs = self.duration_secs.min(5.0);
        self.saturate_max_steps = self.saturate_max_steps.min(2);
        self
    }
}

/// The message a frame carries, if it is a load-test one, and its intended
/// send time (micros since the epoch).
fn parse_marker(frame: &str) -> Option<(MessageId, u64)> {
    let start = frame.find("lt|")?;
    let mut fields = frame[start..].split('|').skip(1);
    let sender = fields.next()?.parse().ok()?;
    let n = fields.next()?.parse().ok()?;
    let intended_us = fields.next()?.parse().ok()?;
    Some((MessageId { sender, n }, intended_us))
}

/// The seq of a room event (`{"seq":N,"type":…}`: the seq comes first);
/// `None` for direct replies and other servers' frames.
fn parse_seq(frame: &str) -> Option<u64> {
    let rest = frame.strip_prefix(r#"{"seq":"#)?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// What all viewer tasks record into.
struct Shared {
    /// Time zero: markers and the timeline count from here.
    epoch: Instant,
    /// When sending started, micros after `epoch`.
    send_start_us: AtomicU64,
    latency: LatencyRecorder,
    /// With several nodes: one recorder per route, indexed
    /// `sender's node × nodes + viewer's node` (empty with one node).
    by_route: Vec<LatencyRecorder>,
    /// How many nodes the clients are spread over.
    nodes: usize,
    timeline: Timeline,
    deliveries: AtomicU64,
    /// The latest delivery, micros after `epoch`.
    last_delivery_us: AtomicU64,
}

/// How a viewer's connection ended.
enum Ending {
    Stopped,
    SlowConsumer,
    Dropped,
}

/// The outcome of one fan-out run.
pub struct Fanout {
    pub deliveries: u64,
    pub deliveries_per_s: f64,
    pub duration_s: f64,
    pub sent: u64,
    /// Messages refused for good.
    pub rejected: u64,
    /// Messages answered `unavailable` or `internal` (outcome unknown).
    pub unknown: u64,
    /// Error answers to senders by code.
    pub errors_by_code: BTreeMap<String, u64>,
    /// Every viewer checked: lost, duplicate, out of order, gaps.
    pub delivery: DeliveryAudit,
    /// Per node: (viewers, senders, distinct messages its viewers received).
    pub per_node: Vec<(u64, u64, u64)>,
    pub slow_disconnects: u64,
    pub other_disconnects: u64,
    pub connect_failures: u64,
    pub latency: LatencySummary,
    /// With several nodes: `"<sender's node>-><viewer's node>"` → latency.
    pub latency_by_route: BTreeMap<String, LatencySummary>,
    pub cdf: Vec<(f64, f64)>,
    pub rates: Vec<(f64, f64)>,
    /// CPU the server's processes used from the first send until the
    /// viewers drained, ms (`None` without a process to read).
    pub server_cpu_ms: Option<u64>,
    /// This harness's CPU over the same window, ms.
    pub harness_cpu_ms: Option<u64>,
}

impl Fanout {
    /// Server CPU µs per delivery over the send window.
    pub fn cpu_us_per_delivery(&self) -> Option<f64> {
        let ms = self.server_cpu_ms?;
        (self.deliveries > 0).then(|| ms as f64 * 1000.0 / self.deliveries as f64)
    }
}

pub async fn run(ctx: &Ctx, args: ChatArgs) -> anyhow::Result<Report> {
    let args = if ctx.quick { args.quick() } else { args };
    let started_at_ms = unix_ms();
    let room = ctx.fresh_room("chat", 0).await?;
    let transport = Transport::Chophien {
        ws_bases: ctx.target.nodes.iter().map(|n| n.ws_base.clone()).collect(),
        room: room.clone(),
        minter: ctx.minter.clone(),
    };
    let measured = saturate::measure(
        ctx,
        Arc::new(transport),
        &args,
        "chophien",
        &ctx.target.server_pids(),
    )
    .await?;

    let mut baselines = Vec::new();
    let mut notes = vec![
        "Latency is delivery time minus the message's intended send time (open loop, coordinated omission corrected).".to_owned(),
        "Server CPU per delivery: user + system CPU of the server's processes (/proc/<pid>/stat) from the first send until the viewers drained, divided by the deliveries in that window.".to_owned(),
    ];
    let mut counts = BTreeMap::new();
    notes.extend(measured.describe("Chợ Phiên", &mut counts, "chophien"));
    for peer in args.peers() {
        let (spawned, transport, command) = match peer {
            Peer::Socketio => {
                let spawned = socketio::spawn_peer().await?;
                let port = spawned.port;
                let command = format!(
                    "node {}/server.js (socket.io 4.8, websocket only)",
                    socketio::peer_dir().display()
                );
                (spawned, Transport::SocketIo { port }, command)
            }
            // `all` never comes out of `peers()`: it is expanded there.
            Peer::Ws | Peer::All => {
                let spawned = ws::spawn_peer().await?;
                let port = spawned.port;
                let command = format!(
                    "node {}/server.js (ws 8, one broadcast loop)",
                    ws::peer_dir().display()
                );
                (spawned, Transport::Ws { port }, command)
            }
        };
        let label = peer.label();
        let theirs =
            saturate::measure(ctx, Arc::new(transport), &args, label, &[spawned.pid()]).await?;
        drop(spawned);
        notes.extend(theirs.describe(label, &mut counts, label));
        let theirs = theirs.best;
        notes.push(format!(
            "{label} peer: {} deliveries, p50 {:.2} ms, p99 {:.2} ms, lost {}, duplicates {}, out of order {}, connect failures {}.",
            theirs.deliveries, theirs.latency.p50, theirs.latency.p99, theirs.delivery.messages_lost,
            theirs.delivery.duplicates, theirs.delivery.out_of_order, theirs.connect_failures
        ));
        baselines.push(Baseline {
            name: label.into(),
            throughput_per_s: theirs.deliveries_per_s,
            ratio: ratio(measured.best.deliveries_per_s, theirs.deliveries_per_s),
            command,
        });
    }
    let ours = measured.best;

    counts.extend([
        ("viewers".to_owned(), args.viewers as u64),
        ("senders".to_owned(), args.senders as u64),
        ("messages_sent".to_owned(), ours.sent),
        ("messages_rejected".to_owned(), ours.rejected),
        ("messages_unknown_outcome".to_owned(), ours.unknown),
        ("deliveries".to_owned(), ours.deliveries),
        ("messages_lost".to_owned(), ours.delivery.messages_lost),
        ("messages_duplicated".to_owned(), ours.delivery.duplicates),
        (
            "messages_out_of_order".to_owned(),
            ours.delivery.out_of_order,
        ),
        (
            "viewers_disconnected_slow".to_owned(),
            ours.slow_disconnects,
        ),
        (
            "viewers_disconnected_other".to_owned(),
            ours.other_disconnects,
        ),
        ("connect_failures".to_owned(), ours.connect_failures),
    ]);
    if let Some(ms) = ours.server_cpu_ms {
        counts.insert("send_window_cpu_ms_server".to_owned(), ms);
    }
    for (code, n) in &ours.errors_by_code {
        counts.insert(format!("chat_error_{code}"), *n);
    }
    if ours.per_node.len() > 1 {
        for (k, (viewers, senders, received)) in ours.per_node.iter().enumerate() {
            counts.insert(format!("node{k}_viewers"), *viewers);
            counts.insert(format!("node{k}_senders"), *senders);
            counts.insert(format!("node{k}_messages_received"), *received);
        }
    }
    Ok(Report {
        scenario: "chat".into(),
        quick: ctx.quick,
        started_at_ms,
        target: ctx.target_info(),
        parameters: serde_json::to_value(&args)?,
        throughput_per_s: ours.deliveries_per_s,
        throughput_unit: "deliveries".into(),
        duration_s: ours.duration_s,
        latency_ms: ours.latency,
        latency_by_node_ms: ours.latency_by_route,
        errors: ours.rejected + ours.unknown + ours.connect_failures + ours.delivery.messages_lost,
        delivery: Some(ours.delivery),
        baselines,
        throughput_over_time: ours.rates,
        latency_cdf: ours.cdf,
        counts,
        notes,
        ..Report::default()
    })
}

/// Connect the viewers and senders, send for the duration, drain, count;
/// `cpu_pids` are the server's processes, whose CPU over the send window is
/// read.
pub async fn fanout(
    ctx: &Ctx,
    transport: Arc<Transport>,
    args: &ChatArgs,
    label: &str,
    cpu_pids: &[u32],
) -> anyhow::Result<Fanout> {
    let span = Duration::from_secs_f64(args.duration_secs + 120.0);
    let nodes = transport.nodes();
    let routes = if nodes > 1 { nodes * nodes } else { 0 };
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        send_start_us: AtomicU64::new(u64::MAX),
        latency: LatencyRecorder::default(),
        by_route: (0..routes)
            .map(|_| LatencyRecorder::with_shards(4))
            .collect(),
        nodes,
        timeline: Timeline::new(Duration::from_millis(250), span),
        deliveries: AtomicU64::new(0),
        last_delivery_us: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);

    // Viewers.
    let bar = ctx.progress(args.viewers as u64, &format!("{label} join"));
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let (ready_tx, mut ready_rx) = mpsc::channel::<bool>(CONNECT_CONCURRENCY);
    let mut viewers = Vec::with_capacity(args.viewers);
    for i in 0..args.viewers {
        let (transport, shared, permits, ready, stop) = (
            transport.clone(),
            shared.clone(),
            permits.clone(),
            ready_tx.clone(),
            stop_rx.clone(),
        );
        let senders = args.senders;
        viewers.push(tokio::spawn(async move {
            let node = i % nodes;
            let socket = {
                let _permit = permits.acquire().await;
                tokio::time::timeout(CONNECT_TIMEOUT, transport.connect(i, node)).await
            };
            let Ok(Ok((socket, snapshot_seq))) = socket else {
                let _ = ready.send(false).await;
                return None;
            };
            let _ = ready.send(true).await;
            drop(ready);
            let log = ViewerLog::new(node, senders, snapshot_seq);
            Some(watch_room(i, socket, log, &transport, &shared, stop).await)
        }));
    }
    drop(ready_tx);
    let mut connect_failures = 0;
    while let Some(ok) = ready_rx.recv().await {
        connect_failures += u64::from(!ok);
        bar.inc(1);
    }
    bar.finish_and_clear();

    // Senders: each notes the server's answers to its messages.
    let answers: Vec<Arc<Mutex<Answers>>> = (0..args.senders)
        .map(|_| Arc::new(Mutex::new(Answers::default())))
        .collect();
    let mut sockets = Vec::new();
    for j in 0..args.senders {
        sockets.push(transport.connect(1_000_000 + j, j % nodes).await?.0);
    }
    let start = Instant::now() + Duration::from_millis(200);
    let cpu_before = (server_cpu(cpu_pids), cpu_ms(std::process::id()));
    shared
        .send_start_us
        .store((start - shared.epoch).as_micros() as u64, Ordering::Relaxed);
    let schedule = Schedule::new(start, Some(args.rate));
    let end = start + Duration::from_secs_f64(args.duration_secs);
    let bar = ctx.progress(
        (args.rate * args.duration_secs) as u64,
        &format!("{label} chat"),
    );
    let mut senders = Vec::new();
    for (j, socket) in sockets.into_iter().enumerate() {
        let (transport, shared, answered, bar) = (
            transport.clone(),
            shared.clone(),
            answers[j].clone(),
            bar.clone(),
        );
        let k = args.senders as u64;
        senders.push(tokio::spawn(async move {
            send_chat(
                j, k, socket, &transport, &shared, schedule, end, &answered, &bar,
            )
            .await
        }));
    }
    let mut sent_by = Vec::new();
    let mut sender_sockets = Vec::new();
    for sender in senders {
        let (count, socket) = sender.await?;
        sent_by.push(count);
        sender_sockets.push(socket);
    }
    bar.finish_and_clear();
    let sent: u64 = sent_by.iter().sum();
    // Wait for every message's answer (30 s at most), then take them.
    let lock = |a: &Arc<Mutex<Answers>>| {
        let guard = a.lock().unwrap_or_else(|e| e.into_inner());
        guard.answered.len() as u64
    };
    let answers_deadline = Instant::now() + Duration::from_secs(30);
    while answers.iter().map(lock).sum::<u64>() < sent && Instant::now() < answers_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refusals: Vec<Answers> = answers
        .iter()
        .zip(&sent_by)
        .map(|(a, sent)| {
            let mut taken = std::mem::take(&mut *a.lock().unwrap_or_else(|e| e.into_inner()));
            taken.close(*sent);
            taken
        })
        .collect();
    let rejected_total: u64 = refusals.iter().map(|r| r.refused).sum();
    let unknown_total = refusals.iter().map(|r| r.unknown.len() as u64).sum();
    let mut errors_by_code = BTreeMap::new();
    for (code, n) in refusals.iter().flat_map(|r| &r.by_code) {
        *errors_by_code.entry(code.clone()).or_default() += n;
    }

    // Drain: wait until every connected viewer has everything (messages of
    // unknown outcome included), or nothing has arrived for two seconds.
    let expected_each = sent.saturating_sub(rejected_total);
    let connected = args.viewers as u64 - connect_failures;
    let mut last = 0;
    let mut quiet_since = Instant::now();
    let drain_deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = shared.deliveries.load(Ordering::Relaxed);
        if now >= expected_each * connected {
            break;
        }
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    let cpu_after = (server_cpu(cpu_pids), cpu_ms(std::process::id()));
    let _ = stop_tx.send(true);

    let (mut slow, mut other) = (0, 0);
    let mut ends = Vec::with_capacity(args.viewers);
    let mut per_node = vec![(0, 0, 0); nodes];
    for (j, _) in sent_by.iter().enumerate() {
        per_node[j % nodes].1 += 1;
    }
    for (i, viewer) in viewers.into_iter().enumerate() {
        let Some((log, ending)) = viewer.await? else {
            continue;
        };
        match ending {
            Ending::Stopped => {}
            Ending::SlowConsumer => slow += 1,
            Ending::Dropped => other += 1,
        }
        per_node[log.node].0 += 1;
        per_node[log.node].2 += log.received;
        ends.push(ViewerEnd {
            name: format!("lt-v{i}"),
            log,
            connected_to_end: matches!(ending, Ending::Stopped),
        });
    }
    let sender_totals: Vec<SenderTotal> = sent_by
        .iter()
        .zip(refusals)
        .enumerate()
        .map(|(j, (sent, refusals))| SenderTotal {
            node: j % nodes,
            accepted: sent
                .saturating_sub(refusals.refused)
                .saturating_sub(refusals.unknown.len() as u64),
            unknown: refusals.unknown,
        })
        .collect();
    let delivery = delivery::audit(&ends, &sender_totals);
    sender_sockets
        .iter()
        .flatten()
        .for_each(|task| task.abort());

    let deliveries = shared.deliveries.load(Ordering::Relaxed);
    let start_us = shared.send_start_us.load(Ordering::Relaxed);
    let duration_s = shared
        .last_delivery_us
        .load(Ordering::Relaxed)
        .saturating_sub(start_us) as f64
        / 1e6;
    let histogram = shared.latency.merged();
    Ok(Fanout {
        deliveries,
        deliveries_per_s: if duration_s > 0.0 {
            deliveries as f64 / duration_s
        } else {
            0.0
        },
        duration_s,
        sent,
        rejected: rejected_total,
        unknown: unknown_total,
        errors_by_code,
        delivery,
        per_node,
        slow_disconnects: slow,
        other_disconnects: other,
        connect_failures,
        latency: LatencySummary::of(&histogram),
        latency_by_route: shared
            .by_route
            .iter()
            .enumerate()
            .map(|(r, recorder)| (format!("{}->{}", r / nodes, r % nodes), recorder.summary()))
            .filter(|(_, s)| s.count > 0)
            .collect(),
        cdf: cdf_points(&histogram),
        rates: shared.timeline.rates(),
        server_cpu_ms: cpu_before
            .0
            .zip(cpu_after.0)
            .map(|(before, after)| after.saturating_sub(before)),
        harness_cpu_ms: cpu_before
            .1
            .zip(cpu_after.1)
            .map(|(before, after)| after.saturating_sub(before)),
    })
}

/// CPU used so far by all of `pids`, ms; `None` with no process, or one
/// unreadable.
fn server_cpu(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&pid| cpu_ms(pid)).sum()
}

/// One viewer: check, count and time every load-test message until told to
/// stop.
async fn watch_room(
    i: usize,
    mut socket: Socket,
    mut log: ViewerLog,
    transport: &Transport,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) -> (ViewerLog, Ending) {
    loop {
        let next = tokio::select! {
            _ = stop.changed() => return (log, Ending::Stopped),
            next = socket.next() => next,
        };
        match next {
            Some(Ok(Message::Text(text))) => {
                let marker = parse_marker(&text);
                let new = log.frame(parse_seq(&text), marker.map(|(id, _)| id));
                if let (Some((id, intended_us)), true) = (marker, new) {
                    let now_us = shared.epoch.elapsed().as_micros() as u64;
                    let latency = Duration::from_micros(now_us.saturating_sub(intended_us));
                    shared.latency.record(i, latency);
                    let route = (id.sender % shared.nodes) * shared.nodes + log.node;
                    if let Some(recorder) = shared.by_route.get(route) {
                        recorder.record(i, latency);
                    }
                    let start_us = shared.send_start_us.load(Ordering::Relaxed);
                    shared
                        .timeline
                        .add(Duration::from_micros(now_us.saturating_sub(start_us)), 1);
                    shared.deliveries.fetch_add(1, Ordering::Relaxed);
                    shared.last_delivery_us.fetch_max(now_us, Ordering::Relaxed);
                } else if let Some(answer) = transport.answer(&text) {
                    if socket.send(answer).await.is_err() {
                        return (log, Ending::Dropped);
                    }
                }
            }
            Some(Ok(Message::Close(Some(frame)))) if u16::from(frame.code) == SLOW_CONSUMER => {
                return (log, Ending::SlowConsumer)
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return (log, Ending::Dropped),
            Some(Ok(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_survives_json_socketio_and_ws_framing() {
        let text = marker(3, 17, 123_456);
        let ours =
            serde_json::json!({"seq": 5, "type": "chat", "message": {"text": text}}).to_string();
        let id = MessageId { sender: 3, n: 17 };
        assert_eq!(parse_marker(&ours), Some((id, 123_456)));
        let theirs = socketio::chat_frame(&text).into_text().unwrap();
        assert_eq!(parse_marker(&theirs), Some((id, 123_456)));
        let lean = ws::chat_frame(&text).into_text().unwrap();
        assert_eq!(parse_marker(&lean), Some((id, 123_456)));
        assert_eq!(parse_seq(&lean), None);
        assert_eq!(parse_marker(r#"{"type":"chat","text":"hello"}"#), None);
    }

    #[test]
    fn only_room_events_carry_a_seq() {
        assert_eq!(
            parse_seq(r#"{"seq":42,"type":"chat","message":{}}"#),
            Some(42)
        );
        assert_eq!(parse_seq(r#"{"type":"snapshot","seq":42}"#), None);
        assert_eq!(parse_seq(r#"{"type":"error","code":"x"}"#), None);
        assert_eq!(parse_seq("42[\"chat\",\"lt|0|1|2|\"]"), None);
    }
}
