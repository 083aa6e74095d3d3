//! A one-way signal between the two halves of one connection ("the writer
//! has ended", "the reader has stopped"), kept inside the connection's task.
//!
//! A `CancellationToken` would do, but each one allocates its tree node (a
//! mutex, a child list and a `Notify`) for the connection's life; this
//! lives in the task the halves already share, and costs an idle connection
//! no allocation.
//!
//! Its waiter is an [`AtomicWaker`], not a `Notify`: both halves run in one
//! task, so whoever waits wakes the same task, and polling it (on every
//! wake-up of the connection, for every room event) takes no lock.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use futures_util::task::AtomicWaker;

/// Set once, never cleared; the waiting task wakes when it is set.
pub(super) struct Flag {
    set: AtomicBool,
    /// The task waiting for the flag: the connection's own (both halves).
    waiter: AtomicWaker,
}

impl Flag {
    pub(super) fn new() -> Flag {
        Flag {
            set: AtomicBool::new(false),
            waiter: AtomicWaker::new(),
        }
    }

    /// Set the flag and wake whoever waits for it.
    pub(super) fn cancel(&self) {
        self.set.store(true, Ordering::Release);
        self.waiter.wake();
    }

    /// Wait until the flag is set (at once if it is). Cancel-safe. Meant
    /// for the connection's own task: a waiter in another task would take
    /// the registration from it.
    pub(super) async fn cancelled(&self) {
        poll_fn(|cx| {
            // Registered before the check: a `cancel` between the check and
            // the wait still wakes this task.
            self.waiter.register(cx.waker());
            if self.set.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_set_flag_is_seen_at_once() {
        let flag = Flag::new();
        flag.cancel();
        flag.cancelled().await;
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_flag_is_set() {
        let flag = Flag::new();
        let ((), ()) = tokio::join!(flag.cancelled(), async {
            tokio::task::yield_now().await;
            flag.cancel();
        });
    }

    #[tokio::test]
    async fn an_unset_flag_keeps_its_waiter_waiting() {
        let flag = Flag::new();
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(20), flag.cancelled()).await;
        assert!(waited.is_err());
    }
}
