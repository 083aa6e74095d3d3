//! Orders after checkout (issue 11, part 5), on the memory store and on a
//! real Redis: the seller moves orders along over HTTP (one or many), the
//! buyer sees each change live and may cancel within her window, and the
//! order page finds an order by its code and phone.

use chophien::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::{test_config, Store, TestServer};

crate::on_every_store!(
    the_seller_ships_an_order_and_its_buyer_sees_every_step_live,
    the_buyer_cancels_her_order_and_its_units_go_back_on_sale,
    a_bulk_change_answers_for_each_order,
    the_order_page_needs_the_code_and_the_shipping_phone,
    only_the_rooms_seller_changes_its_orders,
    bad_order_changes_get_typed_errors_and_change_nothing,
    the_sellers_table_filters_by_status_and_search,
);

struct Shop {
    server: TestServer,
    seller: Client,
    sale_id: String,
}

/// A room `r1` with a live sale of p1 (10 units, at most 3 per buyer).
async fn shop(store: Store) -> Shop {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    seller
        .send(
            json!({"id": "s", "type": "start_sale", "product_id": "p1", "stock": 10,
                     "price_vnd": 150000, "per_buyer_limit": 3, "duration_secs": 600}),
        )
        .await;
    // The ack and the announcement may arrive in either order (Redis).
    let mut sale_id = None;
    let mut acked = false;
    while sale_id.is_none() || !acked {
        let frame = seller.next_of_any(&["ack", "sale_updated"]).await;
        match frame["sale"]["id"].as_str() {
            Some(id) => sale_id = Some(id.to_owned()),
            None => acked = true,
        }
    }
    let sale_id = sale_id.unwrap_or_default();
    Shop {
        server,
        seller,
        sale_id,
    }
}

/// `buyer` joins, buys `quantity` and confirms, paying by `payment`; her
/// client and the order.
async fn place(shop: &Shop, buyer: &str, quantity: u32, payment: &str) -> (Client, Value) {
    let (mut client, _) = shop.server.join("r1", Role::Viewer, buyer).await;
    client
        .send(
            json!({"id": "b", "type": "buy", "sale_id": shop.sale_id, "quantity": quantity,
                     "idempotency_key": format!("key-{buyer}-0001")}),
        )
        .await;
    let hold = client.next_of("buy_result").await["hold"].clone();
    client
        .send(
            json!({"id": "c", "type": "confirm_hold", "hold_id": hold["hold_id"],
                     "shipping": {"name": "Nguyễn Thị Lan", "phone": "0912 345 678",
                                  "address": "12 Hoàng Văn Thụ, TP Thái Nguyên"},
                     "payment": payment}),
        )
        .await;
    let order = client.next_of("order_confirmed").await["order"].clone();
    (client, order)
}

/// Waits until `client` is told the sale has `remaining` units.
async fn stock_seen(client: &mut Client, remaining: u64) {
    loop {
        let event = client.next_of_any(&["sale_stock", "sale_updated"]).await;
        let told = event["remaining"]
            .as_u64()
            .or(event["sale"]["remaining"].as_u64());
        if told == Some(remaining) {
            return;
        }
    }
}

async fn post(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(server.http(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn seller_token(server: &TestServer) -> String {
    server.token("r1", Role::Seller, "hoa")
}

async fn set_status(shop: &Shop, order: &Value, change: Value) -> (StatusCode, Value) {
    let path = format!(
        "/api/rooms/r1/orders/{}/status",
        order["order_id"].as_str().unwrap()
    );
    post(
        &shop.server,
        &path,
        Some(&seller_token(&shop.server)),
        change,
    )
    .await
}

async fn the_seller_ships_an_order_and_its_buyer_sees_every_step_live(store: Store) {
    let shop = shop(store).await;
    let (mut buyer, order) = place(&shop, "lan", 2, "cod").await;
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["payment"], "cod");
    let tag = order["status_tag"].as_str().unwrap().to_owned();
    let (mut watcher, _) = shop.server.join("r1", Role::Viewer, "minh").await;

    for (change, status) in [
        (json!({"status": "packed"}), "packed"),
        (
            json!({"status": "shipped", "carrier": "ghtk", "tracking_code": "S123-456"}),
            "shipped",
        ),
        (json!({"status": "delivered"}), "delivered"),
    ] {
        let (code, body) = set_status(&shop, &order, change).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        assert_eq!(body["changed"], true);
        assert_eq!(body["order"]["status"], status);
        let event = buyer.next_of("order_status").await;
        assert_eq!(event["status_tag"], tag.as_str());
        assert_eq!(event["status"], status);
        // Everyone hears that *an* order moved, never whose or which.
        let seen = watcher.next_of("order_status").await;
        for secret in ["order_id", "buyer_id", "0912", "S123"] {
            assert!(!seen.to_string().contains(secret), "{seen}");
        }
        assert!(!seen
            .to_string()
            .contains(order["order_id"].as_str().unwrap()));
    }
    let (_, again) = set_status(&shop, &order, json!({"status": "delivered"})).await;
    assert_eq!(again["changed"], false, "a repeat changes nothing");

    // She reads her orders again to see the details the event left out.
    buyer
        .send(json!({"id": "m", "type": "list_my_orders"}))
        .await;
    let mine = buyer.next_of("my_orders").await;
    assert_eq!(mine["id"], "m");
    assert_eq!(mine["orders"][0]["shipment"]["tracking_code"], "S123-456");
    assert_eq!(
        mine["orders"][0]["product_name"],
        "Chè Tân Cương đặc biệt 500g"
    );

    // A reload shows the order as it now stands.
    drop(buyer);
    let (mut reloaded, _) = shop.server.join("r1", Role::Viewer, "lan").await;
    let mine = reloaded.next_of("my_orders").await;
    assert_eq!(mine["orders"][0]["status"], "delivered");
    assert_eq!(mine["orders"][0]["shipment"]["carrier"], "ghtk");
    assert_eq!(mine["orders"][0]["history"].as_array().unwrap().len(), 3);
}

async fn the_buyer_cancels_her_order_and_its_units_go_back_on_sale(store: Store) {
    let mut shop = shop(store).await;
    let (mut buyer, order) = place(&shop, "lan", 3, "cod").await;
    stock_seen(&mut shop.seller, 7).await;
    buyer
        .send(json!({"id": "x", "type": "cancel_order", "order_id": order["order_id"]}))
        .await;
    // Her answer and the room's announcement, in either order (Redis).
    let (mut updated, mut announced) = (Value::Null, Value::Null);
    while updated.is_null() || announced.is_null() {
        let frame = buyer.next_of_any(&["order_updated", "order_status"]).await;
        match frame["type"].as_str() {
            Some("order_updated") => updated = frame,
            _ => announced = frame,
        }
    }
    assert_eq!(updated["id"], "x");
    assert_eq!(updated["order"]["status"], "cancelled");
    assert_eq!(updated["order"]["history"][0]["by"], "buyer");
    assert_eq!(announced["status"], "cancelled");
    assert_eq!(announced["status_tag"], order["status_tag"]);
    // The seller's screen shows the stock back.
    stock_seen(&mut shop.seller, 10).await;
    // Cancelling twice is harmless; someone else's order is not hers to cancel.
    buyer
        .send(json!({"id": "y", "type": "cancel_order", "order_id": order["order_id"]}))
        .await;
    assert_eq!(
        buyer.next_of("order_updated").await["order"]["status"],
        "cancelled"
    );
    let (_, other) = place(&shop, "minh", 1, "cod").await;
    buyer
        .send(json!({"id": "z", "type": "cancel_order", "order_id": other["order_id"]}))
        .await;
    let refused = buyer.next_of("error").await;
    assert_eq!(refused["id"], "z");
    assert_eq!(refused["code"], "forbidden");
}

async fn a_bulk_change_answers_for_each_order(store: Store) {
    let shop = shop(store).await;
    let (_, cash) = place(&shop, "lan", 1, "cod").await;
    let (_, transfer) = place(&shop, "minh", 1, "bank_transfer").await;
    let (code, results) = post(
        &shop.server,
        "/api/rooms/r1/orders/status",
        Some(&seller_token(&shop.server)),
        json!({"changes": [
            {"order_id": cash["order_id"], "status": "packed"},
            {"order_id": transfer["order_id"], "status": "packed"},
            {"order_id": "0000000000000000", "status": "packed"},
        ]}),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{results}");
    assert_eq!(results[0]["order"]["status"], "packed");
    assert_eq!(
        results[1]["error"]["code"], "invalid_transition",
        "unpaid transfer"
    );
    assert_eq!(results[2]["error"]["code"], "order_not_found");

    let (code, body) = post(
        &shop.server,
        "/api/rooms/r1/orders/status",
        Some(&seller_token(&shop.server)),
        json!({"changes": []}),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_value");
}

async fn the_order_page_needs_the_code_and_the_shipping_phone(store: Store) {
    let shop = shop(store).await;
    let (_, order) = place(&shop, "lan", 1, "cod").await;
    let id = order["order_id"].as_str().unwrap();
    let printed = format!("CP {}", id.to_uppercase());

    let (code, found) = post(
        &shop.server,
        "/api/orders/lookup",
        None,
        json!({"order_code": printed, "phone": "+84 912 345 678"}),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{found}");
    assert_eq!(found["order_id"], id);

    for (code_typed, phone) in [
        (printed.as_str(), "0987654321"),
        ("CP 0000000000000000", "0912345678"),
        ("not a code", "0912345678"),
        (printed.as_str(), "not a phone"),
    ] {
        let (status, body) = post(
            &shop.server,
            "/api/orders/lookup",
            None,
            json!({"order_code": code_typed, "phone": phone}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{code_typed} {phone}");
        assert_eq!(body["error"]["code"], "order_not_found");
    }

    let (code, cancelled) = post(
        &shop.server,
        "/api/orders/cancel",
        None,
        json!({"order_code": id, "phone": "0912345678"}),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
}

async fn only_the_rooms_seller_changes_its_orders(store: Store) {
    let shop = shop(store).await;
    let (_, order) = place(&shop, "lan", 1, "cod").await;
    let path = format!(
        "/api/rooms/r1/orders/{}/status",
        order["order_id"].as_str().unwrap()
    );
    let viewer = shop.server.token("r1", Role::Viewer, "lan");
    let (code, body) = post(
        &shop.server,
        &path,
        Some(&viewer),
        json!({"status": "packed"}),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let (code, _) = post(&shop.server, &path, None, json!({"status": "packed"})).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    shop.server.room("r2").await;
    let other_seller = shop.server.token("r2", Role::Seller, "hoa");
    let (code, _) = post(
        &shop.server,
        &path,
        Some(&other_seller),
        json!({"status": "packed"}),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    // The other room's seller cannot reach it through her own room either.
    let (code, body) = post(
        &shop.server,
        &path.replace("/r1/", "/r2/"),
        Some(&other_seller),
        json!({"status": "packed"}),
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "order_not_found");
}

async fn bad_order_changes_get_typed_errors_and_change_nothing(store: Store) {
    let shop = shop(store).await;
    let (_, order) = place(&shop, "lan", 1, "bank_transfer").await;
    for (change, status, code) in [
        (
            json!({"status": "teleported"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"status": "confirmed"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            json!({"status": "packed"}),
            StatusCode::CONFLICT,
            "invalid_transition",
        ),
        (
            json!({"status": "shipped", "carrier": "ghn", "tracking_code": "<b>x</b>"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
        ),
    ] {
        let (got, body) = set_status(&shop, &order, change.clone()).await;
        assert_eq!(got, status, "{change}: {body}");
        assert_eq!(body["error"]["code"], code, "{change}");
    }
    let token = seller_token(&shop.server);
    let listed: Value = reqwest::Client::new()
        .get(shop.server.http("/api/rooms/r1/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["orders"][0]["status"], "confirmed");
    assert_eq!(listed["orders"][0]["history"], json!([]));
}

async fn the_sellers_table_filters_by_status_and_search(store: Store) {
    let shop = shop(store).await;
    let (_, lan) = place(&shop, "lan", 1, "cod").await;
    let (_, _minh) = place(&shop, "minh", 2, "cod").await;
    set_status(&shop, &lan, json!({"status": "packed"})).await;
    let token = seller_token(&shop.server);
    let list = |query: &'static str| {
        let url = shop.server.http(&format!("/api/rooms/r1/orders{query}"));
        let token = token.clone();
        async move {
            let body: Value = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body
        }
    };
    let packed = list("?status=packed").await;
    assert_eq!(packed["orders"].as_array().unwrap().len(), 1);
    assert_eq!(packed["orders"][0]["order_id"], lan["order_id"]);
    // Buyers are named "Tên <id>"; the search ignores case.
    let by_name = list("?q=T%C3%8AN%20MINH").await;
    assert_eq!(by_name["orders"].as_array().unwrap().len(), 1);
    assert_eq!(by_name["orders"][0]["quantity"], 2);
    let by_code = {
        let code = lan["order_id"].as_str().unwrap()[..6].to_owned();
        let url = shop.server.http(&format!("/api/rooms/r1/orders?q={code}"));
        let body: Value = reqwest::Client::new()
            .get(url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body
    };
    assert_eq!(by_code["orders"][0]["order_id"], lan["order_id"]);
    assert_eq!(list("").await["units_sold"], 3);
}

#[tokio::test]
async fn order_page_lookups_are_rate_limited_per_address() {
    let mut config = test_config();
    config.orders.lookups_per_minute = 2;
    let server = TestServer::with_config(config).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (status, _) = post(
            &server,
            "/api/orders/lookup",
            None,
            json!({"order_code": "0000000000000000", "phone": "0912345678"}),
        )
        .await;
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses, [404, 404, 429]);
}
