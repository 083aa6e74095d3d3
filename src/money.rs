//! Money: whole Vietnamese đồng, and the one price ceiling.
//!
//! A leaf module: products (`room::product`) and flash sales (`sale`) both
//! take their ceiling from here, so a product may always be put on sale at
//! its catalog price.

/// Money is whole Vietnamese đồng: VND has no minor unit in practice.
pub type Vnd = u64;

/// The largest price anything may carry, for products and sales alike.
///
/// One billion đồng is far beyond any live sale. It keeps every order total
/// (a price times at most 1,000 units: 10^12) far inside `u64` and exact in
/// the 14 significant digits Redis' Lua JSON encoder prints, which the Redis
/// sale store relies on.
pub const MAX_PRICE_VND: Vnd = 1_000_000_000;
