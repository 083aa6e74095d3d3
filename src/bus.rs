//! The seam every room event flows through on its way to connections.
//!
//! A [`Room`](crate::room::Room) publishes each event once, already
//! serialized, as a [`Frame`]; every connection in the room holds a receiver
//! and gets a clone of the same bytes (a reference-count bump, not a copy).
//! Today [`LocalBus`] is a `tokio::sync::broadcast` channel per room. When
//! several nodes serve one room, a Redis pub/sub bus will implement the same
//! traits: the node that owns the room publishes to Redis and every node
//! feeds its local receivers from its subscription, so neither rooms nor
//! connections change.
//!
//! The broadcast channel doubles as each connection's bounded queue: a
//! receiver that falls more than `capacity` frames behind sees
//! `RecvError::Lagged` and is disconnected as a slow consumer (it resumes by
//! `seq`). Memory is one shared ring per room, not one queue per viewer.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// One serialized room event, shared by every recipient.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: u64,
    /// The complete JSON text frame, `seq` included.
    pub json: Utf8Bytes,
}

/// Where one room's events go, and where its connections listen.
pub trait RoomChannel: Send + Sync {
    /// Deliver a frame to every current subscriber. Never blocks: slow
    /// subscribers lag rather than slowing the publisher.
    fn publish(&self, frame: Frame);
    /// Start receiving frames published from now on.
    fn subscribe(&self) -> broadcast::Receiver<Frame>;
}

/// Opens the channel for a room.
pub trait RoomBus: Send + Sync {
    fn channel(&self, room_id: &str) -> Arc<dyn RoomChannel>;
}

/// The single-node bus: one in-process broadcast channel per room.
pub struct LocalBus {
    /// How many frames a subscriber may fall behind before it is dropped.
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

    fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_gets_the_same_bytes() {
        let channel = LocalBus::new(8).channel("r");
        let mut a = channel.subscribe();
        let mut b = channel.subscribe();
        channel.publish(Frame {
            seq: 1,
            json: Utf8Bytes::from_static("{}"),
        });
        let (fa, fb) = (a.recv().await.unwrap(), b.recv().await.unwrap());
        assert_eq!(fa.seq, 1);
        assert_eq!(fa.json.as_str().as_ptr(), fb.json.as_str().as_ptr());
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_learns_it_lagged() {
        let channel = LocalBus::new(2).channel("r");
        let mut slow = channel.subscribe();
        for seq in 1..=5 {
            channel.publish(Frame {
                seq,
                json: Utf8Bytes::from_static("{}"),
            });
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(3))
        ));
    }
}
