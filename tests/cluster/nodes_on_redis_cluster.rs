//! Real `chophien` processes on a real three-primary Redis Cluster
//! (`store.redis_cluster_urls`): nodes find each other, chat reaches every
//! node in one order, and a flash sale sells its stock exactly once however
//! its buyers spread over the nodes.
//!
//! One cluster serves this binary's tests, one at a time, emptied for each;
//! every test starts its own nodes on it.

use crate::support;

use std::time::Duration;

use chophien::auth::Role;
use futures_util::future::join_all;
use serde_json::{json, Value};

use support::client::Client;
use support::cluster::{http, Cluster};
use support::redis_cluster::take_turn;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_lists_the_others_from_the_directory() {
    let redis = take_turn().await;
    let cluster = Cluster::on_redis_cluster(&redis, 3);
    let admin = cluster.token("*", Role::Admin, "root");
    let mut ids = Vec::new();
    // Nodes beat every 300 ms.
    for _ in 0..100 {
        let listing: Value = http()
            .get(cluster.node_http(2, "/api/admin/nodes"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids = listing["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        if ids.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ids, ["node-1", "node-2", "node-3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_on_any_node_reaches_every_node_in_one_order() {
    let redis = take_turn().await;
    let cluster = Cluster::on_redis_cluster(&redis, 3);
    cluster.open_room(0, "r1").await;
    let mut viewers = Vec::new();
    let mut senders = Vec::new();
    for node in 0..3 {
        let viewer = cluster.token("r1", Role::Viewer, &format!("v{node}"));
        viewers.push(Client::join(&cluster.node_ws(node, "r1", &viewer)).await.0);
        let seller = cluster.token("r1", Role::Seller, &format!("s{node}"));
        senders.push(Client::join(&cluster.node_ws(node, "r1", &seller)).await.0);
    }
    let texts: Vec<String> = (0..30).map(|i| format!("tin {i}")).collect();
    for (i, text) in texts.iter().enumerate() {
        let sender = &mut senders[i % 3];
        sender
            .send(json!({"id": format!("c{i}"), "type": "chat", "text": text}))
            .await;
        sender.next_of("ack").await;
    }
    let mut heard = Vec::new();
    for viewer in &mut viewers {
        let mut chats = Vec::new();
        for _ in 0..texts.len() {
            let chat = viewer.next_of("chat").await;
            chats.push((
                chat["seq"].as_u64().unwrap(),
                chat["message"]["text"].clone(),
            ));
        }
        heard.push(chats);
    }
    let in_order: Vec<Value> = texts.iter().map(|t| Value::from(t.as_str())).collect();
    let seen: Vec<Value> = heard[0].iter().map(|(_, text)| text.clone()).collect();
    assert_eq!(seen, in_order);
    // One order: the same seq for the same message on every node.
    assert_eq!(heard[0], heard[1]);
    assert_eq!(heard[0], heard[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flash_sale_sells_its_stock_exactly_once_over_every_node() {
    let redis = take_turn().await;
    let cluster = Cluster::on_redis_cluster(&redis, 3);
    cluster.open_room(0, "r1").await;
    let seller_token = cluster.token("r1", Role::Seller, "hoa");
    let (mut seller, _) = Client::join(&cluster.node_ws(0, "r1", &seller_token)).await;
    seller
        .send(json!({"id": "s", "type": "start_sale", "product_id": "p1", "stock": 20, "price_vnd": 199000,
                     "per_buyer_limit": 1, "duration_secs": 600, "hold_secs": 120}))
        .await;
    // The ack and the room's `sale_updated` (through the feed) race.
    let (mut sale_id, mut acked) = (None, false);
    while sale_id.is_none() || !acked {
        let frame = seller.next_of_any(&["ack", "sale_updated"]).await;
        match frame["type"].as_str() {
            Some("ack") => acked = true,
            _ => sale_id = frame["sale"]["id"].as_str().map(str::to_owned),
        }
    }
    let sale_id = sale_id.unwrap();
    // Thirty buyers, ten on each node, all in before anyone buys.
    let buyers = join_all((0..30).map(|i| {
        let token = cluster.token("r1", Role::Viewer, &format!("b{i}"));
        let url = cluster.node_ws(i % 3, "r1", &token);
        async move { Client::join(&url).await.0 }
    }))
    .await;
    let outcomes = join_all(buyers.into_iter().map(|mut buyer| {
        let sale_id = sale_id.clone();
        async move {
            buyer
                .send(
                    json!({"id": "b", "type": "buy", "sale_id": sale_id, "quantity": 1,
                             "idempotency_key": "key-000001"}),
                )
                .await;
            let result = buyer.next_of("buy_result").await;
            result["outcome"].as_str().unwrap().to_owned()
        }
    }))
    .await;
    let count = |outcome: &str| outcomes.iter().filter(|o| *o == outcome).count();
    assert_eq!(
        (count("reserved"), count("sold_out")),
        (20, 10),
        "{outcomes:?}"
    );
    // A viewer joining on any node sees it sold out: in the snapshot, or
    // in the announcement that follows a snapshot that trails.
    for node in 0..3 {
        let token = cluster.token("r1", Role::Viewer, &format!("w{node}"));
        let (mut watcher, snapshot) = Client::join(&cluster.node_ws(node, "r1", &token)).await;
        let mut state = snapshot["sale"]["state"].clone();
        while state != "sold_out" {
            state = watcher.next_of("sale_updated").await["sale"]["state"].clone();
        }
    }
}
