//! One flash-sale buyer on the wire: the frames it sends, how it reads
//! the answers (matched to requests by their `id`), and what each answer
//! means — `reserved` with its hold, `busy` with when to retry, an unknown
//! outcome — then confirm, cancel or let the hold expire. The buyer's life
//! around these (connect, wait, retry) is `flash_sale::lifecycle`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::client::Line;

use super::audit::{BuyAnswer, BuyerSeen, HoldSeen};

/// How long a request may wait for its answer before it counts as `timeout`.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// The wait before retrying a `busy` buy that named none.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_millis(100);

/// What happens to a buyer's hold after the buy phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settle {
    Confirm,
    Cancel,
    Expire,
}

/// What one buyer will do, decided before the run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
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

/// Send `frames` (request id, JSON) and wait for an answer to each,
/// reading past room events. Requests that get none within
/// [`ANSWER_TIMEOUT`] (or before the socket ends) are missing from the map.
pub async fn request(line: &mut Line, frames: Vec<(String, Value)>) -> BTreeMap<String, Arrival> {
    let mut pending: Vec<String> = frames.iter().map(|(id, _)| id.clone()).collect();
    let mut answers = BTreeMap::new();
    if !line
        .send(frames.into_iter().map(|(_, frame)| frame.to_string()))
        .await
    {
        return answers;
    }
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    while !pending.is_empty() {
        let Some(text) = line.next_text(deadline).await else {
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

/// What one answer to a `buy` said.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The `buy_result`'s outcome (`reserved`, `sold_out`, `busy`, …),
    /// `error` for an error event, `timeout` for no answer.
    pub outcome: String,
    /// The hold of `reserved` (and of `duplicate`, naming the first).
    pub hold: Option<HoldSeen>,
    /// For `busy`: when to retry with the same key.
    pub retry_after: Option<Duration>,
}

impl Answer {
    /// `busy`: the node's queue for the sale was full and nothing was
    /// reserved; the same key is to be sent again after `retry_after`.
    pub fn is_busy(&self) -> bool {
        self.outcome == "busy"
    }
}

/// Read an answer (`None`: no answer in time).
pub fn classify(arrival: Option<&Arrival>) -> Answer {
    let Some(arrival) = arrival else {
        return Answer {
            outcome: "timeout".into(),
            hold: None,
            retry_after: None,
        };
    };
    let frame = &arrival.frame;
    if frame.get("type").and_then(Value::as_str) != Some("buy_result") {
        return Answer {
            outcome: "error".into(),
            hold: None,
            retry_after: None,
        };
    }
    let outcome = frame
        .get("outcome")
        .and_then(Value::as_str)
        .unwrap_or("error")
        .to_owned();
    let hold = frame.get("hold").and_then(|h| {
        Some(HoldSeen {
            hold_id: h.get("hold_id")?.as_str()?.to_owned(),
            quantity: u32::try_from(h.get("quantity")?.as_u64()?).ok()?,
            expires_at: h.get("expires_at")?.as_u64()?,
        })
    });
    let retry_after = (outcome == "busy").then(|| {
        frame
            .get("retry_after_ms")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_RETRY_AFTER, Duration::from_millis)
    });
    Answer {
        outcome,
        hold,
        retry_after,
    }
}

/// Is the store's decision unknown, so the same key should be retried?
pub fn outcome_unknown(outcome: &str) -> bool {
    matches!(outcome, "unavailable" | "timeout")
}

/// Record an answer in the buyer's history; what it said.
pub fn answer(seen: &mut BuyerSeen, key: &str, quantity: u32, arrival: Option<&Arrival>) -> Answer {
    let answer = classify(arrival);
    seen.answers.push(BuyAnswer {
        idempotency_key: key.to_owned(),
        quantity,
        outcome: answer.outcome.clone(),
        hold: answer.hold.clone(),
    });
    answer
}

/// Attempts of a settle step whose outcome stays unknown (`unavailable`,
/// no answer): confirming a confirmed hold returns the same order, so a
/// retry is safe, as it is for a buy.
const SETTLE_ATTEMPTS: usize = 3;

/// Buyer `i`'s shipping phone: one number per buyer, since the store holds
/// the per-buyer limit per phone number too.
pub fn phone_of(i: usize) -> String {
    format!("09{:08}", i % 100_000_000)
}

/// Confirm or cancel `hold_id` per the plan, retrying while the outcome is
/// unknown; records what the store said. Returns the outcome class
/// (`confirm`, `cancel`, or `settle_<code>` of the last answer).
pub async fn settle(
    line: &mut Line,
    seen: &mut BuyerSeen,
    hold_id: &str,
    settle: Settle,
    name: &str,
    phone: &str,
) -> Option<String> {
    if settle == Settle::Expire {
        return None;
    }
    let mut class = String::new();
    for attempt in 1..=SETTLE_ATTEMPTS {
        let id = format!("c{attempt}");
        let frame = match settle {
            Settle::Confirm => json!({
                "id": id, "type": "confirm_hold", "hold_id": hold_id,
                "shipping": { "name": name, "phone": phone, "address": "12 Đường Láng, Đống Đa, Hà Nội" },
            }),
            _ => json!({ "id": id, "type": "cancel_hold", "hold_id": hold_id }),
        };
        let answers = request(line, vec![(id.clone(), frame)]).await;
        class = settle_class(answers.get(&id).map(|a| &a.frame));
        let unknown_before = attempt > 1;
        match class.as_str() {
            "confirm" => {
                let order_id = answers
                    .get(&id)
                    .and_then(|a| a.frame.pointer("/order/order_id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                seen.confirmed
                    .insert(hold_id.to_owned(), order_id.to_owned());
                seen.unknown_confirms.remove(hold_id);
                return Some(class);
            }
            "cancel" => {
                seen.cancelled.insert(hold_id.to_owned());
                return Some(class);
            }
            // The cancel whose outcome was unknown went through after all.
            "settle_hold_not_found" if unknown_before && settle == Settle::Cancel => {
                seen.cancelled.insert(hold_id.to_owned());
                return Some("cancel".into());
            }
            "settle_unavailable" | "settle_timeout" => {
                if settle == Settle::Confirm {
                    seen.unknown_confirms.insert(hold_id.to_owned());
                }
                if !line.is_open() {
                    break;
                }
            }
            _ => return Some(class),
        }
    }
    Some(class)
}

/// The class of a settle answer (`None`: no answer in time).
fn settle_class(frame: Option<&Value>) -> String {
    let Some(frame) = frame else {
        return "settle_timeout".into();
    };
    match frame.get("type").and_then(Value::as_str) {
        Some("order_confirmed") => "confirm".into(),
        Some("hold_cancelled") => "cancel".into(),
        _ => {
            let code = frame.get("code").and_then(Value::as_str).unwrap_or("error");
            format!("settle_{code}")
        }
    }
}

/// The identity (token `sub`) of buyer `i`; orders carry it as `buyer_id`.
pub fn buyer_id(i: usize) -> String {
    format!("lt-b{i}")
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
        let answer = classify(Some(&a));
        assert_eq!(answer.outcome, "reserved");
        assert_eq!(answer.hold.map(|h| h.hold_id).as_deref(), Some("h1"));
        assert_eq!(answer.retry_after, None);
    }

    #[test]
    fn errors_and_silence_are_classified_apart() {
        let a = arrival(json!({"type":"error","id":"b1","code":"unavailable","message":"x"}));
        assert_eq!(classify(Some(&a)).outcome, "error");
        assert_eq!(classify(None).outcome, "timeout");
    }

    #[test]
    fn busy_carries_when_to_retry_and_no_hold() {
        let a = arrival(json!({"type":"buy_result","id":"b1","sale_id":"s",
            "outcome":"busy","retry_after_ms":300}));
        let answer = classify(Some(&a));
        assert!(answer.is_busy());
        assert_eq!(answer.retry_after, Some(Duration::from_millis(300)));
        assert_eq!(answer.hold, None);
        assert!(
            !outcome_unknown(&answer.outcome),
            "busy is known: nothing was reserved"
        );
    }

    #[test]
    fn busy_without_a_retry_time_is_retried_soon() {
        let a = arrival(json!({"type":"buy_result","id":"b1","sale_id":"s","outcome":"busy"}));
        assert_eq!(classify(Some(&a)).retry_after, Some(DEFAULT_RETRY_AFTER));
    }

    #[test]
    fn unavailable_is_an_unknown_outcome_to_retry() {
        let a =
            arrival(json!({"type":"buy_result","id":"b1","sale_id":"s","outcome":"unavailable"}));
        let answer = classify(Some(&a));
        assert!(!answer.is_busy());
        assert!(outcome_unknown(&answer.outcome));
        assert!(outcome_unknown("timeout"));
    }

    #[test]
    fn settle_answers_are_classified_by_type_or_error_code() {
        let confirmed = json!({"type":"order_confirmed","id":"c1","order":{"order_id":"o1"}});
        assert_eq!(settle_class(Some(&confirmed)), "confirm");
        let cancelled = json!({"type":"hold_cancelled","id":"c1","hold_id":"h"});
        assert_eq!(settle_class(Some(&cancelled)), "cancel");
        let failed = json!({"type":"error","id":"c1","code":"unavailable","message":"x"});
        assert_eq!(settle_class(Some(&failed)), "settle_unavailable");
        assert_eq!(settle_class(None), "settle_timeout");
    }

    #[test]
    fn the_history_records_busy_answers_without_a_hold() {
        let mut seen = BuyerSeen::default();
        let a = arrival(json!({"type":"buy_result","id":"b1","sale_id":"s",
            "outcome":"busy","retry_after_ms":300}));
        answer(&mut seen, "k", 1, Some(&a));
        assert_eq!(seen.answers.len(), 1);
        assert_eq!(seen.answers[0].outcome, "busy");
        assert_eq!(seen.answers[0].idempotency_key, "k");
        assert!(seen.answers[0].hold.is_none());
    }
}
