//! The edge's relay supervisor: while a room has viewers on this node and
//! its origin is another node, one peer connection to the origin (opened by
//! `edge`) feeds the room's fan-outs.
//!
//! One supervisor task per room does everything, so there is never more
//! than one relay (or one attempt) per room on this node. It starts when a
//! viewer subscribes, and on each turn (every `relay_poll_ms`, or sooner when
//! woken) reads the room's origin from the directory and compares it with
//! the room's feed here:
//!
//! | directory says \ feed here | none / relay from another node | relay from it | local seller |
//! |---|---|---|---|
//! | no origin | — | close the relay (the stream ended) | claim the origin again |
//! | this node | — | close the relay | — |
//! | another node | open a relay to it (replacing the old one) | keep it | yield to a newer claim: relay instead |
//!
//! A relay whose connection fails is dropped at once and the supervisor
//! woken, so it reconnects (to the same origin, or a new one the directory
//! names). Failed attempts at one claim back off up to a few seconds; a new
//! claim is tried at once. When the room has had no viewer here for
//! `relay_idle_grace_ms`, the relay closes (and the origin is told) and the
//! supervisor ends.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::directory::Origin;
use super::super::publisher::claim_origin;
use super::super::room::{Feed, Publisher, RoomMedia};
use super::super::MediaError;
use super::edge::open;
use super::ClusterLink;

/// The longest pause between two attempts to reach an origin.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A viewer wants the room's stream on this node: make sure the supervisor
/// runs, and wake it.
pub(crate) fn want(room: &Arc<RoomMedia>) {
    let Some(link) = room.cluster.clone() else {
        return;
    };
    room.edge.touch();
    if room
        .edge
        .running
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        tokio::spawn(supervise(Arc::clone(room), link));
    } else {
        room.edge.wake.notify_one();
    }
}

/// Waits until a viewer may subscribe here: the stream is live here, or a
/// relay from the origin is negotiated. `NotLive` when no other node
/// publishes the room, or the relay does not come up within `relay_wait_ms`.
pub(crate) async fn await_feed(room: &RoomMedia) -> Result<(), MediaError> {
    let Some(link) = room.cluster.as_ref() else {
        return Ok(());
    };
    if *room.live.borrow() || *room.edge.ready.borrow() {
        return Ok(());
    }
    let local_seller = room
        .publisher
        .lock()
        .await
        .as_ref()
        .is_some_and(|p| matches!(p.feed, Feed::Seller { .. }));
    if local_seller {
        // Published here, not flowing yet: as on a single node.
        return Err(MediaError::NotLive);
    }
    match link.directory.origin(&room.id).await {
        Ok(Some(origin)) if origin.node.id != link.node.id => {}
        Ok(_) => return Err(MediaError::NotLive),
        Err(error) => {
            tracing::warn!(room = %room.id, %error, "no media directory to find the room's origin");
            return Err(MediaError::NotLive);
        }
    }
    let mut live = room.live.subscribe();
    let mut ready = room.edge.ready.subscribe();
    let fed = async {
        tokio::select! {
            up = live.wait_for(|live| *live) => up.is_ok(),
            up = ready.wait_for(|ready| *ready) => up.is_ok(),
        }
    };
    match tokio::time::timeout(room.config.relay_wait(), fed).await {
        Ok(true) => Ok(()),
        _ => Err(MediaError::NotLive),
    }
}

/// The room's supervisor: see the module documentation.
async fn supervise(room: Arc<RoomMedia>, link: Arc<ClusterLink>) {
    let poll = room.config.relay_poll();
    let mut backoff = Backoff::default();
    loop {
        if room.stop.is_cancelled() {
            return;
        }
        if is_idle(&room).await {
            close_relay(&room).await;
            room.edge.running.store(false, Ordering::SeqCst);
            // A viewer may have asked in between: carry on if so, unless a
            // new supervisor already took over.
            let resumed = !is_idle(&room).await
                && room
                    .edge
                    .running
                    .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok();
            if !resumed {
                tracing::debug!(room = %room.id, "relay supervisor idle; ends");
                return;
            }
        }
        step(&room, &link, &mut backoff, poll).await;
        tokio::select! {
            _ = room.stop.cancelled() => return,
            _ = room.edge.wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Failed attempts to reach one origin claim: after the first failure the
/// claim is retried at the next turn, then after twice as long each time, up
/// to [`MAX_BACKOFF`]. A new claim (another node, or a new epoch) is tried at
/// once.
#[derive(Default)]
struct Backoff {
    /// The claim that failed, its failures in a row, and when to try again.
    failed: Option<(Origin, u32, Instant)>,
}

impl Backoff {
    fn allows(&self, origin: &Origin) -> bool {
        match &self.failed {
            Some((failed, _, retry_at)) if failed == origin => Instant::now() >= *retry_at,
            _ => true,
        }
    }

    fn record(&mut self, origin: &Origin, ok: bool, poll: Duration) {
        if ok {
            self.failed = None;
            return;
        }
        let failures = match &self.failed {
            Some((failed, n, _)) if failed == origin => n.saturating_add(1),
            _ => 1,
        };
        // The next turn, then twice as long each time (less half a turn, so
        // a turn that comes a little early is not skipped).
        let pause = (poll * 2u32.saturating_pow(failures.saturating_sub(1).min(8)))
            .min(MAX_BACKOFF)
            .saturating_sub(poll / 2);
        self.failed = Some((origin.clone(), failures, Instant::now() + pause));
    }
}

/// No viewer here, and none asked or left within the grace period.
async fn is_idle(room: &RoomMedia) -> bool {
    room.subscribers.lock().await.is_empty()
        && room.edge.wanted_at.lock().elapsed() >= room.config.relay_idle_grace()
}

/// What feeds the room here, in the terms the supervisor decides on.
enum Current {
    Nothing,
    Seller { epoch: Option<u64> },
    Relay { from: String },
}

async fn current(room: &RoomMedia) -> Current {
    match room.publisher.lock().await.as_ref().map(|p| &p.feed) {
        None => Current::Nothing,
        Some(Feed::Seller { epoch, .. }) => Current::Seller { epoch: *epoch },
        Some(Feed::Relay { origin, .. }) => Current::Relay {
            from: origin.node.id.clone(),
        },
    }
}

/// One look at the directory and the feed, acting on the difference.
async fn step(room: &Arc<RoomMedia>, link: &ClusterLink, backoff: &mut Backoff, poll: Duration) {
    let origin = match link.directory.origin(&room.id).await {
        Ok(origin) => origin,
        Err(error) => {
            tracing::debug!(room = %room.id, %error, "media directory unavailable");
            return;
        }
    };
    let me = link.node.id.as_str();
    let relay_to = match (origin, current(room).await) {
        // The stream ended at the origin, or this node is the origin now
        // (its seller's publish replaces the feed).
        (None, Current::Relay { .. }) => {
            close_relay(room).await;
            None
        }
        (Some(o), Current::Relay { .. }) if o.node.id == me => {
            close_relay(room).await;
            None
        }
        (Some(o), Current::Relay { from }) if from == o.node.id => None,
        (Some(o), Current::Relay { .. } | Current::Nothing) if o.node.id != me => Some(o),
        // The seller published on another node after publishing here: the
        // newest claim wins, as a republish on one node would.
        (Some(o), Current::Seller { epoch: Some(e) }) if o.node.id != me && o.epoch > e => {
            tracing::info!(room = %room.id, origin = %o.node.id, "the seller moved to another node");
            Some(o)
        }
        (Some(o), Current::Seller { .. }) if o.node.id == me => None,
        // A seller publishes here but the directory lost the claim (it was
        // unavailable at publish, or cleared): claim it again.
        (_, Current::Seller { .. }) => {
            reclaim(room).await;
            None
        }
        _ => None,
    };
    if let Some(origin) = relay_to {
        if backoff.allows(&origin) {
            let ok = open(room, link, &origin).await;
            backoff.record(&origin, ok, poll);
        }
    }
}

/// Records this node as origin again for its local seller.
async fn reclaim(room: &RoomMedia) {
    let Some(epoch) = claim_origin(room).await else {
        return;
    };
    let mut slot = room.publisher.lock().await;
    if let Some(Publisher {
        feed: Feed::Seller { epoch: current, .. },
        ..
    }) = slot.as_mut()
    {
        *current = Some(epoch);
        tracing::info!(room = %room.id, epoch, "claimed the room's origin again");
        if *room.live.borrow() {
            room.announced.send_replace(true);
        }
    }
}

/// Closes the relay feeding the room here, if any.
async fn close_relay(room: &RoomMedia) {
    let relay = {
        let slot = room.publisher.lock().await;
        match slot.as_ref() {
            Some(p) if matches!(p.feed, Feed::Relay { .. }) => Some(p.session.id),
            _ => None,
        }
    };
    if let Some(id) = relay {
        if room.remove_feed(id).await {
            tracing::info!(room = %room.id, "relay closed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::NodeAddr;

    fn origin(node: &str, epoch: u64) -> Origin {
        Origin {
            node: NodeAddr {
                id: node.into(),
                url: format!("http://{node}"),
            },
            epoch,
        }
    }

    #[test]
    fn a_failing_claim_backs_off_and_a_new_claim_is_tried_at_once() {
        let poll = Duration::from_millis(400);
        let mut backoff = Backoff::default();
        let dead = origin("a", 1);
        assert!(backoff.allows(&dead));
        for _ in 0..4 {
            backoff.record(&dead, false, poll);
        }
        assert!(!backoff.allows(&dead), "the fourth failure waits 8 turns");
        let Some((_, failures, retry_at)) = &backoff.failed else {
            panic!("no failure recorded")
        };
        assert_eq!(*failures, 4);
        let wait = retry_at.saturating_duration_since(Instant::now());
        assert!(wait > poll * 7 && wait <= poll * 8, "{wait:?}");

        // The seller republished elsewhere: no waiting for the dead one.
        assert!(backoff.allows(&origin("c", 2)));
        assert!(
            backoff.allows(&origin("a", 3)),
            "a new epoch is a new claim"
        );
        backoff.record(&dead, true, poll);
        assert!(backoff.allows(&dead));
    }

    #[test]
    fn backoff_is_capped() {
        let poll = Duration::from_millis(500);
        let mut backoff = Backoff::default();
        let dead = origin("a", 1);
        for _ in 0..20 {
            backoff.record(&dead, false, poll);
        }
        let Some((_, _, retry_at)) = &backoff.failed else {
            panic!("no failure recorded")
        };
        assert!(retry_at.saturating_duration_since(Instant::now()) <= MAX_BACKOFF);
    }
}
