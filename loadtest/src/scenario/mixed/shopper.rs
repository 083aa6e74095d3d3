//! One shopper of the mixed scenario, on her own socket: she may race for
//! the flash sale, puts one or two products in her bag (and, greedy, one
//! more than a product's limit allows), then checks out — with the voucher,
//! or without it once it is used up — or takes everything out again; some
//! cancel their order afterwards. Every request waits for its own answer
//! (matched by `id`), and every answer is timed and counted.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::client::Line;
use crate::stats::LatencyRecorder;

use super::ledger::{order_units, Told, ToldOrder};

/// How long one request may wait for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a request answered `busy` or `unavailable` is sent again
/// (with the same idempotency key) before the shopper gives up on it.
const RETRIES: usize = 40;

/// What a shopper will do, decided before the run (seeded).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Race for the flash sale first.
    pub flash: bool,
    /// Products and quantities she puts in her bag.
    pub lines: Vec<(String, u32)>,
    /// Then one more of the limited product than its limit allows.
    pub greedy: bool,
    /// Check out (else take everything out again).
    pub checkout: bool,
    /// Type the voucher at checkout.
    pub voucher: bool,
    /// Cancel the order she placed.
    pub cancel_order: bool,
}

/// Latencies and counts every shopper records into.
pub struct Tally {
    /// Per operation (`add_to_bag`, `buy`, `checkout_bag`, …).
    pub by_op: BTreeMap<&'static str, LatencyRecorder>,
    pub all: LatencyRecorder,
    /// `<op>:<outcome or error code>` → answers.
    pub answers: Mutex<BTreeMap<String, u64>>,
}

pub const OPS: [&str; 6] = [
    "buy",
    "add_to_bag",
    "checkout_bag",
    "confirm_hold",
    "cancel_hold",
    "cancel_order",
];

impl Tally {
    pub fn new() -> Tally {
        Tally {
            by_op: OPS
                .iter()
                .map(|op| (*op, LatencyRecorder::with_shards(4)))
                .collect(),
            all: LatencyRecorder::default(),
            answers: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, op: &str, answer: &str) {
        if let Ok(mut answers) = self.answers.lock() {
            *answers.entry(format!("{op}:{answer}")).or_default() += 1;
        }
    }
}

/// A shopper and what she has been told so far.
pub struct Shopper<'a> {
    pub i: usize,
    line: Line,
    tally: &'a Tally,
    /// The flash sale's id and its product.
    sale: (&'a str, &'a str),
    voucher: &'a str,
    next_id: u64,
    pub told: Told,
    /// Requests that never got an answer.
    pub errors: u64,
}

impl<'a> Shopper<'a> {
    pub fn new(
        i: usize,
        line: Line,
        tally: &'a Tally,
        sale: (&'a str, &'a str),
        voucher: &'a str,
    ) -> Shopper<'a> {
        Shopper {
            i,
            line,
            tally,
            sale,
            voucher,
            next_id: 0,
            told: Told {
                buyer_id: buyer_id(i),
                ..Told::default()
            },
            errors: 0,
        }
    }

    /// Do everything `plan` says; the socket closes when she is done.
    pub async fn shop(mut self, plan: &Plan) -> (Told, u64) {
        if let Err(e) = self.follow(plan).await {
            tracing_free_note(self.i, &e);
            self.errors += 1;
        }
        (self.told, self.errors)
    }

    async fn follow(&mut self, plan: &Plan) -> anyhow::Result<()> {
        let mut holds: Vec<String> = Vec::new();
        let mut flash_hold = None;
        if plan.flash {
            flash_hold = self
                .reserve(
                    "buy",
                    json!({"type": "buy", "sale_id": self.sale.0,
                "quantity": 1}),
                    "f",
                )
                .await?;
        }
        for (j, (product, quantity)) in plan.lines.iter().enumerate() {
            let frame = json!({"type": "add_to_bag", "product_id": product, "quantity": quantity});
            if let Some(hold) = self.reserve("add_to_bag", frame, &format!("b{j}")).await? {
                holds.push(hold);
            }
        }
        if plan.greedy {
            let frame = json!({"type": "add_to_bag", "product_id": "p2", "quantity": 1});
            if let Some(hold) = self.reserve("add_to_bag", frame, "g").await? {
                holds.push(hold);
            }
        }
        if !plan.checkout {
            for hold in holds.iter().chain(flash_hold.iter()) {
                let frame = json!({"type": "cancel_hold", "hold_id": hold});
                self.settle("cancel_hold", frame, &["hold_cancelled"])
                    .await?;
            }
            return Ok(());
        }
        let mut placed = Vec::new();
        if !holds.is_empty() {
            let mut frame = json!({"type": "checkout_bag", "hold_ids": holds,
                "shipping": self.shipping(), "payment": "cod"});
            if plan.voucher {
                frame["voucher_code"] = json!(self.voucher);
            }
            let mut answer = self
                .settle("checkout_bag", frame.clone(), &["order_confirmed"])
                .await?;
            if matches!(
                code(&answer),
                Some("voucher_used_up" | "voucher_already_used")
            ) {
                frame.as_object_mut().map(|f| f.remove("voucher_code"));
                answer = self
                    .settle("checkout_bag", frame, &["order_confirmed"])
                    .await?;
            }
            placed.extend(self.note_order(&answer));
        }
        if let Some(hold) = flash_hold {
            let frame = json!({"type": "confirm_hold", "hold_id": hold,
                "shipping": self.shipping(), "payment": "cod"});
            let answer = self
                .settle("confirm_hold", frame, &["order_confirmed"])
                .await?;
            placed.extend(self.note_order(&answer));
        }
        if plan.cancel_order {
            for order_id in placed {
                let frame = json!({"type": "cancel_order", "order_id": order_id});
                let answer = self
                    .settle("cancel_order", frame, &["order_updated"])
                    .await?;
                if answer["order"]["status"] == "cancelled" {
                    if let Some(order) = self.told.orders.get_mut(&order_id) {
                        order.cancelled = true;
                    }
                }
            }
        }
        Ok(())
    }

    /// A buy or a bag add with its own idempotency key, sent again (same
    /// key) while the answer is `busy` or `unavailable`; the hold it got.
    async fn reserve(
        &mut self,
        op: &'static str,
        mut frame: Value,
        key: &str,
    ) -> anyhow::Result<Option<String>> {
        frame["idempotency_key"] = json!(format!("key-{:06}-{key}", self.i));
        let mut held: Option<String> = None;
        for _ in 0..RETRIES {
            let answer = self
                .request(op, frame.clone(), &["buy_result", "bag_result"])
                .await?;
            let outcome = answer["outcome"].as_str().unwrap_or("error");
            if let Some(hold) = answer["hold"]["hold_id"].as_str() {
                if held.as_deref().is_some_and(|h| h != hold) {
                    self.told.keys_with_two_holds += 1;
                }
                held = Some(hold.to_owned());
            }
            match outcome {
                "busy" => {
                    let wait = answer["retry_after_ms"].as_u64().unwrap_or(200);
                    self.line
                        .read_while(tokio::time::sleep(Duration::from_millis(wait)))
                        .await;
                }
                "unavailable" => {
                    let pause = tokio::time::sleep(Duration::from_millis(100));
                    self.line.read_while(pause).await;
                }
                _ => return Ok(held),
            }
        }
        Ok(held)
    }

    /// A request that settles something (checkout, cancel): sent again while
    /// the store is `unavailable` (each is safe to repeat). Its answer, an
    /// error frame included.
    async fn settle(
        &mut self,
        op: &'static str,
        frame: Value,
        kinds: &[&str],
    ) -> anyhow::Result<Value> {
        let mut answer = Value::Null;
        for _ in 0..RETRIES {
            answer = self.request(op, frame.clone(), kinds).await?;
            if code(&answer) != Some("unavailable") {
                break;
            }
            let pause = tokio::time::sleep(Duration::from_millis(100));
            self.line.read_while(pause).await;
        }
        Ok(answer)
    }

    /// Send `frame` with a fresh id and wait for the answer that carries it
    /// (one of `kinds`, or an `error`); timed and counted under `op`.
    async fn request(
        &mut self,
        op: &'static str,
        mut frame: Value,
        kinds: &[&str],
    ) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = format!("{op}-{}", self.next_id);
        frame["id"] = json!(id);
        let sent = Instant::now();
        if !self.line.send([frame.to_string()]).await {
            bail!("the socket closed: {}", self.line.ended().unwrap_or("?"));
        }
        let mut kinds = kinds.to_vec();
        kinds.push("error");
        let deadline = sent + ANSWER_TIMEOUT;
        let answer = loop {
            let answer = self
                .line
                .wait_for_any(&kinds, deadline)
                .await
                .with_context(|| format!("no answer to {op}"))?;
            if answer["id"] == id.as_str() {
                break answer;
            }
        };
        let took = sent.elapsed();
        self.tally.all.record(self.i, took);
        if let Some(recorder) = self.tally.by_op.get(op) {
            recorder.record(self.i, took);
        }
        let outcome = answer["outcome"]
            .as_str()
            .or_else(|| code(&answer))
            .unwrap_or("ok");
        self.tally.count(op, outcome);
        Ok(answer)
    }

    /// Remembers an order she was told of; its id.
    fn note_order(&mut self, answer: &Value) -> Option<String> {
        let order = answer.get("order")?;
        let order_id = order["order_id"].as_str()?.to_owned();
        let told = ToldOrder {
            units: order_units(order, self.sale.1),
            cancelled: false,
        };
        self.told.orders.insert(order_id.clone(), told);
        Some(order_id)
    }

    /// Her own phone number: one per shopper, so per-phone limits count
    /// her alone.
    fn shipping(&self) -> Value {
        json!({"name": format!("Khách {}", self.i), "phone": format!("09{:08}", self.i),
               "address": "Thái Nguyên"})
    }
}

/// The identity of shopper `i`.
pub fn buyer_id(i: usize) -> String {
    format!("lt-m{i}")
}

/// An error frame's code.
fn code(answer: &Value) -> Option<&str> {
    (answer["type"] == "error")
        .then(|| answer["code"].as_str())
        .flatten()
}

/// The first shoppers' failures are worth a line on stderr; the count is
/// in the report.
fn tracing_free_note(i: usize, error: &anyhow::Error) {
    if i < 3 {
        eprintln!("shopper {i}: {error:#}");
    }
}
