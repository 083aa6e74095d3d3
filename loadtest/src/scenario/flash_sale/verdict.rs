//! After the sale: wait until every hold nobody settled has expired, read
//! the store — the orders through every node, the sale's `remaining`
//! straight from Redis and from a fresh join snapshot on every node — and
//! [`audit`](crate::scenario::audit) what every buyer was told against it.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::baseline::redis_bench;
use crate::client;
use crate::report::Invariants;
use crate::scenario::audit::{self, AuditInput, BuyerSeen, NodeView};
use crate::scenario::{unix_ms, Ctx};

use super::args::FlashSaleArgs;

/// How long one auditor's connect + snapshot may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the store said after the run, and the audit of it.
pub struct Verdict {
    pub invariants: Invariants,
    /// Units ordered of the sale (node 0's listing).
    pub sold: u64,
    /// The listing's own `units_sold` (all the room's sales).
    pub orders_units_sold: u64,
    /// `remaining` in node 0's snapshot.
    pub final_remaining: Option<u64>,
    /// `remaining` straight from Redis.
    pub redis_remaining: Option<u64>,
    /// `remaining` in the snapshots of nodes 1, 2, …
    pub other_remaining: Vec<Option<u64>>,
}

/// Which sale to judge, and where.
pub struct Judged<'a> {
    pub room: &'a str,
    pub sale_id: &'a str,
    pub seller_token: &'a str,
    /// Everything every buyer was told.
    pub buyers: &'a [BuyerSeen],
    /// When the buy phase ended, Unix ms.
    pub buy_phase_end_ms: u64,
    /// The Redis to read `remaining` from, if known.
    pub redis_port: Option<u16>,
}

/// Wait for the holds to end, read the store and audit it.
pub async fn judge(ctx: &Ctx, sale: &FlashSaleArgs, judged: Judged<'_>) -> anyhow::Result<Verdict> {
    let Judged {
        room,
        sale_id,
        seller_token,
        buyers,
        buy_phase_end_ms,
        redis_port,
    } = judged;
    let first = ctx.target.first();
    // Wait for every unsettled hold to expire, then read the store.
    let last_expiry = buyers
        .iter()
        .flat_map(|b| {
            b.answers
                .iter()
                .filter_map(|a| a.hold.as_ref())
                .map(move |h| (b, h))
        })
        .filter(|(b, h)| !b.confirmed.contains_key(&h.hold_id) && !b.cancelled.contains(&h.hold_id))
        .map(|(_, h)| h.expires_at)
        .max();
    let orders = client::orders(&ctx.http, &first.http_base, seller_token, room).await?;
    let mut other_orders = Vec::new();
    for node in &ctx.target.nodes[1..] {
        let listed = client::orders(&ctx.http, &node.http_base, seller_token, room).await;
        other_orders.push(listed.map_err(|e| format!("{e:#}")));
    }
    let sold: u64 = orders
        .orders
        .iter()
        .filter(|o| o.sale_id == sale_id)
        .map(|o| u64::from(o.quantity))
        .sum();
    let expected_remaining = u64::from(sale.stock).saturating_sub(sold);
    let wait = last_expiry.unwrap_or(0).saturating_sub(unix_ms());
    tokio::time::sleep(Duration::from_millis(wait + 200)).await;
    // Redis is the store itself: read it first, until the sweeper has
    // returned every expired hold (or 20 s pass).
    let redis_remaining = match redis_port {
        Some(port) => read_redis_remaining(port, room, sale_id, expected_remaining).await,
        None => None,
    };
    // Every node's room hears every stock change through the room store:
    // each snapshot must come to show what Redis holds.
    let patience = Duration::from_secs(20);
    let final_remaining = read_remaining(
        ctx,
        &first.ws_base,
        room,
        sale_id,
        expected_remaining,
        patience,
    )
    .await;
    let mut other_remaining = Vec::new();
    for node in &ctx.target.nodes[1..] {
        let expected = final_remaining.unwrap_or(expected_remaining);
        let read = read_remaining(ctx, &node.ws_base, room, sale_id, expected, patience);
        other_remaining.push(read.await);
    }

    let mut invariants = audit::audit(&AuditInput {
        sale_id,
        stock: u64::from(sale.stock),
        per_buyer_limit: u64::from(sale.per_buyer_limit),
        buyers,
        buy_phase_end_ms,
        orders: &orders.orders,
        final_remaining,
    });
    let views: Vec<NodeView<'_>> = other_orders
        .iter()
        .zip(&other_remaining)
        .enumerate()
        .map(|(k, (orders, remaining))| NodeView {
            node: k + 1,
            orders: orders
                .as_ref()
                .map(|o| o.orders.as_slice())
                .map_err(Clone::clone),
            remaining: *remaining,
        })
        .collect();
    audit::cross_check(
        &mut invariants,
        sale_id,
        &orders.orders,
        final_remaining,
        &views,
    );
    if let (Some(direct), Some(seen)) = (redis_remaining, final_remaining) {
        if direct != seen {
            invariants.ok = false;
            invariants.violations.push(format!(
                "MISMATCH: Redis says remaining {direct}, node 0's snapshot {seen}"
            ));
        }
    }
    Ok(Verdict {
        invariants,
        sold,
        orders_units_sold: orders.units_sold,
        final_remaining,
        redis_remaining,
        other_remaining,
    })
}

/// The sale's `remaining` straight from Redis, polled until it equals
/// `expected` (or 20 s pass); `None` when Redis could not be read.
async fn read_redis_remaining(port: u16, room: &str, sale_id: &str, expected: u64) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(read) = redis_bench::read_remaining(port, room, sale_id).await {
            last = read;
        }
        if last == Some(expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}

/// The sale's `remaining` from a fresh join snapshot on the node at
/// `ws_base`, polled until it equals `expected` (or `patience` passes).
/// `None` when no snapshot could be read or it shows no such sale.
async fn read_remaining(
    ctx: &Ctx,
    ws_base: &str,
    room: &str,
    sale_id: &str,
    expected: u64,
    patience: Duration,
) -> Option<u64> {
    let deadline = Instant::now() + patience;
    let token = ctx
        .minter
        .token("lt-auditor", "Auditor", room, "viewer")
        .ok()?;
    let url = client::room_url(ws_base, room, &token);
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(mut socket) = client::connect(&url).await {
            if let Ok(snapshot) = client::wait_for(&mut socket, "snapshot", CONNECT_TIMEOUT).await {
                let sale = &snapshot["sale"];
                if sale.get("id").and_then(Value::as_str) != Some(sale_id) {
                    let _ = socket.close(None).await;
                    return None;
                }
                last = sale.get("remaining").and_then(Value::as_u64);
            }
            let _ = socket.close(None).await;
        }
        if last == Some(expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    last
}
