//! `video`: the SFU's cost per viewer (issue 15). A synthetic publisher
//! (`publisher`: a webrtc-rs peer sending a real VP8 clip at ≈ 1.4 Mbit/s,
//! 30 fps, a keyframe every 2 s, and Opus; the clip from `media`) and N
//! viewer peers (`subscriber`), all in this process, the server in its own.
//!
//! Steps: the publisher goes live; the server's CPU and memory are measured
//! with it alone (the 0-viewer baseline); then for each N of `--viewers`,
//! in increasing order, viewers are added until there are N, every one must
//! have its first keyframe, a short settle, and a steady window measures
//! server CPU (`/proc/<pid>/stat`) and RSS (`/proc/<pid>/status`), losses
//! (sequence gaps) and forward delays; `figures` reports the rows.
//!
//! `--publisher none` publishes nothing: someone else (a browser) publishes
//! in `--room`, and the viewers watch it for `--duration-secs`.

mod figures;
mod media;
mod peer;
mod publisher;
mod subscriber;
mod vp8;

pub use figures::VideoFigures;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use serde::Serialize;

use self::figures::{
    Baseline, Step, AIM_MILLICORES_PER_VIEWER, AIM_RSS_KIB_PER_VIEWER, MAX_LOSS_RATIO,
};
use self::publisher::{Publisher, SendClock};
use self::subscriber::{Shared, Viewer};
use super::{unix_ms, Ctx};
use crate::client;
use crate::report::Report;
use crate::stats::{cdf_points, LatencyRecorder, LatencySummary};
use crate::target::{cpu_ms, vm_rss_bytes};

/// How long every viewer may take to get its first keyframe.
const KEYFRAME_PATIENCE: Duration = Duration::from_secs(30);

/// Who publishes the stream the viewers watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PublisherMode {
    /// The harness's synthetic webrtc-rs publisher.
    Harness,
    /// Nobody here: a browser publishes in `--room`.
    None,
}

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct VideoArgs {
    /// Viewer counts to measure, in increasing order (viewers are added).
    #[arg(long, value_delimiter = ',', default_value = "25,50,100,200")]
    pub viewers: Vec<usize>,
    /// Length of each steady measurement window, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub window_secs: f64,
    /// Pause after every viewer has its keyframe, before the window.
    #[arg(long, default_value_t = 2.0)]
    pub settle_secs: f64,
    /// Video bitrate of the generated clip, kbit/s.
    #[arg(long, default_value_t = 1400)]
    pub kbps: u32,
    /// Length of the generated clip (looped), seconds.
    #[arg(long, default_value_t = 20)]
    pub clip_secs: u32,
    /// Who publishes: the harness, or nobody (a browser, in --room).
    #[arg(long, value_enum, default_value_t = PublisherMode::Harness)]
    pub publisher: PublisherMode,
    /// The room to watch (needed with --publisher none).
    #[arg(long)]
    pub room: Option<String>,
    /// With --publisher none: how long the viewers watch (the window).
    #[arg(long)]
    pub duration_secs: Option<f64>,
    /// Viewers joining at once.
    #[arg(long, default_value_t = 8)]
    pub join_concurrency: usize,
}

impl VideoArgs {
    pub fn quick(mut self) -> VideoArgs {
        self.viewers = vec![self.viewers.first().copied().unwrap_or(4).min(4)];
        self.window_secs = self.window_secs.min(3.0);
        self.settle_secs = self.settle_secs.min(1.0);
        self.clip_secs = self.clip_secs.min(2);
        self
    }

    /// The most viewers the run opens.
    pub fn max_viewers(&self) -> usize {
        self.viewers.iter().copied().max().unwrap_or(0)
    }

    /// What spawned servers need for loopback WebRTC: media sockets on
    /// 127.0.0.1 with loopback candidates, as the browser tests run them.
    pub fn server_env() -> Vec<(String, String)> {
        vec![
            ("CHOPHIEN_MEDIA__ALLOW_LOOPBACK".into(), "true".into()),
            ("CHOPHIEN_MEDIA__BIND_IP".into(), "127.0.0.1".into()),
        ]
    }
}

/// A stop signal tasks check between packets.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// CPU of the server (when spawned) and of this harness, ms, now.
struct CpuMark {
    server: Option<u64>,
    harness: u64,
    at: Instant,
}

impl CpuMark {
    fn now(server: Option<u32>) -> CpuMark {
        CpuMark {
            server: server.and_then(cpu_ms),
            harness: cpu_ms(std::process::id()).unwrap_or(0),
            at: Instant::now(),
        }
    }

    /// (server millicores, harness millicores, wall seconds) since `self`.
    fn since(&self, later: &CpuMark) -> (Option<f64>, f64, f64) {
        let wall = later.at.duration_since(self.at).as_secs_f64().max(0.001);
        let server = match (self.server, later.server) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / wall),
            _ => None,
        };
        let harness = later.harness.saturating_sub(self.harness) as f64 / wall;
        (server, harness, wall)
    }
}

pub async fn run(ctx: &Ctx, args: VideoArgs) -> anyhow::Result<Report> {
    let args = if ctx.quick { args.quick() } else { args };
    if args.viewers.is_empty()
        || args.viewers.windows(2).any(|w| w[0] >= w[1])
        || args.viewers[0] == 0
    {
        bail!("--viewers takes increasing counts above 0, e.g. 25,50,100");
    }
    let started_at_ms = unix_ms();
    let node = ctx.target.first();
    let server_pid = ctx.target.server_pids().first().copied();
    let mut notes = vec![
        "Server CPU is user + system time of the server process (/proc/PID/stat, 10 ms ticks) over each window ÷ its wall time: millicores = thousandths of one core. Per viewer: (window − the 0-viewer baseline) ÷ viewers.".to_owned(),
        "RSS per viewer: (VmRSS at the window − VmRSS at the baseline) ÷ viewers. Viewers are added step by step into one server, so a step's RSS includes what earlier steps left.".to_owned(),
        "Forward delay: a video packet's arrival at a viewer − the moment the publisher handed it to its track, one clock (publisher and viewers share this process): it includes both webrtc-rs stacks of the harness, not only the server.".to_owned(),
        "Losses: sequence gaps of each viewer's video in the window (NACK retransmissions that filled a gap count as received).".to_owned(),
        "The synthetic publisher ignores keyframe requests: a new viewer's first keyframe waits for the clip's next one (every 2 s).".to_owned(),
    ];

    let (room, clock, mut publisher, video_kbps) = match args.publisher {
        PublisherMode::Harness => {
            let media = media::generate(args.clip_secs, args.kbps).await?;
            notes.extend(media.commands.iter().map(|c| format!("Media: `{c}`")));
            let video_kbps = media.video_bps / 1000.0;
            let room = ctx.fresh_room("video", 1).await?;
            let token = ctx
                .minter
                .token("lt-seller", "Chị Hoa (load test)", &room, "seller")?;
            let clock = Arc::new(SendClock::new());
            let mut publisher = Publisher::start(
                &client::room_url(&node.ws_base, &room, &token),
                Arc::new(media),
                clock.clone(),
            )
            .await?;
            publisher.until_live(Duration::from_secs(20)).await?;
            (room, Some(clock), Some(publisher), Some(video_kbps))
        }
        PublisherMode::None => {
            let room = args.room.clone().context(
                "--publisher none watches a room someone else publishes in: give --room",
            )?;
            (room, None, None, None)
        }
    };

    let shared = Shared {
        clock,
        measuring: Arc::new(AtomicBool::new(false)),
        delays: Arc::new(LatencyRecorder::default()),
    };
    let settle = Duration::from_secs_f64(args.settle_secs.max(0.0));
    let window = Duration::from_secs_f64(args.duration_secs.unwrap_or(args.window_secs).max(0.5));
    let start = Instant::now();

    // The publisher alone.
    let baseline = if publisher.is_some() && server_pid.is_some() {
        tokio::time::sleep(settle).await;
        let before = CpuMark::now(server_pid);
        tokio::time::sleep(window).await;
        let (server, _, wall) = before.since(&CpuMark::now(server_pid));
        server
            .zip(server_pid.and_then(|pid| vm_rss_bytes(pid).ok()))
            .map(|(millicores, rss)| Baseline {
                window_s: wall,
                server_millicores: millicores,
                server_rss_bytes: rss,
            })
    } else {
        None
    };

    let mut viewers: Vec<Viewer> = Vec::new();
    let mut steps = Vec::new();
    let mut violations = Vec::new();
    let mut errors = 0u64;
    let mut join_errors: Vec<String> = Vec::new();
    let mut last_delays = None;
    let mut delays_so_far: Option<hdrhistogram::Histogram<u64>> = None;
    let mut rates = Vec::new();
    let bar = ctx.progress(args.max_viewers() as u64, "viewers");
    for &target in &args.viewers {
        let first_new = viewers.len();
        let joins = futures_util::stream::iter(viewers.len()..target)
            .map(|i| {
                let token = ctx.minter.token(
                    &format!("lt-video-{i}"),
                    &format!("Khách {i}"),
                    &room,
                    "viewer",
                );
                let url = token.map(|t| client::room_url(&node.ws_base, &room, &t));
                let shared = shared.clone();
                async move { Viewer::join(&url?, i, shared).await }
            })
            .buffer_unordered(args.join_concurrency.max(1));
        tokio::pin!(joins);
        while let Some(joined) = joins.next().await {
            bar.inc(1);
            match joined {
                Ok(viewer) => viewers.push(viewer),
                Err(e) => {
                    errors += 1;
                    if join_errors.len() < 5 {
                        join_errors.push(format!("{e:#}"));
                    }
                }
            }
        }
        // Every viewer's first keyframe, or the patience runs out.
        let deadline = Instant::now() + KEYFRAME_PATIENCE;
        while Instant::now() < deadline
            && viewers
                .iter()
                .any(|v| v.observed().first_keyframe_at.is_none())
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(settle).await;

        let with_keyframe = viewers
            .iter()
            .filter(|v| v.observed().first_keyframe_at.is_some())
            .count();
        let firsts = |pick: fn(&subscriber::Observed) -> Option<Instant>| {
            let recorder = LatencyRecorder::with_shards(1);
            for v in &viewers[first_new..] {
                let o = v.observed();
                if let (Some(sub), Some(at)) = (o.subscribed_at, pick(&o)) {
                    recorder.record(0, at.saturating_duration_since(sub));
                }
            }
            recorder.summary()
        };
        let first_packet_ms = firsts(|o| o.first_packet_at);
        let first_keyframe_ms = firsts(|o| o.first_keyframe_at);

        let before_seqs: Vec<_> = viewers.iter().map(|v| v.observed().video).collect();
        let before = CpuMark::now(server_pid);
        shared.measuring.store(true, Ordering::Relaxed);
        tokio::time::sleep(window).await;
        shared.measuring.store(false, Ordering::Relaxed);
        let after = CpuMark::now(server_pid);
        let (server_millicores, harness_millicores, wall) = before.since(&after);
        let after_seqs: Vec<_> = viewers.iter().map(|v| v.observed().video).collect();
        let received: u64 = after_seqs
            .iter()
            .zip(&before_seqs)
            .map(|(a, b)| a.received - b.received)
            .sum();
        let lost: u64 = after_seqs
            .iter()
            .zip(&before_seqs)
            .map(|(a, b)| a.lost_since(b))
            .sum();
        let rss = server_pid.and_then(|pid| vm_rss_bytes(pid).ok());
        let n = viewers.len().max(1) as f64;
        // The recorder holds every window so far: this one is the growth.
        let cumulative = shared.delays.merged();
        let mut merged = cumulative.clone();
        if let Some(earlier) = &delays_so_far {
            let _ = merged.subtract(earlier);
        }
        delays_so_far = Some(cumulative);
        let forward_delay_ms = shared.clock.as_ref().map(|_| LatencySummary::of(&merged));
        let step = Step {
            viewers: target,
            connected: viewers.len(),
            with_keyframe,
            window_s: wall,
            server_millicores,
            server_millicores_per_viewer: server_millicores
                .zip(baseline.as_ref())
                .map(|(m, b)| (m - b.server_millicores) / n),
            server_rss_bytes: rss,
            server_rss_kib_per_viewer: rss
                .zip(baseline.as_ref())
                .map(|(r, b)| (r as f64 - b.server_rss_bytes as f64) / 1024.0 / n),
            harness_millicores,
            video_packets_received: received,
            video_packets_lost: lost,
            lost_per_viewer: lost as f64 / n,
            loss_ratio: lost as f64 / (received + lost).max(1) as f64,
            forward_delay_ms,
            first_packet_ms,
            first_keyframe_ms,
        };
        if step.connected < target {
            violations.push(format!(
                "{target} viewers: only {} could subscribe",
                step.connected
            ));
        }
        if step.with_keyframe < step.connected {
            violations.push(format!(
                "{target} viewers: {} of {} never got a keyframe",
                step.connected - step.with_keyframe,
                step.connected
            ));
            errors += (step.connected - step.with_keyframe) as u64;
        }
        if received == 0 {
            violations.push(format!(
                "{target} viewers: no video packet arrived in the window"
            ));
        }
        if step.loss_ratio > MAX_LOSS_RATIO {
            violations.push(format!(
                "{target} viewers: {:.2} % of the video packets were lost (more than {:.0} %)",
                100.0 * step.loss_ratio,
                100.0 * MAX_LOSS_RATIO
            ));
        }
        rates.push((start.elapsed().as_secs_f64(), received as f64 / wall));
        last_delays = Some(merged);
        steps.push(step);
    }
    bar.finish_and_clear();
    if !join_errors.is_empty() {
        notes.push(format!("First join errors: {}", join_errors.join(" | ")));
    }

    let mut counts = BTreeMap::new();
    let unmatched: u64 = viewers.iter().map(|v| v.observed().unmatched).sum();
    counts.insert("viewers".to_owned(), viewers.len() as u64);
    counts.insert("video_packets_unmatched".to_owned(), unmatched);
    counts.insert(
        "video_packets_lost_total".to_owned(),
        viewers.iter().map(|v| v.observed().video.lost()).sum(),
    );
    counts.insert(
        "audio_packets_received".to_owned(),
        viewers.iter().map(|v| v.observed().audio_packets).sum(),
    );
    if let Some(p) = &publisher {
        counts.insert(
            "video_packets_sent".to_owned(),
            p.video_packets.load(Ordering::Relaxed),
        );
    }
    for viewer in viewers {
        viewer.close().await;
    }
    if let Some(p) = publisher.take() {
        p.stop().await;
    }

    let last = steps.last().cloned().unwrap_or_default();
    let duration_s = start.elapsed().as_secs_f64();
    let figures = VideoFigures {
        publisher: match args.publisher {
            PublisherMode::Harness => "harness (webrtc-rs, generated VP8 + Opus)".into(),
            PublisherMode::None => "none (someone else publishes)".into(),
        },
        video_kbps,
        baseline,
        steps,
        aim_millicores_per_viewer: AIM_MILLICORES_PER_VIEWER,
        aim_rss_kib_per_viewer: AIM_RSS_KIB_PER_VIEWER,
        violations,
    };
    Ok(Report {
        scenario: "video".into(),
        quick: ctx.quick,
        started_at_ms,
        target: ctx.target_info(),
        parameters: serde_json::to_value(&args)?,
        throughput_per_s: last.video_packets_received as f64 / last.window_s.max(0.001),
        throughput_unit: "video RTP packets delivered".into(),
        duration_s,
        latency_ms: last.forward_delay_ms.clone().unwrap_or_default(),
        counts,
        errors,
        throughput_over_time: rates,
        latency_cdf: last_delays.as_ref().map(cdf_points).unwrap_or_default(),
        notes,
        video: Some(figures),
        ..Report::default()
    })
}
