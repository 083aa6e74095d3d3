//! The shopping bag: catalog products bought at their regular price during
//! a live, several at once.
//!
//! Adding a product to the bag reserves its units from the product's stock
//! (the same count a flash sale carves its units from), as a [`Hold`] with a
//! deadline and an idempotency key, exactly like a flash-sale buy: a line in
//! a bag is never a promise the shop cannot keep. Checking out turns the
//! buyer's open bag holds into **one** [`Order`] with one [`OrderLine`] per
//! hold, all or nothing, with a voucher on the whole subtotal. A hold that
//! reaches its deadline, or that the buyer removes, gives its units back to
//! the product, exactly once.
//!
//! Each room has one bag. Its holds and orders live beside the room's sales,
//! under the pseudo sale id [`BAG`] (in Redis: `{room:R}:sale:bag:*`, with no
//! `meta` hash, so no sale operation ever finds it): a bag hold's id is
//! `bag-<hex>`, so `confirm_hold`, `cancel_hold`, the order index and the
//! sweeper find it the way they find a sale's.
//!
//! This module holds what both stores share: the request, the order line,
//! and how a bag order is put together and priced.

use serde::{Deserialize, Serialize};

use super::{ids, voucher, Order, OrderStatus, PaymentMethod, SaleError, Shipping, Voucher};
use crate::clock::UnixMillis;
use crate::money::Vnd;

pub use super::ids::BAG;

/// The most lines one checkout may take (a "huge bag" is refused whole).
pub const MAX_LINES: usize = 20;

/// Whether a hold id names a bag hold (`bag-<hex>`).
pub fn is_bag_hold(hold_id: &str) -> bool {
    ids::sale_of_hold(hold_id) == Some(BAG)
}

/// One product put in the bag, as a store receives it: the product's terms
/// come from the room's catalog (never from the client), the buyer from her
/// verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagAdd {
    pub product_id: String,
    /// Kept on the hold, so the order names the product as the buyer saw it.
    pub product_name: String,
    /// The catalog price when the product went in the bag: the hold keeps
    /// it, so a price the seller changes later does not change this line.
    pub unit_price_vnd: Vnd,
    /// The product's stock as the catalog shows it: the store's count
    /// starts from it the first time the store sees the product.
    pub product_stock: u32,
    /// Most units of this product one buyer may hold or order from the bag
    /// (and one shipping phone may order), if the seller set one.
    pub per_buyer_limit: Option<u32>,
    pub hold_secs: u32,
    pub buyer_id: String,
    pub buyer_name: String,
    pub quantity: u32,
    /// Client-generated; scoped to the buyer.
    pub idempotency_key: String,
}

/// What adding to the bag did: the outcome (`reserved`, `duplicate`,
/// `sold_out`, `limit_reached`, `unavailable`) with its hold, and the
/// product's stock right after, for every screen's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagAddResult {
    pub result: super::BuyResult,
    /// The product's units on hand after this call (`None` when the store
    /// did not answer).
    pub stock: Option<u32>,
}

/// One line of a bag order: a product, how many, at what price, and the
/// hold it came from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: String,
    pub product_name: String,
    pub quantity: u32,
    pub unit_price_vnd: Vnd,
    pub hold_id: String,
}

/// A bag hold as both stores keep it: the line it will become, whose it
/// is, and the limit it was reserved under.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct BagHold {
    pub hold_id: String,
    pub product_id: String,
    pub product_name: String,
    pub unit_price_vnd: Vnd,
    pub quantity: u32,
    pub expires_at: UnixMillis,
    pub buyer_id: String,
    pub buyer_name: String,
    /// 0: no limit.
    #[serde(default)]
    pub per_buyer_limit: u32,
}

impl BagHold {
    /// The hold as its buyer sees it.
    pub fn hold(&self) -> super::Hold {
        super::Hold {
            hold_id: self.hold_id.clone(),
            sale_id: BAG.to_owned(),
            quantity: self.quantity,
            expires_at: self.expires_at,
            product_id: Some(self.product_id.clone()),
            unit_price_vnd: Some(self.unit_price_vnd),
        }
    }

    fn line(&self) -> OrderLine {
        OrderLine {
            product_id: self.product_id.clone(),
            product_name: self.product_name.clone(),
            quantity: self.quantity,
            unit_price_vnd: self.unit_price_vnd,
            hold_id: self.hold_id.clone(),
        }
    }
}

/// Hold ids as a checkout takes them: sorted and without repeats, so the
/// same bag always names the same first hold (the order's `hold_id`, which
/// a retried checkout finds it by). Empty, too long, or naming anything but
/// a bag hold: `invalid_value` / `hold_not_found`.
pub fn checkout_holds(hold_ids: &[String]) -> Result<Vec<String>, SaleError> {
    let mut ids: Vec<String> = hold_ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_LINES {
        return Err(SaleError::InvalidValue(format!(
            "a checkout takes 1–{MAX_LINES} bag holds"
        )));
    }
    if !ids.iter().all(|id| is_bag_hold(id)) {
        return Err(SaleError::HoldNotFound);
    }
    Ok(ids)
}

/// What a checkout knows besides the holds: who ships where, how she pays,
/// the voucher (already checked for use by the store), and the new ids.
pub struct BagCheckout<'a> {
    pub order_id: String,
    pub shipping: Shipping,
    pub payment: PaymentMethod,
    pub voucher: Option<&'a Voucher>,
    pub voucher_code: Option<String>,
    pub now: UnixMillis,
}

/// The order a checkout of `holds` (sorted by id, one buyer's) makes. The
/// order's `hold_id` is the first hold's; `product_name` names every line;
/// `quantity` counts every unit; `unit_price_vnd` is the one line's price,
/// or 0 when there are several (each line has its own).
pub fn order(holds: &[BagHold], checkout: BagCheckout<'_>) -> Result<Order, SaleError> {
    let first = holds
        .first()
        .ok_or_else(|| SaleError::InvalidValue("a checkout needs a bag hold".into()))?;
    let lines: Vec<OrderLine> = holds.iter().map(BagHold::line).collect();
    let subtotal = lines.iter().fold(0, |sum: Vnd, line| {
        sum.saturating_add(line.unit_price_vnd.saturating_mul(u64::from(line.quantity)))
    });
    let (discount_vnd, total_vnd) = voucher::price(checkout.voucher, subtotal, 1)?;
    let names: Vec<&str> = lines
        .iter()
        .map(|line| line.product_name.as_str())
        .collect();
    Ok(Order {
        order_id: checkout.order_id,
        sale_id: BAG.to_owned(),
        hold_id: first.hold_id.clone(),
        buyer_id: first.buyer_id.clone(),
        buyer_name: first.buyer_name.clone(),
        product_name: names.join(", "),
        quantity: lines.iter().map(|line| line.quantity).sum(),
        unit_price_vnd: if lines.len() == 1 {
            first.unit_price_vnd
        } else {
            0
        },
        total_vnd,
        shipping: checkout.shipping,
        created_at: checkout.now,
        payment: checkout.payment,
        status: OrderStatus::Confirmed,
        shipment: None,
        history: Vec::new(),
        voucher_code: checkout.voucher_code,
        discount_vnd,
        status_tag: ids::new_status_tag(),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(id: &str, product: &str, price: Vnd, quantity: u32) -> BagHold {
        BagHold {
            hold_id: id.to_owned(),
            product_id: product.to_owned(),
            product_name: format!("Sản phẩm {product}"),
            unit_price_vnd: price,
            quantity,
            expires_at: 1_000,
            buyer_id: "b1".into(),
            buyer_name: "Lan".into(),
            per_buyer_limit: 0,
        }
    }

    fn checkout() -> BagCheckout<'static> {
        BagCheckout {
            order_id: "0123456789abcdef".into(),
            shipping: Shipping {
                name: "Lan".into(),
                phone: "0912345678".into(),
                address: "Thái Nguyên".into(),
            },
            payment: PaymentMethod::Cod,
            voucher: None,
            voucher_code: None,
            now: 10,
        }
    }

    #[test]
    fn a_bag_order_has_one_line_per_hold_and_their_sum() {
        let holds = [
            hold("bag-01", "p1", 120_000, 2),
            hold("bag-02", "p2", 45_000, 1),
        ];
        let order = order(&holds, checkout()).unwrap();
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.total_vnd, 285_000);
        assert_eq!(order.quantity, 3);
        assert_eq!(order.unit_price_vnd, 0);
        assert_eq!(order.hold_id, "bag-01");
        assert_eq!(order.sale_id, BAG);
        assert_eq!(order.product_name, "Sản phẩm p1, Sản phẩm p2");
    }

    #[test]
    fn a_checkout_names_its_holds_sorted_once_and_only_bag_holds() {
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            checkout_holds(&ids(&["bag-0b", "bag-0a", "bag-0b"])).unwrap(),
            ids(&["bag-0a", "bag-0b"])
        );
        assert!(matches!(
            checkout_holds(&[]),
            Err(SaleError::InvalidValue(_))
        ));
        let huge: Vec<String> = (0..=MAX_LINES).map(|i| format!("bag-{i:04x}")).collect();
        assert!(matches!(
            checkout_holds(&huge),
            Err(SaleError::InvalidValue(_))
        ));
        assert_eq!(
            checkout_holds(&ids(&["0123456789ab-00ff"])),
            Err(SaleError::HoldNotFound)
        );
    }
}
