//! One pass over a session's journal: the facts every metric is counted
//! from (visits, pins, chat, taps, orders…), with the rules of
//! `docs/metrics.md` applied once — what a view, a viewer, a click is.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::auth::Role;
use crate::clock::UnixMillis;
use crate::journal::{JournalEntry, Record};
use crate::money::Vnd;
use crate::protocol::{ChatMessage, RoomEvent, RoomStatus};
use crate::sale::{SaleInfo, SaleState};

use super::SessionEvent;

/// A viewer's connection to the room, from join to leave.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub user_id: String,
    pub from: UnixMillis,
    /// The leave, or the session's end (or now) for a visit still open or
    /// whose node stopped without recording its leave.
    pub to: UnixMillis,
}

/// A product on every viewer's screen from `from` to `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    pub product_id: String,
    pub from: UnixMillis,
    pub to: UnixMillis,
}

/// A viewer showing interest in a product: a card tap, a bag add or a
/// flash-sale buy (whatever its answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Tap {
    pub at: UnixMillis,
    pub user_id: String,
    pub product_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacedOrder {
    pub at: UnixMillis,
    pub order_id: String,
    pub buyer_id: String,
    /// (product id, units, unit price).
    pub lines: Vec<(String, u32, Vnd)>,
    pub total_vnd: Vnd,
    pub with_voucher: bool,
}

/// Everything a report counts, read from one session's journal.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub room_id: String,
    pub title: String,
    pub seller_name: String,
    /// A practice room's session ("Phòng luyện tập"): its pages say so.
    pub practice: bool,
    pub opened_at: UnixMillis,
    /// The first `room_status: live`.
    pub started_at: Option<UnixMillis>,
    /// `room_status: ended` (or `room_closed`).
    pub ended_at: Option<UnixMillis>,
    /// Where open intervals stop: the end, or now.
    pub until: UnixMillis,
    pub visits: Vec<Visit>,
    /// Every chat message posted, staff's included, in order.
    pub chat: Vec<ChatMessage>,
    /// (when, taps) of each `hearts` event.
    pub hearts: Vec<(UnixMillis, u64)>,
    pub pins: Vec<Pin>,
    pub taps: Vec<Tap>,
    pub orders: Vec<PlacedOrder>,
    pub vouchers_dropped: u64,
    pub vouchers_claimed: u64,
    /// Product names by id, as last announced.
    pub products: BTreeMap<String, String>,
    /// What the report's curves are overlaid with.
    pub events: Vec<SessionEvent>,
}

impl Session {
    /// Read `entries` (any order; sorted here by time, stable) as of `now`.
    pub fn read(entries: &[JournalEntry], now: UnixMillis) -> Session {
        let mut entries: Vec<&JournalEntry> = entries.iter().collect();
        entries.sort_by_key(|e| e.at);
        let mut reader = Reader::default();
        for entry in &entries {
            reader.read(entry);
        }
        reader.finish(entries.first().map_or(now, |e| e.at), now)
    }

    /// The live part's length in seconds (0 before it started).
    pub fn live_secs(&self) -> f64 {
        match self.started_at {
            Some(start) => self.until.saturating_sub(start) as f64 / 1000.0,
            None => 0.0,
        }
    }

    /// Who joined as a viewer.
    pub fn viewer_ids(&self) -> HashSet<&str> {
        self.visits.iter().map(|v| v.user_id.as_str()).collect()
    }
}

#[derive(Default)]
struct Reader {
    session: Session,
    /// Open viewer visits by visit id: (user, joined at).
    open: HashMap<String, (String, UnixMillis)>,
    /// The pinned product and since when.
    pinned: Option<(String, UnixMillis)>,
    /// Each flash sale's product, from its `sale_updated` events.
    sale_products: HashMap<String, String>,
    /// Each flash sale's last state, to mark its start and end once.
    sale_states: HashMap<String, SaleState>,
    seen_orders: HashSet<String>,
}

impl Reader {
    fn read(&mut self, entry: &JournalEntry) {
        let at = entry.at;
        let s = &mut self.session;
        match &entry.record {
            Record::SessionOpened {
                room_id,
                title,
                seller_name,
                products,
                practice,
            } => {
                s.practice = *practice;
                s.room_id = room_id.clone();
                s.title = title.clone();
                s.seller_name = seller_name.clone();
                s.opened_at = at;
                for p in products {
                    s.products.insert(p.id.clone(), p.name.clone());
                }
            }
            Record::Event { event } => self.event(at, &event.event),
            Record::Joined {
                visit,
                user_id,
                role: Role::Viewer,
                ..
            } => {
                self.open.insert(visit.clone(), (user_id.clone(), at));
            }
            Record::Left { visit, .. } => {
                if let Some((user_id, from)) = self.open.remove(visit) {
                    s.visits.push(Visit {
                        user_id,
                        from,
                        to: at.max(from),
                    });
                }
            }
            Record::ProductViewed {
                user_id,
                product_id,
            }
            | Record::BagAnswered {
                user_id,
                product_id,
                ..
            } => s.taps.push(Tap {
                at,
                user_id: user_id.clone(),
                product_id: product_id.clone(),
            }),
            Record::BuyAnswered {
                user_id, sale_id, ..
            } => {
                if let Some(product_id) = self.sale_products.get(sale_id) {
                    s.taps.push(Tap {
                        at,
                        user_id: user_id.clone(),
                        product_id: product_id.clone(),
                    });
                }
            }
            Record::OrderPlaced {
                order_id,
                buyer_id,
                sale_id,
                lines,
                total_vnd,
                voucher_code,
                ..
            } => {
                if !self.seen_orders.insert(order_id.clone()) {
                    return;
                }
                let lines = lines
                    .iter()
                    .map(|line| {
                        let product_id = match line.product_id.as_str() {
                            "" => self.sale_products.get(sale_id).cloned().unwrap_or_default(),
                            id => id.to_owned(),
                        };
                        (product_id, line.quantity, line.unit_price_vnd)
                    })
                    .collect();
                s.orders.push(PlacedOrder {
                    at,
                    order_id: order_id.clone(),
                    buyer_id: buyer_id.clone(),
                    lines,
                    total_vnd: *total_vnd,
                    with_voucher: voucher_code.is_some(),
                });
            }
            Record::VoucherClaimed { .. } => s.vouchers_claimed += 1,
            Record::Moderated { action, target, .. } => s.events.push(SessionEvent {
                at,
                kind: "moderation",
                label: format!("{action} {target}"),
            }),
            Record::ScenarioFired { title, .. } => s.events.push(SessionEvent {
                at,
                kind: "scenario",
                label: title.clone(),
            }),
            Record::Joined { .. }
            | Record::OrderRefused { .. }
            | Record::Coached { .. }
            | Record::ComplianceFlagged { .. }
            | Record::TrainerMarked { .. }
            | Record::Annotated { .. } => {}
        }
    }

    fn event(&mut self, at: UnixMillis, event: &RoomEvent) {
        let s = &mut self.session;
        let mark = |s: &mut Session, kind: &'static str, label: String| {
            s.events.push(SessionEvent { at, kind, label })
        };
        match event {
            RoomEvent::Chat { message } => s.chat.push(message.clone()),
            RoomEvent::Hearts { count, .. } => s.hearts.push((at, *count)),
            RoomEvent::RoomStatus {
                status: RoomStatus::Live,
            } if s.started_at.is_none() => {
                s.started_at = Some(at);
                mark(s, "live", String::new());
            }
            RoomEvent::RoomStatus {
                status: RoomStatus::Ended,
            }
            | RoomEvent::RoomClosed { .. }
                if s.ended_at.is_none() =>
            {
                s.ended_at = Some(at);
                mark(s, "ended", String::new());
            }
            RoomEvent::StreamState { live } => {
                let kind = if *live { "stream_on" } else { "stream_off" };
                mark(s, kind, String::new());
            }
            RoomEvent::ProductUpserted { product } => {
                s.products.insert(product.id.clone(), product.name.clone());
            }
            // The seller renamed her live (`PATCH /api/rooms/{id}`): the report
            // and the replay head it as viewers last saw it.
            RoomEvent::RoomUpdated { room } => s.title = room.title.clone(),
            RoomEvent::ProductPinned { product } => {
                s.products.insert(product.id.clone(), product.name.clone());
                self.unpin(at);
                self.pinned = Some((product.id.clone(), at));
                mark(&mut self.session, "pin", product.name.clone());
            }
            RoomEvent::ProductUnpinned => {
                self.unpin(at);
                mark(&mut self.session, "unpin", String::new());
            }
            RoomEvent::ProductRemoved { product_id }
                if self.pinned.as_ref().is_some_and(|(id, _)| id == product_id) =>
            {
                self.unpin(at);
            }
            RoomEvent::SaleUpdated { sale, .. } => self.sale(at, sale),
            RoomEvent::VoucherDropped { voucher } => {
                s.vouchers_dropped += 1;
                mark(s, "voucher", voucher.code.clone());
            }
            _ => {}
        }
    }

    fn sale(&mut self, at: UnixMillis, sale: &SaleInfo) {
        self.sale_products
            .insert(sale.id.clone(), sale.product_id.clone());
        let before = self.sale_states.insert(sale.id.clone(), sale.state);
        let label = sale.product_name.clone();
        let kind = match (before, sale.state) {
            (Some(SaleState::Ended), _) => return,
            (_, SaleState::Ended) => "sale_ended",
            (None | Some(SaleState::Scheduled), SaleState::Live | SaleState::SoldOut) => {
                "sale_started"
            }
            _ => return,
        };
        self.session.events.push(SessionEvent { at, kind, label });
    }

    fn unpin(&mut self, at: UnixMillis) {
        if let Some((product_id, from)) = self.pinned.take() {
            self.session.pins.push(Pin {
                product_id,
                from,
                to: at,
            });
        }
    }

    fn finish(mut self, first_at: UnixMillis, now: UnixMillis) -> Session {
        let until = self.session.ended_at.unwrap_or(now.max(first_at));
        self.session.until = until;
        if self.session.opened_at == 0 {
            self.session.opened_at = first_at;
        }
        self.unpin(until);
        for (_, (user_id, from)) in self.open.drain() {
            self.session.visits.push(Visit {
                user_id,
                from,
                to: until.max(from),
            });
        }
        self.session
            .visits
            .sort_by(|a, b| (a.from, &a.user_id).cmp(&(b.from, &b.user_id)));
        self.session
    }
}
