//! Rooms: the live-session domain.
//!
//! A [`Room`] owns one live session's state ([`state::RoomState`]), numbers
//! its events, keeps a replay buffer for reconnecting clients, and publishes
//! every event through the [`bus`](crate::bus) seam. It knows nothing of
//! sockets, HTTP or the frames clients send.
//!
//! A room changes only through these doors, and every change is published
//! the same way (numbered, serialized once, kept for replay, and nothing
//! after `room_closed`):
//! - [`Room::join`] (and dropping the [`Membership`] to leave);
//! - [`Room::request`]: a client's [`RoomCommand`], its role already
//!   authorised by the service layer;
//! - [`Room::heart`]: counted lock-free, published by the room's ticker;
//! - [`Room::observe`]: a [`RoomFact`] from the sale store or the SFU;
//! - [`Room::close`]: the node ends the room (HTTP close, operations).
//!
//! One `parking_lot::Mutex` guards a room's state. No `.await` happens while
//! it is held, and it is held while an event is numbered, serialized,
//! buffered and handed to the bus, so every subscriber sees events in `seq`
//! order and a joining client's snapshot and its subscription meet exactly.

mod actor;
mod command;
mod error;
mod history;
mod limits;
mod moderation;
pub mod product;
mod registry;
mod sale_view;
pub mod state;
pub mod text;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::auth::{Action, Role};
use crate::bus::{Frame, RoomChannel, Subscription};
use crate::clock::{Now, UnixMillis};
use crate::protocol::{
    to_json, DirectEvent, IceServer, JsonText, Me, Product, RoomEvent, RoomInfo, RoomStatus,
    SaleInfo, SequencedEvent, Snapshot,
};

pub use actor::Actor;
pub use command::{RoomCommand, RoomFact};
pub use error::RoomError;
use history::ReplayBuffer;
pub use limits::RoomLimits;
pub use registry::{NewRoom, RoomRegistry, RoomSettings};
use sale_view::SaleView;
pub use state::RoomState;

/// One live session.
pub struct Room {
    pub id: String,
    inner: Mutex<Inner>,
    channel: Arc<dyn RoomChannel>,
    /// Hearts tapped since the last flush. An atomic, not part of `inner`, so
    /// ten thousand thumbs never contend for the room lock.
    hearts_pending: AtomicU64,
    /// Set when the sale's stock may have changed (a buy, a cancel, an
    /// expiry); the sale announcer then re-reads the sale, at most a few
    /// times per second, however many buys happened.
    sale_dirty: AtomicBool,
    /// Set once something watches this room's media stream state, so one
    /// watcher runs per room however many times the seller publishes.
    media_watched: AtomicBool,
    /// STUN/TURN servers for clients' peer connections (from configuration).
    ice_servers: Vec<IceServer>,
    /// Cancelled once the room has ended and its last event is published.
    closed: CancellationToken,
    /// Cancelled when the room ends or the node stops (a child of the
    /// registry's lifetime token). Every member's `stop` is its child, so a
    /// connection watches one token of its own instead of several shared
    /// ones (shared tokens are locks that thousands of writers would poll).
    live: CancellationToken,
}

struct Inner {
    state: RoomState,
    /// The seq of the last published event; 0 before the first.
    seq: u64,
    history: ReplayBuffer,
    /// Who is connected, by connection id.
    members: HashMap<u64, Member>,
    next_member_id: u64,
    hearts_total: u64,
    /// The viewer count clients were last told, to publish only changes.
    viewers_published: u64,
    /// The current flash sale as last announced.
    sale: SaleView,
    /// Whether the seller's video is being forwarded, as last announced.
    stream_live: bool,
}

struct Member {
    user_id: String,
    role: Role,
    /// Cancelled to disconnect this member: a ban (directly), or the room
    /// ending or the node stopping (through its parent, the room's `live`).
    stop: CancellationToken,
}

/// A connection's place in a room: what to send first, the live event
/// stream, and the signal that ends it. Dropping it leaves the room.
pub struct Membership {
    /// A snapshot, or `resumed` followed by the missed events.
    pub initial: Vec<JsonText>,
    /// The room's events after `initial`, in seq order.
    pub events: Subscription,
    /// Cancelled when this connection must end: it was banned, the room
    /// ended (after its `room_closed` event), or the node is stopping.
    /// [`Room::is_closed`] and [`Room::is_banned`] tell which.
    pub stop: CancellationToken,
    guard: MemberGuard,
}

impl Membership {
    pub fn room(&self) -> &Arc<Room> {
        &self.guard.room
    }
}

struct MemberGuard {
    room: Arc<Room>,
    member_id: u64,
}

impl Drop for MemberGuard {
    fn drop(&mut self) {
        self.room.inner.lock().members.remove(&self.member_id);
    }
}

impl Room {
    fn new(
        state: RoomState,
        channel: Arc<dyn RoomChannel>,
        replay_capacity: usize,
        ice_servers: Vec<IceServer>,
        lifetime: &CancellationToken,
    ) -> Room {
        Room {
            id: state.info.id.clone(),
            inner: Mutex::new(Inner {
                state,
                seq: 0,
                history: ReplayBuffer::new(replay_capacity),
                members: HashMap::new(),
                next_member_id: 1,
                hearts_total: 0,
                viewers_published: 0,
                sale: SaleView::default(),
                stream_live: false,
            }),
            channel,
            hearts_pending: AtomicU64::new(0),
            sale_dirty: AtomicBool::new(false),
            media_watched: AtomicBool::new(false),
            ice_servers,
            closed: CancellationToken::new(),
            live: lifetime.child_token(),
        }
    }

    // ---------------------------------------------------------------------
    // The doors that change a room
    // ---------------------------------------------------------------------

    /// Enter the room. With `last_seq`, try to resume: the client gets the
    /// events it missed if the replay buffer still has them, or a snapshot.
    pub fn join(
        self: &Arc<Self>,
        actor: &Actor,
        last_seq: Option<u64>,
    ) -> Result<Membership, RoomError> {
        let mut inner = self.inner.lock();
        if inner.state.is_banned(&actor.user_id, actor.role) {
            return Err(RoomError::Banned);
        }
        if self.closed.is_cancelled() {
            return Err(RoomError::Ended);
        }
        inner.state.admit(actor);
        // Subscribing under the lock that also guards publishing means no
        // event falls between the snapshot and the stream, and none arrives twice.
        let events = self.channel.subscribe(inner.seq);
        let me = Me {
            user_id: actor.user_id.clone(),
            name: actor.name.clone(),
            role: actor.role,
        };
        let replay =
            last_seq.and_then(|last| inner.history.since(last, inner.seq).map(|f| (last, f)));
        let initial = match replay {
            Some((last, frames)) => {
                let resumed = DirectEvent::Resumed {
                    from_seq: last + 1,
                    to_seq: inner.seq,
                    me,
                };
                let mut initial = Vec::with_capacity(frames.len() + 1);
                initial.push(to_json(&resumed));
                initial.extend(frames.into_iter().map(|f| f.json));
                initial
            }
            None => {
                let snapshot = inner.snapshot(me, &self.ice_servers);
                vec![to_json(&DirectEvent::Snapshot(Box::new(snapshot)))]
            }
        };
        let member_id = inner.next_member_id;
        inner.next_member_id += 1;
        let stop = self.live.child_token();
        inner.members.insert(
            member_id,
            Member {
                user_id: actor.user_id.clone(),
                role: actor.role,
                stop: stop.clone(),
            },
        );
        Ok(Membership {
            initial,
            events,
            stop,
            guard: MemberGuard {
                room: Arc::clone(self),
                member_id,
            },
        })
    }

    /// Carry out `actor`'s command (its role already authorised).
    pub fn request(&self, actor: &Actor, command: &RoomCommand) -> Result<(), RoomError> {
        let mut inner = self.inner.lock();
        let events = inner.state.apply(actor, command, Now::current())?;
        if let RoomCommand::BanUser { user_id } = command {
            let Inner { members, state, .. } = &*inner;
            for member in members.values().filter(|m| &m.user_id == user_id) {
                if state.is_banned(user_id, member.role) {
                    member.stop.cancel();
                }
            }
        }
        self.publish_all(&mut inner, events);
        Ok(())
    }

    /// Count hearts; they go out in the next `hearts` event.
    pub fn heart(&self, count: u32) {
        self.hearts_pending
            .fetch_add(u64::from(count), Ordering::Relaxed);
    }

    /// Announce what another domain did, if it changes what clients were told.
    pub fn observe(&self, fact: RoomFact) {
        let mut inner = self.inner.lock();
        let events = match fact {
            RoomFact::SaleChanged(sale) => vec![inner.sale.replace(sale)],
            RoomFact::SaleRead(sale) => inner.sale.refresh(sale).into_iter().collect(),
            RoomFact::OrderPlaced {
                sale_id,
                buyer_name,
                quantity,
            } => vec![RoomEvent::SalePurchase {
                sale_id,
                buyer_name,
                quantity,
            }],
            RoomFact::StreamLive(live) if live != inner.stream_live => {
                inner.stream_live = live;
                vec![RoomEvent::StreamState { live }]
            }
            RoomFact::StreamLive(_) => vec![],
        };
        self.publish_all(&mut inner, events);
    }

    /// End the room for everyone. Idempotent.
    pub fn close(&self, reason: &str) {
        let mut inner = self.inner.lock();
        let events = inner.state.end(reason);
        self.publish_all(&mut inner, events);
    }

    // ---------------------------------------------------------------------
    // Reads, and hints that change nothing clients see
    // ---------------------------------------------------------------------

    /// The room as the HTTP API and room lists show it.
    pub fn info(&self) -> RoomInfo {
        let inner = self.inner.lock();
        let mut info = inner.state.info.clone();
        info.viewer_count = inner.viewer_count();
        info
    }

    pub fn status(&self) -> RoomStatus {
        self.inner.lock().state.info.status
    }

    pub fn product(&self, product_id: &str) -> Option<Product> {
        self.inner.lock().state.product(product_id).cloned()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Cancelled when the room ends.
    pub fn closed(&self) -> CancellationToken {
        self.closed.clone()
    }

    /// Is `user_id`, holding `role`, banned from this room?
    pub fn is_banned(&self, user_id: &str, role: Role) -> bool {
        self.inner.lock().state.is_banned(user_id, role)
    }

    /// The current (or last) flash sale, as last announced.
    pub fn current_sale(&self) -> Option<SaleInfo> {
        self.inner.lock().sale.current().cloned()
    }

    /// The sale's stock may have changed; re-read it soon.
    pub fn mark_sale_dirty(&self) {
        self.sale_dirty.store(true, Ordering::Relaxed);
    }

    /// The id of the sale to re-read now, if its stock may have changed or
    /// its start or end time has passed. Clears the dirty mark.
    pub fn sale_to_refresh(&self, now: UnixMillis) -> Option<String> {
        let dirty = self.sale_dirty.swap(false, Ordering::Relaxed);
        let inner = self.inner.lock();
        let sale = inner.sale.current()?;
        (dirty || inner.sale.transition_due(now)).then(|| sale.id.clone())
    }

    /// `true` for the first caller only: that caller starts the room's
    /// media watcher.
    pub fn claim_media_watch(&self) -> bool {
        !self.media_watched.swap(true, Ordering::Relaxed)
    }

    // ---------------------------------------------------------------------
    // Publishing
    // ---------------------------------------------------------------------

    /// Run the room's periodic work (hearts, viewer count) until it closes.
    /// Holds only a weak reference, so a dropped room stops its ticker.
    fn spawn_ticker(self: &Arc<Self>, hearts_every: Duration, viewers_every: Duration) {
        let room: Weak<Room> = Arc::downgrade(self);
        let closed = self.closed.clone();
        tokio::spawn(async move {
            let mut hearts = tokio::time::interval(hearts_every);
            let mut viewers = tokio::time::interval(viewers_every);
            hearts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            viewers.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = closed.cancelled() => return,
                    _ = hearts.tick() => match room.upgrade() {
                        Some(room) => room.flush_hearts(),
                        None => return,
                    },
                    _ = viewers.tick() => match room.upgrade() {
                        Some(room) => room.flush_viewer_count(),
                        None => return,
                    },
                }
            }
        });
    }

    /// Publish the hearts tapped since the last flush, if any.
    fn flush_hearts(&self) {
        let count = self.hearts_pending.swap(0, Ordering::Relaxed);
        if count == 0 {
            return;
        }
        let mut inner = self.inner.lock();
        inner.hearts_total += count;
        let total = inner.hearts_total;
        self.publish_all(&mut inner, vec![RoomEvent::Hearts { count, total }]);
    }

    /// Publish the viewer count if it changed since clients were last told.
    fn flush_viewer_count(&self) {
        let mut inner = self.inner.lock();
        let count = inner.viewer_count();
        if count != inner.viewers_published {
            inner.viewers_published = count;
            self.publish_all(&mut inner, vec![RoomEvent::ViewerCount { count }]);
        }
    }

    /// Number, serialize once, buffer for replay and hand to the bus, in
    /// order; after `room_closed`, end the room's connections. Nothing is
    /// published after `room_closed`.
    fn publish_all(&self, inner: &mut Inner, events: Vec<RoomEvent>) {
        if self.closed.is_cancelled() {
            return;
        }
        for event in events {
            let last = matches!(event, RoomEvent::RoomClosed { .. });
            inner.seq += 1;
            let seq = inner.seq;
            let frame = Frame {
                seq,
                json: to_json(&SequencedEvent { seq, event }),
                last,
            };
            inner.history.push(frame.clone());
            self.channel.publish(frame);
            if last {
                self.closed.cancel();
                self.live.cancel();
                return;
            }
        }
    }
}

impl Inner {
    fn viewer_count(&self) -> u64 {
        self.members
            .values()
            .filter(|m| m.role == Role::Viewer)
            .count() as u64
    }

    fn snapshot(&self, me: Me, ice_servers: &[IceServer]) -> Snapshot {
        let mut room = self.state.info.clone();
        room.viewer_count = self.viewer_count();
        let banned = me.role.may(Action::Moderate).then(|| self.state.banned());
        Snapshot {
            seq: self.seq,
            room,
            products: self.state.products.clone(),
            pinned_product: self.state.pinned_product().cloned(),
            chat: self.state.chat.iter().cloned().collect(),
            settings: self.state.chat_settings().clone(),
            hearts_total: self.hearts_total,
            sale: self.sale.current().cloned(),
            stream_live: self.stream_live,
            ice_servers: ice_servers.to_vec(),
            me,
            banned,
        }
    }
}
