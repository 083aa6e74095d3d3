//! Practice classes over HTTP, and coaching over the WebSocket.
//!
//! `POST /api/classes` opens one practice room per trainee and answers each
//! room's links and tokens; `GET /api/classes`, `GET /api/classes/{id}`,
//! `GET /api/classes/{id}/overview` (every room's figures so far, from its
//! journal) and `POST /api/classes/{id}/rooms/{room}/retry` (a new attempt)
//! follow. Every call needs a class-running token (`Claims::runs_classes`:
//! a trainer's or an admin's, room `*`); a trainer sees only her own
//! classes (another's answers 404 `class_not_found`, as a missing one).
//!
//! [`coach`] answers the `coach` and `nudge` frames of a trainer connected
//! to a practice room: the trainee (and the room's other hosts) hear a
//! private `coached` event through the backstage, never the audience.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use crate::auth::{Claims, Role};
use crate::clock::{self, UnixMillis};
use crate::practice::class::{room_title, CheckedClass};
use crate::practice::coach::{self, Coaching, NUDGES};
use crate::practice::overview::{self, RoomOverview};
use crate::practice::score::Weights;
use crate::practice::watch;
use crate::practice::{Asker, Class, Lesson, NewClass, PracticeError, PracticeRoom};
use crate::protocol::{DirectEvent, ErrorCode, RoomStatus};
use crate::room::{Actor, NewRoom, Room, RoomError};

use super::api::{bearer_claims, ApiError};
use super::command::CoachCommand;
use super::refusal::{Coded, Refusal};
use super::AppState;

impl From<PracticeError> for ApiError {
    fn from(error: PracticeError) -> ApiError {
        let status = match error {
            PracticeError::InvalidValue(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PracticeError::ClassNotFound | PracticeError::RoomNotInClass => StatusCode::NOT_FOUND,
            PracticeError::NotPracticeRoom => StatusCode::CONFLICT,
            PracticeError::TooManyClasses(_) | PracticeError::TooManyRooms(_) => {
                StatusCode::CONFLICT
            }
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

/// The claims of a token that may run classes: 401 without a valid token,
/// 403 `forbidden` for any other.
fn class_runner(state: &AppState, headers: &HeaderMap) -> Result<Claims, ApiError> {
    let claims = bearer_claims(state, headers)?;
    if !claims.runs_classes() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only a trainer's token for every room (`*`) or an admin's may run classes",
        ));
    }
    Ok(claims)
}

fn asker(claims: &Claims) -> Asker<'_> {
    Asker {
        identity: &claims.sub,
        admin: claims.role == Role::Admin,
    }
}

/// A class as its trainer is shown it: each room with its links.
#[derive(Debug, Serialize)]
pub struct ClassView {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub created_at: UnixMillis,
    pub lesson: Lesson,
    /// The scorecard's weights for the class's rooms.
    pub weights: Weights,
    pub rooms: Vec<RoomLinks>,
}

/// One practice room and what the trainer hands out for it.
#[derive(Debug, Serialize)]
pub struct RoomLinks {
    #[serde(flatten)]
    pub room: PracticeRoom,
    /// The trainee's studio (a seller token for this room in the fragment,
    /// which browsers never send to a server): to copy or show as a QR code.
    pub studio_url: String,
    /// The seller token inside `studio_url`.
    pub seller_token: String,
    /// A trainer token for this room only (role `trainer`): the coach view
    /// joins the room with it to whisper and nudge.
    pub coach_token: String,
    /// Where classmates watch as real viewers.
    pub viewer_url: String,
}

/// The trainee's identity in her room: stable, so a fresh token is the
/// same person.
fn trainee_identity(room_id: &str) -> String {
    format!("trainee-{room_id}")
}

fn sign(state: &AppState, claims: &Claims) -> Result<String, ApiError> {
    Ok(state.keys.sign(claims)?)
}

fn links(state: &AppState, trainer: &Claims, room: &PracticeRoom) -> Result<RoomLinks, ApiError> {
    let ttl = state.config.token_ttl();
    let id = &room.room_id;
    let seller = Claims::new(&trainee_identity(id), &room.trainee, id, Role::Seller, ttl);
    let coach = Claims::new(&trainer.sub, &trainer.name, id, Role::Trainer, ttl);
    let seller_token = sign(state, &seller)?;
    Ok(RoomLinks {
        room: room.clone(),
        studio_url: format!("/seller.html?room={id}#token={seller_token}"),
        seller_token,
        coach_token: sign(state, &coach)?,
        viewer_url: format!("/viewer.html?room={id}"),
    })
}

fn view(state: &AppState, trainer: &Claims, class: Class) -> Result<ClassView, ApiError> {
    let rooms = class
        .rooms
        .iter()
        .map(|room| links(state, trainer, room))
        .collect::<Result<_, _>>()?;
    Ok(ClassView {
        id: class.id,
        name: class.name,
        owner: class.owner,
        created_at: class.created_at,
        lesson: class.lesson,
        weights: class.weights,
        rooms,
    })
}

/// Open `trainee`'s practice room for `attempt`, marked as practice on this
/// node before anyone can be told of it, with its automatic prompter on
/// the lesson's clock and, when the lesson has one, its simulated audience
/// from the moment the trainee first goes live.
async fn open_room(
    state: &AppState,
    class_name: &str,
    trainee: &str,
    attempt: u32,
    lesson: &Lesson,
) -> Result<PracticeRoom, RoomError> {
    let info = state
        .rooms
        .create_practice(NewRoom {
            id: None,
            title: room_title(class_name, trainee, attempt),
            seller_name: trainee.to_owned(),
            products: crate::demo::products(),
            starts_at: None,
            cover_url: None,
        })
        .await?;
    state.classes.mark_practice_room(&info.id);
    let (went_live, live) = tokio::sync::oneshot::channel();
    watch::spawn(
        state.rooms.clone(),
        state.journal.clone(),
        info.id.clone(),
        lesson.speed,
        state.shutdown.child_token(),
        went_live,
    );
    if let Some(audience) = lesson.audience() {
        let (state, room_id) = (state.clone(), info.id.clone());
        tokio::spawn(async move {
            // The audience arrives when the trainee first goes live, so its
            // curve and the lesson's timeline start with her live.
            if live.await.is_ok() {
                if let Err(error) = super::lesson::start(&state, &room_id, audience).await {
                    tracing::warn!(room = %room_id, %error, "the class's audience could not start");
                }
            }
        });
    }
    Ok(PracticeRoom {
        room_id: info.id,
        trainee: trainee.to_owned(),
        attempt,
        opened_at: info.created_at,
    })
}

/// `POST /api/classes`: open a class, one practice room per trainee.
pub async fn create_class(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewClass>, JsonRejection>,
) -> Result<(StatusCode, Json<ClassView>), ApiError> {
    let claims = class_runner(&state, &headers)?;
    let Json(body) = body?;
    let CheckedClass {
        name,
        trainees,
        lesson,
    } = body.checked()?;
    state.classes.check_room_for(&claims.sub)?;
    let mut rooms = Vec::with_capacity(trainees.len());
    for trainee in &trainees {
        match open_room(&state, &name, trainee, 1, &lesson).await {
            Ok(room) => rooms.push(room),
            Err(error) => {
                // All or nothing: the rooms opened so far close again.
                for room in &rooms {
                    let _ = state
                        .rooms
                        .close(&room.room_id, "the class was not opened")
                        .await;
                }
                return Err(error.into());
            }
        }
    }
    let class = Class {
        id: format!("cl-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        name,
        owner: claims.sub.clone(),
        created_at: clock::unix_millis(),
        lesson,
        weights: Weights::default(),
        rooms,
    };
    state.classes.insert(class.clone());
    tracing::info!(class = %class.id, rooms = class.rooms.len(), by = %claims.sub, "class opened");
    Ok((StatusCode::CREATED, Json(view(&state, &claims, class)?)))
}

/// `GET /api/classes`: the caller's classes, newest first.
pub async fn list_classes(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let claims = class_runner(&state, &headers)?;
    let classes = state
        .classes
        .list(asker(&claims))
        .into_iter()
        .map(|class| view(&state, &claims, class))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "classes": classes })))
}

/// `GET /api/classes/{id}`.
pub async fn get_class(
    State(state): State<AppState>,
    Path(class_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ClassView>, ApiError> {
    let claims = class_runner(&state, &headers)?;
    let class = state.classes.get(asker(&claims), &class_id)?;
    Ok(Json(view(&state, &claims, class)?))
}

/// The overview: every room of the class, its figures so far.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub class_id: String,
    pub name: String,
    /// When the figures were computed.
    pub at: UnixMillis,
    pub rooms: Vec<RoomOverview>,
}

/// `GET /api/classes/{id}/overview`: each room's status, audience,
/// comments, orders, GMV and compliance flags so far, computed from its
/// journal (`analytics`, parsing only what was added since the last poll:
/// `practice::follow`) and its info; rooms are read concurrently.
pub async fn overview(
    State(state): State<AppState>,
    Path(class_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Overview>, ApiError> {
    let claims = class_runner(&state, &headers)?;
    let class = state.classes.get(asker(&claims), &class_id)?;
    let reads = class.rooms.iter().map(|room| {
        let state = &state;
        async move {
            let (info, lines) = tokio::join!(
                state.rooms.info(&room.room_id),
                state.journal.read_lines(&room.room_id)
            );
            let info = match info {
                Ok(info) => Some(info),
                Err(RoomError::RoomNotFound) => None,
                Err(error) => return Err(ApiError::from(error)),
            };
            // No journal (disabled, or not written yet): no figures yet.
            let lines = lines.unwrap_or_default();
            let now = clock::unix_millis();
            let weights = state.score_weights.get(&room.room_id);
            Ok(state
                .practice_journals
                .with_entries(&room.room_id, &lines, |entries| {
                    overview::room(room, info.as_ref(), entries, &weights, now)
                }))
        }
    });
    let rooms = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Overview {
        class_id: class.id,
        name: class.name,
        at: clock::unix_millis(),
        rooms,
    }))
}

/// `POST /api/classes/{id}/rooms/{room}/retry`: a new practice room for the
/// same trainee (attempt n + 1); the old room is kept for comparison.
pub async fn retry(
    State(state): State<AppState>,
    Path((class_id, room_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<RoomLinks>), ApiError> {
    let claims = class_runner(&state, &headers)?;
    let class = state.classes.get(asker(&claims), &class_id)?;
    let trainee = class.room(&room_id)?.trainee.clone();
    class.check_room_for_retry()?;
    let attempt = class.next_attempt(&trainee);
    let room = open_room(&state, &class.name, &trainee, attempt, &class.lesson).await?;
    state.score_weights.set(&room.room_id, class.weights);
    state
        .classes
        .add_room(asker(&claims), &class_id, room.clone())?;
    tracing::info!(class = %class_id, room = %room.room_id, attempt, "practice attempt opened");
    Ok((StatusCode::CREATED, Json(links(&state, &claims, &room)?)))
}

/// `PUT /api/classes/{id}/weights`: score every room of the class (and
/// every later attempt) with these weights; the class.
pub async fn put_weights(
    State(state): State<AppState>,
    Path(class_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<ClassView>, ApiError> {
    let claims = class_runner(&state, &headers)?;
    state.classes.get(asker(&claims), &class_id)?;
    let Json(body) = body?;
    let weights = Weights::from_json(&body)?;
    let class = state
        .classes
        .set_weights(asker(&claims), &class_id, weights)?;
    for room in &class.rooms {
        state.score_weights.set(&room.room_id, weights);
    }
    Ok(Json(view(&state, &claims, class)?))
}

/// `GET /api/practice/nudges` (any valid token: the coach view has a
/// room's trainer token): the canned nudges, their ids and words.
pub async fn nudges(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    bearer_claims(&state, &headers)?;
    let nudges: Vec<_> = NUDGES
        .iter()
        .map(|n| json!({ "id": n.id, "vi": n.vi, "en": n.en }))
        .collect();
    Ok(Json(json!({ "nudges": nudges })))
}

/// A `coach` or `nudge` frame from `actor` (a trainer or admin: routed and
/// authorised by `server/command.rs`) in `room`: refused outside practice
/// rooms (`not_practice_room`) and in an ended room (`room_ended`); else
/// told to the room's hosts connected to this node and journaled.
pub async fn coach(
    state: &AppState,
    room: &Room,
    actor: &Actor,
    id: Option<String>,
    command: CoachCommand,
) -> Result<Option<DirectEvent>, Refusal> {
    let info = room.info().await?;
    if !info.practice {
        return Err(PracticeError::NotPracticeRoom.into());
    }
    if info.status == RoomStatus::Ended {
        return Err(RoomError::Ended.into());
    }
    let coaching = match command {
        CoachCommand::Whisper { text } => Coaching::whisper(&text)?,
        CoachCommand::Nudge { nudge } => Coaching::nudge(&nudge)?,
    };
    coach::tell(
        &state.rooms,
        &state.journal,
        &room.id,
        &actor.user_id,
        &actor.name,
        &coaching,
    );
    Ok(id.map(|id| DirectEvent::Ack { id }))
}
