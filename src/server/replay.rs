//! Replays over HTTP: a room's recordings, their files, the seller's
//! published/hidden switch and the landing page's list.
//!
//! - `GET /api/rooms/{id}/recordings`: the room's recordings (oldest first)
//!   and whether its replay is published; for the room's seller or an admin,
//!   and for anyone once published. Each playable recording has a `url`:
//!   plain when published, otherwise signed (`?exp=…&sig=…`, HMAC-SHA256
//!   with the auth secret over room, recording and expiry) because a
//!   `<video src>` cannot send an `Authorization` header.
//! - `GET /api/rooms/{id}/recordings/{recording_id}`: the file, with range
//!   requests (tower-http's `ServeFile`), for a published replay, a valid
//!   signature or the room's manager's bearer token.
//! - `PUT /api/rooms/{id}/replay` `{"published": bool}`: the seller or an admin.
//! - `GET /api/replays`: published replays, newest first.
//!
//! Ids are checked before they name a file: a malformed one is unknown (404).
//! Documented in `docs/replay.md`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::clock::{unix_millis, UnixMillis};
use crate::protocol::ErrorCode;
use crate::recording::{is_recording_id, PublishedReplay, RecordingMeta, Status};
use crate::room::RoomError;

use super::api::{authorize_manager, bearer_claims, ApiError};
use super::AppState;

/// How long a signed recording URL stays valid: long enough to watch a long
/// live's replay and seek in it, short enough that a leaked link dies.
pub const SIGNED_URL_SECS: u64 = 4 * 3600;

/// `GET /api/rooms/{id}/recordings`.
#[derive(Debug, Serialize)]
pub struct RecordingList {
    pub room_id: String,
    pub published: bool,
    /// Oldest first.
    pub recordings: Vec<RecordingItem>,
}

#[derive(Debug, Serialize)]
pub struct RecordingItem {
    pub id: String,
    pub started_at: UnixMillis,
    pub ended_at: Option<UnixMillis>,
    pub duration_ms: u64,
    pub bytes: u64,
    pub mime: String,
    pub codecs: Vec<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where to play it; `null` while nothing is written yet.
    pub url: Option<String>,
    /// When a signed `url` stops working (unix ms); `null` for a plain one.
    pub url_expires_at: Option<UnixMillis>,
}

/// `?exp=&sig=` on a recording's URL.
#[derive(Debug, Deserialize)]
pub struct Signed {
    exp: Option<u64>,
    sig: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutReplay {
    published: bool,
}

#[derive(Debug, Serialize)]
pub struct ReplayAnswer {
    pub room_id: String,
    pub published: bool,
    pub title: String,
    pub seller_name: String,
    pub updated_at: UnixMillis,
}

#[derive(Debug, Serialize)]
pub struct ReplayList {
    /// Newest first.
    pub replays: Vec<PublishedReplay>,
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
}

fn recording_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::InvalidValue,
        "no such recording in this room",
    )
    .about("recording_id")
}

/// Whether anyone knows the room: a recording or setting on disk, or the
/// room store.
async fn room_known(state: &AppState, room_id: &str) -> bool {
    state.recordings.knows_room(room_id) || state.rooms.info(room_id).await.is_ok()
}

/// Whether the request's bearer token (if it has one) may see the room's
/// replay before it is published: the room's seller or an admin, and a
/// practice room's trainer (the scorecard links her to its moments); a bad
/// token is 401.
fn sees_unpublished(
    state: &AppState,
    room_id: &str,
    headers: &HeaderMap,
) -> Result<bool, ApiError> {
    if !headers.contains_key(header::AUTHORIZATION) {
        return Ok(false);
    }
    let claims = bearer_claims(state, headers)?;
    Ok(claims.manages(room_id) || super::scorecard::access(state, &claims, room_id).is_some())
}

pub async fn list(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RecordingList>, ApiError> {
    if !crate::redis_link::is_room_id(&room_id) || !room_known(&state, &room_id).await {
        return Err(RoomError::RoomNotFound.into());
    }
    let published = state.recordings.is_published(&room_id);
    if !published && !sees_unpublished(&state, &room_id, &headers)? {
        return Err(forbidden(
            "this room's replay is not published; only its seller, an admin or a practice room's trainer may see its recordings",
        ));
    }
    let now = unix_millis();
    let recordings = state
        .recordings
        .list(&room_id)
        .into_iter()
        .map(|meta| item(&state, meta, published, now))
        .collect();
    Ok(Json(RecordingList {
        room_id,
        published,
        recordings,
    }))
}

fn item(state: &AppState, meta: RecordingMeta, published: bool, now: UnixMillis) -> RecordingItem {
    let playable = state.recordings.file(&meta).is_some();
    let path = format!("/api/rooms/{}/recordings/{}", meta.room_id, meta.id);
    let (url, url_expires_at) = match (playable, published) {
        (false, _) => (None, None),
        (true, true) => (Some(path), None),
        (true, false) => {
            let exp = now + SIGNED_URL_SECS * 1000;
            let sig = signature(&state.config.auth.secret, &meta.room_id, &meta.id, exp);
            (Some(format!("{path}?exp={exp}&sig={sig}")), Some(exp))
        }
    };
    RecordingItem {
        id: meta.id,
        started_at: meta.started_at,
        ended_at: meta.ended_at,
        duration_ms: meta.duration_ms,
        bytes: meta.bytes,
        mime: meta.mime,
        codecs: meta.codecs,
        status: meta.status,
        reason: meta.reason,
        url,
        url_expires_at,
    }
}

fn mac(secret: &str, room_id: &str, recording_id: &str, exp: UnixMillis) -> Hmac<Sha256> {
    // HMAC accepts a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("chophien-replay\n{room_id}\n{recording_id}\n{exp}").as_bytes());
    mac
}

/// The hex HMAC-SHA256 a recording URL carries.
pub fn signature(secret: &str, room_id: &str, recording_id: &str, exp: UnixMillis) -> String {
    hex::encode(
        mac(secret, room_id, recording_id, exp)
            .finalize()
            .into_bytes(),
    )
}

/// Checks a URL's signature in constant time, and its expiry.
fn signature_valid(state: &AppState, room_id: &str, recording_id: &str, signed: &Signed) -> bool {
    let (Some(exp), Some(sig)) = (signed.exp, signed.sig.as_deref()) else {
        return false;
    };
    if exp < unix_millis() {
        return false;
    }
    let Ok(bytes) = hex::decode(sig) else {
        return false;
    };
    mac(&state.config.auth.secret, room_id, recording_id, exp)
        .verify_slice(&bytes)
        .is_ok()
}

pub async fn file(
    State(state): State<AppState>,
    Path((room_id, recording_id)): Path<(String, String)>,
    signed: Result<Query<Signed>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    if !crate::redis_link::is_room_id(&room_id) || !room_known(&state, &room_id).await {
        return Err(RoomError::RoomNotFound.into());
    }
    if !is_recording_id(&recording_id) {
        return Err(recording_not_found());
    }
    let published = state.recordings.is_published(&room_id);
    let signed = signed.map(|Query(s)| s).unwrap_or(Signed {
        exp: None,
        sig: Some(String::new()),
    });
    let has_signature = signed.exp.is_some() || signed.sig.is_some();
    if !published {
        if has_signature {
            if !signature_valid(&state, &room_id, &recording_id, &signed) {
                return Err(forbidden(
                    "the recording's link is invalid, expired or for another recording",
                ));
            }
        } else if !sees_unpublished(&state, &room_id, &headers)? {
            return Err(forbidden(
                "this room's replay is not published; use the signed link from its recordings list",
            ));
        }
    }
    let meta = state
        .recordings
        .get(&room_id, &recording_id)
        .ok_or_else(recording_not_found)?;
    let path = state
        .recordings
        .file(&meta)
        .ok_or_else(recording_not_found)?;
    let mut response = ServeFile::new(path)
        .oneshot(request)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                e.to_string(),
            )
        })?
        .into_response();
    if let Ok(mime) = HeaderValue::from_str(&meta.mime) {
        response.headers_mut().insert(header::CONTENT_TYPE, mime);
    }
    // A finished file never changes: browsers may keep it while seeking back
    // and forth; a published one may sit in shared caches briefly (hiding it
    // then takes up to five minutes to reach them). One still being written
    // must not be cached.
    let cache = match (meta.status, published) {
        (Status::Recording, _) => "no-store",
        (_, true) => "public, max-age=300",
        (_, false) => "private, max-age=300",
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

pub async fn put_replay(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<PutReplay>, JsonRejection>,
) -> Result<Json<ReplayAnswer>, ApiError> {
    let known = authorize_manager(&state, &room_id, &headers, "publish or hide its replay").await?;
    let Json(body) = body?;
    let (title, seller_name) = if known {
        let info = state.rooms.info(&room_id).await?;
        (info.title, info.seller_name)
    } else if let Some(setting) = state.recordings.replay(&room_id) {
        (setting.title, setting.seller_name)
    } else {
        return Err(RoomError::RoomNotFound.into());
    };
    let setting = state
        .recordings
        .set_published(&room_id, body.published, &title, &seller_name)
        .map_err(|e| {
            tracing::error!(room = %room_id, error = %e, "could not save the replay setting");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                e.to_string(),
            )
        })?;
    tracing::info!(room = %room_id, published = setting.published, "replay setting changed");
    Ok(Json(ReplayAnswer {
        room_id,
        published: setting.published,
        title: setting.title,
        seller_name: setting.seller_name,
        updated_at: setting.updated_at,
    }))
}

pub async fn published(State(state): State<AppState>) -> Json<ReplayList> {
    Json(ReplayList {
        replays: state.recordings.published(),
    })
}
