//! The lesson clock: lesson seconds, run at a speed (lesson seconds per
//! wall second). The audience acts once per lesson second, so a lesson at
//! ×20 is the same lesson, twenty times sooner: tests and load runs use it.

use std::time::Duration;

/// Slowest and fastest speeds a lesson may run at.
pub const SPEEDS: std::ops::RangeInclusive<f64> = 0.1..=100.0;

#[derive(Debug, Clone, Copy)]
pub struct LessonClock {
    /// Lesson seconds per wall second.
    speed: f64,
}

impl LessonClock {
    pub fn new(speed: f64) -> LessonClock {
        LessonClock {
            speed: speed.clamp(*SPEEDS.start(), *SPEEDS.end()),
        }
    }

    /// The wall time of one lesson second.
    pub fn tick(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.speed)
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lesson_second_lasts_a_speeds_fraction_of_a_wall_second() {
        assert_eq!(LessonClock::new(20.0).tick(), Duration::from_millis(50));
        assert_eq!(LessonClock::new(1000.0).speed(), 100.0);
    }
}
