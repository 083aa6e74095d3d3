//! Open-loop schedules: when each request of a run is *meant* to go out.
//!
//! A closed-loop client waits for each answer before sending the next, so a
//! slow server slows the client down and hides its own latency. Here every
//! request has an intended time fixed in advance (a constant rate, or all at
//! once for a burst); clients sleep until it, and latency is measured from
//! it, whatever happened before.

use std::time::Duration;

use tokio::time::Instant;

/// When request `i` of a schedule is meant to go out.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Time zero of the schedule.
    pub start: Instant,
    /// Gap between consecutive requests; zero for a burst.
    pub interval: Duration,
}

impl Schedule {
    /// `rate` requests per second from `start`; `None` is one burst at `start`.
    pub fn new(start: Instant, rate: Option<f64>) -> Schedule {
        let interval = match rate {
            Some(rate) if rate > 0.0 => Duration::from_secs_f64(1.0 / rate),
            _ => Duration::ZERO,
        };
        Schedule { start, interval }
    }

    /// The intended time of request `i`.
    pub fn at(&self, i: u64) -> Instant {
        self.start + self.interval.mul_f64(i as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_spaces_requests_evenly() {
        let start = Instant::now();
        let s = Schedule::new(start, Some(100.0));
        assert_eq!(s.at(0), start);
        assert_eq!(s.at(50) - start, Duration::from_millis(500));
    }

    #[test]
    fn no_rate_is_a_burst_at_the_start() {
        let start = Instant::now();
        let s = Schedule::new(start, None);
        assert_eq!(s.at(9999), start);
    }
}
