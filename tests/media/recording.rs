//! Recording the seller's stream, and serving it for replay: a real server,
//! a real webrtc-rs publisher fed by Debian's `ffmpeg` (a test pattern and a
//! tone, encoded live in VP8 and Opus), the server's own `ffmpeg` writing the
//! recording, `ffprobe` reading it back, and HTTP over a real socket.
//! Fails (never skips) when `ffmpeg` or `ffprobe` is missing.

use crate::media_support;
use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chophien::auth::Role;
use chophien::recording::{RecordingMeta, Status};
use media_support::{TestPublisher, TestViewer, PATIENCE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::{test_config, TestServer};

/// The recordings of `room` as the server's directory holds them.
fn recordings(server: &TestServer, room: &str) -> Vec<RecordingMeta> {
    server.state.recordings.list(room)
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The single recording of `room` once it has the status `status`.
async fn recording_with(server: &TestServer, room: &str, status: Status) -> RecordingMeta {
    until(
        &format!("a recording of {room} with status {status:?}"),
        || recordings(server, room).iter().any(|m| m.status == status),
    )
    .await;
    recordings(server, room)
        .into_iter()
        .find(|m| m.status == status)
        .unwrap()
}

fn recording_dir(server: &TestServer) -> PathBuf {
    server.state.config.recording_dir()
}

/// What `ffprobe` says of a media file: its streams' codecs and its duration.
fn probe(file: &Path) -> (Vec<String>, Option<f64>) {
    let output = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=duration",
        ])
        .args(["-of", "json"])
        .arg(file)
        .output()
        .expect("Debian's ffprobe must be installed (apt-get install ffmpeg)");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let codecs = report["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap().to_owned())
        .collect();
    let duration = report["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok());
    (codecs, duration)
}

/// Whether `ffmpeg` can seek to `at` seconds into `file` and decode a frame
/// there (what a player does on a seek).
fn decodes_after_seeking(file: &Path, at: f64) -> bool {
    let output = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-ss", &at.to_string(), "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-f", "null", "-"])
        .output()
        .unwrap();
    output.status.success()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Publishes the fake camera into `room` for `seconds`, then the seller
/// stops (as her `unpublish` frame does).
///
/// The seconds count from the moment the running recording's file holds
/// media: on a busy machine the first keyframe can come late, and a live that
/// ended before it would (rightly) record nothing.
async fn live_for(server: &TestServer, room: &str, seconds: u64) {
    let publisher = TestPublisher::start_camera(&server.state.sfu, room, "seller").await;
    let running = recording_with(server, room, Status::Recording).await;
    let file = recording_dir(server).join(room).join(&running.file);
    until(&format!("media in {}", file.display()), || {
        std::fs::metadata(&file).is_ok_and(|m| m.len() > 0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    server.state.sfu.unpublish(room, "seller").await;
    publisher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_is_recorded_into_a_seekable_file_served_with_ranges_to_whom_may_see_it() {
    let server = TestServer::start().await;
    server.room("hoa").await;
    server.room("lan").await;
    let started = Instant::now();
    live_for(&server, "hoa", 4).await;
    let live_secs = started.elapsed().as_secs_f64();

    // The recording: complete, VP8 + Opus in WebM, as long as the live.
    let meta = recording_with(&server, "hoa", Status::Complete).await;
    assert_eq!(meta.mime, "video/webm");
    assert_eq!(meta.codecs, ["vp8", "opus"]);
    assert!(meta.started_at > 0 && meta.ended_at.unwrap() >= meta.started_at);
    let file = recording_dir(&server).join("hoa").join(&meta.file);
    let (codecs, duration) = probe(&file);
    assert_eq!(codecs, ["vp8", "opus"]);
    let duration = duration.expect("a finished file states its duration");
    assert!(
        (2.0..=live_secs + 0.5).contains(&duration),
        "4 s of live recorded as {duration} s"
    );
    assert!((meta.duration_ms as f64 / 1000.0 - duration).abs() < 0.5);
    assert_eq!(meta.bytes, std::fs::metadata(&file).unwrap().len());
    assert!(decodes_after_seeking(&file, duration / 2.0), "seekable");

    let http = reqwest::Client::new();
    let seller = server.token("hoa", Role::Seller, "hoa");
    let list: Value = http
        .get(server.http("/api/rooms/hoa/recordings"))
        .header("authorization", bearer(&seller))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["published"], false);
    assert_eq!(list["recordings"].as_array().unwrap().len(), 1);
    let item = &list["recordings"][0];
    assert_eq!(item["id"], meta.id.as_str());
    assert_eq!(item["status"], "complete");
    let url = item["url"].as_str().unwrap().to_owned();
    assert!(url.contains("?exp=") && url.contains("&sig="), "{url}");

    // The signed URL: a range request answers 206 with that range.
    let part = http
        .get(server.http(&url))
        .header("range", "bytes=100-1099")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    let headers = part.headers().clone();
    assert_eq!(headers["content-type"], "video/webm");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["cache-control"], "private, max-age=300");
    assert_eq!(
        headers["content-range"],
        format!("bytes 100-1099/{}", meta.bytes).as_str()
    );
    let body = part.bytes().await.unwrap();
    assert_eq!(&body[..], &std::fs::read(&file).unwrap()[100..1100]);

    // Refusals.
    let status_of = |path: String, token: Option<String>| {
        let http = http.clone();
        let url = server.http(&path);
        async move {
            let mut request = http.get(url);
            if let Some(token) = token {
                request = request.header("authorization", bearer(&token));
            }
            request.send().await.unwrap().status()
        }
    };
    let file_path = format!("/api/rooms/hoa/recordings/{}", meta.id);
    let query = url.split_once('?').unwrap().1.to_owned();
    assert_eq!(
        status_of("/api/rooms/hoa/recordings".into(), None).await,
        403
    );
    let viewer = server.token("hoa", Role::Viewer, "an");
    assert_eq!(
        status_of("/api/rooms/hoa/recordings".into(), Some(viewer.clone())).await,
        403
    );
    let other_seller = server.token("lan", Role::Seller, "lan");
    assert_eq!(
        status_of(
            "/api/rooms/hoa/recordings".into(),
            Some(other_seller.clone())
        )
        .await,
        403
    );
    assert_eq!(
        status_of("/api/rooms/nope/recordings".into(), None).await,
        404
    );
    assert_eq!(
        status_of(file_path.clone(), None).await,
        403,
        "unpublished, unsigned"
    );
    assert_eq!(
        status_of(file_path.clone(), Some(seller.clone())).await,
        200
    );
    assert_eq!(
        status_of(
            format!("/api/rooms/lan/recordings/{}?{query}", meta.id),
            None
        )
        .await,
        403,
        "a signature for another room"
    );
    let forged = query.replace("sig=", "sig=00");
    assert_eq!(status_of(format!("{file_path}?{forged}"), None).await, 403);
    let expired = format!(
        "exp=1000&sig={}",
        chophien::server::replay_signature(&server.state.config.auth.secret, "hoa", &meta.id, 1000)
    );
    assert_eq!(status_of(format!("{file_path}?{expired}"), None).await, 403);
    for bad in ["r1-zzzz", "..%2F..%2Fetc%2Fpasswd", "x", "r1-abcd.json"] {
        assert_eq!(
            status_of(
                format!("/api/rooms/hoa/recordings/{bad}"),
                Some(seller.clone())
            )
            .await,
            404,
            "{bad}"
        );
    }
    assert_eq!(
        status_of(
            "/api/rooms/hoa/recordings/r1-abcd".into(),
            Some(seller.clone())
        )
        .await,
        404,
        "well formed, unknown"
    );

    // Publishing: not by a viewer or another room's seller; by the seller.
    let put = |token: String, published: bool| {
        let http = http.clone();
        let url = server.http("/api/rooms/hoa/replay");
        async move {
            http.put(url)
                .header("authorization", bearer(&token))
                .json(&json!({ "published": published }))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(put(viewer.clone(), true).await.status(), 403);
    assert_eq!(put(other_seller.clone(), true).await.status(), 403);
    let replays: Value = http
        .get(server.http("/api/replays"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replays["replays"], json!([]));
    let answer = put(seller.clone(), true).await;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["published"], true);
    assert_eq!(answer["title"], "Phiên thử");
    assert!(server.state.recordings.is_published("hoa"));

    let replays: Value = http
        .get(server.http("/api/replays"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = &replays["replays"][0];
    assert_eq!(listed["room_id"], "hoa");
    assert_eq!(listed["title"], "Phiên thử");
    assert_eq!(listed["seller_name"], "Chị Hoa");
    assert_eq!(listed["started_at"], meta.started_at);
    assert_eq!(listed["duration_ms"], meta.duration_ms);

    // Published: anyone lists it and plays the plain URL.
    let list: Value = http
        .get(server.http("/api/rooms/hoa/recordings"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["published"], true);
    assert_eq!(list["recordings"][0]["url"], file_path.as_str());
    let part = http
        .get(server.http(&file_path))
        .header("range", "bytes=0-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["cache-control"], "public, max-age=300");

    // Hidden again: the plain URL is refused.
    assert_eq!(put(seller.clone(), false).await.status(), 200);
    assert_eq!(status_of(file_path.clone(), None).await, 403);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stream_start_is_a_second_recording() {
    let server = TestServer::start().await;
    server.room("hoa").await;
    live_for(&server, "hoa", 2).await;
    recording_with(&server, "hoa", Status::Complete).await;
    live_for(&server, "hoa", 2).await;
    let complete = || {
        recordings(&server, "hoa")
            .iter()
            .filter(|m| m.status == Status::Complete)
            .count()
    };
    let deadline = Instant::now() + PATIENCE;
    while complete() < 2 {
        let statuses: Vec<_> = recordings(&server, "hoa")
            .iter()
            .map(|m| format!("{:?} ({:?})", m.status, m.reason))
            .collect();
        assert!(
            Instant::now() < deadline,
            "timed out waiting for two complete recordings; the room has {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let both = recordings(&server, "hoa");
    assert!(both[0].started_at < both[1].started_at);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_goes_on_when_the_recording_cannot_start() {
    let mut config = test_config();
    config.recording.ffmpeg = "/nonexistent/ffmpeg".into();
    let server = TestServer::with_config(config).await;
    server.room("hoa").await;
    let publisher = TestPublisher::start(&server.state.sfu, "hoa", "seller").await;
    let failed = recording_with(&server, "hoa", Status::Failed).await;
    let reason = failed.reason.unwrap();
    assert!(reason.contains("could not start ffmpeg"), "{reason}");
    let viewer = TestViewer::join(&server.state.sfu, "hoa", "viewer").await;
    until("the viewer receives video", || viewer.video().packets > 30).await;
    viewer.close().await;
    publisher.stop().await;
    server.shutdown().await;
}

/// The recording server's `ffmpeg` children (ours are the only ones reading
/// an SDP file in `dir`).
fn recorder_pids(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_ffmpeg_dies_the_recording_fails_keeps_what_it_wrote_and_the_live_goes_on() {
    let server = TestServer::start().await;
    server.room("hoa").await;
    let publisher = TestPublisher::start_camera(&server.state.sfu, "hoa", "seller").await;
    // A recording starts with the stream: the viewer may subscribe.
    let meta = recording_with(&server, "hoa", Status::Recording).await;
    let viewer = TestViewer::join(&server.state.sfu, "hoa", "viewer").await;
    let file = recording_dir(&server).join("hoa").join(&meta.file);
    until("a few seconds written", || {
        std::fs::metadata(&file).is_ok_and(|m| m.len() > 60_000)
    })
    .await;
    for pid in recorder_pids(&recording_dir(&server)) {
        // SAFETY: sending a signal has no memory effects.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let failed = recording_with(&server, "hoa", Status::Failed).await;
    assert!(failed.reason.unwrap().contains("ffmpeg exited"));
    let before = viewer.video().packets;
    until("the viewer still receives video", || {
        viewer.video().packets > before + 30
    })
    .await;
    // What was written before is kept, finished and playable.
    let (codecs, duration) = probe(&file);
    assert_eq!(codecs, ["vp8", "opus"]);
    assert!(duration.unwrap() > 1.0);
    viewer.close().await;
    publisher.stop().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_left_open_by_a_crash_is_finished_at_start_up() {
    // The disk as a crash leaves it: a copy of a recording's file and
    // metadata taken while the live was being recorded.
    let crashed = tempfile::tempdir().unwrap();
    let crashed_dir = crashed.path().join("recordings").join("hoa");
    std::fs::create_dir_all(&crashed_dir).unwrap();
    let server = TestServer::start().await;
    server.room("hoa").await;
    let publisher = TestPublisher::start_camera(&server.state.sfu, "hoa", "seller").await;
    let meta = recording_with(&server, "hoa", Status::Recording).await;
    let live_dir = recording_dir(&server).join("hoa");
    until("a few seconds written", || {
        std::fs::metadata(live_dir.join(&meta.file)).is_ok_and(|m| m.len() > 80_000)
    })
    .await;
    for name in [meta.file.clone(), format!("{}.json", meta.id)] {
        std::fs::copy(live_dir.join(&name), crashed_dir.join(&name)).unwrap();
    }
    publisher.stop().await;
    server.shutdown().await;
    let left = crashed_dir.join(&meta.file);
    assert_eq!(probe(&left).1, None, "a file cut short states no duration");
    // The crash happened a minute ago (a live file changes every second).
    let touched = std::process::Command::new("touch")
        .args(["-d", "1 minute ago"])
        .arg(&left)
        .status()
        .unwrap();
    assert!(touched.success());

    let mut config = test_config();
    config.data.dir = crashed.path().to_path_buf();
    let restarted = TestServer::with_config(config).await;
    let finished = recording_with(&restarted, "hoa", Status::Complete).await;
    assert_eq!(finished.id, meta.id);
    assert!(finished.reason.unwrap().contains("finished at start-up"));
    let (codecs, duration) = probe(&left);
    assert_eq!(codecs, ["vp8", "opus"]);
    let duration = duration.expect("finished: it states its duration");
    assert!(duration > 1.5, "{duration}");
    assert!((finished.duration_ms as f64 / 1000.0 - duration).abs() < 0.5);
    assert!(decodes_after_seeking(&left, duration / 2.0));
    restarted.shutdown().await;
}
