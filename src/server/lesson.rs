//! Practice lessons over HTTP: a practice room's simulated audience and the
//! scenario library, for the room's trainer (a `trainer` token scoped to the
//! room) or an admin.
//!
//! - `POST /api/practice/rooms/{room}/audience` starts the audience
//!   (`{seed, size, speed, timeline?}`; 409 when one runs);
//!   `GET` shows it; `DELETE` stops it (its bots leave).
//! - `POST /api/practice/rooms/{room}/scenarios/{id}` fires a scenario live.
//! - `GET /api/practice/scenarios` lists the library; `POST` saves a
//!   trainer's scenario (TOML, or JSON with a JSON content type; 422 names
//!   the field at fault).
//!
//! It is also where bots meet the room: [`ServerDoor`] implements the
//! audience's [`Door`] with the very functions a connection's reader calls
//! (`Room::request`, `Room::heart`, the journal helpers, `sales::handle`),
//! so a bot's chat, heart, product view, bag add and buy is a viewer's.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::auth::Role;
use crate::config::Config;
use crate::journal::Journal;
use crate::practice::audience::data::{self, DataError};
use crate::practice::audience::persona::PersonaBook;
use crate::practice::audience::{Audiences, Door, DoorAct, LessonError, LessonSettings, Outcome};
use crate::practice::scenario::{self, FireHow, ScenarioLibrary};
use crate::protocol::{DirectEvent, ErrorCode};
use crate::room::{Actor, Membership, Room, RoomCommand, RoomError};
use crate::sale::{Checkout, PaymentMethod};

use super::api::{bearer_claims, ApiError};
use super::command::SaleCommand;
use super::refusal::Coded;
use super::{journal, sales, AppState};

/// Largest scenario a trainer may save, in bytes.
const MAX_SCENARIO_BYTES: usize = 64 * 1024;

/// The node's audiences: personas (built in, plus `practice.personas_dir`)
/// and the scenario library (built in, plus those saved under `data.dir`).
pub fn audiences(config: &Config) -> Audiences {
    let personas = if config.practice.personas_dir.as_os_str().is_empty() {
        PersonaBook::builtin()
    } else {
        PersonaBook::with_dir(&config.practice.personas_dir).unwrap_or_else(|error| {
            tracing::error!(%error, "a trainer's persona file does not read: built-in personas only");
            PersonaBook::builtin()
        })
    };
    let library = ScenarioLibrary::open(config.scenarios_dir(), &personas);
    Audiences::new(personas, library)
}

/// Start `room_id`'s audience with `settings` (for the class wiring and the
/// HTTP handler alike).
pub async fn start(
    state: &AppState,
    room_id: &str,
    settings: LessonSettings,
) -> Result<(), LessonError> {
    let info = state.rooms.info(room_id).await?;
    if !info.practice {
        return Err(LessonError::NotPracticeRoom(room_id.to_owned()));
    }
    // Bots buy here: this node must route the room's sales to its practice
    // store even if another node opened the room.
    state.classes.mark_practice_room(room_id);
    let door: Arc<dyn Door> = Arc::new(ServerDoor(state.clone()));
    state.audiences.start(door, room_id, settings).await
}

/// The audience's way into rooms: a connection's own paths.
pub struct ServerDoor(pub AppState);

#[async_trait]
impl Door for ServerDoor {
    async fn enter(
        &self,
        room_id: &str,
        bot: &Actor,
        visit: &str,
    ) -> Result<Membership, RoomError> {
        let membership = self.0.rooms.join(room_id, bot, None).await?;
        journal::joined(&self.0, room_id, bot, visit);
        Ok(membership)
    }

    fn left(&self, room_id: &str, bot: &Actor, visit: &str, stayed_ms: u64) {
        journal::left(&self.0, room_id, bot, visit, stayed_ms);
    }

    async fn act(&self, room: &Arc<Room>, bot: &Actor, act: DoorAct) -> Outcome {
        let state = &self.0;
        let command = match act {
            DoorAct::Chat(text) => {
                let chat = RoomCommand::Chat {
                    text,
                    reply_to: None,
                };
                return match room.request(bot, &chat).await {
                    Ok(()) => Outcome::Done,
                    Err(error) => Outcome::Refused(error.code()),
                };
            }
            DoorAct::Hearts(count) => {
                room.heart(count);
                return Outcome::Done;
            }
            DoorAct::ViewProduct(product_id) => {
                // Only a product of the catalog counts (as for a connection).
                return match room.product(&product_id).await {
                    Ok(_) => {
                        journal::product_viewed(state, &room.id, bot, product_id);
                        Outcome::Done
                    }
                    Err(error) => Outcome::Refused(error.code()),
                };
            }
            DoorAct::AddToBag {
                product_id,
                idempotency_key,
            } => SaleCommand::AddToBag {
                product_id,
                quantity: 1,
                idempotency_key,
            },
            DoorAct::Buy {
                sale_id,
                quantity,
                idempotency_key,
            } => SaleCommand::Buy {
                sale_id,
                quantity,
                idempotency_key,
            },
            DoorAct::Confirm { hold_id, shipping } => SaleCommand::Confirm {
                hold_id,
                checkout: Checkout {
                    shipping,
                    payment: PaymentMethod::Cod,
                    voucher_code: None,
                },
            },
        };
        match sales::handle(state, room, bot, None, command).await {
            Ok(Some(
                DirectEvent::BuyResult { outcome, hold, .. }
                | DirectEvent::BagResult { outcome, hold, .. },
            )) => match hold {
                Some(hold) => Outcome::Reserved(hold.hold_id),
                None => Outcome::NotReserved(outcome),
            },
            Ok(_) => Outcome::Done,
            Err(refusal) => Outcome::Refused(refusal.code),
        }
    }

    fn tell_hosts(&self, room_id: &str, event: &DirectEvent) -> usize {
        self.0.rooms.tell_hosts(room_id, event)
    }

    fn journal(&self) -> &Journal {
        &self.0.journal
    }
}

// -------------------------------------------------------------------------
// HTTP
// -------------------------------------------------------------------------

/// An error of these endpoints: `{"error": {"code", "message", "field"?}}`
/// like every other HTTP error, the field being a path
/// (`timeline[0].scenario_id`, `steps[2].texts`).
pub struct LessonRefusal {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    field: Option<String>,
}

impl From<LessonError> for LessonRefusal {
    fn from(error: LessonError) -> LessonRefusal {
        let status = match &error {
            LessonError::AlreadyRunning(_)
            | LessonError::BuiltinScenario(_)
            | LessonError::NotPracticeRoom(_) => StatusCode::CONFLICT,
            LessonError::NotRunning(_) | LessonError::ScenarioNotFound(_) => StatusCode::NOT_FOUND,
            LessonError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            LessonError::Room(room) => {
                return ApiError::from(room.clone()).into();
            }
            LessonError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let field = match &error {
            LessonError::Invalid(DataError { field, .. }) => Some(field.clone()),
            _ => None,
        };
        LessonRefusal {
            status,
            code: error.code(),
            message: error.to_string(),
            field,
        }
    }
}

impl From<ApiError> for LessonRefusal {
    fn from(error: ApiError) -> LessonRefusal {
        LessonRefusal {
            status: error.status,
            code: error.code,
            message: error.message,
            field: error.field.map(str::to_owned),
        }
    }
}

impl From<DataError> for LessonRefusal {
    fn from(error: DataError) -> LessonRefusal {
        LessonError::Invalid(error).into()
    }
}

impl IntoResponse for LessonRefusal {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

type Answer<T> = Result<T, LessonRefusal>;

/// Lets through whoever runs `room`'s review (`scorecard::access`: its
/// trainer, the owner of its class, an admin) — for the library (`None`),
/// any trainer or admin; 401 without a valid token, 403 for anyone else.
fn authorize_trainer(
    state: &AppState,
    headers: &HeaderMap,
    room: Option<&str>,
) -> Result<(), LessonRefusal> {
    let claims = bearer_claims(state, headers)?;
    let allowed = match room {
        Some(room) => {
            super::scorecard::access(state, &claims, room) == Some(super::scorecard::Access::Review)
        }
        None => matches!(claims.role, Role::Admin | Role::Trainer),
    };
    if !allowed {
        let message = "only the room's trainer or an admin may run its lesson";
        return Err(ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message).into());
    }
    Ok(())
}

/// `POST /api/practice/rooms/{room}/audience`: start the audience (201).
pub async fn start_audience(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer<(StatusCode, Json<serde_json::Value>)> {
    authorize_trainer(&state, &headers, Some(&room_id))?;
    let text =
        std::str::from_utf8(&body).map_err(|_| DataError::new("request body", ".", "not UTF-8"))?;
    let settings: LessonSettings = data::from_json("request body", text)?;
    start(&state, &room_id, settings).await?;
    let status = state.audiences.status(&room_id);
    Ok((StatusCode::CREATED, Json(json!(status))))
}

/// `GET /api/practice/rooms/{room}/audience`: the running audience.
pub async fn audience(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Answer<Json<serde_json::Value>> {
    authorize_trainer(&state, &headers, Some(&room_id))?;
    let status = state
        .audiences
        .status(&room_id)
        .ok_or(LessonError::NotRunning(room_id))?;
    Ok(Json(json!(status)))
}

/// `DELETE /api/practice/rooms/{room}/audience`: stop it; its bots leave.
pub async fn stop_audience(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Answer<Json<serde_json::Value>> {
    authorize_trainer(&state, &headers, Some(&room_id))?;
    if !state.audiences.stop(&room_id).await {
        return Err(LessonError::NotRunning(room_id).into());
    }
    Ok(Json(json!({ "stopped": true })))
}

/// `POST /api/practice/rooms/{room}/scenarios/{id}`: fire a scenario now
/// (202: it starts at the lesson's next second).
pub async fn fire(
    State(state): State<AppState>,
    Path((room_id, scenario_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer<(StatusCode, Json<serde_json::Value>)> {
    authorize_trainer(&state, &headers, Some(&room_id))?;
    state
        .audiences
        .fire(&room_id, &scenario_id, FireHow::Live)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "fired": scenario_id, "how": FireHow::Live })),
    ))
}

/// `GET /api/practice/scenarios`: the library.
pub async fn scenarios(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Answer<Json<serde_json::Value>> {
    authorize_trainer(&state, &headers, None)?;
    Ok(Json(
        json!({ "scenarios": state.audiences.library().list() }),
    ))
}

/// `POST /api/practice/scenarios`: save a trainer's scenario (201).
pub async fn save_scenario(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer<(StatusCode, Json<serde_json::Value>)> {
    authorize_trainer(&state, &headers, None)?;
    if body.len() > MAX_SCENARIO_BYTES {
        return Err(DataError::new("request body", ".", "at most 64 KiB").into());
    }
    let text =
        std::str::from_utf8(&body).map_err(|_| DataError::new("request body", ".", "not UTF-8"))?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let parsed = scenario::parse("request body", text, json, state.audiences.personas())?;
    let saved = state.audiences.library().save(parsed)?;
    Ok((StatusCode::CREATED, Json(json!(saved))))
}
