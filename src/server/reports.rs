//! The seller's session report over HTTP, computed from the journal on
//! every request (`crate::analytics`, defined in `docs/metrics.md`):
//! - `GET /api/rooms/{id}/report?bucket_secs=N` — metrics, curves, events,
//!   top products, the comparison with her previous sessions, the weakest
//!   metrics with a suggestion each (the studio polls it every few seconds
//!   while live, with 10-second buckets);
//! - `GET /api/rooms/{id}/report.csv` — the same as a spreadsheet;
//! - `GET /api/rooms/{id}/journal` — the journal itself, as JSON lines, so
//!   any figure can be recomputed;
//! - `GET /api/rooms/{id}/timeline` — the session's public moments (chat,
//!   hearts, pins, sales, vouchers, the stream) for the replay page.
//!
//! The report and the journal are the room's seller's (or an admin's); the
//! timeline also anyone's once the seller published the replay, and a
//! practice room's trainer's, who with the trainee also gets the trainer's
//! annotations in it (`scorecard.rs`).

use std::collections::HashSet;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::analytics::{PreviousSession, Session, SessionReport, PREVIOUS_SESSIONS};
use crate::clock::{unix_millis, UnixMillis};
use crate::journal::{JournalEntry, JournalError, Record, SessionRef};
use crate::protocol::{ErrorCode, RoomEvent, RoomStatus};

use super::api::{authorize_manager, ApiError};
use super::orders::{cell, local_time, Language};
use super::AppState;

/// The narrowest and widest buckets a report's curves may ask for.
const BUCKET_SECS: std::ops::RangeInclusive<u64> = 5..=3600;

impl From<JournalError> for ApiError {
    fn from(error: JournalError) -> ApiError {
        let (status, code) = match error {
            JournalError::NotFound => (StatusCode::NOT_FOUND, ErrorCode::RoomNotFound),
            JournalError::Disabled => (StatusCode::NOT_FOUND, ErrorCode::InvalidState),
            JournalError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
        };
        ApiError::new(status, code, error.to_string())
    }
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    bucket_secs: Option<u64>,
    /// The CSV's language (`en`; Vietnamese otherwise).
    lang: Option<String>,
}

/// The room as the report heads it, from the journal.
#[derive(Debug, Serialize)]
pub struct RoomHeading {
    pub id: String,
    pub title: String,
    pub seller_name: String,
    pub status: RoomStatus,
    pub created_at: UnixMillis,
    /// A practice room's session: the report says "Phòng luyện tập".
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub practice: bool,
}

#[derive(Debug, Serialize)]
pub struct ReportBody {
    pub room: RoomHeading,
    #[serde(flatten)]
    pub report: SessionReport,
}

pub async fn report(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Json<ReportBody>, ApiError> {
    authorize_manager(&state, &room_id, &headers, "read its report").await?;
    let bucket_secs = query.bucket_secs.unwrap_or(60);
    if !BUCKET_SECS.contains(&bucket_secs) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            format!(
                "bucket_secs must be between {} and {}",
                BUCKET_SECS.start(),
                BUCKET_SECS.end()
            ),
        )
        .about("bucket_secs"));
    }
    Ok(Json(build(&state, &room_id, bucket_secs).await?))
}

pub async fn report_csv(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize_manager(&state, &room_id, &headers, "read its report").await?;
    let body = build(&state, &room_id, 60).await?;
    let language = match query.lang.as_deref() {
        Some("en") => Language::English,
        _ => Language::Vietnamese,
    };
    let csv = render_csv(&body, language).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            e.to_string(),
        )
    })?;
    let disposition = format!("attachment; filename=\"report-{room_id}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

pub async fn journal(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize_manager(&state, &room_id, &headers, "read its journal").await?;
    let mut lines = state.journal.read_lines(&room_id).await?.join("\n");
    lines.push('\n');
    let disposition = format!("attachment; filename=\"journal-{room_id}.jsonl\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        lines,
    )
        .into_response())
}

/// The replay page's moments: what every viewer saw, with its time.
pub async fn timeline(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    // A practice room's trainer sees its replay too (`scorecard::access`).
    let reviewer = super::scorecard::sees_review(&state, &headers, &room_id);
    if !state.recordings.is_published(&room_id) && !reviewer {
        authorize_manager(&state, &room_id, &headers, "see an unpublished replay").await?;
    }
    let entries = state.journal.read(&room_id).await?;
    let session = Session::read(&entries, unix_millis());
    let mut body = serde_json::json!({
        "room": {
            "id": session.room_id,
            "title": session.title,
            "seller_name": session.seller_name,
            "practice": session.practice,
        },
        "entries": public_moments(&entries),
    });
    // The trainer's notes: for the trainee and the trainer, never the public.
    if reviewer {
        body["annotations"] = serde_json::json!(crate::practice::review::annotations(&entries));
    }
    Ok(Json(body))
}

/// The room events a replay shows, each with `at`; chat messages deleted
/// later are left out (nobody should see them again).
fn public_moments(entries: &[JournalEntry]) -> Vec<serde_json::Value> {
    let events = || {
        entries.iter().filter_map(|entry| match &entry.record {
            Record::Event { event } => Some((entry.at, &event.event)),
            _ => None,
        })
    };
    let deleted: HashSet<u64> = events()
        .filter_map(|(_, event)| match event {
            RoomEvent::MessageDeleted { message_id } => Some(*message_id),
            _ => None,
        })
        .collect();
    let mut moments: Vec<(UnixMillis, serde_json::Value)> = events()
        .filter(|(_, event)| match event {
            RoomEvent::Chat { message } => !deleted.contains(&message.id),
            RoomEvent::Hearts { .. }
            | RoomEvent::ProductPinned { .. }
            | RoomEvent::ProductUnpinned
            | RoomEvent::SaleUpdated { .. }
            | RoomEvent::VoucherDropped { .. }
            | RoomEvent::StreamState { .. }
            | RoomEvent::RoomStatus { .. }
            | RoomEvent::NotePinned { .. }
            | RoomEvent::NoteUnpinned => true,
            _ => false,
        })
        .filter_map(|(at, event)| {
            let mut value = serde_json::to_value(event).ok()?;
            value.as_object_mut()?.insert("at".into(), at.into());
            Some((at, value))
        })
        .collect();
    moments.sort_by_key(|(at, _)| *at);
    moments.into_iter().map(|(_, value)| value).collect()
}

/// The report of `room_id`'s latest session, compared with the seller's
/// earlier sessions (read once each after they ended, then cached).
async fn build(state: &AppState, room_id: &str, bucket_secs: u64) -> Result<ReportBody, ApiError> {
    let now = unix_millis();
    let entries = state.journal.read(room_id).await?;
    let session = Session::read(&entries, now);
    let previous = previous_sessions(state, &session, now).await;
    let status = match (session.started_at, session.ended_at) {
        (_, Some(_)) => RoomStatus::Ended,
        (Some(_), None) => RoomStatus::Live,
        (None, None) => RoomStatus::Scheduled,
    };
    let room = RoomHeading {
        id: room_id.to_owned(),
        title: session.title.clone(),
        seller_name: session.seller_name.clone(),
        status,
        created_at: session.opened_at,
        practice: session.practice,
    };
    let report = SessionReport::of(&entries, now, bucket_secs, previous);
    Ok(ReportBody { room, report })
}

async fn previous_sessions(
    state: &AppState,
    session: &Session,
    now: UnixMillis,
) -> Vec<PreviousSession> {
    let listed = match state.journal.sessions_of(&session.seller_name).await {
        Ok(listed) => listed,
        Err(error) => {
            tracing::warn!(%error, "previous sessions could not be listed");
            return Vec::new();
        }
    };
    let earlier = listed
        .into_iter()
        .filter(|s| s.opened_at < session.opened_at)
        .take(PREVIOUS_SESSIONS);
    let mut previous = Vec::new();
    for listed in earlier {
        let key = (listed.room_id.clone(), listed.opened_at);
        if let Some(cached) = state.previous_sessions.get(&key) {
            previous.push(cached.clone());
            continue;
        }
        match read_previous(state, &listed, now).await {
            Some((figures, ended)) => {
                if ended {
                    state.previous_sessions.insert(key, figures.clone());
                }
                previous.push(figures);
            }
            None => continue,
        }
    }
    previous
}

async fn read_previous(
    state: &AppState,
    listed: &SessionRef,
    now: UnixMillis,
) -> Option<(PreviousSession, bool)> {
    let entries = state.journal.read_session(listed).await.ok()?;
    let ended = Session::read(&entries, now).ended_at.is_some();
    Some((PreviousSession::of(&entries, now), ended))
}

/// The totals (one per line), a blank line, then one line per minute.
fn render_csv(body: &ReportBody, language: Language) -> Result<String, csv::Error> {
    let english = language == Language::English;
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    writer.write_record([
        if english { "Session" } else { "Phiên live" },
        &cell(&body.room.title),
    ])?;
    writer.write_record([
        if english { "Seller" } else { "Người bán" },
        &cell(&body.room.seller_name),
    ])?;
    writer.write_record([
        if english { "Created" } else { "Tạo lúc" },
        &local_time(body.room.created_at),
    ])?;
    writer.write_record([
        if english { "Metric" } else { "Chỉ số" },
        if english { "Value" } else { "Giá trị" },
    ])?;
    if let Ok(serde_json::Value::Object(metrics)) = serde_json::to_value(&body.report.metrics) {
        for (name, value) in metrics {
            let value = match value {
                serde_json::Value::Null => String::new(),
                value => value.to_string(),
            };
            writer.write_record([name.as_str(), value.as_str()])?;
        }
    }
    writer.write_record([""])?;
    writer.write_record(if english {
        [
            "Minute",
            "Viewers",
            "Peak viewers",
            "Comments",
            "Hearts",
            "Impressions",
            "Clicks",
            "Orders",
            "Units",
            "GMV (VND)",
        ]
    } else {
        [
            "Phút",
            "Người xem",
            "Người xem cao nhất",
            "Bình luận",
            "Thả tim",
            "Lượt hiển thị",
            "Lượt bấm",
            "Đơn hàng",
            "Sản phẩm",
            "Doanh thu (VND)",
        ]
    })?;
    for point in &body.report.series.points {
        writer.write_record([
            local_time(point.at),
            point.viewers.to_string(),
            point.peak_viewers.to_string(),
            point.comments.to_string(),
            point.hearts.to_string(),
            point.impressions.to_string(),
            point.clicks.to_string(),
            point.orders.to_string(),
            point.units.to_string(),
            point.gmv_vnd.to_string(),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
