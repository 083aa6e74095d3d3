//! How the Redis store names its keys and reads what Redis answers: key
//! layout, stored records, function replies and error classification. Pure
//! functions, no I/O.

use std::collections::HashMap;

use redis::{ErrorKind, RedisError, ServerErrorKind};
use serde::Deserialize;

use crate::clock::UnixMillis;
use crate::sale::{oldest_first, Hold, Order, SaleError, SaleInfo, SaleTimes};

/// The seven keys of one sale, in the order the functions expect them.
pub(super) struct SaleKeys(pub(super) [String; 7]);

impl SaleKeys {
    pub(super) fn new(sale_id: &str) -> SaleKeys {
        let key = |name: &str| format!("{{sale:{sale_id}}}:{name}");
        SaleKeys([
            key("meta"),
            key("buyers"),
            key("idem"),
            key("holds"),
            key("deadlines"),
            key("statuses"),
            key("orders"),
        ])
    }

    pub(super) fn meta(&self) -> &str {
        &self.0[0]
    }

    pub(super) fn holds(&self) -> &str {
        &self.0[3]
    }

    pub(super) fn orders(&self) -> &str {
        &self.0[6]
    }
}

pub(super) fn room_sales_key(room_id: &str) -> String {
    format!("chophien:room-sales:{room_id}")
}

/// A hold as the functions store it (JSON inside `{sale:ID}:holds`): the
/// public [`Hold`] plus who owns it, written once by `chophien_buy`.
#[derive(Deserialize)]
pub(super) struct HoldRecord {
    pub(super) hold_id: String,
    pub(super) sale_id: String,
    pub(super) quantity: u32,
    pub(super) expires_at: UnixMillis,
    pub(super) buyer_id: String,
    pub(super) buyer_name: String,
}

impl HoldRecord {
    pub(super) fn hold(&self) -> Hold {
        Hold {
            hold_id: self.hold_id.clone(),
            sale_id: self.sale_id.clone(),
            quantity: self.quantity,
            expires_at: self.expires_at,
        }
    }
}

pub(super) fn internal(what: impl std::fmt::Display) -> SaleError {
    SaleError::Internal(what.to_string())
}

/// Unreachable, timed out or busy is `unavailable`; anything else is a bug.
pub(super) fn classify(err: RedisError) -> SaleError {
    match err.kind() {
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly,
        )
        | ErrorKind::Io
        | ErrorKind::Client => SaleError::Unavailable(err.to_string()),
        _ if err.is_timeout() || err.is_connection_dropped() || err.is_connection_refusal() => {
            SaleError::Unavailable(err.to_string())
        }
        _ => internal(err),
    }
}

pub(super) fn function_missing(err: &RedisError) -> bool {
    err.to_string().contains("Function not found")
}

pub(super) fn parse_json<T: for<'de> Deserialize<'de>>(raw: &str) -> Result<T, SaleError> {
    serde_json::from_str(raw).map_err(internal)
}

pub(super) fn field<T: std::str::FromStr>(
    meta: &HashMap<String, String>,
    name: &str,
) -> Result<T, SaleError> {
    meta.get(name)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| internal(format!("sale field {name} is missing or malformed")))
}

/// A sale's meta hash as its public view.
pub(super) fn sale_info(
    meta: &HashMap<String, String>,
    now: UnixMillis,
) -> Result<SaleInfo, SaleError> {
    let times = SaleTimes {
        starts_at: field(meta, "starts_at")?,
        ends_at: field(meta, "ends_at")?,
        ended: meta.get("ended").is_some_and(|v| v == "1"),
        remaining: field(meta, "remaining")?,
    };
    Ok(SaleInfo {
        id: field(meta, "sale_id")?,
        product_id: field(meta, "product_id")?,
        product_name: field(meta, "product_name")?,
        price_vnd: field(meta, "price_vnd")?,
        stock_total: field(meta, "stock_total")?,
        remaining: times.remaining,
        per_buyer_limit: field(meta, "per_buyer_limit")?,
        state: times.state_at(now),
        starts_at: times.starts_at,
        ends_at: times.ends_at,
        hold_secs: field(meta, "hold_secs")?,
    })
}

pub(super) fn sorted_orders(raw: Vec<String>) -> Result<Vec<Order>, SaleError> {
    let mut orders = raw
        .iter()
        .map(|json| parse_json::<Order>(json))
        .collect::<Result<Vec<_>, _>>()?;
    oldest_first(&mut orders);
    Ok(orders)
}

/// The reply of a function: an outcome word and its string payload.
pub(super) fn split_reply(reply: Vec<String>) -> Result<(String, Vec<String>), SaleError> {
    let mut parts = reply.into_iter();
    let outcome = parts
        .next()
        .ok_or_else(|| internal("empty function reply"))?;
    Ok((outcome, parts.collect()))
}

/// The error a function's refusal word stands for.
pub(super) fn refusal(outcome: &str) -> SaleError {
    match outcome {
        "sale_not_found" => SaleError::SaleNotFound,
        "hold_not_found" => SaleError::HoldNotFound,
        "hold_expired" => SaleError::HoldExpired,
        "forbidden" => SaleError::Forbidden,
        other => internal(format!("unexpected function reply {other:?}")),
    }
}
