//! The seller's orders over HTTP: `GET /api/rooms/{id}/orders` (JSON) and
//! `GET /api/rooms/{id}/orders.csv` (a spreadsheet, with totals).
//!
//! Orders carry buyers' phone numbers and addresses, so only the room's
//! seller (or an admin) may read them.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::protocol::{ErrorCode, Order, Vnd};
use crate::room::RoomError;
use crate::sale::{SaleError, SaleStore};

use super::api::{bearer_claims, ApiError};
use super::refusal::Coded;
use super::AppState;

#[derive(Debug, Serialize)]
pub struct OrdersReport {
    /// Oldest first.
    pub orders: Vec<Order>,
    pub units_sold: u64,
    pub revenue_vnd: Vnd,
}

impl From<SaleError> for ApiError {
    fn from(error: SaleError) -> ApiError {
        let status = match error {
            SaleError::SaleNotFound | SaleError::HoldNotFound => StatusCode::NOT_FOUND,
            SaleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            SaleError::Forbidden => StatusCode::FORBIDDEN,
            SaleError::HoldExpired => StatusCode::GONE,
            SaleError::SaleRunning | SaleError::LimitReached => StatusCode::CONFLICT,
            SaleError::InvalidShipping(_) | SaleError::InvalidValue(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            SaleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

/// The room's orders, for its seller or an admin.
async fn orders_of(
    state: &AppState,
    room_id: &str,
    headers: &HeaderMap,
) -> Result<OrdersReport, ApiError> {
    let claims = bearer_claims(state, headers)?;
    let known = match state.rooms.info(room_id).await {
        Ok(_) => true,
        Err(RoomError::RoomNotFound) => false,
        Err(error) => return Err(error.into()),
    };
    if !claims.manages(room_id) {
        if !known {
            return Err(RoomError::RoomNotFound.into());
        }
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only the room's seller or an admin may read its orders",
        ));
    }
    let orders = state.sales.orders_for_room(room_id).await?;
    // Orders outlive their room's other records (which expire some time
    // after it ends): a room nobody knows is an error only without orders.
    if !known && orders.is_empty() {
        return Err(RoomError::RoomNotFound.into());
    }
    let units_sold = orders.iter().map(|o| u64::from(o.quantity)).sum();
    let revenue_vnd = orders.iter().map(|o| o.total_vnd).sum();
    Ok(OrdersReport {
        orders,
        units_sold,
        revenue_vnd,
    })
}

pub async fn list(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<OrdersReport>, ApiError> {
    Ok(Json(orders_of(&state, &room_id, &headers).await?))
}

pub async fn csv(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let report = orders_of(&state, &room_id, &headers).await?;
    let mut product_names: HashMap<String, String> = HashMap::new();
    for order in &report.orders {
        if !product_names.contains_key(&order.sale_id) {
            let sale = state
                .sales
                .get_sale(&room_id, &order.sale_id, crate::clock::unix_millis())
                .await?;
            product_names.insert(order.sale_id.clone(), sale.product_name);
        }
    }
    let body = render_csv(&report, &product_names).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            e.to_string(),
        )
    })?;
    let disposition = format!("attachment; filename=\"orders-{room_id}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The CSV text: a header, one row per order, and a totals row. Starts with
/// a UTF-8 byte-order mark so spreadsheet programs read Vietnamese correctly.
pub fn render_csv(
    report: &OrdersReport,
    product_names: &HashMap<String, String>,
) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "order_id",
        "created_at",
        "buyer_name",
        "phone",
        "address",
        "product_name",
        "quantity",
        "unit_price_vnd",
        "total_vnd",
    ])?;
    for order in &report.orders {
        let product = product_names
            .get(&order.sale_id)
            .map(String::as_str)
            .unwrap_or("");
        writer.write_record([
            order.order_id.as_str(),
            &rfc3339(order.created_at),
            &cell(&order.shipping.name),
            &cell(&order.shipping.phone),
            &cell(&order.shipping.address),
            &cell(product),
            &order.quantity.to_string(),
            &order.unit_price_vnd.to_string(),
            &order.total_vnd.to_string(),
        ])?;
    }
    writer.write_record([
        "TOTAL",
        "",
        "",
        "",
        "",
        "",
        &report.units_sold.to_string(),
        "",
        &report.revenue_vnd.to_string(),
    ])?;
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

/// Buyer-typed text could start with `=`, `+`, `-` or `@`, which spreadsheet
/// programs run as a formula: prefix it with an apostrophe (CSV injection).
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn rfc3339(unix_millis: u64) -> String {
    let nanos = i128::from(unix_millis) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Shipping;

    fn order(name: &str, address: &str) -> Order {
        Order {
            order_id: "o1".into(),
            sale_id: "s1".into(),
            hold_id: "s1-h".into(),
            buyer_id: "b".into(),
            buyer_name: "Lan".into(),
            quantity: 2,
            unit_price_vnd: 199_000,
            total_vnd: 398_000,
            shipping: Shipping {
                name: name.into(),
                phone: "0912345678".into(),
                address: address.into(),
            },
            created_at: 0,
        }
    }

    #[test]
    fn the_csv_has_a_row_per_order_and_a_totals_row() {
        let report = OrdersReport {
            orders: vec![order(
                "Nguyễn Thị Lan",
                "12 Hoàng Văn Thụ, \"TP\" Thái Nguyên",
            )],
            units_sold: 2,
            revenue_vnd: 398_000,
        };
        let names = HashMap::from([("s1".to_owned(), "Chè Tân Cương".to_owned())]);
        let text = render_csv(&report, &names).unwrap();
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][4], "12 Hoàng Văn Thụ, \"TP\" Thái Nguyên");
        assert_eq!(&rows[0][5], "Chè Tân Cương");
        assert_eq!(&rows[0][1], "1970-01-01T00:00:00Z");
        assert_eq!(&rows[1][0], "TOTAL");
        assert_eq!(&rows[1][8], "398000");
    }

    #[test]
    fn formula_like_cells_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("Lan"), "Lan");
    }
}
