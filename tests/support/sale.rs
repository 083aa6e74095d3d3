//! Flash-sale fixtures shared by the store tests.

use chophien::sale::{BuyRequest, NewSale, Shipping};

/// A live sale of tea: `stock` units, at most `per_buyer_limit` per buyer,
/// starting at once, five minutes long, one-minute holds.
pub fn tea(stock: u32, per_buyer_limit: u32) -> NewSale {
    NewSale {
        product_id: "p1".into(),
        product_name: "Trà Thái Nguyên 500g".into(),
        price_vnd: 199_000,
        stock,
        per_buyer_limit,
        starts_in_secs: 0,
        duration_secs: 300,
        hold_secs: 60,
    }
}

/// `buyer` (named "Người mua <buyer>") buys `quantity` with idempotency key `key`.
pub fn request(sale_id: &str, buyer: &str, quantity: u32, key: &str) -> BuyRequest {
    BuyRequest {
        sale_id: sale_id.into(),
        buyer_id: buyer.into(),
        buyer_name: format!("Người mua {buyer}"),
        quantity,
        idempotency_key: key.into(),
    }
}

/// Valid shipping details (the phone in international form).
pub fn shipping() -> Shipping {
    Shipping {
        name: "Nguyễn Thị Lan".into(),
        phone: "+84912345678".into(),
        address: "12 Hàng Bạc, Hà Nội".into(),
    }
}
