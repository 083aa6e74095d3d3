//! Per-connection rate limits (GCRA, from `governor`).
//!
//! Three buckets per connection: chat, hearts, and everything else a client
//! may ask (moderation, products). Pings are free. A rejected request gets a
//! `rate_limited` error saying how long to wait.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;
use crate::protocol::ClientMessage;

pub struct ConnectionLimits {
    chat: DefaultDirectRateLimiter,
    hearts: DefaultDirectRateLimiter,
    actions: DefaultDirectRateLimiter,
}

impl ConnectionLimits {
    pub fn new(config: &LimitsConfig) -> ConnectionLimits {
        ConnectionLimits {
            chat: limiter(config.chat_per_sec, config.chat_burst),
            hearts: limiter(config.hearts_per_sec, config.hearts_burst),
            actions: limiter(config.actions_per_sec, config.actions_burst),
        }
    }

    /// `Err(wait)` when the message must be refused; `wait` is how long until
    /// one more would be accepted.
    pub fn check(&self, message: &ClientMessage) -> Result<(), Duration> {
        let bucket = match message {
            ClientMessage::Ping => return Ok(()),
            ClientMessage::Chat { .. } => &self.chat,
            ClientMessage::Heart { .. } => &self.hearts,
            _ => &self.actions,
        };
        bucket
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

fn limiter(per_second: u32, burst: u32) -> DefaultDirectRateLimiter {
    // Config validation rejects zeros; `MIN` keeps this total anyway.
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits::new(&LimitsConfig {
            chat_per_sec: 1,
            chat_burst: 2,
            hearts_per_sec: 1,
            hearts_burst: 1,
            actions_per_sec: 1,
            actions_burst: 1,
        })
    }

    #[test]
    fn chat_beyond_the_burst_is_refused_with_a_wait() {
        let l = limits();
        let chat = ClientMessage::Chat { text: "a".into() };
        assert!(l.check(&chat).is_ok());
        assert!(l.check(&chat).is_ok());
        let wait = l.check(&chat).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
    }

    #[test]
    fn buckets_are_independent_and_pings_are_free() {
        let l = limits();
        assert!(l.check(&ClientMessage::Heart { count: 1 }).is_ok());
        assert!(l.check(&ClientMessage::Heart { count: 1 }).is_err());
        assert!(l.check(&ClientMessage::Chat { text: "a".into() }).is_ok());
        for _ in 0..100 {
            assert!(l.check(&ClientMessage::Ping).is_ok());
        }
    }
}
