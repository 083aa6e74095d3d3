//! Group commit: concurrent buys of one sale share one Redis call.
//!
//! Each sale (of a room: a [`SaleRef`], since the keys and the function call
//! name both) with buys in flight has a *lane*: a channel and a task. The task
//! takes the first waiting buy, then every other buy already queued (up to
//! [`MAX_BATCH`]), and sends them all in one `FCALL chophien_buy_batch`. While
//! that call is in flight, new buys queue up for the next one, so batches grow
//! with load and a lone buy is never delayed. Inside Redis the batch is one
//! atomic function that runs the ordinary `buy` for each request in order:
//! each request's checks still precede its writes, and a repeated key within
//! one batch answers `duplicate` like anywhere else.
//!
//! A lane that stays idle for [`LANE_IDLE`] retires: it leaves the map, closes
//! its channel and answers what was still queued. A buyer whose send finds the
//! channel closed opens a new lane.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};

use super::RedisSaleStore;
use crate::sale::{SaleError, SaleRef};

/// Most buys in one Redis call: bounds the time Redis spends in one function.
pub(super) const MAX_BATCH: usize = 128;
/// Buys a lane queues before senders wait (back-pressure).
const LANE_CAPACITY: usize = 4096;
/// A lane with no buy for this long retires.
const LANE_IDLE: Duration = Duration::from_secs(30);

/// The arguments of one `buy` (now, buyer, name, quantity, idempotency
/// field, hold id) and where its reply goes.
struct PendingBuy {
    args: [String; 6],
    reply: oneshot::Sender<Result<Vec<String>, SaleError>>,
}

/// The lanes of every sale with recent buys on this node.
#[derive(Default)]
pub(super) struct BuyBatcher {
    /// A `DashMap` so buys of different sales never contend on one lock.
    /// Keyed by room and sale: the same sale id in another room is another
    /// (non-existent) sale, and must not share its lane.
    lanes: DashMap<SaleRef, mpsc::Sender<PendingBuy>>,
}

impl BuyBatcher {
    /// Queues one buy on its sale's lane and waits for its reply (the same
    /// shape as a single `chophien_buy` reply).
    pub(super) async fn submit(
        self: &Arc<Self>,
        store: &RedisSaleStore,
        sale: &SaleRef,
        mut args: [String; 6],
    ) -> Result<Vec<String>, SaleError> {
        // Twice at most: a lane may retire between lookup and send.
        for _ in 0..2 {
            let lane = self.lane(store, sale);
            let (reply, answer) = oneshot::channel();
            match lane.send(PendingBuy { args, reply }).await {
                Ok(()) => {
                    return answer
                        .await
                        .unwrap_or_else(|_| Err(SaleError::Unavailable("buy lane stopped".into())))
                }
                Err(mpsc::error::SendError(pending)) => {
                    args = pending.args;
                    self.lanes.remove_if(sale, |_, tx| tx.same_channel(&lane));
                }
            }
        }
        Err(SaleError::Unavailable("buy lane kept closing".into()))
    }

    fn lane(self: &Arc<Self>, store: &RedisSaleStore, sale: &SaleRef) -> mpsc::Sender<PendingBuy> {
        if let Some(lane) = self.lanes.get(sale) {
            return lane.clone();
        }
        self.lanes
            .entry(sale.clone())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(LANE_CAPACITY);
                let lane = Lane {
                    batcher: Arc::clone(self),
                    store: store.clone(),
                    sale: sale.clone(),
                    own: tx.clone(),
                };
                tokio::spawn(lane.run(rx));
                tx
            })
            .clone()
    }
}

/// One sale's batching task.
struct Lane {
    batcher: Arc<BuyBatcher>,
    store: RedisSaleStore,
    sale: SaleRef,
    /// To remove exactly this lane from the map when it retires.
    own: mpsc::Sender<PendingBuy>,
}

impl Lane {
    async fn run(self, mut queue: mpsc::Receiver<PendingBuy>) {
        loop {
            let first = tokio::select! {
                pending = queue.recv() => pending,
                _ = tokio::time::sleep(LANE_IDLE) => {
                    self.batcher.lanes.remove_if(&self.sale, |_, tx| tx.same_channel(&self.own));
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
            self.commit(batch).await;
        }
    }

    async fn commit(&self, batch: Vec<PendingBuy>) {
        let args: Vec<&str> = batch
            .iter()
            .flat_map(|pending| pending.args.iter().map(String::as_str))
            .collect();
        let now = batch[0].args[0].parse().unwrap_or(0);
        let replies: Result<Vec<Vec<String>>, SaleError> = self
            .store
            .call("chophien_buy_batch", &self.sale, now, &args)
            .await;
        match replies {
            Ok(replies) if replies.len() == batch.len() => {
                for (pending, reply) in batch.into_iter().zip(replies) {
                    let _ = pending.reply.send(Ok(reply));
                }
            }
            Ok(replies) => {
                let err = SaleError::Internal(format!(
                    "batch of {} buys got {} replies",
                    batch.len(),
                    replies.len()
                ));
                for pending in batch {
                    let _ = pending.reply.send(Err(err.clone()));
                }
            }
            Err(err) => {
                for pending in batch {
                    let _ = pending.reply.send(Err(err.clone()));
                }
            }
        }
    }
}
