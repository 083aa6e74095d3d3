//! The webhook endpoints: who may use them, what a seller sets, and which
//! URLs are refused.

use chophien::auth::{Role, ANY_ROOM};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::support::server::{test_config, Store, TestServer};
use super::{config, http, put_webhook, seller, server, ROOM};

/// `(status, error code)` of a request to `path` with `token`.
async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = http().request(method, server.http(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .json(&json!({"url": "http://127.0.0.1:9/hooks"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].clone())
}

fn endpoints() -> Vec<(Method, String)> {
    let event = uuid::Uuid::new_v4();
    vec![
        (Method::GET, format!("/api/rooms/{ROOM}/webhook")),
        (Method::PUT, format!("/api/rooms/{ROOM}/webhook")),
        (Method::DELETE, format!("/api/rooms/{ROOM}/webhook")),
        (Method::GET, format!("/api/rooms/{ROOM}/webhook/deliveries")),
        (
            Method::POST,
            format!("/api/rooms/{ROOM}/webhook/deliveries/{event}/retry"),
        ),
        (Method::POST, format!("/api/rooms/{ROOM}/webhook/test")),
    ]
}

async fn the_seller_sets_reads_and_removes_the_webhook(store: Store) {
    let server = server(store, config()).await;
    let (status, set) = put_webhook(&server, json!({"url": "http://127.0.0.1:9/hooks"})).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["url"], "http://127.0.0.1:9/hooks");
    let secret = set["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 64,
        "{secret}"
    );

    let get = || {
        http()
            .get(server.http(&format!("/api/rooms/{ROOM}/webhook")))
            .bearer_auth(seller(&server))
            .send()
    };
    let got: Value = get().await.unwrap().json().await.unwrap();
    assert_eq!(got, set);

    let (_, moved) = put_webhook(&server, json!({"url": "http://127.0.0.1:10/new"})).await;
    assert_eq!(moved["url"], "http://127.0.0.1:10/new");
    assert_eq!(
        moved["secret"],
        secret.as_str(),
        "a new URL keeps the secret"
    );

    let own = "my-shop-secret-0123456789abcdef";
    let (_, mine) = put_webhook(
        &server,
        json!({"url": "http://127.0.0.1:10/new", "secret": own}),
    )
    .await;
    assert_eq!(mine["secret"], own);

    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/rooms/{ROOM}/webhook"),
        Some(&seller(&server)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = get().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let gone: Value = gone.json().await.unwrap();
    assert_eq!(gone["error"]["code"], "webhook_not_found");
}

crate::on_every_store!(the_seller_sets_reads_and_removes_the_webhook);

#[tokio::test]
async fn a_private_address_is_refused_unless_private_targets_are_allowed() {
    // The embedded defaults: allow_private_targets = false.
    let server = server(Store::Memory, test_config()).await;
    for url in [
        "http://127.0.0.1:8080/hooks",
        "http://localhost:6379/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://10.0.0.7/hooks",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0:8080/",
    ] {
        let (status, body) = put_webhook(&server, json!({ "url": url })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["error"]["code"], "webhook_target_forbidden", "{url}");
    }
    // Nothing was set.
    let got = http()
        .get(server.http(&format!("/api/rooms/{ROOM}/webhook")))
        .bearer_auth(seller(&server))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::NOT_FOUND);

    // With the switch on (tests, development), loopback is accepted.
    let allowed = self::server(Store::Memory, config()).await;
    let (status, _) = put_webhook(&allowed, json!({"url": "http://127.0.0.1:8080/hooks"})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_url_or_secret_that_is_not_acceptable_is_invalid_value() {
    let server = server(Store::Memory, config()).await;
    for body in [
        json!({"url": "ftp://127.0.0.1/hooks"}),
        json!({"url": "file:///etc/passwd"}),
        json!({"url": "127.0.0.1/hooks"}),
        json!({"url": ""}),
        json!({"url": "http://user:password@127.0.0.1/hooks"}),
        json!({"url": "http://127.0.0.1/hooks", "secret": "short"}),
        json!({"url": "http://127.0.0.1/hooks", "secret": "has spaces in it, 0123456789"}),
    ] {
        let (status, answer) = put_webhook(&server, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_value", "{body}");
    }
    let (status, answer) = put_webhook(&server, json!({"address": "http://127.0.0.1/"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
}

#[tokio::test]
async fn only_the_rooms_seller_or_an_admin_manages_its_webhook() {
    let server = server(Store::Memory, config()).await;
    server.room("gom-bat-trang").await;
    let other_seller = server.token("gom-bat-trang", Role::Seller, "tuan");
    let viewer = server.token(ROOM, Role::Viewer, "lan");
    let moderator = server.token(ROOM, Role::Moderator, "minh");
    for (method, path) in endpoints() {
        for token in [&other_seller, &viewer, &moderator] {
            let (status, code) = call(&server, method.clone(), &path, Some(token)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
            assert_eq!(code, "forbidden");
        }
        let (status, code) = call(&server, method.clone(), &path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(code, "unauthorized");
        // A room that does not exist is not found, for anyone but its managers.
        let elsewhere = path.replace(ROOM, "no-such-room");
        let (status, code) = call(&server, method.clone(), &elsewhere, Some(&other_seller)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {elsewhere}");
        assert_eq!(code, "room_not_found");
    }

    let admin = server.token(ANY_ROOM, Role::Admin, "admin");
    let path = format!("/api/rooms/{ROOM}/webhook");
    let (status, _) = call(&server, Method::PUT, &path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&server, Method::GET, &path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    // Not even an admin sets a webhook for a room that does not exist.
    let (status, code) = call(
        &server,
        Method::PUT,
        "/api/rooms/no-such-room/webhook",
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code, "room_not_found");
}
