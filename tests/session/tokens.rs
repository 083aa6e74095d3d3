//! Access tokens at the edges (issue 8 §5): where a token may come from, the
//! Bearer scheme's case, the claim rules and the words of a 401.

use chophien::auth::{Role, ANY_ROOM};
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::TestServer;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// A token signed with the server's secret from any claims at all, as a
/// careless or hostile token issuer might make.
fn raw_token(server: &TestServer, claims: Value) -> String {
    let secret = server.state.config.auth.secret.as_bytes();
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn far_future() -> u64 {
    chophien::clock::unix_millis() / 1000 + 600
}

fn ws_base(server: &TestServer, room: &str) -> String {
    format!("ws://{}/ws/rooms/{room}", server.addr)
}

/// The refusal of a WebSocket upgrade with `token`, which must be one.
async fn refusal(server: &TestServer, token: &str) -> (u16, Value) {
    let refused = Client::connect(&server.ws_url("r1", token))
        .await
        .err()
        .expect("the token was accepted");
    (refused.status, refused.body)
}

#[tokio::test]
async fn two_different_tokens_on_a_websocket_upgrade_are_refused_with_400() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let lan = server.token("r1", Role::Viewer, "lan");
    let hoa = server.token("r1", Role::Seller, "hoa");
    let bearer = format!("Bearer {hoa}");
    let refused = Client::connect_with(&server.ws_url("r1", &lan), &[("authorization", &bearer)])
        .await
        .err()
        .expect("two tokens were accepted");
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"]["code"], "bad_request");
}

#[tokio::test]
async fn the_same_token_in_the_query_and_the_header_joins() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let lan = server.token("r1", Role::Viewer, "lan");
    let bearer = format!("Bearer {lan}");
    let mut client =
        Client::connect_with(&server.ws_url("r1", &lan), &[("authorization", &bearer)])
            .await
            .expect("refused");
    assert_eq!(client.next().await["me"]["user_id"], "lan");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_on_a_websocket_upgrade() {
    let server = TestServer::start().await;
    server.room("r1").await;
    for scheme in ["bearer", "BEARER"] {
        let header = format!("{scheme} {}", server.token("r1", Role::Viewer, "lan"));
        let mut client =
            Client::connect_with(&ws_base(&server, "r1"), &[("authorization", &header)])
                .await
                .unwrap_or_else(|refused| panic!("{scheme}: {refused:?}"));
        assert_eq!(client.next().await["type"], "snapshot");
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_on_http_endpoints() {
    let server = TestServer::start().await;
    let admin = server.token(ANY_ROOM, Role::Admin, "admin");
    let created = http()
        .post(server.http("/api/rooms"))
        .header("authorization", format!("bearer {admin}"))
        .json(&json!({"id": "r1", "title": "Chợ quê"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let orders = http()
        .get(server.http("/api/rooms/r1/orders"))
        .header("authorization", format!("BEARER {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(orders.status(), StatusCode::OK);
    let closed = http()
        .post(server.http("/api/rooms/r1/close"))
        .header("authorization", format!("BeArEr {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_whose_name_is_blank_or_too_long_is_refused_with_401() {
    let server = TestServer::start().await;
    server.room("r1").await;
    for name in ["", "   ", "\u{200B}\u{200D}\u{3164}", &"ệ".repeat(41)] {
        let token = raw_token(
            &server,
            json!({"sub": "lan", "name": name, "room": "r1", "role": "viewer", "exp": far_future(), "iat": 0}),
        );
        let (status, body) = refusal(&server, &token).await;
        assert_eq!(status, 401, "{name:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("display name"),
            "{body}"
        );
    }
    // Forty letters, surrounded by spaces, is a name.
    let token = raw_token(
        &server,
        json!({"sub": "lan", "name": format!(" {} ", "ệ".repeat(40)), "room": "r1", "role": "viewer", "exp": far_future(), "iat": 0}),
    );
    let (_, snapshot) = Client::join(&server.ws_url("r1", &token)).await;
    assert_eq!(snapshot["me"]["name"], "ệ".repeat(40));
}

#[tokio::test]
async fn a_token_naming_no_one_is_refused_with_401() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let token = raw_token(
        &server,
        json!({"sub": "", "name": "Lan", "room": "r1", "role": "viewer", "exp": far_future(), "iat": 0}),
    );
    let (status, body) = refusal(&server, &token).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("names no one"),
        "{body}"
    );
}

#[tokio::test]
async fn a_token_whose_identity_is_too_long_or_unprintable_is_refused_with_401() {
    let server = TestServer::start().await;
    server.room("r1").await;
    for sub in [
        "x".repeat(129),
        "a b".into(),
        "lan\u{200B}".into(),
        "lan\n".into(),
    ] {
        let token = raw_token(
            &server,
            json!({"sub": sub, "name": "Lan", "room": "r1", "role": "viewer", "exp": far_future(), "iat": 0}),
        );
        let (status, body) = refusal(&server, &token).await;
        assert_eq!(status, 401, "{sub:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}

#[tokio::test]
async fn a_401_never_carries_the_parsers_words() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let no_room = raw_token(
        &server,
        json!({"sub": "lan", "name": "Lan", "role": "viewer", "exp": far_future()}),
    );
    let bad_role = raw_token(
        &server,
        json!({"sub": "lan", "name": "Lan", "room": "r1", "role": "owner", "exp": far_future()}),
    );
    for token in [no_room.as_str(), bad_role.as_str(), "not.a.jwt", "abc"] {
        let (status, body) = refusal(&server, token).await;
        assert_eq!(status, 401);
        assert_eq!(
            body["error"]["message"], "the access token is malformed",
            "{token}"
        );
    }
    let forged = encode(
        &Header::default(),
        &json!({"sub": "lan", "name": "Lan", "room": "r1", "role": "seller", "exp": far_future()}),
        &EncodingKey::from_secret(b"guessed"),
    )
    .unwrap();
    let (_, body) = refusal(&server, &forged).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("signature does not match"), "{message}");
    // The same words over HTTP.
    let response = http()
        .post(server.http("/api/rooms/r1/close"))
        .bearer_auth(&no_room)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "the access token is malformed");
}

#[test]
fn the_token_command_refuses_what_the_server_would_refuse() {
    let mint = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_chophien"))
            .args(["token", "--room", "r1", "--role", "viewer"])
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &["--name", "  "][..],
        &["--name", "\u{200B}"],
        &["--name", &"a".repeat(41)],
        &["--name", "Lan", "--identity", ""],
        &["--name", "Lan", "--identity", "a b"],
    ] {
        let output = mint(args);
        assert!(!output.status.success(), "{args:?} minted a token");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    assert!(mint(&["--name", " Lan "]).status.success());
}

#[tokio::test]
async fn the_dev_endpoint_refuses_a_blank_name() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let response = http()
        .post(server.http("/api/dev/token"))
        .json(&json!({"room": "r1", "name": "\u{200B}\u{3164}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_value");
}
