//! Guest identities that survive a reload (`POST /api/guest/token`), over
//! real HTTP: the device cookie gives the same browser the same identity,
//! a forged cookie buys a new one, a banned identity is refused before it
//! reaches the room, a mute still holds, and new devices are rate-limited
//! per address.

use crate::support;

use chophien::auth::Role;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use support::client::Client;
use support::server::{test_config, TestServer};

const ROOM: &str = "tra-thai-nguyen";

/// One guest-token request; the status, the JSON body and the device
/// cookie it set (`name=value`), if any.
async fn guest(
    server: &TestServer,
    name: &str,
    cookie: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = reqwest::Client::new()
        .post(server.http("/api/guest/token"))
        .json(&json!({"room": ROOM, "name": name}));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let set = response
        .headers()
        .get(SET_COOKIE)
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap();
    let pair = set.map(|set| set.split(';').next().unwrap().to_owned());
    (status, body, pair)
}

async fn server_with_room() -> TestServer {
    let server = TestServer::start().await;
    server.room(ROOM).await;
    server
}

#[tokio::test]
async fn a_browser_gets_the_same_identity_back_under_another_name() {
    let server = server_with_room().await;
    let (status, first, cookie) = guest(&server, "Lan", None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let cookie = cookie.expect("a device cookie");
    let (_, again, _) = guest(&server, "Lan (điện thoại)", Some(&cookie)).await;

    assert_eq!(again["identity"], first["identity"]);
    assert!(first["identity"].as_str().unwrap().starts_with("g-"));
    assert_ne!(again["token"], first["token"]);
    assert!(again["expires_at"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn the_device_cookie_is_http_only_and_scoped_to_the_endpoint() {
    let server = server_with_room().await;
    let response = reqwest::Client::new()
        .post(server.http("/api/guest/token"))
        .json(&json!({"room": ROOM, "name": "Lan"}))
        .send()
        .await
        .unwrap();
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set.starts_with("chophien_device="), "{set}");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/api/guest",
        "Max-Age=31536000",
    ] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
}

#[tokio::test]
async fn two_browsers_are_two_people() {
    let server = server_with_room().await;
    let (_, lan, _) = guest(&server, "Lan", None).await;
    let (_, mai, _) = guest(&server, "Lan", None).await;
    assert_ne!(lan["identity"], mai["identity"]);
}

#[tokio::test]
async fn a_forged_or_foreign_cookie_buys_a_new_identity_never_someone_elses() {
    let server = server_with_room().await;
    let (_, lan, cookie) = guest(&server, "Lan", None).await;
    let cookie = cookie.unwrap();
    // An access token is signed with the same secret, but is no device.
    let token = lan["token"].as_str().unwrap();
    let forged = [
        "chophien_device=not-a-token".to_owned(),
        format!("chophien_device={token}"),
        format!("{cookie}x"),
    ];
    for forged in forged {
        let (status, body, replaced) = guest(&server, "Lan", Some(&forged)).await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(body["identity"], lan["identity"], "{forged}");
        assert!(replaced.is_some(), "a new device cookie replaces {forged}");
    }
}

#[tokio::test]
async fn a_banned_guest_is_refused_after_a_reload() {
    let server = server_with_room().await;
    let (_, lan, cookie) = guest(&server, "Lan", None).await;
    let identity = lan["identity"].as_str().unwrap();
    let (mut seller, _) = server.join(ROOM, Role::Seller, "hoa").await;
    seller
        .send(json!({"id": "b", "type": "ban_user", "user_id": identity}))
        .await;
    seller.next_of("user_banned").await;

    let (status, body, _) = guest(&server, "Lan 2", cookie.as_deref()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "banned");
}

#[tokio::test]
async fn a_muted_guest_is_still_muted_after_a_reload_under_another_name() {
    let server = server_with_room().await;
    let (_, lan, cookie) = guest(&server, "Lan", None).await;
    let identity = lan["identity"].as_str().unwrap();
    let (mut seller, _) = server.join(ROOM, Role::Seller, "hoa").await;
    seller
        .send(json!({"id": "m", "type": "mute_user", "user_id": identity, "minutes": 10}))
        .await;
    seller.next_of("user_muted").await;

    let (_, reloaded, _) = guest(&server, "Lan mới", cookie.as_deref()).await;
    let token = reloaded["token"].as_str().unwrap();
    let (mut lan, _) = Client::join(&server.ws_url(ROOM, token)).await;
    lan.send(json!({"id": "c", "type": "chat", "text": "mình quay lại rồi"}))
        .await;
    let refused = lan.next_of("error").await;
    assert_eq!(refused["code"], "muted", "{refused}");
}

#[tokio::test]
async fn new_devices_from_one_address_are_rate_limited_and_known_ones_are_not() {
    let mut config = test_config();
    config.auth.guests_per_minute = 2;
    let server = TestServer::with_config(config).await;
    server.room(ROOM).await;
    let (_, _, cookie) = guest(&server, "Lan", None).await;
    guest(&server, "Mai", None).await;

    let (status, body, _) = guest(&server, "Hoa", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "rate_limited");
    let (status, _, _) = guest(&server, "Lan", cookie.as_deref()).await;
    assert_eq!(status, StatusCode::OK, "a known device is not a new one");
}

#[tokio::test]
async fn guest_tokens_can_be_turned_off_for_shops_that_mint_their_own() {
    let mut config = test_config();
    config.auth.guest_tokens = false;
    let server = TestServer::with_config(config).await;
    server.room(ROOM).await;
    let (status, body, cookie) = guest(&server, "Lan", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(cookie.is_none());
}
