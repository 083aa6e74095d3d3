//! Identifiers for sales, holds and orders: short random strings.
//!
//! They are lowercase hex (plus one `-` in hold ids), so they are safe inside
//! Redis key names (no braces, no `/`, no `:`) and in URLs. A hold id starts
//! with its sale id, which, with the caller's room, lets `confirm_hold
//! {hold_id}` find the sale's keys. A room's shopping bag keeps its holds
//! under the one pseudo sale id [`BAG`] (`bag-<hex>`).

/// The pseudo sale id of a room's shopping bag (`sale::bag`). Never a real
/// sale's: those are hex, and `g` is not.
pub const BAG: &str = "bag";

/// Sale ids are 12 hex digits: 48 random bits, plenty for one deployment.
pub fn new_sale_id() -> String {
    random_hex(12)
}

/// `<sale id>-<16 hex>`.
pub fn new_hold_id(sale_id: &str) -> String {
    format!("{sale_id}-{}", random_hex(16))
}

/// 16 hex digits.
pub fn new_order_id() -> String {
    random_hex(16)
}

/// 16 hex digits: the tag an order's `order_status` events carry.
pub fn new_status_tag() -> String {
    random_hex(16)
}

/// Whether `id` could be an order id (checked before it becomes part of a
/// key or a lookup).
pub fn is_order_id(id: &str) -> bool {
    id.len() == 16 && is_hex(id)
}

/// The sale a hold id belongs to, if the id is well formed.
pub fn sale_of_hold(hold_id: &str) -> Option<&str> {
    let (sale, rest) = hold_id.split_once('-')?;
    (is_sale_id(sale) && !rest.is_empty() && rest.len() <= 32 && is_hex(rest)).then_some(sale)
}

/// Whether `id` could be a sale id, the bag's included (checked before it
/// becomes part of a key).
pub fn is_sale_id(id: &str) -> bool {
    id == BAG || ((1..=32).contains(&id.len()) && is_hex(id))
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn random_hex(len: usize) -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(len);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_id_names_its_sale() {
        let sale = new_sale_id();
        let hold = new_hold_id(&sale);
        assert_eq!(sale_of_hold(&hold), Some(sale.as_str()));
    }

    #[test]
    fn a_bag_hold_id_names_the_bag() {
        assert_eq!(sale_of_hold(&new_hold_id(BAG)), Some(BAG));
        assert_eq!(sale_of_hold("bags-00ff"), None);
    }

    #[test]
    fn malformed_hold_ids_name_no_sale() {
        for bad in ["", "abc", "abc-", "-abc", "{x}-abc", "ABC-def", "abc-xyz"] {
            assert_eq!(sale_of_hold(bad), None, "{bad}");
        }
    }
}
