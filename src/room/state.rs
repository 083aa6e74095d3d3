//! The data of one room and the rules that change it.
//!
//! [`RoomState::apply`] takes an actor and a request and either returns the
//! events the request produced or a [`RoomError`]; it never does I/O, so the
//! rules are tested as plain functions. Concurrency, sequence numbers and
//! delivery live in [`super::Room`].

use std::collections::VecDeque;

use tokio::time::Instant;

use crate::auth::{Action, Role};
use crate::protocol::{
    ChatMessage, ChatSettings, ClientMessage, NewProduct, Product, ProductChanges, RoomEvent,
    RoomInfo, RoomStatus, UnixMillis,
};

use super::moderation::Moderation;
use super::{product, text, RoomError};

/// The identity behind a request, taken from its verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub name: String,
    pub role: Role,
}

/// Limits the rules enforce; set from the configuration.
#[derive(Debug, Clone)]
pub struct RoomLimits {
    /// How many chat messages a snapshot carries.
    pub chat_history: usize,
    /// Longest chat message, in Unicode scalar values (`text::length`; not
    /// bytes: Vietnamese text is mostly multi-byte).
    pub max_chat_chars: usize,
    pub max_products: usize,
    pub max_banned_words: usize,
    pub max_mute_minutes: u32,
    pub max_slow_mode_seconds: u32,
}

impl Default for RoomLimits {
    fn default() -> Self {
        RoomLimits {
            chat_history: 50,
            max_chat_chars: 500,
            max_products: 200,
            max_banned_words: 500,
            max_mute_minutes: 24 * 60,
            max_slow_mode_seconds: 3600,
        }
    }
}

/// Everything a room knows, apart from who is connected.
#[derive(Debug)]
pub struct RoomState {
    pub info: RoomInfo,
    /// In catalog order; rooms hold tens of products, so a Vec beats a map.
    pub products: Vec<Product>,
    /// The most recent messages, oldest first, at most `limits.chat_history`.
    pub chat: VecDeque<ChatMessage>,
    moderation: Moderation,
    next_message_id: u64,
    next_product_id: u64,
    pub limits: RoomLimits,
}

/// The clock a request is judged by: wall time for what clients see,
/// monotonic time for intervals.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub wall: UnixMillis,
    pub mono: Instant,
}

impl Now {
    pub fn current() -> Now {
        Now {
            wall: crate::clock::unix_millis(),
            mono: Instant::now(),
        }
    }
}

impl RoomState {
    pub fn new(info: RoomInfo, products: Vec<Product>, limits: RoomLimits) -> RoomState {
        let next_product_id = products.len() as u64 + 1;
        RoomState {
            info,
            products,
            chat: VecDeque::new(),
            moderation: Moderation::default(),
            next_message_id: 1,
            next_product_id,
            limits,
        }
    }

    pub fn is_banned(&self, user_id: &str) -> bool {
        self.moderation.is_banned(user_id)
    }

    /// The chat settings everyone may see.
    pub fn chat_settings(&self) -> &ChatSettings {
        &self.moderation.settings
    }

    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    pub fn pinned_product(&self) -> Option<&Product> {
        self.info
            .pinned_product_id
            .as_deref()
            .and_then(|id| self.product(id))
    }

    /// Apply one request. Every check comes before any change, so a failed
    /// request leaves the state exactly as it was.
    pub fn apply(
        &mut self,
        actor: &Actor,
        message: &ClientMessage,
        now: Now,
    ) -> Result<Vec<RoomEvent>, RoomError> {
        if self.info.status == RoomStatus::Ended {
            return Err(RoomError::Ended);
        }
        use ClientMessage as M;
        match message {
            M::Chat { text } => self.chat(actor, text, now).map(|e| vec![e]),
            M::GoLive => {
                require(actor, Action::HostLive)?;
                if self.info.status != RoomStatus::Scheduled {
                    return Err(RoomError::InvalidState("the room is already live".into()));
                }
                self.info.status = RoomStatus::Live;
                Ok(vec![RoomEvent::RoomStatus {
                    status: RoomStatus::Live,
                }])
            }
            M::EndLive => {
                require(actor, Action::HostLive)?;
                Ok(self.end("the seller ended the live session"))
            }
            M::AddProduct { product } => {
                require(actor, Action::ManageProducts)?;
                self.add_product(product)
                    .map(|p| vec![RoomEvent::ProductUpserted { product: p }])
            }
            M::UpdateProduct {
                product_id,
                changes,
            } => {
                require(actor, Action::ManageProducts)?;
                self.update_product(product_id, changes)
            }
            M::RemoveProduct { product_id } => {
                require(actor, Action::ManageProducts)?;
                let index = self.product_index(product_id)?;
                self.products.remove(index);
                let mut events = Vec::with_capacity(2);
                if self.info.pinned_product_id.as_deref() == Some(product_id) {
                    self.info.pinned_product_id = None;
                    events.push(RoomEvent::ProductUnpinned);
                }
                events.push(RoomEvent::ProductRemoved {
                    product_id: product_id.clone(),
                });
                Ok(events)
            }
            M::PinProduct { product_id } => {
                require(actor, Action::PinProduct)?;
                let product = self.products[self.product_index(product_id)?].clone();
                self.info.pinned_product_id = Some(product.id.clone());
                Ok(vec![RoomEvent::ProductPinned { product }])
            }
            M::UnpinProduct => {
                require(actor, Action::PinProduct)?;
                if self.info.pinned_product_id.take().is_none() {
                    return Ok(vec![]);
                }
                Ok(vec![RoomEvent::ProductUnpinned])
            }
            M::DeleteMessage { message_id } => {
                require(actor, Action::Moderate)?;
                let index = self
                    .chat
                    .iter()
                    .position(|m| m.id == *message_id)
                    .ok_or(RoomError::MessageNotFound)?;
                self.chat.remove(index);
                Ok(vec![RoomEvent::MessageDeleted {
                    message_id: *message_id,
                }])
            }
            M::MuteUser { user_id, minutes } => {
                require(actor, Action::Moderate)?;
                let until = self.moderation.mute(user_id, *minutes, now, &self.limits)?;
                Ok(vec![RoomEvent::UserMuted {
                    user_id: user_id.clone(),
                    until,
                }])
            }
            M::UnmuteUser { user_id } => {
                require(actor, Action::Moderate)?;
                self.moderation.unmute(user_id);
                Ok(vec![RoomEvent::UserUnmuted {
                    user_id: user_id.clone(),
                }])
            }
            M::BanUser { user_id } => {
                require(actor, Action::Moderate)?;
                self.moderation.ban(actor, user_id)?;
                Ok(vec![RoomEvent::UserBanned {
                    user_id: user_id.clone(),
                }])
            }
            M::SetSlowMode { seconds } => {
                require(actor, Action::Moderate)?;
                self.moderation.set_slow_mode(*seconds, &self.limits)?;
                Ok(vec![RoomEvent::SettingsChanged {
                    settings: self.moderation.settings.clone(),
                }])
            }
            M::SetBannedWords { words } => {
                require(actor, Action::Moderate)?;
                self.moderation.set_banned_words(words, &self.limits)?;
                // The list itself stays private to the moderators who set it.
                Ok(vec![])
            }
            // Answered by the connection (ping, hearts), the sale service or
            // the media service (which publish through `Room`'s own
            // methods), never here.
            M::Ping
            | M::Heart { .. }
            | M::StartSale { .. }
            | M::EndSale { .. }
            | M::Buy { .. }
            | M::ConfirmHold { .. }
            | M::CancelHold { .. }
            | M::PublishOffer { .. }
            | M::Unpublish
            | M::Subscribe
            | M::SubscribeAnswer { .. }
            | M::IceCandidate { .. } => Ok(vec![]),
        }
    }

    /// End the room. Idempotent: ending an ended room produces no events.
    pub fn end(&mut self, reason: &str) -> Vec<RoomEvent> {
        if self.info.status == RoomStatus::Ended {
            return vec![];
        }
        self.info.status = RoomStatus::Ended;
        vec![
            RoomEvent::RoomStatus {
                status: RoomStatus::Ended,
            },
            RoomEvent::RoomClosed {
                reason: reason.to_owned(),
            },
        ]
    }

    fn chat(&mut self, actor: &Actor, text: &str, now: Now) -> Result<RoomEvent, RoomError> {
        let text = text.trim();
        if text::is_blank(text) {
            return Err(RoomError::InvalidValue("the message is empty".into()));
        }
        if text::length(text) > self.limits.max_chat_chars {
            return Err(RoomError::InvalidValue(format!(
                "a message is at most {} characters",
                self.limits.max_chat_chars
            )));
        }
        self.moderation.admit_message(actor, text, now)?;
        let message = ChatMessage {
            id: self.next_message_id,
            user_id: actor.user_id.clone(),
            name: actor.name.clone(),
            role: actor.role,
            text: text.to_owned(),
            sent_at: now.wall,
        };
        self.next_message_id += 1;
        if self.chat.len() == self.limits.chat_history {
            self.chat.pop_front();
        }
        self.chat.push_back(message.clone());
        Ok(RoomEvent::Chat { message })
    }

    fn add_product(&mut self, new: &NewProduct) -> Result<Product, RoomError> {
        if self.products.len() >= self.limits.max_products {
            return Err(RoomError::InvalidValue(format!(
                "a room has at most {} products",
                self.limits.max_products
            )));
        }
        product::check(new.into())?;
        let product = Product {
            id: format!("p{}", self.next_product_id),
            name: new.name.trim().to_owned(),
            description: new.description.trim().to_owned(),
            price_vnd: new.price_vnd,
            stock: new.stock,
            image_url: new.image_url.clone(),
        };
        self.next_product_id += 1;
        self.products.push(product.clone());
        Ok(product)
    }

    fn update_product(
        &mut self,
        product_id: &str,
        changes: &ProductChanges,
    ) -> Result<Vec<RoomEvent>, RoomError> {
        let index = self.product_index(product_id)?;
        product::check(changes.into())?;
        let product = &mut self.products[index];
        if let Some(name) = &changes.name {
            product.name = name.trim().to_owned();
        }
        if let Some(description) = &changes.description {
            product.description = description.trim().to_owned();
        }
        if let Some(price) = changes.price_vnd {
            product.price_vnd = price;
        }
        if let Some(stock) = changes.stock {
            product.stock = stock;
        }
        if let Some(url) = &changes.image_url {
            product.image_url = (!url.is_empty()).then(|| url.clone());
        }
        let product = product.clone();
        let mut events = vec![RoomEvent::ProductUpserted {
            product: product.clone(),
        }];
        if self.info.pinned_product_id.as_deref() == Some(product_id) {
            events.push(RoomEvent::ProductPinned { product });
        }
        Ok(events)
    }

    fn product_index(&self, id: &str) -> Result<usize, RoomError> {
        self.products
            .iter()
            .position(|p| p.id == id)
            .ok_or(RoomError::ProductNotFound)
    }
}

fn require(actor: &Actor, action: Action) -> Result<(), RoomError> {
    if actor.role.may(action) {
        Ok(())
    } else {
        Err(RoomError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> RoomState {
        let info = RoomInfo {
            id: "r".into(),
            title: "t".into(),
            seller_name: "s".into(),
            status: RoomStatus::Live,
            viewer_count: 0,
            pinned_product_id: None,
            created_at: 0,
        };
        let product = Product {
            id: "p1".into(),
            name: "Trà".into(),
            description: String::new(),
            price_vnd: 100_000,
            stock: 5,
            image_url: None,
        };
        RoomState::new(
            info,
            vec![product],
            RoomLimits {
                chat_history: 3,
                ..Default::default()
            },
        )
    }

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: format!("{role:?}"),
            name: "n".into(),
            role,
        }
    }

    fn chat(text: &str) -> ClientMessage {
        ClientMessage::Chat { text: text.into() }
    }

    #[test]
    fn chat_history_keeps_only_the_newest_messages() {
        let mut s = state();
        let now = Now::current();
        for i in 0..5 {
            s.apply(&actor(Role::Viewer), &chat(&format!("m{i}")), now)
                .unwrap();
        }
        let texts: Vec<_> = s.chat.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["m2", "m3", "m4"]);
    }

    #[test]
    fn viewers_cannot_pin_products() {
        let mut s = state();
        let pin = ClientMessage::PinProduct {
            product_id: "p1".into(),
        };
        let err = s
            .apply(&actor(Role::Viewer), &pin, Now::current())
            .unwrap_err();
        assert_eq!(err, RoomError::Forbidden);
        assert!(s.info.pinned_product_id.is_none());
    }

    #[test]
    fn pinning_an_unknown_product_fails() {
        let mut s = state();
        let pin = ClientMessage::PinProduct {
            product_id: "nope".into(),
        };
        assert_eq!(
            s.apply(&actor(Role::Seller), &pin, Now::current())
                .unwrap_err(),
            RoomError::ProductNotFound
        );
    }

    #[test]
    fn a_deleted_message_leaves_the_history() {
        let mut s = state();
        s.apply(&actor(Role::Viewer), &chat("xin chào"), Now::current())
            .unwrap();
        let id = s.chat[0].id;
        let del = ClientMessage::DeleteMessage { message_id: id };
        s.apply(&actor(Role::Moderator), &del, Now::current())
            .unwrap();
        assert!(s.chat.is_empty());
        assert_eq!(
            s.apply(&actor(Role::Moderator), &del, Now::current())
                .unwrap_err(),
            RoomError::MessageNotFound
        );
    }

    #[test]
    fn removing_the_pinned_product_unpins_it() {
        let mut s = state();
        let seller = actor(Role::Seller);
        s.apply(
            &seller,
            &ClientMessage::PinProduct {
                product_id: "p1".into(),
            },
            Now::current(),
        )
        .unwrap();
        let events = s
            .apply(
                &seller,
                &ClientMessage::RemoveProduct {
                    product_id: "p1".into(),
                },
                Now::current(),
            )
            .unwrap();
        assert_eq!(events[0], RoomEvent::ProductUnpinned);
        assert!(s.pinned_product().is_none());
    }

    #[test]
    fn products_get_fresh_ids_and_reject_a_zero_price() {
        let mut s = state();
        let seller = actor(Role::Seller);
        let mut new = NewProduct {
            name: "Bún Định Hóa".into(),
            description: String::new(),
            price_vnd: 45_000,
            stock: 10,
            image_url: None,
        };
        let events = s.apply(
            &seller,
            &ClientMessage::AddProduct {
                product: new.clone(),
            },
            Now::current(),
        );
        assert!(
            matches!(&events.unwrap()[0], RoomEvent::ProductUpserted { product } if product.id == "p2")
        );
        new.price_vnd = 0;
        let err = s.apply(
            &seller,
            &ClientMessage::AddProduct { product: new },
            Now::current(),
        );
        assert!(matches!(err.unwrap_err(), RoomError::InvalidValue(_)));
    }

    #[test]
    fn an_ended_room_refuses_everything() {
        let mut s = state();
        assert_eq!(s.end("bye").len(), 2);
        assert!(s.end("again").is_empty());
        assert_eq!(
            s.apply(&actor(Role::Viewer), &chat("hi"), Now::current())
                .unwrap_err(),
            RoomError::Ended
        );
    }
}
