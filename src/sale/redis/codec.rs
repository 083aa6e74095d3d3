//! How the Redis store names its keys and reads what Redis answers: key
//! layout, stored records, function replies and error classification. Pure
//! functions, no I/O.

use std::collections::HashMap;

use serde::Deserialize;

use crate::clock::UnixMillis;
use crate::redis_link::room_tag;
use crate::sale::{
    ids, oldest_first, validate, Hold, Order, SaleError, SaleInfo, SaleRef, SaleTimes,
};

/// The keys of a room that the sale store writes (not those of one of its
/// sales). The room's own state lives beside them under the same tag
/// (`room::store::redis`).
pub(super) struct RoomKeys {
    /// Hash `sale_id`, `ends_at`: the room's latest sale and when it stops
    /// running. Written only by the functions that create and end sales.
    pub(super) current_sale: String,
    /// List of the room's sale ids, oldest first.
    pub(super) sales: String,
    /// Hash order id → the hold id it consumed (written by
    /// `chophien_confirm`): how an order is found by its id. Kept, like
    /// orders, when the room ends.
    pub(super) order_index: String,
    /// Hash product id → units on hand outside any flash sale.
    pub(super) stock: String,
    /// Hash code → voucher JSON.
    pub(super) vouchers: String,
    /// Hash of the vouchers' counts and who claimed or used each.
    pub(super) voucher_uses: String,
}

impl RoomKeys {
    pub(super) fn new(room_id: &str) -> RoomKeys {
        let tag = room_tag(room_id);
        RoomKeys {
            current_sale: format!("{tag}:current_sale"),
            sales: format!("{tag}:sales"),
            order_index: format!("{tag}:order_index"),
            stock: format!("{tag}:stock"),
            vouchers: format!("{tag}:vouchers"),
            voucher_uses: format!("{tag}:voucher_uses"),
        }
    }
}

/// The thirteen keys every sale function takes, in the order it expects
/// them: the sale's seven (`{room:R}:sale:S:<name>`), then its room's six.
/// Built only from validated ids.
pub(super) struct SaleKeys(pub(super) [String; 13]);

impl SaleKeys {
    pub(super) fn new(room_id: &str, sale_id: &str) -> SaleKeys {
        let prefix = format!("{}:sale:{sale_id}", room_tag(room_id));
        let key = |name: &str| format!("{prefix}:{name}");
        let room = RoomKeys::new(room_id);
        SaleKeys([
            key("meta"),
            key("buyers"),
            key("idem"),
            key("holds"),
            key("deadlines"),
            key("statuses"),
            key("orders"),
            room.current_sale,
            room.sales,
            room.order_index,
            room.stock,
            room.vouchers,
            room.voucher_uses,
        ])
    }

    pub(super) fn meta(&self) -> &str {
        &self.0[0]
    }

    pub(super) fn deadlines(&self) -> &str {
        &self.0[4]
    }

    pub(super) fn buyers(&self) -> &str {
        &self.0[1]
    }

    pub(super) fn holds(&self) -> &str {
        &self.0[3]
    }

    pub(super) fn statuses(&self) -> &str {
        &self.0[5]
    }

    pub(super) fn orders(&self) -> &str {
        &self.0[6]
    }
}

/// The room's keys the sale store owns, `[current_sale, sales]`, for the
/// room store: it refuses to reuse the id of a room whose sale list is still
/// kept, and lets `current_sale` expire when the room ends.
pub(crate) fn room_sale_keys(room_id: &str) -> [String; 2] {
    let keys = RoomKeys::new(room_id);
    [keys.current_sale, keys.sales]
}

/// The room's own sale-store keys that may expire once the room has ended:
/// its products' stock, its vouchers, and its bag's holds and counts (not
/// its bag's orders) (a room id is not reused while its sale list is kept,
/// and an ended room sells nothing more).
pub(crate) fn ended_room_stock_keys(room_id: &str) -> [String; 8] {
    let keys = RoomKeys::new(room_id);
    let [buyers, idem, holds, deadlines, statuses] = ended_room_sale_keys(room_id, ids::BAG);
    [
        keys.stock,
        keys.vouchers,
        keys.voucher_uses,
        buyers,
        idem,
        holds,
        deadlines,
        statuses,
    ]
}

/// The keys of a sale of `room_id` that may expire once the room has ended:
/// everything but `meta` and `orders`, which the orders export keeps reading.
pub(crate) fn ended_room_sale_keys(room_id: &str, sale_id: &str) -> [String; 5] {
    let [_meta, buyers, idem, holds, deadlines, statuses, _orders, _, _, _, _, _, _] =
        SaleKeys::new(room_id, sale_id).0;
    [buyers, idem, holds, deadlines, statuses]
}

/// A sale's member of the untagged `chophien:sales:active` set:
/// `<room id>/<sale id>`, enough for a sweeper on any node to build its keys.
pub(super) fn active_member(sale: &SaleRef) -> String {
    format!("{}/{}", sale.room_id, sale.sale_id)
}

/// The sale an `active` member names, if it is well formed (a member this
/// version cannot read names no sale it could sweep).
pub(super) fn parse_active_member(member: &str) -> Option<SaleRef> {
    let (room_id, sale_id) = member.split_once('/')?;
    (validate::room_id(room_id).is_ok() && ids::is_sale_id(sale_id))
        .then(|| SaleRef::new(room_id, sale_id))
}

/// A hold as the functions store it (JSON inside `…:sale:S:holds`): the
/// public [`Hold`] plus who owns it, written once by `chophien_buy`.
#[derive(Deserialize)]
pub(super) struct HoldRecord {
    pub(super) hold_id: String,
    /// Absent from a bag hold's JSON: the bag's.
    #[serde(default = "bag_id")]
    pub(super) sale_id: String,
    pub(super) quantity: u32,
    pub(super) expires_at: UnixMillis,
    pub(super) buyer_id: String,
    pub(super) buyer_name: String,
    /// A bag hold's product and price (`chophien_bag_add`).
    #[serde(default)]
    pub(super) product_id: Option<String>,
    #[serde(default)]
    pub(super) unit_price_vnd: Option<crate::money::Vnd>,
}

impl HoldRecord {
    pub(super) fn hold(&self) -> Hold {
        Hold {
            hold_id: self.hold_id.clone(),
            sale_id: self.sale_id.clone(),
            quantity: self.quantity,
            expires_at: self.expires_at,
            product_id: self.product_id.clone(),
            unit_price_vnd: self.unit_price_vnd,
        }
    }
}

fn bag_id() -> String {
    ids::BAG.to_owned()
}

pub(super) fn internal(what: impl std::fmt::Display) -> SaleError {
    SaleError::Internal(what.to_string())
}

pub(super) fn parse_json<T: for<'de> Deserialize<'de>>(raw: &str) -> Result<T, SaleError> {
    serde_json::from_str(raw).map_err(internal)
}

pub(super) fn field<T: std::str::FromStr>(
    meta: &HashMap<String, String>,
    name: &str,
) -> Result<T, SaleError> {
    meta.get(name)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| internal(format!("sale field {name} is missing or malformed")))
}

/// A field that may be absent (`None`), but not malformed.
fn optional_field<T: std::str::FromStr>(
    meta: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, SaleError> {
    meta.get(name)
        .map(|value| {
            value
                .parse()
                .map_err(|_| internal(format!("sale field {name} is malformed")))
        })
        .transpose()
}

/// A sale's meta hash as its public view.
pub(super) fn sale_info(
    meta: &HashMap<String, String>,
    now: UnixMillis,
) -> Result<SaleInfo, SaleError> {
    let times = SaleTimes {
        starts_at: field(meta, "starts_at")?,
        ends_at: field(meta, "ends_at")?,
        ended: meta.get("ended").is_some_and(|v| v == "1"),
        remaining: field(meta, "remaining")?,
    };
    Ok(SaleInfo {
        id: field(meta, "sale_id")?,
        product_id: field(meta, "product_id")?,
        product_name: field(meta, "product_name")?,
        price_vnd: field(meta, "price_vnd")?,
        stock_total: field(meta, "stock_total")?,
        remaining: times.remaining,
        returned_to_stock: optional_field(meta, "returned")?.unwrap_or(0),
        per_buyer_limit: field(meta, "per_buyer_limit")?,
        state: times.state_at(now),
        starts_at: times.starts_at,
        ends_at: times.ends_at,
        hold_secs: field(meta, "hold_secs")?,
    })
}

pub(super) fn sorted_orders(raw: Vec<String>) -> Result<Vec<Order>, SaleError> {
    let mut orders = raw
        .iter()
        .map(|json| parse_json::<Order>(json))
        .collect::<Result<Vec<_>, _>>()?;
    oldest_first(&mut orders);
    Ok(orders)
}

/// The reply of a function: an outcome word and its string payload.
pub(super) fn split_reply(reply: Vec<String>) -> Result<(String, Vec<String>), SaleError> {
    let mut parts = reply.into_iter();
    let outcome = parts
        .next()
        .ok_or_else(|| internal("empty function reply"))?;
    Ok((outcome, parts.collect()))
}

/// The error a function's refusal word stands for.
pub(super) fn refusal(outcome: &str) -> SaleError {
    match outcome {
        "sale_not_found" => SaleError::SaleNotFound,
        "hold_not_found" => SaleError::HoldNotFound,
        "hold_expired" => SaleError::HoldExpired,
        "limit_reached" => SaleError::LimitReached,
        "forbidden" => SaleError::Forbidden,
        "sale_running" => SaleError::SaleRunning,
        "order_not_found" => SaleError::OrderNotFound,
        "insufficient_stock" => SaleError::InsufficientStock { available: 0 },
        "voucher_not_found" => SaleError::VoucherNotFound,
        "voucher_expired" => SaleError::VoucherExpired,
        "voucher_used_up" => SaleError::VoucherUsedUp,
        "voucher_already_used" => SaleError::VoucherAlreadyUsed,
        "voucher_not_claimed" => SaleError::VoucherNotClaimed,
        "voucher_not_dropped" => SaleError::VoucherNotDropped,
        "voucher_exists" => SaleError::VoucherExists,
        other => internal(format!("unexpected function reply {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_sale_carries_its_rooms_tag() {
        let keys = SaleKeys::new("r1", "abc123");
        assert_eq!(keys.meta(), "{room:r1}:sale:abc123:meta");
        assert_eq!(keys.orders(), "{room:r1}:sale:abc123:orders");
        assert_eq!(keys.0[7], "{room:r1}:current_sale");
        assert_eq!(keys.0[8], "{room:r1}:sales");
        assert!(keys.0.iter().all(|key| key.starts_with("{room:r1}:")));
    }

    #[test]
    fn an_active_member_names_its_room_and_sale() {
        let sale = SaleRef::new("tra-thai-nguyen", "0123456789ab");
        let member = active_member(&sale);
        assert_eq!(member, "tra-thai-nguyen/0123456789ab");
        assert_eq!(parse_active_member(&member), Some(sale));
        for bad in [
            "0123456789ab",
            "r1/",
            "/0123456789ab",
            "R1/abc",
            "r1/xyz",
            "r1/a/b",
        ] {
            assert_eq!(parse_active_member(bad), None, "{bad}");
        }
    }
}
