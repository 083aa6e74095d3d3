//! `GET /ws/rooms/{room_id}`: authenticate, join, then upgrade.
//!
//! Everything that can refuse a client happens before the upgrade, so a bad
//! token is an HTTP 401, an unknown room a 404, a ban a 403 — each with the
//! usual JSON error body — and only admitted clients get a socket.
//!
//! The token comes from `?token=` (browsers cannot set headers on a
//! WebSocket) or an `Authorization: Bearer` header, never two different ones
//! (`credentials::access_token`). `?last_seq=N` asks to resume after event N.
//!
//! The upgrade itself is `hyper-tungstenite`'s rather than axum's: it hands
//! over the tokio-tungstenite stream with its socket reachable, which the
//! connection needs to end every close cleanly (see `connection/`).

use std::collections::HashMap;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use tungstenite::protocol::WebSocketConfig;

use crate::config::ServerConfig;
use crate::protocol::{to_json, DirectEvent, ErrorCode};
use crate::room::Actor;
use crate::sale::SaleStore;

use super::api::ApiError;
use super::credentials::access_token;
use super::{connection, AppState};

pub async fn upgrade(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    mut request: Request,
) -> Result<Response, ApiError> {
    if !hyper_tungstenite::is_upgrade_request(&request) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "this endpoint speaks WebSocket only",
        ));
    }
    let (response, websocket) =
        hyper_tungstenite::upgrade(&mut request, Some(websocket_config(&state.config.server)))
            .map_err(|error| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    format!("not a valid WebSocket upgrade: {error}"),
                )
            })?;
    if state.shutdown.is_cancelled() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the server is shutting down",
        ));
    }
    if !state.serving.load(std::sync::atomic::Ordering::Acquire) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "this node cannot reach its store: connect to another",
        ));
    }
    let token = access_token(params.get("token").map(String::as_str), request.headers())?;
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
    if !claims.admits_to(&room_id) {
        // An unknown room is a 404 first, as documented.
        state.rooms.info(&room_id).await?;
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
    let mut membership = state.rooms.join(&room_id, &actor, last_seq).await?;
    // The user's own open holds and orders, read at once, so a reloaded
    // page shows them again. The join stands without either if the sale
    // store cannot answer now.
    let now = crate::clock::unix_millis();
    let (holds, orders) = tokio::join!(
        state
            .sales_for(&room_id)
            .open_holds(&room_id, &actor.user_id, now),
        state
            .sales_for(&room_id)
            .buyer_orders(&room_id, &actor.user_id),
    );
    let mine = [
        holds.map(|holds| DirectEvent::MyHolds { holds }),
        orders.map(|orders| DirectEvent::MyOrders { id: None, orders }),
    ];
    for event in mine {
        match event {
            Ok(event) => membership.initial.push(to_json(&event)),
            Err(error) => {
                tracing::warn!(room = %room_id, %error, "a joining user's own sale state is unreadable")
            }
        }
    }

    let connection_id = state.next_connection_id();
    let span =
        tracing::info_span!("conn", id = connection_id, room = %room_id, user = %actor.user_id);
    let tracker = state.connections.clone();
    tokio::spawn(
        tracker.track_future(
            async move {
                match websocket.await {
                    Ok(socket) => {
                        connection::serve(socket, state, actor, membership, connection_id).await
                    }
                    Err(error) => tracing::debug!(%error, "upgrade failed"),
                }
            }
            .instrument(span),
        ),
    );
    Ok(response.into_response())
}

/// Small buffers, so idle viewers cost little; frames and messages over
/// `max_frame_bytes` fail the read, and the connection closes with 1009.
fn websocket_config(server: &ServerConfig) -> WebSocketConfig {
    let max = server.max_frame_bytes;
    WebSocketConfig::default()
        .read_buffer_size(server.ws_read_buffer_bytes)
        .write_buffer_size(server.ws_write_buffer_bytes)
        .max_write_buffer_size(server.ws_write_buffer_bytes.max(max) * 64)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}
