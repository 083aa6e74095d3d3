//! A room's share link, as the people it is shared with meet it:
//! `GET /live/{room_id}` and `GET /live/{room_id}/calendar.ics`.
//!
//! Sellers post the link in Zalo and Facebook groups. Those apps fetch it to
//! draw a preview card, without running scripts, so the page is rendered
//! here with its Open Graph and Twitter tags: the title, the planned start
//! in Vietnamese (Asia/Ho_Chi_Minh, which has no daylight saving: UTC+7),
//! the cover as an absolute URL. A person who taps the link sees the same
//! card as a small page with a link into the room (no script: the CSP
//! forbids inline script, and a meta refresh would send preview robots
//! to a page without tags) and, for a planned live, "Nhắc tôi": the
//! calendar event, an iCalendar file built with the `icalendar` crate.
//!
//! No token is needed: both answer only what `GET /api/rooms/{id}` already
//! tells anyone. Every value placed in the markup is HTML-escaped.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use icalendar::{Calendar, Component, EventLike};
use time::{OffsetDateTime, UtcOffset};

use crate::clock::UnixMillis;
use crate::protocol::{ErrorCode, RoomInfo, RoomStatus};

use super::api::ApiError;
use super::AppState;

/// Vietnam's offset from UTC, all year round.
const VIETNAM: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// How long a calendar event for a live lasts when nobody said.
const DEFAULT_DURATION_MS: u64 = 60 * 60 * 1000;

/// `GET /live/{room_id}`: the share page with its preview tags.
pub async fn page(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    let room = state.rooms.info(&room_id).await?;
    let base = public_base(&state, &headers);
    Ok(Html(render(&room, &base)))
}

/// `GET /live/{room_id}/calendar.ics`: the planned live as a calendar
/// event; `409 not_scheduled` when the room has no planned start.
pub async fn calendar(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let room = state.rooms.info(&room_id).await?;
    let Some(starts_at) = room.starts_at else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NotScheduled,
            "this room has no planned start",
        ));
    };
    let base = public_base(&state, &headers);
    let body = ics(&room, starts_at, &base)?;
    let disposition = format!("attachment; filename=\"chophien-{}.ics\"", room.id);
    let disposition = HeaderValue::from_str(&disposition).map_err(|_| internal("file name"))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Where this server is reached from outside: `server.public_url` when
/// set, else `http://` and the request's `Host` (when it looks like a host
/// name or address, port included; anything else is not echoed).
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    let configured = state.config.server.public_url.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| is_host(host))
        .map(str::to_owned)
        .unwrap_or_else(|| state.config.server.listen.to_string());
    format!("http://{host}")
}

fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// The share link of a room.
pub fn share_url(base: &str, room_id: &str) -> String {
    format!("{base}/live/{room_id}")
}

/// The page: preview tags, then the card a person sees.
fn render(room: &RoomInfo, base: &str) -> String {
    let url = share_url(base, &room.id);
    let viewer = format!("/viewer.html?room={}", room.id);
    let when = describe(room);
    let description = format!("{when} · {}", room.seller_name);
    let image = room.cover_url.as_deref().map(|cover| absolute(base, cover));
    let e = escape;
    let mut tags = vec![
        meta("property", "og:type", "video.other"),
        meta("property", "og:site_name", "Chợ Phiên"),
        meta("property", "og:locale", "vi_VN"),
        meta("property", "og:title", &room.title),
        meta("property", "og:description", &description),
        meta("property", "og:url", &url),
        meta("name", "description", &description),
        meta("name", "twitter:title", &room.title),
        meta("name", "twitter:description", &description),
    ];
    match &image {
        Some(image) => {
            tags.push(meta("property", "og:image", image));
            tags.push(meta("name", "twitter:image", image));
            tags.push(meta("name", "twitter:card", "summary_large_image"));
        }
        None => tags.push(meta("name", "twitter:card", "summary")),
    }
    let cover = image.as_deref().map_or_else(String::new, |image| {
        format!("<img class=\"share-cover\" src=\"{}\" alt=\"\">", e(image))
    });
    let remind = if room.starts_at.is_some() && room.status == RoomStatus::Scheduled {
        format!(
            "<a class=\"btn\" href=\"/live/{}/calendar.ics\" download>Nhắc tôi · Remind me</a>",
            e(&room.id)
        )
    } else {
        String::new()
    };
    format!(
        "<!doctype html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1, viewport-fit=cover\">\n\
<title>{title} · Chợ Phiên</title>\n{tags}\n<link rel=\"canonical\" href=\"{url}\">\n\
<link rel=\"icon\" href=\"/img/favicon.svg\" type=\"image/svg+xml\">\n\
<link rel=\"stylesheet\" href=\"/css/app.css\">\n<link rel=\"stylesheet\" href=\"/css/landing.css\">\n\
</head>\n<body class=\"page-share\">\n<main class=\"share-card\" data-testid=\"share-card\">\n{cover}\n\
<h1>{title}</h1>\n<p class=\"muted\">{seller}</p>\n<p data-testid=\"share-when\">{when}</p>\n\
<p class=\"share-actions\"><a class=\"btn btn-primary\" href=\"{viewer}\" data-testid=\"share-enter\">Vào phiên live · Open the live</a>\n{remind}</p>\n\
<p><a class=\"btn btn-ghost\" href=\"/\">Các phiên live khác · More lives</a></p>\n</main>\n</body>\n</html>\n",
        title = e(&room.title),
        tags = tags.join("\n"),
        url = e(&url),
        seller = e(&room.seller_name),
        when = e(&when),
        viewer = e(&viewer),
    )
}

/// One `<meta>` tag, its value escaped.
fn meta(attribute: &str, key: &str, value: &str) -> String {
    format!("<meta {attribute}=\"{key}\" content=\"{}\">", escape(value))
}

/// Where the room is in its life, in Vietnamese: the planned start in
/// Vietnam's time, "đang live", or "đã kết thúc".
pub fn describe(room: &RoomInfo) -> String {
    match (room.status, room.starts_at) {
        (RoomStatus::Live, _) => "Đang live".to_owned(),
        (RoomStatus::Ended, _) => "Phiên live đã kết thúc".to_owned(),
        (RoomStatus::Scheduled, Some(at)) => format!("Bắt đầu lúc {}", vietnam_time(at)),
        (RoomStatus::Scheduled, None) => "Phiên live sắp diễn ra".to_owned(),
    }
}

/// `20:00, Thứ Sáu 04/12/2026 (giờ Việt Nam)`.
pub fn vietnam_time(at: UnixMillis) -> String {
    let Ok(utc) = OffsetDateTime::from_unix_timestamp((at / 1000) as i64) else {
        return String::new();
    };
    let local = utc.to_offset(VIETNAM);
    let weekday = match local.weekday() {
        time::Weekday::Monday => "Thứ Hai",
        time::Weekday::Tuesday => "Thứ Ba",
        time::Weekday::Wednesday => "Thứ Tư",
        time::Weekday::Thursday => "Thứ Năm",
        time::Weekday::Friday => "Thứ Sáu",
        time::Weekday::Saturday => "Thứ Bảy",
        time::Weekday::Sunday => "Chủ Nhật",
    };
    format!(
        "{:02}:{:02}, {weekday} {:02}/{:02}/{} (giờ Việt Nam)",
        local.hour(),
        local.minute(),
        local.day(),
        u8::from(local.month()),
        local.year()
    )
}

/// `cover` (an `https://` URL or one of our `/photos/` paths) as an
/// absolute URL.
fn absolute(base: &str, cover: &str) -> String {
    if cover.starts_with('/') {
        format!("{base}{cover}")
    } else {
        cover.to_owned()
    }
}

/// The calendar file: one event, from the planned start for an hour.
fn ics(room: &RoomInfo, starts_at: UnixMillis, base: &str) -> Result<String, ApiError> {
    let start = date_time(starts_at)?;
    let end = date_time(starts_at.saturating_add(DEFAULT_DURATION_MS))?;
    let url = share_url(base, &room.id);
    let host = base.split("://").nth(1).unwrap_or("chophien");
    let event = icalendar::Event::new()
        .uid(&format!("{}-{starts_at}@{host}", room.id))
        .summary(&room.title)
        .description(&format!(
            "Phiên live của {} trên Chợ Phiên: {url}",
            room.seller_name
        ))
        .location(&url)
        .url(&url)
        .starts(start)
        .ends(end)
        .done();
    let calendar = Calendar::new().name("Chợ Phiên").push(event).done();
    Ok(calendar.to_string())
}

fn date_time(at: UnixMillis) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::from_unix_timestamp((at / 1000) as i64).map_err(|_| internal("a time"))
}

fn internal(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        format!("could not write {what}"),
    )
}

/// Text as HTML text or attribute value: the five characters that could
/// end either are replaced by their entities.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnam_time_is_utc_plus_seven_with_a_vietnamese_weekday() {
        // 2026-12-04T13:00:00Z is 20:00 on a Friday in Hà Nội.
        assert_eq!(
            vietnam_time(1_796_389_200_000),
            "20:00, Thứ Sáu 04/12/2026 (giờ Việt Nam)"
        );
    }

    #[test]
    fn escaping_leaves_no_markup_or_quote() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn only_a_plain_host_is_echoed() {
        assert!(is_host("cho.example.vn:8080"));
        assert!(is_host("[::1]:3000"));
        assert!(!is_host("evil.vn/\"><script>"));
        assert!(!is_host(""));
    }
}
