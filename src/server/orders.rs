//! The seller's orders over HTTP: `GET /api/rooms/{id}/orders` (JSON) and
//! `GET /api/rooms/{id}/orders.csv` (a spreadsheet, with totals).
//!
//! Orders carry buyers' phone numbers and addresses, so only the room's
//! seller (or an admin) may read them.

use std::collections::HashMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::protocol::{ErrorCode, Order, Vnd};
use crate::room::RoomError;
use crate::sale::{
    Carrier, OrderActor, OrderChange, OrderStatus, PaymentMethod, SaleError, SaleStore,
};

use super::api::{authorize_manager, ApiError};
use super::fulfilment;
use super::refusal::Coded;
use super::AppState;

#[derive(Debug, Serialize)]
pub struct OrdersReport {
    /// Oldest first.
    pub orders: Vec<Order>,
    pub units_sold: u64,
    pub revenue_vnd: Vnd,
    /// A practice room's orders: practice, never real (no goods ship).
    pub practice: bool,
}

impl From<SaleError> for ApiError {
    fn from(error: SaleError) -> ApiError {
        let status = match error {
            SaleError::SaleNotFound
            | SaleError::HoldNotFound
            | SaleError::OrderNotFound
            | SaleError::VoucherNotFound => StatusCode::NOT_FOUND,
            SaleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            SaleError::Forbidden => StatusCode::FORBIDDEN,
            SaleError::HoldExpired => StatusCode::GONE,
            SaleError::SaleRunning
            | SaleError::LimitReached
            | SaleError::InvalidTransition { .. }
            | SaleError::CancelWindowClosed
            | SaleError::InsufficientStock { .. }
            | SaleError::VoucherExpired
            | SaleError::VoucherUsedUp
            | SaleError::VoucherAlreadyUsed
            | SaleError::VoucherNotClaimed
            | SaleError::VoucherMinOrder { .. }
            | SaleError::VoucherNotDropped
            | SaleError::VoucherExists => StatusCode::CONFLICT,
            SaleError::InvalidShipping(_) | SaleError::InvalidValue(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            SaleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

/// Which orders the seller's table shows (`?status=packed&q=lan`), and the
/// CSV's language (`&lang=en`; Vietnamese otherwise).
#[derive(Debug, Default, Deserialize)]
pub struct OrderFilter {
    /// Only orders in this status.
    status: Option<OrderStatus>,
    /// Only orders whose code, buyer name, shipping name or phone contains
    /// this (case-insensitive).
    q: Option<String>,
    lang: Option<String>,
}

impl OrderFilter {
    fn keeps(&self, order: &Order) -> bool {
        if self.status.is_some_and(|status| status != order.status) {
            return false;
        }
        let Some(query) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) else {
            return true;
        };
        let query = query.to_lowercase();
        [
            &order.order_id,
            &order.buyer_name,
            &order.shipping.name,
            &order.shipping.phone,
        ]
        .iter()
        .any(|field| field.to_lowercase().contains(&query))
    }
}

/// The room's orders, for its seller or an admin.
async fn orders_of(
    state: &AppState,
    room_id: &str,
    headers: &HeaderMap,
    filter: &OrderFilter,
) -> Result<OrdersReport, ApiError> {
    let known = authorize_manager(state, room_id, headers, "read or change its orders").await?;
    let mut orders = state.sales_for(room_id).orders_for_room(room_id).await?;
    // Orders outlive their room's other records (which expire some time
    // after it ends): a room nobody knows is an error only without orders.
    if !known && orders.is_empty() {
        return Err(RoomError::RoomNotFound.into());
    }
    orders.retain(|order| filter.keeps(order));
    // Cancelled orders are listed (with their status) but sold nothing.
    let sold = || orders.iter().filter(|o| o.status != OrderStatus::Cancelled);
    let units_sold = sold().map(|o| u64::from(o.quantity)).sum();
    let revenue_vnd = sold().map(|o| o.total_vnd).sum();
    Ok(OrdersReport {
        orders,
        units_sold,
        revenue_vnd,
        practice: state.classes.is_practice_room(room_id),
    })
}

pub async fn list(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(filter): Query<OrderFilter>,
    headers: HeaderMap,
) -> Result<Json<OrdersReport>, ApiError> {
    Ok(Json(orders_of(&state, &room_id, &headers, &filter).await?))
}

/// What a change answers: the order as it now stands, and whether this call
/// changed it.
#[derive(Debug, Serialize)]
pub struct ChangeReport {
    order: Order,
    changed: bool,
}

/// `POST /api/rooms/{id}/orders/{order_id}/status` with an [`OrderChange`]:
/// the seller moves one order along.
pub async fn change_status(
    State(state): State<AppState>,
    Path((room_id, order_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<OrderChange>, JsonRejection>,
) -> Result<Json<ChangeReport>, ApiError> {
    authorize_manager(&state, &room_id, &headers, "read or change its orders").await?;
    let Json(change) = body?;
    let update =
        fulfilment::change(&state, &room_id, &order_id, &change, &OrderActor::Seller).await?;
    Ok(Json(ChangeReport {
        order: update.order,
        changed: update.changed,
    }))
}

/// Most orders one bulk change may name.
pub const MAX_BULK_ORDERS: usize = 200;

/// One order of a bulk change, with its own change (a shipment has its own
/// tracking code).
#[derive(Debug, Deserialize)]
pub struct BulkItem {
    order_id: String,
    #[serde(flatten)]
    change: OrderChange,
}

#[derive(Debug, Deserialize)]
pub struct BulkRequest {
    changes: Vec<BulkItem>,
}

/// One order's result in a bulk change: the order, or why it was refused.
#[derive(Debug, Serialize)]
pub struct BulkResult {
    order_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    order: Option<Order>,
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    code: ErrorCode,
    message: String,
}

/// `POST /api/rooms/{id}/orders/status`: the seller's "mark packed /
/// shipped" on many orders at once. Each order is changed on its own (one
/// refusal does not stop the others); the answer lists every result in the
/// request's order.
pub async fn change_many(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<BulkRequest>, JsonRejection>,
) -> Result<Json<Vec<BulkResult>>, ApiError> {
    authorize_manager(&state, &room_id, &headers, "read or change its orders").await?;
    let Json(request) = body?;
    if request.changes.is_empty() || request.changes.len() > MAX_BULK_ORDERS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            format!("changes must name 1 to {MAX_BULK_ORDERS} orders"),
        ));
    }
    let mut results = Vec::with_capacity(request.changes.len());
    for item in request.changes {
        let outcome = fulfilment::change(
            &state,
            &room_id,
            &item.order_id,
            &item.change,
            &OrderActor::Seller,
        )
        .await;
        results.push(match outcome {
            Ok(update) => BulkResult {
                order_id: item.order_id,
                order: Some(update.order),
                changed: Some(update.changed),
                error: None,
            },
            Err(error) => BulkResult {
                order_id: item.order_id,
                order: None,
                changed: None,
                error: Some(ErrorBody {
                    code: error.code(),
                    message: error.to_string(),
                }),
            },
        });
    }
    Ok(Json(results))
}

pub async fn csv(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    Query(filter): Query<OrderFilter>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let report = orders_of(&state, &room_id, &headers, &filter).await?;
    // Orders name their product; those stored before they did are named
    // by their sale.
    let mut product_names: HashMap<String, String> = HashMap::new();
    for order in &report.orders {
        if order.product_name.is_empty() && !product_names.contains_key(&order.sale_id) {
            let sale = state
                .sales_for(&room_id)
                .get_sale(&room_id, &order.sale_id, crate::clock::unix_millis())
                .await?;
            product_names.insert(order.sale_id.clone(), sale.product_name);
        }
    }
    let language = match filter.lang.as_deref() {
        Some("en") => Language::English,
        _ => Language::Vietnamese,
    };
    let body = render_csv(&report, &product_names, language).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            e.to_string(),
        )
    })?;
    // A practice room's export says so in its name ("luyện tập").
    let practice = if report.practice { "-luyen-tap" } else { "" };
    let disposition = format!("attachment; filename=\"orders-{room_id}{practice}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The CSV's language: its headers, statuses and payment methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Vietnamese,
    English,
}

/// Vietnam's time zone (Asia/Ho_Chi_Minh): UTC+7 all year, no daylight
/// saving, so a fixed offset is exact.
const VIETNAM: time::UtcOffset = match time::UtcOffset::from_hms(7, 0, 0) {
    Ok(offset) => offset,
    Err(_) => time::UtcOffset::UTC,
};

const HEADERS_VI: [&str; 17] = [
    "Mã đơn",
    "Thời gian đặt",
    "Người mua",
    "Người nhận",
    "Số điện thoại",
    "Địa chỉ",
    "Sản phẩm",
    "Số lượng",
    "Đơn giá (₫)",
    "Thành tiền (₫)",
    "Thanh toán",
    "Trạng thái",
    "Đơn vị vận chuyển",
    "Mã vận đơn",
    "Cập nhật lúc",
    "Mã giảm giá",
    "Giảm (₫)",
];

const HEADERS_EN: [&str; 17] = [
    "Order code",
    "Ordered at",
    "Buyer",
    "Recipient",
    "Phone",
    "Address",
    "Product",
    "Quantity",
    "Unit price (VND)",
    "Total (VND)",
    "Payment",
    "Status",
    "Carrier",
    "Tracking code",
    "Updated at",
    "Voucher",
    "Discount (VND)",
];

impl Language {
    fn headers(self) -> [&'static str; 17] {
        match self {
            Language::Vietnamese => HEADERS_VI,
            Language::English => HEADERS_EN,
        }
    }

    fn total(self) -> &'static str {
        match self {
            Language::Vietnamese => "TỔNG",
            Language::English => "TOTAL",
        }
    }

    fn status(self, status: OrderStatus) -> &'static str {
        match (self, status) {
            (Language::English, status) => status.as_str(),
            (_, OrderStatus::Confirmed) => "Đã xác nhận",
            (_, OrderStatus::Paid) => "Đã thanh toán",
            (_, OrderStatus::Packed) => "Đã đóng gói",
            (_, OrderStatus::Shipped) => "Đang giao",
            (_, OrderStatus::Delivered) => "Đã giao",
            (_, OrderStatus::Cancelled) => "Đã hủy",
        }
    }

    fn payment(self, payment: PaymentMethod) -> &'static str {
        match (self, payment) {
            (Language::Vietnamese, PaymentMethod::Cod) => "Thanh toán khi nhận hàng (COD)",
            (Language::Vietnamese, PaymentMethod::BankTransfer) => "Chuyển khoản (VietQR)",
            (Language::English, PaymentMethod::Cod) => "Cash on delivery",
            (Language::English, PaymentMethod::BankTransfer) => "Bank transfer (VietQR)",
        }
    }
}

fn carrier_name(carrier: Carrier) -> &'static str {
    match carrier {
        Carrier::Ghn => "GHN",
        Carrier::Ghtk => "GHTK",
        Carrier::ViettelPost => "Viettel Post",
        Carrier::Vnpost => "VNPost",
        Carrier::Other => "Other",
    }
}

/// The CSV text: a header, one row per order (cancelled ones included, with
/// their status), and a totals row of what sold. Starts with a UTF-8
/// What the CSV's product column says: the order's product, or a bag
/// order's lines (`Chè Tân Cương ×2; Mật ong ×1`).
fn product_cell(order: &Order, product_names: &HashMap<String, String>) -> String {
    if order.lines.len() > 1 {
        let lines: Vec<String> = order
            .lines
            .iter()
            .map(|line| format!("{} ×{}", line.product_name, line.quantity))
            .collect();
        return lines.join("; ");
    }
    if !order.product_name.is_empty() {
        return order.product_name.clone();
    }
    product_names
        .get(&order.sale_id)
        .cloned()
        .unwrap_or_default()
}

/// byte-order mark so spreadsheet programs read Vietnamese correctly; times
/// are Vietnam's local time; phone numbers are written `="0912345678"` so
/// Excel keeps them as text (with their leading zero).
pub fn render_csv(
    report: &OrdersReport,
    product_names: &HashMap<String, String>,
    language: Language,
) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(language.headers())?;
    for order in &report.orders {
        let product = product_cell(order, product_names);
        // A bag order of several lines has no one unit price.
        let unit_price = match order.lines.len() {
            0 | 1 => order.unit_price_vnd.to_string(),
            _ => String::new(),
        };
        let updated_at = order
            .history
            .last()
            .map(|change| local_time(change.at))
            .unwrap_or_default();
        let (carrier, tracking) = match &order.shipment {
            Some(shipment) => (
                carrier_name(shipment.carrier),
                shipment.tracking_code.as_str(),
            ),
            None => ("", ""),
        };
        writer.write_record([
            order.order_id.to_uppercase().as_str(),
            &local_time(order.created_at),
            &cell(&order.buyer_name),
            &cell(&order.shipping.name),
            &phone_cell(&order.shipping.phone),
            &cell(&order.shipping.address),
            &cell(&product),
            &order.quantity.to_string(),
            &unit_price,
            &order.total_vnd.to_string(),
            language.payment(order.payment),
            language.status(order.status),
            carrier,
            &cell(tracking),
            &updated_at,
            order.voucher_code.as_deref().unwrap_or(""),
            &order.discount_vnd.to_string(),
        ])?;
    }
    let mut totals = vec![String::new(); 17];
    totals[0] = language.total().to_owned();
    totals[7] = report.units_sold.to_string();
    totals[9] = report.revenue_vnd.to_string();
    writer.write_record(&totals)?;
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

/// Buyer-typed text could start with `=`, `+`, `-` or `@`, which spreadsheet
/// programs run as a formula: prefix it with an apostrophe (CSV injection).
pub(super) fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// A phone number as a text formula Excel keeps verbatim. Phones are
/// validated digits (`validate::shipping`), so nothing else can reach the
/// formula; anything that is not digits is written as a plain cell.
fn phone_cell(phone: &str) -> String {
    if !phone.is_empty() && phone.bytes().all(|b| b.is_ascii_digit()) {
        format!("=\"{phone}\"")
    } else {
        cell(phone)
    }
}

/// `dd/mm/yyyy HH:MM:SS` in Vietnam's time.
pub(super) fn local_time(unix_millis: u64) -> String {
    let nanos = i128::from(unix_millis) * 1_000_000;
    let format = time::macros::format_description!("[day]/[month]/[year] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.to_offset(VIETNAM).format(&format).ok())
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
            product_name: "Chè".into(),
            quantity: 2,
            unit_price_vnd: 199_000,
            total_vnd: 398_000,
            shipping: Shipping {
                name: name.into(),
                phone: "0912345678".into(),
                address: address.into(),
            },
            created_at: 0,
            payment: PaymentMethod::Cod,
            status: OrderStatus::Confirmed,
            shipment: None,
            history: Vec::new(),
            voucher_code: None,
            discount_vnd: 0,
            status_tag: "t".into(),
            lines: Vec::new(),
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
            practice: false,
        };
        // An order stored before orders named their product: its sale's.
        let mut legacy = report.orders[0].clone();
        legacy.product_name = String::new();
        let report = OrdersReport {
            orders: vec![legacy],
            ..report
        };
        let names = HashMap::from([("s1".to_owned(), "Chè Tân Cương".to_owned())]);
        let text = render_csv(&report, &names, Language::Vietnamese).unwrap();
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        assert_eq!(&reader.headers().unwrap()[0], "Mã đơn");
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][0], "O1");
        assert_eq!(&rows[0][5], "12 Hoàng Văn Thụ, \"TP\" Thái Nguyên");
        assert_eq!(&rows[0][6], "Chè Tân Cương");
        assert_eq!(&rows[0][11], "Đã xác nhận");
        assert_eq!(&rows[1][0], "TỔNG");
        assert_eq!(&rows[1][9], "398000");
    }

    #[test]
    fn a_bag_order_lists_its_lines_in_one_row() {
        let line = |name: &str, quantity| crate::sale::OrderLine {
            product_id: "p".into(),
            product_name: name.into(),
            quantity,
            unit_price_vnd: 100_000,
            hold_id: "bag-01".into(),
        };
        let bag = Order {
            sale_id: "bag".into(),
            unit_price_vnd: 0,
            quantity: 3,
            lines: vec![line("Chè Tân Cương", 2), line("Mật ong", 1)],
            ..order("Lan", "Thái Nguyên")
        };
        let report = OrdersReport {
            orders: vec![bag],
            units_sold: 3,
            revenue_vnd: 300_000,
            practice: false,
        };
        let text = render_csv(&report, &HashMap::new(), Language::English).unwrap();
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[6], "Chè Tân Cương ×2; Mật ong ×1");
        assert_eq!(&row[7], "3");
        assert_eq!(&row[8], "", "no one unit price");
    }

    #[test]
    fn times_are_vietnams_local_time() {
        // 1970-01-01T00:00:00Z is 07:00 in Hà Nội.
        assert_eq!(local_time(0), "01/01/1970 07:00:00");
    }

    #[test]
    fn phones_stay_text_with_their_leading_zero() {
        assert_eq!(phone_cell("0912345678"), "=\"0912345678\"");
        assert_eq!(phone_cell("=1+1"), "'=1+1");
    }

    #[test]
    fn the_english_csv_has_english_headers_and_statuses() {
        let mut shipped = order("Lan", "Hà Nội");
        shipped.status = OrderStatus::Shipped;
        shipped.shipment = Some(crate::sale::Shipment {
            carrier: Carrier::Ghtk,
            tracking_code: "S1".into(),
        });
        let report = OrdersReport {
            orders: vec![shipped],
            units_sold: 2,
            revenue_vnd: 398_000,
            practice: false,
        };
        let text = render_csv(&report, &HashMap::new(), Language::English).unwrap();
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        assert_eq!(&reader.headers().unwrap()[0], "Order code");
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[11], "shipped");
        assert_eq!(&row[12], "GHTK");
        assert_eq!(&row[13], "S1");
    }

    #[test]
    fn formula_like_cells_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("Lan"), "Lan");
    }
}
