//! HTTP handlers: rooms, dev tokens, health, readiness, metrics.
//!
//! Every error is an [`ApiError`]: an HTTP status and a JSON body
//! `{"error":{"code":"…","message":"…"}}` with the same stable codes as the
//! WebSocket protocol.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{self, AuthError, Claims, Role};
use crate::protocol::{ErrorCode, NewProduct, Product, RoomInfo};
use crate::room::store::RoomStore;
use crate::room::{NewRoom, RoomError};
use crate::sale::SaleStore;

use super::credentials::access_token;
use super::refusal::Coded;
use super::AppState;

/// An HTTP error with a typed JSON body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// The body field an `invalid_value` is about, when one is: sent as
    /// `"field"` beside the code, so a form can mark the right input.
    pub field: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// The same error, about the body field `field`.
    pub fn about(self, field: &'static str) -> ApiError {
        ApiError {
            field: Some(field),
            ..self
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        let (status, code) = match e {
            AuthError::Signing(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
            _ => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> ApiError {
        let status = match e {
            RoomError::RoomNotFound | RoomError::ProductNotFound | RoomError::MessageNotFound => {
                StatusCode::NOT_FOUND
            }
            RoomError::Forbidden
            | RoomError::Outranked
            | RoomError::OwnIdentity
            | RoomError::Banned => StatusCode::FORBIDDEN,
            RoomError::Ended => StatusCode::GONE,
            RoomError::AlreadyExists | RoomError::InvalidState(_) => StatusCode::CONFLICT,
            RoomError::Muted { .. } | RoomError::SlowMode { .. } => StatusCode::TOO_MANY_REQUESTS,
            RoomError::InvalidValue(_) | RoomError::BannedWord => StatusCode::UNPROCESSABLE_ENTITY,
            RoomError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            RoomError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            e.body_text(),
        )
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
}

/// The verified claims of the request's `Authorization: Bearer` token.
pub fn bearer_claims(state: &AppState, headers: &HeaderMap) -> Result<Claims, ApiError> {
    let token = access_token(None, headers)?;
    Ok(state.keys.verify(token)?)
}

/// Lets the room's seller or an admin through, for an HTTP request about a
/// room's business (its orders, its webhook): 401 without a valid token;
/// for anyone else, no more than `GET /api/rooms/{id}` tells: 404
/// `room_not_found` for a room nobody knows, 403 `forbidden` ("only the
/// room's seller or an admin may {what}") for a known one. Answers whether
/// the room is still known: orders and deliveries outlive their room's other
/// records, so a manager may read them after those expired.
pub async fn authorize_manager(
    state: &AppState,
    room_id: &str,
    headers: &HeaderMap,
    what: &str,
) -> Result<bool, ApiError> {
    let claims = bearer_claims(state, headers)?;
    let known = match state.rooms.info(room_id).await {
        Ok(_) => true,
        Err(RoomError::RoomNotFound) => false,
        Err(error) => return Err(error.into()),
    };
    if !claims.manages(room_id) {
        if !known {
            return Err(RoomError::RoomNotFound.into());
        }
        return Err(forbidden(&format!(
            "only the room's seller or an admin may {what}"
        )));
    }
    Ok(known)
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when not shutting down and both stores answer (for Redis, a call
/// into the function library, not just a PING).
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.shutdown.is_cancelled() {
        let body = json!({ "status": "shutting_down" });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    if !state.serving.load(std::sync::atomic::Ordering::Acquire) {
        let body =
            json!({ "status": "not_ready", "store": "unreachable: clients are sent elsewhere" });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let health = async {
        state.sales.health().await.map_err(|e| e.to_string())?;
        state
            .rooms
            .store()
            .health()
            .await
            .map_err(|e| e.to_string())
    };
    let store = match tokio::time::timeout(Duration::from_secs(1), health).await {
        Ok(result) => result,
        Err(_) => Err("the stores did not answer within 1 s".to_owned()),
    };
    match store {
        Ok(()) => {
            let rooms = state.rooms.active_len();
            Json(json!({ "status": "ready", "store": "ok", "rooms": rooms })).into_response()
        }
        Err(error) => {
            let body = json!({ "status": "not_ready", "store": error });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.rooms.set(state.rooms.active_len() as i64);
    if let Some((batches, buys)) = state.sales.batch_totals() {
        state.metrics.observe_batches(batches, buys);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

pub async fn list_rooms(State(state): State<AppState>) -> Result<Json<Vec<RoomInfo>>, ApiError> {
    Ok(Json(state.rooms.list().await?))
}

pub async fn get_room(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
) -> Result<Json<RoomInfo>, ApiError> {
    Ok(Json(state.rooms.info(&room_id).await?))
}

#[derive(Debug, Deserialize)]
pub struct CreateRoom {
    /// Defaults to the seller token's room; admins may choose or omit it.
    #[serde(default)]
    id: Option<String>,
    title: String,
    /// Defaults to the token's display name.
    #[serde(default)]
    seller_name: Option<String>,
    #[serde(default)]
    products: Vec<NewProduct>,
    /// When the live is planned (unix ms), checked as `PATCH` checks it.
    #[serde(default)]
    starts_at: Option<crate::clock::UnixMillis>,
    /// The room's poster: `https://…` or one of our `/photos/…` paths.
    #[serde(default)]
    cover_url: Option<String>,
}

/// `POST /api/rooms`: an admin opens any room; a seller opens the room their
/// token names.
pub async fn create_room(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CreateRoom>, JsonRejection>,
) -> Result<(StatusCode, Json<RoomInfo>), ApiError> {
    let claims = bearer_claims(&state, &headers)?;
    let Json(body) = body?;
    let id = match claims.role {
        Role::Admin => body.id,
        Role::Seller => match body.id {
            Some(id) if id != claims.room => {
                return Err(forbidden("a seller token opens only the room it names"))
            }
            _ => Some(claims.room.clone()),
        },
        _ => return Err(forbidden("only a seller or an admin may open a room")),
    };
    let products = body
        .products
        .into_iter()
        .enumerate()
        .map(|(i, p)| Product {
            id: format!("p{}", i + 1),
            name: p.name,
            description: p.description,
            price_vnd: p.price_vnd,
            stock: p.stock,
            image_url: p.image_url,
            per_buyer_limit: p.per_buyer_limit,
        })
        .collect();
    // The schedule's fields are refused naming the field, as PATCH does.
    let now = crate::clock::unix_millis();
    if let Some(at) = body.starts_at {
        crate::room::schedule::starts_at(at, now).map_err(super::schedule::refusal)?;
    }
    if let Some(url) = body.cover_url.as_deref() {
        crate::room::schedule::cover_url(url).map_err(super::schedule::refusal)?;
    }
    let room = state
        .rooms
        .create(NewRoom {
            id,
            title: body.title,
            seller_name: body.seller_name.unwrap_or_else(|| claims.name.clone()),
            products,
            starts_at: body.starts_at,
            cover_url: body.cover_url,
        })
        .await?;
    tracing::info!(room = %room.id, by = %claims.sub, "room created");
    Ok((StatusCode::CREATED, Json(room)))
}

/// `POST /api/rooms/{id}/close`: end the room for everyone.
pub async fn close_room(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RoomInfo>, ApiError> {
    let claims = bearer_claims(&state, &headers)?;
    state.rooms.info(&room_id).await?;
    if !claims.manages(&room_id) {
        return Err(forbidden("only the room's seller or an admin may close it"));
    }
    let info = state.rooms.close(&room_id, "the room was closed").await?;
    tracing::info!(room = %room_id, by = %claims.sub, "room closed");
    Ok(Json(info))
}

#[derive(Debug, Deserialize)]
pub struct DevTokenRequest {
    room: String,
    name: String,
}

/// A display name a token may carry, trimmed; `422 invalid_value` if not.
pub fn display_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if !auth::is_valid_name(name) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            format!(
                "a name has 1 to {} characters and is not blank",
                auth::MAX_NAME_CHARS
            ),
        ));
    }
    Ok(name)
}

/// `POST /api/dev/token`: a viewer token for anyone, when `auth.dev_tokens`
/// is on (the demo and local development). Never a seller token.
pub async fn dev_token(
    State(state): State<AppState>,
    body: Result<Json<DevTokenRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !state.config.auth.dev_tokens {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::BadRequest,
            "dev tokens are disabled",
        ));
    }
    let Json(body) = body?;
    let name = display_name(&body.name)?;
    state.rooms.info(&body.room).await?;
    let identity = format!("v-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let claims = Claims::new(
        &identity,
        name,
        &body.room,
        Role::Viewer,
        state.config.token_ttl(),
    );
    let token = state.keys.sign(&claims).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            e.to_string(),
        )
    })?;
    Ok(Json(
        json!({ "token": token, "identity": identity, "room": body.room, "role": "viewer" }),
    ))
}

/// `GET /api/admin/nodes` (admin token): the live nodes of the deployment,
/// each with the rooms it has connections in, and for each room the nodes
/// serving it.
pub async fn nodes(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let claims = bearer_claims(&state, &headers)?;
    if claims.role != Role::Admin {
        return Err(forbidden("only an admin may list the nodes"));
    }
    let ttl = Duration::from_millis(state.config.cluster.node_ttl_ms);
    let nodes = state
        .nodes
        .nodes(crate::clock::unix_millis(), ttl)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                e.to_string(),
            )
        })?;
    let mut rooms: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for node in &nodes {
        for room in &node.rooms {
            rooms.entry(&room.room_id).or_default().push(&node.id);
        }
    }
    Ok(Json(
        json!({ "node": state.node.id, "nodes": nodes, "rooms": rooms }),
    ))
}
