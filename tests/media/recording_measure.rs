//! What recording costs, measured (not a pass/fail test; run by hand):
//!
//! ```text
//! cargo test --release --test media recording_measure:: -- --ignored --nocapture
//! ```
//!
//! One live room fed by the fake camera (Debian's `ffmpeg` encoding a
//! 320×240 30 fps test pattern in VP8 at 300 kbit/s with a keyframe every
//! second, and a 440 Hz tone in Opus, sent through a webrtc-rs publisher),
//! twice in the same run: on a server with recording off, then on one with
//! recording on. Each server runs on a runtime of its own (one worker thread
//! named `server-rt`), so its CPU time, the recorder's tee included, is read
//! per thread from `/proc/self/task/*/schedstat`; the recorder's `ffmpeg`
//! child's from `/proc/<pid>/stat` (utime + stime). Bytes per minute: the
//! finished file's size over its duration.

use crate::media_support;
use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use chophien::recording::Status;
use media_support::{TestPublisher, SERVER_RUNTIME};
use support::server::{test_config, TestServer};

const SERVER_THREAD: &str = "server-rt";
const WINDOW: Duration = Duration::from_secs(20);

fn thread_cpu_ns(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time (ns) of the processes whose command line mentions `dir`: the
/// recorder's `ffmpeg`.
fn recorder_cpu_ns(dir: &Path) -> u64 {
    let needle = dir.to_string_lossy().into_owned();
    let tick_ns = 1_000_000_000 / 100; // USER_HZ on Linux
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) * tick_ns)
        })
        .sum()
}

struct Measured {
    server_ms_per_s: f64,
    ffmpeg_ms_per_s: f64,
    bytes_per_minute: Option<f64>,
}

async fn measure(recording: bool) -> Measured {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .unwrap();
    let mut config = test_config();
    config.recording.enabled = recording;
    let server = runtime
        .spawn(async move {
            let server = TestServer::with_config(config).await;
            server.room("hoa").await;
            server
        })
        .await
        .unwrap();
    let publisher = SERVER_RUNTIME
        .scope(
            runtime.handle().clone(),
            TestPublisher::start_camera(&server.state.sfu, "hoa", "seller"),
        )
        .await;
    let mut live = server.state.sfu.stream_state("hoa");
    live.wait_for(|l| *l).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let dir = server.state.config.recording_dir();
    let (cpu0, ff0, t0) = (
        thread_cpu_ns(SERVER_THREAD),
        recorder_cpu_ns(&dir),
        Instant::now(),
    );
    tokio::time::sleep(WINDOW).await;
    let (cpu1, ff1) = (thread_cpu_ns(SERVER_THREAD), recorder_cpu_ns(&dir));
    let secs = t0.elapsed().as_secs_f64();
    let sfu = server.state.sfu.clone();
    runtime
        .spawn(async move { sfu.unpublish("hoa", "seller").await })
        .await
        .unwrap();
    publisher.stop().await;
    let mut bytes_per_minute = None;
    if recording {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let done = server
                .state
                .recordings
                .list("hoa")
                .into_iter()
                .find(|m| m.status == Status::Complete);
            if let Some(meta) = done {
                bytes_per_minute = Some(meta.bytes as f64 / (meta.duration_ms as f64 / 60_000.0));
                println!(
                    "recording: {} bytes, {} ms, {} packets dropped",
                    meta.bytes, meta.duration_ms, meta.dropped_packets
                );
                break;
            }
            assert!(Instant::now() < deadline, "the recording did not finish");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    runtime.spawn(server.shutdown()).await.unwrap();
    runtime.shutdown_background();
    Measured {
        server_ms_per_s: (cpu1 - cpu0) as f64 / 1e6 / secs,
        ffmpeg_ms_per_s: (ff1 - ff0) as f64 / 1e6 / secs,
        bytes_per_minute,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
async fn recording_cost_per_live_room() {
    let off = measure(false).await;
    let on = measure(true).await;
    println!("| live room | server CPU | recorder ffmpeg CPU | total |");
    println!("|---|---|---|---|");
    for (name, m) in [("recording off", &off), ("recording on", &on)] {
        println!(
            "| {name} | {:.1} ms/s | {:.1} ms/s | {:.1} ms/s |",
            m.server_ms_per_s,
            m.ffmpeg_ms_per_s,
            m.server_ms_per_s + m.ffmpeg_ms_per_s
        );
    }
    let extra = on.server_ms_per_s - off.server_ms_per_s;
    println!(
        "tee (server CPU on − off): {extra:.1} ms/s; recording total: {:.1} ms/s = {:.2}× the live room's server CPU",
        extra + on.ffmpeg_ms_per_s,
        (extra + on.ffmpeg_ms_per_s) / off.server_ms_per_s
    );
    if let Some(bpm) = on.bytes_per_minute {
        println!(
            "bytes per minute: {:.0} ({:.2} MB/min, {:.0} kbit/s)",
            bpm,
            bpm / 1e6,
            bpm * 8.0 / 60.0 / 1000.0
        );
    }
}
