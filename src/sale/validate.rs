//! Input checks shared by both stores: room ids, sale parameters, buy
//! quantities, idempotency keys and shipping details. Everything a client
//! sends passes through here before a store sees it (and before any of it
//! becomes part of a Redis key), so stores trust their inputs.

use super::{voucher, BagAdd, BuyRequest, Checkout, NewSale, PaymentMethod, SaleError, Shipping};

/// The most units one `buy` may ask for, and the largest per-buyer limit.
pub const MAX_QUANTITY: u32 = 1_000;
/// The largest stock one sale may offer.
pub const MAX_STOCK: u32 = 1_000_000;
/// A sale lasts at most a day and starts at most a week ahead.
pub const MAX_DURATION_SECS: u32 = 24 * 3600;
pub const MAX_START_DELAY_SECS: u32 = 7 * 24 * 3600;
/// Holds last between one second (tests, drills) and one hour.
pub const MAX_HOLD_SECS: u32 = 3600;
/// The one price ceiling, shared with the catalog (see `money`).
pub use crate::money::MAX_PRICE_VND;

const MAX_NAME_CHARS: usize = 100;
const MAX_ADDRESS_CHARS: usize = 300;
const MAX_PRODUCT_NAME_CHARS: usize = 200;

fn invalid(message: impl Into<String>) -> SaleError {
    SaleError::InvalidValue(message.into())
}

/// Checks a room id before it becomes part of a key: `[a-z0-9-]{1,64}`, the
/// rule the room registry enforces. The registry is the authority; the store
/// checks again because a room id is spliced into every key name.
pub fn room_id(id: &str) -> Result<(), SaleError> {
    if crate::redis_link::is_room_id(id) {
        Ok(())
    } else {
        Err(invalid(
            "a room id has 1 to 64 lower-case letters, digits or dashes",
        ))
    }
}

/// Checks a seller's sale parameters and trims the product fields.
pub fn new_sale(mut sale: NewSale) -> Result<NewSale, SaleError> {
    sale.product_id = sale.product_id.trim().to_owned();
    sale.product_name = sale.product_name.trim().to_owned();
    if sale.product_id.is_empty() || sale.product_id.len() > 64 {
        return Err(invalid("product_id must be 1–64 bytes"));
    }
    if sale.product_name.is_empty() || sale.product_name.chars().count() > MAX_PRODUCT_NAME_CHARS {
        return Err(invalid("product name must be 1–200 characters"));
    }
    if !(1..=MAX_STOCK).contains(&sale.stock) {
        return Err(invalid(format!("stock must be 1–{MAX_STOCK}")));
    }
    if sale.product_stock > MAX_STOCK {
        return Err(invalid(format!("product_stock must be 0–{MAX_STOCK}")));
    }
    if !(1..=MAX_PRICE_VND).contains(&sale.price_vnd) {
        return Err(invalid(format!("price_vnd must be 1–{MAX_PRICE_VND}")));
    }
    if !(1..=MAX_QUANTITY).contains(&sale.per_buyer_limit) {
        return Err(invalid(format!("per_buyer_limit must be 1–{MAX_QUANTITY}")));
    }
    if sale.starts_in_secs > MAX_START_DELAY_SECS {
        return Err(invalid("a sale starts at most 7 days ahead"));
    }
    if !(1..=MAX_DURATION_SECS).contains(&sale.duration_secs) {
        return Err(invalid("duration_secs must be 1–86400"));
    }
    if !(1..=MAX_HOLD_SECS).contains(&sale.hold_secs) {
        return Err(invalid("hold_secs must be 1–3600"));
    }
    Ok(sale)
}

/// Checks what a buyer gives at checkout: the shipping details normalised
/// (see [`shipping`]) and the voucher code as the store keys it (a code no
/// voucher could have is `voucher_not_found`).
pub fn checkout(
    checkout: &Checkout,
) -> Result<(Shipping, PaymentMethod, Option<String>), SaleError> {
    let shipping = shipping(&checkout.shipping)?;
    let voucher = checkout
        .voucher_code
        .as_deref()
        .map(|code| voucher::normalize_code(code).ok_or(SaleError::VoucherNotFound))
        .transpose()?;
    Ok((shipping, checkout.payment, voucher))
}

/// Checks a product's stock as a seller sets it (or a catalog seeds it).
pub fn product_stock(product_id: &str, units: u32) -> Result<(), SaleError> {
    if product_id.trim().is_empty() || product_id.len() > 64 {
        return Err(invalid("product_id must be 1–64 bytes"));
    }
    if units > MAX_STOCK {
        return Err(invalid(format!("stock must be 0–{MAX_STOCK}")));
    }
    Ok(())
}

/// Checks a buy request's quantity, idempotency key and sale id.
pub fn buy_request(request: &BuyRequest) -> Result<(), SaleError> {
    reservation(
        request.quantity,
        &request.idempotency_key,
        &request.buyer_id,
    )?;
    sale_id(&request.sale_id)
}

/// Checks what putting a product in the bag asks for: the buyer's part as
/// for a buy, the product's terms as the catalog gave them.
pub fn bag_add(add: &BagAdd) -> Result<(), SaleError> {
    reservation(add.quantity, &add.idempotency_key, &add.buyer_id)?;
    product_stock(&add.product_id, add.product_stock)?;
    if add.product_name.trim().is_empty()
        || add.product_name.chars().count() > MAX_PRODUCT_NAME_CHARS
    {
        return Err(invalid("product name must be 1–200 characters"));
    }
    if !(1..=MAX_PRICE_VND).contains(&add.unit_price_vnd) {
        return Err(invalid(format!("price_vnd must be 1–{MAX_PRICE_VND}")));
    }
    if add
        .per_buyer_limit
        .is_some_and(|limit| !(1..=MAX_QUANTITY).contains(&limit))
    {
        return Err(invalid(format!("per_buyer_limit must be 1–{MAX_QUANTITY}")));
    }
    if !(1..=MAX_HOLD_SECS).contains(&add.hold_secs) {
        return Err(invalid("hold_secs must be 1–3600"));
    }
    Ok(())
}

/// The buyer's part of a reservation: how many, the idempotency key, who.
fn reservation(quantity: u32, key: &str, buyer_id: &str) -> Result<(), SaleError> {
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(invalid(format!("quantity must be 1–{MAX_QUANTITY}")));
    }
    if !(8..=64).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "idempotency_key must be 8–64 printable ASCII characters",
        ));
    }
    if buyer_id.is_empty() {
        return Err(invalid("buyer id is empty"));
    }
    Ok(())
}

/// An id that is not shaped like a sale id names no sale.
pub fn sale_id(id: &str) -> Result<(), SaleError> {
    if super::ids::is_sale_id(id) {
        Ok(())
    } else {
        Err(SaleError::SaleNotFound)
    }
}

/// Checks shipping details and returns them trimmed, with the phone number
/// in its national form (`0912345678`).
pub fn shipping(shipping: &Shipping) -> Result<Shipping, SaleError> {
    let name = shipping.name.trim();
    let address = shipping.address.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || has_control(name) {
        return Err(SaleError::InvalidShipping(
            "name must be 1–100 characters".into(),
        ));
    }
    if address.is_empty() || address.chars().count() > MAX_ADDRESS_CHARS || has_control(address) {
        return Err(SaleError::InvalidShipping(
            "address must be 1–300 characters".into(),
        ));
    }
    let phone = vietnamese_phone(&shipping.phone).ok_or_else(|| {
        SaleError::InvalidShipping("phone must be a Vietnamese number such as 0912345678".into())
    })?;
    Ok(Shipping {
        name: name.to_owned(),
        phone,
        address: address.to_owned(),
    })
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A Vietnamese phone number in national form, or `None`.
///
/// Accepts mobiles (`0` + 3/5/7/8/9 + 8 digits) and landlines (`02` + 9
/// digits), written with a leading `0`, `+84` or `84`, with optional spaces,
/// dots or dashes between digits.
pub fn vietnamese_phone(raw: &str) -> Option<String> {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .collect();
    let national = if let Some(rest) = compact.strip_prefix("+84") {
        format!("0{rest}")
    } else if compact.starts_with("84") && compact.len() >= 11 {
        format!("0{}", &compact[2..])
    } else {
        compact
    };
    if !national.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let b = national.as_bytes();
    let mobile = b.len() == 10 && b[0] == b'0' && matches!(b[1], b'3' | b'5' | b'7' | b'8' | b'9');
    let landline = b.len() == 11 && b[0] == b'0' && b[1] == b'2';
    (mobile || landline).then_some(national)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_what_the_registry_accepts() {
        for ok in ["r1", "tra-thai-nguyen", &"a".repeat(64)] {
            assert_eq!(room_id(ok), Ok(()), "{ok}");
        }
        for bad in ["", "R1", "a b", "{room}", "a/b", "a:b", &"a".repeat(65)] {
            assert!(
                matches!(room_id(bad), Err(SaleError::InvalidValue(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn vietnamese_phones_are_normalised_to_national_form() {
        for ok in [
            "0912345678",
            "+84912345678",
            "84912345678",
            "091 234 5678",
            "0912.345.678",
        ] {
            assert_eq!(vietnamese_phone(ok).as_deref(), Some("0912345678"), "{ok}");
        }
        assert_eq!(
            vietnamese_phone("02838123456").as_deref(),
            Some("02838123456")
        );
    }

    #[test]
    fn other_phones_are_refused() {
        for bad in [
            "",
            "12345",
            "0112345678",
            "091234567",
            "09123456789",
            "+1 555 123 4567",
            "09x2345678",
        ] {
            assert_eq!(vietnamese_phone(bad), None, "{bad}");
        }
    }

    #[test]
    fn shipping_needs_a_name_and_an_address() {
        let good = Shipping {
            name: " Lan ".into(),
            phone: "0912345678".into(),
            address: "12 Hàng Bạc".into(),
        };
        assert_eq!(shipping(&good).unwrap().name, "Lan");
        let no_name = Shipping {
            name: "  ".into(),
            ..good.clone()
        };
        assert!(matches!(
            shipping(&no_name),
            Err(SaleError::InvalidShipping(_))
        ));
        let long = Shipping {
            address: "x".repeat(301),
            ..good
        };
        assert!(matches!(
            shipping(&long),
            Err(SaleError::InvalidShipping(_))
        ));
    }
}
