//! What a browser needs from the server (issue 8, section 6): every kind of
//! response carries the security headers, and the answers that hold buyers'
//! phones and addresses, or a token, are never stored by a cache.

use crate::support;

use std::collections::HashMap;

use chophien::auth::Role;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::json;

use support::server::TestServer;

/// `Content-Security-Policy` as a map from directive to its sources.
fn policy(headers: &HeaderMap) -> HashMap<String, Vec<String>> {
    header(headers, "content-security-policy")
        .expect("a Content-Security-Policy")
        .split(';')
        .filter_map(|directive| {
            let mut words = directive.split_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(str::to_owned).collect()))
        })
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

fn assert_secure(what: &str, headers: &HeaderMap) {
    assert_eq!(
        header(headers, "x-content-type-options"),
        Some("nosniff"),
        "{what}: X-Content-Type-Options"
    );
    assert_eq!(
        header(headers, "referrer-policy"),
        Some("no-referrer"),
        "{what}: Referrer-Policy"
    );
    let csp = policy(headers);
    let only = |directive: &str, source: &str| {
        assert_eq!(
            csp.get(directive).map(Vec::as_slice),
            Some(&[source.to_owned()][..]),
            "{what}: {directive}"
        );
    };
    only("default-src", "'none'");
    only("script-src", "'self'");
    only("style-src", "'self'");
    only("connect-src", "'self'");
    only("object-src", "'none'");
    only("base-uri", "'none'");
    only("form-action", "'self'");
    only("frame-ancestors", "'none'");
    let raw = header(headers, "content-security-policy").unwrap();
    assert!(
        !raw.contains("unsafe-") && !raw.contains('*'),
        "{what}: no unsafe-* and no wildcard in {raw}"
    );
}

fn assert_no_store(what: &str, headers: &HeaderMap) {
    assert_eq!(
        header(headers, "cache-control"),
        Some("no-store"),
        "{what}: Cache-Control"
    );
}

#[tokio::test]
async fn pages_static_files_the_api_and_its_errors_carry_the_security_headers() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let http = reqwest::Client::new();
    for (path, status) in [
        ("/", StatusCode::OK),
        ("/seller.html", StatusCode::OK),
        ("/viewer.html", StatusCode::OK),
        ("/js/viewer.js", StatusCode::OK),
        ("/css/app.css", StatusCode::OK),
        ("/img/favicon.svg", StatusCode::OK),
        ("/khong-co.html", StatusCode::NOT_FOUND),
        ("/api/rooms", StatusCode::OK),
        ("/api/rooms/r1", StatusCode::OK),
        ("/api/rooms/khong-co", StatusCode::NOT_FOUND),
        ("/healthz", StatusCode::OK),
    ] {
        let response = http.get(server.http(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert_secure(path, response.headers());
    }
    // A refused WebSocket (not an upgrade, bad token) is an HTTP error too.
    let refused = http
        .get(server.http("/ws/rooms/r1?token=sai"))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error());
    assert_secure("/ws/rooms/r1", refused.headers());
}

#[tokio::test]
async fn the_sellers_orders_are_never_stored_whoever_asks() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let http = reqwest::Client::new();
    let seller = server.token("r1", Role::Seller, "hoa");
    let viewer = server.token("r1", Role::Viewer, "lan");
    for path in ["/api/rooms/r1/orders", "/api/rooms/r1/orders.csv"] {
        let ok = http
            .get(server.http(path))
            .bearer_auth(&seller)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "{path}");
        assert_secure(path, ok.headers());
        assert_no_store(path, ok.headers());

        let anonymous = http.get(server.http(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_secure(path, anonymous.headers());
        assert_no_store(path, anonymous.headers());

        let forbidden = http
            .get(server.http(path))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN, "{path}");
        assert_no_store(path, forbidden.headers());
    }
    let missing = http
        .get(server.http("/api/rooms/khong-co/orders.csv"))
        .bearer_auth(server.token("khong-co", Role::Seller, "hoa"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_no_store("orders.csv of a missing room", missing.headers());
}

#[tokio::test]
async fn a_minted_dev_token_is_never_stored() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let response = reqwest::Client::new()
        .post(server.http("/api/dev/token"))
        .json(&json!({"room": "r1", "name": "Lan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_secure("/api/dev/token", response.headers());
    assert_no_store("/api/dev/token", response.headers());
}

#[tokio::test]
async fn static_files_stay_cacheable() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.http("/js/viewer.js")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "cache-control"), None);
}
