//! The buyer's order page, reached without a session: the order code (from
//! the confirmation, or the transfer note) and the shipping phone number.
//! `POST /api/orders/lookup` shows the order; `POST /api/orders/cancel`
//! cancels it within the buyer's window; `POST /api/orders/vietqr` gives a
//! bank-transfer order's payment code.
//!
//! Both take the phone in the body (never in a URL, which servers log) and
//! answer a wrong phone exactly like an unknown code (`order_not_found`), so
//! the page cannot be used to learn which codes exist. Lookups are
//! rate-limited per client address (`orders.lookups_per_minute`); codes are
//! 64 random bits, so guessing is hopeless anyway.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::protocol::{ErrorCode, Order};
use crate::sale::{validate, OrderChange, SaleError, SaleStore};

use super::api::ApiError;
use super::payment::{self, OrderCode};
use super::{fulfilment, AppState};

/// Order-page requests per client address.
pub struct OrderLookups {
    limiter: DefaultKeyedRateLimiter<std::net::IpAddr>,
}

impl OrderLookups {
    pub fn new(config: &Config) -> OrderLookups {
        let per_minute =
            NonZeroU32::new(config.orders.lookups_per_minute).unwrap_or(NonZeroU32::MIN);
        OrderLookups {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }
}

/// What the page sends: the code as printed (any case, spaces and a `CP`
/// prefix tolerated) and the phone as typed.
#[derive(Debug, Deserialize)]
pub struct OrderKey {
    order_code: String,
    phone: String,
}

/// `POST /api/orders/lookup`: the order, for whoever knows its code and
/// shipping phone.
pub async fn lookup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<OrderKey>, JsonRejection>,
) -> Result<Json<LookedUp>, ApiError> {
    let Json(key) = body?;
    let (room_id, order) = find(&state, peer, &headers, &key).await?;
    let practice = state.classes.is_practice_room(&room_id);
    Ok(Json(LookedUp { order, practice }))
}

/// An order as the order page shows it.
#[derive(Debug, Serialize)]
pub struct LookedUp {
    #[serde(flatten)]
    order: Order,
    /// Placed in a practice room: nothing will ship (absent otherwise).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    practice: bool,
}

/// What the order page shows to pay a transfer: the code's details and the
/// code itself as SVG markup (the page has no token for an image URL, and
/// the phone stays out of URLs).
#[derive(Debug, Serialize)]
pub struct PageCode {
    #[serde(flatten)]
    code: OrderCode,
    svg: String,
}

/// `POST /api/orders/vietqr`: the VietQR code of a bank-transfer order
/// waiting for its money, for whoever knows its code and shipping phone
/// (refusals as `lookup`, and as the room's code endpoints: 409
/// `invalid_state`, 404 `payment_not_set`).
pub async fn vietqr(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<OrderKey>, JsonRejection>,
) -> Result<Json<PageCode>, ApiError> {
    let Json(key) = body?;
    let (room_id, order) = find(&state, peer, &headers, &key).await?;
    let code = payment::code_for(&state, &room_id, &order).await?;
    let svg = crate::payment::vietqr::svg(&code.payload)?;
    Ok(Json(PageCode { code, svg }))
}

/// `POST /api/orders/cancel`: the buyer cancels her order (while it is
/// `confirmed`, within `orders.buyer_cancel_secs`).
pub async fn cancel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<OrderKey>, JsonRejection>,
) -> Result<Json<Order>, ApiError> {
    let Json(key) = body?;
    let (room_id, order) = find(&state, peer, &headers, &key).await?;
    let buyer = fulfilment::buyer(&state, &order.buyer_id);
    let update = fulfilment::change(
        &state,
        &room_id,
        &order.order_id,
        &OrderChange::Cancelled,
        &buyer,
    )
    .await?;
    Ok(Json(update.order))
}

/// The order and its room, if the code names one and the phone is its
/// shipping phone; otherwise `order_not_found`, whichever was wrong.
async fn find(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    key: &OrderKey,
) -> Result<(String, Order), ApiError> {
    let client = state.guests.client(peer, headers);
    if state.order_lookups.limiter.check_key(&client).is_err() {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many order lookups from this address: wait a minute",
        ));
    }
    let not_found = || ApiError::from(SaleError::OrderNotFound);
    let order_id = order_id_of(&key.order_code).ok_or_else(not_found)?;
    let phone = validate::vietnamese_phone(&key.phone).ok_or_else(not_found)?;
    // A practice room's orders are in this node's practice store.
    let room_id = match state.sales.order_room(&order_id).await? {
        Some(room_id) => room_id,
        None => state
            .practice_sales
            .order_room(&order_id)
            .await?
            .ok_or_else(not_found)?,
    };
    let order = match state.sales_for(&room_id).order(&room_id, &order_id).await {
        Ok(order) => order,
        Err(SaleError::OrderNotFound) => return Err(not_found()),
        Err(error) => return Err(error.into()),
    };
    if order.shipping.phone != phone {
        return Err(not_found());
    }
    Ok((room_id, order))
}

/// The order id in a code as a person may type it: `CP 1A2B…`, `1a2b…`.
fn order_id_of(code: &str) -> Option<String> {
    let compact: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    let id = compact.strip_prefix("cp").unwrap_or(&compact);
    crate::sale::ids::is_order_id(id).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_read_however_it_was_typed() {
        let id = "0123456789abcdef";
        for typed in [
            "0123456789abcdef",
            "0123456789ABCDEF",
            "CP 0123456789ABCDEF",
            " cp-0123 4567 89ab cdef ",
        ] {
            assert_eq!(order_id_of(typed).as_deref(), Some(id), "{typed}");
        }
        for bad in ["", "CP", "0123", "0123456789abcdefg", "{room:x}"] {
            assert_eq!(order_id_of(bad), None, "{bad}");
        }
    }
}
