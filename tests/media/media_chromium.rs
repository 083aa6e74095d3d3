//! The SFU with real Chromium on both ends: a headless Chromium publishes its
//! fake camera (VP8) and microphone, another decodes the stream through the
//! SFU, and the publisher reloads mid-stream without the viewer reconnecting.
//!
//! Signalling here is a bare HTTP harness around the `Sfu` API (the real app
//! uses the room WebSocket); pages report their `getStats()` back over HTTP,
//! so no browser driver is needed. Fails if `/usr/bin/chromium` is missing.

use crate::media_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use chophien::media::{MediaConfig, Sfu};
use media_support::chromium::{launch, wait_for};
use parking_lot::Mutex;
use serde_json::{json, Value};

const ROOM: &str = "browser-room";

#[derive(Clone)]
struct Harness {
    sfu: Sfu,
    /// The viewer page's latest stats report.
    viewer: Arc<Mutex<Option<Value>>>,
    /// When the viewer's subscribe request arrived.
    subscribed_at: Arc<Mutex<Option<Instant>>>,
    /// Publish offers answered so far.
    publishes: Arc<AtomicUsize>,
}

async fn publish(
    State(h): State<Harness>,
    UrlPath(who): UrlPath<String>,
    sdp: String,
) -> Result<String, String> {
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    let answer = h
        .sfu
        .publish(ROOM, &who, sdp, tx)
        .await
        .map_err(|e| e.to_string())?;
    h.publishes.fetch_add(1, Ordering::SeqCst);
    Ok(answer)
}

async fn subscribe(State(h): State<Harness>) -> Result<String, String> {
    h.subscribed_at.lock().get_or_insert_with(Instant::now);
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    h.sfu
        .subscribe(ROOM, "viewer", tx)
        .await
        .map_err(|e| e.to_string())
}

async fn answer(State(h): State<Harness>, sdp: String) -> Result<(), String> {
    h.sfu
        .subscriber_answer(ROOM, "viewer", sdp)
        .await
        .map_err(|e| e.to_string())
}

async fn report(State(h): State<Harness>, Json(stats): Json<Value>) {
    *h.viewer.lock() = Some(stats);
}

/// Publishes camera + mic; candidates go in the offer (gathering completes first).
const PUBLISHER_PAGE: &str = r#"<!doctype html><script>
(async () => {
  const who = location.hash.slice(1);
  const media = await navigator.mediaDevices.getUserMedia({video: {width: 320, height: 240}, audio: true});
  const pc = new RTCPeerConnection();
  media.getTracks().forEach(t => pc.addTrack(t, media));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 3000); });
  const res = await fetch('/publish/' + who, {method: 'POST', body: pc.localDescription.sdp});
  await pc.setRemoteDescription({type: 'answer', sdp: await res.text()});
})();
</script>"#;

/// Subscribes, then reports decoded frames and size every 250 ms.
const VIEWER_PAGE: &str = r#"<!doctype html><video id=v autoplay playsinline muted></video><script>
(async () => {
  const pc = new RTCPeerConnection();
  pc.ontrack = e => { if (e.track.kind === 'video') document.getElementById('v').srcObject = new MediaStream([e.track]); };
  const offer = await (await fetch('/subscribe', {method: 'POST'})).text();
  await pc.setRemoteDescription({type: 'offer', sdp: offer});
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise(r => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 3000); });
  await fetch('/answer', {method: 'POST', body: pc.localDescription.sdp});
  setInterval(async () => {
    const s = {framesDecoded: 0, audioPackets: 0, state: pc.connectionState, width: document.getElementById('v').videoWidth};
    (await pc.getStats()).forEach(r => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') s.framesDecoded = r.framesDecoded || 0;
      if (r.type === 'inbound-rtp' && r.kind === 'audio') s.audioPackets = r.packetsReceived || 0;
    });
    fetch('/report', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(s)});
  }, 250);
})();
</script>"#;

fn frames(h: &Harness) -> u64 {
    h.viewer
        .lock()
        .as_ref()
        .and_then(|s| s["framesDecoded"].as_u64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_viewer_decodes_a_chromium_publisher_through_a_republish() {
    let mut config = MediaConfig::loopback();
    config.ice_servers.clear();
    let harness = Harness {
        sfu: Sfu::new(config).unwrap(),
        viewer: Arc::default(),
        publishes: Arc::default(),
        subscribed_at: Arc::default(),
    };
    let app = Router::new()
        .route("/pub", get(|| async { Html(PUBLISHER_PAGE) }))
        .route("/view", get(|| async { Html(VIEWER_PAGE) }))
        .route("/publish/{who}", post(publish))
        .route("/subscribe", post(subscribe))
        .route("/answer", post(answer))
        .route("/report", post(report))
        .with_state(harness.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let profiles = tempfile::tempdir().unwrap();
    let patience = Duration::from_secs(40);

    let mut live = harness.sfu.stream_state(ROOM);
    let mut first = launch(format!("{base}/pub#seller"), &profiles.path().join("pub1"));
    tokio::time::timeout(patience, live.wait_for(|l| *l))
        .await
        .expect("the publisher goes live")
        .unwrap();

    let mut viewer = launch(format!("{base}/view"), &profiles.path().join("view"));
    wait_for("the viewer decodes a frame", patience, || {
        frames(&harness) > 0
    })
    .await;
    let subscribed_at = harness.subscribed_at.lock().unwrap();
    println!(
        "first decoded frame seen {:?} after subscribe (stats polled every 250 ms)",
        subscribed_at.elapsed()
    );
    wait_for("the viewer decodes video", patience, || {
        frames(&harness) > 5
    })
    .await;
    println!("viewer stats: {}", json!(harness.viewer.lock().clone()));

    // The seller's page reloads: a new connection replaces the old one.
    let mut second = launch(format!("{base}/pub#seller"), &profiles.path().join("pub2"));
    wait_for("the second publisher replaces the first", patience, || {
        harness.publishes.load(Ordering::SeqCst) == 2
    })
    .await;
    first.kill().await.unwrap();
    let before = frames(&harness);
    wait_for(
        "the same viewer keeps decoding after the republish",
        patience,
        || frames(&harness) > before + 30,
    )
    .await;
    let stats = harness.viewer.lock().clone().unwrap();
    println!("after republish: {stats}");
    assert!(
        stats["width"].as_u64().unwrap_or(0) > 0,
        "the video element shows a picture"
    );
    assert!(
        stats["audioPackets"].as_u64().unwrap_or(0) > 0,
        "audio arrives too"
    );

    viewer.kill().await.unwrap();
    second.kill().await.unwrap();
    harness.sfu.close_room(ROOM).await;
}
