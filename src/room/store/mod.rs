//! The room store: where a room's authoritative state, its `seq` and its
//! recent events live — the seam that lets rooms span nodes.
//!
//! Every method that changes a room is one atomic step of the store: it
//! checks the room's rules, changes the state, numbers the resulting events
//! with the room's next `seq`, records them for resume, and hands them to
//! every node's connections ([`FrameSink`]), or changes nothing and answers
//! a [`RoomError`]. Two implementations pass one conformance suite
//! (`tests/stores/room_conformance.rs`):
//! - [`MemoryRoomStore`]: one process; the embedded default. Each room's
//!   state sits behind its own mutex and events go straight to this node.
//! - [`RedisRoomStore`] (multi-node): each step is one Redis Function call
//!   of the library `chophien`, every key tagged `{room:ID}`, events
//!   recorded in a bounded stream and published on the room's shard
//!   channel, which every node's feed delivers in `seq` order.
//!
//! Rules that need no room data (text and product field checks) run before
//! the store is called; rules that need it (ranks, mutes, slow mode, what
//! exists) run inside the step. Time comes from the caller (`now`), so both
//! stores agree and tests control the clock.

mod memory;
mod redis;

use std::future::Future;
use std::sync::Arc;

use crate::auth::Role;
use crate::bus::{Frame, FrameSink};
use crate::clock::{Now, UnixMillis};
use crate::protocol::{
    BannedUser, ChatMessage, ChatSettings, PinnedNote, Product, RoomInfo, SaleInfo,
};

use super::{Actor, RoomCommand, RoomError, RoomFact};

pub use memory::MemoryRoomStore;
pub use redis::{RedisRoomOptions, RedisRoomStore};

/// A new room whose fields were checked (see `RoomRegistry::create`).
#[derive(Debug, Clone, Default)]
pub struct RoomRecord {
    pub id: String,
    pub title: String,
    pub seller_name: String,
    pub products: Vec<Product>,
    pub created_at: UnixMillis,
    /// A trainer's practice room (`RoomInfo::practice`).
    pub practice: bool,
    /// When the live is planned (`RoomInfo::starts_at`), checked.
    pub starts_at: Option<UnixMillis>,
    /// The room's poster (`RoomInfo::cover_url`), checked.
    pub cover_url: Option<String>,
}

/// A room as of one `seq`: everything a joining client is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomView {
    /// The seq of the last event this view includes.
    pub seq: u64,
    /// `viewer_count` is the room's total over every node.
    pub info: RoomInfo,
    pub products: Vec<Product>,
    pub pinned_product: Option<Product>,
    /// The most recent chat messages, oldest first.
    pub chat: Vec<ChatMessage>,
    pub settings: ChatSettings,
    pub hearts_total: u64,
    /// The room's current (or last) flash sale, as last announced.
    pub sale: Option<SaleInfo>,
    pub stream_live: bool,
    /// Who is banned (shown to the roles that moderate only).
    pub banned: Vec<BannedUser>,
    /// The announcement pinned above the chat, if any.
    pub pinned_note: Option<PinnedNote>,
}

/// What a joining client starts from.
#[derive(Debug, Clone)]
pub enum Joined {
    /// Draw the room from scratch.
    Snapshot(Box<RoomView>),
    /// Resume: the events after the client's `last_seq`, through `to_seq`.
    Resumed {
        from_seq: u64,
        to_seq: u64,
        frames: Vec<Frame>,
    },
}

impl Joined {
    /// The seq of the last event the joining client has been given.
    pub fn seq(&self) -> u64 {
        match self {
            Joined::Snapshot(view) => view.seq,
            Joined::Resumed { to_seq, .. } => *to_seq,
        }
    }
}

/// Where rooms live. Every method is one atomic step of the store.
///
/// Room ids are trusted to be well formed (the registry checks them);
/// actors come from verified tokens, their roles already authorised for the
/// command (`server/command.rs`).
pub trait RoomStore: Send + Sync + 'static {
    /// Where this store hands over the events it commits for this node.
    /// Set once, when the node starts.
    fn connect_sink(&self, sink: std::sync::Weak<dyn FrameSink>);

    /// This node now has connections in `room_id`: deliver its events here.
    fn attach(&self, room_id: &str);

    /// This node no longer has connections in `room_id`.
    fn detach(&self, room_id: &str);

    /// Open a room (status `scheduled`); `AlreadyExists` if its id is taken,
    /// by a live or an ended room.
    fn create(&self, room: RoomRecord) -> impl Future<Output = Result<RoomInfo, RoomError>> + Send;

    /// The room as room lists show it; `RoomNotFound` if unknown.
    fn info(&self, room_id: &str) -> impl Future<Output = Result<RoomInfo, RoomError>> + Send;

    /// Every room the store knows, live or ended, newest first
    /// ([`newest_first`]).
    fn list(&self) -> impl Future<Output = Result<Vec<RoomInfo>, RoomError>> + Send;

    /// Admit `actor` (refused if banned or the room has ended), remember its
    /// rank, and give what it starts from: the events after `last_seq` if
    /// the store still holds them all, else a snapshot.
    fn join(
        &self,
        room_id: &str,
        actor: &Actor,
        last_seq: Option<u64>,
    ) -> impl Future<Output = Result<Joined, RoomError>> + Send;

    /// Carry out `actor`'s command.
    fn apply(
        &self,
        room_id: &str,
        actor: &Actor,
        command: &RoomCommand,
        now: Now,
    ) -> impl Future<Output = Result<(), RoomError>> + Send;

    /// Announce what another domain did, if it changes what clients were told.
    fn observe(
        &self,
        room_id: &str,
        fact: RoomFact,
    ) -> impl Future<Output = Result<(), RoomError>> + Send;

    /// End the room for everyone (idempotent); the room as it now is.
    fn close(
        &self,
        room_id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<RoomInfo, RoomError>> + Send;

    /// One product of the room's catalog.
    fn product(
        &self,
        room_id: &str,
        product_id: &str,
    ) -> impl Future<Output = Result<Product, RoomError>> + Send;

    /// The room's current (or last) flash sale, as last announced.
    fn current_sale(
        &self,
        room_id: &str,
    ) -> impl Future<Output = Result<Option<SaleInfo>, RoomError>> + Send;

    /// Is `user_id`, holding `role`, banned from the room?
    fn is_banned(
        &self,
        room_id: &str,
        user_id: &str,
        role: Role,
    ) -> impl Future<Output = Result<bool, RoomError>> + Send;

    /// Count `count` hearts tapped on this node and announce the room's
    /// hearts (`hearts`: taps since the last announcement and the total) at
    /// most once per `every_ms`, however many nodes report. `true` when taps
    /// are still waiting to be announced (report again next time, even with
    /// `count` 0).
    fn add_hearts(
        &self,
        room_id: &str,
        count: u64,
        now: UnixMillis,
        every_ms: u64,
    ) -> impl Future<Output = Result<bool, RoomError>> + Send;

    /// `node` has `viewers` viewers in the room; announce the room's total
    /// (`viewer_count`) if it changed. A node's report counts until
    /// `now + ttl_ms` (a node that vanishes stops counting).
    fn report_viewers(
        &self,
        room_id: &str,
        node: &str,
        viewers: u64,
        now: UnixMillis,
        ttl_ms: u64,
    ) -> impl Future<Output = Result<(), RoomError>> + Send;

    /// `Ok` when the store can serve rooms right now (for `/readyz`).
    fn health(&self) -> impl Future<Output = Result<(), RoomError>> + Send;
}

/// The store the server runs with, chosen by configuration (`store.kind`).
/// Enum dispatch keeps the trait's futures unboxed.
#[derive(Clone)]
pub enum AnyRoomStore {
    Memory(Arc<MemoryRoomStore>),
    Redis(Arc<RedisRoomStore>),
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyRoomStore::Memory($store) => $call,
            AnyRoomStore::Redis($store) => $call,
        }
    };
}

impl RoomStore for AnyRoomStore {
    fn connect_sink(&self, sink: std::sync::Weak<dyn FrameSink>) {
        dispatch!(self, s => s.connect_sink(sink))
    }
    fn attach(&self, room_id: &str) {
        dispatch!(self, s => s.attach(room_id))
    }
    fn detach(&self, room_id: &str) {
        dispatch!(self, s => s.detach(room_id))
    }
    async fn create(&self, room: RoomRecord) -> Result<RoomInfo, RoomError> {
        dispatch!(self, s => s.create(room).await)
    }
    async fn info(&self, room_id: &str) -> Result<RoomInfo, RoomError> {
        dispatch!(self, s => s.info(room_id).await)
    }
    async fn list(&self) -> Result<Vec<RoomInfo>, RoomError> {
        dispatch!(self, s => s.list().await)
    }
    async fn join(
        &self,
        room_id: &str,
        actor: &Actor,
        last_seq: Option<u64>,
    ) -> Result<Joined, RoomError> {
        dispatch!(self, s => s.join(room_id, actor, last_seq).await)
    }
    async fn apply(
        &self,
        room_id: &str,
        actor: &Actor,
        command: &RoomCommand,
        now: Now,
    ) -> Result<(), RoomError> {
        dispatch!(self, s => s.apply(room_id, actor, command, now).await)
    }
    async fn observe(&self, room_id: &str, fact: RoomFact) -> Result<(), RoomError> {
        dispatch!(self, s => s.observe(room_id, fact).await)
    }
    async fn close(&self, room_id: &str, reason: &str) -> Result<RoomInfo, RoomError> {
        dispatch!(self, s => s.close(room_id, reason).await)
    }
    async fn product(&self, room_id: &str, product_id: &str) -> Result<Product, RoomError> {
        dispatch!(self, s => s.product(room_id, product_id).await)
    }
    async fn current_sale(&self, room_id: &str) -> Result<Option<SaleInfo>, RoomError> {
        dispatch!(self, s => s.current_sale(room_id).await)
    }
    async fn is_banned(&self, room_id: &str, user_id: &str, role: Role) -> Result<bool, RoomError> {
        dispatch!(self, s => s.is_banned(room_id, user_id, role).await)
    }
    async fn add_hearts(
        &self,
        room_id: &str,
        count: u64,
        now: UnixMillis,
        every_ms: u64,
    ) -> Result<bool, RoomError> {
        dispatch!(self, s => s.add_hearts(room_id, count, now, every_ms).await)
    }
    async fn report_viewers(
        &self,
        room_id: &str,
        node: &str,
        viewers: u64,
        now: UnixMillis,
        ttl_ms: u64,
    ) -> Result<(), RoomError> {
        dispatch!(self, s => s.report_viewers(room_id, node, viewers, now, ttl_ms).await)
    }
    async fn health(&self) -> Result<(), RoomError> {
        dispatch!(self, s => s.health().await)
    }
}

/// The order `list` answers in: newest first, ties by id.
pub(crate) fn newest_first(rooms: &mut [RoomInfo]) {
    rooms.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
}
