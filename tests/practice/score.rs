//! The practice scorecard and the trainer's review over HTTP (issue 13,
//! section 6), on the memory store and on a real Redis: a scripted attempt
//! gives exactly its scorecard; marks and annotations round-trip through
//! the journal; only the room's trainer, its seller (the trainee) or an
//! admin get in.
//!
//! Scenario and compliance records are written into the journal as their
//! runners would (`Record::ScenarioFired`, `Record::ComplianceFlagged`):
//! the scorecard reads the journal alone.

use std::time::Duration;

use chophien::auth::Role;
use chophien::clock::unix_millis;
use chophien::journal::Record;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::{Store, TestServer};

crate::on_every_store!(
    a_scripted_attempt_gives_exactly_its_scorecard,
    marks_and_annotations_round_trip_through_the_journal,
);

async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method, server.http(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("HTTP request")
}

async fn get(server: &TestServer, path: &str, token: &str) -> reqwest::Response {
    send(server, reqwest::Method::GET, path, token, None).await
}

async fn put(server: &TestServer, path: &str, token: &str, body: Value) -> reqwest::Response {
    send(server, reqwest::Method::PUT, path, token, Some(body)).await
}

async fn post(server: &TestServer, path: &str, token: &str, body: Value) -> reqwest::Response {
    send(server, reqwest::Method::POST, path, token, Some(body)).await
}

async fn ok_json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON body")
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

async fn live_room(server: &TestServer, room: &str) -> Client {
    server.room(room).await;
    let (mut seller, _) = server.join(room, Role::Seller, "hoa").await;
    seller.send(json!({"id": "live", "type": "go_live"})).await;
    acked(&mut seller, "live").await;
    seller
}

fn parts(card: &Value) -> Vec<f64> {
    card["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| p["points"].as_f64().expect("points"))
        .collect()
}

/// Two viewers see p1 pinned and ask a question each; the trainee answers
/// one after more than a second; a scenario fires and she speaks at once;
/// one compliance warning; a flash sale of 10 × 199 000 where Lan buys 2;
/// the trainer marks 7 and 9.
async fn a_scripted_attempt_gives_exactly_its_scorecard(store: Store) {
    let server = store.start().await;
    let mut seller = live_room(&server, "r1").await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    let (mut minh, _) = server.join("r1", Role::Viewer, "minh").await;
    seller
        .send(json!({"id": "pin", "type": "pin_product", "product_id": "p1"}))
        .await;
    acked(&mut seller, "pin").await;
    minh.next_of("product_pinned").await;

    let asked = say(&mut lan, "Giá bao nhiêu?").await;
    say(&mut minh, "ship Hà Nội không").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    seller
        .send(json!({"id": "a", "type": "chat", "text": "250k chị ơi", "reply_to": asked}))
        .await;
    acked(&mut seller, "a").await;

    let journal = &server.state.journal;
    journal.record(
        "r1",
        unix_millis(),
        Record::ScenarioFired {
            scenario_id: "angry_customer".into(),
            title: "Khách giận vì giao hàng chậm".into(),
            how: "live".into(),
        },
    );
    seller
        .send(json!({"id": "sorry", "type": "chat", "text": "Dạ shop xin lỗi chị ạ"}))
        .await;
    acked(&mut seller, "sorry").await;
    journal.record(
        "r1",
        unix_millis(),
        Record::ComplianceFlagged {
            rule_id: "absolute_claim".into(),
            severity: "warning".into(),
            source: "chat".into(),
            excerpt: "tốt nhất".into(),
        },
    );

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
    lan.send(
        json!({"id": "c", "type": "confirm_hold", "hold_id": hold["hold_id"],
                    "shipping": {"name": "Nguyễn Thị Lan", "phone": "0912 345 678",
                                 "address": "12 Hoàng Văn Thụ, TP Thái Nguyên"}}),
    )
    .await;
    lan.next_of("order_confirmed").await;
    seller.send(json!({"id": "end", "type": "end_live"})).await;
    acked(&mut seller, "end").await;

    let trainer = server.token("r1", Role::Trainer, "gv");
    let marks = json!({"presentation": 7, "product_knowledge": 9, "comment": "Giọng rõ"});
    let given = ok_json(put(&server, "/api/practice/rooms/r1/marks", &trainer, marks).await).await;
    assert_eq!(given["marks"]["by"], "gv");

    let trainee = server.token("r1", Role::Seller, "hoa");
    let card = ok_json(get(&server, "/api/practice/rooms/r1/scorecard", &trainee).await).await;
    // Interaction 25 − 12.5 ÷ 2 (one question of two unanswered; the median
    // answer is under 30 s). Selling 25 − 25/3 × 0.5 (CTR: both saw p1, Lan
    // bought) − 25/3 × 0.8 (GMV 398 000 of 1 990 000). Scenarios: answered
    // at once, nobody left. Compliance 15 − 3.75. Marks 7 and 9.
    assert_eq!(parts(&card), [18.75, 14.17, 15.0, 11.25, 7.0, 9.0]);
    assert_eq!(card["total"], 75.17);
    let f = &card["figures"];
    assert_eq!(
        (&f["questions"], &f["questions_answered"]),
        (&json!(2), &json!(1))
    );
    let median = f["median_answer_secs"].as_f64().unwrap();
    assert!((1.2..30.0).contains(&median), "answered after {median} s");
    assert_eq!((&f["ctr"], &f["conversion"]), (&json!(0.5), &json!(1.0)));
    assert_eq!(
        (&f["gmv_vnd"], &f["offered_vnd"]),
        (&json!(398_000), &json!(1_990_000))
    );
    assert_eq!((&f["warnings"], &f["serious"]), (&json!(1), &json!(0)));
    let scenario = &f["scenarios"][0];
    assert_eq!(scenario["title"], "Khách giận vì giao hàng chậm");
    assert_eq!(
        (&scenario["viewers_before"], &scenario["viewers_after"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(f["marks"]["comment"], "Giọng rõ");

    let unanswered = &card["parts"][0]["lost"][0];
    assert_eq!(
        unanswered["reason_vi"],
        "Câu hỏi chưa được trả lời: «ship Hà Nội không»"
    );
    let at = unanswered["at"].as_u64().unwrap();
    assert_eq!(
        unanswered["replay_url"],
        format!("/replay.html?room=r1&t={at}")
    );

    // The trainer's weights change the same attempt's score.
    let weights = json!({"interaction": 50, "selling": 0, "scenarios": 0,
                         "compliance": 50, "presentation": 0, "product_knowledge": 0});
    ok_json(put(&server, "/api/practice/rooms/r1/weights", &trainer, weights).await).await;
    let card = ok_json(get(&server, "/api/practice/rooms/r1/scorecard", &trainer).await).await;
    assert_eq!(parts(&card), [37.5, 0.0, 0.0, 37.5, 0.0, 0.0]);
    assert_eq!(card["weights"]["interaction"], 50);
}

async fn marks_and_annotations_round_trip_through_the_journal(store: Store) {
    let server = store.start().await;
    let mut seller = live_room(&server, "r1").await;
    let started = unix_millis();
    say(&mut seller, "Chào cả nhà").await;
    let trainer = server.token("r1", Role::Trainer, "gv");
    let trainee = server.token("r1", Role::Seller, "hoa");

    for (presentation, knowledge) in [(4, 5), (8, 6)] {
        let marks = json!({"presentation": presentation, "product_knowledge": knowledge});
        ok_json(put(&server, "/api/practice/rooms/r1/marks", &trainer, marks).await).await;
    }
    let card = ok_json(get(&server, "/api/practice/rooms/r1/scorecard", &trainee).await).await;
    assert_eq!(
        (&card["parts"][4]["points"], &card["parts"][5]["points"]),
        (&json!(8.0), &json!(6.0))
    );

    let note =
        json!({"moment": started, "text": "Chào hỏi tự nhiên, nên giới thiệu sản phẩm sớm hơn"});
    let created = post(
        &server,
        "/api/practice/rooms/r1/annotations",
        &trainer,
        note,
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["annotation"]["moment"], started);

    let listed = ok_json(get(&server, "/api/practice/rooms/r1/annotations", &trainee).await).await;
    let notes = listed["annotations"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (&notes[0]["by"], &notes[0]["moment"], &notes[0]["text"]),
        (
            &json!("gv"),
            &json!(started),
            &json!("Chào hỏi tự nhiên, nên giới thiệu sản phẩm sớm hơn")
        )
    );

    // On the replay's timeline: for the trainee and the trainer only.
    for token in [&trainee, &trainer] {
        let timeline = ok_json(get(&server, "/api/rooms/r1/timeline", token).await).await;
        assert_eq!(timeline["annotations"][0]["moment"], started);
    }
    let published = put(
        &server,
        "/api/rooms/r1/replay",
        &trainee,
        json!({"published": true}),
    )
    .await;
    assert_eq!(published.status(), StatusCode::OK);
    let public = reqwest::get(server.http("/api/rooms/r1/timeline"))
        .await
        .unwrap();
    let public: Value = public.json().await.unwrap();
    assert!(public["entries"].is_array());
    assert!(
        public.get("annotations").is_none(),
        "the public replay has no annotations"
    );
    let viewer = server.token("r1", Role::Viewer, "lan");
    let seen = ok_json(get(&server, "/api/rooms/r1/timeline", &viewer).await).await;
    assert!(seen.get("annotations").is_none());
}

#[tokio::test]
async fn only_the_rooms_trainer_seller_or_an_admin_see_its_scorecard() {
    let server = Store::Memory.start().await;
    let _seller = live_room(&server, "r1").await;
    server.room("r2").await;
    let path = "/api/practice/rooms/r1/scorecard";
    for (token, status) in [
        (
            server.token("r1", Role::Viewer, "lan"),
            StatusCode::FORBIDDEN,
        ),
        (
            server.token("r1", Role::Moderator, "mod"),
            StatusCode::FORBIDDEN,
        ),
        (
            server.token("r2", Role::Seller, "hoa"),
            StatusCode::FORBIDDEN,
        ),
        (
            server.token("r2", Role::Trainer, "gv"),
            StatusCode::FORBIDDEN,
        ),
        (server.token("r1", Role::Seller, "hoa"), StatusCode::OK),
        (server.token("r1", Role::Trainer, "gv"), StatusCode::OK),
        // r1 is in none of this trainer's classes.
        (
            server.token("*", Role::Trainer, "gv"),
            StatusCode::FORBIDDEN,
        ),
        (server.token("*", Role::Admin, "root"), StatusCode::OK),
    ] {
        let response = get(&server, path, &token).await;
        assert_eq!(response.status(), status);
        if status == StatusCode::FORBIDDEN {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "forbidden");
        }
    }
    let forged = format!("{}x", server.token("r1", Role::Trainer, "gv"));
    assert_eq!(
        get(&server, path, &forged).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let admin = server.token("*", Role::Admin, "root");
    let unknown = get(&server, "/api/practice/rooms/nope/scorecard", &admin).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_trainee_reads_her_review_but_may_not_write_it() {
    let server = Store::Memory.start().await;
    let _seller = live_room(&server, "r1").await;
    let trainee = server.token("r1", Role::Seller, "hoa");
    let marks = json!({"presentation": 10, "product_knowledge": 10});
    let refused = put(&server, "/api/practice/rooms/r1/marks", &trainee, marks).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let note = json!({"moment": unix_millis(), "text": "Tự khen"});
    let refused = post(
        &server,
        "/api/practice/rooms/r1/annotations",
        &trainee,
        note,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let weights = json!({"interaction": 100, "selling": 0, "scenarios": 0,
                         "compliance": 0, "presentation": 0, "product_knowledge": 0});
    let refused = put(&server, "/api/practice/rooms/r1/weights", &trainee, weights).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let listed = get(&server, "/api/practice/rooms/r1/annotations", &trainee).await;
    assert_eq!(listed.status(), StatusCode::OK);
}

/// The 422's `field`.
async fn refused_field(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_value");
    body["error"]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn bad_weights_marks_and_annotations_are_refused_naming_the_field() {
    let server = Store::Memory.start().await;
    let _seller = live_room(&server, "r1").await;
    let trainer = server.token("r1", Role::Trainer, "gv");
    let weights = |selling: Value| {
        json!({"interaction": 25, "selling": selling, "scenarios": 15,
               "compliance": 15, "presentation": 10, "product_knowledge": 10})
    };
    let path = "/api/practice/rooms/r1/weights";
    for (selling, field) in [
        (json!(30), "weights"),
        (json!(-5), "selling"),
        (json!(101), "selling"),
    ] {
        let response = put(&server, path, &trainer, weights(selling)).await;
        assert_eq!(refused_field(response).await, field);
    }
    let mut missing = weights(json!(25));
    missing.as_object_mut().unwrap().remove("compliance");
    assert_eq!(
        refused_field(put(&server, path, &trainer, missing).await).await,
        "compliance"
    );
    // Refused weights changed nothing.
    let card = ok_json(get(&server, "/api/practice/rooms/r1/scorecard", &trainer).await).await;
    assert_eq!(card["weights"]["selling"], 25);

    let marks = json!({"presentation": 11, "product_knowledge": 5});
    let response = put(&server, "/api/practice/rooms/r1/marks", &trainer, marks).await;
    assert_eq!(refused_field(response).await, "presentation");
    let notes = "/api/practice/rooms/r1/annotations";
    let empty = json!({"moment": unix_millis(), "text": "   "});
    assert_eq!(
        refused_field(post(&server, notes, &trainer, empty).await).await,
        "text"
    );
    let long = json!({"moment": unix_millis(), "text": "a".repeat(501)});
    assert_eq!(
        refused_field(post(&server, notes, &trainer, long).await).await,
        "text"
    );
    let before = json!({"moment": 1_000, "text": "Trước khi mở phòng"});
    assert_eq!(
        refused_field(post(&server, notes, &trainer, before).await).await,
        "moment"
    );
    let listed = ok_json(get(&server, notes, &trainer).await).await;
    assert_eq!(listed["annotations"], json!([]));
}

#[tokio::test]
async fn attempts_compare_side_by_side_and_export_as_csv() {
    let server = Store::Memory.start().await;
    let mut first = live_room(&server, "r1").await;
    let mut second = live_room(&server, "r2").await;
    for (seller, id) in [(&mut first, "r1"), (&mut second, "r2")] {
        seller.send(json!({"id": "end", "type": "end_live"})).await;
        acked(seller, "end").await;
        let trainer = server.token(id, Role::Trainer, "gv");
        let mark = if id == "r1" { 5 } else { 9 };
        let marks = json!({"presentation": mark, "product_knowledge": mark});
        ok_json(
            put(
                &server,
                &format!("/api/practice/rooms/{id}/marks"),
                &trainer,
                marks,
            )
            .await,
        )
        .await;
    }
    let trainer = server.token("*", Role::Admin, "root");
    let comparison =
        ok_json(get(&server, "/api/practice/compare?rooms=r1,r2", &trainer).await).await;
    let rooms: Vec<&str> = comparison["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["room_id"].as_str().unwrap())
        .collect();
    assert_eq!(rooms, ["r1", "r2"]);
    assert_eq!(
        (
            &comparison["attempts"][0]["rank"],
            &comparison["attempts"][1]["rank"]
        ),
        (&json!(2), &json!(1))
    );
    let presentation = &comparison["rows"][4];
    assert_eq!(presentation["part"], "presentation");
    assert_eq!(
        (&presentation["points"], &presentation["best"]),
        (&json!([5.0, 9.0]), &json!(1))
    );

    let csv = get(
        &server,
        "/api/practice/scorecards.csv?rooms=r1,r2",
        &trainer,
    )
    .await;
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("Phòng,Phiên,Người bán"));
    assert!(lines[1].starts_with("r1,Phiên thử,Chị Hoa"));

    // Only someone who may see every room compares them.
    let one_room = server.token("r1", Role::Trainer, "gv");
    let refused = get(&server, "/api/practice/compare?rooms=r1,r2", &one_room).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let trainee = server.token("r1", Role::Seller, "hoa");
    let refused = get(
        &server,
        "/api/practice/scorecards.csv?rooms=r1,r2",
        &trainee,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let none = get(&server, "/api/practice/compare?rooms=", &trainer).await;
    assert_eq!(refused_field(none).await, "rooms");
}

#[tokio::test]
async fn a_trainer_reviews_the_rooms_of_her_own_classes_only() {
    let server = Store::Memory.start().await;
    let class = crate::classes::open_class(&server, &["Lan"]).await;
    let room = class["rooms"][0]["room_id"].as_str().unwrap().to_owned();
    let mut seller =
        Client::join(&server.ws_url(&room, &crate::classes::studio_token(&class["rooms"][0])))
            .await
            .0;
    seller.send(json!({"type": "go_live", "id": "live"})).await;
    acked(&mut seller, "live").await;
    let path = format!("/api/practice/rooms/{room}/scorecard");
    let owner = crate::classes::trainer(&server, "co-hoa");
    assert_eq!(get(&server, &path, &owner).await.status(), StatusCode::OK);
    let other = crate::classes::trainer(&server, "co-mai");
    let refused = get(&server, &path, &other).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let marks = json!({"presentation": 9, "product_knowledge": 9});
    let path = format!("/api/practice/rooms/{room}/marks");
    assert_eq!(
        put(&server, &path, &other, marks).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_trainer_sees_her_class_rooms_unpublished_recordings_and_no_one_elses() {
    let server = Store::Memory.start().await;
    let class = crate::classes::open_class(&server, &["Lan"]).await;
    let room = class["rooms"][0]["room_id"].as_str().unwrap().to_owned();
    let path = format!("/api/rooms/{room}/recordings");
    let owner = crate::classes::trainer(&server, "co-hoa");
    assert_eq!(get(&server, &path, &owner).await.status(), StatusCode::OK);
    let other = crate::classes::trainer(&server, "co-mai");
    assert_eq!(
        get(&server, &path, &other).await.status(),
        StatusCode::FORBIDDEN
    );
}
