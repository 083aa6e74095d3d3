//! A practice attempt's scorecard, computed from its room's journal alone
//! (one practice room = one attempt): interaction, selling, scenario
//! handling, compliance and the trainer's two marks, each weighed by
//! [`Weights`]. Every point lost is a [`LostPoint`] with its reason in
//! Vietnamese and English and the moment it refers to, linked into the
//! replay. `docs/practice.md` ("Scorecard") defines each formula; this
//! module is its implementation.
//!
//! The figures it judges are counted by `crate::analytics` (what a
//! question, an answer, a click, a viewer is); this module only weighs
//! them. Pure: no I/O, time comes in as `now`.

mod compare;
mod parts;
mod scenarios;
mod weights;

use serde::Serialize;

use crate::analytics::{Metrics, Session};
use crate::clock::UnixMillis;
use crate::journal::{JournalEntry, Record};

pub use self::compare::{Comparison, ComparisonRow};
pub use self::scenarios::ScenarioResponse;
pub use self::weights::{Weights, WeightsError, WeightsStore, FIELDS};
pub use crate::practice::review::Marks;

/// Any `serious` compliance flag caps the total at this.
pub const SERIOUS_CAP: f64 = 50.0;

/// The parts of a scorecard, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartName {
    Interaction,
    Selling,
    Scenarios,
    Compliance,
    Presentation,
    ProductKnowledge,
}

impl PartName {
    pub const ALL: [PartName; 6] = [
        PartName::Interaction,
        PartName::Selling,
        PartName::Scenarios,
        PartName::Compliance,
        PartName::Presentation,
        PartName::ProductKnowledge,
    ];

    /// The name as in the JSON and the weights (`product_knowledge`).
    pub fn key(self) -> &'static str {
        FIELDS[self as usize]
    }

    pub fn weight(self, weights: &Weights) -> u32 {
        match self {
            PartName::Interaction => weights.interaction,
            PartName::Selling => weights.selling,
            PartName::Scenarios => weights.scenarios,
            PartName::Compliance => weights.compliance,
            PartName::Presentation => weights.presentation,
            PartName::ProductKnowledge => weights.product_knowledge,
        }
    }

    /// For people: (Vietnamese, English).
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            PartName::Interaction => ("Tương tác", "Interaction"),
            PartName::Selling => ("Bán hàng", "Selling"),
            PartName::Scenarios => ("Xử lý tình huống", "Scenario handling"),
            PartName::Compliance => ("Tuân thủ", "Compliance"),
            PartName::Presentation => ("Trình bày", "Presentation"),
            PartName::ProductKnowledge => ("Hiểu biết sản phẩm", "Product knowledge"),
        }
    }
}

/// Points lost, why, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LostPoint {
    /// The part they were lost from (`null` for the serious-violation cap).
    pub part: Option<PartName>,
    /// Points of the 100-point total, rounded to 0.01.
    pub points: f64,
    /// The moment it refers to (unix ms): where the replay link seeks.
    pub at: UnixMillis,
    pub reason_vi: String,
    pub reason_en: String,
    /// `/replay.html?room=…&t=<at>`.
    pub replay_url: String,
}

/// One part: its weight, the points earned, and every line lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub name: PartName,
    pub label_vi: &'static str,
    pub label_en: &'static str,
    pub weight: u32,
    /// `weight` minus the lines' points (never below 0).
    pub points: f64,
    /// False when there was nothing to judge (no question asked, no
    /// scenario fired: full points) or nothing judged yet (no marks: 0).
    pub assessed: bool,
    pub lost: Vec<LostPoint>,
}

/// The figures the parts were judged on, for the page and the CSV.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub questions: u64,
    pub questions_answered: u64,
    pub answer_rate: Option<f64>,
    pub median_answer_secs: Option<f64>,
    pub ctr: Option<f64>,
    pub conversion: Option<f64>,
    pub gmv_vnd: u64,
    /// What the session made possible: flash sales' units × sale price plus
    /// bag orders' units × unit price.
    pub offered_vnd: u64,
    /// GMV ÷ offered, capped at 1.
    pub gmv_share: Option<f64>,
    pub scenarios: Vec<ScenarioResponse>,
    pub warnings: u64,
    pub serious: u64,
    pub marks: Option<Marks>,
}

/// A practice attempt's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub room_id: String,
    pub title: String,
    pub seller_name: String,
    pub started_at: Option<UnixMillis>,
    pub ended_at: Option<UnixMillis>,
    /// When it was computed; a live attempt's score changes until it ends.
    pub computed_at: UnixMillis,
    pub weights: Weights,
    /// Out of 100, after the cap.
    pub total: f64,
    /// The sum of the parts before the cap.
    pub uncapped_total: f64,
    /// The cap's own line when a serious flag lowered the total.
    pub cap: Option<LostPoint>,
    pub parts: Vec<Part>,
    pub figures: Figures,
}

/// A part's lines before rounding: (points lost, at, vi, en).
pub(crate) type Line = (f64, UnixMillis, String, String);

impl Scorecard {
    /// The scorecard of one attempt's journal as of `now` (the trainer's
    /// marks are read from the entries).
    pub fn of(entries: &[JournalEntry], weights: &Weights, now: UnixMillis) -> Scorecard {
        let session = Session::read(entries, now);
        let metrics = Metrics::of(&session);
        let mut figures = Figures {
            questions: metrics.questions,
            questions_answered: metrics.questions_answered,
            answer_rate: metrics.answer_rate,
            median_answer_secs: metrics.median_answer_secs,
            ctr: metrics.ctr,
            conversion: metrics.conversion,
            gmv_vnd: metrics.gmv_vnd,
            marks: crate::practice::review::latest_marks(entries),
            ..Figures::default()
        };
        // Counted whether or not the live started (a flag may hit the
        // script pasted before it).
        let (_, warnings, serious) = parts::compliance(entries, 0.0);
        figures.warnings = warnings;
        figures.serious = serious;
        let start = session.started_at.unwrap_or(session.opened_at);
        let room = session.room_id.clone();
        let mut parts = Vec::with_capacity(PartName::ALL.len());
        for name in PartName::ALL {
            let weight = f64::from(name.weight(weights));
            let automatic = !matches!(name, PartName::Presentation | PartName::ProductKnowledge);
            let (assessed, lines) = match name {
                // Before the live starts only the trainer's marks count.
                _ if automatic && session.started_at.is_none() => (
                    false,
                    vec![(
                        weight,
                        session.opened_at,
                        "Chưa lên sóng: chưa có gì để chấm".to_owned(),
                        "Not live yet: nothing to judge".to_owned(),
                    )],
                ),
                PartName::Interaction => parts::interaction(&session, &metrics, weight),
                PartName::Selling => {
                    parts::selling(entries, &session, &metrics, weight, start, &mut figures)
                }
                PartName::Scenarios => {
                    let (assessed, lines, responses) = scenarios::judge(entries, &session, weight);
                    figures.scenarios = responses;
                    (assessed, lines)
                }
                PartName::Compliance => (true, parts::compliance(entries, weight).0),
                PartName::Presentation | PartName::ProductKnowledge => {
                    parts::marked(name, figures.marks.as_ref(), weight, session.until)
                }
            };
            parts.push(part(name, weights, assessed, lines, &room));
        }
        let uncapped_total = round2(parts.iter().map(|p| p.points).sum());
        let first_serious = entries
            .iter()
            .filter(|e| matches!(&e.record, Record::ComplianceFlagged { severity, .. } if severity == "serious"))
            .map(|e| e.at)
            .min();
        let cap = match first_serious {
            Some(at) if uncapped_total > SERIOUS_CAP => Some(lost_point(
                None,
                uncapped_total - SERIOUS_CAP,
                at,
                format!("Vi phạm nghiêm trọng về tuân thủ: tổng điểm tối đa {SERIOUS_CAP}"),
                format!("A serious compliance violation caps the total at {SERIOUS_CAP}"),
                &room,
            )),
            _ => None,
        };
        let total = match first_serious {
            Some(_) => uncapped_total.min(SERIOUS_CAP),
            None => uncapped_total,
        };
        Scorecard {
            room_id: session.room_id.clone(),
            title: session.title.clone(),
            seller_name: session.seller_name.clone(),
            started_at: session.started_at,
            ended_at: session.ended_at,
            computed_at: now,
            weights: *weights,
            total,
            uncapped_total,
            cap,
            parts,
            figures,
        }
    }

    pub fn part(&self, name: PartName) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// Every line lost, the cap's included, in the order of their moments.
    pub fn lost(&self) -> Vec<&LostPoint> {
        let mut lines: Vec<&LostPoint> = self
            .parts
            .iter()
            .flat_map(|p| &p.lost)
            .chain(&self.cap)
            .collect();
        lines.sort_by_key(|l| l.at);
        lines
    }
}

fn part(name: PartName, weights: &Weights, assessed: bool, lines: Vec<Line>, room: &str) -> Part {
    let weight = name.weight(weights);
    // From the lines before rounding, so three thirds lost are the whole.
    let spent: f64 = lines.iter().map(|(points, ..)| points).sum();
    // A line that costs nothing is left out, except a compliance flag:
    // every flag is worth seeing.
    let lost: Vec<LostPoint> = lines
        .into_iter()
        .filter(|(points, ..)| *points > 0.0 || name == PartName::Compliance)
        .map(|(points, at, vi, en)| lost_point(Some(name), points, at, vi, en, room))
        .collect();
    let (label_vi, label_en) = name.label();
    Part {
        name,
        label_vi,
        label_en,
        weight,
        points: round2((f64::from(weight) - spent).max(0.0)),
        assessed,
        lost,
    }
}

fn lost_point(
    part: Option<PartName>,
    points: f64,
    at: UnixMillis,
    reason_vi: String,
    reason_en: String,
    room: &str,
) -> LostPoint {
    let room: String = url::form_urlencoded::byte_serialize(room.as_bytes()).collect();
    LostPoint {
        part,
        points: round2(points),
        at,
        reason_vi,
        reason_en,
        replay_url: format!("/replay.html?room={room}&t={at}"),
    }
}

/// Rounded to 0.01.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests;
