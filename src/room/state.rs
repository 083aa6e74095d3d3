//! The data of one room and the rules that change it.
//!
//! [`RoomState::apply`] takes an actor and a [`RoomCommand`] and either
//! returns the events the command produced or a [`RoomError`]; it never does
//! I/O, so the rules are tested as plain functions. The actor's role was
//! authorised by the service layer; the rules here are those that need the
//! room's data (what exists, who outranks whom, what the status allows).
//! Concurrency, sequence numbers and delivery live in [`super::Room`].

use std::collections::{HashMap, VecDeque};

use crate::auth::Role;
use crate::clock::Now;
use crate::protocol::{
    BannedUser, ChatMessage, ChatQuote, ChatSettings, NewProduct, PinnedNote, Product,
    ProductChanges, RoomEvent, RoomInfo, RoomStatus,
};

use super::actor::Actor;
use super::command::RoomCommand;
use super::limits::RoomLimits;
use super::moderation::{may_act_on, Moderation};
use super::schedule::CheckedChanges;
use super::{note, product, text, RoomError};

/// Everything a room knows, apart from who is connected.
#[derive(Debug)]
pub struct RoomState {
    pub info: RoomInfo,
    /// In catalog order; rooms hold tens of products, so a Vec beats a map.
    pub products: Vec<Product>,
    /// The most recent messages, oldest first, at most `limits.chat_history`.
    pub chat: VecDeque<ChatMessage>,
    /// The announcement pinned above the chat (`note.rs`), if any.
    pub note: Option<PinnedNote>,
    moderation: Moderation,
    /// The highest role each identity above a viewer has joined with, so
    /// moderation can rank its target (anyone else ranks as a viewer; not
    /// keeping viewers here keeps a 10,000-viewer room small).
    ranks: HashMap<String, Role>,
    next_message_id: u64,
    next_product_id: u64,
    pub limits: RoomLimits,
}

impl RoomState {
    pub fn new(info: RoomInfo, products: Vec<Product>, limits: RoomLimits) -> RoomState {
        let next_product_id = products.len() as u64 + 1;
        RoomState {
            info,
            products,
            chat: VecDeque::new(),
            note: None,
            moderation: Moderation::default(),
            ranks: HashMap::new(),
            next_message_id: 1,
            next_product_id,
            limits,
        }
    }

    /// Is `user_id` banned, for someone holding `role`? (A ban never holds
    /// against a rank as high as its author's.)
    pub fn is_banned(&self, user_id: &str, role: Role) -> bool {
        self.moderation.is_banned(user_id, role)
    }

    /// Remember the rank of someone who joined above a viewer.
    pub fn admit(&mut self, actor: &Actor) {
        if actor.role == Role::Viewer {
            return;
        }
        let role = self
            .ranks
            .entry(actor.user_id.clone())
            .or_insert(actor.role);
        if actor.role.rank() > role.rank() {
            *role = actor.role;
        }
    }

    /// Everyone banned from the room, by id, with the name they were banned under.
    pub fn banned(&self) -> Vec<BannedUser> {
        let mut banned = self.moderation.banned();
        banned.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        banned
    }

    /// The role the room has seen `user_id` hold; a viewer if never seen.
    fn role_of(&self, user_id: &str) -> Role {
        self.ranks.get(user_id).copied().unwrap_or(Role::Viewer)
    }

    /// The name `user_id` last chatted under, if the chat history still
    /// holds one of their messages.
    fn name_of(&self, user_id: &str) -> Option<String> {
        self.chat
            .iter()
            .rev()
            .find(|m| m.user_id == user_id)
            .map(|m| m.name.clone())
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

    /// The sale store's count of a product (see `RoomFact::ProductStock`):
    /// the catalog copy follows it; `product_stock` when it changed, nothing
    /// when it did not or the product is gone.
    pub fn set_product_stock(&mut self, product_id: &str, stock: u32) -> Option<RoomEvent> {
        let product = self.products.iter_mut().find(|p| p.id == product_id)?;
        if product.stock == stock {
            return None;
        }
        product.stock = stock;
        Some(RoomEvent::ProductStock {
            product_id: product_id.to_owned(),
            stock,
        })
    }

    /// Apply one command. Every check comes before any change, so a failed
    /// command leaves the state exactly as it was.
    pub fn apply(
        &mut self,
        actor: &Actor,
        command: &RoomCommand,
        now: Now,
    ) -> Result<Vec<RoomEvent>, RoomError> {
        if self.info.status == RoomStatus::Ended {
            return Err(RoomError::Ended);
        }
        // A banned connection may not have been closed yet (on another node,
        // say): it is refused everything meanwhile.
        if self.is_banned(&actor.user_id, actor.role) {
            return Err(RoomError::Banned);
        }
        use RoomCommand as C;
        match command {
            C::Chat { text, reply_to } => self.chat(actor, text, *reply_to, now).map(|e| vec![e]),
            C::GoLive => {
                if self.info.status != RoomStatus::Scheduled {
                    return Err(RoomError::InvalidState("the room is already live".into()));
                }
                self.info.status = RoomStatus::Live;
                Ok(vec![RoomEvent::RoomStatus {
                    status: RoomStatus::Live,
                }])
            }
            C::EndLive => Ok(self.end("the seller ended the live session")),
            C::AddProduct { product } => self
                .add_product(product)
                .map(|p| vec![RoomEvent::ProductUpserted { product: p }]),
            C::UpdateProduct {
                product_id,
                changes,
            } => self.update_product(product_id, changes),
            C::RemoveProduct { product_id } => {
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
            C::PinProduct { product_id } => {
                let product = self.products[self.product_index(product_id)?].clone();
                self.info.pinned_product_id = Some(product.id.clone());
                Ok(vec![RoomEvent::ProductPinned { product }])
            }
            C::UnpinProduct => {
                if self.info.pinned_product_id.take().is_none() {
                    return Ok(vec![]);
                }
                Ok(vec![RoomEvent::ProductUnpinned])
            }
            C::PinNote { text } => note::pin(&mut self.note, actor, text, now.wall),
            C::UnpinNote => Ok(note::unpin(&mut self.note)),
            C::DeleteMessage { message_id } => {
                let index = self
                    .chat
                    .iter()
                    .position(|m| m.id == *message_id)
                    .ok_or(RoomError::MessageNotFound)?;
                let message = &self.chat[index];
                // Anyone may take back their own words; others' only from below.
                if message.user_id != actor.user_id {
                    may_act_on(actor, &message.user_id, message.role)?;
                }
                self.chat.remove(index);
                Ok(vec![RoomEvent::MessageDeleted {
                    message_id: *message_id,
                }])
            }
            C::MuteUser { user_id, minutes } => {
                let role = self.role_of(user_id);
                let until =
                    self.moderation
                        .mute(actor, user_id, role, *minutes, now, &self.limits)?;
                Ok(vec![RoomEvent::UserMuted {
                    user_id: user_id.clone(),
                    until,
                }])
            }
            C::UnmuteUser { user_id } => {
                let role = self.role_of(user_id);
                self.moderation.unmute(actor, user_id, role)?;
                Ok(vec![RoomEvent::UserUnmuted {
                    user_id: user_id.clone(),
                }])
            }
            C::BanUser { user_id } => {
                let role = self.role_of(user_id);
                let name = self.name_of(user_id);
                self.moderation.ban(actor, user_id, role, name.clone())?;
                Ok(vec![RoomEvent::UserBanned {
                    user_id: user_id.clone(),
                    name,
                }])
            }
            C::UnbanUser { user_id } => {
                let role = self.role_of(user_id);
                if !self.moderation.unban(actor, user_id, role)? {
                    return Err(RoomError::InvalidState(
                        "this user is not banned from the room".into(),
                    ));
                }
                Ok(vec![RoomEvent::UserUnbanned {
                    user_id: user_id.clone(),
                }])
            }
            C::SetSlowMode { seconds } => {
                self.moderation.set_slow_mode(*seconds, &self.limits)?;
                Ok(vec![RoomEvent::SettingsChanged {
                    settings: self.moderation.settings.clone(),
                }])
            }
            C::SetBannedWords { words } => {
                self.moderation.set_banned_words(words, &self.limits)?;
                // The list itself stays private to the moderators who set it.
                Ok(vec![])
            }
            C::UpdateRoom { changes } => Ok(vec![self.update_room(changes)]),
        }
    }

    /// Take the seller's checked schedule changes; the room as it now is.
    fn update_room(&mut self, changes: &CheckedChanges) -> RoomEvent {
        if let Some(title) = changes.title() {
            self.info.title = title.to_owned();
        }
        if let Some(starts_at) = changes.starts_at() {
            self.info.starts_at = starts_at;
        }
        if let Some(cover_url) = changes.cover_url() {
            self.info.cover_url = cover_url.map(str::to_owned);
        }
        RoomEvent::RoomUpdated {
            room: self.info.clone(),
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

    fn chat(
        &mut self,
        actor: &Actor,
        text: &str,
        reply_to: Option<u64>,
        now: Now,
    ) -> Result<RoomEvent, RoomError> {
        let text = chat_text(text, &self.limits)?;
        let quote = match reply_to {
            None => None,
            Some(id) => {
                let asked = self.chat.iter().find(|m| m.id == id);
                let asked = asked.ok_or(RoomError::MessageNotFound)?;
                Some(ChatQuote {
                    id,
                    user_id: asked.user_id.clone(),
                    name: asked.name.clone(),
                    text: asked.text.clone(),
                })
            }
        };
        self.moderation.admit_message(actor, text, now)?;
        let message = ChatMessage {
            id: self.next_message_id,
            user_id: actor.user_id.clone(),
            name: actor.name.clone(),
            role: actor.role,
            text: text.to_owned(),
            sent_at: now.wall,
            reply_to: quote,
        };
        self.next_message_id += 1;
        self.chat.push_back(message.clone());
        while self.chat.len() > self.limits.chat_history {
            self.chat.pop_front();
        }
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
            per_buyer_limit: new.per_buyer_limit,
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
        if let Some(limit) = changes.per_buyer_limit {
            product.per_buyer_limit = (limit > 0).then_some(limit);
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

/// A chat message as it will be posted (trimmed), or why it may not be: the
/// checks that need no room data, shared by every room store.
pub fn chat_text<'a>(text: &'a str, limits: &RoomLimits) -> Result<&'a str, RoomError> {
    let text = text.trim();
    if text::is_blank(text) {
        return Err(RoomError::InvalidValue("the message is empty".into()));
    }
    if text::length(text) > limits.max_chat_chars {
        return Err(RoomError::InvalidValue(format!(
            "a message is at most {} characters",
            limits.max_chat_chars
        )));
    }
    Ok(text)
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
            practice: false,
            starts_at: None,
            cover_url: None,
        };
        let product = Product {
            id: "p1".into(),
            name: "Trà".into(),
            description: String::new(),
            price_vnd: 100_000,
            stock: 5,
            image_url: None,
            per_buyer_limit: None,
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

    fn chat(text: &str) -> RoomCommand {
        RoomCommand::Chat {
            text: text.into(),
            reply_to: None,
        }
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
    fn pinning_an_unknown_product_fails() {
        let mut s = state();
        let pin = RoomCommand::PinProduct {
            product_id: "nope".into(),
        };
        assert_eq!(
            s.apply(&actor(Role::Seller), &pin, Now::current())
                .unwrap_err(),
            RoomError::ProductNotFound
        );
    }

    #[test]
    fn a_moderator_may_not_delete_the_sellers_message_but_she_may() {
        let mut s = state();
        let seller = actor(Role::Seller);
        s.apply(&seller, &chat("giá 199k"), Now::current()).unwrap();
        let del = RoomCommand::DeleteMessage {
            message_id: s.chat[0].id,
        };
        assert_eq!(
            s.apply(&actor(Role::Moderator), &del, Now::current()),
            Err(RoomError::Outranked)
        );
        s.apply(&seller, &del, Now::current()).unwrap();
        assert!(s.chat.is_empty());
    }

    #[test]
    fn moderation_ranks_a_target_by_the_role_the_room_saw() {
        let mut s = state();
        s.admit(&actor(Role::Seller));
        let ban = RoomCommand::BanUser {
            user_id: "Seller".into(),
        };
        assert_eq!(
            s.apply(&actor(Role::Moderator), &ban, Now::current()),
            Err(RoomError::Outranked)
        );
        s.apply(&actor(Role::Viewer), &chat("hi"), Now::current())
            .unwrap();
        let ban = RoomCommand::BanUser {
            user_id: "Viewer".into(),
        };
        let events = s.apply(&actor(Role::Moderator), &ban, Now::current());
        assert_eq!(
            events.unwrap(),
            [RoomEvent::UserBanned {
                user_id: "Viewer".into(),
                name: Some("n".into())
            }]
        );
        assert_eq!(s.banned()[0].user_id, "Viewer");
    }

    #[test]
    fn a_deleted_message_leaves_the_history() {
        let mut s = state();
        s.apply(&actor(Role::Viewer), &chat("xin chào"), Now::current())
            .unwrap();
        let id = s.chat[0].id;
        let del = RoomCommand::DeleteMessage { message_id: id };
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
            &RoomCommand::PinProduct {
                product_id: "p1".into(),
            },
            Now::current(),
        )
        .unwrap();
        let events = s
            .apply(
                &seller,
                &RoomCommand::RemoveProduct {
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
            per_buyer_limit: None,
        };
        let events = s.apply(
            &seller,
            &RoomCommand::AddProduct {
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
            &RoomCommand::AddProduct { product: new },
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
