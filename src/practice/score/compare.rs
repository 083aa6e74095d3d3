//! Attempts side by side: several scorecards (one per practice room), part
//! by part, for the trainer's comparison page and the class ranking.

use serde::Serialize;

use super::{PartName, Scorecard};

/// One row of the comparison: a part (or the total) across the attempts,
/// in the order the attempts were given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonRow {
    /// A part's key (`interaction`, …) or `total`.
    pub part: &'static str,
    pub label_vi: &'static str,
    pub label_en: &'static str,
    /// Each attempt's weight for the part (100 for the total).
    pub weights: Vec<u32>,
    pub points: Vec<f64>,
    /// The index of the attempt with the most points (the first of equals).
    pub best: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub room_id: String,
    pub title: String,
    pub seller_name: String,
    pub started_at: Option<crate::clock::UnixMillis>,
    pub total: f64,
    /// Capped by a serious compliance violation.
    pub capped: bool,
    /// 1 for the highest total; equal totals share a rank.
    pub rank: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub attempts: Vec<Attempt>,
    /// The six parts, then the total.
    pub rows: Vec<ComparisonRow>,
}

impl Comparison {
    pub fn of(cards: &[Scorecard]) -> Comparison {
        let attempts = cards
            .iter()
            .map(|card| Attempt {
                room_id: card.room_id.clone(),
                title: card.title.clone(),
                seller_name: card.seller_name.clone(),
                started_at: card.started_at,
                total: card.total,
                capped: card.cap.is_some() || card.figures.serious > 0,
                rank: 1 + cards
                    .iter()
                    .filter(|other| other.total > card.total)
                    .count(),
            })
            .collect();
        let mut rows: Vec<ComparisonRow> = PartName::ALL
            .iter()
            .map(|name| {
                let (label_vi, label_en) = name.label();
                row(
                    name.key(),
                    label_vi,
                    label_en,
                    cards.iter().map(|c| name.weight(&c.weights)).collect(),
                    cards
                        .iter()
                        .map(|c| c.part(*name).map_or(0.0, |p| p.points))
                        .collect(),
                )
            })
            .collect();
        rows.push(row(
            "total",
            "Tổng điểm",
            "Total",
            vec![100; cards.len()],
            cards.iter().map(|c| c.total).collect(),
        ));
        Comparison { attempts, rows }
    }
}

fn row(
    part: &'static str,
    label_vi: &'static str,
    label_en: &'static str,
    weights: Vec<u32>,
    points: Vec<f64>,
) -> ComparisonRow {
    let best = points
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f64)>, (i, p)| match best {
            Some((_, top)) if top >= *p => best,
            _ => Some((i, *p)),
        })
        .map(|(i, _)| i);
    ComparisonRow {
        part,
        label_vi,
        label_en,
        weights,
        points,
        best,
    }
}
