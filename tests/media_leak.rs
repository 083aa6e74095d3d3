//! Viewers joining and leaving must not leak connections, sockets or memory.
//!
//! Its own test binary: it reads process-wide counters (open descriptors,
//! RSS, live SFU connections) that other tests would disturb.

mod media_support;

use chophien::media::live_connections;
use futures_util::future::join_all;
use media_support::*;

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
