//! One room's video across nodes: real `chophien` servers in one process
//! (sharing one media directory), a webrtc-rs publisher on one node and
//! webrtc-rs viewers on others. The edge relays the origin's RTP over real
//! HTTP signalling and a real server-to-server peer connection.

use crate::media_support;

use std::sync::Arc;
use std::time::Duration;

use chophien::auth::{Claims, Role};
use chophien::media::{MediaDirectory, Sfu};
use chophien::server::NodeTokens;
use futures_util::future::join_all;
use media_support::nodes::{node_config, shared_directory, CrashDirectory, TestNode};
use media_support::*;
use parking_lot::Mutex;
use tokio::sync::watch;

const ROOM: &str = "cho-dem";

async fn until_live(sfu: &Sfu) {
    let mut live = sfu.stream_state(ROOM);
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .expect("the stream goes live")
        .unwrap();
}

/// The biggest forward step between consecutive sequence numbers (signed,
/// so a late retransmission is not a jump).
fn biggest_jump(seqs: &[u16]) -> i16 {
    seqs.windows(2)
        .map(|w| w[1].wrapping_sub(w[0]) as i16)
        .max()
        .unwrap_or(0)
}

async fn origin_of(directory: &Arc<dyn MediaDirectory>) -> Option<String> {
    directory.origin(ROOM).await.unwrap().map(|o| o.node.id)
}

/// Every value a node announces for the room, in order.
fn record_announcements(sfu: &Sfu) -> Arc<Mutex<Vec<bool>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut rx: watch::Receiver<bool> = sfu.stream_announcements(ROOM);
    let sink = Arc::clone(&seen);
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let value = *rx.borrow_and_update();
            sink.lock().push(value);
        }
    });
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_on_an_edge_get_the_origins_stream_over_one_relay() {
    let directory = shared_directory();
    let a = TestNode::start(&directory).await;
    let b = TestNode::start(&directory).await;
    let publisher = TestPublisher::start(a.sfu(), ROOM, "seller").await;
    until_live(a.sfu()).await;

    // Three viewers subscribe on the edge at once: one relay serves them.
    let viewers = join_all((0..3).map(|n| {
        let participant = format!("viewer-{n}");
        let sfu = b.sfu().clone();
        async move { TestViewer::join(&sfu, ROOM, &participant).await }
    }))
    .await;
    eventually("every edge viewer receives video and audio", || {
        viewers
            .iter()
            .all(|v| v.video().packets >= 10 && v.audio().packets >= 10)
    })
    .await;

    for viewer in &viewers {
        let (video, audio) = (viewer.video(), viewer.audio());
        assert!(
            video.mime.eq_ignore_ascii_case("video/VP8"),
            "{}",
            video.mime
        );
        assert!(
            video.payload_types.iter().all(|&pt| pt == 96),
            "video payload types {:?}",
            video.payload_types
        );
        assert!(audio.payload_types.iter().all(|&pt| pt == 111));
        assert_eq!(video.first_payload, PAYLOAD, "the payload arrives intact");
        assert_ne!(video.ssrc, publisher.video_ssrc);
        println!(
            "edge viewer: first video packet {:?} after subscribe",
            video.first_at.unwrap() - viewer.subscribed_at
        );
    }
    let mut ssrcs: Vec<u32> = viewers.iter().map(|v| v.video().ssrc).collect();
    ssrcs.dedup();
    assert_eq!(ssrcs.len(), 3, "each viewer has its own SSRC");

    assert_eq!(a.sfu().relays_served(ROOM).await, 1, "one relay A→B");
    assert_eq!(b.sfu().relays_opened(ROOM), 1);
    assert_eq!(a.sfu().subscriber_count(ROOM).await, 0);
    assert_eq!(b.sfu().subscriber_count(ROOM).await, 3);
    assert_eq!(
        b.sfu().relay_origin(ROOM).await.map(|n| n.id).as_deref(),
        Some(a.sfu().node_id())
    );

    // A later viewer on the edge rides the same relay.
    let late = TestViewer::join(b.sfu(), ROOM, "late").await;
    eventually("the late viewer receives video", || {
        late.video().packets >= 5
    })
    .await;
    assert_eq!(a.sfu().relays_served(ROOM).await, 1);
    assert_eq!(b.sfu().relays_opened(ROOM), 1);

    for viewer in viewers {
        viewer.close().await;
    }
    late.close().await;
    publisher.stop().await;
    b.sfu().close_room(ROOM).await;
    a.sfu().close_room(ROOM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyframe_requests_from_edge_viewers_reach_the_publisher() {
    let directory = shared_directory();
    let a = TestNode::start(&directory).await;
    let b = TestNode::start(&directory).await;
    let publisher = TestPublisher::start(a.sfu(), ROOM, "seller").await;
    until_live(a.sfu()).await;
    let viewer = TestViewer::join(b.sfu(), ROOM, "viewer").await;
    eventually("the edge viewer receives video", || {
        viewer.video().packets > 0
    })
    .await;
    eventually("the relay's keyframe request arrives", || {
        publisher.keyframe_requests() >= 1
    })
    .await;

    // Past both rate limits (edge and origin), the viewer's own PLI goes
    // edge → relay → origin → seller.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (before, sent_by_edge) = (
        publisher.keyframe_requests(),
        b.sfu().keyframe_requests_sent(ROOM),
    );
    viewer.request_keyframe().await;
    eventually("the edge viewer's PLI reaches the publisher", || {
        publisher.keyframe_requests() > before
    })
    .await;
    assert!(b.sfu().keyframe_requests_sent(ROOM) > sent_by_edge);

    viewer.close().await;
    publisher.stop().await;
    b.sfu().close_room(ROOM).await;
    a.sfu().close_room(ROOM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seller_moving_to_the_edge_keeps_its_viewers_tracks() {
    let directory = shared_directory();
    let a = TestNode::start(&directory).await;
    let b = TestNode::start(&directory).await;
    let first = TestPublisher::start(a.sfu(), ROOM, "seller").await;
    until_live(a.sfu()).await;
    let viewer = TestViewer::join(b.sfu(), ROOM, "viewer").await;
    eventually("video through the relay", || viewer.video().packets >= 10).await;

    // The seller reconnects to B and publishes there; A dies.
    let second = TestPublisher::start(b.sfu(), ROOM, "seller-again").await;
    assert_eq!(
        origin_of(&directory).await.as_deref(),
        Some(b.sfu().node_id())
    );
    a.kill(ROOM).await;
    first.stop().await;
    let switched_at = viewer.video().packets;
    eventually("video keeps arriving from the new origin", || {
        viewer.video().packets >= switched_at + 30
    })
    .await;
    eventually("audio too", || viewer.audio().packets >= 30).await;

    assert_eq!(
        viewer.tracks_seen.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "no new tracks: no renegotiation"
    );
    let jump = biggest_jump(&viewer.video().seqs);
    assert!(jump < 50, "sequence jumped by {jump}");
    assert_eq!(
        b.sfu().relay_origin(ROOM).await,
        None,
        "B is the origin now"
    );
    assert!(b.sfu().is_live(ROOM));

    viewer.close().await;
    second.stop().await;
    b.sfu().close_room(ROOM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_former_origin_becomes_an_edge_for_its_own_viewers() {
    let directory = shared_directory();
    let a = TestNode::start(&directory).await;
    let b = TestNode::start(&directory).await;
    let first = TestPublisher::start(a.sfu(), ROOM, "seller").await;
    until_live(a.sfu()).await;
    let on_a = TestViewer::join(a.sfu(), ROOM, "viewer-a").await;
    let on_b = TestViewer::join(b.sfu(), ROOM, "viewer-b").await;
    eventually("video on both nodes", || {
        on_a.video().packets >= 10 && on_b.video().packets >= 10
    })
    .await;

    // The seller publishes on B while her old connection on A still sends:
    // the newer claim wins, and A relays from B for its viewer.
    let second = TestPublisher::start(b.sfu(), ROOM, "seller").await;
    eventually_async("A relays from B", || async {
        a.sfu()
            .relay_origin(ROOM)
            .await
            .is_some_and(|n| n.id == b.sfu().node_id())
    })
    .await;
    let (at_a, at_b) = (on_a.video().packets, on_b.video().packets);
    eventually("both viewers keep receiving", || {
        on_a.video().packets >= at_a + 30 && on_b.video().packets >= at_b + 30
    })
    .await;
    for viewer in [&on_a, &on_b] {
        let jump = biggest_jump(&viewer.video().seqs);
        assert!(jump < 50, "sequence jumped by {jump}");
        assert_eq!(
            viewer.tracks_seen.load(std::sync::atomic::Ordering::SeqCst),
            2
        );
    }
    assert_eq!(b.sfu().relays_served(ROOM).await, 1, "B serves A");
    assert_eq!(a.sfu().relays_served(ROOM).await, 0, "A no longer serves B");

    on_a.close().await;
    on_b.close().await;
    first.stop().await;
    second.stop().await;
    a.sfu().close_room(ROOM).await;
    b.sfu().close_room(ROOM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_follows_the_seller_to_a_new_origin_when_the_old_one_dies() {
    let crashes = Arc::new(CrashDirectory::default());
    let directory: Arc<dyn MediaDirectory> = crashes.clone();
    let a = TestNode::start(&directory).await;
    let b = TestNode::start(&directory).await;
    let c = TestNode::start(&directory).await;
    let first = TestPublisher::start(a.sfu(), ROOM, "seller").await;
    until_live(a.sfu()).await;
    let viewer = TestViewer::join(b.sfu(), ROOM, "viewer").await;
    eventually("video through the relay", || viewer.video().packets >= 10).await;

    // The origin dies without a word (its claim stays in the directory): the
    // edge sees its relay fail.
    let died_at = std::time::Instant::now();
    crashes.crash(a.sfu().node_id());
    a.kill(ROOM).await;
    first.stop().await;
    eventually("the edge notices the dead relay", || !b.sfu().is_live(ROOM)).await;
    println!(
        "the edge noticed the dead origin after {:?}",
        died_at.elapsed()
    );
    assert_eq!(b.sfu().subscriber_count(ROOM).await, 1, "the viewer stays");

    // The seller comes back on C; the edge follows the directory there.
    let second = TestPublisher::start(c.sfu(), ROOM, "seller").await;
    let switched_at = viewer.video().packets;
    eventually("video resumes from the new origin", || {
        viewer.video().packets >= switched_at + 30
    })
    .await;
    assert_eq!(
        b.sfu().relay_origin(ROOM).await.map(|n| n.id).as_deref(),
        Some(c.sfu().node_id())
    );
    assert_eq!(c.sfu().relays_served(ROOM).await, 1);
    assert_eq!(
        viewer.tracks_seen.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    let jump = biggest_jump(&viewer.video().seqs);
    assert!(jump < 50, "sequence jumped by {jump}");

    viewer.close().await;
    second.stop().await;
    b.sfu().close_room(ROOM).await;
    c.sfu().close_room(ROOM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_moves_with_the_seller_and_only_origins_announce_it() {
    let directory = shared_directory();
    let a = TestNode::start(&directory).await;
    let b = TestNode::start(&directory).await;
    let c = TestNode::start(&directory).await;
    let said = [a.sfu(), b.sfu(), c.sfu()].map(record_announcements);

    let first = TestPublisher::start(a.sfu(), ROOM, "seller").await;
    until_live(a.sfu()).await;
    let viewer = TestViewer::join(b.sfu(), ROOM, "viewer").await;
    eventually("video through the relay", || viewer.video().packets >= 10).await;

    // The seller's new connection lands on C while the old one on A lingers.
    let second = TestPublisher::start(c.sfu(), ROOM, "seller").await;
    until_live(c.sfu()).await;
    eventually_async("the edge follows the seller to C", || async {
        b.sfu()
            .relay_origin(ROOM)
            .await
            .is_some_and(|n| n.id == c.sfu().node_id())
    })
    .await;
    eventually_async("A's relay to B is closed", || async {
        a.sfu().relays_served(ROOM).await == 0
    })
    .await;
    let switched_at = viewer.video().packets;
    eventually("video keeps arriving", || {
        viewer.video().packets >= switched_at + 20
    })
    .await;
    let jump = biggest_jump(&viewer.video().seqs);
    assert!(jump < 50, "sequence jumped by {jump}");

    // The old connection on A goes: the stream moved, it did not stop.
    a.sfu().leave(ROOM, "seller").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*said[0].lock(), [true], "A announced its stream once");
    assert_eq!(
        *said[1].lock(),
        [] as [bool; 0],
        "the edge announces nothing"
    );
    assert_eq!(*said[2].lock(), [true], "C announced the moved stream");

    // The seller stops on C: now the stream stops, once, and the edge lets go.
    c.sfu().unpublish(ROOM, "seller").await;
    eventually("C announces the end", || *said[2].lock() == [true, false]).await;
    eventually_async("the edge closes its relay", || async {
        c.sfu().relays_served(ROOM).await == 0
    })
    .await;
    eventually("the edge is not live", || !b.sfu().is_live(ROOM)).await;
    assert_eq!(b.sfu().subscriber_count(ROOM).await, 1, "the viewer stays");
    assert!(said[1].lock().is_empty());
    assert_eq!(origin_of(&directory).await, None);

    viewer.close().await;
    first.stop().await;
    second.stop().await;
    for node in [&a, &b, &c] {
        node.sfu().close_room(ROOM).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_relay_closes_after_the_last_edge_viewer_leaves() {
    let directory = shared_directory();
    let a = TestNode::start(&directory).await;
    let mut config = node_config();
    config.media.relay_idle_grace_ms = 300;
    let b = TestNode::start_with(&directory, config).await;
    let publisher = TestPublisher::start(a.sfu(), ROOM, "seller").await;
    until_live(a.sfu()).await;
    let one = TestViewer::join(b.sfu(), ROOM, "one").await;
    let two = TestViewer::join(b.sfu(), ROOM, "two").await;
    eventually("both edge viewers receive video", || {
        one.video().packets > 0 && two.video().packets > 0
    })
    .await;

    b.sfu().leave(ROOM, "one").await;
    one.close().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(a.sfu().relays_served(ROOM).await, 1, "one viewer remains");

    b.sfu().leave(ROOM, "two").await;
    two.close().await;
    eventually_async("the idle relay closes at the origin", || async {
        a.sfu().relays_served(ROOM).await == 0
    })
    .await;
    assert_eq!(b.sfu().relay_origin(ROOM).await, None);
    assert!(!b.sfu().is_live(ROOM));
    assert!(a.sfu().is_live(ROOM), "the origin is unaffected");

    // A new viewer on the edge opens a new relay.
    let three = TestViewer::join(b.sfu(), ROOM, "three").await;
    eventually("the new viewer receives video", || {
        three.video().packets > 0
    })
    .await;
    assert_eq!(b.sfu().relays_opened(ROOM), 2);

    three.close().await;
    publisher.stop().await;
    b.sfu().close_room(ROOM).await;
    a.sfu().close_room(ROOM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_endpoint_takes_node_tokens_only() {
    let directory = shared_directory();
    let a = TestNode::start(&directory).await;
    let secret = a.state.config.auth.secret.clone();
    let http = reqwest::Client::new();
    let url = a.http(&format!("/internal/media/{ROOM}/relay"));
    let offer = serde_json::json!({ "sdp": "v=0" });
    let post = |token: Option<String>| {
        let mut request = http.post(&url).json(&offer);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (
                status,
                body["error"]["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    };

    assert_eq!(post(None).await.0, 401);
    for (room, role) in [
        (ROOM, Role::Viewer),
        (ROOM, Role::Seller),
        ("*", Role::Admin),
    ] {
        let claims = Claims::new("u1", "Lan", room, role, Duration::from_secs(60));
        let token = a.state.keys.sign(&claims).unwrap();
        assert_eq!(post(Some(token)).await.0, 401, "a {role:?} client token");
    }
    let forged = NodeTokens::new("not-the-cluster-secret-at-all")
        .sign("n-x", ROOM)
        .unwrap();
    assert_eq!(post(Some(forged)).await.0, 401);
    let other_room = NodeTokens::new(&secret).sign("n-x", "elsewhere").unwrap();
    assert_eq!(post(Some(other_room)).await.0, 403);
    let token = NodeTokens::new(&secret).sign("n-x", ROOM).unwrap();
    assert_eq!(
        post(Some(token.clone())).await,
        (409, "media_not_live".to_owned()),
        "nobody publishes here"
    );

    let publisher = TestPublisher::start(a.sfu(), ROOM, "seller").await;
    assert_eq!(
        post(Some(token.clone())).await,
        (422, "invalid_sdp".to_owned())
    );
    let gone = http
        .delete(a.http(&format!("/internal/media/{ROOM}/relay/12345")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);

    // A node token opens no client door.
    let orders = http
        .get(a.http(&format!("/api/rooms/{ROOM}/orders")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(orders.status().as_u16(), 401);
    assert_eq!(a.sfu().relays_served(ROOM).await, 0);

    publisher.stop().await;
    a.sfu().close_room(ROOM).await;
}
