//! One flash-sale buyer on the wire: buy (and maybe retry with the same
//! idempotency key, or try again beyond the limit), then confirm, cancel or
//! let the hold expire. Answers are matched to requests by their `id`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Socket};

use super::audit::{BuyAnswer, BuyerSeen, HoldSeen};
use super::Ctx;

/// Sockets being opened at once while buyers connect.
const CONNECT_CONCURRENCY: usize = 256;
/// How long one connect + snapshot may take before the buyer counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request may wait for its answer before it counts as `timeout`.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What happens to a buyer's hold after the buy phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    Confirm,
    Cancel,
    Expire,
}

/// What one buyer will do, decided before the run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Send the same buy twice at once (a client retry).
    pub retry: bool,
    /// After a reservation, buy again with a new key (probes the limit).
    pub greedy: bool,
    pub settle: Settle,
}

/// One answer as it arrived: the frame, and when.
pub struct Arrival {
    pub frame: Value,
    pub at: Instant,
}

/// Send `frames` (request id, JSON) and wait for an answer to each.
/// Requests that get none within [`ANSWER_TIMEOUT`] are missing from the map.
pub async fn request(
    socket: &mut Socket,
    frames: Vec<(String, Value)>,
) -> BTreeMap<String, Arrival> {
    let mut pending: Vec<String> = Vec::new();
    for (id, frame) in frames {
        if socket.feed(Message::text(frame.to_string())).await.is_err() {
            return BTreeMap::new();
        }
        pending.push(id);
    }
    if socket.flush().await.is_err() {
        return BTreeMap::new();
    }
    let mut answers = BTreeMap::new();
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    while !pending.is_empty() {
        let Ok(next) = tokio::time::timeout_at(deadline, socket.next()).await else {
            break;
        };
        let Some(Ok(Message::Text(text))) = next else {
            if matches!(
                next,
                Some(Ok(Message::Ping(_)
                    | Message::Pong(_)
                    | Message::Binary(_)
                    | Message::Frame(_)))
            ) {
                continue;
            }
            break;
        };
        // Room events (stock, viewer counts, …) carry a seq and no request id.
        if !text.contains(r#""id""#) {
            continue;
        }
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let Some(id) = frame.get("id").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        if let Some(at) = pending.iter().position(|p| *p == id) {
            pending.swap_remove(at);
            answers.insert(
                id,
                Arrival {
                    frame,
                    at: Instant::now(),
                },
            );
        }
    }
    answers
}

/// A `buy` frame.
pub fn buy_frame(id: &str, sale_id: &str, quantity: u32, key: &str) -> Value {
    json!({ "id": id, "type": "buy", "sale_id": sale_id, "quantity": quantity, "idempotency_key": key })
}

/// The outcome class and hold of an answer (`error` for error events,
/// `timeout` for none).
pub fn classify(arrival: Option<&Arrival>) -> (String, Option<HoldSeen>) {
    let Some(arrival) = arrival else {
        return ("timeout".into(), None);
    };
    let frame = &arrival.frame;
    match frame.get("type").and_then(Value::as_str) {
        Some("buy_result") => {
            let outcome = frame
                .get("outcome")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_owned();
            let hold = frame.get("hold").and_then(|h| {
                Some(HoldSeen {
                    hold_id: h.get("hold_id")?.as_str()?.to_owned(),
                    quantity: h.get("quantity")?.as_u64()? as u32,
                    expires_at: h.get("expires_at")?.as_u64()?,
                })
            });
            (outcome, hold)
        }
        _ => ("error".into(), None),
    }
}

/// Is the store's decision unknown, so the same key should be retried?
pub fn outcome_unknown(outcome: &str) -> bool {
    matches!(outcome, "unavailable" | "timeout")
}

/// Record an answer in the buyer's history.
pub fn answer(seen: &mut BuyerSeen, key: &str, quantity: u32, arrival: Option<&Arrival>) -> String {
    let (outcome, hold) = classify(arrival);
    seen.answers.push(BuyAnswer {
        idempotency_key: key.to_owned(),
        quantity,
        outcome: outcome.clone(),
        hold,
    });
    outcome
}

/// Confirm or cancel `hold_id` per the plan; records what the store said.
/// Returns the outcome class (`confirm`, `cancel`, or an error class).
pub async fn settle(
    socket: &mut Socket,
    seen: &mut BuyerSeen,
    hold_id: &str,
    settle: Settle,
    name: &str,
) -> Option<String> {
    let frame = match settle {
        Settle::Expire => return None,
        Settle::Confirm => json!({
            "id": "c1", "type": "confirm_hold", "hold_id": hold_id,
            "shipping": { "name": name, "phone": "0912345678", "address": "12 Đường Láng, Đống Đa, Hà Nội" },
        }),
        Settle::Cancel => json!({ "id": "c1", "type": "cancel_hold", "hold_id": hold_id }),
    };
    let answers = request(socket, vec![("c1".into(), frame)]).await;
    let Some(arrival) = answers.get("c1") else {
        return Some("settle_timeout".into());
    };
    let frame = &arrival.frame;
    match frame.get("type").and_then(Value::as_str) {
        Some("order_confirmed") => {
            let order_id = frame
                .pointer("/order/order_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            seen.confirmed
                .insert(hold_id.to_owned(), order_id.to_owned());
            Some("confirm".into())
        }
        Some("hold_cancelled") => {
            seen.cancelled.insert(hold_id.to_owned());
            Some("cancel".into())
        }
        _ => {
            let code = frame.get("code").and_then(Value::as_str).unwrap_or("error");
            Some(format!("settle_{code}"))
        }
    }
}

/// The identity (token `sub`) of buyer `i`; orders carry it as `buyer_id`.
pub fn buyer_id(i: usize) -> String {
    format!("lt-b{i}")
}

/// Connect `n` buyers to `room` (a few hundred at a time), buyer `i` to
/// node `i mod N`, each past its `snapshot`; `None` for those that failed.
pub async fn connect_all(ctx: &Ctx, room: &str, n: usize) -> Vec<Option<Socket>> {
    let bar = ctx.progress(n as u64, "buyers join");
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (permits, bar, minter) = (permits.clone(), bar.clone(), ctx.minter.clone());
        let (ws_base, room) = (ctx.target.node(i).ws_base.clone(), room.to_owned());
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire().await;
            let joined = tokio::time::timeout(CONNECT_TIMEOUT, async {
                let token = minter.token(&buyer_id(i), &format!("Khách {i}"), &room, "viewer")?;
                let mut socket =
                    client::connect(&client::room_url(&ws_base, &room, &token)).await?;
                client::wait_for(&mut socket, "snapshot", CONNECT_TIMEOUT).await?;
                anyhow::Ok(socket)
            })
            .await;
            bar.inc(1);
            joined.ok().and_then(Result::ok)
        }));
    }
    let mut sockets = Vec::with_capacity(n);
    for task in tasks {
        sockets.push(task.await.ok().flatten());
    }
    bar.finish_and_clear();
    sockets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(frame: Value) -> Arrival {
        Arrival {
            frame,
            at: Instant::now(),
        }
    }

    #[test]
    fn a_reservation_is_classified_with_its_hold() {
        let a = arrival(
            json!({"type":"buy_result","id":"b1","sale_id":"s","outcome":"reserved",
            "hold":{"hold_id":"h1","sale_id":"s","quantity":1,"expires_at":5}}),
        );
        let (outcome, hold) = classify(Some(&a));
        assert_eq!(outcome, "reserved");
        assert_eq!(hold.unwrap().hold_id, "h1");
    }

    #[test]
    fn errors_and_silence_are_classified_apart() {
        let a = arrival(json!({"type":"error","id":"b1","code":"unavailable","message":"x"}));
        assert_eq!(classify(Some(&a)).0, "error");
        assert_eq!(classify(None).0, "timeout");
    }
}
