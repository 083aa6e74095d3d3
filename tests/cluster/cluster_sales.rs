//! Flash sales served by several real nodes on one real Redis (issue 9):
//! buyers on every node share one sale and its invariants, a hold made on
//! one node is confirmed on another, and a crash of every node at once loses
//! no room, sale, hold or order.

use crate::support;

use chophien::auth::Role;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use support::client::Client;
use support::cluster::{http, Cluster};

const ROOM: &str = "r1";
const STOCK: u64 = 20;
const LIMIT: u64 = 2;

/// Open the room through node 0 (an admin's HTTP call) and start a sale of
/// its product `p1` there: `STOCK` units, `LIMIT` per buyer. The sale's id.
async fn room_with_a_sale(cluster: &Cluster) -> String {
    cluster.open_room(0, ROOM).await;
    let seller = cluster.token(ROOM, Role::Seller, "hoa");
    let (mut seller, _) = Client::join(&cluster.node_ws(0, ROOM, &seller)).await;
    seller
        .send(
            json!({"id": "s", "type": "start_sale", "product_id": "p1", "stock": STOCK,
                     "price_vnd": 150000, "per_buyer_limit": LIMIT, "duration_secs": 600,
                     "hold_secs": 300}),
        )
        .await;
    // The room's `sale_updated` is published before the ack is sent, and
    // reaches the seller's socket through the node's feed: either may come
    // first.
    let mut sale_id = None;
    let mut acked = false;
    while sale_id.is_none() || !acked {
        let frame = seller.next_of_any(&["ack", "sale_updated"]).await;
        match frame["type"].as_str() {
            Some("ack") => acked = true,
            _ => sale_id = frame["sale"]["id"].as_str().map(str::to_owned),
        }
    }
    sale_id.unwrap()
}

/// Viewer `user` on node `index`.
async fn buyer(cluster: &Cluster, index: usize, user: &str) -> Client {
    let token = cluster.token(ROOM, Role::Viewer, user);
    Client::join(&cluster.node_ws(index, ROOM, &token)).await.0
}

async fn buy(client: &mut Client, sale_id: &str, quantity: u64, key: &str) -> Value {
    client
        .send(
            json!({"id": key, "type": "buy", "sale_id": sale_id, "quantity": quantity,
                     "idempotency_key": key}),
        )
        .await;
    client.next_of("buy_result").await
}

/// Confirms `hold_id` shipping to `phone` (one number per person: the
/// per-buyer limit holds per phone too).
async fn confirm(client: &mut Client, hold_id: &str, phone: &str) -> Value {
    client
        .send(
            json!({"id": "c", "type": "confirm_hold", "hold_id": hold_id,
                     "shipping": {"name": "Nguyễn Thị Lan", "phone": phone,
                                  "address": "12 Hoàng Văn Thụ, TP Thái Nguyên"}}),
        )
        .await;
    client.next_of_any(&["order_confirmed", "error"]).await
}

/// The room's orders as node `index` serves them.
async fn orders(cluster: &Cluster, index: usize) -> Value {
    let seller = cluster.token(ROOM, Role::Seller, "hoa");
    let response = http()
        .get(cluster.node_http(index, &format!("/api/rooms/{ROOM}/orders")))
        .bearer_auth(seller)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// A viewer joining on node `index` is told the sale has `remaining` units:
/// by its snapshot or, if that trails the store, by the `sale_stock` (or,
/// for a change of state such as selling out, `sale_updated`) that follows.
/// The snapshot's sale and chat.
async fn joined_on(cluster: &Cluster, index: usize, remaining: u64) -> (Value, Value) {
    let token = cluster.token(ROOM, Role::Viewer, "watcher");
    let (mut client, snapshot) = Client::join(&cluster.node_ws(index, ROOM, &token)).await;
    let mut told = snapshot["sale"]["remaining"].clone();
    while told != remaining {
        let event = client.next_of_any(&["sale_stock", "sale_updated"]).await;
        told = match event["type"].as_str() {
            Some("sale_stock") => event["remaining"].clone(),
            _ => event["sale"]["remaining"].clone(),
        };
    }
    (snapshot["sale"].clone(), snapshot["chat"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyers_on_every_node_share_one_exact_sale() {
    let cluster = Cluster::start(3);
    let sale_id = room_with_a_sale(&cluster).await;

    // 15 buyers, five per node, each asking for 2 units twice (the second
    // time past their limit) and retrying their first key once: 30 units
    // wanted of 20.
    let buyers = (0..15).map(|i| {
        let cluster = &cluster;
        let sale_id = sale_id.clone();
        async move {
            let mut client = buyer(cluster, i % 3, &format!("b{i}")).await;
            let first = buy(&mut client, &sale_id, LIMIT, &format!("key-{i:04}-a")).await;
            let second = buy(&mut client, &sale_id, LIMIT, &format!("key-{i:04}-b")).await;
            let retry = buy(&mut client, &sale_id, LIMIT, &format!("key-{i:04}-a")).await;
            (i, first, second, retry)
        }
    });
    let answers = join_all(buyers).await;

    let mut reserved_units = 0;
    for (i, first, second, retry) in &answers {
        assert_ne!(
            second["outcome"], "reserved",
            "buyer {i} exceeded the limit: {second}"
        );
        match first["outcome"].as_str().unwrap() {
            "reserved" => {
                reserved_units += LIMIT;
                assert_eq!(retry["outcome"], "duplicate", "buyer {i}'s retry: {retry}");
                assert_eq!(
                    first["hold"], retry["hold"],
                    "buyer {i}'s retry is the same hold"
                );
            }
            "sold_out" => assert_ne!(retry["outcome"], "reserved", "buyer {i}: {retry}"),
            other => panic!("buyer {i}: unexpected outcome {other}: {first}"),
        }
    }
    assert_eq!(reserved_units, STOCK, "every unit held once, none twice");
    for index in 0..3 {
        joined_on(&cluster, index, 0).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_made_on_one_node_is_confirmed_on_another() {
    let cluster = Cluster::start(2);
    let sale_id = room_with_a_sale(&cluster).await;
    let mut on_first = buyer(&cluster, 0, "lan").await;
    let hold = buy(&mut on_first, &sale_id, 1, "key-lan-0001").await;
    assert_eq!(hold["outcome"], "reserved");
    drop(on_first);

    let mut on_second = buyer(&cluster, 1, "lan").await;
    let confirmed = confirm(
        &mut on_second,
        hold["hold"]["hold_id"].as_str().unwrap(),
        "0912 345 678",
    )
    .await;
    assert_eq!(confirmed["type"], "order_confirmed", "{confirmed}");
    assert_eq!(orders(&cluster, 0).await["units_sold"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_of_every_node_loses_no_room_sale_hold_or_order() {
    let mut cluster = Cluster::start(3);
    let sale_id = room_with_a_sale(&cluster).await;
    // An order (confirmed on node 1) and a hold still open (made on node 2).
    let mut ordered = buyer(&cluster, 1, "lan").await;
    let first = buy(&mut ordered, &sale_id, 2, "key-lan-0001").await;
    let order = confirm(
        &mut ordered,
        first["hold"]["hold_id"].as_str().unwrap(),
        "0912 345 678",
    )
    .await;
    assert_eq!(order["type"], "order_confirmed", "{order}");
    let mut holding = buyer(&cluster, 2, "mai").await;
    let open = buy(&mut holding, &sale_id, 1, "key-mai-0001").await;
    assert_eq!(open["outcome"], "reserved");
    let hold_id = open["hold"]["hold_id"].as_str().unwrap().to_owned();
    let chat = {
        let mut client = buyer(&cluster, 0, "tuan").await;
        client
            .send(json!({"id": "m", "type": "chat", "text": "còn hàng không shop?"}))
            .await;
        client.next_of("ack").await;
        client
    };
    drop((ordered, holding, chat));

    for index in 0..3 {
        cluster.kill(index);
    }
    for index in 0..3 {
        cluster.restart(index);
    }

    // The room, its chat and its sale, as every node serves them.
    for index in 0..3 {
        let (sale, chat) = joined_on(&cluster, index, STOCK - 3).await;
        assert_eq!(sale["id"], sale_id.as_str());
        assert!(
            chat.as_array()
                .unwrap()
                .iter()
                .any(|m| m["text"] == "còn hàng không shop?"),
            "node {index}: {chat}"
        );
    }
    // The order is still there, the hold can still be confirmed (on
    // another node than it was made on), and the sale still sells.
    assert_eq!(orders(&cluster, 2).await["units_sold"], 2);
    let mut mai = buyer(&cluster, 0, "mai").await;
    let confirmed = confirm(&mut mai, &hold_id, "0987 654 321").await;
    assert_eq!(confirmed["type"], "order_confirmed", "{confirmed}");
    let mut late = buyer(&cluster, 1, "hung").await;
    assert_eq!(
        buy(&mut late, &sale_id, 1, "key-hung-0001").await["outcome"],
        "reserved"
    );
    assert_eq!(orders(&cluster, 1).await["units_sold"], 3);
}
