//! Bad input gets a typed error and the connection stays open; nothing panics.

use chophien::auth::Role;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::client::Client;
use crate::support::server::TestServer;

async fn viewer(server: &TestServer) -> Client {
    server.room("r1").await;
    server.join("r1", Role::Viewer, "lan").await.0
}

/// After an error the same connection still answers.
async fn still_open(client: &mut Client) {
    client.send(json!({"type": "ping"})).await;
    client.next_of("pong").await;
}

#[tokio::test]
async fn malformed_json_gets_bad_request() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    client
        .send_raw(Message::text("{\"type\": \"chat\", "))
        .await;
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "bad_request");
    still_open(&mut client).await;
}

#[tokio::test]
async fn an_unknown_type_gets_unknown_type_with_the_request_id() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    client.send(json!({"id": "x1", "type": "teleport"})).await;
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "unknown_type");
    assert_eq!(error["id"], "x1");
    still_open(&mut client).await;
}

#[tokio::test]
async fn a_missing_field_gets_bad_request() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    client.send(json!({"id": "x2", "type": "chat"})).await;
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "bad_request");
    assert_eq!(error["id"], "x2");
    assert!(error["message"].as_str().unwrap().contains("text"));
    still_open(&mut client).await;
}

#[tokio::test]
async fn a_frame_without_a_type_gets_bad_request() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    client.send(json!({"text": "hi"})).await;
    assert_eq!(client.next_of("error").await["code"], "bad_request");
    client.send(json!([1, 2, 3])).await;
    assert_eq!(client.next_of("error").await["code"], "bad_request");
    still_open(&mut client).await;
}

#[tokio::test]
async fn a_field_of_the_wrong_type_gets_bad_request() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    client.send(json!({"type": "heart", "count": "many"})).await;
    assert_eq!(client.next_of("error").await["code"], "bad_request");
    client.send(json!({"type": "heart", "count": -1})).await;
    assert_eq!(client.next_of("error").await["code"], "bad_request");
    still_open(&mut client).await;
}

#[tokio::test]
async fn an_out_of_range_value_gets_invalid_value() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    client.send(json!({"type": "heart", "count": 0})).await;
    assert_eq!(client.next_of("error").await["code"], "invalid_value");
    client.send(json!({"type": "chat", "text": "   "})).await;
    assert_eq!(client.next_of("error").await["code"], "invalid_value");
    let long = "á".repeat(501);
    client.send(json!({"type": "chat", "text": long})).await;
    assert_eq!(client.next_of("error").await["code"], "invalid_value");
    still_open(&mut client).await;
}

#[tokio::test]
async fn a_binary_frame_gets_unsupported_frame() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    client.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(client.next_of("error").await["code"], "unsupported_frame");
    still_open(&mut client).await;
}

#[tokio::test]
async fn a_frame_over_the_size_limit_closes_with_1009() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    let big = "x".repeat(server.state.config.server.max_frame_bytes + 1);
    client.send(json!({"type": "chat", "text": big})).await;
    let (code, _) = client.closed().await;
    assert_eq!(code, 1009);
}

#[tokio::test]
async fn a_viewer_may_not_pin_moderate_or_sell() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    for request in [
        json!({"type": "pin_product", "product_id": "p1"}),
        json!({"type": "ban_user", "user_id": "hoa"}),
        json!({"type": "set_slow_mode", "seconds": 5}),
        json!({"type": "add_product", "product": {"name": "x", "price_vnd": 1}}),
        json!({"type": "go_live"}),
        json!({"type": "end_live"}),
    ] {
        client.send(request.clone()).await;
        assert_eq!(
            client.next_of("error").await["code"],
            "forbidden",
            "{request}"
        );
    }
    still_open(&mut client).await;
}

#[tokio::test]
async fn an_unknown_product_gets_product_not_found() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    seller
        .send(json!({"type": "pin_product", "product_id": "p404"}))
        .await;
    assert_eq!(seller.next_of("error").await["code"], "product_not_found");
}

#[tokio::test]
async fn an_overlong_request_id_is_refused() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    client
        .send(json!({"id": "i".repeat(65), "type": "ping"}))
        .await;
    let error = client.next_of("error").await;
    assert_eq!(error["code"], "bad_request");
    still_open(&mut client).await;
}
