//! How committed room events reach the connections of one node.
//!
//! A room's events are numbered (`seq`), recorded and serialized once by the
//! room store (`room::store`), which hands each one to this node as a
//! [`Frame`] through [`FrameSink::deliver`]: the memory store directly, in
//! `seq` order under the room's lock; the Redis store through its feed (one
//! subscription per node to what the store's functions published). Each
//! active room on the node has one [`Fanout`]: a bounded broadcast ring,
//! which is also every local subscriber's queue, so memory is one ring per
//! room, not one queue per viewer, and every recipient gets a clone of the
//! same bytes (a reference-count bump, not a copy).
//!
//! - **Delivering never awaits.** [`Fanout::publish`] returns at once; it
//!   is called in `seq` order (under a lock, or from one feed task).
//! - **Subscribers see one total order.** A [`Subscription`] yields frames
//!   in `seq` order with no gaps and no repeats: frames at or before the seq
//!   it starts after are skipped (a joining client has them in its snapshot
//!   or its resume), and a gap or an overrun ring ends it with
//!   [`Lagged`](SubscriptionError::Lagged), which carries the last seq it
//!   delivered so the client can resume from exactly there. Slow-consumer
//!   detection lives here, not in the connection.

use tokio::sync::broadcast;

use crate::protocol::JsonText;

/// One serialized room event, shared by every recipient.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: u64,
    /// The complete JSON text frame, `seq` included.
    pub json: JsonText,
    /// What the node itself must do about this event, if anything.
    pub control: Option<Control>,
}

/// Events a node acts on besides forwarding them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// `room_closed`: the room's last event; its connections end after it.
    RoomClosed,
    /// `user_banned`: this identity's connections end, those whose role
    /// ranks below `by_rank` (the rank of who banned: see `Role::rank`).
    UserBanned { user_id: String, by_rank: u8 },
}

impl Frame {
    /// Is this the room's last event (`room_closed`)?
    pub fn is_last(&self) -> bool {
        self.control == Some(Control::RoomClosed)
    }
}

/// Where a room store hands this node the events it committed.
pub trait FrameSink: Send + Sync {
    /// Deliver `frame` of `room_id` to this node's connections, if any are in
    /// the room. Called in `seq` order for each room; returns at once.
    fn deliver(&self, room_id: &str, frame: Frame);
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

    /// Start after `seq` instead: the frames up to it reached the subscriber
    /// another way (a snapshot or a resume read after subscribing). Frames
    /// already in the ring at or before it are skipped.
    pub fn start_after(&mut self, seq: u64) {
        self.last_seq = seq;
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

/// One room's fan-out ring on this node.
pub struct Fanout {
    sender: broadcast::Sender<Frame>,
}

impl Fanout {
    /// A ring a subscriber may fall `capacity` frames behind before it lags.
    pub fn new(capacity: usize) -> Fanout {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Fanout { sender }
    }

    /// Hand a frame to every current subscriber. Never blocks: a slow
    /// subscriber lags rather than slowing the room.
    pub fn publish(&self, frame: Frame) {
        // An error only means nobody is listening right now, which is fine.
        let _ = self.sender.send(frame);
    }

    /// Receive what is published from now on that follows `after_seq`.
    pub fn subscribe(&self, after_seq: u64) -> Subscription {
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
            control: None,
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_the_same_bytes() {
        let channel = Fanout::new(8);
        let mut a = channel.subscribe(0);
        let mut b = channel.subscribe(0);
        channel.publish(Frame {
            seq: 1,
            json: JsonText::from_static(r#"{"seq":1}"#),
            control: None,
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
        let channel = Fanout::new(2);
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
