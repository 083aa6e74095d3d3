//! `chat`: V viewers in one room, K senders at a total rate; chat fan-out.
//!
//! Every message carries its sender, its number and its *intended* send time
//! (`lt|sender|n|micros|`, micros since the run's epoch), so each viewer
//! measures delivery latency from when the message was meant to go out.
//! Viewers count what they receive; when sending stops and deliveries stop
//! arriving, `lost` is what connected viewers should have seen but did not.
//! Viewers the server drops as slow consumers (close 4008) are counted apart.
//!
//! `--peer socketio` runs the same load against the Socket.IO peer
//! afterwards; our deliveries/s divided by its is the baseline ratio.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::baseline::socketio;
use crate::client::{self, Socket};
use crate::report::{ratio, Baseline, Report};
use crate::schedule::Schedule;
use crate::stats::{cdf_points, LatencyRecorder, LatencySummary, Timeline};
use crate::tokens::Minter;

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
    /// Also run the same load against a baseline peer.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<Peer>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    /// A minimal Socket.IO server (loadtest/peers/socketio).
    Socketio,
}

impl ChatArgs {
    /// The small `--quick` variant.
    pub fn quick(mut self) -> ChatArgs {
        self.viewers = self.viewers.min(200);
        self.senders = self.senders.min(4);
        self.rate = self.rate.min(40.0);
        self.duration_secs = self.duration_secs.min(5.0);
        self
    }
}

/// Which server the fan-out runs against.
pub enum Transport {
    Chophien {
        ws_base: String,
        room: String,
        minter: Arc<Minter>,
    },
    SocketIo {
        port: u16,
    },
}

impl Transport {
    /// Connect client `i` and wait until it is in the room.
    async fn connect(&self, i: usize) -> anyhow::Result<Socket> {
        match self {
            Transport::Chophien {
                ws_base,
                room,
                minter,
            } => {
                let token =
                    minter.token(&format!("lt-v{i}"), &format!("Khách {i}"), room, "viewer")?;
                let mut socket = client::connect(&client::room_url(ws_base, room, &token)).await?;
                client::wait_for(&mut socket, "snapshot", CONNECT_TIMEOUT).await?;
                Ok(socket)
            }
            Transport::SocketIo { port } => socketio::connect(*port, CONNECT_TIMEOUT).await,
        }
    }

    fn chat_frame(&self, text: &str) -> Message {
        match self {
            Transport::Chophien { .. } => {
                Message::text(serde_json::json!({ "type": "chat", "text": text }).to_string())
            }
            Transport::SocketIo { .. } => socketio::chat_frame(text),
        }
    }

    /// The reply to send for an incoming frame (Engine.IO pong), if any.
    fn answer(&self, text: &str) -> Option<Message> {
        match self {
            Transport::SocketIo { .. } if socketio::is_ping(text) => Some(Message::text("3")),
            _ => None,
        }
    }

    fn is_error(&self, text: &str) -> bool {
        matches!(self, Transport::Chophien { .. }) && text.contains(r#""type":"error""#)
    }
}

/// The text of message `n` of `sender`, meant to go out at `intended_us`.
fn marker(sender: usize, n: u64, intended_us: u64) -> String {
    format!("lt|{sender}|{n}|{intended_us}|")
}

/// The intended send time (micros since the epoch) in a frame, if it
/// carries a load-test message.
fn parse_marker(frame: &str) -> Option<u64> {
    let start = frame.find("lt|")?;
    frame[start..].split('|').nth(3)?.parse().ok()
}

/// What all viewer tasks record into.
struct Shared {
    /// Time zero: markers and the timeline count from here.
    epoch: Instant,
    /// When sending started, micros after `epoch`.
    send_start_us: AtomicU64,
    latency: LatencyRecorder,
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
    pub rejected: u64,
    pub lost: u64,
    pub slow_disconnects: u64,
    pub other_disconnects: u64,
    pub connect_failures: u64,
    pub latency: LatencySummary,
    pub cdf: Vec<(f64, f64)>,
    pub rates: Vec<(f64, f64)>,
}

pub async fn run(ctx: &Ctx, args: ChatArgs) -> anyhow::Result<Report> {
    let args = if ctx.quick { args.quick() } else { args };
    let started_at_ms = unix_ms();
    let room = ctx.fresh_room("chat", 0).await?;
    let transport = Transport::Chophien {
        ws_base: ctx.target.ws_base.clone(),
        room,
        minter: ctx.minter.clone(),
    };
    let ours = fanout(ctx, Arc::new(transport), &args, "chophien").await?;

    let mut baselines = Vec::new();
    let mut notes = vec![
        "Latency is delivery time minus the message's intended send time (open loop, coordinated omission corrected).".to_owned(),
    ];
    if let Some(Peer::Socketio) = args.peer {
        let peer = socketio::spawn_peer().await?;
        let theirs = fanout(
            ctx,
            Arc::new(Transport::SocketIo { port: peer.port }),
            &args,
            "socket.io",
        )
        .await?;
        notes.push(format!(
            "Socket.IO peer: {} deliveries, p50 {:.2} ms, p99 {:.2} ms, lost {}, connect failures {}.",
            theirs.deliveries, theirs.latency.p50, theirs.latency.p99, theirs.lost, theirs.connect_failures
        ));
        baselines.push(Baseline {
            name: "socketio".into(),
            throughput_per_s: theirs.deliveries_per_s,
            ratio: ratio(ours.deliveries_per_s, theirs.deliveries_per_s),
            command: format!(
                "node {}/server.js (socket.io 4.8, websocket only)",
                socketio::peer_dir().display()
            ),
        });
    }

    let counts = BTreeMap::from([
        ("viewers".to_owned(), args.viewers as u64),
        ("senders".to_owned(), args.senders as u64),
        ("messages_sent".to_owned(), ours.sent),
        ("messages_rejected".to_owned(), ours.rejected),
        ("deliveries".to_owned(), ours.deliveries),
        ("messages_lost".to_owned(), ours.lost),
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
        errors: ours.rejected + ours.connect_failures + ours.lost,
        baselines,
        throughput_over_time: ours.rates,
        latency_cdf: ours.cdf,
        counts,
        notes,
        ..Report::default()
    })
}

/// Connect the viewers and senders, send for the duration, drain, count.
pub async fn fanout(
    ctx: &Ctx,
    transport: Arc<Transport>,
    args: &ChatArgs,
    label: &str,
) -> anyhow::Result<Fanout> {
    let span = Duration::from_secs_f64(args.duration_secs + 120.0);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        send_start_us: AtomicU64::new(u64::MAX),
        latency: LatencyRecorder::default(),
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
        viewers.push(tokio::spawn(async move {
            let socket = {
                let _permit = permits.acquire().await;
                tokio::time::timeout(CONNECT_TIMEOUT, transport.connect(i)).await
            };
            let Ok(Ok(socket)) = socket else {
                let _ = ready.send(false).await;
                return None;
            };
            let _ = ready.send(true).await;
            drop(ready);
            Some(watch_room(i, socket, &transport, &shared, stop).await)
        }));
    }
    drop(ready_tx);
    let mut connect_failures = 0;
    while let Some(ok) = ready_rx.recv().await {
        connect_failures += u64::from(!ok);
        bar.inc(1);
    }
    bar.finish_and_clear();

    // Senders.
    let rejected = Arc::new(AtomicU64::new(0));
    let mut sockets = Vec::new();
    for j in 0..args.senders {
        sockets.push(transport.connect(1_000_000 + j).await?);
    }
    let start = Instant::now() + Duration::from_millis(200);
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
        let (transport, shared, rejected, bar) = (
            transport.clone(),
            shared.clone(),
            rejected.clone(),
            bar.clone(),
        );
        let k = args.senders as u64;
        senders.push(tokio::spawn(async move {
            send_chat(
                j, k, socket, &transport, &shared, schedule, end, &rejected, &bar,
            )
            .await
        }));
    }
    let mut sent = 0;
    let mut sender_sockets = Vec::new();
    for sender in senders {
        let (count, socket) = sender.await?;
        sent += count;
        sender_sockets.push(socket);
    }
    bar.finish_and_clear();

    // Drain: wait until every connected viewer has everything, or nothing
    // has arrived for two seconds.
    let expected_each = sent.saturating_sub(rejected.load(Ordering::Relaxed));
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
    let _ = stop_tx.send(true);

    let (mut lost, mut slow, mut other) = (0, 0, 0);
    for viewer in viewers {
        match viewer.await? {
            Some((received, Ending::Stopped)) => lost += expected_each.saturating_sub(received),
            Some((_, Ending::SlowConsumer)) => slow += 1,
            Some((_, Ending::Dropped)) => other += 1,
            None => {}
        }
    }
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
        rejected: rejected.load(Ordering::Relaxed),
        lost,
        slow_disconnects: slow,
        other_disconnects: other,
        connect_failures,
        latency: LatencySummary::of(&histogram),
        cdf: cdf_points(&histogram),
        rates: shared.timeline.rates(),
    })
}

/// One viewer: count and time every load-test message until told to stop.
async fn watch_room(
    i: usize,
    mut socket: Socket,
    transport: &Transport,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) -> (u64, Ending) {
    let mut received = 0;
    loop {
        let next = tokio::select! {
            _ = stop.changed() => return (received, Ending::Stopped),
            next = socket.next() => next,
        };
        match next {
            Some(Ok(Message::Text(text))) => {
                if let Some(intended_us) = parse_marker(&text) {
                    let now_us = shared.epoch.elapsed().as_micros() as u64;
                    received += 1;
                    shared
                        .latency
                        .record(i, Duration::from_micros(now_us.saturating_sub(intended_us)));
                    let start_us = shared.send_start_us.load(Ordering::Relaxed);
                    shared
                        .timeline
                        .add(Duration::from_micros(now_us.saturating_sub(start_us)), 1);
                    shared.deliveries.fetch_add(1, Ordering::Relaxed);
                    shared.last_delivery_us.fetch_max(now_us, Ordering::Relaxed);
                } else if let Some(answer) = transport.answer(&text) {
                    if socket.send(answer).await.is_err() {
                        return (received, Ending::Dropped);
                    }
                }
            }
            Some(Ok(Message::Close(Some(frame)))) if u16::from(frame.code) == SLOW_CONSUMER => {
                return (received, Ending::SlowConsumer)
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                return (received, Ending::Dropped)
            }
            Some(Ok(_)) => {}
        }
    }
}

/// One sender: messages `j, j+k, j+2k, …` of the schedule until `end`.
/// Returns how many it sent, and the tasks that keep its socket open (and
/// its pings answered) until the viewers have drained.
#[allow(clippy::too_many_arguments)]
async fn send_chat(
    j: usize,
    k: u64,
    socket: Socket,
    transport: &Arc<Transport>,
    shared: &Shared,
    schedule: Schedule,
    end: Instant,
    rejected: &Arc<AtomicU64>,
    bar: &indicatif::ProgressBar,
) -> (u64, [tokio::task::JoinHandle<()>; 2]) {
    let (mut sink, mut stream) = socket.split();
    let (answers_tx, mut answers_rx) = mpsc::channel::<Message>(16);
    let reader = {
        let (transport, rejected) = (transport.clone(), rejected.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    if transport.is_error(&text) {
                        rejected.fetch_add(1, Ordering::Relaxed);
                    } else if let Some(answer) = transport.answer(&text) {
                        let _ = answers_tx.send(answer).await;
                    }
                }
            }
        })
    };
    let mut sent = 0;
    for n in 0.. {
        let at = schedule.at(n * k + j as u64);
        if at >= end {
            break;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => break,
                Some(answer) = answers_rx.recv() => { let _ = sink.send(answer).await; }
            }
        }
        let intended_us = (at - shared.epoch).as_micros() as u64;
        if sink
            .send(transport.chat_frame(&marker(j, n, intended_us)))
            .await
            .is_err()
        {
            break;
        }
        sent += 1;
        bar.inc(1);
    }
    // Keep answering pings while the viewers drain.
    let keeper = tokio::spawn(async move {
        while let Some(answer) = answers_rx.recv().await {
            if sink.send(answer).await.is_err() {
                break;
            }
        }
    });
    (sent, [reader, keeper])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_survives_json_and_socketio_framing() {
        let text = marker(3, 17, 123_456);
        let ours =
            serde_json::json!({"seq": 5, "type": "chat", "message": {"text": text}}).to_string();
        assert_eq!(parse_marker(&ours), Some(123_456));
        let theirs = socketio::chat_frame(&text).into_text().unwrap();
        assert_eq!(parse_marker(&theirs), Some(123_456));
        assert_eq!(parse_marker(r#"{"type":"chat","text":"hello"}"#), None);
    }
}
