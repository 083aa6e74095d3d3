//! Wall-clock time as the protocol carries it: milliseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::UnixMillis;

/// Now, in Unix milliseconds. A clock set before 1970 reads as 0 rather than panicking.
pub fn unix_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as UnixMillis)
        .unwrap_or(0)
}
