//! What a product may be: one check for every way a product enters a room
//! (a catalog at room creation, `add_product`, `update_product`).
//!
//! A leaf module: plain rules over protocol data, no room state.

use std::fmt;

use crate::money::{Vnd, MAX_PRICE_VND};
use crate::protocol::{NewProduct, Product, ProductChanges};

use super::{text, RoomError};

/// Longest product name, in Unicode scalar values (see [`text::length`]),
/// after trimming.
pub const MAX_NAME_CHARS: usize = 120;
/// Longest description, in Unicode scalar values, after trimming. With the
/// other bounds it keeps a full catalog (`RoomLimits::max_products`) of a
/// room's snapshot around a megabyte at worst.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// The most units a product may list as in stock (as many as a flash sale
/// may offer).
pub const MAX_STOCK: u32 = 1_000_000;
/// The largest per-buyer limit (as a flash sale's).
pub const MAX_PER_BUYER_LIMIT: u32 = 1_000;
/// Longest image URL, in bytes.
pub const MAX_IMAGE_URL_BYTES: usize = 2_048;

/// The fields a request sets; `None` leaves a field as it is (an update) or
/// means the field has no rule to meet.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProductFields<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub price_vnd: Option<Vnd>,
    pub stock: Option<u32>,
    pub image_url: Option<&'a str>,
    /// 0 (in a change: remove the limit) is allowed where `removable`.
    pub per_buyer_limit: Option<u32>,
}

impl<'a> From<&'a NewProduct> for ProductFields<'a> {
    fn from(p: &'a NewProduct) -> Self {
        ProductFields {
            name: Some(&p.name),
            description: Some(&p.description),
            price_vnd: Some(p.price_vnd),
            stock: Some(p.stock),
            image_url: p.image_url.as_deref(),
            per_buyer_limit: p.per_buyer_limit,
        }
    }
}

impl<'a> From<&'a ProductChanges> for ProductFields<'a> {
    fn from(c: &'a ProductChanges) -> Self {
        ProductFields {
            name: c.name.as_deref(),
            description: c.description.as_deref(),
            price_vnd: c.price_vnd,
            stock: c.stock,
            image_url: c.image_url.as_deref(),
            // 0 removes the limit: as a rule, as good as none.
            per_buyer_limit: c.per_buyer_limit.filter(|&limit| limit > 0),
        }
    }
}

impl<'a> From<&'a Product> for ProductFields<'a> {
    fn from(p: &'a Product) -> Self {
        ProductFields {
            name: Some(&p.name),
            description: Some(&p.description),
            price_vnd: Some(p.price_vnd),
            stock: Some(p.stock),
            image_url: p.image_url.as_deref(),
            per_buyer_limit: p.per_buyer_limit,
        }
    }
}

/// A product field that breaks its rule; shown to people as
/// `price_vnd must be …`, or `products[3].price_vnd must be …` for the
/// product at (0-based) index 3 of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    /// The product's index in the list it came in, if any.
    pub index: Option<usize>,
    pub field: &'static str,
    pub rule: String,
}

impl InvalidField {
    fn new(field: &'static str, rule: impl Into<String>) -> InvalidField {
        InvalidField {
            index: None,
            field,
            rule: rule.into(),
        }
    }

    /// The same refusal, for the product at `index` of a list.
    pub fn at(self, index: usize) -> InvalidField {
        InvalidField {
            index: Some(index),
            ..self
        }
    }
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(index) = self.index {
            write!(f, "products[{index}].")?;
        }
        write!(f, "{} {}", self.field, self.rule)
    }
}

impl std::error::Error for InvalidField {}

impl From<InvalidField> for RoomError {
    fn from(error: InvalidField) -> RoomError {
        RoomError::InvalidValue(error.to_string())
    }
}

/// Checks every field that is set. Names and descriptions are judged as
/// they will be stored: trimmed.
pub fn check(fields: ProductFields<'_>) -> Result<(), InvalidField> {
    if let Some(name) = fields.name {
        let name = name.trim();
        if text::is_blank(name) || text::length(name) > MAX_NAME_CHARS {
            return Err(InvalidField::new(
                "name",
                format!("must have 1 to {MAX_NAME_CHARS} characters and not be blank"),
            ));
        }
    }
    if let Some(description) = fields.description {
        if text::length(description.trim()) > MAX_DESCRIPTION_CHARS {
            return Err(InvalidField::new(
                "description",
                format!("must have at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
    }
    if let Some(price) = fields.price_vnd {
        if !(1..=MAX_PRICE_VND).contains(&price) {
            return Err(InvalidField::new(
                "price_vnd",
                format!("must be between 1 and {MAX_PRICE_VND} đồng"),
            ));
        }
    }
    if let Some(stock) = fields.stock {
        if stock > MAX_STOCK {
            return Err(InvalidField::new(
                "stock",
                format!("must be at most {MAX_STOCK}"),
            ));
        }
    }
    if let Some(limit) = fields.per_buyer_limit {
        if !(1..=MAX_PER_BUYER_LIMIT).contains(&limit) {
            return Err(InvalidField::new(
                "per_buyer_limit",
                format!("must be between 1 and {MAX_PER_BUYER_LIMIT}"),
            ));
        }
    }
    if let Some(url) = fields.image_url {
        let ok = url.is_empty()
            || (url.len() <= MAX_IMAGE_URL_BYTES
                && (url.starts_with("https://")
                    || url.starts_with("http://")
                    || url.starts_with('/')));
        if !ok {
            return Err(InvalidField::new(
                "image_url",
                format!(
                    "must be an http(s) URL or a path on this server, \
                     at most {MAX_IMAGE_URL_BYTES} bytes"
                ),
            ));
        }
    }
    Ok(())
}

/// A whole catalog entry, checked and stored as `add_product` stores one:
/// name and description trimmed, an empty image URL as none.
pub fn checked(mut product: Product) -> Result<Product, InvalidField> {
    check(ProductFields::from(&product))?;
    product.name = product.name.trim().to_owned();
    product.description = product.description.trim().to_owned();
    product.image_url = product.image_url.filter(|url| !url.is_empty());
    Ok(product)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Product {
        Product {
            id: "p1".into(),
            name: " Chè Tân Cương ".into(),
            description: String::new(),
            price_vnd: 199_000,
            stock: 10,
            image_url: Some(String::new()),
            per_buyer_limit: None,
        }
    }

    fn refusal(change: impl FnOnce(&mut Product)) -> String {
        let mut p = product();
        change(&mut p);
        checked(p).unwrap_err().to_string()
    }

    #[test]
    fn a_good_product_is_trimmed_and_kept() {
        let p = checked(product()).unwrap();
        assert_eq!(p.name, "Chè Tân Cương");
        assert_eq!(p.image_url, None);
    }

    #[test]
    fn each_field_is_refused_by_name() {
        assert!(refusal(|p| p.name = "  ".into()).starts_with("name "));
        assert!(refusal(|p| p.name = "\u{200B}\u{3164}".into()).starts_with("name "));
        assert!(refusal(|p| p.name = "x".repeat(121)).starts_with("name "));
        assert!(refusal(|p| p.description = "x".repeat(1001)).starts_with("description "));
        assert!(refusal(|p| p.price_vnd = 0).starts_with("price_vnd "));
        assert!(refusal(|p| p.price_vnd = u64::MAX).starts_with("price_vnd "));
        assert!(refusal(|p| p.stock = u32::MAX).starts_with("stock "));
        assert!(refusal(|p| p.image_url = Some("javascript:x".into())).starts_with("image_url "));
    }

    #[test]
    fn the_bounds_themselves_are_accepted() {
        let mut p = product();
        p.name = "ệ".repeat(MAX_NAME_CHARS);
        p.description = "ệ".repeat(MAX_DESCRIPTION_CHARS);
        p.price_vnd = MAX_PRICE_VND;
        p.stock = MAX_STOCK;
        p.image_url = Some(format!("/{}", "a".repeat(MAX_IMAGE_URL_BYTES - 1)));
        assert!(checked(p).is_ok());
        let mut cheap = product();
        cheap.price_vnd = 1;
        cheap.stock = 0;
        assert!(checked(cheap).is_ok());
    }

    #[test]
    fn a_product_in_a_list_is_named_by_its_index() {
        let error = check(ProductFields {
            price_vnd: Some(0),
            ..Default::default()
        })
        .unwrap_err()
        .at(3);
        assert_eq!(
            error.to_string(),
            "products[3].price_vnd must be between 1 and 1000000000 đồng"
        );
    }
}
