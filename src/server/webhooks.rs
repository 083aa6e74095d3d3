//! A room's webhook over HTTP, for its seller (or an admin):
//!
//! - `GET|PUT|DELETE /api/rooms/{id}/webhook`: read, set or remove the URL
//!   and secret;
//! - `GET /api/rooms/{id}/webhook/deliveries`: the delivery log;
//! - `POST /api/rooms/{id}/webhook/deliveries/{event_id}/retry`: one more
//!   attempt of a delivery;
//! - `POST /api/rooms/{id}/webhook/test`: send a `ping` event.
//!
//! The secret is in the answers of these endpoints only, which only the
//! room's managers may call. What a webhook does lives in `crate::webhook`;
//! this file authorises and translates.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::clock::unix_millis;
use crate::room::RoomError;
use crate::webhook::{Delivery, NewWebhook, WebhookConfig, WebhookError};

use super::api::{authorize_manager, ApiError};
use super::refusal::Coded;
use super::AppState;

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> ApiError {
        let status = match error {
            WebhookError::InvalidUrl(_)
            | WebhookError::InvalidSecret(_)
            | WebhookError::TargetForbidden(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebhookError::InvalidRoom
            | WebhookError::NotConfigured
            | WebhookError::DeliveryNotFound => StatusCode::NOT_FOUND,
            WebhookError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebhookError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

/// The body of `PUT …/webhook`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutWebhook {
    url: String,
    /// Omitted: keep the current secret, or have the server make one.
    #[serde(default)]
    secret: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DeliveryLog {
    /// Newest first.
    deliveries: Vec<Delivery>,
}

#[derive(Debug, Serialize)]
pub struct Queued {
    event_id: String,
}

pub async fn get(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<WebhookConfig>, ApiError> {
    authorize_manager(&state, &room_id, &headers, "manage its webhook").await?;
    let config = state.webhooks.config(&room_id).await?;
    Ok(Json(config.ok_or(WebhookError::NotConfigured)?))
}

pub async fn put(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<PutWebhook>, JsonRejection>,
) -> Result<Json<WebhookConfig>, ApiError> {
    let known = authorize_manager(&state, &room_id, &headers, "manage its webhook").await?;
    let Json(body) = body?;
    if !known {
        return Err(RoomError::RoomNotFound.into());
    }
    let webhook = NewWebhook {
        url: body.url,
        secret: body.secret,
    };
    let config = state
        .webhooks
        .configure(&room_id, Some(webhook), unix_millis())
        .await?
        .ok_or_else(|| WebhookError::Internal("the webhook was not set".into()))?;
    // The host only: a URL's path or query may carry the shop's own token.
    let host = reqwest::Url::parse(&config.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    tracing::info!(room = %room_id, %host, "webhook set");
    Ok(Json(config))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    authorize_manager(&state, &room_id, &headers, "manage its webhook").await?;
    state
        .webhooks
        .configure(&room_id, None, unix_millis())
        .await?;
    tracing::info!(room = %room_id, "webhook removed");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deliveries(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<DeliveryLog>, ApiError> {
    authorize_manager(&state, &room_id, &headers, "manage its webhook").await?;
    let deliveries = state.webhooks.log(&room_id).await?;
    Ok(Json(DeliveryLog { deliveries }))
}

pub async fn retry(
    State(state): State<AppState>,
    Path((room_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    authorize_manager(&state, &room_id, &headers, "manage its webhook").await?;
    let delivery = state
        .webhooks
        .retry(&room_id, &event_id, unix_millis())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

pub async fn test(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    authorize_manager(&state, &room_id, &headers, "manage its webhook").await?;
    let event_id = state.webhooks.ping(&room_id, unix_millis()).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { event_id })))
}
