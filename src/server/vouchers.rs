//! Vouchers over HTTP and the guard against guessing them.
//!
//! The room's seller (or an admin) creates vouchers and reads them with
//! their counts: `POST /api/rooms/{id}/vouchers`, `GET …/vouchers`. Dropping
//! and claiming happen over the WebSocket (`server/sales.rs`), and a voucher
//! is used by `confirm_hold`. Every attempt to claim or use a voucher costs
//! the caller one of `orders.voucher_tries_per_minute`, so codes cannot be
//! found by trying them one after another.

use std::num::NonZeroU32;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;

use crate::clock;
use crate::config::Config;
use crate::protocol::ErrorCode;
use crate::sale::{NewVoucher, SaleStore, Voucher};

use super::api::{authorize_manager, ApiError};
use super::refusal::Refusal;
use super::AppState;

/// Voucher tries per identity.
pub struct VoucherTries {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl VoucherTries {
    pub fn new(config: &Config) -> VoucherTries {
        let per_minute =
            NonZeroU32::new(config.orders.voucher_tries_per_minute).unwrap_or(NonZeroU32::MIN);
        VoucherTries {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }
}

/// Spends one of the identity's voucher tries: `rate_limited` (with when to
/// try again) once they are used up.
pub fn guess_allowed(state: &AppState, identity: &str) -> Result<(), Refusal> {
    match state.voucher_tries.limiter.check_key(&identity.to_owned()) {
        Ok(()) => Ok(()),
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Err(Refusal {
                retry_after_ms: Some(wait.as_millis().try_into().unwrap_or(u64::MAX)),
                ..Refusal::new(
                    ErrorCode::RateLimited,
                    "too many voucher codes tried: wait a moment",
                )
            })
        }
    }
}

#[derive(Debug, Serialize)]
pub struct VoucherList {
    /// By code.
    vouchers: Vec<Voucher>,
}

/// `POST /api/rooms/{id}/vouchers`: the seller creates a voucher (201).
pub async fn create(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<NewVoucher>, JsonRejection>,
) -> Result<(StatusCode, Json<Voucher>), ApiError> {
    authorize_manager(&state, &room_id, &headers, "manage its vouchers").await?;
    let Json(new) = body?;
    let made = state
        .sales_for(&room_id)
        .create_voucher(&room_id, new, clock::unix_millis())
        .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// `GET /api/rooms/{id}/vouchers`: the room's vouchers with their counts.
pub async fn list(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<VoucherList>, ApiError> {
    authorize_manager(&state, &room_id, &headers, "manage its vouchers").await?;
    let vouchers = state.sales_for(&room_id).vouchers(&room_id).await?;
    Ok(Json(VoucherList { vouchers }))
}
