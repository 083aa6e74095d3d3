//! Scenarios: short Vietnamese scripts a trainer injects into a practice
//! lesson (a viewer spike, an angry customer, a flood of price questions,
//! "bên Shopee rẻ hơn", a stock-out mid-sale, a wrong price on screen, a
//! troll, a platform warning), fired live or from the lesson's timeline.
//!
//! A scenario is data: a list of [`Step`]s, each at a lesson second after
//! the firing. This module owns their shape and rules; `library.rs` keeps
//! the built-in ones (`config/scenarios/*.toml`, compiled in) and those
//! trainers saved; the audience's driver carries the steps out.

mod library;

use serde::{Deserialize, Serialize};

use super::audience::data::DataError;
use super::audience::persona::PersonaBook;

pub use library::{ScenarioLibrary, BUILTIN_SCENARIOS};

/// Longest a scenario may run, in lesson seconds after firing.
pub const MAX_AT_SECS: u32 = 3600;

/// One script.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable id (`khach-gian-giao-cham`): a–z, 0–9, `-`, `_`.
    pub id: String,
    /// What the trainer's page and the scorecard show (Vietnamese).
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub steps: Vec<Step>,
}

/// One thing a scenario makes happen, `at_secs` lesson seconds after it
/// was fired.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// The audience becomes `factor` times its size for `hold_secs`.
    Spike {
        at_secs: u32,
        factor: f64,
        hold_secs: u32,
    },
    /// A new viewer of `persona` joins and says `texts`, one every
    /// `every_secs`, each a question waiting for the trainee's answer; a
    /// reply gets the persona's follow-up.
    Say {
        at_secs: u32,
        persona: String,
        /// Display name; else one of the persona's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        texts: Vec<String>,
        #[serde(default = "default_every_secs")]
        every_secs: u32,
    },
    /// `count` messages from `texts`, spread over `over_secs`, said by
    /// viewers already in the room (or new ones of `persona`).
    Flood {
        at_secs: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        persona: Option<String>,
        texts: Vec<String>,
        count: u32,
        over_secs: u32,
    },
    /// Viewers buy the current flash sale until it is sold out.
    BuyOut { at_secs: u32 },
    /// A private warning from "the platform" to the trainee only
    /// (`platform_warning`), never to the audience.
    Warn { at_secs: u32, text: String },
    /// A `fraction` of the viewers leave at once.
    Leave { at_secs: u32, fraction: f64 },
}

fn default_every_secs() -> u32 {
    6
}

impl Step {
    pub fn at_secs(&self) -> u32 {
        match self {
            Step::Spike { at_secs, .. }
            | Step::Say { at_secs, .. }
            | Step::Flood { at_secs, .. }
            | Step::BuyOut { at_secs }
            | Step::Warn { at_secs, .. }
            | Step::Leave { at_secs, .. } => *at_secs,
        }
    }
}

/// How a scenario was fired, as the journal says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FireHow {
    /// The trainer fired it during the lesson.
    Live,
    /// The lesson's timeline fired it.
    Timeline,
}

impl FireHow {
    pub fn as_str(self) -> &'static str {
        match self {
            FireHow::Live => "live",
            FireHow::Timeline => "timeline",
        }
    }
}

/// Read a scenario from TOML (`json == false`) or JSON, and check it.
pub fn parse(
    file: &str,
    text: &str,
    json: bool,
    personas: &PersonaBook,
) -> Result<Scenario, DataError> {
    use super::audience::data;
    let scenario: Scenario = if json {
        data::from_json(file, text)?
    } else {
        data::from_toml(file, text)?
    };
    check(&scenario, personas).map_err(|(field, message)| DataError::new(file, field, message))?;
    Ok(scenario)
}

/// A valid scenario id: 1–64 of a–z, 0–9, `-` and `_`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The rules beyond the types: the field at fault and why.
pub fn check(s: &Scenario, personas: &PersonaBook) -> Result<(), (String, String)> {
    let bad = |field: &str, message: &str| Err((field.to_owned(), message.to_owned()));
    if !is_valid_id(&s.id) {
        return bad("id", "1–64 of a–z, 0–9, - and _");
    }
    let title = s.title.trim();
    if title.is_empty() || title.chars().count() > 120 {
        return bad("title", "1–120 characters");
    }
    if s.description.chars().count() > 1000 {
        return bad("description", "at most 1000 characters");
    }
    if s.steps.is_empty() || s.steps.len() > 50 {
        return bad("steps", "1–50 steps");
    }
    for (i, step) in s.steps.iter().enumerate() {
        let at = |field: &str| format!("steps[{i}].{field}");
        let fail = |field: &str, message: &str| Err((at(field), message.to_owned()));
        if step.at_secs() > MAX_AT_SECS {
            return fail("at_secs", "at most 3600 (one lesson hour)");
        }
        let texts_ok = |texts: &[String]| {
            !texts.is_empty()
                && texts.len() <= 50
                && texts
                    .iter()
                    .all(|t| !t.trim().is_empty() && t.chars().count() <= 300)
        };
        let persona_ok = |id: &str| personas.index_of(id).is_some();
        match step {
            Step::Spike {
                factor, hold_secs, ..
            } => {
                if !(1.0..=20.0).contains(factor) {
                    return fail("factor", "between 1 and 20");
                }
                if !(1..=600).contains(hold_secs) {
                    return fail("hold_secs", "1–600");
                }
            }
            Step::Say {
                persona,
                name,
                texts,
                every_secs,
                ..
            } => {
                if !persona_ok(persona) {
                    return fail("persona", "no persona has this id");
                }
                if name
                    .as_deref()
                    .is_some_and(|n| !crate::auth::is_valid_name(n.trim()))
                {
                    return fail("name", "1–40 characters");
                }
                if !texts_ok(texts) {
                    return fail("texts", "1–50 texts of 1–300 characters");
                }
                if !(1..=600).contains(every_secs) {
                    return fail("every_secs", "1–600");
                }
            }
            Step::Flood {
                persona,
                texts,
                count,
                over_secs,
                ..
            } => {
                if persona.as_deref().is_some_and(|p| !persona_ok(p)) {
                    return fail("persona", "no persona has this id");
                }
                if !texts_ok(texts) {
                    return fail("texts", "1–50 texts of 1–300 characters");
                }
                if !(1..=200).contains(count) {
                    return fail("count", "1–200");
                }
                if *over_secs > 600 {
                    return fail("over_secs", "at most 600");
                }
            }
            Step::BuyOut { .. } => {}
            Step::Warn { text, .. } => {
                if text.trim().is_empty() || text.chars().count() > 500 {
                    return fail("text", "1–500 characters");
                }
            }
            Step::Leave { fraction, .. } => {
                if !(0.0..=1.0).contains(fraction) {
                    return fail("fraction", "between 0 and 1");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn personas() -> PersonaBook {
        PersonaBook::builtin()
    }

    #[test]
    fn every_builtin_scenario_reads_and_checks() {
        let library = ScenarioLibrary::builtin_only(&personas());
        assert_eq!(library.list().len(), BUILTIN_SCENARIOS.len());
        assert!(BUILTIN_SCENARIOS.len() >= 8);
    }

    #[test]
    fn a_bad_step_names_its_field() {
        let text = r#"
id = "cua-toi"
title = "Kịch bản của tôi"
[[steps]]
at_secs = 0
kind = "spike"
factor = 50.0
hold_secs = 10
"#;
        let error = parse("body", text, false, &personas()).unwrap_err();
        assert_eq!(error.field, "steps[0].factor");
    }

    #[test]
    fn an_unknown_persona_is_refused() {
        let json = r#"{"id":"x","title":"X","steps":[{"kind":"say","at_secs":0,"persona":"ma","texts":["a"]}]}"#;
        let error = parse("body", json, true, &personas()).unwrap_err();
        assert_eq!(error.field, "steps[0].persona");
    }

    #[test]
    fn an_unknown_step_kind_is_refused_with_its_place() {
        let json = r#"{"id":"x","title":"X","steps":[{"kind":"dance","at_secs":0}]}"#;
        let error = parse("body", json, true, &personas()).unwrap_err();
        assert!(error.field.starts_with("steps[0]"), "{error}");
        assert!(error.message.contains("dance"), "{error}");
    }
}
