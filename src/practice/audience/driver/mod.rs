//! The room driver: one task per practice room runs every bot of its
//! audience, one lesson second at a time.
//!
//! Each lesson second, in this order: take the trainer's asks (fire a
//! scenario), fire the timeline's scenarios that are due, read what the
//! trainee did (the room's events, through the first bot's membership),
//! carry out due scenario steps, let bots join along the curve, then let
//! each present bot act, in join order. Every random draw comes from one
//! seeded generator in that fixed order, and bots react only to the
//! trainee's acts (never to timing), so a lesson replays from its seed.
//!
//! `trainee.rs` reads the room and turns the trainee's acts into the bots'
//! interest; `scenarios.rs` journals firings and carries out their steps.

mod scenarios;
mod trainee;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::Role;
use crate::protocol::{DirectEvent, Snapshot};
use crate::room::{Actor, Membership, Room, RoomError};
use crate::sale::Shipping;

use super::bot::{choose, Act, Bot, LiveSale, Scene};
use super::curve::Curve;
use super::persona::PersonaBook;
use super::{Ask, AudienceStatus, Door, DoorAct, LessonSettings, Outcome};
use crate::practice::clock::LessonClock;
use crate::practice::scenario::{FireHow, ScenarioLibrary, Step};

/// Most buys one `buy_out` step tries (a sale has at most this many units
/// worth buying in a lesson).
const MAX_BUY_OUT: usize = 400;
/// Addresses bots ship to (checkout needs one).
const ADDRESSES: &[&str] = &[
    "12 Hàng Bạc, Hoàn Kiếm, Hà Nội",
    "45 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
    "8 Bạch Đằng, Hải Châu, Đà Nẵng",
    "102 Hoàng Văn Thụ, TP. Thái Nguyên",
    "27 Trần Hưng Đạo, Ninh Kiều, Cần Thơ",
];

/// A bot in the room.
struct Present {
    bot: Bot,
    actor: Actor,
    /// Its place in the room; dropping it leaves.
    membership: Membership,
    visit: String,
    joined: Instant,
}

/// Something a fired scenario will do at a lesson second.
#[derive(Debug, Clone)]
enum Due {
    Step(String, Step),
    /// One line of a flood: said by a present bot, or a new one of `persona`.
    Line {
        text: String,
        persona: Option<String>,
    },
}

/// What the trainee's room looks like, kept from its events.
#[derive(Default)]
struct Stage {
    /// (id, name, price) in catalog order.
    products: Vec<(String, String, u64)>,
    pinned: Option<(String, String)>,
    /// The current sale and its per-buyer limit, while live.
    sale: Option<(LiveSale, u32)>,
    /// The lesson second the trainee last wrote in chat.
    seller_spoke: u64,
    /// The last event seq read.
    seq: u64,
    closed: bool,
}

pub(super) struct Driver {
    door: Arc<dyn Door>,
    room_id: String,
    room: Option<Arc<Room>>,
    settings: LessonSettings,
    personas: Arc<PersonaBook>,
    library: Arc<ScenarioLibrary>,
    status: Arc<Mutex<AudienceStatus>>,
    rng: ChaCha8Rng,
    clock: LessonClock,
    curve: Curve,
    /// The lesson second.
    now: u64,
    /// In join order; the first stays all lesson and its membership is
    /// where the driver reads the room's events.
    present: Vec<Present>,
    /// Bots made so far (user ids are numbered).
    made: u64,
    /// When this lesson began (unix ms): part of its bots' visit ids, so a
    /// later lesson's `bot-1` is another visit.
    began_ms: u64,
    /// Scenario work by lesson second, in firing order within a second.
    due: BTreeMap<u64, Vec<Due>>,
    stage: Stage,
}

impl Driver {
    pub(super) fn new(
        door: Arc<dyn Door>,
        room_id: &str,
        settings: LessonSettings,
        personas: Arc<PersonaBook>,
        library: Arc<ScenarioLibrary>,
        status: Arc<Mutex<AudienceStatus>>,
    ) -> Driver {
        Driver {
            door,
            room_id: room_id.to_owned(),
            room: None,
            rng: ChaCha8Rng::seed_from_u64(settings.seed),
            clock: LessonClock::start(settings.speed),
            curve: Curve::new(settings.size as usize),
            settings,
            personas,
            library,
            status,
            now: 0,
            present: Vec::new(),
            made: 0,
            began_ms: crate::clock::unix_millis(),
            due: BTreeMap::new(),
            stage: Stage::default(),
        }
    }

    /// The first bot joins (it stays all lesson): the room exists and is
    /// open, and the driver learns its catalog from the snapshot.
    pub(super) async fn arrive(mut self) -> Result<Driver, RoomError> {
        // A silent lurker: the trainee has no reason to ban it.
        let persona = match self.personas.index_of("xem_im") {
            Some(lurker) => lurker,
            None => self.draw_persona(),
        };
        let index = self.join(persona).await?;
        self.present[index].bot.stays = true;
        let snapshot = self.present[index]
            .membership
            .initial
            .first()
            .and_then(|json| serde_json::from_str::<DirectEvent>(json.as_str()).ok());
        if let Some(DirectEvent::Snapshot(snapshot)) = snapshot {
            self.learn(&snapshot);
        }
        self.room = Some(Arc::clone(self.present[index].membership.room()));
        Ok(self)
    }

    fn learn(&mut self, snapshot: &Snapshot) {
        self.stage.seq = snapshot.seq;
        self.stage.products = snapshot
            .products
            .iter()
            .map(|p| (p.id.clone(), p.name.clone(), p.price_vnd))
            .collect();
        self.stage.pinned = snapshot
            .pinned_product
            .as_ref()
            .map(|p| (p.id.clone(), p.name.clone()));
        if let Some(sale) = &snapshot.sale {
            self.sale_changed(sale);
        }
    }

    /// Run until stopped or the room ends; then every bot leaves.
    pub(super) async fn run(
        mut self,
        mut asks: mpsc::UnboundedReceiver<Ask>,
        stop: CancellationToken,
    ) {
        let closed = self.room.as_ref().map(|r| r.closed()).unwrap_or_default();
        let mut ticks = tokio::time::interval(self.clock.tick());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                _ = closed.cancelled() => break,
                _ = ticks.tick() => {}
            }
            while let Ok(ask) = asks.try_recv() {
                match ask {
                    Ask::Fire(id, how) => self.fire(&id, how),
                }
            }
            if self
                .room
                .as_ref()
                .is_some_and(|r| r.is_closed() || r.is_evicted())
            {
                // The room ended, or this node gave it up: every bot's
                // membership ended with it.
                break;
            }
            if !self.drop_banned().await {
                // Bots were ended without a ban: the node is stopping.
                break;
            }
            self.second().await;
            if self.stage.closed {
                break;
            }
            self.now += 1;
        }
        for present in std::mem::take(&mut self.present) {
            self.leave(present);
        }
        self.publish_status();
    }

    /// One lesson second.
    async fn second(&mut self) {
        let timeline: Vec<String> = self
            .settings
            .timeline
            .iter()
            .filter(|e| u64::from(e.at_secs) == self.now)
            .map(|e| e.scenario_id.clone())
            .collect();
        for id in timeline {
            self.fire(&id, FireHow::Timeline);
        }
        self.read_room();
        if let Some(work) = self.due.remove(&self.now) {
            for due in work {
                self.carry_out(due).await;
            }
        }
        let mood = self.mood();
        let target = self.curve.target(self.now, mood);
        for _ in 0..self.curve.joins(self.now, self.present.len(), target) {
            let persona = self.draw_persona();
            if let Err(error) = self.join(persona).await {
                tracing::debug!(room = %self.room_id, %error, "a bot could not join");
                break;
            }
        }
        // Past a spike, the crowd thins back towards the curve.
        let drift = self.curve.drift(self.present.len(), target);
        let mut leaving = Vec::new();
        if drift > 0.0 {
            for (index, present) in self.present.iter().enumerate() {
                if !present.bot.stays && self.rng.random::<f64>() < drift {
                    leaving.push(index);
                }
            }
        }
        let scene = self.scene();
        let mut gone = vec![false; self.present.len()];
        for &index in &leaving {
            gone[index] = true;
        }
        for (index, gone) in gone.into_iter().enumerate() {
            if gone {
                continue;
            }
            let persona = self.personas.get(self.present[index].bot.persona);
            let acts = self.present[index]
                .bot
                .decide(persona, &scene, &mut self.rng);
            for act in acts {
                if act == Act::Leave {
                    leaving.push(index);
                } else {
                    self.perform(index, act).await;
                }
            }
        }
        leaving.sort_unstable();
        for index in leaving.into_iter().rev() {
            let present = self.present.remove(index);
            self.leave(present);
        }
        self.publish_status();
    }

    /// Bots the trainee banned leave (their membership was ended). When the
    /// first bot goes, the next one's membership becomes where the room's
    /// events are read, from the last one read. `false` when a bot's
    /// membership ended without a ban (the node is stopping).
    async fn drop_banned(&mut self) -> bool {
        let before = self.present.len();
        let first = self.present.first().map(|p| p.bot.user_id.clone());
        let (banned, kept): (Vec<Present>, Vec<Present>) = std::mem::take(&mut self.present)
            .into_iter()
            .partition(|p| p.membership.stop.is_cancelled());
        self.present = kept;
        let mut stopping = false;
        for present in banned {
            if let Some(room) = &self.room {
                stopping |= !room.is_banned(&present.actor.user_id, Role::Viewer).await;
            }
            self.leave(present);
        }
        if stopping {
            return false;
        }
        let anchor_changed = self.present.first().map(|p| &p.bot.user_id) != first.as_ref();
        if self.present.len() != before && anchor_changed {
            if let Some(anchor) = self.present.first_mut() {
                anchor.bot.stays = true;
                anchor.membership.events.start_after(self.stage.seq);
            }
        }
        true
    }

    fn scene(&self) -> Scene {
        Scene {
            now: self.now,
            products: self.stage.products.clone(),
            pinned: self.stage.pinned.clone(),
            sale: self.stage.sale.as_ref().map(|(s, _)| s.clone()),
            seller_silent_secs: self.now.saturating_sub(self.stage.seller_spoke),
        }
    }

    fn mood(&self) -> f64 {
        if self.present.is_empty() {
            return 0.5;
        }
        self.present.iter().map(|p| p.bot.interest).sum::<f64>() / self.present.len() as f64
    }

    // ---------------------------------------------------------------------
    // Bots' comings, goings and acts
    // ---------------------------------------------------------------------

    fn draw_persona(&mut self) -> usize {
        let mix = self.personas.mix();
        let total: u32 = mix.iter().map(|(_, w)| w).sum();
        let mut at = self.rng.random_range(0..total.max(1));
        for (index, weight) in &mix {
            if at < *weight {
                return *index;
            }
            at -= weight;
        }
        0
    }

    /// A new bot of `persona` joins; its index in `present`.
    async fn join(&mut self, persona: usize) -> Result<usize, RoomError> {
        self.made += 1;
        let number = self.made;
        let p = self.personas.get(persona);
        let name = choose(&p.names, self.rng.random::<f64>());
        let interest = 0.4 + 0.3 * self.rng.random::<f64>();
        let user_id = format!("bot-{number}");
        let actor = Actor {
            user_id: user_id.clone(),
            name: name.clone(),
            role: Role::Viewer,
        };
        let visit = format!("lesson-{}:{user_id}", self.began_ms);
        let membership = self.door.enter(&self.room_id, &actor, &visit).await?;
        self.present.push(Present {
            bot: Bot::new(user_id, name, persona, interest),
            actor,
            membership,
            visit,
            joined: Instant::now(),
        });
        Ok(self.present.len() - 1)
    }

    fn leave(&self, present: Present) {
        let stayed = present.joined.elapsed().as_millis() as u64;
        drop(present.membership);
        self.door
            .left(&self.room_id, &present.actor, &present.visit, stayed);
    }

    async fn perform(&mut self, index: usize, act: Act) {
        match act {
            Act::Say { text, .. } => self.chat(index, text).await,
            Act::Hearts(count) => {
                self.door_act(index, DoorAct::Hearts(count)).await;
            }
            Act::ViewProduct(product_id) => {
                self.door_act(index, DoorAct::ViewProduct(product_id)).await;
            }
            Act::AddToBag(product_id) => {
                let idempotency_key =
                    format!("{}-bag-{product_id}", self.present[index].bot.user_id);
                let act = DoorAct::AddToBag {
                    product_id,
                    idempotency_key,
                };
                self.door_act(index, act).await;
            }
            Act::Buy(sale_id) => {
                if self.buy(index, &sale_id, 1).await == Outcome::Done {
                    let persona = self.personas.get(self.present[index].bot.persona);
                    let thanks = choose(&persona.phrases.thanks, self.rng.random::<f64>());
                    self.chat(index, thanks).await;
                }
            }
            Act::Leave => {}
        }
    }

    async fn chat(&mut self, index: usize, text: String) {
        self.door_act(index, DoorAct::Chat(text)).await;
    }

    /// Buy `quantity` and confirm the hold: `Done` once ordered.
    async fn buy(&mut self, index: usize, sale_id: &str, quantity: u32) -> Outcome {
        let idempotency_key = format!("{}-{sale_id}-{quantity}", self.present[index].bot.user_id);
        let act = DoorAct::Buy {
            sale_id: sale_id.to_owned(),
            quantity,
            idempotency_key,
        };
        let hold_id = match self.door_act(index, act).await {
            Outcome::Reserved(hold_id) => hold_id,
            other => return other,
        };
        let shipping = self.shipping(index);
        match self
            .door_act(index, DoorAct::Confirm { hold_id, shipping })
            .await
        {
            Outcome::Done => Outcome::Done,
            other => other,
        }
    }

    /// A bot's made-up but valid shipping details.
    fn shipping(&self, index: usize) -> Shipping {
        let number: u64 = self.present[index]
            .bot
            .user_id
            .trim_start_matches("bot-")
            .parse()
            .unwrap_or(0);
        Shipping {
            name: self.present[index].bot.name.clone(),
            phone: format!("09{:08}", 10_000_000 + number % 89_999_999),
            address: ADDRESSES[number as usize % ADDRESSES.len()].to_owned(),
        }
    }

    async fn door_act(&mut self, index: usize, act: DoorAct) -> Outcome {
        let Some(room) = self.room.clone() else {
            return Outcome::Refused(crate::protocol::ErrorCode::RoomNotFound);
        };
        self.door.act(&room, &self.present[index].actor, act).await
    }

    fn publish_status(&self) {
        let mut mix = BTreeMap::new();
        for present in &self.present {
            let id = &self.personas.get(present.bot.persona).id;
            *mix.entry(id.clone()).or_insert(0) += 1;
        }
        let mut status = self.status.lock();
        status.lesson_secs = self.now;
        status.bots_present = self.present.len();
        status.persona_mix = mix;
        status.interest = (self.mood() * 100.0).round() / 100.0;
    }
}
