//! Vouchers over the WebSocket and HTTP (issue 11, part 3), on the memory
//! store and on a real Redis: the seller creates them over HTTP, drops one
//! during the live and exactly its number of viewers claim it; a buyer
//! applies one at checkout; guessing codes is rate-limited.

use chophien::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::{test_config, Store, TestServer};

crate::on_every_store!(
    the_seller_creates_and_lists_vouchers_and_only_she_may,
    a_drop_goes_to_exactly_its_number_of_viewers,
    a_buyer_applies_a_voucher_at_checkout_and_the_order_records_it,
);

async fn create(server: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.http("/api/rooms/r1/vouchers"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn voucher(code: &str, uses: u32, drop: bool) -> Value {
    let ends_at = chophien::clock::unix_millis() + 3_600_000;
    json!({"code": code, "discount": {"kind": "fixed", "amount_vnd": 20000},
           "total_uses": uses, "ends_at": ends_at, "drop": drop})
}

async fn the_seller_creates_and_lists_vouchers_and_only_she_may(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let seller = server.token("r1", Role::Seller, "hoa");
    let (status, made) = create(&server, &seller, voucher("giam20", 10, false)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["code"], "GIAM20");
    let (status, again) = create(&server, &seller, voucher("GIAM20", 10, false)).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_exists"))
    );
    let (status, bad) = create(&server, &seller, json!({"code": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (status, bad) = create(&server, &seller, voucher("G", 10, false)).await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_value"))
    );
    let viewer = server.token("r1", Role::Viewer, "lan");
    let (status, _) = create(&server, &viewer, voucher("LAN", 10, false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let listed: Value = reqwest::Client::new()
        .get(server.http("/api/rooms/r1/vouchers"))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["vouchers"][0]["code"], "GIAM20");
    assert_eq!(listed["vouchers"][0]["used"], 0);
}

async fn a_drop_goes_to_exactly_its_number_of_viewers(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let token = server.token("r1", Role::Seller, "hoa");
    create(&server, &token, voucher("SAN2", 2, true)).await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let mut viewers: Vec<Client> = Vec::new();
    for name in ["an", "binh", "chi", "dung", "em"] {
        viewers.push(server.join("r1", Role::Viewer, name).await.0);
    }
    seller
        .send(json!({"id": "d", "type": "drop_voucher", "code": "san2"}))
        .await;
    for viewer in &mut viewers {
        let dropped = viewer.next_of("voucher_dropped").await;
        assert_eq!(dropped["voucher"]["code"], "SAN2");
        viewer
            .send(json!({"id": "c", "type": "claim_voucher", "code": "SAN2"}))
            .await;
    }
    let mut claimed = 0;
    for viewer in &mut viewers {
        let answer = viewer.next_of_any(&["voucher_claimed", "error"]).await;
        match answer["type"].as_str() {
            Some("voucher_claimed") => claimed += 1,
            _ => assert_eq!(answer["code"], "voucher_used_up", "{answer}"),
        }
    }
    assert_eq!(claimed, 2, "exactly the drop's number");
}

async fn a_buyer_applies_a_voucher_at_checkout_and_the_order_records_it(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let token = server.token("r1", Role::Seller, "hoa");
    create(&server, &token, voucher("GIAM20", 10, false)).await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    seller
        .send(
            json!({"type": "start_sale", "product_id": "p1", "stock": 5, "price_vnd": 199000,
                     "per_buyer_limit": 2, "duration_secs": 600}),
        )
        .await;
    let sale_id = lan.next_of("sale_updated").await["sale"]["id"].clone();
    lan.send(
        json!({"id": "b", "type": "buy", "sale_id": sale_id, "quantity": 1,
                    "idempotency_key": "key-lan-000001"}),
    )
    .await;
    let hold = lan.next_of("buy_result").await["hold"]["hold_id"].clone();
    let shipping = json!({"name": "Lan", "phone": "0912345678", "address": "12 Hoàng Văn Thụ"});
    lan.send(
        json!({"id": "x", "type": "confirm_hold", "hold_id": hold, "shipping": shipping,
                    "voucher_code": "NOPE99"}),
    )
    .await;
    let refused = lan.next_of("error").await;
    assert_eq!(
        (refused["id"].as_str(), refused["code"].as_str()),
        (Some("x"), Some("voucher_not_found"))
    );
    lan.send(
        json!({"id": "c", "type": "confirm_hold", "hold_id": hold, "shipping": shipping,
                    "voucher_code": "giam20"}),
    )
    .await;
    let order = lan.next_of("order_confirmed").await["order"].clone();
    assert_eq!(order["voucher_code"], "GIAM20");
    assert_eq!(order["discount_vnd"], 20_000);
    assert_eq!(order["total_vnd"], 179_000);
}

#[tokio::test]
async fn trying_codes_one_after_another_is_rate_limited() {
    let mut config = test_config();
    config.orders.voucher_tries_per_minute = 3;
    let server = TestServer::with_config(config).await;
    server.room("r1").await;
    let (mut guesser, _) = server.join("r1", Role::Viewer, "lan").await;
    let mut codes = Vec::new();
    for n in 0..4 {
        guesser
            .send(json!({"id": format!("g{n}"), "type": "claim_voucher", "code": format!("GUESS{n}")}))
            .await;
        codes.push(
            guesser.next_of("error").await["code"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        codes,
        [
            "voucher_not_found",
            "voucher_not_found",
            "voucher_not_found",
            "rate_limited"
        ]
    );
}
