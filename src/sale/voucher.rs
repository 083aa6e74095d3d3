//! Vouchers: a seller's discount codes in her room, and the one rule for
//! what a voucher takes off an order.
//!
//! A voucher is either typed at checkout (`drop: false`: anyone who knows
//! the code, up to `total_uses` orders) or *dropped* during the live
//! (`drop: true`): the seller opens it and the first `total_uses` viewers to
//! tap claim it, exactly that many; only a claimer may use it. Either way a
//! buyer — her identity, and her shipping phone — uses a voucher once.
//!
//! Definitions never change after creation; the counts (uses, claims, who
//! used it) change only inside the store's atomic steps: claiming, and
//! confirming a hold (where the use is checked and recorded together with
//! the order, so a voucher is never used more than it allows, even by
//! concurrent checkouts), and cancelling an order (its units go back in
//! the same step) gives its use back: a dropped voucher is the buyer's
//! again, a typed one may be used again.

use serde::{Deserialize, Serialize};

use super::SaleError;
use crate::clock::UnixMillis;
use crate::money::{Vnd, MAX_PRICE_VND};

/// Most uses (or claims) one voucher may allow.
pub const MAX_VOUCHER_USES: u32 = 100_000;
/// Longest a voucher may stay valid: 90 days.
pub const MAX_VOUCHER_LIFE_MS: u64 = 90 * 24 * 3600 * 1000;

/// What a voucher takes off an order's subtotal.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discount {
    /// This many đồng (at most the subtotal).
    Fixed { amount_vnd: Vnd },
    /// This percent of the subtotal, rounded down, at most `max_vnd`.
    Percent { percent: u8, max_vnd: Vnd },
}

impl Discount {
    /// What comes off `subtotal`: never more than the subtotal itself.
    pub fn off(&self, subtotal: Vnd) -> Vnd {
        let off = match *self {
            Discount::Fixed { amount_vnd } => amount_vnd,
            Discount::Percent { percent, max_vnd } => {
                (subtotal.saturating_mul(u64::from(percent)) / 100).min(max_vnd)
            }
        };
        off.min(subtotal)
    }
}

/// What a seller asks for.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct NewVoucher {
    /// 3–20 letters and digits, any case (kept upper case).
    pub code: String,
    pub discount: Discount,
    /// The subtotal an order needs for the voucher to apply (0: any).
    #[serde(default)]
    pub min_order_vnd: Vnd,
    pub total_uses: u32,
    /// When it becomes valid (default: now).
    #[serde(default)]
    pub starts_at: Option<UnixMillis>,
    pub ends_at: UnixMillis,
    /// Claimed by tapping when the seller drops it, instead of typed.
    #[serde(default)]
    pub drop: bool,
}

/// A voucher as the store keeps it: its definition, and its counts.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Voucher {
    pub code: String,
    pub discount: Discount,
    pub min_order_vnd: Vnd,
    pub total_uses: u32,
    pub starts_at: UnixMillis,
    pub ends_at: UnixMillis,
    pub drop: bool,
    pub created_at: UnixMillis,
    /// Orders that used it.
    #[serde(default)]
    pub used: u32,
    /// Viewers who claimed it (drop vouchers).
    #[serde(default)]
    pub claimed: u32,
    /// The seller has dropped it: claims are open.
    #[serde(default)]
    pub dropped: bool,
}

impl Voucher {
    /// Valid at `now` (inside its window).
    pub fn valid_at(&self, now: UnixMillis) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// What an order of `quantity` at `unit_price` comes to with `voucher`:
/// `(discount, total)`. Refuses `VoucherMinOrder` under the voucher's
/// minimum. Both stores price an order with this, before their atomic step
/// checks and records the use.
pub fn price(
    voucher: Option<&Voucher>,
    unit_price: Vnd,
    quantity: u32,
) -> Result<(Vnd, Vnd), SaleError> {
    let subtotal = unit_price.saturating_mul(u64::from(quantity));
    let Some(voucher) = voucher else {
        return Ok((0, subtotal));
    };
    if subtotal < voucher.min_order_vnd {
        return Err(SaleError::VoucherMinOrder {
            min_order_vnd: voucher.min_order_vnd,
        });
    }
    let discount = voucher.discount.off(subtotal);
    Ok((discount, subtotal - discount))
}

/// A voucher code as a person may type it: trimmed, upper case; `None`
/// unless 3–20 ASCII letters and digits.
pub fn normalize_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    ((3..=20).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(code)
}

/// Checks a seller's voucher and makes it a record created at `now`.
pub fn new_voucher(new: NewVoucher, now: UnixMillis) -> Result<Voucher, SaleError> {
    let invalid = |message: &str| Err(SaleError::InvalidValue(message.to_owned()));
    let Some(code) = normalize_code(&new.code) else {
        return invalid("code must be 3–20 letters or digits");
    };
    match new.discount {
        Discount::Fixed { amount_vnd } if !(1..=MAX_PRICE_VND).contains(&amount_vnd) => {
            return invalid("amount_vnd must be 1–1000000000");
        }
        Discount::Percent { percent, max_vnd }
            if !(1..=100).contains(&percent) || !(1..=MAX_PRICE_VND).contains(&max_vnd) =>
        {
            return invalid("percent must be 1–100 and max_vnd 1–1000000000");
        }
        _ => {}
    }
    if new.min_order_vnd > MAX_PRICE_VND {
        return invalid("min_order_vnd must be at most 1000000000");
    }
    if !(1..=MAX_VOUCHER_USES).contains(&new.total_uses) {
        return invalid("total_uses must be 1–100000");
    }
    let starts_at = new.starts_at.unwrap_or(now);
    if new.ends_at <= starts_at.max(now) || new.ends_at - starts_at > MAX_VOUCHER_LIFE_MS {
        return invalid("ends_at must be in the future, at most 90 days after starts_at");
    }
    Ok(Voucher {
        code,
        discount: new.discount,
        min_order_vnd: new.min_order_vnd,
        total_uses: new.total_uses,
        starts_at,
        ends_at: new.ends_at,
        drop: new.drop,
        created_at: now,
        used: 0,
        claimed: 0,
        dropped: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percent_is_rounded_down_and_capped() {
        let ten = Discount::Percent {
            percent: 10,
            max_vnd: 50_000,
        };
        assert_eq!(ten.off(199_999), 19_999);
        assert_eq!(ten.off(1_000_000), 50_000);
    }

    #[test]
    fn nothing_takes_off_more_than_the_subtotal() {
        let fixed = Discount::Fixed { amount_vnd: 80_000 };
        assert_eq!(fixed.off(50_000), 50_000);
        assert_eq!(fixed.off(199_000), 80_000);
    }

    #[test]
    fn codes_are_read_however_they_are_typed() {
        assert_eq!(normalize_code(" tra10 ").as_deref(), Some("TRA10"));
        for bad in ["", "AB", "TRÀ10", "TRA 10", "{x}", &"A".repeat(21)] {
            assert_eq!(normalize_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_voucher_must_end_in_the_future_and_allow_some_uses() {
        let new = NewVoucher {
            code: "TRA10".into(),
            discount: Discount::Fixed { amount_vnd: 10_000 },
            min_order_vnd: 0,
            total_uses: 5,
            starts_at: None,
            ends_at: 2_000,
            drop: false,
        };
        assert!(new_voucher(new.clone(), 1_000).is_ok());
        assert!(new_voucher(new.clone(), 2_000).is_err(), "already over");
        assert!(new_voucher(
            NewVoucher {
                total_uses: 0,
                ..new.clone()
            },
            1_000
        )
        .is_err());
        let zero = NewVoucher {
            discount: Discount::Percent {
                percent: 0,
                max_vnd: 1,
            },
            ..new
        };
        assert!(new_voucher(zero, 1_000).is_err());
    }
}
