//! The seam every room event crosses on its way to connections.
//!
//! A [`Room`](crate::room::Room) numbers each event, serializes it once into
//! a [`Frame`] and hands it to its [`RoomChannel`]; every connection in the
//! room reads the frames through its own [`Subscription`] and gets a clone of
//! the same bytes (a reference-count bump, not a copy).
//!
//! The seam is shaped for more than one implementation:
//! - **Publishing never awaits.** A room publishes under its lock, in `seq`
//!   order, so [`RoomChannel::publish`] must return at once. [`LocalBus`]
//!   delivers straight into an in-process broadcast ring; a bus that does
//!   I/O (Redis pub/sub, when rooms span nodes) queues the frame for a task
//!   of its own, which keeps the order the room gave it.
//! - **Subscribers see one total order.** A [`Subscription`] yields frames
//!   in `seq` order with no gaps and no repeats: frames at or before the seq
//!   it started after are skipped (a joining client has them in its
//!   snapshot), and a gap or an overrun ring ends it with
//!   [`Lagged`](SubscriptionError::Lagged), which carries the last seq it
//!   delivered so the client can resume from exactly there. Slow-consumer
//!   detection lives here, not in the connection.
//! - **Each node fans out locally.** Whatever carries frames between nodes,
//!   a node feeds one bounded broadcast ring per room, which is also every
//!   local subscriber's queue: memory is one ring per room, not one queue
//!   per viewer, and a subscriber more than `capacity` frames behind lags.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::protocol::JsonText;

/// One serialized room event, shared by every recipient.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: u64,
    /// The complete JSON text frame, `seq` included.
    pub json: JsonText,
    /// The room's final event (`room_closed`): nothing follows it.
    pub last: bool,
}

/// Where one room's events go, and where its connections listen.
pub trait RoomChannel: Send + Sync {
    /// Hand over the room's next frame. Called in `seq` order under the
    /// room's lock: returns at once, never blocks, never awaits.
    fn publish(&self, frame: Frame);
    /// Receive the frames published after `after_seq`, which must be the
    /// room's current seq (the caller holds the room's lock).
    fn subscribe(&self, after_seq: u64) -> Subscription;
}

/// Opens the channel for a room.
pub trait RoomBus: Send + Sync {
    fn channel(&self, room_id: &str) -> Arc<dyn RoomChannel>;
}

/// Why a subscription stopped yielding frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// The subscriber fell too far behind (or missed a frame): it must
    /// resume from `last_seq`, the last frame it was given.
    #[error("fell behind the room's events after seq {last_seq}")]
    Lagged { last_seq: u64 },
    /// The room's channel is gone.
    #[error("the room's event channel closed")]
    Closed,
}

/// One connection's stream of a room's frames: in `seq` order, no gaps, no
/// repeats.
pub struct Subscription {
    receiver: broadcast::Receiver<Frame>,
    /// The seq of the last frame given out (or the one subscribed after).
    last_seq: u64,
}

impl Subscription {
    /// Read `receiver`'s frames that follow `after_seq`. For bus
    /// implementations: each feeds its local broadcast ring in seq order.
    pub fn from_broadcast(receiver: broadcast::Receiver<Frame>, after_seq: u64) -> Subscription {
        Subscription {
            receiver,
            last_seq: after_seq,
        }
    }

    /// The seq of the last frame this subscription gave out.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The next frame.
    pub async fn recv(&mut self) -> Result<Frame, SubscriptionError> {
        loop {
            let received = self.receiver.recv().await;
            if let Some(result) = self.accept(received) {
                return result;
            }
        }
    }

    /// The next frame if one is ready; `None` when none is.
    pub fn try_recv(&mut self) -> Option<Result<Frame, SubscriptionError>> {
        loop {
            let received = match self.receiver.try_recv() {
                Ok(frame) => Ok(frame),
                Err(broadcast::error::TryRecvError::Empty) => return None,
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    Err(broadcast::error::RecvError::Lagged(n))
                }
                Err(broadcast::error::TryRecvError::Closed) => {
                    Err(broadcast::error::RecvError::Closed)
                }
            };
            if let Some(result) = self.accept(received) {
                return Some(result);
            }
        }
    }

    /// What to give out for one item of the ring; `None` to skip it.
    fn accept(
        &mut self,
        received: Result<Frame, broadcast::error::RecvError>,
    ) -> Option<Result<Frame, SubscriptionError>> {
        match received {
            Ok(frame) if frame.seq <= self.last_seq => None,
            Ok(frame) if frame.seq == self.last_seq + 1 => {
                self.last_seq = frame.seq;
                Some(Ok(frame))
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                Some(Err(SubscriptionError::Lagged {
                    last_seq: self.last_seq,
                }))
            }
            Err(broadcast::error::RecvError::Closed) => Some(Err(SubscriptionError::Closed)),
        }
    }
}

/// The single-node bus: one in-process broadcast ring per room.
pub struct LocalBus {
    /// How many frames a subscriber may fall behind before it lags.
    capacity: usize,
}

impl LocalBus {
    pub fn new(capacity: usize) -> LocalBus {
        LocalBus {
            capacity: capacity.max(1),
        }
    }
}

impl RoomBus for LocalBus {
    fn channel(&self, _room_id: &str) -> Arc<dyn RoomChannel> {
        let (sender, _) = broadcast::channel(self.capacity);
        Arc::new(LocalChannel { sender })
    }
}

struct LocalChannel {
    sender: broadcast::Sender<Frame>,
}

impl RoomChannel for LocalChannel {
    fn publish(&self, frame: Frame) {
        // An error only means nobody is listening right now, which is fine.
        let _ = self.sender.send(frame);
    }

    fn subscribe(&self, after_seq: u64) -> Subscription {
        Subscription::from_broadcast(self.sender.subscribe(), after_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Frame {
        Frame {
            seq,
            json: JsonText::from_static("{}"),
            last: false,
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_the_same_bytes() {
        let channel = LocalBus::new(8).channel("r");
        let mut a = channel.subscribe(0);
        let mut b = channel.subscribe(0);
        channel.publish(Frame {
            seq: 1,
            json: JsonText::from_static(r#"{"seq":1}"#),
            last: false,
        });
        let (fa, fb) = (a.recv().await.unwrap(), b.recv().await.unwrap());
        assert_eq!(fa.seq, 1);
        assert_eq!(fa.json.as_str().as_ptr(), fb.json.as_str().as_ptr());
    }

    #[tokio::test]
    async fn frames_at_or_before_the_start_are_skipped() {
        let (sender, _) = broadcast::channel(8);
        let mut subscription = Subscription::from_broadcast(sender.subscribe(), 2);
        for seq in 1..=4 {
            sender.send(frame(seq)).unwrap();
        }
        assert_eq!(subscription.recv().await.unwrap().seq, 3);
        assert_eq!(subscription.try_recv().unwrap().unwrap().seq, 4);
        assert!(subscription.try_recv().is_none());
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_lags_at_its_last_frame() {
        let channel = LocalBus::new(2).channel("r");
        let mut slow = channel.subscribe(0);
        channel.publish(frame(1));
        assert_eq!(slow.recv().await.unwrap().seq, 1);
        for seq in 2..=6 {
            channel.publish(frame(seq));
        }
        assert_eq!(
            slow.recv().await.unwrap_err(),
            SubscriptionError::Lagged { last_seq: 1 }
        );
    }

    #[tokio::test]
    async fn a_gap_in_the_sequence_is_a_lag_never_a_silent_skip() {
        let (sender, _) = broadcast::channel(8);
        let mut subscription = Subscription::from_broadcast(sender.subscribe(), 0);
        sender.send(frame(1)).unwrap();
        sender.send(frame(3)).unwrap();
        assert_eq!(subscription.recv().await.unwrap().seq, 1);
        assert_eq!(
            subscription.recv().await.unwrap_err(),
            SubscriptionError::Lagged { last_seq: 1 }
        );
    }
}
