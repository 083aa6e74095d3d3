//! `PATCH /api/rooms/{id}`: the seller plans her live — its title, start
//! and cover — after the room was opened.
//!
//! Only the room's seller or an admin (`authorize_manager`); the fields are
//! checked by `room::schedule::check` (422 `invalid_value` naming the
//! `field`), then the room takes them in one step of its store, which tells
//! everyone in it (`room_updated`), so open pages redraw. The answer is the
//! room as it now is; an empty body changes nothing and tells nobody.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Deserializer};

use crate::clock::{unix_millis, UnixMillis};
use crate::protocol::{ErrorCode, RoomInfo};
use crate::room::schedule::{self, RoomChanges, ScheduleError};
use crate::room::{Actor, RoomError};

use super::api::{authorize_manager, bearer_claims, ApiError};
use super::AppState;

/// The body: any of the three fields; an absent field stays as it is,
/// `null` clears a start or a cover.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    #[serde(default)]
    title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    starts_at: Option<Option<UnixMillis>>,
    #[serde(default, deserialize_with = "present")]
    cover_url: Option<Option<String>>,
}

/// A field that is present, `null` included (`Some(None)`); serde's
/// `default` gives `None` when it is absent.
fn present<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A schedule field refused: 422 `invalid_value` naming the `field`.
pub(super) fn refusal(error: ScheduleError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidValue,
        error.to_string(),
    )
    .about(error.field())
}

/// `PATCH /api/rooms/{id}`: change the room's title, planned start or cover.
pub async fn patch_room(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<RoomPatch>, JsonRejection>,
) -> Result<Json<RoomInfo>, ApiError> {
    if !authorize_manager(&state, &room_id, &headers, "plan it").await? {
        return Err(RoomError::RoomNotFound.into());
    }
    let claims = bearer_claims(&state, &headers)?;
    let Json(patch) = body?;
    if patch.title.is_none() && patch.starts_at.is_none() && patch.cover_url.is_none() {
        // Nothing to change: the room as it is, and no event for anyone.
        return Ok(Json(state.rooms.info(&room_id).await?));
    }
    let changes = RoomChanges {
        title: patch.title,
        starts_at: patch.starts_at,
        cover_url: patch.cover_url,
    };
    let changes = schedule::check(changes, unix_millis()).map_err(refusal)?;
    let actor = Actor {
        user_id: claims.sub.clone(),
        name: claims.name.clone(),
        role: claims.role,
    };
    let info = state.rooms.update(&room_id, &actor, changes).await?;
    tracing::info!(room = %room_id, by = %claims.sub, "room planned");
    Ok(Json(info))
}
