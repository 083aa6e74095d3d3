//! The internal endpoint nodes use to relay a room's video to each other.
//!
//! - `POST /internal/media/{room_id}/relay`, body `{"sdp": "<offer>"}`: an
//!   edge node asks this node, the room's origin, for a relay. Answered
//!   `200 {"sdp": "<answer>", "relay_id": N}`; `409 media_not_live` when no
//!   seller publishes the room here (the edge re-reads the directory).
//! - `DELETE /internal/media/{room_id}/relay/{relay_id}`: the edge no longer
//!   needs it. `204`, or `404 media_no_session`.
//!
//! Both take `Authorization: Bearer <node token>` ([`token`]): signed with the
//! cluster's shared secret, audience `chophien-node`, naming the asking node
//! and the room. Client tokens (any role, admin included) are refused with
//! 401, and node tokens are refused everywhere else. The relay is keyed by
//! the token's node id, so one node holds at most one relay per room here.
//! Deployments should still keep `/internal/` off their public load balancer.
//!
//! [`HttpRelayTransport`] is the other end, which the edge's SFU calls.

mod client;
mod token;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::media::{MediaError, RelayAnswer};
use crate::protocol::ErrorCode;

use super::api::ApiError;
use super::credentials::access_token;
use super::refusal::Coded;
use super::AppState;

pub use client::HttpRelayTransport;
pub use token::{NodeClaims, NodeTokens};

/// The body of a relay request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelayOffer {
    /// The edge's SDP offer (receive-only audio and video, candidates included).
    pub sdp: String,
}

/// The internal routes, to merge into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/internal/media/{room_id}/relay", post(open))
        .route("/internal/media/{room_id}/relay/{relay_id}", delete(close))
}

async fn open(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<RelayOffer>, JsonRejection>,
) -> Result<Json<RelayAnswer>, ApiError> {
    let edge = node_claims(&state, &headers, &room_id)?.sub;
    let Json(offer) = body?;
    let answer = state
        .sfu
        .accept_relay(&room_id, &edge, offer.sdp)
        .await
        .map_err(refusal)?;
    Ok(Json(answer))
}

async fn close(
    State(state): State<AppState>,
    Path((room_id, relay_id)): Path<(String, u64)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let edge = node_claims(&state, &headers, &room_id)?.sub;
    if state.sfu.close_relay(&room_id, &edge, relay_id).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(refusal(MediaError::NoSession))
    }
}

/// The verified node token of the request, for `room_id`.
fn node_claims(
    state: &AppState,
    headers: &HeaderMap,
    room_id: &str,
) -> Result<NodeClaims, ApiError> {
    let token = access_token(None, headers)?;
    let claims = NodeTokens::new(&state.config.auth.secret).verify(token)?;
    if claims.room != room_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this node token is for another room",
        ));
    }
    Ok(claims)
}

fn refusal(error: MediaError) -> ApiError {
    let status = match error {
        MediaError::NotLive => StatusCode::CONFLICT,
        MediaError::NoSession => StatusCode::NOT_FOUND,
        MediaError::InvalidSdp(_) | MediaError::UnsupportedCodec => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        MediaError::InvalidCandidate(_) => StatusCode::BAD_REQUEST,
        MediaError::Config(_) | MediaError::WebRtc(_) | MediaError::Relay(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    ApiError::new(status, error.code(), error.to_string())
}
