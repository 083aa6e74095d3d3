//! Flash sales over the WebSocket (issue 3), on the in-memory store and on
//! a real Redis: start, buy, hold, checkout, orders, and refusals.

use chophien::auth::Role;
use chophien::config::StoreKind;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::redis::RedisServer;
use crate::support::server::{test_config, Store, TestServer};

struct Sale {
    seller: Client,
    viewer: Client,
    sale_id: String,
}

/// A room with a live sale of p1: `stock` units, at most 2 per buyer.
async fn sale_with_stock(server: &TestServer, stock: u32) -> Sale {
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let (mut viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    seller
        .send(json!({"id": "s", "type": "start_sale", "product_id": "p1", "stock": stock, "price_vnd": 199000,
                     "per_buyer_limit": 2, "duration_secs": 600, "hold_secs": 120}))
        .await;
    seller.next_of("ack").await;
    let updated = viewer.next_of("sale_updated").await;
    assert_eq!(updated["sale"]["state"], "live");
    let sale_id = updated["sale"]["id"].as_str().unwrap().to_owned();
    Sale {
        seller,
        viewer,
        sale_id,
    }
}

fn buy(sale_id: &str, quantity: u32, key: &str) -> Value {
    json!({"id": key, "type": "buy", "sale_id": sale_id, "quantity": quantity, "idempotency_key": key})
}

fn shipping() -> Value {
    json!({"name": "Nguyễn Thị Lan", "phone": "0912 345 678", "address": "12 Hoàng Văn Thụ, TP Thái Nguyên"})
}

async fn redis_server(redis: &RedisServer) -> TestServer {
    let mut config = test_config();
    config.store.kind = StoreKind::Redis;
    config.store.redis_url = redis.url();
    TestServer::with_config(config).await
}

/// Buy, confirm, and see the order everywhere it should show.
async fn a_buyer_reserves_confirms_and_the_seller_sees_the_order(server: &TestServer) {
    let Sale {
        mut seller,
        mut viewer,
        sale_id,
    } = sale_with_stock(server, 5).await;
    viewer.send(buy(&sale_id, 2, "key-000001")).await;
    let result = viewer.next_of("buy_result").await;
    assert_eq!(result["id"], "key-000001");
    assert_eq!(result["outcome"], "reserved");
    let hold_id = result["hold"]["hold_id"].as_str().unwrap().to_owned();
    assert_eq!(seller.next_of("sale_stock").await["remaining"], 3);

    viewer
        .send(
            json!({"id": "c", "type": "confirm_hold", "hold_id": hold_id, "shipping": shipping()}),
        )
        .await;
    let confirmed = viewer.next_of("order_confirmed").await;
    assert_eq!(confirmed["id"], "c");
    assert_eq!(confirmed["order"]["total_vnd"], 398_000);
    let purchase = seller.next_of("sale_purchase").await;
    assert_eq!(purchase["quantity"], 2);
    assert!(purchase.get("shipping").is_none() && !purchase.to_string().contains("0912"));

    let seller_token = server.token("r1", Role::Seller, "hoa");
    let orders: Value = reqwest::Client::new()
        .get(server.http("/api/rooms/r1/orders"))
        .bearer_auth(&seller_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["units_sold"], 2);
    assert_eq!(orders["revenue_vnd"], 398_000);
    assert_eq!(orders["orders"][0]["shipping"]["phone"], "0912345678");

    let csv = reqwest::Client::new()
        .get(server.http("/api/rooms/r1/orders.csv"))
        .bearer_auth(&seller_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(lines[0].starts_with("Mã đơn,Thời gian đặt,Người mua,Người nhận,Số điện thoại"));
    assert!(
        lines[1].contains("Nguyễn Thị Lan") && lines[1].contains("Chè Tân Cương đặc biệt 500g")
    );
    assert!(lines[1].contains(r#""=""0912345678""""#), "{}", lines[1]);
    assert!(lines[1].contains("Đã xác nhận"));
    assert_eq!(lines[2], "TỔNG,,,,,,,2,,398000,,,,,,,");
}

#[tokio::test]
async fn memory_a_buyer_reserves_confirms_and_the_seller_sees_the_order() {
    a_buyer_reserves_confirms_and_the_seller_sees_the_order(&TestServer::start().await).await;
}

#[tokio::test]
async fn redis_a_buyer_reserves_confirms_and_the_seller_sees_the_order() {
    let redis = RedisServer::start();
    a_buyer_reserves_confirms_and_the_seller_sees_the_order(&redis_server(&redis).await).await;
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_original_hold() {
    let server = TestServer::start().await;
    let Sale {
        mut viewer,
        sale_id,
        ..
    } = sale_with_stock(&server, 5).await;
    viewer.send(buy(&sale_id, 1, "key-000002")).await;
    let first = viewer.next_of("buy_result").await;
    viewer.send(buy(&sale_id, 1, "key-000002")).await;
    let again = viewer.next_of("buy_result").await;
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(again["hold"], first["hold"]);
}

#[tokio::test]
async fn the_per_buyer_limit_and_the_stock_are_enforced() {
    let server = TestServer::start().await;
    let Sale {
        mut viewer,
        sale_id,
        ..
    } = sale_with_stock(&server, 3).await;
    viewer.send(buy(&sale_id, 2, "key-000003")).await;
    assert_eq!(viewer.next_of("buy_result").await["outcome"], "reserved");
    viewer.send(buy(&sale_id, 1, "key-000004")).await;
    assert_eq!(
        viewer.next_of("buy_result").await["outcome"],
        "limit_reached"
    );
    let (mut other, _) = server.join("r1", Role::Viewer, "minh").await;
    other.send(buy(&sale_id, 2, "key-000005")).await;
    assert_eq!(other.next_of("buy_result").await["outcome"], "sold_out");
    other.send(buy(&sale_id, 1, "key-000006")).await;
    assert_eq!(other.next_of("buy_result").await["outcome"], "reserved");
    assert_eq!(
        other.next_of("sale_updated").await["sale"]["state"],
        "sold_out"
    );
}

#[tokio::test]
async fn a_cancelled_hold_returns_its_stock() {
    let server = TestServer::start().await;
    let Sale {
        mut seller,
        mut viewer,
        sale_id,
    } = sale_with_stock(&server, 5).await;
    viewer.send(buy(&sale_id, 2, "key-000007")).await;
    let hold_id = viewer.next_of("buy_result").await["hold"]["hold_id"].clone();
    assert_eq!(seller.next_of("sale_stock").await["remaining"], 3);
    viewer
        .send(json!({"id": "x", "type": "cancel_hold", "hold_id": hold_id}))
        .await;
    assert_eq!(viewer.next_of("hold_cancelled").await["hold_id"], hold_id);
    assert_eq!(seller.next_of("sale_stock").await["remaining"], 5);
}

async fn a_buyer_who_reconnects_gets_her_open_hold_and_her_orders_back_after_the_snapshot(
    store: Store,
) {
    let server = store.start().await;
    let Sale {
        mut viewer,
        sale_id,
        ..
    } = sale_with_stock(&server, 5).await;
    viewer.send(buy(&sale_id, 2, "key-lan-000001")).await;
    let hold = viewer.next_of("buy_result").await["hold"].clone();
    drop(viewer);

    let (mut again, _) = server.join("r1", Role::Viewer, "lan").await;
    let mine = again.next().await;
    assert_eq!(mine["type"], "my_holds", "right after the snapshot: {mine}");
    assert_eq!(mine["holds"], json!([hold]));
    assert_eq!(
        again.next().await,
        json!({"type": "my_orders", "orders": []})
    );
    let (mut other, _) = server.join("r1", Role::Viewer, "minh").await;
    assert_eq!(other.next().await, json!({"type": "my_holds", "holds": []}));

    // Once confirmed, the hold is no longer open and comes back as her order.
    let hold_id = hold["hold_id"].as_str().unwrap();
    again
        .send(
            json!({"id": "c", "type": "confirm_hold", "hold_id": hold_id, "shipping": shipping()}),
        )
        .await;
    let order = again.next_of("order_confirmed").await["order"].clone();
    drop(again);
    let (mut later, _) = server.join("r1", Role::Viewer, "lan").await;
    assert_eq!(later.next().await, json!({"type": "my_holds", "holds": []}));
    assert_eq!(
        later.next().await,
        json!({"type": "my_orders", "orders": [order]})
    );
}

async fn a_late_joiner_sees_the_sale_in_the_snapshot(store: Store) {
    let server = store.start().await;
    let Sale { sale_id, .. } = sale_with_stock(&server, 5).await;
    let (_, snapshot) = server.join("r1", Role::Viewer, "minh").await;
    assert_eq!(snapshot["sale"]["id"], sale_id);
    assert_eq!(snapshot["sale"]["price_vnd"], 199_000);
}

async fn a_scheduled_sale_counts_down_then_goes_live(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    seller
        .send(
            json!({"type": "start_sale", "product_id": "p2", "stock": 5, "price_vnd": 150000,
                     "per_buyer_limit": 1, "starts_in_secs": 1, "duration_secs": 60}),
        )
        .await;
    let scheduled = seller.next_of("sale_updated").await;
    assert_eq!(scheduled["sale"]["state"], "scheduled");
    let sale_id = scheduled["sale"]["id"].as_str().unwrap().to_owned();
    seller.send(buy(&sale_id, 1, "key-000008")).await;
    assert_eq!(seller.next_of("buy_result").await["outcome"], "not_started");
    assert_eq!(
        seller.next_of("sale_updated").await["sale"]["state"],
        "live"
    );
}

async fn the_seller_ends_a_sale_early(store: Store) {
    let server = store.start().await;
    let Sale {
        mut seller,
        mut viewer,
        sale_id,
    } = sale_with_stock(&server, 5).await;
    seller
        .send(json!({"type": "end_sale", "sale_id": sale_id}))
        .await;
    assert_eq!(
        viewer.next_of("sale_updated").await["sale"]["state"],
        "ended"
    );
    viewer.send(buy(&sale_id, 1, "key-000009")).await;
    assert_eq!(viewer.next_of("buy_result").await["outcome"], "ended");
}

#[tokio::test]
async fn a_viewer_may_not_start_or_end_a_sale() {
    let server = TestServer::start().await;
    let Sale {
        mut viewer,
        sale_id,
        ..
    } = sale_with_stock(&server, 5).await;
    viewer
        .send(
            json!({"type": "start_sale", "product_id": "p1", "stock": 5, "price_vnd": 1,
                     "per_buyer_limit": 1, "duration_secs": 60}),
        )
        .await;
    assert_eq!(viewer.next_of("error").await["code"], "forbidden");
    viewer
        .send(json!({"type": "end_sale", "sale_id": sale_id}))
        .await;
    assert_eq!(viewer.next_of("error").await["code"], "forbidden");
}

async fn a_second_sale_waits_until_the_first_ends(store: Store) {
    let server = store.start().await;
    let Sale { mut seller, .. } = sale_with_stock(&server, 5).await;
    seller
        .send(
            json!({"type": "start_sale", "product_id": "p2", "stock": 5, "price_vnd": 1,
                     "per_buyer_limit": 1, "duration_secs": 60}),
        )
        .await;
    assert_eq!(seller.next_of("error").await["code"], "invalid_state");
}

#[tokio::test]
async fn bad_buys_get_typed_errors() {
    let server = TestServer::start().await;
    let Sale {
        mut viewer,
        sale_id,
        ..
    } = sale_with_stock(&server, 5).await;
    for (request, code) in [
        (buy(&sale_id, 0, "key-000010"), "invalid_value"),
        (buy(&sale_id, 1_000_000, "key-000011"), "invalid_value"),
        (
            json!({"type": "buy", "sale_id": sale_id, "quantity": -1, "idempotency_key": "key-000012"}),
            "bad_request",
        ),
        (
            json!({"type": "buy", "sale_id": sale_id, "quantity": 1e20, "idempotency_key": "key-000013"}),
            "bad_request",
        ),
        (buy(&sale_id, 1, "k"), "invalid_value"),
        (buy("no-such-sale", 1, "key-000014"), "sale_not_found"),
        (
            json!({"type": "buy", "sale_id": sale_id, "quantity": 1}),
            "bad_request",
        ),
    ] {
        viewer.send(request.clone()).await;
        assert_eq!(viewer.next_of("error").await["code"], code, "{request}");
    }
}

#[tokio::test]
async fn malformed_shipping_and_foreign_holds_are_refused() {
    let server = TestServer::start().await;
    let Sale {
        mut viewer,
        sale_id,
        ..
    } = sale_with_stock(&server, 5).await;
    viewer.send(buy(&sale_id, 1, "key-000015")).await;
    let hold_id = viewer.next_of("buy_result").await["hold"]["hold_id"].clone();
    let bad = json!({"name": "Lan", "phone": "not a phone", "address": "x"});
    viewer
        .send(json!({"type": "confirm_hold", "hold_id": hold_id, "shipping": bad}))
        .await;
    assert_eq!(viewer.next_of("error").await["code"], "invalid_shipping");

    let (mut thief, _) = server.join("r1", Role::Viewer, "thief").await;
    thief
        .send(json!({"type": "confirm_hold", "hold_id": hold_id, "shipping": shipping()}))
        .await;
    assert_eq!(thief.next_of("error").await["code"], "forbidden");
    thief
        .send(json!({"type": "cancel_hold", "hold_id": "s-nope"}))
        .await;
    assert_eq!(thief.next_of("error").await["code"], "hold_not_found");
}

#[tokio::test]
async fn orders_are_private_to_the_seller() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let viewer = server.token("r1", Role::Viewer, "lan");
    let response = reqwest::Client::new()
        .get(server.http("/api/rooms/r1/orders.csv"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let anonymous = reqwest::Client::new()
        .get(server.http("/api/rooms/r1/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_buys_and_chat_answer_unavailable_until_it_returns() {
    let mut redis = RedisServer::start();
    let server = redis_server(&redis).await;
    let Sale {
        mut seller,
        mut viewer,
        sale_id,
    } = sale_with_stock(&server, 5).await;
    redis.crash();

    viewer.send(buy(&sale_id, 1, "key-000016")).await;
    assert_eq!(viewer.next_of("buy_result").await["outcome"], "unavailable");
    // The room lives in Redis too: its requests are refused, not hung.
    viewer
        .send(json!({"id": "c", "type": "chat", "text": "còn ai không"}))
        .await;
    let refused = viewer.next_of("error").await;
    assert_eq!(
        (&refused["id"], &refused["code"]),
        (&json!("c"), &json!("unavailable"))
    );
    let ready = reqwest::Client::new()
        .get(server.http("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    redis.restart();
    // Once Redis is back (it reloads its AOF), the same connections work.
    loop {
        viewer
            .send(json!({"id": "c", "type": "chat", "text": "đã về"}))
            .await;
        let answer = viewer.next_of_any(&["ack", "error"]).await;
        if answer["type"] == "ack" {
            break;
        }
        assert_eq!(answer["code"], "unavailable", "{answer}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seller.next_of("chat").await["message"]["text"], "đã về");
}

async fn confirming_a_hold_over_another_rooms_connection_is_refused(store: Store) {
    let server = store.start().await;
    let Sale {
        mut seller,
        mut viewer,
        sale_id,
    } = sale_with_stock(&server, 5).await;
    viewer.send(buy(&sale_id, 1, "key-000017")).await;
    let hold_id = viewer.next_of("buy_result").await["hold"]["hold_id"].clone();

    // The same buyer, in another room, with that room's token.
    server.room("r2").await;
    let (mut other_seller, _) = server.join("r2", Role::Seller, "tuan").await;
    let (mut lan_in_r2, _) = server.join("r2", Role::Viewer, "lan").await;
    lan_in_r2
        .send(
            json!({"id": "c2", "type": "confirm_hold", "hold_id": hold_id, "shipping": shipping()}),
        )
        .await;
    let refused = lan_in_r2.next_of("error").await;
    assert_eq!(refused["id"], "c2");
    assert_eq!(refused["code"], "hold_not_found");
    lan_in_r2
        .send(json!({"id": "x2", "type": "cancel_hold", "hold_id": hold_id}))
        .await;
    assert_eq!(lan_in_r2.next_of("error").await["code"], "hold_not_found");

    // Room r2 heard of no purchase before this chat (events arrive in order).
    lan_in_r2
        .send(json!({"type": "chat", "text": "mua ở phòng kia"}))
        .await;
    loop {
        let event = other_seller.next().await;
        assert_ne!(event["type"], "sale_purchase", "{event}");
        if event["type"] == "chat" {
            break;
        }
    }

    // Over its own room the hold is still there, and confirms as usual.
    viewer
        .send(
            json!({"id": "c1", "type": "confirm_hold", "hold_id": hold_id, "shipping": shipping()}),
        )
        .await;
    assert_eq!(
        viewer.next_of("order_confirmed").await["order"]["hold_id"],
        hold_id
    );
    assert_eq!(seller.next_of("sale_purchase").await["quantity"], 1);
}

async fn nobody_but_the_buyer_confirms_or_cancels_a_hold_not_even_an_admin(store: Store) {
    let server = store.start().await;
    let Sale {
        mut viewer,
        sale_id,
        ..
    } = sale_with_stock(&server, 5).await;
    viewer.send(buy(&sale_id, 1, "key-000031")).await;
    let hold_id = viewer.next_of("buy_result").await["hold"]["hold_id"].clone();
    let (mut admin, _) = server.join("r1", Role::Admin, "root").await;
    for request in [
        json!({"id": "c", "type": "confirm_hold", "hold_id": hold_id, "shipping": shipping()}),
        json!({"id": "x", "type": "cancel_hold", "hold_id": hold_id}),
    ] {
        admin.send(request.clone()).await;
        assert_eq!(
            admin.next_of("error").await["code"],
            "forbidden",
            "{request}"
        );
    }
    // The hold is untouched: its buyer still confirms it.
    viewer
        .send(
            json!({"id": "c", "type": "confirm_hold", "hold_id": hold_id, "shipping": shipping()}),
        )
        .await;
    viewer.next_of("order_confirmed").await;
}

crate::on_every_store!(
    a_buyer_who_reconnects_gets_her_open_hold_and_her_orders_back_after_the_snapshot,
    a_late_joiner_sees_the_sale_in_the_snapshot,
    a_scheduled_sale_counts_down_then_goes_live,
    the_seller_ends_a_sale_early,
    a_second_sale_waits_until_the_first_ends,
    confirming_a_hold_over_another_rooms_connection_is_refused,
    nobody_but_the_buyer_confirms_or_cancels_a_hold_not_even_an_admin,
    in_a_large_room_a_sale_selling_out_quickly_sends_no_stock_frame_in_between,
    in_a_large_room_stock_is_announced_once_the_spacing_has_passed,
);

/// A server whose stock frame budget makes a room of three connections
/// "large": stock may be announced only every `3 / frames_per_sec` seconds
/// (at the default 10,000 a second, a room of 30,000 connections on one
/// node with `frames_per_sec` = 1).
async fn large_room(store: Store, frames_per_sec: u64) -> (TestServer, Sale, Client) {
    let mut config = test_config();
    config.rooms.sale_stock_frames_per_sec = frames_per_sec;
    let server = store.with_config(config).await;
    let sale = sale_with_stock(&server, 3).await;
    let (other, _) = server.join("r1", Role::Viewer, "minh").await;
    (server, sale, other)
}

async fn in_a_large_room_a_sale_selling_out_quickly_sends_no_stock_frame_in_between(store: Store) {
    let (_server, sale, mut other) = large_room(store, 1).await;
    let Sale {
        mut viewer,
        sale_id,
        ..
    } = sale;
    viewer.send(buy(&sale_id, 1, "key-spacing-1")).await;
    assert_eq!(viewer.next_of("buy_result").await["outcome"], "reserved");
    viewer.send(buy(&sale_id, 1, "key-spacing-2")).await;
    assert_eq!(viewer.next_of("buy_result").await["outcome"], "reserved");
    // Two announcer ticks pass: in a small room they would tell 1 left.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;

    other.send(buy(&sale_id, 1, "key-spacing-3")).await;
    assert_eq!(other.next_of("buy_result").await["outcome"], "reserved");
    // (The viewer has seen the sale start; the seller may not have yet.)
    let next = viewer.next_of_any(&["sale_stock", "sale_updated"]).await;
    assert_eq!(
        next["type"], "sale_updated",
        "no stock frame before it: {next}"
    );
    assert_eq!(next["sale"]["state"], "sold_out");
    assert_eq!(next["sale"]["remaining"], 0);
}

async fn in_a_large_room_stock_is_announced_once_the_spacing_has_passed(store: Store) {
    // Three connections at 2 frames a second: every 1.5 s.
    let (_server, sale, _other) = large_room(store, 2).await;
    let Sale {
        mut seller,
        mut viewer,
        sale_id,
    } = sale;
    let started = std::time::Instant::now();
    viewer.send(buy(&sale_id, 1, "key-spacing-4")).await;
    assert_eq!(viewer.next_of("buy_result").await["outcome"], "reserved");
    assert_eq!(seller.next_of("sale_stock").await["remaining"], 2);
    // The sale's start told `remaining` a moment before `started`.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1_200),
        "stock came {:?} after the start",
        started.elapsed()
    );
}
