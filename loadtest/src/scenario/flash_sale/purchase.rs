//! One buyer's buy phase: at its intended time it sends its `buy` (twice
//! with the same idempotency key when its plan is to retry), then
//!
//! - resends a buy answered `busy` — the node's queue for the sale was
//!   full, nothing was reserved — with the **same key** after the
//!   `retry_after_ms` it names (×[1.0, 1.25) jitter, so the retries do not
//!   come back as one wave), any number of times until the buy's patience
//!   runs out;
//! - retries a buy whose outcome is unknown (`unavailable`, or no answer)
//!   with the same key, at most [`UNKNOWN_OUTCOME_RETRIES`] times, as the
//!   protocol asks of clients;
//! - after a reservation, when greedy, buys again with a new key (probing
//!   the per-buyer limit).
//!
//! A buy's latency runs from its first intended send time to its definite
//! answer, through any `busy` answers and retries; a `busy` answer's own
//! latency (send → `busy`) is recorded in its class.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::client::Line;
use crate::scenario::audit::BuyerSeen;
use crate::scenario::buyer::{self, Answer, Plan};

use super::lifecycle::Sale;
use super::tally::Counted;

/// Retries of a buy whose outcome is unknown (`unavailable`, no answer).
const UNKNOWN_OUTCOME_RETRIES: usize = 2;

/// Buy as `plan` says, for buyer `i` on `line`; every answer goes into
/// `seen` (for the audit) and the sale's tally.
pub async fn buy(i: usize, line: &mut Line, seen: &mut BuyerSeen, sale: &Sale, plan: Plan) {
    let at = sale.schedule.at(i as u64);
    line.read_while(tokio::time::sleep_until(at)).await;
    let mut buying = Buying {
        i,
        line,
        seen,
        sale,
    };
    let key = uuid::Uuid::new_v4().to_string();
    let ids: &[&str] = if plan.retry { &["b1", "b2"] } else { &["b1"] };
    let answers = buying.decide(&key, ids, at).await;
    let mut reserved = false;
    let mut unknown = false;
    for answer in &answers {
        if answer.outcome == "reserved" && !reserved {
            reserved = true;
            sale.tally.reserved(u64::from(sale.quantity));
        }
        unknown |= buyer::outcome_unknown(&answer.outcome);
    }
    // `unavailable` (or no answer) means the outcome is unknown: a correct
    // client retries with the same key, and must not be charged twice.
    for attempt in 0..UNKNOWN_OUTCOME_RETRIES {
        if reserved || !unknown {
            break;
        }
        let id = format!("r{attempt}");
        let answers = buying.decide(&key, &[&id], at).await;
        let Some(answer) = answers.first() else {
            break;
        };
        if answer.outcome == "reserved" || (answer.outcome == "duplicate" && answer.hold.is_some())
        {
            reserved = true;
            sale.tally.reserved(u64::from(sale.quantity));
        }
        unknown = buyer::outcome_unknown(&answer.outcome);
    }
    if reserved && plan.greedy {
        let key = uuid::Uuid::new_v4().to_string();
        let answers = buying.decide(&key, &["b3"], Instant::now()).await;
        if answers.first().is_some_and(|a| a.outcome == "reserved") {
            sale.tally.reserved(u64::from(sale.quantity));
        }
    }
}

/// One buyer during its buy phase.
struct Buying<'a> {
    i: usize,
    line: &'a mut Line,
    seen: &'a mut BuyerSeen,
    sale: &'a Sale,
}

impl Buying<'_> {
    /// Send a buy of `key` under each of `ids` at once; resend those
    /// answered `busy` (same key, request id `<id>.<round>`) after the wait
    /// they name, jittered, until each has an answer that is not `busy` or
    /// the patience, counted from `first`, would run out (`gave_up`).
    /// Records every answer; returns each id's final one, in order.
    async fn decide(&mut self, key: &str, ids: &[&str], first: Instant) -> Vec<Answer> {
        let (sale, tally) = (self.sale, &self.sale.tally);
        let mut finals: Vec<Option<Answer>> = vec![None; ids.len()];
        let mut waiting: Vec<usize> = (0..ids.len()).collect();
        for round in 0u32.. {
            let request_id = |k: usize| match round {
                0 => ids[k].to_owned(),
                n => format!("{}.{n}", ids[k]),
            };
            let frames = waiting
                .iter()
                .map(|&k| {
                    let id = request_id(k);
                    let frame = buyer::buy_frame(&id, &sale.sale_id, sale.quantity, key);
                    (id, frame)
                })
                .collect();
            let sent = Instant::now();
            let answers = buyer::request(self.line, frames).await;
            let mut busy = Vec::new();
            let mut wait = Duration::ZERO;
            for &k in &waiting {
                let arrival = answers.get(&request_id(k));
                let answer = buyer::answer(self.seen, key, sale.quantity, arrival);
                let answered_at = arrival.map_or_else(Instant::now, |a| a.at);
                match answer.retry_after.filter(|_| answer.is_busy()) {
                    Some(retry_after) => {
                        let latency = answered_at.saturating_duration_since(sent);
                        tally.record(self.i, "busy", latency, Counted::ClassOnly);
                        wait = wait.max(retry_after);
                        busy.push(k);
                    }
                    None => {
                        let latency = answered_at.saturating_duration_since(first);
                        tally.record(self.i, &answer.outcome, latency, Counted::Buy);
                        finals[k] = Some(answer);
                    }
                }
            }
            if busy.is_empty() {
                break;
            }
            let next = Instant::now() + wait.mul_f64(jitter());
            if next > first + sale.patience {
                for k in busy {
                    tally.record(self.i, "gave_up", first.elapsed(), Counted::Buy);
                    finals[k] = Some(gave_up());
                }
                break;
            }
            self.line.read_while(tokio::time::sleep_until(next)).await;
            waiting = busy;
        }
        finals
            .into_iter()
            .map(|answer| answer.unwrap_or_else(gave_up))
            .collect()
    }
}

/// A factor in [1.0, 1.25) for a retry's wait.
fn jitter() -> f64 {
    rand::rng().random_range(1.0..1.25)
}

/// The final state of a buy still answered `busy` when its patience ran
/// out: nothing was reserved (no answer ever reached the store).
fn gave_up() -> Answer {
    Answer {
        outcome: "gave_up".into(),
        hold: None,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_between_one_and_one_and_a_quarter_times_the_asked_wait() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((1.0..1.25).contains(&j), "{j}");
        }
    }

    #[test]
    fn a_buy_given_up_reserved_nothing_and_is_not_retried_as_unknown() {
        let answer = gave_up();
        assert!(answer.hold.is_none());
        assert!(!buyer::outcome_unknown(&answer.outcome));
        assert!(!answer.is_busy());
    }
}
