//! Payment by bank transfer over HTTP: the bank list, the seller's account
//! per room, and each order's VietQR code.
//!
//! - `GET /api/banks`: well-known banks and their BINs, for a dropdown.
//! - `GET|PUT|DELETE /api/rooms/{id}/payment`: the room's bank account,
//!   for its seller or an admin only (a buyer sees it beside her order's
//!   code, never on its own).
//! - `GET /api/rooms/{id}/orders/{order_id}/vietqr` (JSON), `…/vietqr.svg`
//!   and `…/vietqr.png`: the code paying exactly the order's total, for the
//!   order's buyer and the room's seller or an admin. These take the token
//!   from `?token=` too, so an `<img src>` can carry it.
//!
//! Who may see an order is decided here, once ([`order_code`]); the code
//! itself is `payment::vietqr`'s. Codes: `docs/protocol.md`, "Payment
//! (VietQR)".

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::Claims;
use crate::payment::{vietqr, Bank, BankAccount, PaymentError, BANKS};
use crate::protocol::{ErrorCode, RoomStatus, Vnd};
use crate::room::RoomError;
use crate::sale::{Order, OrderStatus, PaymentMethod, SaleError, SaleStore};

use super::api::{bearer_claims, ApiError};
use super::credentials::access_token;
use super::refusal::Coded;
use super::AppState;

impl From<PaymentError> for ApiError {
    fn from(error: PaymentError) -> ApiError {
        let status = match error {
            PaymentError::InvalidValue { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            PaymentError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PaymentError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let api = ApiError::new(status, error.code(), error.to_string());
        match error {
            PaymentError::InvalidValue { field, .. } => api.about(field),
            _ => api,
        }
    }
}

fn payment_not_set() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::PaymentNotSet,
        "the seller has not set a bank account for this room: pay on delivery",
    )
}

fn order_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::OrderNotFound,
        "no such order of yours in this room",
    )
}

/// `GET /api/banks`: the table for the seller's dropdown, by short name.
pub async fn banks() -> Json<&'static [Bank]> {
    Json(BANKS)
}

/// A bank account as the API shows it: the three fields the seller sent
/// (normalised) and the bank of the table with that BIN, or `null`.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub bin: String,
    pub bank: Option<&'static Bank>,
    pub account_number: String,
    pub account_name: String,
}

impl From<&BankAccount> for AccountView {
    fn from(account: &BankAccount) -> AccountView {
        AccountView {
            bin: account.bin().to_owned(),
            bank: account.bank(),
            account_number: account.account_number().to_owned(),
            account_name: account.account_name().to_owned(),
        }
    }
}

/// The body of `PUT /api/rooms/{id}/payment` (or `null` to remove).
#[derive(Debug, Deserialize)]
pub struct AccountBody {
    bin: String,
    account_number: String,
    account_name: String,
}

/// The room, when `claims` manage it: 404 `room_not_found` for a room
/// nobody knows, 403 `forbidden` for anyone but its seller or an admin.
async fn managed_room(
    state: &AppState,
    room_id: &str,
    claims: &Claims,
) -> Result<RoomStatus, ApiError> {
    let status = match state.rooms.info(room_id).await {
        Ok(info) => Some(info.status),
        Err(RoomError::RoomNotFound | RoomError::InvalidValue(_)) => None,
        Err(error) => return Err(error.into()),
    };
    match status {
        None => Err(RoomError::RoomNotFound.into()),
        Some(_) if !claims.manages(room_id) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only the room's seller or an admin may see or change its bank account",
        )),
        Some(status) => Ok(status),
    }
}

/// `GET /api/rooms/{id}/payment`.
pub async fn get_account(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<AccountView>, ApiError> {
    let claims = bearer_claims(&state, &headers)?;
    managed_room(&state, &room_id, &claims).await?;
    match state.payments.account(&room_id).await? {
        Some(account) => Ok(Json(AccountView::from(&account))),
        None => Err(payment_not_set()),
    }
}

/// `PUT /api/rooms/{id}/payment`: sets the account (200, as stored), or
/// removes it with a `null` body (204). An ended room takes no new account
/// (410 `room_ended`): its records are expiring.
pub async fn put_account(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Option<AccountBody>>, JsonRejection>,
) -> Result<Response, ApiError> {
    let claims = bearer_claims(&state, &headers)?;
    let status = managed_room(&state, &room_id, &claims).await?;
    let Json(body) = body?;
    let Some(body) = body else {
        state.payments.set_account(&room_id, None).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let account = BankAccount::new(&body.bin, &body.account_number, &body.account_name)?;
    if status == RoomStatus::Ended {
        return Err(RoomError::Ended.into());
    }
    state.payments.set_account(&room_id, Some(&account)).await?;
    tracing::info!(room = %room_id, by = %claims.sub, bin = account.bin(), "bank account set");
    Ok(Json(AccountView::from(&account)).into_response())
}

/// `DELETE /api/rooms/{id}/payment`: 204, whether there was one or not.
pub async fn delete_account(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let claims = bearer_claims(&state, &headers)?;
    managed_room(&state, &room_id, &claims).await?;
    state.payments.set_account(&room_id, None).await?;
    tracing::info!(room = %room_id, by = %claims.sub, "bank account removed");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// What an order's code says, for the JSON variant; the images draw
/// `payload`.
#[derive(Debug, Serialize)]
pub struct OrderCode {
    /// The VietQR payload the images encode.
    pub payload: String,
    pub bin: String,
    pub bank: Option<&'static Bank>,
    pub account_number: String,
    pub account_name: String,
    pub amount_vnd: Vnd,
    /// The transfer's note: `CP <ORDER ID>`.
    pub note: String,
}

/// The transfer note of an order: `CP` and its id in capitals, folded and
/// cut as every note is (25 characters).
pub fn order_note(order_id: &str) -> String {
    vietqr::note(&format!("CP {}", order_id.to_uppercase()))
}

/// The order `order_id` of the room, if there is one (the sale store's
/// order index).
async fn find_order(
    state: &AppState,
    room_id: &str,
    order_id: &str,
) -> Result<Option<Order>, ApiError> {
    match state.sales_for(room_id).order(room_id, order_id).await {
        Ok(order) => Ok(Some(order)),
        Err(SaleError::OrderNotFound) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The code paying order `order_id` of `room_id`, for the request's token:
/// 401 without a valid token; 403 `forbidden` for a token of another room;
/// 404 `order_not_found` when there is no such order or it is someone
/// else's (a buyer sees her own orders only; the seller and admins see
/// every order of the room); 404 `payment_not_set` when the seller gave no
/// bank account.
pub async fn order_code(
    state: &AppState,
    room_id: &str,
    order_id: &str,
    query_token: Option<&str>,
    headers: &HeaderMap,
) -> Result<OrderCode, ApiError> {
    let claims = state.keys.verify(access_token(query_token, headers)?)?;
    let manages = claims.manages(room_id);
    if !manages && !claims.admits_to(room_id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this token is for another room",
        ));
    }
    let order = find_order(state, room_id, order_id)
        .await?
        .filter(|order| manages || order.buyer_id == claims.sub)
        .ok_or_else(order_not_found)?;
    code_for(state, room_id, &order).await
}

/// The code paying `order` of `room_id`, whoever proved they may see it:
/// 409 `invalid_state` unless it is a transfer waiting for its money, 404
/// `payment_not_set` when the seller gave no bank account.
pub async fn code_for(
    state: &AppState,
    room_id: &str,
    order: &Order,
) -> Result<OrderCode, ApiError> {
    if order.payment != PaymentMethod::BankTransfer || order.status != OrderStatus::Confirmed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::InvalidState,
            "this order is not waiting for a bank transfer (cash on delivery, already paid, or cancelled)",
        ));
    }
    let account = state
        .payments
        .account(room_id)
        .await?
        .ok_or_else(payment_not_set)?;
    let note = order_note(&order.order_id);
    let payload = vietqr::payload(&account, order.total_vnd, &note)?;
    let view = AccountView::from(&account);
    Ok(OrderCode {
        payload,
        bin: view.bin,
        bank: view.bank,
        account_number: view.account_number,
        account_name: view.account_name,
        amount_vnd: order.total_vnd,
        note,
    })
}

/// `GET /api/rooms/{id}/orders/{order_id}/vietqr`.
pub async fn code_json(
    State(state): State<AppState>,
    Path((room_id, order_id)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<OrderCode>, ApiError> {
    let code = order_code(
        &state,
        &room_id,
        &order_id,
        query.token.as_deref(),
        &headers,
    )
    .await?;
    Ok(Json(code))
}

/// `GET /api/rooms/{id}/orders/{order_id}/vietqr.svg`.
pub async fn code_svg(
    State(state): State<AppState>,
    Path((room_id, order_id)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let code = order_code(
        &state,
        &room_id,
        &order_id,
        query.token.as_deref(),
        &headers,
    )
    .await?;
    image("image/svg+xml", vietqr::svg(&code.payload)?.into_bytes())
}

/// `GET /api/rooms/{id}/orders/{order_id}/vietqr.png`.
pub async fn code_png(
    State(state): State<AppState>,
    Path((room_id, order_id)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let code = order_code(
        &state,
        &room_id,
        &order_id,
        query.token.as_deref(),
        &headers,
    )
    .await?;
    image("image/png", vietqr::png(&code.payload)?)
}

fn image(content_type: &'static str, bytes: Vec<u8>) -> Result<Response, ApiError> {
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_note_is_cp_and_the_id_in_capitals() {
        assert_eq!(order_note("9f2c41d07a3b5e68"), "CP 9F2C41D07A3B5E68");
        assert_eq!(
            order_note("0123456789abcdef0123456789abcdef"),
            "CP 0123456789ABCDEF012345"
        );
    }

    #[test]
    fn a_bad_field_is_named_in_the_error() {
        let error: ApiError = BankAccount::new("12", "123456", "LAN").unwrap_err().into();
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.code, ErrorCode::InvalidValue);
        assert_eq!(error.field, Some("bin"));
    }
}
