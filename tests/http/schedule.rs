//! Scheduling and sharing (issue 14, part 3), over real sockets: a seller
//! plans her live (`POST /api/rooms`, `PATCH /api/rooms/{id}`), everyone in
//! the room is told (`room_updated`), and the share link (`/live/{id}`)
//! and its calendar event (`/live/{id}/calendar.ics`) show what a preview
//! card and a phone's calendar need.

use crate::support;

use chophien::auth::Role;
use icalendar::{Calendar, CalendarComponent, Component};
use reqwest::StatusCode;
use serde_json::{json, Value};

use support::server::{Store, TestServer};

const ROOM: &str = "che-sang-thu-bay";
const DAY: u64 = 24 * 60 * 60 * 1000;

/// A minute-aligned time a day from now (what the studio's inputs send).
fn tomorrow() -> u64 {
    let now = chophien::clock::unix_millis();
    (now + DAY) / 60_000 * 60_000
}

async fn patch(server: &TestServer, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .patch(server.http(&format!("/api/rooms/{ROOM}")))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn seller(server: &TestServer) -> String {
    server.token(ROOM, Role::Seller, "hoa")
}

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    reqwest::get(server.http(path)).await.unwrap()
}

#[tokio::test]
async fn a_seller_opens_a_room_with_its_planned_start_and_cover() {
    let server = TestServer::start().await;
    let at = tomorrow();
    let response = reqwest::Client::new()
        .post(server.http("/api/rooms"))
        .bearer_auth(seller(&server))
        .json(&json!({"title": "Chè sáng thứ Bảy", "starts_at": at,
            "cover_url": "/photos/ab12cd.jpg"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let room: Value = response.json().await.unwrap();
    assert_eq!(
        (&room["starts_at"], &room["cover_url"]),
        (&json!(at), &json!("/photos/ab12cd.jpg"))
    );
    let listed: Value = get(&server, "/api/rooms").await.json().await.unwrap();
    assert_eq!(listed[0]["starts_at"], json!(at));
}

#[tokio::test]
async fn a_room_opened_with_a_start_in_the_past_is_refused() {
    let server = TestServer::start().await;
    let response = reqwest::Client::new()
        .post(server.http("/api/rooms"))
        .bearer_auth(seller(&server))
        .json(&json!({"title": "Chè", "starts_at": 1_000_000_000_000u64}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_value");
    assert_eq!(body["error"]["field"], "starts_at", "{body}");
}

async fn the_seller_plans_her_live_and_everyone_in_the_room_is_told(store: Store) {
    let server = store.start().await;
    server.room(ROOM).await;
    let (mut lan, snapshot) = server.join(ROOM, Role::Viewer, "lan").await;
    assert!(snapshot["room"].get("starts_at").is_none());
    let at = tomorrow();
    let body = json!({"title": "Chè mới hái", "starts_at": at,
        "cover_url": "https://cdn.example.vn/che.jpg"});
    let (status, room) = patch(&server, Some(&seller(&server)), body).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    assert_eq!(room["title"], "Chè mới hái");
    assert_eq!(room["starts_at"], json!(at));
    let told = lan.next_of("room_updated").await;
    assert_eq!(told["room"], room);
    let fetched: Value = get(&server, &format!("/api/rooms/{ROOM}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["cover_url"], "https://cdn.example.vn/che.jpg");
}

async fn an_admin_may_plan_any_room_and_clear_its_start(store: Store) {
    let server = store.start().await;
    server.room(ROOM).await;
    let admin = server.token(ROOM, Role::Admin, "root");
    let (status, _) = patch(&server, Some(&admin), json!({"starts_at": tomorrow()})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, room) = patch(&server, Some(&admin), json!({"starts_at": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(room.get("starts_at").is_none(), "{room}");
    assert_eq!(
        room["title"], "Phiên thử",
        "an absent field stays as it was"
    );
}

async fn an_empty_patch_changes_nothing_and_tells_nobody(store: Store) {
    let server = store.start().await;
    server.room(ROOM).await;
    let (mut lan, _) = server.join(ROOM, Role::Viewer, "lan").await;
    let (status, room) = patch(&server, Some(&seller(&server)), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    assert_eq!(room["title"], "Phiên thử");
    let (status, _) = patch(
        &server,
        Some(&seller(&server)),
        json!({"title": "Chè chiều"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let told = lan.next_of("room_updated").await;
    assert_eq!(
        told["room"]["title"], "Chè chiều",
        "the first room_updated is the real change's: {told}"
    );
}

async fn the_report_heads_the_session_with_its_latest_title(store: Store) {
    let server = store.start().await;
    server.room(ROOM).await;
    let (status, _) = patch(
        &server,
        Some(&seller(&server)),
        json!({"title": "Chè chiều"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The journal's writer runs on its own: read until the rename is in it.
    let mut title = Value::Null;
    for _ in 0..100 {
        let report: Value = reqwest::Client::new()
            .get(server.http(&format!("/api/rooms/{ROOM}/report")))
            .bearer_auth(seller(&server))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        title = report["room"]["title"].clone();
        if title == "Chè chiều" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(title, "Chè chiều");
}

crate::on_every_store!(
    the_seller_plans_her_live_and_everyone_in_the_room_is_told,
    an_admin_may_plan_any_room_and_clear_its_start,
    an_empty_patch_changes_nothing_and_tells_nobody,
    the_report_heads_the_session_with_its_latest_title,
);

#[tokio::test]
async fn each_unacceptable_field_is_refused_with_its_name() {
    let server = TestServer::start().await;
    server.room(ROOM).await;
    let hoa = seller(&server);
    let now = chophien::clock::unix_millis();
    for (body, field) in [
        (json!({"starts_at": now - 60 * 60 * 1000}), "starts_at"),
        (json!({"starts_at": now + 400 * DAY}), "starts_at"),
        (json!({"title": "  \u{200b} "}), "title"),
        (json!({"title": "á".repeat(201)}), "title"),
        (json!({"cover_url": "http://example.vn/a.jpg"}), "cover_url"),
        (json!({"cover_url": "javascript:alert(1)"}), "cover_url"),
        (json!({"cover_url": "/photos/../config.toml"}), "cover_url"),
    ] {
        let (status, reply) = patch(&server, Some(&hoa), body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply["error"]["code"], "invalid_value", "{body}");
        assert_eq!(reply["error"]["field"], field, "{body}");
    }
    let room: Value = get(&server, &format!("/api/rooms/{ROOM}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(room["title"], "Phiên thử", "nothing refused was kept");
}

#[tokio::test]
async fn only_the_rooms_seller_or_an_admin_may_plan_it() {
    let server = TestServer::start().await;
    server.room(ROOM).await;
    let body = json!({"title": "Của tôi"});
    let (status, reply) = patch(&server, None, body.clone()).await;
    assert_eq!(
        (status, &reply["error"]["code"]),
        (StatusCode::UNAUTHORIZED, &json!("unauthorized"))
    );
    for token in [
        server.token(ROOM, Role::Viewer, "lan"),
        server.token(ROOM, Role::Moderator, "minh"),
        server.token("phien-khac", Role::Seller, "mai"),
    ] {
        let (status, reply) = patch(&server, Some(&token), body.clone()).await;
        assert_eq!(
            (status, &reply["error"]["code"]),
            (StatusCode::FORBIDDEN, &json!("forbidden"))
        );
    }
    let stranger = server.token("khong-co", Role::Seller, "mai");
    let response = reqwest::Client::new()
        .patch(server.http("/api/rooms/khong-co"))
        .bearer_auth(stranger)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// The `content` of the `<meta>` whose `property` or `name` is `key`.
fn meta<'a>(page: &'a str, key: &str) -> Option<&'a str> {
    let start = page
        .find(&format!("property=\"{key}\" content=\""))
        .or_else(|| page.find(&format!("name=\"{key}\" content=\"")))?;
    let rest = &page[start..];
    let value = &rest[rest.find("content=\"")? + 9..];
    Some(&value[..value.find('"')?])
}

#[tokio::test]
async fn the_share_page_carries_the_preview_tags_with_every_value_escaped() {
    let server = TestServer::start().await;
    server.room(ROOM).await;
    let at = tomorrow() / DAY * DAY + 13 * 60 * 60 * 1000;
    let title = r#"<script>alert("x")</script> Chè 'Tân Cương' & quà"#;
    let (status, _) = patch(
        &server,
        Some(&seller(&server)),
        json!({"title": title, "starts_at": at, "cover_url": "/photos/ab12cd.jpg"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let response = get(&server, &format!("/live/{ROOM}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(!page.contains("<script"), "a title became markup: {page}");
    assert!(
        !page.contains(r#""x""#),
        "a quote ended an attribute: {page}"
    );
    let escaped =
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Chè &#39;Tân Cương&#39; &amp; quà";
    assert_eq!(meta(&page, "og:title"), Some(escaped));
    assert_eq!(meta(&page, "twitter:title"), Some(escaped));
    let base = format!("http://{}", server.addr);
    assert_eq!(
        meta(&page, "og:url"),
        Some(format!("{base}/live/{ROOM}").as_str())
    );
    assert_eq!(
        meta(&page, "og:image"),
        Some(format!("{base}/photos/ab12cd.jpg").as_str())
    );
    assert!(meta(&page, "og:type").is_some());
    // 13:00 UTC is 20:00 in Hà Nội, whatever day it is.
    let description = meta(&page, "og:description").unwrap();
    assert!(
        description.starts_with("Bắt đầu lúc 20:00, ") && description.contains("(giờ Việt Nam)"),
        "{description}"
    );
    assert!(page.contains(&format!("href=\"/viewer.html?room={ROOM}\"")));
}

#[tokio::test]
async fn the_share_page_of_an_unknown_room_is_a_json_404() {
    let server = TestServer::start().await;
    let response = get(&server, "/live/khong-co").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "room_not_found");
}

/// `YYYYMMDDTHHMMSSZ` of a unix time in ms.
fn ical_utc(ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64).unwrap();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[tokio::test]
async fn the_calendar_event_starts_when_planned_and_lasts_an_hour() {
    let server = TestServer::start().await;
    server.room(ROOM).await;
    let at = tomorrow();
    patch(
        &server,
        Some(&seller(&server)),
        json!({"title": "Chè mới hái", "starts_at": at}),
    )
    .await;
    let response = get(&server, &format!("/live/{ROOM}/calendar.ics")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains(".ics"),
        "{disposition}"
    );
    let body = response.text().await.unwrap();
    let calendar: Calendar = body.parse().unwrap();
    let events: Vec<_> = calendar
        .components
        .iter()
        .filter_map(|c| match c {
            CalendarComponent::Event(event) => Some(event),
            _ => None,
        })
        .collect();
    assert_eq!(events.len(), 1, "{body}");
    let event = events[0];
    assert_eq!(event.property_value("SUMMARY"), Some("Chè mới hái"));
    assert_eq!(event.property_value("DTSTART"), Some(ical_utc(at).as_str()));
    assert_eq!(
        event.property_value("DTEND"),
        Some(ical_utc(at + 60 * 60 * 1000).as_str())
    );
    let share = format!("http://{}/live/{ROOM}", server.addr);
    assert_eq!(event.property_value("URL"), Some(share.as_str()));
}

#[tokio::test]
async fn a_room_without_a_planned_start_has_no_calendar_event() {
    let server = TestServer::start().await;
    server.room(ROOM).await;
    let response = get(&server, &format!("/live/{ROOM}/calendar.ics")).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_scheduled");
}
