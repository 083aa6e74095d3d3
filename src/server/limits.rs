//! Per-connection rate limits (GCRA, from `governor`).
//!
//! Four buckets per connection: pings, hearts, chat, and everything else a
//! client may ask (moderation, products, sales, signalling); the command
//! router says which ([`Bucket`]). A rejected request gets a `rate_limited`
//! error saying how long to wait.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;

use super::command::Bucket;

pub struct ConnectionLimits {
    pings: DefaultDirectRateLimiter,
    chat: DefaultDirectRateLimiter,
    hearts: DefaultDirectRateLimiter,
    actions: DefaultDirectRateLimiter,
}

impl ConnectionLimits {
    pub fn new(config: &LimitsConfig) -> ConnectionLimits {
        ConnectionLimits {
            pings: limiter(config.pings_per_sec, config.pings_burst),
            chat: limiter(config.chat_per_sec, config.chat_burst),
            hearts: limiter(config.hearts_per_sec, config.hearts_burst),
            actions: limiter(config.actions_per_sec, config.actions_burst),
        }
    }

    /// `Err(wait)` when a request of this bucket must be refused; `wait` is
    /// how long until one more would be accepted.
    pub fn check(&self, bucket: Bucket) -> Result<(), Duration> {
        let bucket = match bucket {
            Bucket::Pings => &self.pings,
            Bucket::Chat => &self.chat,
            Bucket::Hearts => &self.hearts,
            Bucket::Actions => &self.actions,
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
            pings_per_sec: 1,
            pings_burst: 3,
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
        assert!(l.check(Bucket::Chat).is_ok());
        assert!(l.check(Bucket::Chat).is_ok());
        let wait = l.check(Bucket::Chat).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
    }

    #[test]
    fn buckets_are_independent_and_pings_have_their_own() {
        let l = limits();
        assert!(l.check(Bucket::Hearts).is_ok());
        assert!(l.check(Bucket::Hearts).is_err());
        assert!(l.check(Bucket::Chat).is_ok());
        for _ in 0..3 {
            assert!(l.check(Bucket::Pings).is_ok());
        }
        assert!(l.check(Bucket::Pings).is_err());
        assert!(l.check(Bucket::Actions).is_ok());
    }
}
