//! All rooms on this node, by id.
//!
//! The registry creates rooms (wiring each to its bus channel and starting
//! its ticker), finds them, lists them and closes them. Ended rooms stay
//! listed with status `ended` so links to them answer "ended", not "unknown".

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use crate::bus::RoomBus;
use crate::protocol::{IceServer, Product, RoomInfo, RoomStatus};

use super::{product, text, Room, RoomError, RoomLimits, RoomState};

/// How rooms on this node behave; from the configuration.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    pub limits: RoomLimits,
    /// Frames kept per room for clients that resume by seq.
    pub replay_capacity: usize,
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
            hearts_every: Duration::from_millis(500),
            viewer_count_every: Duration::from_secs(1),
            ice_servers: Vec::new(),
        }
    }
}

/// What it takes to open a room.
#[derive(Debug, Clone)]
pub struct NewRoom {
    /// Chosen by the caller (a readable slug) or generated when `None`.
    pub id: Option<String>,
    pub title: String,
    pub seller_name: String,
    pub products: Vec<Product>,
}

pub struct RoomRegistry {
    /// DashMap: joins and lookups for different rooms never contend.
    rooms: DashMap<String, Arc<Room>>,
    bus: Arc<dyn RoomBus>,
    settings: RoomSettings,
    /// Cancelled when the node stops; every room's connections end with it.
    lifetime: CancellationToken,
}

impl RoomRegistry {
    pub fn new(
        bus: Arc<dyn RoomBus>,
        settings: RoomSettings,
        lifetime: CancellationToken,
    ) -> RoomRegistry {
        RoomRegistry {
            rooms: DashMap::new(),
            bus,
            settings,
            lifetime,
        }
    }

    /// Open a room in status `scheduled`, its catalog checked by the rules
    /// every product meets ([`product::check`]). Must run inside a Tokio
    /// runtime (it starts the room's ticker).
    pub fn create(&self, new: NewRoom) -> Result<Arc<Room>, RoomError> {
        let id = match new.id {
            Some(id) => validate_room_id(&id)?,
            None => uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
        };
        let title = new.title.trim();
        if text::is_blank(title) || text::length(title) > 200 {
            return Err(RoomError::InvalidValue(
                "a title has 1 to 200 characters".into(),
            ));
        }
        let seller_name = new.seller_name.trim();
        if text::is_blank(seller_name) || text::length(seller_name) > 100 {
            return Err(RoomError::InvalidValue(
                "a seller name has 1 to 100 characters".into(),
            ));
        }
        let max_products = self.settings.limits.max_products;
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
        let info = RoomInfo {
            id: id.clone(),
            title: title.to_owned(),
            seller_name: seller_name.to_owned(),
            status: RoomStatus::Scheduled,
            viewer_count: 0,
            pinned_product_id: None,
            created_at: crate::clock::unix_millis(),
        };
        let state = RoomState::new(info, products, self.settings.limits.clone());
        let room = Arc::new(Room::new(
            state,
            self.bus.channel(&id),
            self.settings.replay_capacity,
            self.settings.ice_servers.clone(),
            &self.lifetime,
        ));
        match self.rooms.entry(id) {
            dashmap::Entry::Occupied(_) => return Err(RoomError::AlreadyExists),
            dashmap::Entry::Vacant(slot) => {
                slot.insert(Arc::clone(&room));
            }
        }
        room.spawn_ticker(self.settings.hearts_every, self.settings.viewer_count_every);
        Ok(room)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Room>> {
        self.rooms.get(id).map(|r| Arc::clone(&r))
    }

    /// Every room, newest first.
    pub fn list(&self) -> Vec<RoomInfo> {
        let rooms: Vec<Arc<Room>> = self.rooms.iter().map(|r| Arc::clone(&r)).collect();
        let mut infos: Vec<RoomInfo> = rooms.iter().map(|r| r.info()).collect();
        infos.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        infos
    }

    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// End a room for everyone in it.
    pub fn close(&self, id: &str, reason: &str) -> Result<RoomInfo, RoomError> {
        let room = self.get(id).ok_or(RoomError::RoomNotFound)?;
        room.close(reason);
        Ok(room.info())
    }

    /// Every room, for node-wide work such as metrics.
    pub fn all(&self) -> Vec<Arc<Room>> {
        self.rooms.iter().map(|r| Arc::clone(&r)).collect()
    }
}

/// Room ids appear in URLs: lower-case letters, digits and dashes, 1–64 long.
pub fn validate_room_id(id: &str) -> Result<String, RoomError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
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
    use crate::bus::LocalBus;

    fn registry() -> RoomRegistry {
        RoomRegistry::new(
            Arc::new(LocalBus::new(16)),
            RoomSettings::default(),
            CancellationToken::new(),
        )
    }

    fn new_room(id: &str) -> NewRoom {
        NewRoom {
            id: Some(id.into()),
            title: "Phiên chợ".into(),
            seller_name: "Chị Hoa".into(),
            products: vec![],
        }
    }

    #[tokio::test]
    async fn a_room_id_is_taken_once() {
        let rooms = registry();
        rooms.create(new_room("tra")).unwrap();
        assert_eq!(
            rooms.create(new_room("tra")).err(),
            Some(RoomError::AlreadyExists)
        );
    }

    #[tokio::test]
    async fn room_ids_must_be_url_safe() {
        let rooms = registry();
        assert!(matches!(
            rooms.create(new_room("Trà Xanh")),
            Err(RoomError::InvalidValue(_))
        ));
        assert!(matches!(
            rooms.create(new_room("")),
            Err(RoomError::InvalidValue(_))
        ));
    }

    #[tokio::test]
    async fn room_closed_is_the_last_event_whatever_is_reported_after_it() {
        let rooms = registry();
        let room = rooms.create(new_room("tra")).unwrap();
        let viewer = crate::room::Actor {
            user_id: "lan".into(),
            name: "Lan".into(),
            role: crate::auth::Role::Viewer,
        };
        let mut membership = room.join(&viewer, None).unwrap();
        room.close("bye");
        room.observe(crate::room::RoomFact::StreamLive(true));
        room.observe(crate::room::RoomFact::OrderPlaced {
            sale_id: "s".into(),
            buyer_name: "Lan".into(),
            quantity: 1,
        });
        let status = membership.events.recv().await.unwrap();
        assert!(!status.last);
        let closed = membership.events.recv().await.unwrap();
        assert!(closed.last, "{}", closed.json.as_str());
        assert!(membership.events.try_recv().is_none());
        assert!(membership.stop.is_cancelled());
    }

    #[tokio::test]
    async fn a_catalog_meets_the_rules_of_add_product_and_its_size_bound() {
        let rooms = registry();
        let good = crate::demo::products().remove(0);
        let mut free = good.clone();
        free.price_vnd = 0;
        let mut room = new_room("tra");
        room.products = vec![good.clone(), free];
        let Err(RoomError::InvalidValue(message)) = rooms.create(room) else {
            panic!("a free product was accepted");
        };
        assert!(message.starts_with("products[1].price_vnd "), "{message}");
        let mut room = new_room("tra");
        room.products = vec![good; RoomLimits::default().max_products + 1];
        assert!(matches!(
            rooms.create(room),
            Err(RoomError::InvalidValue(_))
        ));
        assert!(rooms.is_empty());
    }

    #[tokio::test]
    async fn a_blank_title_is_refused() {
        let rooms = registry();
        let mut room = new_room("tra");
        room.title = "\u{200B} \u{3164}".into();
        assert!(matches!(
            rooms.create(room),
            Err(RoomError::InvalidValue(_))
        ));
    }

    #[tokio::test]
    async fn closing_a_room_ends_it_but_keeps_it_listed() {
        let rooms = registry();
        rooms.create(new_room("tra")).unwrap();
        let info = rooms.close("tra", "bye").unwrap();
        assert_eq!(info.status, RoomStatus::Ended);
        assert_eq!(rooms.list()[0].status, RoomStatus::Ended);
        assert_eq!(
            rooms.close("nope", "bye").err(),
            Some(RoomError::RoomNotFound)
        );
    }
}
