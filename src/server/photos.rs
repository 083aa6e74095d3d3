//! Product photos over HTTP: the seller's upload and the files' serving.
//!
//! - `POST /api/rooms/{room_id}/photos`: the image is the raw body
//!   (`Content-Type: image/jpeg`, `image/png` or `image/webp`), from the
//!   room's seller or an admin. The body is read up to `photos.max_bytes`
//!   and no further; the checks and encoding are `crate::photos`'.
//! - `GET /photos/{file}`: only names a photo id can have; always
//!   `image/jpeg` (we encoded every byte), `nosniff`, a policy that lets the
//!   file do nothing (`default-src 'none'`), and cached for good (a name is
//!   its content's hash). These routes sit outside `headers::secure`, whose
//!   page policy would replace the stricter one; they set the same other
//!   headers themselves.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::json;

use crate::photos::{accepted_content_type, PhotoError};
use crate::protocol::ErrorCode;
use crate::room::RoomError;

use super::api::{authorize_manager, ApiError};
use super::AppState;

/// A photo file's own policy: it is an image, and may load or run nothing.
const PHOTO_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";
/// Content-addressed files never change: a year, and no revalidation.
const PHOTO_CACHE: &str = "public, max-age=31536000, immutable";
/// How much of an oversized body is read (and dropped) before answering
/// 413: a browser that is still sending when the answer comes may never
/// read it, so a body up to this size is let through to its end first.
const DRAIN_FACTOR: usize = 4;

impl From<PhotoError> for ApiError {
    fn from(e: PhotoError) -> ApiError {
        let (status, code) = match e {
            PhotoError::TooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PhotoTooLarge)
            }
            PhotoError::Unsupported => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedImage,
            ),
            PhotoError::TooManyPixels => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ImageTooLarge)
            }
            PhotoError::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidImage),
            PhotoError::QuotaReached { .. } => (StatusCode::CONFLICT, ErrorCode::PhotoQuotaReached),
            PhotoError::Internal(ref detail) => {
                tracing::error!(%detail, "a photo could not be stored");
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// `POST /api/rooms/{room_id}/photos`: 201 with the photo's id, URLs and size.
pub async fn upload(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let known = authorize_manager(&state, &room_id, &headers, "add photos").await?;
    if !known {
        return Err(RoomError::RoomNotFound.into());
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !accepted_content_type(declared) {
        return Err(PhotoError::Unsupported.into());
    }
    let bytes = read_limited(body, state.photos.max_bytes).await?;
    let photo = state.photos.upload(&room_id, bytes).await?;
    let body = json!({
        "id": photo.id,
        "url": format!("/photos/{}.jpg", photo.id),
        "thumb_url": format!("/photos/{}-thumb.jpg", photo.id),
        "width": photo.width,
        "height": photo.height,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The body, refused with `TooLarge` past `limit` bytes (whatever its
/// `Content-Length` says). An oversized body is drained up to
/// [`DRAIN_FACTOR`] times the limit, holding none of it, so the client
/// reads the 413.
async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                format!("the photo could not be read: {e}"),
            )
        })?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            bytes = Vec::new();
            if seen > limit.saturating_mul(DRAIN_FACTOR) {
                break;
            }
            continue;
        }
        bytes.extend_from_slice(&chunk);
    }
    if seen > limit {
        return Err(PhotoError::TooLarge { limit }.into());
    }
    Ok(bytes)
}

/// `GET /photos/{file}`: a stored JPEG, or 404 `photo_not_found`.
async fn serve(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    match state.photos.read(&file).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, PHOTO_CACHE),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => {
            let mut response = ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::PhotoNotFound,
                "no photo by this name",
            )
            .into_response();
            // It may be stored a moment later (another node's upload).
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The photo files' routes with their own headers (see the module docs).
pub(super) fn serving(state: AppState) -> Router {
    let router = Router::new()
        .route("/photos/{file}", get(serve))
        .with_state(state);
    super::headers::with_policy(router, PHOTO_POLICY)
}
