//! Relaying between nodes with real Chromium on both ends: two `chophien`
//! servers in this process share a media directory; a headless Chromium
//! publishes its fake camera to node A, one Chromium viewer watches on A and
//! one on B (through B's relay from A). Then the seller's page reloads onto
//! B: B becomes the origin, A relays from B, and both viewers keep decoding
//! on the connections they have.
//!
//! Signalling is a bare HTTP harness around each node's `Sfu` (the real app
//! uses the room WebSocket); the relay between the nodes is the real one.
//! Fails if `/usr/bin/chromium` is missing.

use crate::media_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use chophien::media::Sfu;
use media_support::chromium::{launch, wait_for};
use media_support::nodes::{shared_directory, TestNode};
use parking_lot::Mutex;
use serde_json::Value;

const ROOM: &str = "relay-browser-room";

#[derive(Clone)]
struct Harness {
    /// Node A's and node B's SFUs, by name.
    nodes: Arc<HashMap<String, Sfu>>,
    /// Each viewer page's latest stats report.
    reports: Arc<Mutex<HashMap<String, Value>>>,
    /// When each viewer's subscribe request arrived.
    subscribed_at: Arc<Mutex<HashMap<String, Instant>>>,
    /// When each viewer first reported a decoded frame.
    first_frame_at: Arc<Mutex<HashMap<String, Instant>>>,
    /// Publish offers answered so far.
    publishes: Arc<AtomicUsize>,
}

impl Harness {
    fn sfu(&self, node: &str) -> Result<&Sfu, String> {
        self.nodes
            .get(node)
            .ok_or_else(|| format!("no node {node}"))
    }

    fn frames(&self, viewer: &str) -> u64 {
        self.reports
            .lock()
            .get(viewer)
            .and_then(|s| s["framesDecoded"].as_u64())
            .unwrap_or(0)
    }
}

async fn publish(
    State(h): State<Harness>,
    UrlPath((node, who)): UrlPath<(String, String)>,
    sdp: String,
) -> Result<String, String> {
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    let answer = h
        .sfu(&node)?
        .publish(ROOM, &who, sdp, tx)
        .await
        .map_err(|e| e.to_string())?;
    h.publishes.fetch_add(1, Ordering::SeqCst);
    Ok(answer)
}

async fn subscribe(
    State(h): State<Harness>,
    UrlPath((node, viewer)): UrlPath<(String, String)>,
) -> Result<String, String> {
    h.subscribed_at
        .lock()
        .entry(viewer.clone())
        .or_insert_with(Instant::now);
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    h.sfu(&node)?
        .subscribe(ROOM, &viewer, tx)
        .await
        .map_err(|e| e.to_string())
}

async fn answer(
    State(h): State<Harness>,
    UrlPath((node, viewer)): UrlPath<(String, String)>,
    sdp: String,
) -> Result<(), String> {
    h.sfu(&node)?
        .subscriber_answer(ROOM, &viewer, sdp)
        .await
        .map_err(|e| e.to_string())
}

async fn report(
    State(h): State<Harness>,
    UrlPath(viewer): UrlPath<String>,
    Json(stats): Json<Value>,
) {
    if stats["framesDecoded"].as_u64().unwrap_or(0) > 0 {
        h.first_frame_at
            .lock()
            .entry(viewer.clone())
            .or_insert_with(Instant::now);
    }
    h.reports.lock().insert(viewer, stats);
}

/// `#node/who`: publishes camera + mic to that node; candidates go in the
/// offer (gathering completes first).
const PUBLISHER_PAGE: &str = r#"<!doctype html><script>
(async () => {
  const target = location.hash.slice(1);
  const media = await navigator.mediaDevices.getUserMedia({video: {width: 320, height: 240}, audio: true});
  const pc = new RTCPeerConnection();
  media.getTracks().forEach(t => pc.addTrack(t, media));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 3000); });
  const res = await fetch('/publish/' + target, {method: 'POST', body: pc.localDescription.sdp});
  await pc.setRemoteDescription({type: 'answer', sdp: await res.text()});
})();
</script>"#;

/// `#node/viewer`: subscribes on that node, then reports decoded frames and
/// size every 250 ms.
const VIEWER_PAGE: &str = r#"<!doctype html><video id=v autoplay playsinline muted></video><script>
(async () => {
  const target = location.hash.slice(1);
  const viewer = target.split('/')[1];
  const pc = new RTCPeerConnection();
  pc.ontrack = e => { if (e.track.kind === 'video') document.getElementById('v').srcObject = new MediaStream([e.track]); };
  const offer = await (await fetch('/subscribe/' + target, {method: 'POST'})).text();
  await pc.setRemoteDescription({type: 'offer', sdp: offer});
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise(r => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 3000); });
  await fetch('/answer/' + target, {method: 'POST', body: pc.localDescription.sdp});
  setInterval(async () => {
    const s = {framesDecoded: 0, audioPackets: 0, state: pc.connectionState, width: document.getElementById('v').videoWidth};
    (await pc.getStats()).forEach(r => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') s.framesDecoded = r.framesDecoded || 0;
      if (r.type === 'inbound-rtp' && r.kind === 'audio') s.audioPackets = r.packetsReceived || 0;
    });
    fetch('/report/' + viewer, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(s)});
  }, 250);
})();
</script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_viewers_on_two_nodes_keep_decoding_while_the_seller_moves_between_them() {
    let directory = shared_directory();
    let a = TestNode::start(&directory).await;
    let b = TestNode::start(&directory).await;
    let harness = Harness {
        nodes: Arc::new(HashMap::from([
            ("a".to_owned(), a.sfu().clone()),
            ("b".to_owned(), b.sfu().clone()),
        ])),
        reports: Arc::default(),
        subscribed_at: Arc::default(),
        first_frame_at: Arc::default(),
        publishes: Arc::default(),
    };
    let app = Router::new()
        .route("/pub", get(|| async { Html(PUBLISHER_PAGE) }))
        .route("/view", get(|| async { Html(VIEWER_PAGE) }))
        .route("/publish/{node}/{who}", post(publish))
        .route("/subscribe/{node}/{viewer}", post(subscribe))
        .route("/answer/{node}/{viewer}", post(answer))
        .route("/report/{viewer}", post(report))
        .with_state(harness.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let profiles = tempfile::tempdir().unwrap();
    let patience = Duration::from_secs(40);

    let mut live = a.sfu().stream_state(ROOM);
    let mut first = launch(
        format!("{base}/pub#a/seller"),
        &profiles.path().join("pub1"),
    );
    tokio::time::timeout(patience, live.wait_for(|l| *l))
        .await
        .expect("the publisher goes live on A")
        .unwrap();

    let mut on_a = launch(format!("{base}/view#a/va"), &profiles.path().join("va"));
    let mut on_b = launch(format!("{base}/view#b/vb"), &profiles.path().join("vb"));
    wait_for("both viewers decode video", patience, || {
        harness.frames("va") > 5 && harness.frames("vb") > 5
    })
    .await;
    assert_eq!(a.sfu().relays_served(ROOM).await, 1, "B relays from A");
    assert_eq!(b.sfu().subscriber_count(ROOM).await, 1);
    for (viewer, node) in [("va", "origin A"), ("vb", "edge B")] {
        let subscribed = harness.subscribed_at.lock()[viewer];
        let decoded = harness.first_frame_at.lock()[viewer];
        println!(
            "viewer on {node}: first decoded frame seen {:?} after subscribe (stats every 250 ms)",
            decoded - subscribed
        );
    }

    // The seller's page reloads, landing on node B.
    let mut second = launch(
        format!("{base}/pub#b/seller"),
        &profiles.path().join("pub2"),
    );
    wait_for("the second publisher is answered", patience, || {
        harness.publishes.load(Ordering::SeqCst) == 2
    })
    .await;
    first.kill().await.unwrap();
    a.sfu().leave(ROOM, "seller").await;
    let (before_a, before_b) = (harness.frames("va"), harness.frames("vb"));
    wait_for(
        "both viewers keep decoding on their connections",
        patience,
        || harness.frames("va") > before_a + 30 && harness.frames("vb") > before_b + 30,
    )
    .await;
    let relay_origin = b.sfu().relay_origin(ROOM).await;
    assert_eq!(relay_origin, None, "B is the origin now");
    assert_eq!(
        a.sfu().relay_origin(ROOM).await.map(|n| n.id).as_deref(),
        Some(b.sfu().node_id()),
        "A relays from B"
    );
    let reports = harness.reports.lock().clone();
    println!("after the move: {reports:?}");
    for viewer in ["va", "vb"] {
        let stats = &reports[viewer];
        assert!(
            stats["width"].as_u64().unwrap_or(0) > 0,
            "{viewer} shows a picture"
        );
        assert!(
            stats["audioPackets"].as_u64().unwrap_or(0) > 0,
            "{viewer} hears"
        );
    }

    for page in [&mut on_a, &mut on_b, &mut second] {
        page.kill().await.unwrap();
    }
    a.sfu().close_room(ROOM).await;
    b.sfu().close_room(ROOM).await;
}
