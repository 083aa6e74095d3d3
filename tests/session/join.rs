//! Joining: authentication before the upgrade, snapshots, resume by seq.

use chophien::auth::{Claims, Role};
use serde_json::json;

use crate::support::client::Client;
use crate::support::server::{Store, TestServer};

async fn a_viewer_joins_and_gets_a_snapshot_of_the_room(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let (_, snapshot) = server.join("r1", Role::Viewer, "lan").await;
    assert_eq!(snapshot["room"]["id"], "r1");
    assert_eq!(snapshot["room"]["status"], "scheduled");
    assert_eq!(snapshot["products"].as_array().unwrap().len(), 2);
    assert_eq!(snapshot["pinned_product"], serde_json::Value::Null);
    assert_eq!(
        snapshot["me"],
        json!({"user_id": "lan", "name": "Tên lan", "role": "viewer"})
    );
}

async fn the_snapshot_carries_the_last_chat_messages(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    for text in ["một", "hai", "ba"] {
        seller.send(json!({"type": "chat", "text": text})).await;
        seller.next_of("chat").await;
    }
    let (_, snapshot) = server.join("r1", Role::Viewer, "lan").await;
    let texts: Vec<_> = snapshot["chat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, [json!("một"), json!("hai"), json!("ba")]);
}

#[tokio::test]
async fn a_missing_token_is_refused_with_401() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let refused = Client::connect(&format!("ws://{}/ws/rooms/r1", server.addr))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused_with_401() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let forged = chophien::auth::TokenKeys::new("not-the-server-secret")
        .sign(&Claims::new(
            "x",
            "x",
            "r1",
            Role::Seller,
            std::time::Duration::from_secs(60),
        ))
        .unwrap();
    let refused = Client::connect(&server.ws_url("r1", &forged))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn an_expired_token_is_refused_with_401() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let mut claims = Claims::new(
        "x",
        "x",
        "r1",
        Role::Viewer,
        std::time::Duration::from_secs(60),
    );
    claims.exp = claims.iat - 5;
    let token = server.state.keys.sign(&claims).unwrap();
    let refused = Client::connect(&server.ws_url("r1", &token))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 401);
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn a_token_for_another_room_is_refused_with_403() {
    let server = TestServer::start().await;
    server.room("r1").await;
    server.room("r2").await;
    let refused = Client::connect(&server.ws_url("r1", &server.token("r2", Role::Seller, "hoa")))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["error"]["code"], "forbidden");
}

async fn an_unknown_room_is_refused_with_404(store: Store) {
    let server = store.start().await;
    let refused =
        Client::connect(&server.ws_url("nope", &server.token("nope", Role::Viewer, "lan")))
            .await
            .err()
            .unwrap();
    assert_eq!(refused.status, 404);
    assert_eq!(refused.body["error"]["code"], "room_not_found");
}

async fn room_events_carry_increasing_seq_numbers(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, snapshot) = server.join("r1", Role::Seller, "hoa").await;
    let start = snapshot["seq"].as_u64().unwrap();
    seller.send(json!({"type": "chat", "text": "a"})).await;
    seller
        .send(json!({"type": "pin_product", "product_id": "p1"}))
        .await;
    let first = seller.next_of("chat").await["seq"].as_u64().unwrap();
    let second = seller.next_of("product_pinned").await["seq"]
        .as_u64()
        .unwrap();
    assert!(start < first && first < second);
}

async fn a_client_that_resumes_gets_exactly_the_events_it_missed(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let viewer_url = server.ws_url("r1", &server.token("r1", Role::Viewer, "lan"));
    let (viewer, snapshot) = Client::join(&viewer_url).await;
    let last_seq = snapshot["seq"].as_u64().unwrap();
    drop(viewer);

    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    for text in ["lỡ 1", "lỡ 2"] {
        seller.send(json!({"type": "chat", "text": text})).await;
        seller.next_of("chat").await;
    }

    let mut resumed = Client::connect(&format!("{viewer_url}&last_seq={last_seq}"))
        .await
        .unwrap();
    let first = resumed.next().await;
    assert_eq!(first["type"], "resumed");
    assert_eq!(first["from_seq"], last_seq + 1);
    let mut missed = Vec::new();
    while missed.len() < 2 {
        let event = resumed.next().await;
        if event["type"] == "chat" {
            missed.push(event["message"]["text"].as_str().unwrap().to_owned());
        }
        assert!(event["seq"].as_u64().unwrap() > last_seq);
    }
    assert_eq!(missed, ["lỡ 1", "lỡ 2"]);
}

async fn a_resume_beyond_the_replay_buffer_gets_a_fresh_snapshot(store: Store) {
    let mut config = crate::support::server::test_config();
    config.rooms.replay_buffer = 2;
    config.limits.chat_per_sec = 1000;
    config.limits.chat_burst = 1000;
    let server = store.with_config(config).await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    for i in 0..5 {
        seller
            .send(json!({"type": "chat", "text": format!("m{i}")}))
            .await;
        seller.next_of("chat").await;
    }
    let url = format!(
        "{}&last_seq=1",
        server.ws_url("r1", &server.token("r1", Role::Viewer, "lan"))
    );
    let mut client = Client::connect(&url).await.unwrap();
    assert_eq!(client.next().await["type"], "snapshot");
}

#[tokio::test]
async fn a_malformed_last_seq_is_refused_with_400() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let url = format!(
        "{}&last_seq=abc",
        server.ws_url("r1", &server.token("r1", Role::Viewer, "lan"))
    );
    let refused = Client::connect(&url).await.err().unwrap();
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"]["code"], "bad_request");
}

crate::on_every_store!(
    a_viewer_joins_and_gets_a_snapshot_of_the_room,
    the_snapshot_carries_the_last_chat_messages,
    an_unknown_room_is_refused_with_404,
    room_events_carry_increasing_seq_numbers,
    a_client_that_resumes_gets_exactly_the_events_it_missed,
    a_resume_beyond_the_replay_buffer_gets_a_fresh_snapshot,
);
