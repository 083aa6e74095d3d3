//! What the trainee did: the room's events, read through the first bot's
//! membership each lesson second, and how the audience takes them. Bots
//! react only to the hosts' acts (a reply, a pin, a sale, a catalog
//! change), never to other bots or to timing, so a seeded lesson replays.

use crate::auth::Action;
use crate::protocol::{RoomEvent, SaleState, SequencedEvent};

use super::super::bot::LiveSale;
use super::Driver;

impl Driver {
    /// Read the room's events that arrived since the last second.
    pub(super) fn read_room(&mut self) {
        let mut events = Vec::new();
        if let Some(anchor) = self.present.first_mut() {
            while let Some(next) = anchor.membership.events.try_recv() {
                match next {
                    Ok(frame) => events.push(frame),
                    Err(error) => {
                        tracing::debug!(room = %self.room_id, %error, "audience fell behind its room");
                        break;
                    }
                }
            }
        }
        for frame in events {
            if frame.seq <= self.stage.seq {
                continue;
            }
            self.stage.seq = frame.seq;
            if let Ok(event) = serde_json::from_str::<SequencedEvent>(frame.json.as_str()) {
                self.react(event.event);
            }
        }
    }

    pub(super) fn react(&mut self, event: RoomEvent) {
        match event {
            RoomEvent::Chat { message } if message.role.may(Action::HostLive) => {
                self.stage.seller_spoke = self.now;
                if let Some(quote) = message.reply_to {
                    if let Some(present) = self
                        .present
                        .iter_mut()
                        .find(|p| p.bot.user_id == quote.user_id)
                    {
                        present.bot.on_answer(self.now);
                    }
                    // Others see questions answered: a little more patience.
                    for present in &mut self.present {
                        present.bot.raise(0.02);
                    }
                }
            }
            RoomEvent::ProductPinned { product } => {
                self.stage.pinned = Some((product.id, product.name));
                self.raise_all(0.1);
            }
            RoomEvent::ProductUnpinned => self.stage.pinned = None,
            RoomEvent::ProductUpserted { product } => {
                let entry = (product.id.clone(), product.name, product.price_vnd);
                match self.stage.products.iter_mut().find(|p| p.0 == product.id) {
                    Some(known) => *known = entry,
                    None => self.stage.products.push(entry),
                }
            }
            RoomEvent::ProductRemoved { product_id } => {
                self.stage.products.retain(|p| p.0 != product_id);
            }
            RoomEvent::SaleUpdated { sale, .. } => {
                let was_live = self.stage.sale.is_some();
                self.sale_changed(&sale);
                if !was_live && self.stage.sale.is_some() {
                    self.raise_all(0.15);
                }
            }
            RoomEvent::RoomClosed { .. } => self.stage.closed = true,
            _ => {}
        }
    }

    pub(super) fn sale_changed(&mut self, sale: &crate::protocol::SaleInfo) {
        if sale.state != SaleState::Live {
            self.stage.sale = None;
            return;
        }
        let list_price = self
            .stage
            .products
            .iter()
            .find(|p| p.0 == sale.product_id)
            .map_or(sale.price_vnd, |p| p.2);
        let discount = if list_price == 0 {
            0.0
        } else {
            (1.0 - sale.price_vnd as f64 / list_price as f64).clamp(0.0, 1.0)
        };
        let live = LiveSale {
            id: sale.id.clone(),
            product_name: sale.product_name.clone(),
            discount,
        };
        self.stage.sale = Some((live, sale.per_buyer_limit.max(1)));
    }

    pub(super) fn raise_all(&mut self, by: f64) {
        for present in &mut self.present {
            present.bot.raise(by);
        }
    }
}
