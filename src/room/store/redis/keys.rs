//! Where a room lives in Redis: the names of its keys (every one tagged
//! `{room:R}`, so a room and its sales share one Cluster slot), its shard
//! channel, and the one untagged index of rooms. Pure names, no I/O; the
//! layout itself is documented in `room.lua`.

use crate::media::room_media_keys;
use crate::payment::room_payment_key;
use crate::redis_link::room_tag;
use crate::sale::{ended_room_sale_keys, ended_room_stock_keys, room_sale_keys};

/// Every room id with its `created_at` as score: what `list` reads. Not
/// tagged (it spans rooms), so it is written beside the create call, not
/// inside it; an id whose room has expired is dropped when listing.
pub(super) const ROOM_INDEX: &str = "chophien:rooms";

/// The fourteen keys every room function takes, in the order `room.lua`
/// expects them, and the room's shard channel.
pub(super) struct RoomKeys {
    pub(super) keys: Vec<String>,
    pub(super) channel: String,
}

impl RoomKeys {
    /// Built only from validated room ids (the registry checks them).
    pub(super) fn new(room_id: &str) -> RoomKeys {
        let tag = room_tag(room_id);
        let own = [
            "room",
            "products",
            "catalog",
            "chat",
            "ranks",
            "mutes",
            "bans",
            "banned_words",
            "last_chat",
            "viewers",
            "events",
        ];
        let mut keys: Vec<String> = own.iter().map(|name| format!("{tag}:{name}")).collect();
        keys.extend(room_sale_keys(room_id));
        keys.push(crate::journal::journal_key(room_id));
        RoomKeys {
            keys,
            channel: channel(room_id),
        }
    }

    /// These keys plus the five of each sale, the two of the media
    /// directory, the seller's bank account (`payment`) and the products'
    /// stock, which expire with the room (`chophien_room_end`).
    pub(super) fn with_sales(room_id: &str, sale_ids: &[String]) -> RoomKeys {
        let mut keys = RoomKeys::new(room_id);
        keys.keys.extend(room_media_keys(room_id));
        keys.keys.push(room_payment_key(room_id));
        for sale_id in sale_ids {
            keys.keys.extend(ended_room_sale_keys(room_id, sale_id));
        }
        keys.keys.extend(ended_room_stock_keys(room_id));
        keys
    }

    /// The hash of the room's info, status, seq and counters.
    pub(super) fn room(&self) -> &str {
        &self.keys[0]
    }

    /// The stream of the room's recent events (entry id `<seq>-0`).
    pub(super) fn events(&self) -> &str {
        &self.keys[10]
    }

    /// The sale store's list of the room's sale ids.
    pub(super) fn sales(&self) -> &str {
        &self.keys[12]
    }
}

/// The shard channel a room's events are published on.
pub(super) fn channel(room_id: &str) -> String {
    format!("{}:feed", room_tag(room_id))
}

/// The room a shard channel belongs to.
pub(super) fn room_of_channel(channel: &str) -> Option<&str> {
    channel.strip_prefix("{room:")?.strip_suffix("}:feed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_room_carries_its_tag() {
        let keys = RoomKeys::with_sales("r1", &["abc123".into()]);
        // The room's (its journal last), its media's, its payment's, a
        // sale's five, the stock and vouchers, and its bag's five.
        assert_eq!(keys.keys.len(), 14 + 2 + 1 + 5 + 3 + 5);
        assert!(keys.keys.iter().all(|key| key.starts_with("{room:r1}:")));
        assert_eq!(keys.room(), "{room:r1}:room");
        assert_eq!(keys.events(), "{room:r1}:events");
        assert_eq!(keys.sales(), "{room:r1}:sales");
        assert_eq!(keys.keys[11], "{room:r1}:current_sale");
        assert_eq!(keys.keys[13], "{room:r1}:journal");
        assert_eq!(keys.keys[14], "{room:r1}:media:epoch");
        assert_eq!(keys.keys[15], "{room:r1}:media:origin");
        assert_eq!(keys.keys[16], "{room:r1}:payment");
        assert!(keys.keys[17..22]
            .iter()
            .all(|k| k.contains(":sale:abc123:")));
        assert_eq!(keys.keys[22], "{room:r1}:stock");
        assert_eq!(keys.keys[24], "{room:r1}:voucher_uses");
        assert!(!keys
            .keys
            .iter()
            .any(|k| k.ends_with(":meta") || k.ends_with(":orders")));
    }

    #[test]
    fn a_channel_names_its_room() {
        assert_eq!(channel("tra-thai-nguyen"), "{room:tra-thai-nguyen}:feed");
        assert_eq!(room_of_channel(&channel("r-1")), Some("r-1"));
        assert_eq!(room_of_channel("{room:r1}:other"), None);
    }
}
