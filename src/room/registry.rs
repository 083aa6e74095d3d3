//! The rooms this node serves, and the node's way into the room store.
//!
//! The registry opens and checks new rooms, answers room lists, and keeps a
//! [`Room`] handle for each room that has connections on this node: made
//! when the first connection joins, dropped (and reported to the store) when
//! the last one has left, so ended and idle rooms leave this node's memory.
//! It is the node's [`FrameSink`]: the store hands it every event it commits
//! for an attached room, and it passes it on to that room's ring.
//!
//! Its upkeep task reports what each room's handle gathered — hearts tapped
//! and viewers connected here — to the store, which aggregates them over
//! every node.

use crate::journal::{Journal, Record};
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use crate::bus::{Frame, FrameSink};
use crate::clock::unix_millis;
use crate::protocol::{IceServer, Product, RoomInfo};

use super::schedule::{self, CheckedChanges};
use super::store::{AnyRoomStore, RoomRecord, RoomStore};
use super::{product, text, Actor, Membership, Room, RoomCommand, RoomError, RoomLimits};

/// How rooms on this node behave; from the configuration.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    pub limits: RoomLimits,
    /// Events the store keeps per room for clients that resume by seq.
    pub replay_capacity: usize,
    /// Frames a connection may fall behind its room's ring before it lags.
    pub fanout_capacity: usize,
    pub hearts_every: Duration,
    pub viewer_count_every: Duration,
    /// STUN/TURN servers handed to clients in every snapshot.
    pub ice_servers: Vec<IceServer>,
}

impl Default for RoomSettings {
    fn default() -> Self {
        RoomSettings {
            limits: RoomLimits::default(),
            replay_capacity: 1024,
            fanout_capacity: 1024,
            hearts_every: Duration::from_millis(500),
            viewer_count_every: Duration::from_secs(1),
            ice_servers: Vec::new(),
        }
    }
}

/// What it takes to open a room.
#[derive(Debug, Clone, Default)]
pub struct NewRoom {
    /// Chosen by the caller (a readable slug) or generated when `None`.
    pub id: Option<String>,
    pub title: String,
    pub seller_name: String,
    pub products: Vec<Product>,
    /// When the live is planned (`RoomInfo::starts_at`), if it is.
    pub starts_at: Option<crate::clock::UnixMillis>,
    /// The room's poster (`RoomInfo::cover_url`), if it has one.
    pub cover_url: Option<String>,
}

/// Cheap to clone; clones share the rooms.
#[derive(Clone)]
pub struct RoomRegistry {
    inner: Arc<Registry>,
}

struct Registry {
    /// Rooms with connections (or joins under way) on this node. DashMap:
    /// joins and deliveries for different rooms never contend.
    active: DashMap<String, Arc<Room>>,
    store: AnyRoomStore,
    settings: RoomSettings,
    /// This node's id, under which it reports its viewers.
    node_id: String,
    /// Cancelled when the node stops; every room's connections end with it.
    lifetime: CancellationToken,
    /// Where a created room's session opens (`session_opened`).
    journal: Journal,
}

impl FrameSink for Registry {
    fn deliver(&self, room_id: &str, frame: Frame) {
        if let Some(room) = self.active.get(room_id) {
            room.deliver(frame);
        }
    }
}

impl RoomRegistry {
    /// A registry over `store`, which it connects to as this node's sink.
    /// Must run inside a Tokio runtime (it starts its upkeep task).
    pub fn new(
        store: AnyRoomStore,
        settings: RoomSettings,
        node_id: String,
        lifetime: CancellationToken,
        journal: Journal,
    ) -> RoomRegistry {
        let inner = Arc::new(Registry {
            active: DashMap::new(),
            store,
            settings,
            node_id,
            lifetime,
            journal,
        });
        let sink: Weak<dyn FrameSink> = Arc::downgrade(&inner) as Weak<dyn FrameSink>;
        inner.store.connect_sink(sink);
        spawn_upkeep(Arc::downgrade(&inner));
        RoomRegistry { inner }
    }

    /// The room store behind this node.
    pub fn store(&self) -> &AnyRoomStore {
        &self.inner.store
    }

    /// Open a room in status `scheduled`, its catalog checked by the rules
    /// every product meets ([`product::check`]).
    pub async fn create(&self, new: NewRoom) -> Result<RoomInfo, RoomError> {
        self.open(new, false).await
    }

    /// Open a practice room (`RoomInfo::practice`) for a trainer's class:
    /// checked and stored like any room, marked so that its sales stay in
    /// memory and every screen says "Phòng luyện tập".
    pub async fn create_practice(&self, new: NewRoom) -> Result<RoomInfo, RoomError> {
        self.open(new, true).await
    }

    async fn open(&self, new: NewRoom, practice: bool) -> Result<RoomInfo, RoomError> {
        let mut record = self.check(new)?;
        record.practice = practice;
        let opened = Record::SessionOpened {
            room_id: record.id.clone(),
            title: record.title.clone(),
            seller_name: record.seller_name.clone(),
            products: record.products.clone(),
            practice,
        };
        let info = self.inner.store.create(record).await?;
        self.inner.journal.record(&info.id, info.created_at, opened);
        Ok(info)
    }

    fn check(&self, new: NewRoom) -> Result<RoomRecord, RoomError> {
        let id = match new.id {
            Some(id) => validate_room_id(&id)?,
            None => uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
        };
        let title = schedule::title(&new.title)
            .map_err(|_| RoomError::InvalidValue("a title has 1 to 200 characters".into()))?;
        let now = unix_millis();
        let starts_at = new
            .starts_at
            .map(|at| schedule::starts_at(at, now))
            .transpose()?;
        let cover_url = new
            .cover_url
            .as_deref()
            .map(schedule::cover_url)
            .transpose()?;
        let seller_name = new.seller_name.trim();
        if text::is_blank(seller_name) || text::length(seller_name) > 100 {
            return Err(RoomError::InvalidValue(
                "a seller name has 1 to 100 characters".into(),
            ));
        }
        let max_products = self.inner.settings.limits.max_products;
        if new.products.len() > max_products {
            return Err(RoomError::InvalidValue(format!(
                "products: a room has at most {max_products} products"
            )));
        }
        // The same rules as `add_product`, so no product enters a room
        // unchecked, whichever way it comes.
        let products = new
            .products
            .into_iter()
            .enumerate()
            .map(|(index, p)| product::checked(p).map_err(|e| e.at(index)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RoomRecord {
            id,
            title,
            seller_name: seller_name.to_owned(),
            products,
            created_at: now,
            practice: false,
            starts_at,
            cover_url,
        })
    }

    /// The room as room lists show it.
    pub async fn info(&self, room_id: &str) -> Result<RoomInfo, RoomError> {
        self.inner.store.info(room_id).await
    }

    /// Change a room's title, planned start or cover for `actor` (whom the
    /// service layer let through as its seller or an admin); everyone in
    /// the room is told (`room_updated`). The room as it now is.
    pub async fn update(
        &self,
        room_id: &str,
        actor: &Actor,
        changes: CheckedChanges,
    ) -> Result<RoomInfo, RoomError> {
        let command = RoomCommand::UpdateRoom { changes };
        let now = crate::clock::Now::current();
        self.inner
            .store
            .apply(room_id, actor, &command, now)
            .await?;
        self.inner.store.info(room_id).await
    }

    /// Every room, live or ended, newest first.
    pub async fn list(&self) -> Result<Vec<RoomInfo>, RoomError> {
        self.inner.store.list().await
    }

    /// End a room for everyone in it, on every node.
    pub async fn close(&self, room_id: &str, reason: &str) -> Result<RoomInfo, RoomError> {
        self.inner.store.close(room_id, reason).await
    }

    /// Enter `room_id` as `actor` (see [`Room::join`]).
    pub async fn join(
        &self,
        room_id: &str,
        actor: &Actor,
        last_seq: Option<u64>,
    ) -> Result<Membership, RoomError> {
        let claim = match self.inner.active.get(room_id) {
            Some(room) => room.claim(),
            None => {
                // Only a room the store knows gets a handle here.
                self.inner.store.info(room_id).await?;
                let inner = &self.inner;
                let room = inner.active.entry(room_id.to_owned()).or_insert_with(|| {
                    inner.store.attach(room_id);
                    Arc::new(Room::new(
                        room_id.to_owned(),
                        inner.store.clone(),
                        &inner.settings,
                        &inner.node_id,
                        &inner.lifetime,
                    ))
                });
                // Claimed under the map's entry lock: the upkeep cannot drop
                // the room between here and the join.
                room.claim()
            }
        };
        let room = Arc::clone(&claim.room);
        room.join(claim, actor, last_seq).await
    }

    /// The rooms with connections on this node.
    pub fn active(&self) -> Vec<Arc<Room>> {
        self.inner.active.iter().map(|r| Arc::clone(&r)).collect()
    }

    /// How many rooms have connections on this node.
    pub fn active_len(&self) -> usize {
        self.inner.active.len()
    }

    /// End every connection on this node without ending any room: the node
    /// lost its link to the shared store and its clients must reconnect
    /// elsewhere. Rooms get fresh handles when clients join here again.
    pub fn evict_all(&self) {
        let ids: Vec<String> = self.inner.active.iter().map(|r| r.key().clone()).collect();
        for room_id in ids {
            if let Some((_, room)) = self.inner.active.remove(&room_id) {
                self.inner.store.detach(&room_id);
                room.evict();
            }
        }
    }

    /// This node's id, under which it reports to the stores and the directory.
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// This node's handle on `room_id`, if it has connections here.
    /// Tell the hosts of `room_id` connected to this node something private
    /// (see [`Room::tell_hosts`]); how many connections it reached (0 when
    /// the room has none here).
    pub fn tell_hosts(&self, room_id: &str, event: &crate::protocol::DirectEvent) -> usize {
        self.get_active(room_id)
            .map_or(0, |room| room.tell_hosts(event))
    }

    pub fn get_active(&self, room_id: &str) -> Option<Arc<Room>> {
        self.inner.active.get(room_id).map(|r| Arc::clone(&r))
    }
}

/// Every `hearts_every`: report each room's hearts; every
/// `viewer_count_every`: report each room's viewers, and drop the rooms
/// nobody here uses any more. Holds the registry weakly, so it ends with it.
fn spawn_upkeep(registry: Weak<Registry>) {
    let Some(first) = registry.upgrade() else {
        return;
    };
    let (hearts_every, viewers_every) = (
        first.settings.hearts_every,
        first.settings.viewer_count_every,
    );
    let lifetime = first.lifetime.clone();
    drop(first);
    tokio::spawn(async move {
        let mut hearts = tokio::time::interval(hearts_every);
        let mut viewers = tokio::time::interval(viewers_every);
        hearts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        viewers.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = lifetime.cancelled() => return,
                _ = hearts.tick() => {
                    let Some(registry) = registry.upgrade() else { return };
                    registry.report_hearts().await;
                }
                _ = viewers.tick() => {
                    let Some(registry) = registry.upgrade() else { return };
                    registry.report_viewers().await;
                    registry.drop_idle_rooms().await;
                }
            }
        }
    });
}

impl Registry {
    fn rooms(&self) -> Vec<Arc<Room>> {
        self.active.iter().map(|r| Arc::clone(&r)).collect()
    }

    async fn report_hearts(&self) {
        let every_ms = self.settings.hearts_every.as_millis() as u64;
        for room in self.rooms() {
            let count = room
                .hearts_pending
                .swap(0, std::sync::atomic::Ordering::Relaxed);
            let owed = room.hearts_owed.load(std::sync::atomic::Ordering::Relaxed);
            if count == 0 && !owed {
                continue;
            }
            match self
                .store
                .add_hearts(&room.id, count, unix_millis(), every_ms)
                .await
            {
                Ok(owed) => room
                    .hearts_owed
                    .store(owed, std::sync::atomic::Ordering::Relaxed),
                Err(RoomError::Ended | RoomError::RoomNotFound) => {}
                Err(error) => {
                    tracing::warn!(room = %room.id, %error, "could not report hearts");
                    room.heart(count as u32);
                }
            }
        }
    }

    async fn report_viewers(&self) {
        for room in self.rooms() {
            self.report_viewers_of(&room.id, room.local_viewers()).await;
        }
    }

    async fn report_viewers_of(&self, room_id: &str, viewers: u64) {
        // A report counts for three intervals: a node that vanishes stops
        // counting soon after.
        let ttl_ms = 3 * self.settings.viewer_count_every.as_millis() as u64;
        let reported = self
            .store
            .report_viewers(room_id, &self.node_id, viewers, unix_millis(), ttl_ms)
            .await;
        match reported {
            Ok(()) | Err(RoomError::Ended | RoomError::RoomNotFound) => {}
            Err(error) => tracing::warn!(room = %room_id, %error, "could not report viewers"),
        }
    }

    /// Drop the handles of rooms nobody on this node uses any more, once
    /// their last stock changes are announced.
    async fn drop_idle_rooms(&self) {
        let idle = |room: &Room| room.users() == 0 && !room.has_pending_announcements();
        let rooms: Vec<String> = self
            .active
            .iter()
            .filter(|room| idle(room))
            .map(|room| room.key().clone())
            .collect();
        for room_id in rooms {
            // Checked again under the map's lock: a join may have claimed it.
            if let Some((_, room)) = self.active.remove_if(&room_id, |_, room| idle(room)) {
                self.store.detach(&room_id);
                if !room.is_closed() {
                    self.report_viewers_of(&room_id, 0).await;
                }
            }
        }
    }
}

/// Room ids appear in URLs: lower-case letters, digits and dashes, 1–64 long.
pub fn validate_room_id(id: &str) -> Result<String, RoomError> {
    if crate::redis_link::is_room_id(id) {
        Ok(id.to_owned())
    } else {
        Err(RoomError::InvalidValue(
            "a room id has 1 to 64 lower-case letters, digits or dashes".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::protocol::RoomStatus;
    use crate::room::store::MemoryRoomStore;
    use crate::room::RoomFact;

    fn registry() -> RoomRegistry {
        let settings = RoomSettings::default();
        let store = MemoryRoomStore::new(settings.limits.clone(), settings.replay_capacity);
        RoomRegistry::new(
            AnyRoomStore::Memory(Arc::new(store)),
            settings,
            "node-a".into(),
            CancellationToken::new(),
            crate::journal::Journal::disabled(),
        )
    }

    fn new_room(id: &str) -> NewRoom {
        NewRoom {
            id: Some(id.into()),
            title: "Phiên chợ".into(),
            seller_name: "Chị Hoa".into(),
            products: vec![],
            starts_at: None,
            cover_url: None,
        }
    }

    fn viewer() -> Actor {
        Actor {
            user_id: "lan".into(),
            name: "Lan".into(),
            role: Role::Viewer,
        }
    }

    #[tokio::test]
    async fn a_room_id_is_taken_once() {
        let rooms = registry();
        rooms.create(new_room("tra")).await.unwrap();
        assert_eq!(
            rooms.create(new_room("tra")).await.err(),
            Some(RoomError::AlreadyExists)
        );
    }

    #[tokio::test]
    async fn room_ids_must_be_url_safe() {
        let rooms = registry();
        assert!(matches!(
            rooms.create(new_room("Trà Xanh")).await,
            Err(RoomError::InvalidValue(_))
        ));
        assert!(matches!(
            rooms.create(new_room("")).await,
            Err(RoomError::InvalidValue(_))
        ));
    }

    #[tokio::test]
    async fn room_closed_is_the_last_event_whatever_is_reported_after_it() {
        let rooms = registry();
        rooms.create(new_room("tra")).await.unwrap();
        let mut membership = rooms.join("tra", &viewer(), None).await.unwrap();
        let room = Arc::clone(membership.room());
        rooms.close("tra", "bye").await.unwrap();
        // After the end, facts change nothing and announce nothing.
        let _ = room.observe(RoomFact::StreamLive(true)).await;
        let status = membership.events.recv().await.unwrap();
        assert!(!status.is_last());
        let closed = membership.events.recv().await.unwrap();
        assert!(closed.is_last(), "{}", closed.json.as_str());
        assert!(membership.events.try_recv().is_none());
        assert!(membership.stop.is_cancelled());
    }

    /// What the sale announcer (`server::sales`) does with a room each
    /// interval: take its marks, then read and announce.
    fn announce(rooms: &RoomRegistry, room_id: &str) {
        let room = rooms.get_active(room_id).unwrap();
        room.take_sale_dirty();
        room.take_dirty_products();
        room.take_dirty_products();
    }

    #[tokio::test]
    async fn a_room_leaves_the_nodes_memory_once_nobody_here_uses_it() {
        let rooms = registry();
        rooms.create(new_room("tra")).await.unwrap();
        let membership = rooms.join("tra", &viewer(), None).await.unwrap();
        assert_eq!(rooms.active_len(), 1);
        drop(membership);
        announce(&rooms, "tra");
        rooms.inner.drop_idle_rooms().await;
        assert_eq!(rooms.active_len(), 0);
        // The room itself lives on in the store, and may be joined again.
        rooms.join("tra", &viewer(), None).await.unwrap();
    }

    #[tokio::test]
    async fn a_room_stays_until_the_stock_its_last_buyer_changed_is_announced() {
        let rooms = registry();
        rooms.create(new_room("tra")).await.unwrap();
        let membership = rooms.join("tra", &viewer(), None).await.unwrap();
        announce(&rooms, "tra");
        // The last buyer on this node bought and left: no other node knows yet.
        rooms.get_active("tra").unwrap().mark_sale_dirty();
        drop(membership);
        rooms.inner.drop_idle_rooms().await;
        assert_eq!(rooms.active_len(), 1, "kept for the announcer");
        announce(&rooms, "tra");
        rooms.inner.drop_idle_rooms().await;
        assert_eq!(rooms.active_len(), 0);
    }

    #[tokio::test]
    async fn joining_an_unknown_room_leaves_nothing_behind() {
        let rooms = registry();
        let refused = rooms.join("nope", &viewer(), None).await.err();
        assert_eq!(refused, Some(RoomError::RoomNotFound));
        assert_eq!(rooms.active_len(), 0);
    }

    #[tokio::test]
    async fn a_catalog_meets_the_rules_of_add_product_and_its_size_bound() {
        let rooms = registry();
        let good = crate::demo::products().remove(0);
        let mut free = good.clone();
        free.price_vnd = 0;
        let mut room = new_room("tra");
        room.products = vec![good.clone(), free];
        let Err(RoomError::InvalidValue(message)) = rooms.create(room).await else {
            panic!("a free product was accepted");
        };
        assert!(message.starts_with("products[1].price_vnd "), "{message}");
        let mut room = new_room("tra");
        room.products = vec![good; RoomLimits::default().max_products + 1];
        assert!(matches!(
            rooms.create(room).await,
            Err(RoomError::InvalidValue(_))
        ));
        assert!(rooms.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_blank_title_is_refused() {
        let rooms = registry();
        let mut room = new_room("tra");
        room.title = "\u{200B} \u{3164}".into();
        assert!(matches!(
            rooms.create(room).await,
            Err(RoomError::InvalidValue(_))
        ));
    }

    #[tokio::test]
    async fn closing_a_room_ends_it_but_keeps_it_listed() {
        let rooms = registry();
        rooms.create(new_room("tra")).await.unwrap();
        let info = rooms.close("tra", "bye").await.unwrap();
        assert_eq!(info.status, RoomStatus::Ended);
        assert_eq!(rooms.list().await.unwrap()[0].status, RoomStatus::Ended);
        assert_eq!(
            rooms.close("nope", "bye").await.err(),
            Some(RoomError::RoomNotFound)
        );
    }
}
