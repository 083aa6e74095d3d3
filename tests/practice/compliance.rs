//! The compliance checker over real sockets: a host's claims flagged live
//! to the room's hosts only, with the journal's record; nothing where the
//! checker is off; and the prepared-script endpoint's answers and refusals.
//!
//! Practice rooms are always checked (`compliance::checks_room`); most live
//! tests use a plain room with `compliance.real_rooms` on, which takes the
//! same path, and one proves a class's practice room is checked without it.

use std::time::Duration;

use chophien::auth::Role;
use chophien::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::{test_config, Store, TestServer};

crate::on_every_store!(
    a_hosts_cure_claim_is_flagged_to_the_hosts_with_its_citation,
    the_flag_is_journaled,
    viewers_and_moderators_never_get_a_flag,
    a_viewers_words_are_not_checked,
    a_product_is_checked_when_added_and_when_its_text_changes,
    a_practice_room_is_checked_with_the_switch_off,
);

async fn a_practice_room_is_checked_with_the_switch_off(store: Store) {
    let server = store.start().await;
    assert!(!server.state.config.compliance.real_rooms);
    let class = crate::classes::open_class(&server, &["Lan"]).await;
    let room = &class["rooms"][0];
    let token = crate::classes::studio_token(room);
    let (mut trainee, _) = crate::classes::join(&server, room, &token).await;
    trainee.send(json!({"id": "live", "type": "go_live"})).await;
    while trainee.next_of("ack").await["id"] != "live" {}
    say(&mut trainee, "c1", "Trà ngon nhất Thái Nguyên").await;
    let flag = trainee.next_of("compliance_flag").await;
    assert_eq!(flag["rule_id"], "absolute_claim");
}

fn checked_config() -> Config {
    let mut config = test_config();
    config.compliance.real_rooms = true;
    config
}

/// A room `r1` whose seller `hoa` is live.
async fn live_room(server: &TestServer) -> Client {
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    seller.send(json!({"id": "live", "type": "go_live"})).await;
    while seller.next_of("ack").await["id"] != "live" {}
    seller
}

async fn say(client: &mut Client, id: &str, text: &str) {
    client
        .send(json!({"id": id, "type": "chat", "text": text}))
        .await;
}

/// The journal's entries of type `kind`.
async fn journal_lines(server: &TestServer, kind: &str) -> Vec<Value> {
    let token = server.token("r1", Role::Seller, "hoa");
    let response = reqwest::Client::new()
        .get(server.http("/api/rooms/r1/journal"))
        .bearer_auth(token)
        .send()
        .await
        .expect("HTTP request");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("journal body");
    body.lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|entry| entry["type"] == kind)
        .collect()
}

async fn a_hosts_cure_claim_is_flagged_to_the_hosts_with_its_citation(store: Store) {
    let server = store.with_config(checked_config()).await;
    let mut seller = live_room(&server).await;
    say(&mut seller, "c1", "Trà này chữa khỏi tiểu đường").await;
    let flag = seller.next_of("compliance_flag").await;
    assert_eq!(flag["rule_id"], "disease_cure");
    assert_eq!(flag["severity"], "serious");
    assert_eq!(flag["source"], "chat");
    assert_eq!(flag["excerpt"], "chữa khỏi");
    assert_eq!(
        flag["citation"]["law"],
        "Luật Quảng cáo 2012 (Luật số 16/2012/QH13)"
    );
    assert_eq!(flag["citation"]["article"], "Điều 8");
    assert!(flag["suggestion"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(flag["at"].as_u64().is_some_and(|at| at > 0));
    assert!(
        flag.get("seq").is_none(),
        "a private frame, not a room event"
    );
}

async fn the_flag_is_journaled(store: Store) {
    let server = store.with_config(checked_config()).await;
    let mut seller = live_room(&server).await;
    say(&mut seller, "c1", "tra nay chua khoi tieu duong").await;
    seller.next_of("compliance_flag").await;
    let records = journal_lines(&server, "compliance_flagged").await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["rule_id"], "disease_cure");
    assert_eq!(records[0]["severity"], "serious");
    assert_eq!(records[0]["source"], "chat");
    assert_eq!(records[0]["excerpt"], "chua khoi");
}

async fn viewers_and_moderators_never_get_a_flag(store: Store) {
    let server = store.with_config(checked_config()).await;
    let mut seller = live_room(&server).await;
    let (mut viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    let (mut moderator, _) = server.join("r1", Role::Moderator, "tu").await;
    say(&mut seller, "c1", "Trà này chữa khỏi tiểu đường").await;
    seller.next_of("compliance_flag").await;
    // Flagged before this marker was even sent: a flag meant for everyone
    // would reach them first.
    say(&mut seller, "c2", "Cả nhà xem tiếp nhé").await;
    for client in [&mut viewer, &mut moderator] {
        loop {
            let frame = client.next().await;
            assert_ne!(frame["type"], "compliance_flag", "{frame}");
            if frame["type"] == "chat" && frame["message"]["text"] == "Cả nhà xem tiếp nhé" {
                break;
            }
        }
    }
}

async fn a_viewers_words_are_not_checked(store: Store) {
    let server = store.with_config(checked_config()).await;
    let mut seller = live_room(&server).await;
    let (mut viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    say(
        &mut viewer,
        "v1",
        "Shop ơi trà này ngon nhất đúng không, chữa khỏi bệnh không?",
    )
    .await;
    while viewer.next_of("ack").await["id"] != "v1" {}
    say(&mut seller, "c1", "Giảm 90% hôm nay").await;
    // The first flag the seller gets is for her own words.
    let flag = seller.next_of("compliance_flag").await;
    assert_eq!(flag["rule_id"], "discount_cap");
    assert_eq!(flag["excerpt"], "Giảm 90%");
}

async fn a_product_is_checked_when_added_and_when_its_text_changes(store: Store) {
    let server = store.with_config(checked_config()).await;
    let mut seller = live_room(&server).await;
    let product = json!({
        "name": "Trà giảm cân",
        "description": "Giá gốc 500k",
        "price_vnd": 99_000,
        "stock": 10,
    });
    seller
        .send(json!({"id": "a", "type": "add_product", "product": product}))
        .await;
    let mut rules = Vec::new();
    for _ in 0..2 {
        let flag = seller.next_of("compliance_flag").await;
        assert_eq!(flag["source"], "product");
        rules.push(flag["rule_id"].as_str().unwrap().to_owned());
    }
    rules.sort();
    assert_eq!(rules, ["original_price", "weight_loss"]);
    // `p1` is "Trà Tân Cương"; only its description changes here.
    seller
        .send(
            json!({"id": "u", "type": "update_product", "product_id": "p1",
                     "description": "Loại trà duy nhất chữa khỏi mất ngủ"}),
        )
        .await;
    let mut rules = Vec::new();
    for _ in 0..2 {
        rules.push(seller.next_of("compliance_flag").await["rule_id"].clone());
    }
    assert_eq!(rules, [json!("absolute_claim"), json!("disease_cure")]);
}

#[tokio::test]
async fn a_real_room_with_the_switch_off_gets_nothing() {
    let server = TestServer::start().await;
    assert!(!server.state.config.compliance.real_rooms);
    let mut seller = live_room(&server).await;
    say(&mut seller, "c1", "Trà này chữa khỏi tiểu đường").await;
    while seller.next_of("ack").await["id"] != "c1" {}
    // The check runs after the request; give it time it would never need.
    tokio::time::sleep(Duration::from_millis(300)).await;
    seller.send(json!({"type": "ping"})).await;
    loop {
        let frame = seller.next().await;
        assert_ne!(frame["type"], "compliance_flag", "{frame}");
        if frame["type"] == "pong" {
            break;
        }
    }
    assert!(journal_lines(&server, "compliance_flagged")
        .await
        .is_empty());
    assert_eq!(
        journal_lines(&server, "event")
            .await
            .iter()
            .filter(|e| e["event"]["type"] == "chat")
            .count(),
        1
    );
}

// --- POST /api/compliance/check ---------------------------------------------

async fn check(server: &TestServer, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(server.http("/api/compliance/check"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.json(&body).send().await.expect("HTTP request")
}

#[tokio::test]
async fn a_script_is_answered_with_every_hit_its_place_citation_and_rewording() {
    let server = TestServer::start().await;
    let token = server.token("r9", Role::Seller, "hoa");
    let script = "Chào cả nhà!\nTrà Tân Cương ngon nhất Thái Nguyên.\nUống đều chữa khỏi mất ngủ, ib zalo em nhé.";
    let response = check(&server, Some(&token), json!({"text": script})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["rules_version"], 1);
    assert_eq!(answer["serious"], 2);
    assert_eq!(answer["warnings"], 1);
    let hits = answer["hits"].as_array().unwrap();
    let summary: Vec<(String, String, u64, u64)> = hits
        .iter()
        .map(|h| {
            (
                h["rule_id"].as_str().unwrap().to_owned(),
                h["excerpt"].as_str().unwrap().to_owned(),
                h["line"].as_u64().unwrap(),
                h["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("absolute_claim".to_owned(), "nhất".to_owned(), 2, 20),
            ("disease_cure".to_owned(), "chữa khỏi".to_owned(), 3, 10),
            ("off_platform".to_owned(), "zalo".to_owned(), 3, 32),
        ]
    );
    assert_eq!(hits[0]["citation"]["clause"], "khoản 11");
    assert!(hits[2]["citation"]["law"]
        .as_str()
        .unwrap()
        .contains("Thương mại điện tử 2025"));
    assert!(hits
        .iter()
        .all(|h| !h["suggestion"].as_str().unwrap().is_empty()));
}

#[tokio::test]
async fn a_clean_script_has_no_hits() {
    let server = TestServer::start().await;
    let token = server.token("*", Role::Trainer, "co-mai");
    let response = check(
        &server,
        Some(&token),
        json!({"text": "Trà búp Tân Cương, hái tay, đạt OCOP 4 sao."}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["hits"], json!([]));
    assert_eq!(answer["serious"], 0);
}

#[tokio::test]
async fn only_sellers_trainers_and_admins_check_scripts() {
    let server = TestServer::start().await;
    let body = json!({"text": "ngon nhất"});
    assert_eq!(
        check(&server, None, body.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        check(&server, Some("not-a-token"), body.clone())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    for role in [Role::Viewer, Role::Moderator] {
        let response = check(
            &server,
            Some(&server.token("r1", role, "lan")),
            body.clone(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "forbidden");
    }
    for (room, role) in [
        ("r1", Role::Seller),
        ("r1", Role::Trainer),
        ("*", Role::Trainer),
        ("*", Role::Admin),
    ] {
        let response = check(
            &server,
            Some(&server.token(room, role, "hoa")),
            body.clone(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{role:?} of {room}");
    }
}

#[tokio::test]
async fn a_script_over_twenty_thousand_characters_is_refused_with_413() {
    let server = TestServer::start().await;
    let token = server.token("r1", Role::Seller, "hoa");
    // 20,000 characters (each "ữ" is 3 bytes): accepted.
    let at_limit = "ữ".repeat(20_000);
    let response = check(&server, Some(&token), json!({"text": at_limit})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let over = "ữ".repeat(20_001);
    let response = check(&server, Some(&token), json!({"text": over})).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_value");
    assert_eq!(error["error"]["field"], "text");
    // Past the server's body limit (2 MB) the answer is the same.
    let huge = "ữ".repeat(800_000);
    let response = check(&server, Some(&token), json!({"text": huge})).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_value");
}

#[tokio::test]
async fn an_empty_or_malformed_script_is_refused_with_a_json_error() {
    let server = TestServer::start().await;
    let token = server.token("r1", Role::Seller, "hoa");
    let response = check(&server, Some(&token), json!({"text": "  \n "})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_value");
    let response = check(&server, Some(&token), json!({"script": "ngon nhất"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "bad_request");
}

#[tokio::test]
async fn a_message_is_flagged_once_per_rule_it_breaks() {
    let server = TestServer::with_config(checked_config()).await;
    let mut seller = live_room(&server).await;
    say(
        &mut seller,
        "c1",
        "Ngon nhất, thơm nhất, rẻ nhất, chữa khỏi mất ngủ",
    )
    .await;
    say(&mut seller, "c2", "Giảm 90% hôm nay").await;
    // Each message is checked in a task of its own: their flags may interleave.
    let mut rules = Vec::new();
    for _ in 0..3 {
        let flag = seller.next_of("compliance_flag").await;
        rules.push(flag["rule_id"].as_str().unwrap().to_owned());
    }
    rules.sort();
    assert_eq!(rules, ["absolute_claim", "discount_cap", "disease_cure"]);
}

#[tokio::test]
async fn a_script_that_repeats_a_claim_lists_two_hundred_hits_and_counts_all() {
    let server = TestServer::start().await;
    let token = server.token("r1", Role::Seller, "hoa");
    let script = "Trà ngon nhất. ".repeat(250);
    let response = check(&server, Some(&token), json!({"text": script})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["serious"], 250);
    assert_eq!(answer["truncated"], true);
    assert_eq!(answer["hits"].as_array().unwrap().len(), 200);
}
