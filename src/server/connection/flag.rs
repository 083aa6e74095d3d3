//! A one-way signal between the two halves of one connection ("the writer
//! has ended", "the reader has stopped"), kept inside the connection's task.
//!
//! A `CancellationToken` would do, but each one allocates its tree node (a
//! mutex, a child list and a `Notify`) for the connection's life; this
//! lives in the task the halves already share, and costs an idle connection
//! no allocation.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Set once, never cleared; waiters wake when it is set.
pub(super) struct Flag {
    set: AtomicBool,
    /// Wakes every waiter registered when the flag is set.
    waiters: Notify,
}

impl Flag {
    pub(super) fn new() -> Flag {
        Flag {
            set: AtomicBool::new(false),
            waiters: Notify::new(),
        }
    }

    /// Set the flag and wake whoever waits for it.
    pub(super) fn cancel(&self) {
        self.set.store(true, Ordering::Release);
        self.waiters.notify_waiters();
    }

    /// Wait until the flag is set (at once if it is). Cancel-safe.
    pub(super) async fn cancelled(&self) {
        loop {
            let notified = self.waiters.notified();
            tokio::pin!(notified);
            // Registered before the check: a `cancel` between the check and
            // the wait still wakes this waiter.
            notified.as_mut().enable();
            if self.set.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
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
