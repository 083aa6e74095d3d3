//! The SFU with real WebRTC clients (webrtc-rs) on loopback: a publisher
//! sending VP8 + Opus RTP and viewers receiving it through the server.

use crate::media_support;

use std::time::Duration;

use chophien::media::{IceCandidate, MediaError, Target};
use media_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_viewers_receive_the_publishers_video_and_audio() {
    let sfu = sfu();
    let mut live = sfu.stream_state("r1");
    let publisher = TestPublisher::start(&sfu, "r1", "seller").await;
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    assert!(sfu.is_live("r1"));

    let a = TestViewer::join(&sfu, "r1", "viewer-a").await;
    let b = TestViewer::join(&sfu, "r1", "viewer-b").await;
    eventually("both viewers receive video and audio", || {
        [&a, &b]
            .iter()
            .all(|v| v.video().packets >= 10 && v.audio().packets >= 10)
    })
    .await;

    // Each viewer's track has its own SSRC, not the publisher's.
    assert_ne!(a.video().ssrc, publisher.video_ssrc);
    assert_ne!(a.video().ssrc, b.video().ssrc);
    for viewer in [&a, &b] {
        let first = viewer.video().first_at.unwrap() - viewer.subscribed_at;
        println!("first video packet {first:?} after subscribe");
    }
    a.close().await;
    b.close().await;
    publisher.stop().await;
    sfu.close_room("r1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewers_keyframe_request_reaches_the_publisher() {
    let sfu = sfu();
    let publisher = TestPublisher::start(&sfu, "r2", "seller").await;
    let mut live = sfu.stream_state("r2");
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    let viewer = TestViewer::join(&sfu, "r2", "viewer").await;
    eventually("the viewer receives video", || viewer.video().packets > 0).await;
    // The join itself asked for a keyframe.
    eventually("the join's keyframe request arrives", || {
        publisher.keyframe_requests() >= 1
    })
    .await;

    // Past the rate limit, a viewer's own PLI is relayed.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = publisher.keyframe_requests();
    viewer.request_keyframe().await;
    eventually("the viewer's PLI reaches the publisher", || {
        publisher.keyframe_requests() > before
    })
    .await;

    viewer.close().await;
    publisher.stop().await;
    sfu.close_room("r2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republishing_keeps_the_viewers_tracks_flowing() {
    let sfu = sfu();
    let first = TestPublisher::start(&sfu, "r3", "seller").await;
    let mut live = sfu.stream_state("r3");
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    let viewer = TestViewer::join(&sfu, "r3", "viewer").await;
    eventually("video before the switch", || viewer.video().packets >= 10).await;

    // The seller reloads: a new connection with new SSRCs and numbering.
    let second = TestPublisher::start(&sfu, "r3", "seller").await;
    first.stop().await;
    let switched_at = viewer.video().packets;
    eventually("video keeps arriving after the switch", || {
        viewer.video().packets >= switched_at + 20
    })
    .await;
    eventually("audio keeps arriving after the switch", || {
        viewer.audio().packets >= 20
    })
    .await;

    let video = viewer.video();
    assert_eq!(
        viewer.tracks_seen.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "no new tracks"
    );
    // Sequence numbers continue across the switch: no jump bigger than the
    // packets that could be in flight or lost.
    // (Signed differences: a retransmitted packet arriving late is not a jump.)
    let biggest_jump = video
        .seqs
        .windows(2)
        .map(|w| w[1].wrapping_sub(w[0]) as i16)
        .max()
        .unwrap();
    assert!(biggest_jump < 50, "sequence jumped by {biggest_jump}");
    assert!(sfu.is_live("r3"));

    sfu.unpublish("r3", "seller").await;
    tokio::time::timeout(PATIENCE, live.wait_for(|l| !*l))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sfu.subscriber_count("r3").await,
        1,
        "viewers stay through unpublish"
    );
    viewer.close().await;
    second.stop().await;
    sfu.close_room("r3").await;
}

#[tokio::test]
async fn subscribing_to_a_room_that_is_not_live_is_refused() {
    let sfu = sfu();
    let (tx, _rx) = signal_queue();
    let err = sfu
        .subscribe("nowhere", "viewer", tx.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, MediaError::NotLive), "{err}");
    let _ = sfu.stream_state("quiet");
    let err = sfu.subscribe("quiet", "viewer", tx).await.unwrap_err();
    assert!(matches!(err, MediaError::NotLive));
}

#[tokio::test]
async fn a_garbage_offer_is_invalid_sdp() {
    let sfu = sfu();
    let (tx, _rx) = signal_queue();
    let err = sfu
        .publish("r5", "seller", "not sdp at all".into(), tx)
        .await
        .unwrap_err();
    assert!(matches!(err, MediaError::InvalidSdp(_)), "{err}");
    assert!(!sfu.is_live("r5"));
}

#[tokio::test]
async fn candidates_for_a_missing_session_are_refused() {
    let sfu = sfu();
    let candidate = IceCandidate {
        candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    };
    let err = sfu
        .add_candidate("r6", "viewer", Target::Subscribe, candidate)
        .await
        .unwrap_err();
    assert!(matches!(err, MediaError::NoSession), "{err}");
}

#[test]
fn targets_and_candidates_use_the_protocol_shapes() {
    assert_eq!(
        serde_json::to_string(&Target::Publish).unwrap(),
        "\"publish\""
    );
    let candidate: IceCandidate = serde_json::from_str(
        r#"{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMid":"0","sdpMLineIndex":0}"#,
    )
    .unwrap();
    assert_eq!(candidate.sdp_mline_index, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_vanishes_does_not_disturb_the_others() {
    let sfu = sfu();
    let publisher = TestPublisher::start(&sfu, "r7", "seller").await;
    let mut live = sfu.stream_state("r7");
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    let gone = TestViewer::join(&sfu, "r7", "gone").await;
    let stays = TestViewer::join(&sfu, "r7", "stays").await;
    eventually("both receive video", || {
        gone.video().packets > 0 && stays.video().packets > 0
    })
    .await;

    // The first viewer's browser dies without a word to the server, which
    // keeps sending into the void until the room layer calls `leave`.
    gone.close().await;
    let before = stays.video().packets;
    eventually("the other viewer keeps receiving", || {
        stays.video().packets >= before + 30
    })
    .await;
    assert_eq!(sfu.subscriber_count("r7").await, 2);

    sfu.leave("r7", "gone").await;
    assert_eq!(sfu.subscriber_count("r7").await, 1);
    stays.close().await;
    publisher.stop().await;
    sfu.close_room("r7").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h264_only_publisher_is_forwarded_as_h264() {
    let sfu = sfu();
    let publisher = TestPublisher::start_with(&sfu, "r8", "seller", h264()).await;
    let mut live = sfu.stream_state("r8");
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    let viewer = TestViewer::join(&sfu, "r8", "viewer").await;
    eventually("the viewer receives video", || viewer.video().packets >= 5).await;
    assert!(
        viewer.video().mime.eq_ignore_ascii_case("video/H264"),
        "got {}",
        viewer.video().mime
    );
    viewer.close().await;
    publisher.stop().await;
    sfu.close_room("r8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_get_vp8_when_the_publisher_offers_it() {
    let sfu = sfu();
    let publisher = TestPublisher::start(&sfu, "r9", "seller").await;
    let mut live = sfu.stream_state("r9");
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    let viewer = TestViewer::join(&sfu, "r9", "viewer").await;
    eventually("the viewer receives video", || viewer.video().packets >= 5).await;
    assert!(viewer.video().mime.eq_ignore_ascii_case("video/VP8"));
    assert!(
        viewer.audio().mime.eq_ignore_ascii_case("audio/opus") || viewer.audio().mime.is_empty()
    );
    viewer.close().await;
    publisher.stop().await;
    sfu.close_room("r9").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_whose_browser_vanishes_is_dropped_when_ice_fails() {
    let mut config = chophien::media::MediaConfig::loopback();
    config.ice_disconnected_timeout_ms = 300;
    config.ice_failed_timeout_ms = 600;
    config.ice_keepalive_interval_ms = 100;
    let sfu = chophien::media::Sfu::new(config).unwrap();
    let publisher = TestPublisher::start(&sfu, "r10", "seller").await;
    let mut live = sfu.stream_state("r10");
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    let (signal_tx, mut signals) = signal_queue();
    let viewer = TestViewer::join_with(&sfu, "r10", "viewer", signal_tx).await;
    eventually("the viewer receives video", || viewer.video().packets > 0).await;

    viewer.close().await; // no `leave`: the browser just disappears
    let signal = tokio::time::timeout(PATIENCE, signals.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        signal,
        chophien::media::MediaSignal::ConnectionFailed {
            target: Target::Subscribe
        }
    );
    let deadline = std::time::Instant::now() + PATIENCE;
    while sfu.subscriber_count("r10").await != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the failed viewer was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sfu.is_live("r10"), "the stream is unaffected");
    publisher.stop().await;
    sfu.close_room("r10").await;
}

#[tokio::test]
async fn an_offer_with_only_unforwardable_video_is_unsupported_codec() {
    let sfu = sfu();
    let (tx, _rx) = signal_queue();
    let offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 VP9/90000\r\n";
    let err = sfu
        .publish("r11", "seller", offer.into(), tx)
        .await
        .unwrap_err();
    assert!(matches!(err, MediaError::UnsupportedCodec), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_publisher_can_unpublish_the_stream() {
    let sfu = sfu();
    let publisher = TestPublisher::start(&sfu, "r12", "seller").await;
    let mut live = sfu.stream_state("r12");
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    sfu.unpublish("r12", "someone-else").await;
    sfu.leave("r12", "someone-else").await;
    assert!(sfu.is_live("r12"));
    sfu.leave("r12", "seller").await;
    tokio::time::timeout(PATIENCE, live.wait_for(|l| !*l))
        .await
        .unwrap()
        .unwrap();
    publisher.stop().await;
    sfu.close_room("r12").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_whose_answer_turns_video_off_is_sent_no_video_packets() {
    let sfu = sfu();
    let mut live = sfu.stream_state("r-saver");
    let publisher = TestPublisher::start(&sfu, "r-saver", "seller").await;
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    // The only viewer answers with the video inactive (the page's data saver).
    let saver = TestViewer::join_audio_only(&sfu, "r-saver", "saver").await;
    eventually("the sound arrives", || saver.audio().packets >= 20).await;

    // Every packet the server sends this room now is one of her audio packets
    // (the publisher sends video every 33 ms, audio every 20 ms: forwarded
    // video would add about 30 packets to the 50 audio ones).
    let (sent_before, heard_before) = (sfu.packets_sent("r-saver"), saver.audio().packets);
    eventually("fifty more audio packets", || {
        saver.audio().packets >= heard_before + 50
    })
    .await;
    let sent = sfu.packets_sent("r-saver") - sent_before;
    let heard = saver.audio().packets - heard_before;
    assert!(
        sent <= heard + 10,
        "the server sent {sent} packets while she heard {heard} audio ones: video went out"
    );
    assert_eq!(saver.video().packets, 0);

    saver.close().await;
    publisher.stop().await;
    sfu.close_room("r-saver").await;
}
