//! Group commit and admission control: concurrent buys of one sale share one
//! Redis call, and a buy that cannot join the next call is answered `busy`
//! at once instead of waiting into a timeout.
//!
//! Each sale (of a room: a [`SaleRef`], since the keys and the function call
//! name both) with buys in flight has a *lane*: a bounded queue and a task.
//! The task sends one `FCALL chophien_buy_batch` at a time, carrying the
//! first waiting buy and every other buy already queued. While that call is
//! in flight new buys queue for the next one, so the batch grows with the
//! queue: a lone buy is never delayed, and under a burst a few calls carry
//! thousands of buys. Inside Redis the batch is one atomic function that
//! runs the ordinary `buy` for each request in order: each request's checks
//! still precede its writes, and a repeated key within one batch answers
//! `duplicate` like anywhere else.
//!
//! **Admission.** The queue holds at most [`GroupCommit::queue_limit`] buys
//! and the next call takes them all, so an admitted buy waits for at most
//! the one call in flight before its own is sent. A buy that finds the queue
//! full is not queued: it is answered [`Queued::Busy`] at once, with a retry
//! delay estimated from the lane's recent calls. Nothing was reserved, and
//! the buyer knows it.
//!
//! **Deadlines mean Redis.** The store's deadline (`op_timeout`) runs from
//! the moment a batch is sent to Redis, never from a buy's arrival in the
//! queue. When a call fails (Redis down, or silent past the deadline), the
//! buys that queued behind it are answered `unavailable` at once rather than
//! sent into the same failure one deadline later: so a buy is answered
//! within two deadlines at worst, and `unavailable` always means that Redis
//! failed.
//!
//! A lane that stays idle for [`LANE_IDLE`] retires: it leaves the map, closes
//! its queue and answers what was still queued. A buyer whose send finds the
//! queue closed opens a new lane.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use rand::Rng;
use tokio::sync::{mpsc, oneshot};

use super::RedisSaleStore;
use crate::sale::{SaleError, SaleRef};

/// A lane with no buy for this long retires.
const LANE_IDLE: Duration = Duration::from_secs(30);
/// The shortest and longest `busy` retry delay: short enough that a buyer
/// is back within a blink, long enough that retries do not come back
/// before the queue had a chance to drain.
const RETRY_AFTER_MIN: Duration = Duration::from_millis(100);
const RETRY_AFTER_MAX: Duration = Duration::from_secs(2);

/// How buys of one sale are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// The most buys of one sale that wait on this node for the next Redis
    /// call, which carries them all (so it is also the largest batch: it
    /// bounds how long Redis spends in one function). Past it, `busy`.
    pub queue_limit: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit { queue_limit: 2048 }
    }
}

/// What happened to a submitted buy.
pub(super) enum Queued {
    /// The store's reply (the shape of a single `chophien_buy` reply).
    Answered(Vec<String>),
    /// The queue was full: not sent, retry after this long.
    Busy(Duration),
}

/// Calls and buys sent to Redis so far, for `/metrics` (mean batch size =
/// buys ÷ batches).
#[derive(Debug, Default)]
pub struct BatchCounters {
    pub batches: AtomicU64,
    pub buys: AtomicU64,
}

/// The arguments of one `buy` (now, buyer, name, quantity, idempotency
/// field, hold id) and where its reply goes.
struct PendingBuy {
    args: [String; 6],
    reply: oneshot::Sender<Result<Vec<String>, SaleError>>,
}

/// One sale's queue, as buyers see it.
#[derive(Clone)]
struct LaneHandle {
    queue: mpsc::Sender<PendingBuy>,
    pace: Arc<Pace>,
}

/// How long this lane's recent calls took: an exponentially weighted mean,
/// in microseconds (atomic: written by the lane, read by buyers).
#[derive(Default)]
struct Pace {
    call_micros: AtomicU64,
}

impl Pace {
    fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let before = self.call_micros.load(Ordering::Relaxed);
        let mean = if before == 0 {
            took
        } else {
            (before * 7 + took) / 8
        };
        self.call_micros.store(mean, Ordering::Relaxed);
    }

    /// A full queue drains within the call in flight and its own: retry
    /// after about two calls, jittered so busy buyers do not come back
    /// together.
    fn retry_after(&self) -> Duration {
        let two_calls = Duration::from_micros(self.call_micros.load(Ordering::Relaxed) * 2);
        let base = two_calls.clamp(RETRY_AFTER_MIN, RETRY_AFTER_MAX);
        base.mul_f64(rand::rng().random_range(1.0..1.5))
    }
}

/// The lanes of every sale with recent buys on this node.
pub(super) struct BuyBatcher {
    /// A `DashMap` so buys of different sales never contend on one lock.
    /// Keyed by room and sale: the same sale id in another room is another
    /// (non-existent) sale, and must not share its lane.
    lanes: DashMap<SaleRef, LaneHandle>,
    options: GroupCommit,
    counters: Arc<BatchCounters>,
}

impl BuyBatcher {
    pub(super) fn new(options: GroupCommit, counters: Arc<BatchCounters>) -> BuyBatcher {
        BuyBatcher {
            lanes: DashMap::new(),
            options: GroupCommit {
                queue_limit: options.queue_limit.max(1),
            },
            counters,
        }
    }

    /// Queues one buy on its sale's lane and waits for its reply, or answers
    /// `busy` at once when the queue is full.
    pub(super) async fn submit(
        self: &Arc<Self>,
        store: &RedisSaleStore,
        sale: &SaleRef,
        mut args: [String; 6],
    ) -> Result<Queued, SaleError> {
        // Twice at most: a lane may retire between lookup and send.
        for _ in 0..2 {
            let lane = self.lane(store, sale);
            let (reply, answer) = oneshot::channel();
            match lane.queue.try_send(PendingBuy { args, reply }) {
                Ok(()) => {
                    return match answer.await {
                        Ok(reply) => reply.map(Queued::Answered),
                        Err(_) => Err(SaleError::Unavailable("buy lane stopped".into())),
                    }
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    return Ok(Queued::Busy(lane.pace.retry_after()))
                }
                Err(mpsc::error::TrySendError::Closed(pending)) => {
                    args = pending.args;
                    self.lanes
                        .remove_if(sale, |_, handle| handle.queue.same_channel(&lane.queue));
                }
            }
        }
        Err(SaleError::Unavailable("buy lane kept closing".into()))
    }

    fn lane(self: &Arc<Self>, store: &RedisSaleStore, sale: &SaleRef) -> LaneHandle {
        if let Some(lane) = self.lanes.get(sale) {
            return lane.clone();
        }
        self.lanes
            .entry(sale.clone())
            .or_insert_with(|| {
                let (queue, rx) = mpsc::channel(self.options.queue_limit);
                let handle = LaneHandle {
                    queue,
                    pace: Arc::default(),
                };
                let lane = Lane {
                    batcher: Arc::clone(self),
                    store: store.clone(),
                    sale: sale.clone(),
                    own: handle.clone(),
                };
                tokio::spawn(lane.run(rx));
                handle
            })
            .clone()
    }
}

/// One sale's batching task.
struct Lane {
    batcher: Arc<BuyBatcher>,
    store: RedisSaleStore,
    sale: SaleRef,
    /// Its own queue (to remove exactly this lane from the map when it
    /// retires) and pace (which it records).
    own: LaneHandle,
}

impl Lane {
    async fn run(self, mut queue: mpsc::Receiver<PendingBuy>) {
        loop {
            let first = tokio::select! {
                pending = queue.recv() => pending,
                _ = tokio::time::sleep(LANE_IDLE) => {
                    self.batcher
                        .lanes
                        .remove_if(&self.sale, |_, handle| handle.queue.same_channel(&self.own.queue));
                    queue.close();
                    queue.recv().await
                }
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            while batch.len() < self.batcher.options.queue_limit {
                match queue.try_recv() {
                    Ok(pending) => batch.push(pending),
                    Err(_) => break,
                }
            }
            if let Err(error) = self.commit(batch).await {
                // Redis failed this call: what queued behind it would only
                // meet the same failure a deadline later.
                while let Ok(pending) = queue.try_recv() {
                    let _ = pending.reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// Sends one batch and answers its buys; the error when Redis failed.
    async fn commit(&self, batch: Vec<PendingBuy>) -> Result<(), SaleError> {
        let args: Vec<&str> = batch
            .iter()
            .flat_map(|pending| pending.args.iter().map(String::as_str))
            .collect();
        let now = batch[0].args[0].parse().unwrap_or(0);
        let counters = &self.batcher.counters;
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .buys
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let sent = Instant::now();
        let replies: Result<Vec<Vec<String>>, SaleError> = self
            .store
            .call("chophien_buy_batch", &self.sale, now, &args)
            .await;
        self.own.pace.record(sent.elapsed());
        let replies = match replies {
            Ok(replies) if replies.len() == batch.len() => replies,
            Ok(replies) => {
                let error = SaleError::Internal(format!(
                    "batch of {} buys got {} replies",
                    batch.len(),
                    replies.len()
                ));
                answer_all(batch, &error);
                return Ok(());
            }
            Err(error) => {
                answer_all(batch, &error);
                return match error {
                    SaleError::Unavailable(_) => Err(error),
                    _ => Ok(()),
                };
            }
        };
        for (pending, reply) in batch.into_iter().zip(replies) {
            let _ = pending.reply.send(Ok(reply));
        }
        Ok(())
    }
}

fn answer_all(batch: Vec<PendingBuy>, error: &SaleError) {
    for pending in batch {
        let _ = pending.reply.send(Err(error.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_at_least_the_minimum_before_any_call() {
        let pace = Pace::default();
        let delay = pace.retry_after();
        assert!(delay >= RETRY_AFTER_MIN && delay < RETRY_AFTER_MIN.mul_f64(1.5));
    }

    #[test]
    fn retry_after_follows_slow_calls_up_to_the_maximum() {
        let pace = Pace::default();
        pace.record(Duration::from_millis(300));
        let delay = pace.retry_after();
        assert!(delay >= Duration::from_millis(600) && delay < Duration::from_millis(900));
        for _ in 0..50 {
            pace.record(Duration::from_secs(10));
        }
        let delay = pace.retry_after();
        assert!(delay >= RETRY_AFTER_MAX && delay < RETRY_AFTER_MAX.mul_f64(1.5));
    }

    #[test]
    fn the_call_mean_moves_an_eighth_of_the_way_per_call() {
        let pace = Pace::default();
        pace.record(Duration::from_micros(800));
        pace.record(Duration::from_micros(0));
        assert_eq!(pace.call_micros.load(Ordering::Relaxed), 700);
    }
}
