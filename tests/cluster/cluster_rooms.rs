//! Rooms served by several real nodes on one real Redis (issue 9): any node
//! serves any room, events reach every node in one order, and nodes may
//! crash or restart — one at a time or all — without losing anything.

use crate::support;

use std::time::Duration;

use chophien::auth::Role;
use futures_util::future::join_all;
use serde_json::{json, Value};

use support::client::{Client, Follower};
use support::cluster::Cluster;

fn is_end(event: &Value) -> bool {
    event["type"] == "chat" && event["message"]["text"] == "hết"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_on_any_node_reaches_every_node_in_one_order() {
    let cluster = Cluster::start(3);
    cluster.open_room(0, "r1").await;
    let followers: Vec<_> = (0..3)
        .map(|node| {
            let token = cluster.token("r1", Role::Viewer, &format!("v{node}"));
            let url = cluster.node_ws(node, "r1", &token);
            tokio::spawn(Follower::follow(
                move |last| match last {
                    Some(seq) => format!("{url}&last_seq={seq}"),
                    None => url.clone(),
                },
                is_end,
                Duration::from_secs(60),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut senders = Vec::new();
    for node in 0..3 {
        let url = cluster.node_ws(
            node,
            "r1",
            &cluster.token("r1", Role::Seller, &format!("s{node}")),
        );
        senders.push(Client::join(&url).await.0);
    }
    for i in 0..30 {
        let sender = &mut senders[i % 3];
        sender
            .send(json!({"id": format!("c{i}"), "type": "chat", "text": format!("tin {i}")}))
            .await;
        sender.next_of("ack").await;
    }
    senders[1]
        .send(json!({"id": "end", "type": "chat", "text": "hết"}))
        .await;
    let followers: Vec<Follower> = join_all(followers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let expected: Vec<String> = (0..30)
        .map(|i| format!("tin {i}"))
        .chain(["hết".into()])
        .collect();
    for follower in &followers {
        follower.assert_contiguous();
        assert_eq!(follower.chat_texts(), expected);
    }
    // One order: the same seq for the same message on every node.
    let seqs = |f: &Follower| -> Vec<u64> {
        f.events
            .iter()
            .filter(|e| e["type"] == "chat")
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(seqs(&followers[0]), seqs(&followers[1]));
    assert_eq!(seqs(&followers[0]), seqs(&followers[2]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_and_hearts_are_counted_over_every_node() {
    let cluster = Cluster::start(2);
    cluster.open_room(0, "r1").await;
    let (mut a, _) =
        Client::join(&cluster.node_ws(0, "r1", &cluster.token("r1", Role::Viewer, "a"))).await;
    let (mut b, _) =
        Client::join(&cluster.node_ws(1, "r1", &cluster.token("r1", Role::Viewer, "b"))).await;
    loop {
        if a.next_of("viewer_count").await["count"] == 2 {
            break;
        }
    }
    a.send(json!({"type": "heart", "count": 3})).await;
    b.send(json!({"type": "heart", "count": 4})).await;
    let mut total = 0;
    while total < 7 {
        total = b.next_of("hearts").await["total"].as_u64().unwrap();
    }
    assert_eq!(total, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_on_one_node_ends_the_banned_connection_on_another() {
    let cluster = Cluster::start(2);
    cluster.open_room(0, "r1").await;
    let (mut seller, _) =
        Client::join(&cluster.node_ws(0, "r1", &cluster.token("r1", Role::Seller, "hoa"))).await;
    let lan = cluster.token("r1", Role::Viewer, "lan");
    let (mut viewer, _) = Client::join(&cluster.node_ws(1, "r1", &lan)).await;
    seller
        .send(json!({"type": "ban_user", "user_id": "lan"}))
        .await;
    assert_eq!(viewer.closed().await.0, 4003);
    let refused = Client::connect(&cluster.node_ws(0, "r1", &lan))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.body["error"]["code"], "banned");
}

/// Followers connect through HAProxy; a sender chats; `disrupt` does
/// something to the nodes half-way; every follower must end up with every
/// acknowledged message exactly once, in one contiguous seq order.
async fn nothing_is_lost_when(disrupt: impl FnOnce(&mut Cluster)) -> Vec<Follower> {
    let mut disrupt = Some(disrupt);
    let mut cluster = Cluster::start(3).with_haproxy();
    cluster.open_room(0, "r1").await;
    let followers: Vec<_> = (0..6)
        .map(|i| {
            let token = cluster.token("r1", Role::Viewer, &format!("v{i}"));
            let url = cluster.lb_ws("r1", &token);
            tokio::spawn(Follower::follow(
                move |last| match last {
                    Some(seq) => format!("{url}&last_seq={seq}"),
                    None => url.clone(),
                },
                is_end,
                Duration::from_secs(90),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seller = cluster.token("r1", Role::Seller, "hoa");
    let mut acked = Vec::new();
    let mut sender = Client::join(&cluster.lb_ws("r1", &seller)).await.0;
    for i in 0..40 {
        if i == 15 {
            if let Some(disrupt) = disrupt.take() {
                disrupt(&mut cluster);
            }
        }
        let text = format!("tin {i}");
        sender
            .send(json!({"id": format!("c{i}"), "type": "chat", "text": text}))
            .await;
        match sender.next_ack_or_close().await {
            Some(_) => acked.push(text),
            None => sender = Client::join(&cluster.lb_ws("r1", &seller)).await.0,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sender
        .send(json!({"id": "end", "type": "chat", "text": "hết"}))
        .await;
    sender.next_of("ack").await;
    let followers: Vec<Follower> = join_all(followers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        acked.len() >= 35,
        "only {} of 40 messages acknowledged",
        acked.len()
    );
    for follower in &followers {
        follower.assert_contiguous();
        let texts = follower.chat_texts();
        for text in &acked {
            assert_eq!(
                texts.iter().filter(|t| *t == text).count(),
                1,
                "{text} in {texts:?}"
            );
        }
        assert_eq!(follower.snapshots_after_start, 0, "every reconnect resumed");
    }
    followers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_live_loses_nothing() {
    let followers = nothing_is_lost_when(|cluster| cluster.kill(1)).await;
    // Round robin put two of the six on the killed node.
    let moved = followers.iter().filter(|f| f.reconnects > 0).count();
    assert!(moved >= 1, "nobody was on the killed node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_drops_nothing() {
    let followers = nothing_is_lost_when(|cluster| {
        for node in 0..3 {
            cluster.stop(node);
            cluster.restart(node);
        }
    })
    .await;
    assert!(
        followers.iter().all(|f| f.reconnects > 0),
        "every node restarted"
    );
}
