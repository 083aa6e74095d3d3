//! The in-memory room store: every room of one process, each behind its own
//! mutex.
//!
//! The embedded default (no Redis needed) and the store of practice rooms.
//! Each operation locks one room, checks, changes, numbers its events, keeps
//! them for resume and hands them to this node ([`FrameSink`]) before it
//! unlocks, so events leave in `seq` order. A room that ends keeps only its
//! `RoomInfo` (so links answer "ended"), not its chat, catalog or history.
//! Nothing survives a restart.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::auth::Role;
use crate::bus::{Control, Frame, FrameSink};
use crate::clock::{unix_millis, Now, UnixMillis};
use crate::journal::Journal;
use crate::protocol::{
    to_json, Product, RoomEvent, RoomInfo, RoomStatus, SaleInfo, SequencedEvent,
};

use super::super::history::ReplayBuffer;
use super::super::sale_view::SaleView;
use super::super::{Actor, RoomCommand, RoomError, RoomFact, RoomLimits, RoomState};
use super::{newest_first, Joined, RoomRecord, RoomStore, RoomView};

pub struct MemoryRoomStore {
    /// DashMap: operations on different rooms never contend; each room's
    /// own mutex orders its events.
    rooms: DashMap<String, Arc<Mutex<Slot>>>,
    limits: RoomLimits,
    /// Events kept per room for clients that resume by seq.
    replay_capacity: usize,
    /// This node, set once at start; weak because the node owns the store.
    sink: OnceLock<Weak<dyn FrameSink>>,
    /// Where every event is recorded as it is numbered (the session journal).
    journal: Journal,
}

enum Slot {
    Live(Box<LiveRoom>),
    /// What is left of an ended room.
    Ended(RoomInfo),
}

struct LiveRoom {
    state: RoomState,
    /// The seq of the last event; 0 before the first.
    seq: u64,
    history: ReplayBuffer,
    hearts_total: u64,
    /// Taps reported but not yet announced.
    hearts_pending: u64,
    hearts_announced_at: UnixMillis,
    /// node → (viewers, counted until).
    viewers: HashMap<String, (u64, UnixMillis)>,
    /// The viewer count clients were last told.
    viewers_published: u64,
    /// The current flash sale as last announced.
    sale: SaleView,
    /// Whether the seller's video is being forwarded, as last announced.
    stream_live: bool,
}

impl MemoryRoomStore {
    pub fn new(limits: RoomLimits, replay_capacity: usize) -> MemoryRoomStore {
        MemoryRoomStore {
            rooms: DashMap::new(),
            limits,
            replay_capacity,
            sink: OnceLock::new(),
            journal: Journal::disabled(),
        }
    }

    /// Record every room's events in `journal` as they are numbered.
    pub fn with_journal(mut self, journal: Journal) -> MemoryRoomStore {
        self.journal = journal;
        self
    }

    fn slot(&self, room_id: &str) -> Result<Arc<Mutex<Slot>>, RoomError> {
        self.rooms
            .get(room_id)
            .map(|slot| Arc::clone(&slot))
            .ok_or(RoomError::RoomNotFound)
    }

    /// Run `f` on a live room; `Ended` for an ended one.
    fn with_live<T>(
        &self,
        room_id: &str,
        f: impl FnOnce(&mut LiveRoom, &mut Publisher<'_>) -> Result<T, RoomError>,
    ) -> Result<T, RoomError> {
        let slot = self.slot(room_id)?;
        let mut slot = slot.lock();
        let Slot::Live(room) = &mut *slot else {
            return Err(RoomError::Ended);
        };
        let mut publisher = Publisher {
            room_id,
            sink: self.sink.get().and_then(Weak::upgrade),
            journal: &self.journal,
            ended: false,
        };
        let result = f(room, &mut publisher);
        if publisher.ended {
            let info = room.info();
            *slot = Slot::Ended(info);
        }
        result
    }
}

/// Numbers, records and hands over one room's events, in order.
struct Publisher<'a> {
    room_id: &'a str,
    sink: Option<Arc<dyn FrameSink>>,
    journal: &'a Journal,
    /// Set once `room_closed` went out.
    ended: bool,
}

impl Publisher<'_> {
    /// Publish `events`, caused by someone of rank `by_rank` (0 when no
    /// one's command caused them).
    fn publish(&mut self, room: &mut LiveRoom, events: Vec<RoomEvent>, by_rank: u8) {
        for event in events {
            if self.ended {
                return;
            }
            let control = control_of(&event, by_rank);
            room.seq += 1;
            let seq = room.seq;
            let frame = Frame {
                seq,
                json: to_json(&SequencedEvent { seq, event }),
                control,
            };
            self.ended = frame.is_last();
            self.journal
                .record_event(self.room_id, unix_millis(), frame.json.as_str());
            room.history.push(frame.clone());
            if let Some(sink) = &self.sink {
                sink.deliver(self.room_id, frame);
            }
        }
    }
}

/// What a node must do about an event besides forwarding it; `by_rank` is
/// the rank of who caused it.
pub(crate) fn control_of(event: &RoomEvent, by_rank: u8) -> Option<Control> {
    match event {
        RoomEvent::RoomClosed { .. } => Some(Control::RoomClosed),
        RoomEvent::UserBanned { user_id, .. } => Some(Control::UserBanned {
            user_id: user_id.clone(),
            by_rank,
        }),
        _ => None,
    }
}

impl LiveRoom {
    fn info(&self) -> RoomInfo {
        RoomInfo {
            viewer_count: self.viewers_published,
            ..self.state.info.clone()
        }
    }

    fn view(&self) -> RoomView {
        RoomView {
            seq: self.seq,
            info: self.info(),
            products: self.state.products.clone(),
            pinned_product: self.state.pinned_product().cloned(),
            chat: self.state.chat.iter().cloned().collect(),
            settings: self.state.chat_settings().clone(),
            hearts_total: self.hearts_total,
            sale: self.sale.current().cloned(),
            stream_live: self.stream_live,
            banned: self.state.banned(),
            pinned_note: self.state.note.clone(),
        }
    }
}

impl RoomStore for MemoryRoomStore {
    fn connect_sink(&self, sink: Weak<dyn FrameSink>) {
        let _ = self.sink.set(sink);
    }

    fn attach(&self, _room_id: &str) {}

    fn detach(&self, _room_id: &str) {}

    async fn create(&self, room: RoomRecord) -> Result<RoomInfo, RoomError> {
        let info = RoomInfo {
            id: room.id.clone(),
            title: room.title,
            seller_name: room.seller_name,
            status: RoomStatus::Scheduled,
            viewer_count: 0,
            pinned_product_id: None,
            created_at: room.created_at,
            practice: room.practice,
            starts_at: room.starts_at,
            cover_url: room.cover_url,
        };
        let live = LiveRoom {
            state: RoomState::new(info.clone(), room.products, self.limits.clone()),
            seq: 0,
            history: ReplayBuffer::new(self.replay_capacity),
            hearts_total: 0,
            hearts_pending: 0,
            hearts_announced_at: 0,
            viewers: HashMap::new(),
            viewers_published: 0,
            sale: SaleView::default(),
            stream_live: false,
        };
        match self.rooms.entry(room.id) {
            dashmap::Entry::Occupied(_) => Err(RoomError::AlreadyExists),
            dashmap::Entry::Vacant(slot) => {
                slot.insert(Arc::new(Mutex::new(Slot::Live(Box::new(live)))));
                Ok(info)
            }
        }
    }

    async fn info(&self, room_id: &str) -> Result<RoomInfo, RoomError> {
        let slot = self.slot(room_id)?;
        let info = match &*slot.lock() {
            Slot::Live(room) => room.info(),
            Slot::Ended(info) => info.clone(),
        };
        Ok(info)
    }

    async fn list(&self) -> Result<Vec<RoomInfo>, RoomError> {
        let slots: Vec<Arc<Mutex<Slot>>> = self.rooms.iter().map(|s| Arc::clone(&s)).collect();
        let mut infos: Vec<RoomInfo> = slots
            .iter()
            .map(|slot| match &*slot.lock() {
                Slot::Live(room) => room.info(),
                Slot::Ended(info) => info.clone(),
            })
            .collect();
        newest_first(&mut infos);
        Ok(infos)
    }

    async fn join(
        &self,
        room_id: &str,
        actor: &Actor,
        last_seq: Option<u64>,
    ) -> Result<Joined, RoomError> {
        self.with_live(room_id, |room, _| {
            if room.state.is_banned(&actor.user_id, actor.role) {
                return Err(RoomError::Banned);
            }
            room.state.admit(actor);
            let replay = last_seq.and_then(|last| {
                room.history
                    .since(last, room.seq)
                    .map(|frames| (last, frames))
            });
            Ok(match replay {
                Some((last, frames)) => Joined::Resumed {
                    from_seq: last + 1,
                    to_seq: room.seq,
                    frames,
                },
                None => Joined::Snapshot(Box::new(room.view())),
            })
        })
    }

    async fn apply(
        &self,
        room_id: &str,
        actor: &Actor,
        command: &RoomCommand,
        now: Now,
    ) -> Result<(), RoomError> {
        self.with_live(room_id, |room, publisher| {
            let mut events = room.state.apply(actor, command, now)?;
            for event in &mut events {
                // The room's state does not follow the viewer count (this
                // store does): `room_updated` tells the count clients know.
                if let RoomEvent::RoomUpdated { room: info } = event {
                    info.viewer_count = room.viewers_published;
                }
            }
            publisher.publish(room, events, actor.role.rank());
            Ok(())
        })
    }

    async fn observe(&self, room_id: &str, fact: RoomFact) -> Result<(), RoomError> {
        self.with_live(room_id, |room, publisher| {
            let events = match fact {
                RoomFact::SaleChanged {
                    sale,
                    product_stock,
                } => {
                    if let Some(stock) = product_stock {
                        // Silently: the `sale_updated` carries the count.
                        let _told_with_the_sale =
                            room.state.set_product_stock(&sale.product_id, stock);
                    }
                    vec![room.sale.replace(sale, product_stock)]
                }
                RoomFact::SaleRead(sale) => room.sale.refresh(sale).into_iter().collect(),
                RoomFact::OrderPlaced {
                    sale_id,
                    buyer_name,
                    quantity,
                } => vec![RoomEvent::SalePurchase {
                    sale_id,
                    buyer_name,
                    quantity,
                }],
                RoomFact::ProductStock { product_id, stock } => room
                    .state
                    .set_product_stock(&product_id, stock)
                    .into_iter()
                    .collect(),
                RoomFact::VoucherDropped(voucher) => vec![RoomEvent::VoucherDropped { voucher }],
                RoomFact::OrderStatus { status_tag, status } => {
                    vec![RoomEvent::OrderStatus { status_tag, status }]
                }
                RoomFact::StreamLive(live) if live != room.stream_live => {
                    room.stream_live = live;
                    vec![RoomEvent::StreamState { live }]
                }
                RoomFact::StreamLive(_) => vec![],
            };
            publisher.publish(room, events, 0);
            Ok(())
        })
    }

    async fn close(&self, room_id: &str, reason: &str) -> Result<RoomInfo, RoomError> {
        match self.with_live(room_id, |room, publisher| {
            let events = room.state.end(reason);
            publisher.publish(room, events, 0);
            Ok(room.info())
        }) {
            Err(RoomError::Ended) => self.info(room_id).await,
            other => other,
        }
    }

    async fn product(&self, room_id: &str, product_id: &str) -> Result<Product, RoomError> {
        self.with_live(room_id, |room, _| {
            room.state
                .product(product_id)
                .cloned()
                .ok_or(RoomError::ProductNotFound)
        })
    }

    async fn current_sale(&self, room_id: &str) -> Result<Option<SaleInfo>, RoomError> {
        match self.with_live(room_id, |room, _| Ok(room.sale.current().cloned())) {
            Err(RoomError::Ended) => Ok(None),
            other => other,
        }
    }

    async fn is_banned(&self, room_id: &str, user_id: &str, role: Role) -> Result<bool, RoomError> {
        match self.with_live(room_id, |room, _| Ok(room.state.is_banned(user_id, role))) {
            Err(RoomError::Ended) => Ok(false),
            other => other,
        }
    }

    async fn add_hearts(
        &self,
        room_id: &str,
        count: u64,
        now: UnixMillis,
        every_ms: u64,
    ) -> Result<bool, RoomError> {
        self.with_live(room_id, |room, publisher| {
            room.hearts_pending += count;
            if room.hearts_pending > 0 && announcement_due(room.hearts_announced_at, now, every_ms)
            {
                let count = std::mem::take(&mut room.hearts_pending);
                room.hearts_total += count;
                room.hearts_announced_at = now;
                let total = room.hearts_total;
                publisher.publish(room, vec![RoomEvent::Hearts { count, total }], 0);
            }
            Ok(room.hearts_pending > 0)
        })
    }

    async fn report_viewers(
        &self,
        room_id: &str,
        node: &str,
        viewers: u64,
        now: UnixMillis,
        ttl_ms: u64,
    ) -> Result<(), RoomError> {
        self.with_live(room_id, |room, publisher| {
            room.viewers
                .insert(node.to_owned(), (viewers, now.saturating_add(ttl_ms)));
            room.viewers.retain(|_, (_, until)| *until > now);
            let count = room.viewers.values().map(|(n, _)| n).sum();
            if count != room.viewers_published {
                room.viewers_published = count;
                publisher.publish(room, vec![RoomEvent::ViewerCount { count }], 0);
            }
            Ok(())
        })
    }

    async fn health(&self) -> Result<(), RoomError> {
        Ok(())
    }
}

/// Is an announcement made at `last` old enough at `now` for another? A
/// tenth of the interval is forgiven, so a ticker that fires a little early
/// does not skip a whole interval.
pub(crate) fn announcement_due(last: UnixMillis, now: UnixMillis, every_ms: u64) -> bool {
    now.saturating_sub(last) >= every_ms - every_ms / 10
}
