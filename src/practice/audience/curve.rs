//! The audience curve: how many bots should be in the room at a lesson
//! second. It ramps up over the first seconds to the lesson's size, follows
//! the audience's mood (bored viewers are not replaced), and a scenario's
//! spike multiplies it for a while.

/// Lesson seconds an audience takes to arrive.
const RAMP_SECS: u64 = 20;

#[derive(Debug, Clone)]
pub struct Curve {
    /// The lesson's audience size.
    pub size: usize,
    /// A spike: the factor, and the lesson second it ends.
    boost: Option<(f64, u64)>,
}

impl Curve {
    pub fn new(size: usize) -> Curve {
        Curve { size, boost: None }
    }

    /// Multiply the audience by `factor` until lesson second `until`.
    pub fn spike(&mut self, factor: f64, until: u64) {
        self.boost = Some((factor, until));
    }

    /// Bots wanted at second `now`, the audience's mean interest being `mood`.
    pub fn target(&self, now: u64, mood: f64) -> usize {
        if let Some((factor, until)) = self.boost {
            if now < until {
                return (self.size as f64 * factor).round() as usize;
            }
        }
        let ramp = ((now + 1) as f64 / RAMP_SECS as f64).min(1.0);
        let mood = (0.5 + mood).clamp(0.5, 1.2);
        (self.size as f64 * ramp * mood).round().max(1.0) as usize
    }

    /// How many may join this second, `present` being in the room: an
    /// ordinary audience trickles in; a spike floods.
    pub fn joins(&self, now: u64, present: usize, target: usize) -> usize {
        let missing = target.saturating_sub(present);
        let spiking = self.boost.is_some_and(|(_, until)| now < until);
        let per_sec = if spiking { 50 } else { (self.size / 8).max(1) };
        missing.min(per_sec)
    }

    /// The chance each second that a bot leaves because the room is more
    /// crowded than the curve wants (after a spike): none within a fifth
    /// over it.
    pub fn drift(&self, present: usize, target: usize) -> f64 {
        if present * 5 > target * 6 {
            0.05
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_arrives_over_the_ramp_and_follows_the_mood() {
        let curve = Curve::new(20);
        assert!(curve.target(0, 0.5) < 5);
        assert_eq!(curve.target(RAMP_SECS, 0.5), 20);
        assert!(curve.target(RAMP_SECS, 0.0) < curve.target(RAMP_SECS, 0.7));
    }

    #[test]
    fn a_spike_multiplies_the_audience_until_it_ends() {
        let mut curve = Curve::new(5);
        curve.spike(10.0, 100);
        assert_eq!(curve.target(50, 0.5), 50);
        assert_eq!(curve.joins(50, 5, 50), 45);
        assert_eq!(curve.target(100, 0.5), 5);
        assert!(curve.drift(50, 5) > 0.0);
        assert_eq!(curve.drift(6, 5), 0.0);
    }
}
