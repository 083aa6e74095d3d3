//! The HTTP API: rooms, dev tokens, health, readiness, metrics.

use chophien::auth::{Role, ANY_ROOM};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::TestServer;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let server = TestServer::start().await;
    let health = http().get(server.http("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready: Value = http()
        .get(server.http("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn an_admin_creates_lists_gets_and_closes_a_room() {
    let server = TestServer::start().await;
    let admin = server.token(ANY_ROOM, Role::Admin, "admin");
    let created = http()
        .post(server.http("/api/rooms"))
        .bearer_auth(&admin)
        .json(
            &json!({"id": "gom-la-phu", "title": "Gốm La Phù", "seller_name": "Anh Tuấn",
                      "products": [{"name": "Bình gốm", "price_vnd": 350000, "stock": 5}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let info: Value = created.json().await.unwrap();
    assert_eq!(info["status"], "scheduled");

    let list: Value = http()
        .get(server.http("/api/rooms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["id"], "gom-la-phu");
    let got: Value = http()
        .get(server.http("/api/rooms/gom-la-phu"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["title"], "Gốm La Phù");

    let closed = http()
        .post(server.http("/api/rooms/gom-la-phu/close"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::OK);
    assert_eq!(closed.json::<Value>().await.unwrap()["status"], "ended");
}

#[tokio::test]
async fn a_seller_opens_only_the_room_their_token_names() {
    let server = TestServer::start().await;
    let seller = server.token("cho-que", Role::Seller, "hoa");
    let other = http()
        .post(server.http("/api/rooms"))
        .bearer_auth(&seller)
        .json(&json!({"id": "not-mine", "title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let mine = http()
        .post(server.http("/api/rooms"))
        .bearer_auth(&seller)
        .json(&json!({"title": "Chợ quê"}))
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), StatusCode::CREATED);
    let info: Value = mine.json().await.unwrap();
    assert_eq!(info["id"], "cho-que");
    assert_eq!(info["seller_name"], "Tên hoa");
}

#[tokio::test]
async fn a_viewer_may_not_create_or_close_rooms() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let viewer = server.token("r1", Role::Viewer, "lan");
    let create = http()
        .post(server.http("/api/rooms"))
        .bearer_auth(&viewer)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), StatusCode::FORBIDDEN);
    let close = http()
        .post(server.http("/api/rooms/r1/close"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(close.status(), StatusCode::FORBIDDEN);
    let body: Value = close.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
}

#[tokio::test]
async fn creating_a_room_without_a_token_is_401_and_with_bad_json_is_400() {
    let server = TestServer::start().await;
    let anonymous = http()
        .post(server.http("/api/rooms"))
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let admin = server.token(ANY_ROOM, Role::Admin, "admin");
    let bad = http()
        .post(server.http("/api/rooms"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"]["code"],
        "bad_request"
    );
}

#[tokio::test]
async fn an_unknown_room_is_404_with_room_not_found() {
    let server = TestServer::start().await;
    let response = http()
        .get(server.http("/api/rooms/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "room_not_found"
    );
}

#[tokio::test]
async fn closing_a_room_ends_it_for_everyone_with_a_clear_event() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let (mut viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    let seller = server.token("r1", Role::Seller, "hoa");
    let closed = http()
        .post(server.http("/api/rooms/r1/close"))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::OK);
    assert_eq!(viewer.next_of("room_closed").await["type"], "room_closed");
    assert_eq!(viewer.closed().await.0, 4000);
    let refused = Client::connect(&server.ws_url("r1", &server.token("r1", Role::Viewer, "minh")))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 410);
    assert_eq!(refused.body["error"]["code"], "room_ended");
}

#[tokio::test]
async fn the_dev_endpoint_mints_a_viewer_token_that_joins() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let minted: Value = http()
        .post(server.http("/api/dev/token"))
        .json(&json!({"room": "r1", "name": "Lan"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, snapshot) = Client::join(&server.ws_url("r1", minted["token"].as_str().unwrap())).await;
    assert_eq!(snapshot["me"]["role"], "viewer");
    assert_eq!(snapshot["me"]["name"], "Lan");
}

#[tokio::test]
async fn the_dev_endpoint_is_off_when_disabled() {
    let mut config = crate::support::server::test_config();
    config.auth.dev_tokens = false;
    let server = TestServer::with_config(config).await;
    server.room("r1").await;
    let response = http()
        .post(server.http("/api/dev/token"))
        .json(&json!({"room": "r1", "name": "Lan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_count_connections_messages_and_errors() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let (mut viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    viewer.send(json!({"type": "teleport"})).await;
    viewer.next_of("error").await;
    let text = http()
        .get(server.http("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("chophien_connections 1"), "{text}");
    assert!(text.contains("chophien_rooms 1"), "{text}");
    assert!(
        text.contains(r#"chophien_errors_total{code="unknown_type"} 1"#),
        "{text}"
    );
    assert!(text.contains("chophien_messages_in_total 1"), "{text}");
}

#[tokio::test]
async fn a_closed_rooms_id_is_not_reused() {
    let server = TestServer::start().await;
    let admin = server.token(ANY_ROOM, Role::Admin, "admin");
    let open = || {
        http()
            .post(server.http("/api/rooms"))
            .bearer_auth(&admin)
            .json(&json!({"id": "cho-tet", "title": "Chợ Tết"}))
            .send()
    };
    assert_eq!(open().await.unwrap().status(), StatusCode::CREATED);
    let closed = http()
        .post(server.http("/api/rooms/cho-tet/close"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::OK);
    let again = open().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"]["code"],
        "already_exists"
    );
    let got: Value = http()
        .get(server.http("/api/rooms/cho-tet"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "ended");
}
