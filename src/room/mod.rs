//! Rooms: the live-session domain.
//!
//! A room's authoritative state — info, catalog, pins, chat, moderation, its
//! current sale, its `seq` and recent events — lives in the room store
//! ([`store`]: memory, or Redis when rooms span nodes). Every change is one
//! atomic step of the store, which numbers the resulting events and hands
//! them to every node that has connections in the room.
//!
//! A [`Room`] is this node's handle on one room while it has connections
//! here: their memberships, the room's fan-out ring ([`Fanout`]), the hearts
//! tapped here, and the signals that end connections. It changes the room
//! only through the store, by these doors:
//! - [`RoomRegistry::join`] (and dropping the [`Membership`] to leave);
//! - [`Room::request`]: a client's [`RoomCommand`], its role already
//!   authorised by the service layer;
//! - [`Room::heart`]: counted here, reported by the registry's upkeep;
//! - [`Room::observe`]: a [`RoomFact`] from the sale store or the SFU;
//! - [`RoomRegistry::close`]: the room ends (HTTP close, operations).
//!
//! A joining client subscribes to the ring *before* the store reads its
//! snapshot (or the events it missed), then skips what the snapshot already
//! holds: the snapshot and the live stream meet exactly, on any node.

mod actor;
mod command;
mod error;
mod history;
mod limits;
mod moderation;
pub mod note;
pub mod product;
mod registry;
mod sale_view;
pub mod schedule;
pub mod state;
pub mod store;
pub mod text;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::auth::{Action, Role};
use crate::bus::{Control, Fanout, Frame, Subscription};
use crate::clock::{Now, UnixMillis};
use crate::protocol::{
    to_json, DirectEvent, IceServer, JsonText, Me, Product, RoomInfo, SaleInfo, Snapshot,
};

pub use actor::Actor;
pub use command::{RoomCommand, RoomFact};
pub use error::RoomError;
pub use limits::RoomLimits;
pub use registry::{NewRoom, RoomRegistry, RoomSettings};
pub use sale_view::transition_due;
pub use state::RoomState;
use store::{AnyRoomStore, Joined, RoomStore, RoomView};

/// Private frames a host's connection may fall behind by before it misses
/// some (they are few: a whisper, a flag).
const BACKSTAGE_QUEUE: usize = 64;

/// This node's handle on one room with connections here.
pub struct Room {
    pub id: String,
    store: AnyRoomStore,
    /// The room's events, for this node's connections.
    fanout: Fanout,
    /// STUN/TURN servers for clients' peer connections (from configuration).
    ice_servers: Arc<[IceServer]>,
    /// This node's id, told to every client in its first frame.
    node_id: Arc<str>,
    /// Who is connected here, by connection id.
    members: Mutex<HashMap<u64, Member>>,
    next_member_id: AtomicU64,
    /// Members plus joins under way: the registry drops the room from this
    /// node only at zero, so no joiner is left holding a room that no
    /// longer receives events.
    users: AtomicUsize,
    /// Hearts tapped here since the last report. An atomic, so ten thousand
    /// thumbs never contend for a lock.
    hearts_pending: AtomicU64,
    /// Reported taps still wait to be announced: report again.
    hearts_owed: AtomicBool,
    /// Set when the sale's stock may have changed (a buy, a cancel, an
    /// expiry) through this node; the sale announcer then re-reads it.
    /// Starts set: a node taking up a room re-reads its sale once, which
    /// makes up for an announcement lost with a node that crashed between
    /// a buy and announcing it.
    sale_dirty: AtomicBool,
    /// When this node last announced a mere stock change of the sale (unix
    /// ms): in a large room the announcer spaces them by the room's size
    /// (see `server::sales::stock_spacing`), so a burst of buys is not a
    /// burst of frames to every connection.
    stock_announced_at: AtomicU64,
    /// Products whose stock changed through this node since the announcer
    /// last looked: it re-reads their counts, so a burst of bag adds costs
    /// one `product_stock` event per interval, not one per add.
    dirty_products: Mutex<DirtyProducts>,
    /// Set once something on this node watches the room's media stream
    /// state, so one watcher runs however many times the seller publishes.
    media_watched: AtomicBool,
    /// Cancelled once the room has ended (its `room_closed` reached here).
    closed: CancellationToken,
    /// Private frames for the room's hosts connected here (seller, trainer,
    /// admin): coaching and compliance flags, which the audience must never
    /// see. Not numbered, not stored, not resumed: a host who is not
    /// connected misses them (the journal keeps what the scorecard needs).
    backstage: tokio::sync::broadcast::Sender<JsonText>,
    /// Set when this node gives up the room without it ending (it lost its
    /// link to the shared store): its clients must reconnect elsewhere.
    evicted: AtomicBool,
    /// Cancelled when the room ends or the node stops (a child of the
    /// registry's lifetime token). Every member's `stop` is its child, so a
    /// connection watches one token of its own instead of several shared
    /// ones (shared tokens are locks that thousands of writers would poll).
    live: CancellationToken,
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

/// One user of a room on this node (a member, or a join under way); the
/// room's `users` count falls when it drops.
struct UserClaim {
    room: Arc<Room>,
}

impl Drop for UserClaim {
    fn drop(&mut self) {
        self.room.users.fetch_sub(1, Ordering::AcqRel);
    }
}

struct MemberGuard {
    room: Arc<Room>,
    member_id: u64,
    _claim: UserClaim,
}

impl Drop for MemberGuard {
    fn drop(&mut self) {
        self.room.members.lock().remove(&self.member_id);
    }
}

/// Products to re-read, for [`Room::take_dirty_products`].
#[derive(Default)]
struct DirtyProducts {
    /// Changed since the last take.
    dirty: BTreeSet<String>,
    /// Changed before the last take: read once more.
    recheck: BTreeSet<String>,
}

impl Room {
    fn new(
        id: String,
        store: AnyRoomStore,
        settings: &RoomSettings,
        node_id: &str,
        lifetime: &CancellationToken,
    ) -> Room {
        Room {
            id,
            store,
            fanout: Fanout::new(settings.fanout_capacity),
            ice_servers: settings.ice_servers.clone().into(),
            node_id: node_id.into(),
            members: Mutex::new(HashMap::new()),
            next_member_id: AtomicU64::new(1),
            users: AtomicUsize::new(0),
            hearts_pending: AtomicU64::new(0),
            hearts_owed: AtomicBool::new(false),
            sale_dirty: AtomicBool::new(true),
            stock_announced_at: AtomicU64::new(0),
            dirty_products: Mutex::new(DirtyProducts::default()),
            media_watched: AtomicBool::new(false),
            closed: CancellationToken::new(),
            backstage: tokio::sync::broadcast::channel(BACKSTAGE_QUEUE).0,
            evicted: AtomicBool::new(false),
            live: lifetime.child_token(),
        }
    }

    /// A new user of this room on this node (see [`UserClaim`]).
    fn claim(self: &Arc<Self>) -> UserClaim {
        self.users.fetch_add(1, Ordering::AcqRel);
        UserClaim {
            room: Arc::clone(self),
        }
    }

    // ---------------------------------------------------------------------
    // The doors that change a room
    // ---------------------------------------------------------------------

    /// Enter the room. With `last_seq`, try to resume: the client gets the
    /// events it missed if the store still has them, or a snapshot.
    async fn join(
        self: &Arc<Self>,
        claim: UserClaim,
        actor: &Actor,
        last_seq: Option<u64>,
    ) -> Result<Membership, RoomError> {
        // Subscribe before the store reads, then skip what the read holds:
        // no event falls between the snapshot and the stream, none repeats.
        let mut events = self.fanout.subscribe(0);
        if self.closed.is_cancelled() {
            return Err(RoomError::Ended);
        }
        let joined = self.store.join(&self.id, actor, last_seq).await?;
        events.start_after(joined.seq());
        let me = Me {
            user_id: actor.user_id.clone(),
            name: actor.name.clone(),
            role: actor.role,
        };
        let initial = match joined {
            Joined::Resumed {
                from_seq,
                to_seq,
                frames,
            } => {
                let resumed = DirectEvent::Resumed {
                    from_seq,
                    to_seq,
                    me,
                    node: self.node_id.to_string(),
                };
                let mut initial = Vec::with_capacity(frames.len() + 1);
                initial.push(to_json(&resumed));
                initial.extend(frames.into_iter().map(|f| f.json));
                initial
            }
            Joined::Snapshot(view) => {
                let snapshot = snapshot(*view, me, &self.ice_servers, &self.node_id);
                vec![to_json(&DirectEvent::Snapshot(Box::new(snapshot)))]
            }
        };
        let member_id = self.next_member_id.fetch_add(1, Ordering::Relaxed);
        let stop = self.live.child_token();
        self.members.lock().insert(
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
                _claim: claim,
            },
        })
    }

    /// Carry out `actor`'s command (its role already authorised).
    pub async fn request(&self, actor: &Actor, command: &RoomCommand) -> Result<(), RoomError> {
        self.store
            .apply(&self.id, actor, command, Now::current())
            .await
    }

    /// Count hearts; the registry's upkeep reports them to the store.
    pub fn heart(&self, count: u32) {
        self.hearts_pending
            .fetch_add(u64::from(count), Ordering::Relaxed);
    }

    /// Announce what another domain did, if it changes what clients were told.
    pub async fn observe(&self, fact: RoomFact) -> Result<(), RoomError> {
        self.store.observe(&self.id, fact).await
    }

    /// An event the store committed, for this node's connections.
    fn deliver(&self, frame: Frame) {
        let control = frame.control.clone();
        self.fanout.publish(frame);
        match control {
            Some(Control::RoomClosed) => {
                self.closed.cancel();
                self.live.cancel();
            }
            Some(Control::UserBanned { user_id, by_rank }) => {
                for member in self.members.lock().values() {
                    if member.user_id == user_id && member.role.rank() < by_rank {
                        member.stop.cancel();
                    }
                }
            }
            None => {}
        }
    }

    // ---------------------------------------------------------------------
    // Reads, and hints that change nothing clients see
    // ---------------------------------------------------------------------

    /// The room as room lists show it.
    pub async fn info(&self) -> Result<RoomInfo, RoomError> {
        self.store.info(&self.id).await
    }

    pub async fn product(&self, product_id: &str) -> Result<Product, RoomError> {
        self.store.product(&self.id, product_id).await
    }

    /// The current (or last) flash sale, as last announced.
    pub async fn current_sale(&self) -> Result<Option<SaleInfo>, RoomError> {
        self.store.current_sale(&self.id).await
    }

    /// Is `user_id`, holding `role`, banned from this room?
    pub async fn is_banned(&self, user_id: &str, role: Role) -> bool {
        self.store
            .is_banned(&self.id, user_id, role)
            .await
            .unwrap_or(false)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Did this node give the room up (see [`RoomRegistry::evict_all`])?
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// End this node's connections in the room without ending the room.
    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.live.cancel();
    }

    /// Cancelled when the room ends.
    pub fn closed(&self) -> CancellationToken {
        self.closed.clone()
    }

    /// Tell the room's hosts connected to this node something the audience
    /// must not see; how many host connections it reached.
    pub fn tell_hosts(&self, event: &DirectEvent) -> usize {
        self.backstage.send(to_json(event)).unwrap_or(0)
    }

    /// The private frames for a host's connection (see [`Room::tell_hosts`]);
    /// `None` for a role that may not host (viewers, moderators).
    pub fn backstage(&self, role: Role) -> Option<tokio::sync::broadcast::Receiver<JsonText>> {
        role.may(Action::HostLive)
            .then(|| self.backstage.subscribe())
    }

    /// The sale's stock may have changed; re-read it soon.
    pub fn mark_sale_dirty(&self) {
        self.sale_dirty.store(true, Ordering::Relaxed);
    }

    /// Whether the sale's stock may have changed since the last call.
    pub fn take_sale_dirty(&self) -> bool {
        self.sale_dirty.swap(false, Ordering::Relaxed)
    }

    /// When this node last announced a stock change of the sale.
    pub fn stock_announced_at(&self) -> UnixMillis {
        self.stock_announced_at.load(Ordering::Relaxed)
    }

    /// This node announced a stock change of the sale at `at`.
    pub fn note_stock_announced(&self, at: UnixMillis) {
        self.stock_announced_at.store(at, Ordering::Relaxed);
    }

    /// A product's stock changed through this node; announce it soon.
    pub fn mark_product_dirty(&self, product_id: &str) {
        self.dirty_products
            .lock()
            .dirty
            .insert(product_id.to_owned());
    }

    /// Has this node still something to announce (a sale or a product's
    /// stock it changed, or a product to read again)? Such a room's handle
    /// outlives its last connection until the announcer has run: no other
    /// node knows of the change, and a late joiner would see the old stock.
    pub fn has_pending_announcements(&self) -> bool {
        if self.sale_dirty.load(Ordering::Relaxed) {
            return true;
        }
        let products = self.dirty_products.lock();
        !products.dirty.is_empty() || !products.recheck.is_empty()
    }

    /// The products whose stock may have changed since the last call, and
    /// those of the call before: each is read twice, an interval apart, so
    /// a count read just before a concurrent change (and announced after
    /// it, by another task or node) is put right at the next interval.
    pub fn take_dirty_products(&self) -> BTreeSet<String> {
        let mut products = self.dirty_products.lock();
        let dirty = std::mem::take(&mut products.dirty);
        let recheck = std::mem::replace(&mut products.recheck, dirty.clone());
        dirty.union(&recheck).cloned().collect()
    }

    /// `true` for the first caller only: that caller starts the room's
    /// media watcher on this node.
    pub fn claim_media_watch(&self) -> bool {
        !self.media_watched.swap(true, Ordering::Relaxed)
    }

    /// Viewers connected to this node.
    fn local_viewers(&self) -> u64 {
        self.members
            .lock()
            .values()
            .filter(|m| m.role == Role::Viewer)
            .count() as u64
    }

    /// Members plus joins under way: the connections on this node that a
    /// room event is written to.
    pub fn users(&self) -> usize {
        self.users.load(Ordering::Acquire)
    }

    /// Connections in the room on this node, and of them viewers.
    pub fn presence(&self) -> (u64, u64) {
        let members = self.members.lock();
        let viewers = members.values().filter(|m| m.role == Role::Viewer).count();
        (members.len() as u64, viewers as u64)
    }
}

/// A joining client's snapshot: the room view, who they are, and, for the
/// roles that moderate, who is banned.
fn snapshot(view: RoomView, me: Me, ice_servers: &[IceServer], node: &str) -> Snapshot {
    let banned = me.role.may(Action::Moderate).then_some(view.banned);
    Snapshot {
        seq: view.seq,
        room: view.info,
        products: view.products,
        pinned_product: view.pinned_product,
        chat: view.chat,
        settings: view.settings,
        hearts_total: view.hearts_total,
        sale: view.sale,
        stream_live: view.stream_live,
        ice_servers: ice_servers.to_vec(),
        me,
        node: node.to_owned(),
        banned,
        pinned_note: view.pinned_note,
    }
}
