//! A class's lesson settings: what the simulated audience and the scenario
//! timeline of each practice room follow. Stored and returned with the
//! class; the audience and scenario code read them (this module only
//! checks them), so two attempts with one lesson are comparable.

use serde::{Deserialize, Serialize};

use super::error::PracticeError;

/// Most simulated viewers a lesson may ask for, per room.
pub const MAX_AUDIENCE: u32 = 200;
/// Fastest a lesson's clock may run (10 lesson seconds per real second).
pub const MAX_SPEED: f64 = 10.0;
/// Slowest a lesson's clock may run.
pub const MIN_SPEED: f64 = 0.1;
/// Most scenarios on one timeline.
pub const MAX_TIMELINE: usize = 50;
/// Latest a timeline entry may fire, in lesson seconds (4 hours).
pub const MAX_AT_SECS: u32 = 4 * 3600;
/// Longest scenario id, in bytes.
pub const MAX_SCENARIO_ID: usize = 64;

/// The settings every room of a class runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// Seeds the simulated audience: the same lesson with the same seed
    /// replays identically, so attempts can be compared.
    #[serde(default)]
    pub seed: u64,
    /// How many simulated viewers the room's audience curve peaks at.
    #[serde(default = "default_audience")]
    pub audience_size: u32,
    /// Lesson seconds per real second: the audience, the timeline and the
    /// automatic prompter's waits all run on this clock (tests speed it up).
    #[serde(default = "default_speed")]
    pub speed: f64,
    /// Scenarios fired by themselves, at lesson seconds after going live.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
}

/// One scenario on a lesson's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// Lesson seconds after the room went live.
    pub at_secs: u32,
    /// A scenario of `config/scenarios/` (the scenario code checks that it
    /// exists; here only its shape is checked).
    pub scenario_id: String,
}

fn default_audience() -> u32 {
    30
}

fn default_speed() -> f64 {
    1.0
}

impl Default for Lesson {
    fn default() -> Lesson {
        Lesson {
            seed: 0,
            audience_size: default_audience(),
            speed: default_speed(),
            timeline: Vec::new(),
        }
    }
}

impl Lesson {
    /// The simulated audience this lesson asks for, if any (an audience of
    /// 0 is none: the trainee practises with classmates only).
    pub fn audience(&self) -> Option<super::audience::LessonSettings> {
        (self.audience_size > 0).then(|| super::audience::LessonSettings {
            seed: self.seed,
            size: self.audience_size,
            speed: self.speed,
            timeline: self.timeline.clone(),
        })
    }

    /// The lesson, checked: the audience 0 to [`MAX_AUDIENCE`], the speed
    /// [`MIN_SPEED`] to [`MAX_SPEED`], at most [`MAX_TIMELINE`] entries, each
    /// at most [`MAX_AT_SECS`] in and naming a scenario id of lower-case
    /// letters, digits, `-` and `_`; the timeline is sorted by time.
    pub fn checked(mut self) -> Result<Lesson, PracticeError> {
        let invalid = |message: String| Err(PracticeError::InvalidValue(message));
        if self.audience_size > MAX_AUDIENCE {
            return invalid(format!(
                "lesson.audience_size is 0 to {MAX_AUDIENCE} viewers"
            ));
        }
        if !self.speed.is_finite() || !(MIN_SPEED..=MAX_SPEED).contains(&self.speed) {
            return invalid(format!("lesson.speed is {MIN_SPEED} to {MAX_SPEED}"));
        }
        if self.timeline.len() > MAX_TIMELINE {
            return invalid(format!(
                "lesson.timeline has at most {MAX_TIMELINE} scenarios"
            ));
        }
        for entry in &self.timeline {
            if entry.at_secs > MAX_AT_SECS {
                return invalid(format!("lesson.timeline: at_secs is at most {MAX_AT_SECS}"));
            }
            if !is_scenario_id(&entry.scenario_id) {
                return invalid(format!(
                    "lesson.timeline: a scenario_id has 1 to {MAX_SCENARIO_ID} lower-case \
                     letters, digits, '-' or '_'"
                ));
            }
        }
        self.timeline.sort_by_key(|entry| entry.at_secs);
        Ok(self)
    }
}

fn is_scenario_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SCENARIO_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_secs: u32, id: &str) -> TimelineEntry {
        TimelineEntry {
            at_secs,
            scenario_id: id.into(),
        }
    }

    #[test]
    fn an_empty_lesson_takes_the_defaults() {
        let lesson: Lesson = serde_json::from_str("{}").unwrap();
        assert_eq!(lesson, Lesson::default());
        assert_eq!(lesson.checked().unwrap().speed, 1.0);
    }

    #[test]
    fn the_timeline_is_sorted_by_time() {
        let lesson = Lesson {
            timeline: vec![entry(90, "angry-customer"), entry(30, "viewer_spike")],
            ..Lesson::default()
        };
        let ids: Vec<_> = lesson
            .checked()
            .unwrap()
            .timeline
            .into_iter()
            .map(|e| e.scenario_id)
            .collect();
        assert_eq!(ids, ["viewer_spike", "angry-customer"]);
    }

    #[test]
    fn out_of_bounds_settings_are_refused() {
        for lesson in [
            Lesson {
                audience_size: MAX_AUDIENCE + 1,
                ..Lesson::default()
            },
            Lesson {
                speed: 0.0,
                ..Lesson::default()
            },
            Lesson {
                speed: f64::NAN,
                ..Lesson::default()
            },
            Lesson {
                speed: MAX_SPEED * 2.0,
                ..Lesson::default()
            },
            Lesson {
                timeline: vec![entry(MAX_AT_SECS + 1, "a")],
                ..Lesson::default()
            },
            Lesson {
                timeline: vec![entry(1, "Khách Giận")],
                ..Lesson::default()
            },
            Lesson {
                timeline: vec![entry(1, "")],
                ..Lesson::default()
            },
            Lesson {
                timeline: vec![entry(1, "a"); MAX_TIMELINE + 1],
                ..Lesson::default()
            },
        ] {
            assert!(
                matches!(
                    lesson.clone().checked(),
                    Err(PracticeError::InvalidValue(_))
                ),
                "{lesson:?}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<Lesson>(r#"{"sped": 2}"#).is_err());
    }
}
