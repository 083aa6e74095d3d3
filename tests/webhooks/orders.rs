//! Order events from the real order path: a buyer's checkout over the
//! WebSocket is `order.created`, the seller's steps over HTTP are
//! `order.updated`, a cancellation is `order.cancelled`; each carries the
//! order as it then stands, signed with the room's secret.

use chophien::auth::Role;
use serde_json::{json, Value};

use super::receiver::Receiver;
use super::support::server::{Store, TestServer};
use super::{config, http, seller, server, set_webhook, ROOM};

/// Lan buys one unit of a fresh sale and checks out: her order.
async fn checkout(server: &TestServer) -> Value {
    let (mut hoa, _) = server.join(ROOM, Role::Seller, "hoa").await;
    let (mut lan, _) = server.join(ROOM, Role::Viewer, "lan").await;
    hoa.send(
        json!({"type": "start_sale", "product_id": "p1", "stock": 5, "price_vnd": 150000,
                    "per_buyer_limit": 2, "duration_secs": 600}),
    )
    .await;
    let sale_id = lan.next_of("sale_updated").await["sale"]["id"].clone();
    lan.send(
        json!({"id": "b", "type": "buy", "sale_id": sale_id, "quantity": 1,
                    "idempotency_key": "key-lan-00001"}),
    )
    .await;
    let hold = lan.next_of("buy_result").await["hold"]["hold_id"].clone();
    lan.send(json!({"id": "c", "type": "confirm_hold", "hold_id": hold,
                    "shipping": {"name": "Nguyễn Thị Lan", "phone": "0912345678",
                                 "address": "12 Hoàng Văn Thụ, TP Thái Nguyên"}}))
        .await;
    lan.next_of("order_confirmed").await["order"].clone()
}

async fn change(server: &TestServer, order: &Value, body: Value) {
    let path = format!(
        "/api/rooms/{ROOM}/orders/{}/status",
        order["order_id"].as_str().unwrap()
    );
    let response = http()
        .post(server.http(&path))
        .bearer_auth(seller(server))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

async fn an_orders_life_reaches_the_shop_as_signed_events(store: Store) {
    let receiver = Receiver::start(0).await;
    let server = server(store, config()).await;
    let secret = set_webhook(&server, &receiver.url("/hooks")).await;

    let order = checkout(&server).await;
    change(&server, &order, json!({"status": "packed"})).await;
    change(&server, &order, json!({"status": "cancelled"})).await;
    // A repeat changes nothing, so it tells the shop nothing.
    change(&server, &order, json!({"status": "cancelled"})).await;

    let mut got = receiver.wait_for(3).await;
    got.sort_by_key(|r| r.json()["data"]["history"].as_array().map_or(0, Vec::len));
    let seen: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            assert_eq!(r.verify(&secret), Ok(()));
            let data = r.json()["data"].clone();
            assert_eq!(data["order_id"], order["order_id"]);
            (
                r.event_type.clone(),
                data["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("order.created".to_owned(), "confirmed".to_owned()),
            ("order.updated".to_owned(), "packed".to_owned()),
            ("order.cancelled".to_owned(), "cancelled".to_owned()),
        ]
    );
    assert_eq!(
        got[0].json()["data"]["shipping"]["phone"],
        "0912345678",
        "the shop gets the whole order"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3);
}

crate::on_every_store!(an_orders_life_reaches_the_shop_as_signed_events);
