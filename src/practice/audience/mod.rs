//! The simulated audience of a practice room: bots with Vietnamese personas
//! who join as viewers, chat, tap hearts, open product cards, fill bags and
//! buy in flash sales — through the same room, journal and sale paths as a
//! connection — and react to the trainee.
//!
//! Layout:
//! - `persona.rs`: the personas (data: `config/personas/vi.toml` and a
//!   trainer's directory);
//! - `bot.rs`: one bot's state and its decisions each lesson second;
//! - `curve.rs`: how many bots should be present;
//! - `driver/`: the one task per room that drives all its bots (reading
//!   the trainee's acts in `trainee.rs`, scenarios in `scenarios.rs`);
//! - `data.rs`: reading data files with errors that name the field;
//! - this file: the [`Audiences`] registry on `AppState`, the lesson
//!   settings, the errors, and the [`Door`] the driver acts through.
//!
//! The audience knows nothing of HTTP or WebSockets: the service layer
//! (`server/lesson.rs`) implements [`Door`] with the very functions a
//! connection's reader calls. A lesson is deterministic: one task, one
//! seeded generator (ChaCha8), one lesson second at a time, and bots react
//! only to what the trainee does, so the same seed and the same trainee
//! give the same bots' acts in the same order.

pub mod bot;
pub mod curve;
pub mod data;
mod driver;
pub mod persona;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::journal::Journal;
use crate::protocol::{DirectEvent, ErrorCode};
use crate::room::{Actor, Membership, Room, RoomError};
use crate::sale::Shipping;

use super::scenario::{FireHow, ScenarioLibrary};
use data::DataError;
use persona::PersonaBook;

/// Most bots one lesson may ask for (a spike multiplies it, up to ×20).
pub const MAX_SIZE: u32 = 200;

/// What a lesson's audience is: from the trainer's request or a class.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LessonSettings {
    /// The same seed (and the same trainee) replays the same audience.
    pub seed: u64,
    /// Bots present once the audience has arrived (1–200).
    pub size: u32,
    /// Lesson seconds per wall second (0.1–100; 1 for a real lesson).
    #[serde(default = "real_time")]
    pub speed: f64,
    /// Scenarios fired at lesson times.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
}

fn real_time() -> f64 {
    1.0
}

/// One scenario on a lesson's timeline (the class's lesson and a started
/// audience share it).
pub use crate::practice::lesson::TimelineEntry;

/// What can go wrong running lessons.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    #[error("an audience already runs in room {0}")]
    AlreadyRunning(String),
    #[error("no audience runs in room {0}")]
    NotRunning(String),
    #[error("no scenario has the id `{0}`")]
    ScenarioNotFound(String),
    #[error("room {0} is not a practice room: bots only come to practice rooms")]
    NotPracticeRoom(String),
    #[error("`{0}` is a built-in scenario: save yours under another id")]
    BuiltinScenario(String),
    #[error("{0}")]
    Invalid(#[from] DataError),
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error("could not save: {0}")]
    Storage(String),
}

impl LessonError {
    /// The stable code clients see.
    pub fn code(&self) -> ErrorCode {
        match self {
            LessonError::AlreadyRunning(_)
            | LessonError::NotRunning(_)
            | LessonError::BuiltinScenario(_) => ErrorCode::InvalidState,
            LessonError::ScenarioNotFound(_) => ErrorCode::ScenarioNotFound,
            LessonError::NotPracticeRoom(_) => ErrorCode::NotPracticeRoom,
            LessonError::Invalid(_) => ErrorCode::InvalidValue,
            LessonError::Room(RoomError::RoomNotFound) => ErrorCode::RoomNotFound,
            LessonError::Room(RoomError::Ended) => ErrorCode::RoomEnded,
            LessonError::Room(_) => ErrorCode::Unavailable,
            LessonError::Storage(_) => ErrorCode::Internal,
        }
    }
}

/// A bot's request, as the driver hands it to the [`Door`].
#[derive(Debug, Clone, PartialEq)]
pub enum DoorAct {
    Chat(String),
    Hearts(u32),
    ViewProduct(String),
    AddToBag {
        product_id: String,
        idempotency_key: String,
    },
    Buy {
        sale_id: String,
        quantity: u32,
        idempotency_key: String,
    },
    Confirm {
        hold_id: String,
        shipping: Shipping,
    },
}

/// What became of a bot's request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// A buy or bag add held units: the hold to confirm.
    Reserved(String),
    /// A buy or bag add answered without a hold.
    NotReserved(crate::sale::BuyOutcome),
    Refused(ErrorCode),
}

/// How bots reach the room: the service layer's own paths (joins and
/// leaves journaled, commands carried out and journaled as a connection's
/// are). Implemented by `server/lesson.rs`.
#[async_trait]
pub trait Door: Send + Sync + 'static {
    /// Enter `room_id` as `bot` (a viewer); journal the visit.
    async fn enter(&self, room_id: &str, bot: &Actor, visit: &str)
        -> Result<Membership, RoomError>;
    /// `bot`'s visit ended after `stayed_ms` (its membership is dropped).
    fn left(&self, room_id: &str, bot: &Actor, visit: &str, stayed_ms: u64);
    /// Carry out `act` for `bot` in `room`.
    async fn act(&self, room: &Arc<Room>, bot: &Actor, act: DoorAct) -> Outcome;
    /// Tell the room's hosts something privately.
    fn tell_hosts(&self, room_id: &str, event: &DirectEvent) -> usize;
    fn journal(&self) -> &Journal;
}

/// An audience as `GET …/audience` shows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AudienceStatus {
    pub room_id: String,
    pub seed: u64,
    pub size: u32,
    pub speed: f64,
    /// Lesson seconds run so far.
    pub lesson_secs: u64,
    /// Bots in the room now.
    pub bots_present: usize,
    /// Present bots by persona id.
    pub persona_mix: BTreeMap<String, usize>,
    /// Mean interest of the present bots, 0–1.
    pub interest: f64,
    /// Scenarios fired so far: (lesson second, id, how).
    pub fired: Vec<Fired>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fired {
    pub at_secs: u64,
    pub scenario_id: String,
    pub how: FireHow,
}

/// Asks to a running driver.
enum Ask {
    Fire(String, FireHow),
}

/// A running audience, as the registry holds it.
struct Running {
    /// Which start this is, so a driver that ends removes only itself.
    generation: u64,
    asks: mpsc::UnboundedSender<Ask>,
    status: Arc<Mutex<AudienceStatus>>,
    /// Cancelled to stop the audience (its bots leave).
    stop: CancellationToken,
    done: CancellationToken,
}

/// The audiences running on this node, by room. Cheap to clone.
#[derive(Clone)]
pub struct Audiences {
    inner: Arc<Inner>,
}

struct Inner {
    running: DashMap<String, Running>,
    next_generation: AtomicU64,
    personas: Arc<PersonaBook>,
    library: Arc<ScenarioLibrary>,
}

impl Audiences {
    pub fn new(personas: PersonaBook, library: ScenarioLibrary) -> Audiences {
        Audiences {
            inner: Arc::new(Inner {
                running: DashMap::new(),
                next_generation: AtomicU64::new(1),
                personas: Arc::new(personas),
                library: Arc::new(library),
            }),
        }
    }

    pub fn personas(&self) -> &PersonaBook {
        &self.inner.personas
    }

    pub fn library(&self) -> &ScenarioLibrary {
        &self.inner.library
    }

    /// Check `settings` (the field at fault when they are wrong).
    pub fn check(&self, settings: &LessonSettings) -> Result<(), LessonError> {
        let body = "request body";
        if !(1..=MAX_SIZE).contains(&settings.size) {
            return Err(DataError::new(body, "size", "1–200 bots").into());
        }
        if !crate::practice::clock::SPEEDS.contains(&settings.speed) {
            return Err(DataError::new(body, "speed", "0.1–100 lesson seconds a second").into());
        }
        for (i, entry) in settings.timeline.iter().enumerate() {
            if self.inner.library.get(&entry.scenario_id).is_none() {
                let field = format!("timeline[{i}].scenario_id");
                return Err(DataError::new(body, field, "no scenario has this id").into());
            }
            if entry.at_secs > super::scenario::MAX_AT_SECS {
                let field = format!("timeline[{i}].at_secs");
                return Err(DataError::new(body, field, "at most 3600").into());
            }
        }
        Ok(())
    }

    /// Start `room_id`'s audience: its first bot joins now (so a room that
    /// does not exist or has ended is refused here), the others follow the
    /// audience curve. It runs until [`Audiences::stop`] or the room ends.
    pub async fn start(
        &self,
        door: Arc<dyn Door>,
        room_id: &str,
        settings: LessonSettings,
    ) -> Result<(), LessonError> {
        self.check(&settings)?;
        if self.is_running(room_id) {
            return Err(LessonError::AlreadyRunning(room_id.to_owned()));
        }
        let generation = self.inner.next_generation.fetch_add(1, Ordering::Relaxed);
        let (asks, asks_rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let done = CancellationToken::new();
        let status = Arc::new(Mutex::new(AudienceStatus {
            room_id: room_id.to_owned(),
            seed: settings.seed,
            size: settings.size,
            speed: settings.speed,
            ..AudienceStatus::default()
        }));
        // Claim the room first, so two starts at once cannot both run.
        match self.inner.running.entry(room_id.to_owned()) {
            dashmap::Entry::Occupied(_) => {
                return Err(LessonError::AlreadyRunning(room_id.to_owned()))
            }
            dashmap::Entry::Vacant(slot) => {
                slot.insert(Running {
                    generation,
                    asks,
                    status: Arc::clone(&status),
                    stop: stop.clone(),
                    done: done.clone(),
                });
            }
        }
        let driver = driver::Driver::new(
            door,
            room_id,
            settings,
            Arc::clone(&self.inner.personas),
            Arc::clone(&self.inner.library),
            status,
        );
        let driver = match driver.arrive().await {
            Ok(driver) => driver,
            Err(error) => {
                self.forget(room_id, generation);
                return Err(error.into());
            }
        };
        let audiences = self.clone();
        let room = room_id.to_owned();
        tokio::spawn(async move {
            driver.run(asks_rx, stop).await;
            audiences.forget(&room, generation);
            done.cancel();
        });
        Ok(())
    }

    /// Fire scenario `scenario_id` in `room_id`'s lesson (at its next
    /// lesson second; the driver journals `scenario_fired`).
    pub fn fire(&self, room_id: &str, scenario_id: &str, how: FireHow) -> Result<(), LessonError> {
        if self.inner.library.get(scenario_id).is_none() {
            return Err(LessonError::ScenarioNotFound(scenario_id.to_owned()));
        }
        let running = self
            .inner
            .running
            .get(room_id)
            .ok_or_else(|| LessonError::NotRunning(room_id.to_owned()))?;
        running
            .asks
            .send(Ask::Fire(scenario_id.to_owned(), how))
            .map_err(|_| LessonError::NotRunning(room_id.to_owned()))
    }

    /// Stop `room_id`'s audience and wait until its bots have left; `false`
    /// when none ran.
    pub async fn stop(&self, room_id: &str) -> bool {
        let Some((stop, done)) = self
            .inner
            .running
            .get(room_id)
            .map(|r| (r.stop.clone(), r.done.clone()))
        else {
            return false;
        };
        stop.cancel();
        done.cancelled().await;
        true
    }

    pub fn is_running(&self, room_id: &str) -> bool {
        self.inner.running.contains_key(room_id)
    }

    /// The running audience of `room_id`, as it is now.
    pub fn status(&self, room_id: &str) -> Option<AudienceStatus> {
        self.inner
            .running
            .get(room_id)
            .map(|r| r.status.lock().clone())
    }

    fn forget(&self, room_id: &str, generation: u64) {
        self.inner
            .running
            .remove_if(room_id, |_, r| r.generation == generation);
    }
}
