//! The simulated audience (issue 13, §2), black-box: bots join a practice
//! room as viewers through the room's own paths, chat in Vietnamese from
//! their personas, buy in flash sales, answer the trainee's replies, leave
//! when stopped or when the room ends, and a seeded lesson replays exactly.

use std::collections::BTreeSet;
use std::time::Duration;

use chophien::auth::Role;
use chophien::practice::audience::persona::PersonaBook;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::TestServer;

/// Long enough for anything a lesson at ×50 does in a few lesson minutes.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn trainer(server: &TestServer, room: &str) -> String {
    server.token(room, Role::Trainer, "co-lan")
}

pub async fn call(
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

/// Start `room`'s audience as its trainer.
pub async fn start(server: &TestServer, room: &str, settings: Value) -> reqwest::Response {
    let path = format!("/api/practice/rooms/{room}/audience");
    call(
        server,
        reqwest::Method::POST,
        &path,
        &trainer(server, room),
        Some(settings),
    )
    .await
}

pub async fn started(server: &TestServer, room: &str, settings: Value) {
    let response = start(server, room, settings).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{:?}",
        response.text().await
    );
}

/// Fire scenario `id` live, as the room's trainer.
pub async fn fire(server: &TestServer, room: &str, id: &str) -> reqwest::Response {
    let path = format!("/api/practice/rooms/{room}/scenarios/{id}");
    call(
        server,
        reqwest::Method::POST,
        &path,
        &trainer(server, room),
        None,
    )
    .await
}

/// A room whose seller (the trainee) is live; her client and the snapshot.
pub async fn live_room(server: &TestServer, room: &str) -> (Client, Value) {
    server.practice_room(room).await;
    let (mut seller, snapshot) = server.join(room, Role::Seller, "hoa").await;
    seller.send(json!({"id": "live", "type": "go_live"})).await;
    while seller.next_of("ack").await["id"] != "live" {}
    (seller, snapshot)
}

/// The room's journal, as its seller downloads it.
pub async fn journal(server: &TestServer, room: &str) -> Vec<Value> {
    server.state.journal.flush().await;
    let token = server.token(room, Role::Seller, "hoa");
    let path = format!("/api/rooms/{room}/journal");
    let response = call(server, reqwest::Method::GET, &path, &token, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("journal body");
    body.lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .collect()
}

/// Read `client`'s frames until one satisfies `found` (within [`PATIENCE`]).
pub async fn until(client: &mut Client, mut found: impl FnMut(&Value) -> bool) -> Value {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let frame = client.next().await;
            if found(&frame) {
                return frame;
            }
        }
    })
    .await
    .expect("the awaited frame never came")
}

/// A chat message frame from a bot.
pub fn bot_chat(frame: &Value) -> bool {
    frame["type"] == "chat"
        && frame["message"]["user_id"]
            .as_str()
            .is_some_and(|u| u.starts_with("bot-"))
}

/// Wait until the room's viewer count is at least `n`.
pub async fn viewers_at_least(client: &mut Client, n: u64) -> u64 {
    let frame = until(client, |f| {
        f["type"] == "viewer_count" && f["count"].as_u64().unwrap_or(0) >= n
    })
    .await;
    frame["count"].as_u64().unwrap_or(0)
}

fn every_phrase(
    pick: impl Fn(&chophien::practice::audience::persona::Phrases) -> Vec<String>,
) -> BTreeSet<String> {
    PersonaBook::builtin()
        .all()
        .iter()
        .flat_map(|p| pick(&p.phrases))
        .collect()
}

#[tokio::test]
async fn bots_join_as_viewers_and_the_room_counts_them() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "lop-1").await;
    started(&server, "lop-1", json!({"seed": 1, "size": 6, "speed": 50})).await;

    assert!(viewers_at_least(&mut seller, 6).await >= 6);
    let joined: Vec<Value> = journal(&server, "lop-1")
        .await
        .into_iter()
        .filter(|e| e["type"] == "joined" && e["role"] == "viewer")
        .collect();
    assert!(joined.len() >= 6, "{joined:?}");
    assert!(joined
        .iter()
        .all(|e| e["user_id"].as_str().unwrap().starts_with("bot-")));
}

#[tokio::test]
async fn bots_chat_in_vietnamese_from_their_personas() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "lop-2").await;
    started(&server, "lop-2", json!({"seed": 2, "size": 8, "speed": 50})).await;

    let said = every_phrase(|p| {
        [
            &p.greeting,
            &p.question,
            &p.thanks,
            &p.complaint,
            &p.on_pin,
            &p.on_sale,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    });
    for _ in 0..3 {
        let frame = until(&mut seller, bot_chat).await;
        let message = &frame["message"];
        assert_eq!(message["role"], "viewer");
        let text = message["text"].as_str().unwrap();
        assert!(said.contains(text), "not a persona's phrase: {text}");
    }
}

/// The bots' part of a journal: kind, user, and what (text or product);
/// never times or visit ids.
fn bot_acts(journal: &[Value]) -> Vec<String> {
    journal
        .iter()
        .filter_map(|e| {
            let user = |v: &Value| {
                v.as_str()
                    .filter(|u| u.starts_with("bot-"))
                    .map(str::to_owned)
            };
            match e["type"].as_str()? {
                "joined" => Some(format!("joined {} {}", user(&e["user_id"])?, e["name"])),
                "left" => Some(format!("left {}", user(&e["user_id"])?)),
                "product_viewed" => Some(format!(
                    "viewed {} {}",
                    user(&e["user_id"])?,
                    e["product_id"]
                )),
                "bag_answered" => Some(format!("bag {} {}", user(&e["user_id"])?, e["product_id"])),
                "buy_answered" => Some(format!("buy {} {}", user(&e["user_id"])?, e["outcome"])),
                "event" if e["event"]["type"] == "chat" => {
                    let message = &e["event"]["message"];
                    Some(format!(
                        "chat {} {}",
                        user(&message["user_id"])?,
                        message["text"]
                    ))
                }
                _ => None,
            }
        })
        .collect()
}

async fn lesson(server: &TestServer, room: &str, seed: u64) -> Vec<String> {
    let (_seller, _) = live_room(server, room).await;
    started(server, room, json!({"seed": seed, "size": 10, "speed": 50})).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let token = trainer(server, room);
    let path = format!("/api/practice/rooms/{room}/audience");
    let response = call(server, reqwest::Method::DELETE, &path, &token, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    bot_acts(&journal(server, room).await)
}

#[tokio::test]
async fn a_seeded_lesson_replays_identically_and_another_seed_does_not() {
    let server = TestServer::start().await;
    let (first, second, other) = tokio::join!(
        lesson(&server, "lan-1", 42),
        lesson(&server, "lan-2", 42),
        lesson(&server, "lan-3", 43),
    );
    // The runs stop at slightly different lesson seconds: compare what both
    // got to. Leaves are left out (those at the stop are not the lesson's).
    let acts = |all: Vec<String>| -> Vec<String> {
        all.into_iter().filter(|a| !a.starts_with("left")).collect()
    };
    let (first, second, other) = (acts(first), acts(second), acts(other));
    let common = first.len().min(second.len());
    assert!(common >= 20, "too short a lesson to compare: {first:?}");
    assert_eq!(first[..common], second[..common]);
    let common = common.min(other.len());
    assert_ne!(first[..common], other[..common]);
}

#[tokio::test]
async fn a_reply_to_a_bots_question_gets_a_follow_up_from_its_persona() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "lop-3").await;
    started(&server, "lop-3", json!({"seed": 3, "size": 8, "speed": 20})).await;

    let questions = every_phrase(|p| p.question.clone());
    let follow_ups = every_phrase(|p| p.follow_up.clone());
    let asked = until(&mut seller, |f| {
        bot_chat(f) && questions.contains(f["message"]["text"].as_str().unwrap_or(""))
    })
    .await;
    let bot = asked["message"]["user_id"].as_str().unwrap().to_owned();
    let reply = json!({"type": "chat", "text": "Dạ 120 nghìn một gói ạ", "reply_to": asked["message"]["id"]});
    seller.send(reply).await;

    let answer = until(&mut seller, |f| {
        bot_chat(f) && f["message"]["user_id"] == bot.as_str()
    })
    .await;
    let text = answer["message"]["text"].as_str().unwrap();
    assert!(follow_ups.contains(text), "not a follow-up: {text}");
    assert!(
        answer["message"].get("reply_to").is_none(),
        "a follow-up does not quote"
    );
}

#[tokio::test]
async fn bots_buy_in_a_flash_sale_through_the_sale_store() {
    let server = TestServer::start().await;
    let (mut seller, snapshot) = live_room(&server, "lop-4").await;
    let product = &snapshot["products"][0];
    started(
        &server,
        "lop-4",
        json!({"seed": 4, "size": 30, "speed": 50}),
    )
    .await;
    viewers_at_least(&mut seller, 10).await;
    let half = product["price_vnd"].as_u64().unwrap() / 2;
    let sale = json!({"id": "sale", "type": "start_sale", "product_id": product["id"], "stock": 50,
        "price_vnd": half, "per_buyer_limit": 1, "duration_secs": 60});
    seller.send(sale).await;

    let purchase = until(&mut seller, |f| f["type"] == "sale_purchase").await;
    assert_eq!(purchase["quantity"], 1);
    let journal = journal(&server, "lop-4").await;
    let buyer = |e: &&Value| {
        e["type"] == "order_placed" && e["buyer_id"].as_str().unwrap().starts_with("bot-")
    };
    assert!(journal.iter().any(|e| buyer(&e)));
}

#[tokio::test]
async fn stopping_the_audience_makes_every_bot_leave() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "lop-5").await;
    started(&server, "lop-5", json!({"seed": 5, "size": 4, "speed": 50})).await;
    viewers_at_least(&mut seller, 4).await;

    let token = trainer(&server, "lop-5");
    let path = "/api/practice/rooms/lop-5/audience";
    let status = call(&server, reqwest::Method::GET, path, &token, None).await;
    assert_eq!(status.status(), StatusCode::OK);
    let status: Value = status.json().await.unwrap();
    assert!(status["bots_present"].as_u64().unwrap() >= 4, "{status}");
    assert!(status["persona_mix"]
        .as_object()
        .is_some_and(|m| !m.is_empty()));

    let stopped = call(&server, reqwest::Method::DELETE, path, &token, None).await;
    assert_eq!(stopped.status(), StatusCode::OK);
    until(&mut seller, |f| {
        f["type"] == "viewer_count" && f["count"] == 0
    })
    .await;
    let gone = call(&server, reqwest::Method::GET, path, &token, None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_audience_at_a_time_per_room() {
    let server = TestServer::start().await;
    let _room = live_room(&server, "lop-6").await;
    started(&server, "lop-6", json!({"seed": 6, "size": 2, "speed": 10})).await;
    let again = start(&server, "lop-6", json!({"seed": 7, "size": 2})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_state");
}

#[tokio::test]
async fn only_the_rooms_trainer_or_an_admin_runs_its_audience() {
    let server = TestServer::start().await;
    let _room = live_room(&server, "lop-7").await;
    let path = "/api/practice/rooms/lop-7/audience";
    let settings = json!({"seed": 1, "size": 2, "speed": 10});
    for (role, room) in [
        (Role::Seller, "lop-7"),
        (Role::Viewer, "lop-7"),
        (Role::Trainer, "lop-khac"),
    ] {
        let token = server.token(room, role, "ai-do");
        let response = call(
            &server,
            reqwest::Method::POST,
            path,
            &token,
            Some(settings.clone()),
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{role:?} of {room}"
        );
    }
    let response = reqwest::Client::new()
        .post(server.http(path))
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let admin = server.token("*", Role::Admin, "quan-tri");
    let response = call(&server, reqwest::Method::POST, path, &admin, Some(settings)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn bad_settings_are_refused_with_the_field_named() {
    let server = TestServer::start().await;
    let _room = live_room(&server, "lop-8").await;
    for (settings, field) in [
        (json!({"seed": 1, "size": 0}), "size"),
        (json!({"seed": 1, "size": 5, "speed": 1000}), "speed"),
        (
            json!({"seed": 1, "size": 5, "timeline": [{"at_secs": 5, "scenario_id": "khong-co"}]}),
            "timeline[0].scenario_id",
        ),
        (json!({"seed": "mot", "size": 5}), "seed"),
    ] {
        let response = start(&server, "lop-8", settings).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_value");
        assert_eq!(body["error"]["field"], field);
    }
    let missing = start(&server, "khong-co-phong", json!({"seed": 1, "size": 2})).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_audience_ends_with_its_room() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "lop-9").await;
    started(&server, "lop-9", json!({"seed": 9, "size": 3, "speed": 50})).await;
    viewers_at_least(&mut seller, 3).await;

    let seller_token = server.token("lop-9", Role::Seller, "hoa");
    let closed = call(
        &server,
        reqwest::Method::POST,
        "/api/rooms/lop-9/close",
        &seller_token,
        None,
    )
    .await;
    assert_eq!(closed.status(), StatusCode::OK);
    tokio::time::timeout(PATIENCE, async {
        while server.state.audiences.is_running("lop-9") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the audience outlived its room");
}

#[tokio::test]
async fn a_bot_the_trainee_bans_leaves_and_the_lesson_goes_on() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "lop-10").await;
    started(
        &server,
        "lop-10",
        json!({"seed": 10, "size": 6, "speed": 50}),
    )
    .await;

    let chat = until(&mut seller, bot_chat).await;
    let banned = chat["message"]["user_id"].as_str().unwrap().to_owned();
    seller
        .send(json!({"type": "ban_user", "user_id": banned}))
        .await;
    until(&mut seller, |f| {
        f["type"] == "user_banned" && f["user_id"] == banned.as_str()
    })
    .await;

    // Others still talk; the banned bot never again.
    for _ in 0..5 {
        let next = until(&mut seller, bot_chat).await;
        assert_ne!(next["message"]["user_id"], banned.as_str());
    }
    assert!(server.state.audiences.is_running("lop-10"));
    let left = journal(&server, "lop-10")
        .await
        .into_iter()
        .any(|e| e["type"] == "left" && e["user_id"] == banned.as_str());
    assert!(left, "the banned bot's visit ended");
}

#[tokio::test]
async fn the_audience_ends_when_the_server_stops() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "lop-11").await;
    started(
        &server,
        "lop-11",
        json!({"seed": 11, "size": 3, "speed": 50}),
    )
    .await;
    viewers_at_least(&mut seller, 3).await;

    let state = server.state.clone();
    server.shutdown().await;
    tokio::time::timeout(PATIENCE, async {
        while state.audiences.is_running("lop-11") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the audience outlived its server");
}

#[tokio::test]
async fn a_question_left_unanswered_draws_a_complaint() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "lop-12").await;
    started(
        &server,
        "lop-12",
        json!({"seed": 12, "size": 6, "speed": 50}),
    )
    .await;

    let complaints = every_phrase(|p| p.complaint.clone());
    let complaint = until(&mut seller, |f| {
        bot_chat(f) && complaints.contains(f["message"]["text"].as_str().unwrap_or(""))
    })
    .await;
    assert_eq!(complaint["message"]["role"], "viewer");
}

#[tokio::test]
async fn a_pinned_product_draws_the_bots_taps_on_its_card() {
    let server = TestServer::start().await;
    let (mut seller, snapshot) = live_room(&server, "lop-13").await;
    let pinned = snapshot["products"][1]["id"].as_str().unwrap().to_owned();
    started(
        &server,
        "lop-13",
        json!({"seed": 13, "size": 20, "speed": 50}),
    )
    .await;
    viewers_at_least(&mut seller, 10).await;
    seller
        .send(json!({"type": "pin_product", "product_id": pinned}))
        .await;
    until(&mut seller, |f| f["type"] == "product_pinned").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let journal = journal(&server, "lop-13").await;
    let pin = journal
        .iter()
        .position(|e| e["type"] == "event" && e["event"]["type"] == "product_pinned")
        .expect("the pin is journaled");
    // A second after the pin, every tap is on the pinned product's card.
    let after: Vec<&Value> = journal[pin..]
        .iter()
        .filter(|e| e["type"] == "product_viewed")
        .skip(5)
        .collect();
    assert!(after.len() >= 3, "too few taps: {after:?}");
    assert!(
        after.iter().all(|e| e["product_id"] == pinned.as_str()),
        "{after:?}"
    );
}

#[tokio::test]
async fn bots_come_only_to_practice_rooms() {
    let server = TestServer::start().await;
    server.room("that-that").await;
    let response = start(&server, "that-that", json!({"seed": 1, "size": 5})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_practice_room");
}

#[tokio::test]
async fn a_classs_audience_arrives_when_the_trainee_goes_live() {
    let server = TestServer::start().await;
    let (status, class) = crate::classes::post(
        &server,
        "/api/classes",
        &crate::classes::trainer(&server, "co-hoa"),
        json!({"name": "Lớp K15", "trainees": ["Lan"],
               "lesson": {"seed": 7, "audience_size": 5, "speed": 10}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{class}");
    let room = &class["rooms"][0];
    let room_id = room["room_id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.state.audiences.is_running(room_id),
        "no audience before the live"
    );
    let token = crate::classes::studio_token(room);
    let (mut trainee, _) = crate::classes::join(&server, room, &token).await;
    trainee.send(json!({"id": "live", "type": "go_live"})).await;
    while trainee.next_of("ack").await["id"] != "live" {}
    viewers_at_least(&mut trainee, 1).await;
    assert!(server.state.audiences.is_running(room_id));
}
