//! The class overview: each practice room's figures so far, computed from
//! its journal with `analytics` (the same rules as the seller's report,
//! `docs/metrics.md`), plus the count of compliance flags and the score so
//! far. Pure: the
//! server reads the journals and the rooms' info and calls [`room`].

use serde::Serialize;

use crate::analytics::{Metrics, Session};
use crate::clock::UnixMillis;
use crate::journal::{JournalEntry, Record};
use crate::money::Vnd;
use crate::protocol::{RoomInfo, RoomStatus};

use super::class::PracticeRoom;
use super::score::{Scorecard, Weights};

/// Where a practice room is, in the trainer's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomPhase {
    /// Opened, not live yet.
    Waiting,
    Live,
    Ended,
}

impl From<RoomStatus> for RoomPhase {
    fn from(status: RoomStatus) -> RoomPhase {
        match status {
            RoomStatus::Scheduled => RoomPhase::Waiting,
            RoomStatus::Live => RoomPhase::Live,
            RoomStatus::Ended => RoomPhase::Ended,
        }
    }
}

/// One row of the overview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomOverview {
    pub room_id: String,
    pub trainee: String,
    pub attempt: u32,
    pub status: RoomPhase,
    /// Viewers connected now (the room's own count, every node).
    pub audience_now: u64,
    /// Most viewers at once so far (journal).
    pub audience_peak: u64,
    pub comments: u64,
    /// Comments per live minute; `null` before the room went live.
    pub comment_rate: Option<f64>,
    pub orders: u64,
    pub gmv_vnd: Vnd,
    pub questions: u64,
    pub questions_answered: u64,
    /// `compliance_flagged` entries of the journal.
    pub compliance_flags: u64,
    pub live_secs: f64,
    /// The attempt's score so far: its scorecard's total with the room's
    /// weights (`practice::score`); it changes until the attempt ends.
    pub score: f64,
}

/// The overview row of `room`, from its info (`None`: the room is gone,
/// e.g. its keys expired) and its journal entries as of `now`.
pub fn room(
    room: &PracticeRoom,
    info: Option<&RoomInfo>,
    entries: &[JournalEntry],
    weights: &Weights,
    now: UnixMillis,
) -> RoomOverview {
    let session = Session::read(entries, now);
    let metrics = Metrics::of(&session);
    let status = match info {
        Some(info) => info.status.into(),
        None => RoomPhase::Ended,
    };
    RoomOverview {
        room_id: room.room_id.clone(),
        trainee: room.trainee.clone(),
        attempt: room.attempt,
        status,
        audience_now: match status {
            RoomPhase::Ended => 0,
            _ => info.map_or(0, |info| info.viewer_count),
        },
        audience_peak: metrics.peak_viewers,
        comments: metrics.comments,
        comment_rate: metrics.comment_rate,
        orders: metrics.orders,
        gmv_vnd: metrics.gmv_vnd,
        questions: metrics.questions,
        questions_answered: metrics.questions_answered,
        compliance_flags: compliance_flags(entries),
        live_secs: session.live_secs(),
        score: Scorecard::of(entries, weights, now).total,
    }
}

/// How many times the compliance checker flagged the room's texts.
pub fn compliance_flags(entries: &[JournalEntry]) -> u64 {
    entries
        .iter()
        .filter(|e| matches!(e.record, Record::ComplianceFlagged { .. }))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(at: UnixMillis) -> JournalEntry {
        JournalEntry {
            at,
            record: Record::ComplianceFlagged {
                rule_id: "absolute-claim".into(),
                severity: "warning".into(),
                source: "chat".into(),
                excerpt: "tốt nhất".into(),
            },
        }
    }

    fn practice_room() -> PracticeRoom {
        PracticeRoom {
            room_id: "r1".into(),
            trainee: "Lan".into(),
            attempt: 2,
            opened_at: 0,
        }
    }

    #[test]
    fn flags_are_counted_from_the_journal() {
        let coached = JournalEntry {
            at: 3,
            record: Record::Coached {
                by: "auto".into(),
                kind: "silent".into(),
                text: "…".into(),
            },
        };
        let entries = vec![flagged(1), coached, flagged(5)];
        let row = room(&practice_room(), None, &entries, &Weights::default(), 10);
        assert_eq!(row.compliance_flags, 2);
        assert_eq!(row.attempt, 2);
    }

    #[test]
    fn a_gone_room_is_ended_with_nobody_watching() {
        let row = room(&practice_room(), None, &[], &Weights::default(), 10);
        assert_eq!(row.status, RoomPhase::Ended);
        assert_eq!(row.audience_now, 0);
        assert_eq!(row.comment_rate, None);
    }
}
