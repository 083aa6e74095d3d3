//! The lesson clock: lesson time runs at a speed (lesson seconds per wall
//! second), so a lesson at ×20 is the same lesson, twenty times sooner. The
//! audience acts once per lesson second; the automatic prompter counts
//! lesson milliseconds since it started. Tests and load runs speed lessons up.

use std::time::Duration;

use tokio::time::Instant;

/// Slowest and fastest speeds a lesson may run at.
pub const SPEEDS: std::ops::RangeInclusive<f64> = 0.1..=100.0;

#[derive(Debug, Clone, Copy)]
pub struct LessonClock {
    /// Lesson seconds per wall second.
    speed: f64,
    /// When the clock started (lesson time 0).
    start: Instant,
}

impl LessonClock {
    /// A clock at `speed` (held within [`SPEEDS`]), starting now.
    pub fn start(speed: f64) -> LessonClock {
        LessonClock {
            speed: speed.clamp(*SPEEDS.start(), *SPEEDS.end()),
            start: Instant::now(),
        }
    }

    /// The wall time of one lesson second.
    pub fn tick(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.speed)
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Lesson milliseconds since the clock started.
    pub fn now_ms(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * 1000.0 * self.speed) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lesson_second_lasts_a_speeds_fraction_of_a_wall_second() {
        assert_eq!(LessonClock::start(20.0).tick(), Duration::from_millis(50));
        assert_eq!(LessonClock::start(1000.0).speed(), 100.0);
    }

    #[test]
    fn the_lesson_clock_runs_at_the_lessons_speed() {
        let clock = LessonClock {
            speed: 10.0,
            start: Instant::now() - Duration::from_secs(3),
        };
        assert!(
            (30_000..31_000).contains(&clock.now_ms()),
            "{}",
            clock.now_ms()
        );
    }
}
