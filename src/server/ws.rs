//! `GET /ws/rooms/{room_id}`: authenticate, join, then upgrade.
//!
//! Everything that can refuse a client happens before the upgrade, so a bad
//! token is an HTTP 401, an unknown room a 404, a ban a 403 — each with the
//! usual JSON error body — and only admitted clients get a socket.
//!
//! The token comes from `?token=` (browsers cannot set headers on a
//! WebSocket) or an `Authorization: Bearer` header, never two different ones
//! (`credentials::access_token`). `?last_seq=N` asks to resume after event N.

use std::collections::HashMap;

use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::Instrument;

use crate::protocol::ErrorCode;
use crate::room::{Actor, RoomError};

use super::api::ApiError;
use super::credentials::access_token;
use super::{connection, AppState};

pub async fn upgrade(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the server is shutting down",
        ));
    }
    let token = access_token(params.get("token").map(String::as_str), &headers)?;
    let claims = state.keys.verify(token)?;
    let last_seq = match params.get("last_seq") {
        None => None,
        Some(raw) => Some(raw.parse::<u64>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "last_seq must be a whole number",
            )
        })?),
    };
    let room = state.rooms.get(&room_id).ok_or(RoomError::RoomNotFound)?;
    if !claims.admits_to(&room_id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this token is for another room",
        ));
    }
    let actor = Actor {
        user_id: claims.sub,
        name: claims.name,
        role: claims.role,
    };
    let membership = room.join(&actor, last_seq)?;

    let connection_id = state.next_connection_id();
    let span =
        tracing::info_span!("conn", id = connection_id, room = %room_id, user = %actor.user_id);
    let server = &state.config.server;
    let upgrade = upgrade
        .read_buffer_size(server.ws_read_buffer_bytes)
        .write_buffer_size(server.ws_write_buffer_bytes)
        .max_write_buffer_size(server.ws_write_buffer_bytes.max(server.max_frame_bytes) * 64)
        // The reader refuses frames over `max_frame_bytes` with a clean 1009
        // close; this hard limit only caps what one frame may make us buffer.
        .max_message_size(hard_frame_limit(server.max_frame_bytes))
        .max_frame_size(hard_frame_limit(server.max_frame_bytes));
    let tracker = state.connections.clone();
    Ok(upgrade.on_upgrade(move |socket| {
        tracker.track_future(
            connection::serve(socket, state, actor, membership, connection_id).instrument(span),
        )
    }))
}

/// Frames up to this size are read whole (and refused politely if over the
/// configured limit); larger ones drop the connection.
fn hard_frame_limit(max_frame_bytes: usize) -> usize {
    (max_frame_bytes * 4).max(64 * 1024)
}
