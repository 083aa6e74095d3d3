//! How much each part of a practice scorecard weighs: six whole numbers,
//! each 0–100, summing to 100. The trainer edits them per room (kept in this
//! node's memory, [`WeightsStore`]); [`Weights::default`] is what
//! `docs/practice.md` documents.

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

/// The weight of each part, in points of the 100-point total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    /// Questions answered and how fast.
    pub interaction: u32,
    /// CTR, conversion, GMV against what was offered.
    pub selling: u32,
    /// Responding to the scenarios the trainer fired.
    pub scenarios: u32,
    /// The compliance checker's flags.
    pub compliance: u32,
    /// The trainer's mark for presentation.
    pub presentation: u32,
    /// The trainer's mark for product knowledge.
    pub product_knowledge: u32,
}

impl Default for Weights {
    /// 25 interaction, 25 selling, 15 scenarios, 15 compliance, 10
    /// presentation, 10 product knowledge.
    fn default() -> Weights {
        Weights {
            interaction: 25,
            selling: 25,
            scenarios: 15,
            compliance: 15,
            presentation: 10,
            product_knowledge: 10,
        }
    }
}

/// The field names, in the scorecard's order.
pub const FIELDS: [&str; 6] = [
    "interaction",
    "selling",
    "scenarios",
    "compliance",
    "presentation",
    "product_knowledge",
];

/// Why a set of weights was refused, naming the field (`weights` for the
/// sum).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeightsError {
    #[error("{0} is missing: every part needs a weight")]
    Missing(&'static str),
    #[error("{0} must be a whole number from 0 to 100")]
    OutOfRange(&'static str),
    #[error("the weights must add up to 100, not {0}")]
    Sum(u64),
    #[error("unknown part {0:?}: the parts are {FIELDS:?}")]
    Unknown(String),
    #[error("the weights must be a JSON object")]
    NotAnObject,
}

impl WeightsError {
    /// The body field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            WeightsError::Missing(field) | WeightsError::OutOfRange(field) => field,
            WeightsError::Sum(_) | WeightsError::Unknown(_) | WeightsError::NotAnObject => {
                "weights"
            }
        }
    }
}

impl Weights {
    /// The weights of a JSON object with exactly the six fields, each a
    /// whole number 0–100, summing to 100. Parsed by hand so that a negative
    /// or fractional number is a refusal naming its field, like any other.
    pub fn from_json(value: &serde_json::Value) -> Result<Weights, WeightsError> {
        let object = value.as_object().ok_or(WeightsError::NotAnObject)?;
        if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(WeightsError::Unknown(unknown.clone()));
        }
        let mut parsed = [0u32; 6];
        for (slot, field) in parsed.iter_mut().zip(FIELDS) {
            let number = object.get(field).ok_or(WeightsError::Missing(field))?;
            *slot = number
                .as_u64()
                .filter(|n| *n <= 100)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or(WeightsError::OutOfRange(field))?;
        }
        let [interaction, selling, scenarios, compliance, presentation, product_knowledge] = parsed;
        let weights = Weights {
            interaction,
            selling,
            scenarios,
            compliance,
            presentation,
            product_knowledge,
        };
        let sum = weights.sum();
        if sum != 100 {
            return Err(WeightsError::Sum(sum));
        }
        Ok(weights)
    }

    pub fn sum(&self) -> u64 {
        [
            self.interaction,
            self.selling,
            self.scenarios,
            self.compliance,
            self.presentation,
            self.product_knowledge,
        ]
        .iter()
        .map(|w| u64::from(*w))
        .sum()
    }
}

/// Each room's weights on this node, set by its trainer; a room without any
/// is scored with [`Weights::default`]. In memory only: weights are a view
/// on the journal, not part of it, so a restart falls back to the defaults
/// and the scorecard can always be recomputed.
#[derive(Debug, Default)]
pub struct WeightsStore {
    /// Room id → weights. A `DashMap`, not a mutex: handlers of different
    /// rooms never wait for each other.
    rooms: DashMap<String, Weights>,
}

impl WeightsStore {
    pub fn new() -> WeightsStore {
        WeightsStore::default()
    }

    /// The room's weights, or the defaults.
    pub fn get(&self, room_id: &str) -> Weights {
        self.rooms.get(room_id).map(|w| *w).unwrap_or_default()
    }

    pub fn set(&self, room_id: &str, weights: Weights) {
        self.rooms.insert(room_id.to_owned(), weights);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_defaults_add_up_to_100() {
        assert_eq!(Weights::default().sum(), 100);
    }

    #[test]
    fn weights_that_add_up_to_100_are_taken() {
        let body = json!({"interaction": 40, "selling": 20, "scenarios": 10,
                          "compliance": 10, "presentation": 10, "product_knowledge": 10});
        let weights = Weights::from_json(&body).unwrap();
        assert_eq!(weights.interaction, 40);
    }

    #[test]
    fn each_refusal_names_its_field() {
        let mut body = json!({"interaction": 25, "selling": 25, "scenarios": 15,
                              "compliance": 15, "presentation": 10, "product_knowledge": 10});
        body["selling"] = json!(-5);
        assert_eq!(Weights::from_json(&body).unwrap_err().field(), "selling");
        body["selling"] = json!(101);
        assert_eq!(Weights::from_json(&body).unwrap_err().field(), "selling");
        body["selling"] = json!(2.5);
        assert_eq!(Weights::from_json(&body).unwrap_err().field(), "selling");
        body["selling"] = json!(30);
        assert_eq!(
            Weights::from_json(&body).unwrap_err(),
            WeightsError::Sum(105)
        );
        body.as_object_mut().unwrap().remove("compliance");
        assert_eq!(Weights::from_json(&body).unwrap_err().field(), "compliance");
    }

    #[test]
    fn a_room_without_weights_has_the_defaults() {
        let store = WeightsStore::new();
        assert_eq!(store.get("r1"), Weights::default());
        let mine = Weights {
            interaction: 50,
            selling: 50,
            scenarios: 0,
            compliance: 0,
            presentation: 0,
            product_knowledge: 0,
        };
        store.set("r1", mine);
        assert_eq!(
            (store.get("r1"), store.get("r2")),
            (mine, Weights::default())
        );
    }
}
