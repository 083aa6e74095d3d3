//! Practice attempts' scorecards and the trainer's review over HTTP
//! (`crate::practice::score`, `crate::practice::review`; `docs/protocol.md`,
//! "Practice scorecards"):
//! - `GET /api/practice/rooms/{room}/scorecard` — the attempt's scorecard,
//!   computed from its journal on every request;
//! - `PUT /api/practice/rooms/{room}/weights` — the parts' weights for the
//!   room (this node's memory);
//! - `PUT /api/practice/rooms/{room}/marks` — the trainer's marks;
//! - `POST`/`GET /api/practice/rooms/{room}/annotations` — notes on moments
//!   of the replay;
//! - `GET /api/practice/scorecards.csv?rooms=a,b` and
//!   `GET /api/practice/compare?rooms=a,b` — several attempts.
//!
//! Who: the room's trainer (a trainer token for the room, or for `*`) and
//! an admin read and write; the room's seller (the trainee) reads. Anyone
//! else is refused 403 `forbidden`, whatever the room.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Claims, Role, ANY_ROOM};
use crate::clock::unix_millis;
use crate::journal::JournalEntry;
use crate::practice::review::{self, ReviewError};
use crate::practice::score::{Comparison, PartName, Scorecard, Weights, WeightsError};
use crate::protocol::ErrorCode;

use super::api::{bearer_claims, ApiError};
use super::orders::{cell, local_time};
use super::AppState;

/// Attempts one CSV or comparison may name: a class's worth.
pub const MAX_ROOMS: usize = 40;

/// What a token may do with a practice room's scorecard and review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The trainer of the room (or of every room) or an admin: read, mark,
    /// annotate, set weights.
    Review,
    /// The room's seller, the trainee: read.
    Trainee,
}

/// `claims`' access to `room`, if any. A trainer's token for every room
/// (`*`) reviews only the rooms of her own classes on this node; a trainer's
/// token for the room itself (the coach token a class hands out) reviews it.
pub fn access(state: &AppState, claims: &Claims, room: &str) -> Option<Access> {
    let owns = || {
        state
            .classes
            .class_of_room(room)
            .is_some_and(|class| class.owner == claims.sub)
    };
    match claims.role {
        Role::Admin if claims.admits_to(room) => Some(Access::Review),
        Role::Trainer if claims.room == room || (claims.room == ANY_ROOM && owns()) => {
            Some(Access::Review)
        }
        Role::Seller if claims.room == room => Some(Access::Trainee),
        _ => None,
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
}

fn invalid(field: &'static str, message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidValue,
        message,
    )
    .about(field)
}

impl From<WeightsError> for ApiError {
    fn from(error: WeightsError) -> ApiError {
        invalid(error.field(), error.to_string())
    }
}

impl From<ReviewError> for ApiError {
    fn from(error: ReviewError) -> ApiError {
        invalid(error.field(), error.to_string())
    }
}

/// The caller's claims if they may read `room` (`Review` to write).
fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    room: &str,
    needs: Access,
) -> Result<Claims, ApiError> {
    let claims = bearer_claims(state, headers)?;
    match (access(state, &claims, room), needs) {
        (Some(Access::Review), _) | (Some(Access::Trainee), Access::Trainee) => Ok(claims),
        (Some(Access::Trainee), Access::Review) => Err(forbidden(
            "only the room's trainer or an admin may change its review",
        )),
        (None, _) => Err(forbidden(
            "only the room's trainer, its seller or an admin may see its scorecard",
        )),
    }
}

/// Whether the request's bearer token (if any) may see `room`'s
/// annotations: for the replay's timeline, which is otherwise public.
pub fn sees_review(state: &AppState, headers: &HeaderMap, room: &str) -> bool {
    bearer_claims(state, headers)
        .ok()
        .is_some_and(|claims| access(state, &claims, room).is_some())
}

/// The room's journal; a room without one is 404 `room_not_found`.
async fn entries(state: &AppState, room: &str) -> Result<Vec<JournalEntry>, ApiError> {
    Ok(state.journal.read(room).await?)
}

async fn scorecard_of(state: &AppState, room: &str) -> Result<Scorecard, ApiError> {
    let entries = entries(state, room).await?;
    let weights = state.score_weights.get(room);
    Ok(Scorecard::of(&entries, &weights, unix_millis()))
}

pub async fn scorecard(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Scorecard>, ApiError> {
    authorize(&state, &headers, &room, Access::Trainee)?;
    Ok(Json(scorecard_of(&state, &room).await?))
}

pub async fn put_weights(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, &room, Access::Review)?;
    let Json(body) = body?;
    let weights = Weights::from_json(&body)?;
    entries(&state, &room).await?;
    state.score_weights.set(&room, weights);
    Ok(Json(json!({ "room_id": room, "weights": weights })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutMarks {
    presentation: i64,
    product_knowledge: i64,
    #[serde(default)]
    comment: String,
}

pub async fn put_marks(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Result<Json<PutMarks>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let claims = authorize(&state, &headers, &room, Access::Review)?;
    let Json(body) = body?;
    let record = review::mark(
        &claims.sub,
        body.presentation,
        body.product_knowledge,
        &body.comment,
    )?;
    entries(&state, &room).await?;
    let at = unix_millis();
    state.journal.record(&room, at, record.clone());
    state.journal.flush().await;
    let marks = review::latest_marks(&[JournalEntry { at, record }]);
    Ok(Json(json!({ "room_id": room, "marks": marks })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostAnnotation {
    moment: i64,
    text: String,
}

pub async fn post_annotation(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Result<Json<PostAnnotation>, JsonRejection>,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &room, Access::Review)?;
    let Json(body) = body?;
    let entries = entries(&state, &room).await?;
    let now = unix_millis();
    let opened_at = entries.iter().map(|e| e.at).min().unwrap_or(now);
    let record = review::annotate(&claims.sub, body.moment, &body.text, opened_at, now)?;
    state.journal.record(&room, now, record.clone());
    state.journal.flush().await;
    let annotation = review::annotations(&[JournalEntry { at: now, record }]);
    let body = json!({ "room_id": room, "annotation": annotation.first() });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn annotations(
    State(state): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, &room, Access::Trainee)?;
    let entries = entries(&state, &room).await?;
    Ok(Json(
        json!({ "room_id": room, "annotations": review::annotations(&entries) }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct RoomsQuery {
    rooms: Option<String>,
    /// The CSV's language (`en`; Vietnamese otherwise).
    lang: Option<String>,
}

/// The rooms named by `?rooms=a,b,c` (each once), each readable by the
/// caller.
fn rooms_of(
    state: &AppState,
    headers: &HeaderMap,
    query: &RoomsQuery,
) -> Result<Vec<String>, ApiError> {
    let claims = bearer_claims(state, headers)?;
    let mut rooms: Vec<String> = Vec::new();
    for room in query.rooms.as_deref().unwrap_or("").split(',') {
        let room = room.trim();
        if !room.is_empty() && !rooms.iter().any(|r| r == room) {
            rooms.push(room.to_owned());
        }
    }
    if rooms.is_empty() || rooms.len() > MAX_ROOMS {
        return Err(invalid(
            "rooms",
            format!("name 1 to {MAX_ROOMS} rooms: ?rooms=a,b,c"),
        ));
    }
    if let Some(room) = rooms.iter().find(|r| access(state, &claims, r).is_none()) {
        return Err(forbidden(&format!(
            "only the trainer, the seller or an admin of every room may compare them ({room})"
        )));
    }
    Ok(rooms)
}

async fn scorecards(state: &AppState, rooms: &[String]) -> Result<Vec<Scorecard>, ApiError> {
    let mut cards = Vec::with_capacity(rooms.len());
    for room in rooms {
        cards.push(scorecard_of(state, room).await?);
    }
    Ok(cards)
}

pub async fn compare(
    State(state): State<AppState>,
    Query(query): Query<RoomsQuery>,
    headers: HeaderMap,
) -> Result<Json<Comparison>, ApiError> {
    let rooms = rooms_of(&state, &headers, &query)?;
    let cards = scorecards(&state, &rooms).await?;
    Ok(Json(Comparison::of(&cards)))
}

pub async fn scorecards_csv(
    State(state): State<AppState>,
    Query(query): Query<RoomsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rooms = rooms_of(&state, &headers, &query)?;
    let cards = scorecards(&state, &rooms).await?;
    let english = query.lang.as_deref() == Some("en");
    let csv = render_csv(&cards, english).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            e.to_string(),
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"scorecards.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// One line per attempt: who, when, the total, each part, the figures.
fn render_csv(cards: &[Scorecard], english: bool) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut heading: Vec<String> = if english {
        ["Room", "Session", "Seller", "Started", "Total", "Capped"]
    } else {
        [
            "Phòng",
            "Phiên",
            "Người bán",
            "Bắt đầu",
            "Tổng điểm",
            "Bị giới hạn",
        ]
    }
    .map(String::from)
    .to_vec();
    heading.extend(PartName::ALL.iter().map(|p| {
        let (vi, en) = p.label();
        (if english { en } else { vi }).to_owned()
    }));
    heading.extend(
        if english {
            [
                "Questions",
                "Answered",
                "Median answer (s)",
                "CTR",
                "Conversion",
                "GMV (VND)",
                "Offered (VND)",
                "Warnings",
                "Serious",
            ]
        } else {
            [
                "Câu hỏi",
                "Đã trả lời",
                "Trả lời trung vị (giây)",
                "CTR",
                "Chuyển đổi",
                "Doanh thu (VND)",
                "Có thể bán (VND)",
                "Cảnh báo",
                "Nghiêm trọng",
            ]
        }
        .map(String::from),
    );
    writer.write_record(&heading)?;
    let optional = |value: Option<f64>| value.map_or_else(String::new, |v| v.to_string());
    for card in cards {
        let f = &card.figures;
        let mut row = vec![
            cell(&card.room_id),
            cell(&card.title),
            cell(&card.seller_name),
            card.started_at.map_or_else(String::new, local_time),
            card.total.to_string(),
            (card.cap.is_some() || f.serious > 0).to_string(),
        ];
        row.extend(card.parts.iter().map(|p| p.points.to_string()));
        row.extend([
            f.questions.to_string(),
            f.questions_answered.to_string(),
            optional(f.median_answer_secs),
            optional(f.ctr),
            optional(f.conversion),
            f.gmv_vnd.to_string(),
            f.offered_vnd.to_string(),
            f.warnings.to_string(),
            f.serious.to_string(),
        ]);
        writer.write_record(&row)?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
