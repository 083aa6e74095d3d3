//! Time as the server reads it: wall-clock milliseconds for what clients see,
//! and a monotonic instant for intervals.
//!
//! A leaf module (it imports nothing from the crate), so every other module
//! may use it without creating an import cycle.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Milliseconds since the Unix epoch, UTC. Clients format it in local time.
pub type UnixMillis = u64;

/// Now, in Unix milliseconds. A clock set before 1970 reads as 0 rather than panicking.
pub fn unix_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as UnixMillis)
        .unwrap_or(0)
}

/// The clock a request is judged by: wall time for what clients see (a mute's
/// end, a message's time), monotonic time for intervals (slow mode), so a
/// wall-clock jump never unlocks or blocks anyone.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub wall: UnixMillis,
    pub mono: Instant,
}

impl Now {
    pub fn current() -> Now {
        Now {
            wall: unix_millis(),
            mono: Instant::now(),
        }
    }
}
