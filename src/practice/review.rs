//! The trainer's review of an attempt: her marks for presentation and
//! product knowledge, and her notes on moments of the replay. Both are
//! journal records (`Record::TrainerMarked`, `Record::Annotated`), so they
//! live and expire with the session in either journal store; this module
//! checks what may be written and reads them back from the entries.

use serde::Serialize;

use crate::clock::UnixMillis;
use crate::journal::{JournalEntry, Record};
use crate::room::text;

/// The highest mark.
pub const MAX_MARK: u8 = 10;
/// The longest annotation or mark comment, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// Why a mark or an annotation was refused; `field()` names the body field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("{0} must be a whole number from 0 to 10")]
    BadMark(&'static str),
    #[error("the comment may have at most 500 characters")]
    LongComment,
    #[error("an annotation needs 1 to 500 characters of text")]
    BadText,
    #[error("the moment must fall within the session (unix ms from its opening until now)")]
    BadMoment,
}

impl ReviewError {
    pub fn field(&self) -> &'static str {
        match self {
            ReviewError::BadMark(field) => field,
            ReviewError::LongComment => "comment",
            ReviewError::BadText => "text",
            ReviewError::BadMoment => "moment",
        }
    }
}

/// The trainer's marks as the scorecard reads them: the latest given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Marks {
    pub by: String,
    /// When they were given (unix ms).
    pub at: UnixMillis,
    pub presentation: u8,
    pub product_knowledge: u8,
    pub comment: String,
}

/// A trainer's note on a moment of the replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub by: String,
    /// When it was written (unix ms).
    pub at: UnixMillis,
    /// The moment of the session it is about (unix ms).
    pub moment: UnixMillis,
    pub text: String,
}

/// The record of marks `presentation` and `product_knowledge` (each
/// 0–[`MAX_MARK`]) with an optional comment, given by `by`.
pub fn mark(
    by: &str,
    presentation: i64,
    product_knowledge: i64,
    comment: &str,
) -> Result<Record, ReviewError> {
    let check = |value: i64, field| {
        u8::try_from(value)
            .ok()
            .filter(|m| *m <= MAX_MARK)
            .ok_or(ReviewError::BadMark(field))
    };
    let presentation = check(presentation, "presentation")?;
    let product_knowledge = check(product_knowledge, "product_knowledge")?;
    let comment = comment.trim();
    if text::length(comment) > MAX_TEXT_CHARS {
        return Err(ReviewError::LongComment);
    }
    Ok(Record::TrainerMarked {
        by: by.to_owned(),
        presentation,
        product_knowledge,
        comment: comment.to_owned(),
    })
}

/// The record of a note on `moment`, which must fall within `opened_at..=now`.
pub fn annotate(
    by: &str,
    moment: i64,
    note: &str,
    opened_at: UnixMillis,
    now: UnixMillis,
) -> Result<Record, ReviewError> {
    let moment = u64::try_from(moment)
        .ok()
        .filter(|m| (opened_at..=now).contains(m))
        .ok_or(ReviewError::BadMoment)?;
    let note = note.trim();
    if text::is_blank(note) || text::length(note) > MAX_TEXT_CHARS {
        return Err(ReviewError::BadText);
    }
    Ok(Record::Annotated {
        by: by.to_owned(),
        moment,
        text: note.to_owned(),
    })
}

/// The latest marks in `entries`, if any were given.
pub fn latest_marks(entries: &[JournalEntry]) -> Option<Marks> {
    entries
        .iter()
        .filter_map(|entry| match &entry.record {
            Record::TrainerMarked {
                by,
                presentation,
                product_knowledge,
                comment,
            } => Some(Marks {
                by: by.clone(),
                at: entry.at,
                presentation: (*presentation).min(MAX_MARK),
                product_knowledge: (*product_knowledge).min(MAX_MARK),
                comment: comment.clone(),
            }),
            _ => None,
        })
        // The latest by time; of two at the same millisecond, the later line.
        .fold(None, |latest: Option<Marks>, marks| match latest {
            Some(kept) if kept.at > marks.at => Some(kept),
            _ => Some(marks),
        })
}

/// Every annotation in `entries`, by the moment it is about.
pub fn annotations(entries: &[JournalEntry]) -> Vec<Annotation> {
    let mut notes: Vec<Annotation> = entries
        .iter()
        .filter_map(|entry| match &entry.record {
            Record::Annotated { by, moment, text } => Some(Annotation {
                by: by.clone(),
                at: entry.at,
                moment: *moment,
                text: text.clone(),
            }),
            _ => None,
        })
        .collect();
    notes.sort_by_key(|n| (n.moment, n.at));
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: UnixMillis, record: Record) -> JournalEntry {
        JournalEntry { at, record }
    }

    #[test]
    fn the_latest_marks_win() {
        let entries = vec![
            entry(10, mark("gv", 5, 6, "").unwrap()),
            entry(30, mark("gv", 8, 9, "Tốt hơn").unwrap()),
            entry(20, mark("gv", 1, 1, "").unwrap()),
        ];
        let marks = latest_marks(&entries).unwrap();
        assert_eq!((marks.presentation, marks.product_knowledge), (8, 9));
        assert_eq!((marks.at, marks.comment.as_str()), (30, "Tốt hơn"));
        assert_eq!(latest_marks(&[]), None);
    }

    #[test]
    fn marks_outside_0_to_10_are_refused_by_field() {
        assert_eq!(
            mark("gv", 11, 5, "").unwrap_err(),
            ReviewError::BadMark("presentation")
        );
        assert_eq!(
            mark("gv", 5, -1, "").unwrap_err().field(),
            "product_knowledge"
        );
        assert_eq!(
            mark("gv", 5, 5, &"a".repeat(501)).unwrap_err().field(),
            "comment"
        );
        assert!(mark("gv", 0, 10, &"ă".repeat(500)).is_ok());
    }

    #[test]
    fn an_annotation_needs_text_and_a_moment_of_the_session() {
        assert!(annotate("gv", 150, "Trả lời hay", 100, 200).is_ok());
        assert_eq!(
            annotate("gv", 99, "x", 100, 200).unwrap_err().field(),
            "moment"
        );
        assert_eq!(
            annotate("gv", 201, "x", 100, 200).unwrap_err().field(),
            "moment"
        );
        assert_eq!(
            annotate("gv", 150, "  ", 100, 200).unwrap_err().field(),
            "text"
        );
        assert_eq!(
            annotate("gv", 150, &"x".repeat(501), 100, 200)
                .unwrap_err()
                .field(),
            "text"
        );
    }

    #[test]
    fn annotations_read_back_in_the_order_of_their_moments() {
        let entries = vec![
            entry(50, annotate("gv", 180, "sau", 100, 200).unwrap()),
            entry(60, annotate("gv", 120, "trước", 100, 200).unwrap()),
        ];
        let texts: Vec<String> = annotations(&entries).into_iter().map(|a| a.text).collect();
        assert_eq!(texts, ["trước", "sau"]);
    }
}
