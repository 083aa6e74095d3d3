//! The session journal and the seller's report (issue 12) over the wire, on
//! the memory store and on a real Redis: a scripted session with known
//! numbers gives exactly the expected metrics; chat replies quote the
//! question; product taps count; only the room's seller reads the report.

use chophien::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::{Store, TestServer};

crate::on_every_store!(
    a_scripted_session_gives_exactly_its_metrics,
    a_reply_quotes_the_question_it_answers,
    only_staff_may_reply_and_only_to_a_message_in_the_room,
    a_product_tap_must_name_a_product_of_the_room,
    only_the_rooms_seller_or_an_admin_reads_the_report,
);

async fn get(server: &TestServer, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(server.http(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("HTTP request")
}

async fn report(server: &TestServer, room: &str) -> Value {
    let token = server.token(room, Role::Seller, "hoa");
    let response = get(server, &format!("/api/rooms/{room}/report"), &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("report JSON")
}

/// The journal's lines of type `kind`.
async fn journal_lines(server: &TestServer, room: &str, kind: &str) -> Vec<Value> {
    let token = server.token(room, Role::Seller, "hoa");
    let response = get(server, &format!("/api/rooms/{room}/journal"), &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("journal body");
    body.lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|entry| entry["type"] == kind)
        .collect()
}

async fn live_room(server: &TestServer, room: &str) -> Client {
    server.room(room).await;
    let (mut seller, _) = server.join(room, Role::Seller, "hoa").await;
    seller.send(json!({"id": "live", "type": "go_live"})).await;
    seller.next_of("ack").await;
    seller
}

/// Waits for the `ack` of the request `id` (earlier acks are skipped).
async fn acked(client: &mut Client, id: &str) {
    while client.next_of("ack").await["id"] != id {}
}

async fn say(client: &mut Client, text: &str) -> u64 {
    client
        .send(json!({"id": "say", "type": "chat", "text": text}))
        .await;
    loop {
        let message = client.next_of("chat").await["message"].clone();
        if message["text"] == text {
            return message["id"].as_u64().expect("message id");
        }
    }
}

fn shipping() -> Value {
    json!({"name": "Nguyễn Thị Lan", "phone": "0912 345 678",
           "address": "12 Hoàng Văn Thụ, TP Thái Nguyên"})
}

/// Three viewers (one leaves and comes back), three comments of which two
/// are questions and one is answered, two product taps, a pin, a flash-sale
/// order and a bag order, five hearts.
async fn a_scripted_session_gives_exactly_its_metrics(store: Store) {
    let server = store.start().await;
    let mut seller = live_room(&server, "r1").await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    let (mut minh, _) = server.join("r1", Role::Viewer, "minh").await;
    let (tuan, _) = server.join("r1", Role::Viewer, "tuan").await;
    drop(tuan);
    // Tuấn's first visit is over before his second begins.
    let mut waited = 0;
    while journal_lines(&server, "r1", "left").await.is_empty() {
        waited += 1;
        assert!(waited < 100, "the leave was never journaled");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (mut tuan, _) = server.join("r1", Role::Viewer, "tuan").await;

    seller
        .send(json!({"id": "pin", "type": "pin_product", "product_id": "p1"}))
        .await;
    acked(&mut seller, "pin").await;
    tuan.next_of("product_pinned").await;

    let price_question = say(&mut lan, "Giá bao nhiêu?").await;
    say(&mut minh, "Trà ngon quá").await;
    say(&mut lan, "ship Hà Nội không").await;
    seller
        .send(json!({"id": "a", "type": "chat", "text": "250k chị ơi", "reply_to": price_question}))
        .await;
    acked(&mut seller, "a").await;

    minh.send(json!({"id": "v", "type": "view_product", "product_id": "p2"}))
        .await;
    acked(&mut minh, "v").await;
    lan.send(json!({"type": "view_product", "product_id": "p1"}))
        .await;

    seller
        .send(
            json!({"id": "s", "type": "start_sale", "product_id": "p1", "stock": 10,
                     "price_vnd": 199000, "per_buyer_limit": 2, "duration_secs": 600}),
        )
        .await;
    let sale = lan.next_of("sale_updated").await["sale"].clone();
    lan.send(
        json!({"id": "b", "type": "buy", "sale_id": sale["id"], "quantity": 2,
                    "idempotency_key": "key-lan-00001"}),
    )
    .await;
    let hold = lan.next_of("buy_result").await["hold"].clone();
    let confirm = json!({"id": "c", "type": "confirm_hold", "hold_id": hold["hold_id"],
                         "shipping": shipping()});
    lan.send(confirm.clone()).await;
    lan.next_of("order_confirmed").await;
    // A retried confirmation is the same order, counted once.
    lan.send(confirm).await;
    lan.next_of("order_confirmed").await;

    minh.send(
        json!({"id": "g", "type": "add_to_bag", "product_id": "p2", "quantity": 1,
                     "idempotency_key": "key-minh-0001"}),
    )
    .await;
    let line = minh.next_of("bag_result").await["hold"].clone();
    minh.send(
        json!({"id": "k", "type": "checkout_bag", "hold_ids": [line["hold_id"]],
                     "shipping": shipping()}),
    )
    .await;
    minh.next_of("order_confirmed").await;

    minh.send(json!({"type": "heart", "count": 5})).await;
    let mut hearts = 0;
    while hearts < 5 {
        hearts += seller.next_of("hearts").await["count"]
            .as_u64()
            .unwrap_or(0);
    }

    seller.send(json!({"id": "end", "type": "end_live"})).await;
    acked(&mut seller, "end").await;

    let report = report(&server, "r1").await;
    let m = &report["metrics"];
    let expected = json!({
        "views": 4, "unique_viewers": 3, "peak_viewers": 3,
        "comments": 3, "hearts": 5,
        "impressions": 4, "clicks": 2, "ctr": 0.5, "ctor": 1.0,
        "product_visitors": 2, "buyers": 2, "orders": 2, "units": 3,
        "gmv_vnd": 2 * 199_000 + 180_000, "conversion": 1.0,
        "vouchers_dropped": 0, "vouchers_claimed": 0, "orders_with_voucher": 0,
        "voucher_use": 0.0, "questions": 2, "questions_answered": 1, "answer_rate": 0.5,
    });
    for (name, value) in expected.as_object().unwrap() {
        assert_eq!(&m[name], value, "{name}");
    }
    let guided = m["guided_rate"].as_f64().unwrap();
    assert!((guided - 2.0 / 3.0).abs() < 1e-9, "guided_rate {guided}");
    let gpm = m["gpm_vnd"].as_f64().unwrap();
    assert!((gpm - 578_000.0 * 1000.0 / 4.0).abs() < 1e-6, "gpm {gpm}");
    assert!(m["median_answer_secs"].as_f64().unwrap() >= 0.0);
    assert!(m["avg_view_secs"].as_f64().unwrap() > 0.0);

    assert_eq!(report["room"]["status"], "ended");
    assert_eq!(report["room"]["title"], "Phiên thử");
    let kinds: Vec<&str> = report["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["live", "pin", "sale_started", "ended"]);
    let top = &report["top_products"][0];
    assert_eq!(
        (&top["product_id"], &top["units"], &top["gmv_vnd"]),
        (&json!("p1"), &json!(2), &json!(398_000))
    );
    let points = report["series"]["points"].as_array().unwrap();
    let orders: u64 = points.iter().map(|p| p["orders"].as_u64().unwrap()).sum();
    assert_eq!(orders, 2, "the curves add up to the totals");
}

async fn a_reply_quotes_the_question_it_answers(store: Store) {
    let server = store.start().await;
    let mut seller = live_room(&server, "r1").await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    let asked = say(&mut lan, "Trà pha mấy lần được?").await;
    seller
        .send(json!({"type": "chat", "text": "5–6 lần nước chị nhé", "reply_to": asked}))
        .await;
    let answer = lan.next_of("chat").await["message"].clone();
    assert_eq!(answer["role"], "seller");
    assert_eq!(
        answer["reply_to"],
        json!({"id": asked, "user_id": "lan", "name": "Tên lan", "text": "Trà pha mấy lần được?"})
    );
    // A joiner's snapshot carries the quote too.
    let (_, snapshot) = server.join("r1", Role::Viewer, "minh").await;
    let last = snapshot["chat"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reply_to"]["id"], asked);
}

async fn only_staff_may_reply_and_only_to_a_message_in_the_room(store: Store) {
    let server = store.start().await;
    let mut seller = live_room(&server, "r1").await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    let asked = say(&mut seller, "Chào cả nhà").await;
    lan.send(json!({"id": "r", "type": "chat", "text": "chào chị", "reply_to": asked}))
        .await;
    let error = lan.next_of("error").await;
    assert_eq!(
        (&error["id"], &error["code"]),
        (&json!("r"), &json!("forbidden"))
    );
    seller
        .send(json!({"id": "r", "type": "chat", "text": "?", "reply_to": 999}))
        .await;
    assert_eq!(seller.next_of("error").await["code"], "message_not_found");
    let (mut moderator, _) = server.join("r1", Role::Moderator, "mod").await;
    moderator
        .send(json!({"id": "m", "type": "chat", "text": "Dạ có ạ", "reply_to": asked}))
        .await;
    acked(&mut moderator, "m").await;
}

async fn a_product_tap_must_name_a_product_of_the_room(store: Store) {
    let server = store.start().await;
    let _seller = live_room(&server, "r1").await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    lan.send(json!({"id": "t", "type": "view_product", "product_id": "p404"}))
        .await;
    let error = lan.next_of("error").await;
    assert_eq!(
        (&error["id"], &error["code"]),
        (&json!("t"), &json!("product_not_found"))
    );
    lan.send(json!({"id": "t", "type": "view_product"})).await;
    assert_eq!(lan.next_of("error").await["code"], "bad_request");
    lan.send(json!({"id": "ok", "type": "view_product", "product_id": "p1"}))
        .await;
    acked(&mut lan, "ok").await;
    let taps = journal_lines(&server, "r1", "product_viewed").await;
    assert_eq!(
        taps,
        [json!({"at": taps[0]["at"], "type": "product_viewed",
                             "user_id": "lan", "product_id": "p1"})]
    );
}

async fn only_the_rooms_seller_or_an_admin_reads_the_report(store: Store) {
    let server = store.start().await;
    let _seller = live_room(&server, "r1").await;
    server.room("r2").await;
    for path in [
        "/api/rooms/r1/report",
        "/api/rooms/r1/report.csv",
        "/api/rooms/r1/journal",
    ] {
        let viewer = server.token("r1", Role::Viewer, "lan");
        let other_seller = server.token("r2", Role::Seller, "hoa");
        let admin = server.token("*", Role::Admin, "root");
        let seller = server.token("r1", Role::Seller, "hoa");
        assert_eq!(
            get(&server, path, &viewer).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
        let refused = get(&server, path, &other_seller).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
        assert_eq!(
            get(&server, path, &admin).await.status(),
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            get(&server, path, &seller).await.status(),
            StatusCode::OK,
            "{path}"
        );
        let forged = format!("{seller}x");
        assert_eq!(
            get(&server, path, &forged).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let admin = server.token("*", Role::Admin, "root");
    let unknown = get(&server, "/api/rooms/nope/report", &admin).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let seller = server.token("r1", Role::Seller, "hoa");
    let bad = get(&server, "/api/rooms/r1/report?bucket_secs=1", &seller).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let csv = get(&server, "/api/rooms/r1/report.csv", &seller).await;
    assert!(csv.text().await.unwrap().contains("Phiên thử"));
}
