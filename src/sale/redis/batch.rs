//! Group commit and admission control: concurrent buys of one sale share one
//! Redis call, and a buy that would wait too long for its turn is answered
//! `busy` at once instead of waiting into a timeout.
//!
//! Each sale (of a room: a [`SaleRef`], since the keys and the function call
//! name both) with buys in flight has a *lane*: a bounded queue and a task.
//! The task sends one `FCALL chophien_buy_batch` at a time, carrying the
//! first waiting buy and every other buy already queued, up to
//! [`MAX_BATCH`]. While that call is in flight new buys queue for the next
//! one, so the batch grows with the queue: a lone buy is never delayed, and
//! under a burst each call carries up to a thousand buys. Inside Redis the
//! batch is one atomic function that runs the ordinary `buy` for each
//! request in order: each request's checks still precede its writes, and a
//! repeated key within one batch answers `duplicate` like anywhere else.
//!
//! **Admission.** A buy joins the queue only if the lane expects to send it
//! within [`GroupCommit::queue_wait`]: the calls ahead of it (the one in
//! flight, and one per [`MAX_BATCH`] buys queued) times how long a call
//! takes now (the recent mean, or the call in flight if it is slower). And
//! the queue never holds more than [`GroupCommit::queue_limit`] buys. A buy
//! refused either way is not queued: it is answered [`Queued::Busy`] at
//! once, with that estimate as its retry delay. Nothing was reserved, and the
//! buyer knows it.
//!
//! **Deadlines mean Redis.** The store's deadline (`op_timeout`) runs from
//! the moment a batch is sent to Redis, never from a buy's arrival in the
//! queue. When a call fails (Redis down, or silent past the deadline), the
//! buys queued behind it are answered `unavailable` at once rather than sent
//! into the same failure one deadline later. So `unavailable` always means
//! that Redis failed.
//!
//! Lanes run on the Redis link's own thread (`redis-io`), beside the
//! connection to Redis: the time a call is in flight is Redis' time, not a
//! wait for a busy runtime to get round to the lane.
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
/// The most buys in one Redis call: about 15 ms of Redis time, so one
/// sale's burst never stalls Redis for the other rooms for long.
pub(super) const MAX_BATCH: usize = 1024;
/// The shortest and longest `busy` retry delay (before jitter): short
/// enough that a buyer is back within a blink, long enough that retries do
/// not come back before the queue had a chance to drain.
const RETRY_AFTER_MIN: Duration = Duration::from_millis(100);
const RETRY_AFTER_MAX: Duration = Duration::from_secs(1);

/// How buys of one sale are queued on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// The longest a buy is expected to wait in the queue before its call
    /// is sent; a buy expected to wait longer is answered `busy`.
    pub queue_wait: Duration,
    /// The most buys of one sale that may wait (bounds memory whatever the
    /// estimate says).
    pub queue_limit: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            queue_wait: Duration::from_millis(500),
            queue_limit: 16_384,
        }
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
struct BatchCounters {
    batches: AtomicU64,
    buys: AtomicU64,
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

/// How long this lane's calls take (written by the lane, read by buyers).
struct Pace {
    /// When the lane started: the origin of `in_flight_since`.
    origin: Instant,
    /// An exponentially weighted mean of recent calls, in microseconds.
    call_micros: AtomicU64,
    /// When the call in flight was sent (microseconds after `origin`, plus
    /// one); 0 while no call is in flight.
    in_flight_since: AtomicU64,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            origin: Instant::now(),
            call_micros: AtomicU64::new(0),
            in_flight_since: AtomicU64::new(0),
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl Pace {
    fn sent(&self) {
        let since = micros(self.origin.elapsed()) + 1;
        self.in_flight_since.store(since, Ordering::Relaxed);
    }

    /// The call in flight was answered after `took`; only calls Redis
    /// answered count towards the pace (a failed call says nothing of how
    /// long the next one will take, and the queue behind it is answered at
    /// once).
    fn answered(&self, took: Option<Duration>) {
        self.in_flight_since.store(0, Ordering::Relaxed);
        let Some(took) = took else { return };
        let took = micros(took);
        let before = self.call_micros.load(Ordering::Relaxed);
        let mean = if before == 0 {
            took
        } else {
            (before * 7 + took) / 8
        };
        self.call_micros.store(mean, Ordering::Relaxed);
    }

    /// How long a buy joining a queue of `queued` would wait for its call
    /// to be sent: what is left of the call in flight (at least as long
    /// again as it has taken, if it is slower than usual: Redis slowing down
    /// shows at once), then one call per full batch ahead of it. With no
    /// call in flight the lane is sending the queue right now.
    fn wait(&self, queued: usize) -> Duration {
        let mean = Duration::from_micros(self.call_micros.load(Ordering::Relaxed));
        let in_flight = match self.in_flight_since.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            since => {
                let elapsed =
                    Duration::from_micros(micros(self.origin.elapsed()).saturating_sub(since - 1));
                mean.max(elapsed)
            }
        };
        let batches_ahead = u32::try_from(queued / MAX_BATCH).unwrap_or(u32::MAX);
        in_flight.saturating_add(mean.saturating_mul(batches_ahead))
    }
}

/// When a busy buyer should come back: about when the queue will have
/// drained, jittered so buyers told together do not return together.
fn retry_after(wait: Duration) -> Duration {
    let base = wait.clamp(RETRY_AFTER_MIN, RETRY_AFTER_MAX);
    base.mul_f64(rand::rng().random_range(1.0..1.25))
}

/// The lanes of every sale with recent buys on this node.
pub(super) struct BuyBatcher {
    /// A `DashMap` so buys of different sales never contend on one lock.
    /// Keyed by room and sale: the same sale id in another room is another
    /// (non-existent) sale, and must not share its lane.
    lanes: DashMap<SaleRef, LaneHandle>,
    options: GroupCommit,
    counters: BatchCounters,
}

impl BuyBatcher {
    pub(super) fn new(options: GroupCommit) -> BuyBatcher {
        BuyBatcher {
            lanes: DashMap::new(),
            options: GroupCommit {
                queue_limit: options.queue_limit.max(1),
                ..options
            },
            counters: BatchCounters::default(),
        }
    }

    /// Calls sent to Redis so far, and the buys they carried.
    pub(super) fn totals(&self) -> (u64, u64) {
        (
            self.counters.batches.load(Ordering::Relaxed),
            self.counters.buys.load(Ordering::Relaxed),
        )
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
            let queued = lane.queue.max_capacity() - lane.queue.capacity();
            let wait = lane.pace.wait(queued);
            if wait > self.options.queue_wait {
                return Ok(Queued::Busy(retry_after(wait)));
            }
            let (reply, answer) = oneshot::channel();
            match lane.queue.try_send(PendingBuy { args, reply }) {
                Ok(()) => {
                    return match answer.await {
                        Ok(reply) => reply.map(Queued::Answered),
                        Err(_) => Err(SaleError::Unavailable("buy lane stopped".into())),
                    }
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    return Ok(Queued::Busy(retry_after(wait)))
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
                // On the `redis-io` thread: a lane answers and sends its
                // next batch the moment Redis replies, however busy the
                // node's connections keep the main runtime, so its pace
                // (and admission) is Redis', not this node's backlog.
                crate::redis_link::spawn_on_io(lane.run(rx));
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
            while batch.len() < MAX_BATCH {
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
        self.own.pace.sent();
        let replies: Result<Vec<Vec<String>>, SaleError> = self
            .store
            .call("chophien_buy_batch", &self.sale, now, &args)
            .await;
        self.own
            .pace
            .answered(replies.is_ok().then(|| sent.elapsed()));
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

    /// A pace whose calls took `mean` and whose call in flight (if any) was
    /// sent `in_flight_for` ago.
    fn pace(mean: Duration, in_flight_for: Option<Duration>) -> Pace {
        let pace = Pace {
            origin: Instant::now() - Duration::from_secs(10),
            ..Pace::default()
        };
        pace.answered(Some(mean));
        if let Some(ago) = in_flight_for {
            let since = micros(Duration::from_secs(10) - ago) + 1;
            pace.in_flight_since.store(since, Ordering::Relaxed);
        }
        pace
    }

    #[test]
    fn an_idle_lane_sends_at_once_however_slow_its_last_call_was() {
        let slow = pace(Duration::from_secs(5), None);
        assert_eq!(slow.wait(0), Duration::ZERO);
        assert_eq!(slow.wait(MAX_BATCH - 1), Duration::ZERO);
    }

    #[test]
    fn the_wait_counts_the_call_in_flight_and_one_call_per_full_batch_queued() {
        let busy = pace(Duration::from_millis(10), Some(Duration::ZERO));
        let near = |wait: Duration, ms: u64| {
            wait.abs_diff(Duration::from_millis(ms)) < Duration::from_millis(2)
        };
        assert!(near(busy.wait(0), 10));
        assert!(near(busy.wait(MAX_BATCH - 1), 10));
        assert!(near(busy.wait(MAX_BATCH), 20));
        assert!(near(busy.wait(3 * MAX_BATCH), 40));
    }

    #[test]
    fn a_call_in_flight_longer_than_the_mean_sets_the_pace() {
        let stuck = pace(Duration::from_millis(10), Some(Duration::from_secs(1)));
        assert!(stuck.wait(0) >= Duration::from_secs(1));
    }

    #[test]
    fn a_failed_call_leaves_the_pace_alone() {
        let failed = pace(Duration::from_millis(10), Some(Duration::from_secs(1)));
        failed.answered(None);
        assert_eq!(failed.call_micros.load(Ordering::Relaxed), 10_000);
        assert_eq!(failed.wait(0), Duration::ZERO);
    }

    #[test]
    fn the_call_mean_moves_an_eighth_of_the_way_per_call() {
        let pace = Pace::default();
        pace.answered(Some(Duration::from_micros(800)));
        pace.answered(Some(Duration::from_micros(0)));
        assert_eq!(pace.call_micros.load(Ordering::Relaxed), 700);
    }

    #[test]
    fn retry_after_stays_between_the_bounds_with_a_quarter_of_jitter() {
        let short = retry_after(Duration::ZERO);
        assert!(short >= RETRY_AFTER_MIN && short < RETRY_AFTER_MIN.mul_f64(1.25));
        let long = retry_after(Duration::from_secs(60));
        assert!(long >= RETRY_AFTER_MAX && long < RETRY_AFTER_MAX.mul_f64(1.25));
        let middle = retry_after(Duration::from_millis(600));
        assert!(middle >= Duration::from_millis(600) && middle < Duration::from_millis(750));
    }
}
