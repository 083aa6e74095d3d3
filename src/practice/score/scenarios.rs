//! Scenario handling: for each scenario the trainer fired
//! (`Record::ScenarioFired`), how soon the trainee said something in chat
//! after it, and how the audience reacted in the minute after against the
//! minute before (`docs/practice.md`, "Scorecard").

use serde::Serialize;

use crate::analytics::Session;
use crate::auth::Role;
use crate::clock::UnixMillis;
use crate::journal::{JournalEntry, Record};

use super::parts::{quoted, secs, speed};
use super::Line;

/// A response this slow (or none) earns nothing of the response share.
pub const RESPONSE_ZERO_SECS: f64 = 120.0;
/// The audience's reaction is judged over this long before and after.
pub const REACTION_WINDOW_MS: u64 = 60_000;
/// Of each scenario's share: the response time's part (the rest is the
/// viewers kept).
pub const RESPONSE_SHARE: f64 = 0.7;

/// One fired scenario and how it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioResponse {
    pub scenario_id: String,
    pub title: String,
    /// When it fired (unix ms).
    pub at: UnixMillis,
    /// Seconds until the trainee's first chat message after it; `null` if
    /// she said nothing.
    pub response_secs: Option<f64>,
    /// Viewers connected when it fired, and a minute later (or at the end).
    pub viewers_before: u64,
    pub viewers_after: u64,
    /// Viewers' comments in the minute before and the minute after.
    pub comments_before: u64,
    pub comments_after: u64,
    /// 0–1: `0.7 × speed + 0.3 × min(1, viewers_after ÷ viewers_before)`,
    /// rounded to 0.01.
    pub score: f64,
}

/// Each fired scenario weighs the part ÷ their number. None fired: nothing
/// to judge, full points.
pub(super) fn judge(
    entries: &[JournalEntry],
    session: &Session,
    weight: f64,
) -> (bool, Vec<Line>, Vec<ScenarioResponse>) {
    let mut fired: Vec<(UnixMillis, &str, &str)> = entries
        .iter()
        .filter_map(|e| match &e.record {
            Record::ScenarioFired {
                scenario_id, title, ..
            } => Some((e.at, scenario_id.as_str(), title.as_str())),
            _ => None,
        })
        .collect();
    if fired.is_empty() {
        return (false, Vec::new(), Vec::new());
    }
    fired.sort_by_key(|(at, _, _)| *at);
    let share = weight / fired.len() as f64;
    let viewers_at = |moment: UnixMillis| {
        session
            .visits
            .iter()
            .filter(|v| v.from <= moment && moment < v.to)
            .count() as u64
    };
    let comments = |from: UnixMillis, to: UnixMillis| {
        session
            .chat
            .iter()
            .filter(|m| m.role == Role::Viewer && from <= m.sent_at && m.sent_at < to)
            .count() as u64
    };
    let mut lines = Vec::new();
    let mut responses = Vec::new();
    for (at, scenario_id, title) in fired {
        let response_secs = session
            .chat
            .iter()
            .filter(|m| m.role == Role::Seller && m.sent_at >= at)
            .map(|m| (m.sent_at - at) as f64 / 1000.0)
            .reduce(f64::min);
        let later = (at + REACTION_WINDOW_MS)
            .min(session.until.saturating_sub(1))
            .max(at);
        let (before, after) = (viewers_at(at), viewers_at(later));
        let response = response_secs.map_or(0.0, |s| speed(s, RESPONSE_ZERO_SECS));
        let kept = match before {
            0 => 1.0,
            _ => (after as f64 / before as f64).min(1.0),
        };
        let title_quoted = quoted(title);
        if response < 1.0 {
            let (vi, en) = match response_secs {
                None => (
                    format!("Không phản hồi tình huống {title_quoted}"),
                    format!("No response to the scenario {title_quoted}"),
                ),
                Some(s) => (
                    format!(
                        "Phản hồi tình huống {title_quoted} sau {} giây (mục tiêu ≤ 30 giây)",
                        secs(s)
                    ),
                    format!(
                        "Responded to the scenario {title_quoted} after {} s (target ≤ 30 s)",
                        secs(s)
                    ),
                ),
            };
            lines.push((share * RESPONSE_SHARE * (1.0 - response), at, vi, en));
        }
        if kept < 1.0 {
            lines.push((
                share * (1.0 - RESPONSE_SHARE) * (1.0 - kept),
                later,
                format!(
                    "Người xem giảm từ {before} xuống {after} trong phút sau tình huống {title_quoted}"
                ),
                format!(
                    "Viewers fell from {before} to {after} in the minute after the scenario {title_quoted}"
                ),
            ));
        }
        responses.push(ScenarioResponse {
            scenario_id: scenario_id.to_owned(),
            title: title.to_owned(),
            at,
            response_secs,
            viewers_before: before,
            viewers_after: after,
            comments_before: comments(at.saturating_sub(REACTION_WINDOW_MS), at),
            comments_after: comments(at, at + REACTION_WINDOW_MS),
            score: super::round2(RESPONSE_SHARE * response + (1.0 - RESPONSE_SHARE) * kept),
        });
    }
    (true, lines, responses)
}
