//! Viewers joining and leaving must not leak connections, sockets or memory.
//!
//! Its own test binary: it reads process-wide counters (open descriptors,
//! RSS, live SFU connections) that other tests would disturb; its tests take
//! turns ([`SERIAL`]) for the same reason.

mod media_support;

use chophien::media::live_connections;
use futures_util::future::join_all;
use media_support::nodes::{node_config, shared_directory, TestNode};
use media_support::*;

/// The tests here read process-wide counters: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn open_sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// One viewer joins, receives video, and leaves.
async fn cycle(sfu: &chophien::media::Sfu, n: usize) {
    let participant = format!("viewer-{n}");
    let viewer = TestViewer::join(sfu, "leaky", &participant).await;
    eventually("the viewer receives video", || viewer.video().packets > 0).await;
    sfu.leave("leaky", &participant).await;
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_viewer_join_leave_cycles_leave_connections_sockets_and_memory_flat() {
    let _turn = SERIAL.lock().await;
    let sfu = sfu();
    let publisher = TestPublisher::start(&sfu, "leaky", "seller").await;
    let mut live = sfu.stream_state("leaky");
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();

    // Warm up lazily initialised state (runtime threads, allocator arenas).
    join_all((0..10).map(|n| cycle(&sfu, n))).await;
    eventually("warm-up connections are freed", || live_connections() == 1).await;
    let (fds, sockets, rss) = (open_fds(), open_sockets(), rss_kib());

    // MEDIA_LEAK_BATCHES lengthens the run when investigating growth.
    let batches: usize = std::env::var("MEDIA_LEAK_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for batch in 0..batches {
        join_all((0..10).map(|n| cycle(&sfu, 1000 + batch * 10 + n))).await;
        if batch % 20 == 19 {
            println!(
                "after {} cycles: rss {} KiB, fds {}",
                (batch + 1) * 10,
                rss_kib(),
                open_fds()
            );
        }
    }

    // Only the publisher's connection remains: every viewer connection was
    // dropped, handler and all (the webrtc#906 cycle would keep them here).
    eventually("every viewer connection is freed", || {
        live_connections() == 1
    })
    .await;
    assert_eq!(sfu.subscriber_count("leaky").await, 0);
    eventually("descriptors return to the baseline", || {
        open_fds() <= fds + 4
    })
    .await;
    let (fds_after, sockets_after, rss_after) = (open_fds(), open_sockets(), rss_kib());
    println!("fds {fds} -> {fds_after}, sockets {sockets} -> {sockets_after}, rss {rss} KiB -> {rss_after} KiB");
    assert!(
        sockets_after <= sockets + 4,
        "sockets grew from {sockets} to {sockets_after}"
    );
    // Generous: 200 connections at ~1.4 MB each would be ~280 MB if leaked.
    assert!(
        rss_after < rss + 40 * 1024,
        "RSS grew from {rss} KiB to {rss_after} KiB"
    );

    // Dropping the SFU closes what is still open (the publisher here).
    drop(sfu);
    eventually("the publisher connection is freed", || {
        live_connections() == 0
    })
    .await;
    publisher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_opened_and_closed_between_nodes_leave_no_connection_behind() {
    let _turn = SERIAL.lock().await;
    let directory = shared_directory();
    let a = TestNode::start(&directory).await;
    let mut config = node_config();
    config.media.relay_idle_grace_ms = 50;
    let b = TestNode::start_with(&directory, config).await;
    let publisher = TestPublisher::start(a.sfu(), "relayed", "seller").await;
    let mut live = a.sfu().stream_state("relayed");
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    let sockets = open_sockets();

    // Each cycle: a viewer on B makes B open a relay from A; when it leaves,
    // the idle relay closes at both ends.
    for n in 0..10 {
        let participant = format!("viewer-{n}");
        let viewer = TestViewer::join(b.sfu(), "relayed", &participant).await;
        eventually("the edge viewer receives video", || {
            viewer.video().packets > 0
        })
        .await;
        b.sfu().leave("relayed", &participant).await;
        viewer.close().await;
        eventually_async("the idle relay closes", || async {
            a.sfu().relays_served("relayed").await == 0
        })
        .await;
    }
    assert_eq!(b.sfu().relays_opened("relayed"), 10);
    // The publisher's connection on A is all that is left.
    eventually("every relay and viewer connection is freed", || {
        live_connections() == 1
    })
    .await;
    eventually("sockets return to the baseline", || {
        open_sockets() <= sockets + 4
    })
    .await;

    publisher.stop().await;
    drop(a);
    drop(b);
    eventually("dropping the nodes closes the rest", || {
        live_connections() == 0
    })
    .await;
}
