//! Measurements of relaying between nodes; prints numbers, asserts nothing
//! about them (timing on a shared 2-core machine is no test). Run with
//!
//! ```text
//! cargo test --test media media_relay_measure:: -- --ignored --nocapture
//! ```
//!
//! 1. **First packet.** For a viewer on the origin, a viewer on an edge with
//!    no relay yet (the relay opens on demand: "cold") and a second viewer on
//!    that edge ("warm"): time from the `subscribe` call to the first video
//!    RTP packet received. The test publisher's every video packet starts a
//!    keyframe, so this is also the time to the first keyframe.
//! 2. **Origin cost.** The origin server runs on a runtime of its own (one
//!    worker thread named `origin-rt`); its CPU time is read from
//!    `/proc/self/task/*/schedstat` (ns on CPU) for those threads, and the
//!    RTP packets it sends from the SFU's counter, over a 10 s window, for
//!    1 edge × 1 viewer, 1 edge × 20 viewers, 3 edges × 1 viewer, and as a
//!    reference 20 viewers on the origin itself.

use crate::media_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chophien::media::{MediaDirectory, Sfu};
use futures_util::future::join_all;
use media_support::nodes::{node_config, shared_directory, TestNode};
use media_support::*;

const ORIGIN_THREAD: &str = "origin-rt";
const WINDOW: Duration = Duration::from_secs(10);

/// CPU time, in ns, of this process's threads named `name`.
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

async fn until_live(sfu: &Sfu, room: &str) {
    let mut live = sfu.stream_state(room);
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .expect("live")
        .unwrap();
}

fn first_packet(viewer: &TestViewer) -> Duration {
    viewer.video().first_at.expect("a video packet") - viewer.subscribed_at
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// The origin: a server on a runtime of its own, so its CPU time can be told
/// apart from the edges' and the test clients'.
struct Origin {
    runtime: Option<tokio::runtime::Runtime>,
    node: Option<TestNode>,
}

impl Origin {
    async fn start(directory: &Arc<dyn MediaDirectory>) -> Origin {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(ORIGIN_THREAD)
            .enable_all()
            .build()
            .unwrap();
        let directory = Arc::clone(directory);
        let node = runtime
            .spawn(async move { TestNode::start(&directory).await })
            .await
            .unwrap();
        Origin {
            runtime: Some(runtime),
            node: Some(node),
        }
    }

    fn sfu(&self) -> &Sfu {
        self.node.as_ref().unwrap().sfu()
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.runtime.as_ref().unwrap().handle().clone()
    }

    /// Runs `work` with the SFU calls it makes on the origin's runtime.
    async fn on<F: std::future::Future>(&self, work: F) -> F::Output {
        SERVER_RUNTIME.scope(self.handle(), work).await
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        drop(self.node.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn first_packet_times(origin: &Origin, edge: &TestNode) {
    let (mut at_origin, mut cold, mut warm) = (vec![], vec![], vec![]);
    for round in 0..5 {
        let room = format!("latency-{round}");
        let publisher = origin
            .on(TestPublisher::start(origin.sfu(), &room, "seller"))
            .await;
        until_live(origin.sfu(), &room).await;

        let local = origin
            .on(TestViewer::join(origin.sfu(), &room, "local"))
            .await;
        eventually("origin viewer video", || local.video().packets > 0).await;
        let first = TestViewer::join(edge.sfu(), &room, "edge-1").await;
        eventually("cold edge viewer video", || first.video().packets > 0).await;
        let second = TestViewer::join(edge.sfu(), &room, "edge-2").await;
        eventually("warm edge viewer video", || second.video().packets > 0).await;
        at_origin.push(first_packet(&local));
        cold.push(first_packet(&first));
        warm.push(first_packet(&second));
        println!(
            "round {round}: origin viewer {:?}, cold edge viewer {:?}, warm edge viewer {:?}",
            first_packet(&local),
            first_packet(&first),
            first_packet(&second)
        );
        for viewer in [local, first, second] {
            viewer.close().await;
        }
        publisher.stop().await;
        edge.sfu().close_room(&room).await;
        origin.sfu().close_room(&room).await;
    }
    let (o, c, w) = (median(at_origin), median(cold), median(warm));
    println!(
        "first video packet after subscribe, median of 5: origin {o:?}, edge cold {c:?} ({:.2}×), edge warm {w:?} ({:.2}×)",
        c.as_secs_f64() / o.as_secs_f64(),
        w.as_secs_f64() / o.as_secs_f64()
    );
}

/// Viewers per node for one scenario: `(node, viewers)`; node `None` is the
/// origin itself, `Some(i)` edge `i`.
type Layout = [(Option<usize>, usize)];

async fn origin_cost(label: &str, origin: &Origin, edges: &[TestNode], layout: &Layout) {
    let room = format!("cost-{}", label.replace(' ', "-"));
    let publisher = origin
        .on(TestPublisher::start(origin.sfu(), &room, "seller"))
        .await;
    until_live(origin.sfu(), &room).await;
    let mut viewers = Vec::new();
    for &(node, count) in layout {
        let joined = join_all((0..count).map(|n| {
            let room = room.clone();
            async move {
                let who = format!("v-{n}");
                match node {
                    Some(edge) => (
                        Some(edge),
                        who.clone(),
                        TestViewer::join(edges[edge].sfu(), &room, &who).await,
                    ),
                    None => (
                        None,
                        who.clone(),
                        origin.on(TestViewer::join(origin.sfu(), &room, &who)).await,
                    ),
                }
            }
        }))
        .await;
        viewers.extend(joined);
    }
    eventually("every viewer receives video", || {
        viewers.iter().all(|(_, _, v)| v.video().packets > 0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (cpu, packets, at) = (
        thread_cpu_ns(ORIGIN_THREAD),
        origin.sfu().packets_sent(&room),
        Instant::now(),
    );
    tokio::time::sleep(WINDOW).await;
    let seconds = at.elapsed().as_secs_f64();
    let cpu = (thread_cpu_ns(ORIGIN_THREAD) - cpu) as f64 / 1e9 / seconds;
    let packets = (origin.sfu().packets_sent(&room) - packets) as f64 / seconds;
    let relays = origin.sfu().relays_served(&room).await;
    println!(
        "{label:>26}: origin CPU {:5.1} ms/s ({:4.1}% of a core), origin sends {packets:6.0} RTP packets/s, relays served {relays}",
        cpu * 1e3,
        cpu * 100.0
    );

    for (node, who, viewer) in viewers {
        match node {
            Some(edge) => edges[edge].sfu().leave(&room, &who).await,
            None => origin.sfu().leave(&room, &who).await,
        }
        viewer.close().await;
    }
    publisher.stop().await;
    for edge in edges {
        edge.sfu().close_room(&room).await;
    }
    origin.sfu().close_room(&room).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn measure_relays() {
    let directory = shared_directory();
    let origin = Box::pin(Origin::start(&directory)).await;
    let mut edges = Vec::new();
    for _ in 0..3 {
        let mut config = node_config();
        config.media.relay_idle_grace_ms = 300;
        edges.push(Box::pin(TestNode::start_with(&directory, config)).await);
    }

    // Boxed: the measurement futures are large for the test thread's stack.
    Box::pin(first_packet_times(&origin, &edges[0])).await;

    println!("origin cost over {WINDOW:?} (publisher: 30 video + 50 audio packets/s):");
    let scenarios: [(&str, &Layout); 5] = [
        ("1 edge × 1 viewer", &[(Some(0), 1)]),
        ("1 edge × 20 viewers", &[(Some(0), 20)]),
        (
            "3 edges × 1 viewer",
            &[(Some(0), 1), (Some(1), 1), (Some(2), 1)],
        ),
        ("origin × 20 viewers (ref)", &[(None, 20)]),
        ("origin alone (ref)", &[]),
    ];
    for (label, layout) in scenarios {
        Box::pin(origin_cost(label, &origin, &edges, layout)).await;
    }
}
