//! Scenarios (issue 13, §3), black-box: each built-in scenario fires live,
//! is journaled, and shows its effect in the room; a lesson's timeline
//! fires them at lesson times; a trainer saves her own, checked.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use chophien::auth::Role;

use crate::audience::{
    bot_chat, call, fire, journal, live_room, started, trainer, until, viewers_at_least,
};
use crate::support::server::TestServer;

/// Fire `id` live and check it was accepted and journaled.
async fn fired(server: &TestServer, room: &str, id: &str) {
    let response = fire(server, room, id).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "{:?}",
        response.text().await
    );
    tokio::time::timeout(crate::audience::PATIENCE, async {
        loop {
            let journaled = journal(server, room).await.into_iter().any(|e| {
                e["type"] == "scenario_fired" && e["scenario_id"] == id && e["how"] == "live"
            });
            if journaled {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the firing was never journaled");
}

fn says(frame: &Value, words: &str) -> bool {
    bot_chat(frame)
        && frame["message"]["text"]
            .as_str()
            .is_some_and(|t| t.contains(words))
}

#[tokio::test]
async fn a_viewer_spike_multiplies_the_audience_by_about_ten() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "kb-1").await;
    started(&server, "kb-1", json!({"seed": 1, "size": 3, "speed": 50})).await;
    viewers_at_least(&mut seller, 3).await;
    fired(&server, "kb-1", "dot-bien-nguoi-xem").await;
    assert!(viewers_at_least(&mut seller, 27).await >= 27);
}

#[tokio::test]
async fn an_angry_customer_complains_about_a_late_delivery() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "kb-2").await;
    started(&server, "kb-2", json!({"seed": 2, "size": 3, "speed": 50})).await;
    fired(&server, "kb-2", "khach-gian-giao-cham").await;
    let complaint = until(&mut seller, |f| says(f, "chưa nhận được hàng")).await;
    assert_eq!(complaint["message"]["name"], "Chị Thu Hà");
}

#[tokio::test]
async fn a_flood_of_price_questions_arrives() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "kb-3").await;
    started(&server, "kb-3", json!({"seed": 3, "size": 2, "speed": 50})).await;
    fired(&server, "kb-3", "hoi-gia-don-dap").await;
    let prices = [
        "ib giá",
        "giá bn shop",
        "giá sao ạ",
        "bn 1 gói vậy shop",
        "ib giá em với",
        "gia bao nhieu shop",
        "sp này giá nhiêu",
        "cho xin giá với ạ",
    ];
    for _ in 0..10 {
        until(&mut seller, |f| {
            bot_chat(f) && prices.contains(&f["message"]["text"].as_str().unwrap_or(""))
        })
        .await;
    }
}

#[tokio::test]
async fn a_viewer_says_it_is_cheaper_on_shopee() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "kb-4").await;
    started(&server, "kb-4", json!({"seed": 4, "size": 2, "speed": 50})).await;
    fired(&server, "kb-4", "ben-shopee-re-hon").await;
    until(&mut seller, |f| says(f, "bên Shopee rẻ hơn")).await;
}

#[tokio::test]
async fn viewers_buy_out_the_current_sale() {
    let server = TestServer::start().await;
    let (mut seller, snapshot) = live_room(&server, "kb-5").await;
    started(&server, "kb-5", json!({"seed": 5, "size": 2, "speed": 50})).await;
    let product = &snapshot["products"][0];
    let sale = json!({"id": "sale", "type": "start_sale", "product_id": product["id"], "stock": 7,
        "price_vnd": product["price_vnd"], "per_buyer_limit": 2, "duration_secs": 300});
    seller.send(sale).await;
    until(&mut seller, |f| {
        f["type"] == "sale_updated" && f["sale"]["state"] == "live"
    })
    .await;

    fired(&server, "kb-5", "het-hang-giua-sale").await;
    let sold_out = until(&mut seller, |f| {
        f["type"] == "sale_updated" && f["sale"]["state"] == "sold_out"
    })
    .await;
    assert_eq!(sold_out["sale"]["remaining"], 0);
    let orders = journal(&server, "kb-5")
        .await
        .into_iter()
        .filter(|e| e["type"] == "order_placed")
        .count();
    assert!(
        orders >= 4,
        "7 units at 2 a buyer are at least 4 orders: {orders}"
    );
}

#[tokio::test]
async fn a_viewer_says_the_price_on_screen_is_wrong() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "kb-6").await;
    started(&server, "kb-6", json!({"seed": 6, "size": 2, "speed": 50})).await;
    fired(&server, "kb-6", "sai-gia-tren-man-hinh").await;
    until(&mut seller, |f| says(f, "giá trên màn hình")).await;
}

#[tokio::test]
async fn a_troll_provokes_on_a_sensitive_topic() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "kb-7").await;
    started(&server, "kb-7", json!({"seed": 7, "size": 2, "speed": 50})).await;
    fired(&server, "kb-7", "troll-chu-de-nhay-cam").await;
    let troll = until(&mut seller, |f| says(f, "vùng này")).await;
    assert_eq!(troll["message"]["name"], "Người Qua Đường");
}

#[tokio::test]
async fn a_platform_warning_reaches_the_host_and_no_viewer() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "kb-8").await;
    let (mut viewer, _) = server.join("kb-8", Role::Viewer, "khach").await;
    started(&server, "kb-8", json!({"seed": 8, "size": 2, "speed": 50})).await;
    fired(&server, "kb-8", "canh-bao-nen-tang").await;

    let warning = until(&mut seller, |f| f["type"] == "platform_warning").await;
    assert_eq!(warning["scenario_id"], "canh-bao-nen-tang");
    assert!(warning["text"].as_str().unwrap().contains("Cảnh báo"));
    // Everything sent to the viewer before its pong: no warning among it.
    viewer.send(json!({"type": "ping"})).await;
    loop {
        let frame = viewer.next().await;
        assert_ne!(frame["type"], "platform_warning");
        if frame["type"] == "pong" {
            break;
        }
    }
}

#[tokio::test]
async fn a_lessons_timeline_fires_scenarios_at_lesson_times() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "kb-9").await;
    let timeline = json!([{"at_secs": 30, "scenario_id": "khach-gian-giao-cham"}]);
    started(
        &server,
        "kb-9",
        json!({"seed": 9, "size": 2, "speed": 50, "timeline": timeline}),
    )
    .await;
    until(&mut seller, |f| says(f, "chưa nhận được hàng")).await;
    let entry = journal(&server, "kb-9")
        .await
        .into_iter()
        .find(|e| e["type"] == "scenario_fired")
        .expect("journaled");
    assert_eq!(entry["scenario_id"], "khach-gian-giao-cham");
    assert_eq!(entry["how"], "timeline");
    assert_eq!(entry["title"], "Khách giận vì giao hàng chậm");
    let status: Value = call(
        &server,
        Method::GET,
        "/api/practice/rooms/kb-9/audience",
        &trainer(&server, "kb-9"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(status["fired"][0]["at_secs"], 30);
}

#[tokio::test]
async fn a_scenario_fires_only_in_a_running_lesson_and_only_if_it_exists() {
    let server = TestServer::start().await;
    let _room = live_room(&server, "kb-10").await;
    let idle = fire(&server, "kb-10", "khach-gian-giao-cham").await;
    assert_eq!(idle.status(), StatusCode::NOT_FOUND);
    started(&server, "kb-10", json!({"seed": 1, "size": 2, "speed": 10})).await;
    let unknown = fire(&server, "kb-10", "khong-co").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "scenario_not_found");
    let viewer = server.token("kb-10", Role::Viewer, "khach");
    let path = "/api/practice/rooms/kb-10/scenarios/khach-gian-giao-cham";
    let refused = call(&server, Method::POST, path, &viewer, None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

const MINE: &str = r#"
id = "khach-hoi-qua-tang"
title = "Khách hỏi quà tặng"

[[steps]]
at_secs = 0
kind = "say"
persona = "khach_quen"
name = "Cô Hạnh"
texts = ["mua 2 gói có quà tặng không em?"]
"#;

async fn save(
    server: &TestServer,
    token: &str,
    body: &str,
    content_type: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.http("/api/practice/scenarios"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_trainer_saves_her_own_scenario_and_fires_it() {
    let server = TestServer::start().await;
    let (mut seller, _) = live_room(&server, "kb-11").await;
    let token = trainer(&server, "kb-11");
    let saved = save(&server, &token, MINE, "application/toml").await;
    assert_eq!(
        saved.status(),
        StatusCode::CREATED,
        "{:?}",
        saved.text().await
    );

    let library: Value = call(
        &server,
        Method::GET,
        "/api/practice/scenarios",
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let listed = library["scenarios"].as_array().unwrap();
    assert!(listed.len() >= 9);
    let mine = listed
        .iter()
        .find(|s| s["id"] == "khach-hoi-qua-tang")
        .expect("listed");
    assert_eq!(mine["builtin"], false);
    assert!(server
        .data_dir
        .as_ref()
        .unwrap()
        .path()
        .join("practice/scenarios/khach-hoi-qua-tang.json")
        .exists());

    started(&server, "kb-11", json!({"seed": 1, "size": 2, "speed": 50})).await;
    fired(&server, "kb-11", "khach-hoi-qua-tang").await;
    until(&mut seller, |f| says(f, "quà tặng")).await;
}

#[tokio::test]
async fn a_bad_scenario_is_refused_with_its_field_named() {
    let server = TestServer::start().await;
    let token = server.token("kb-12", Role::Trainer, "co-lan");
    let bad_factor = MINE.replace("kind = \"say\"", "kind = \"spike\"\nfactor = 99.0\nhold_secs = 10")
        .replace("persona = \"khach_quen\"\nname = \"Cô Hạnh\"\ntexts = [\"mua 2 gói có quà tặng không em?\"]\n", "");
    let json_missing = r#"{"id": "x", "title": "X", "steps": [{"kind": "warn", "at_secs": 0}]}"#;
    for (body, content_type, field) in [
        (bad_factor.as_str(), "application/toml", "steps[0].factor"),
        (json_missing, "application/json", "steps[0]"),
    ] {
        let response = save(&server, &token, body, content_type).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let builtin = MINE.replace("khach-hoi-qua-tang", "canh-bao-nen-tang");
    let response = save(&server, &token, &builtin, "application/toml").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let seller = server.token("kb-12", Role::Seller, "hoa");
    assert_eq!(
        save(&server, &seller, MINE, "application/toml")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}
