//! The direct queue: what the reader hands the writer (replies, closes,
//! the SFU's queue), in order, bounded.
//!
//! It lives inside the connection's task, borrowed by both halves, instead
//! of being a Tokio channel: a channel allocates its shared state (three
//! cache-padded parts, ≈ 0.5 KiB) and a first block of 32 slots when it is
//! made, used or not, and every idle viewer paid for both. Here an idle
//! connection's queue is a few words in its task; items get a buffer only
//! when the first reply is queued.
//!
//! One [`Sender`] (the reader) and one [`Receiver`] (the writer); dropping
//! either closes the queue for the other, as a channel's halves do: the
//! writer sends what is queued, then stops; the reader's sends fail.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::Poll;

use futures_util::task::AtomicWaker;
use parking_lot::{Mutex, MutexGuard};

use super::Outgoing;

/// The queue itself; the connection owns it, its halves borrow it.
pub(super) struct DirectQueue {
    /// A blocking mutex, not a Tokio one: it is held only to push or pop,
    /// never across an `.await`.
    state: Mutex<State>,
    /// Wakes the writer: something was queued, or the reader hung up.
    /// `AtomicWaker`s, not `Notify`s: one task waits on each side (both
    /// halves run in the connection's task), and the writer polls its side
    /// on every wake-up, once per room event, where a `Notify` would take
    /// its waiter list's lock to register and again to unregister.
    readable: AtomicWaker,
    /// Wakes the reader: room was made, or the writer hung up.
    writable: AtomicWaker,
    /// Items queued before the reader must wait (`server.direct_queue`).
    capacity: usize,
}

struct State {
    /// Empty `VecDeque`s do not allocate: idle connections have no buffer.
    items: VecDeque<Outgoing>,
    /// The reader dropped its [`Sender`].
    sender_gone: bool,
    /// The writer dropped its [`Receiver`].
    receiver_gone: bool,
}

/// Why [`Sender::try_send`] did not queue an item.
pub(super) enum TrySendError {
    /// The queue holds `capacity` items: wait with [`Sender::send`].
    Full(Outgoing),
    /// The writer has stopped.
    Closed,
}

/// Why [`Receiver::try_recv`] returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TryRecvError {
    Empty,
    /// Empty, and the reader has stopped: nothing more will come.
    Disconnected,
}

impl DirectQueue {
    pub(super) fn new(capacity: usize) -> DirectQueue {
        DirectQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                sender_gone: false,
                receiver_gone: false,
            }),
            readable: AtomicWaker::new(),
            writable: AtomicWaker::new(),
            capacity: capacity.max(1),
        }
    }

    /// The two ends; call once.
    pub(super) fn split(&self) -> (Sender<'_>, Receiver<'_>) {
        (Sender { queue: self }, Receiver { queue: self })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }
}

/// The reader's end.
pub(super) struct Sender<'q> {
    queue: &'q DirectQueue,
}

impl Sender<'_> {
    /// Queue `item` if there is room, at once.
    pub(super) fn try_send(&self, item: Outgoing) -> Result<(), TrySendError> {
        let mut state = self.queue.lock();
        if state.receiver_gone {
            return Err(TrySendError::Closed);
        }
        if state.items.len() >= self.queue.capacity {
            return Err(TrySendError::Full(item));
        }
        state.items.push_back(item);
        drop(state);
        self.queue.readable.wake();
        Ok(())
    }

    /// Queue `item`, waiting while the queue is full; `false` (and the item
    /// dropped) once the writer has stopped.
    pub(super) async fn send(&self, item: Outgoing) -> bool {
        let mut item = Some(item);
        poll_fn(|cx| {
            // Registered before the check, so a pop between the check and
            // the wait still wakes us.
            self.queue.writable.register(cx.waker());
            let Some(next) = item.take() else {
                return Poll::Ready(false);
            };
            match self.try_send(next) {
                Ok(()) => Poll::Ready(true),
                Err(TrySendError::Closed) => Poll::Ready(false),
                Err(TrySendError::Full(back)) => {
                    item = Some(back);
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl Drop for Sender<'_> {
    fn drop(&mut self) {
        self.queue.lock().sender_gone = true;
        self.queue.readable.wake();
    }
}

/// The writer's end.
pub(super) struct Receiver<'q> {
    queue: &'q DirectQueue,
}

impl Receiver<'_> {
    /// The next item if one is queued.
    pub(super) fn try_recv(&mut self) -> Result<Outgoing, TryRecvError> {
        let mut state = self.queue.lock();
        match state.items.pop_front() {
            Some(item) => {
                drop(state);
                self.queue.writable.wake();
                Ok(item)
            }
            None if state.sender_gone => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// The next item, waiting for one; `None` once the queue is empty and
    /// the reader has stopped. Cancel-safe: an item is taken only when this
    /// returns it.
    pub(super) async fn recv(&mut self) -> Option<Outgoing> {
        poll_fn(|cx| {
            // Registered before the check, so a push between the check and
            // the wait still wakes us.
            self.queue.readable.register(cx.waker());
            match self.try_recv() {
                Ok(item) => Poll::Ready(Some(item)),
                Err(TryRecvError::Disconnected) => Poll::Ready(None),
                Err(TryRecvError::Empty) => Poll::Pending,
            }
        })
        .await
    }
}

impl Drop for Receiver<'_> {
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        state.receiver_gone = true;
        // What was queued and not sent is dropped with the queue's hope of
        // being sent, as a channel's would be.
        state.items.clear();
        drop(state);
        self.queue.writable.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::JsonText;

    fn text(s: &'static str) -> Outgoing {
        Outgoing::Text(JsonText::from_static(s))
    }

    fn as_text(item: Outgoing) -> String {
        match item {
            Outgoing::Text(json) => json.as_str().to_owned(),
            _ => panic!("not a text item"),
        }
    }

    #[tokio::test]
    async fn items_arrive_in_the_order_they_were_queued() {
        let queue = DirectQueue::new(4);
        let (tx, mut rx) = queue.split();
        assert!(tx.send(text("1")).await);
        assert!(tx.try_send(text("2")).is_ok());
        assert_eq!(as_text(rx.recv().await.unwrap()), "1");
        assert_eq!(as_text(rx.try_recv().unwrap()), "2");
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_makes_the_sender_wait() {
        let queue = DirectQueue::new(1);
        let (tx, mut rx) = queue.split();
        assert!(tx.try_send(text("1")).is_ok());
        assert!(matches!(tx.try_send(text("2")), Err(TrySendError::Full(_))));
        let (sent, first) = tokio::join!(tx.send(text("2")), async {
            tokio::task::yield_now().await;
            rx.recv().await
        });
        assert!(sent);
        assert_eq!(as_text(first.unwrap()), "1");
        assert_eq!(as_text(rx.try_recv().unwrap()), "2");
    }

    #[tokio::test]
    async fn the_receiver_gets_what_was_queued_then_none_after_the_sender_drops() {
        let queue = DirectQueue::new(4);
        let (tx, mut rx) = queue.split();
        assert!(tx.try_send(text("last")).is_ok());
        drop(tx);
        assert_eq!(as_text(rx.recv().await.unwrap()), "last");
        assert!(rx.recv().await.is_none());
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_when_the_sender_drops() {
        let queue = DirectQueue::new(4);
        let (tx, mut rx) = queue.split();
        let (got, ()) = tokio::join!(rx.recv(), async {
            tokio::task::yield_now().await;
            drop(tx);
        });
        assert!(got.is_none());
    }

    #[tokio::test]
    async fn sending_fails_once_the_receiver_is_gone_even_to_a_waiting_sender() {
        let queue = DirectQueue::new(1);
        let (tx, rx) = queue.split();
        assert!(tx.try_send(text("1")).is_ok());
        let (sent, ()) = tokio::join!(tx.send(text("2")), async {
            tokio::task::yield_now().await;
            drop(rx);
        });
        assert!(!sent);
        assert!(matches!(tx.try_send(text("3")), Err(TrySendError::Closed)));
    }
}
