//! The coach channel: what a trainer may whisper to a trainee, the canned
//! nudges, and the private `coached` event that carries either (and the
//! automatic prompter's prompts) to the room's hosts only.
//!
//! Who may coach (`Action::Coach`: trainers and admins) is decided in
//! `server/command.rs`; that the room is a practice room, and the delivery
//! through the backstage (`Room::tell_hosts`), in `server/practice.rs`.

use crate::clock::{self, UnixMillis};
use crate::journal::{Journal, Record};
use crate::protocol::DirectEvent;
use crate::room::{text, RoomRegistry};

use super::error::PracticeError;

/// Longest whisper, in Unicode scalar values.
pub const MAX_WHISPER_CHARS: usize = 300;

/// A canned nudge: a stable id (clients and the journal use it) and its
/// words in Vietnamese, then English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nudge {
    pub id: &'static str,
    pub vi: &'static str,
    pub en: &'static str,
}

/// Every nudge a trainer may send. Ids are stable: add, never rename.
pub const NUDGES: &[Nudge] = &[
    Nudge {
        id: "answer_questions",
        vi: "Trả lời câu hỏi của khách đi em.",
        en: "Answer the viewers' questions.",
    },
    Nudge {
        id: "pin_product",
        vi: "Ghim sản phẩm em đang giới thiệu lên.",
        en: "Pin the product you are showing.",
    },
    Nudge {
        id: "start_sale",
        vi: "Mở flash sale ngay bây giờ.",
        en: "Start a flash sale now.",
    },
    Nudge {
        id: "smile_greet",
        vi: "Cười lên và chào khách mới vào phòng.",
        en: "Smile and greet the viewers who just came in.",
    },
    Nudge {
        id: "slow_down",
        vi: "Nói chậm lại một chút.",
        en: "Slow down a little.",
    },
    Nudge {
        id: "mention_shipping",
        vi: "Nhắc khách về phí ship và thời gian giao hàng.",
        en: "Mention the shipping cost and delivery time.",
    },
    Nudge {
        id: "show_product",
        vi: "Đưa sản phẩm lại gần camera cho khách xem rõ.",
        en: "Bring the product closer to the camera.",
    },
    Nudge {
        id: "call_to_order",
        vi: "Kêu gọi khách chốt đơn.",
        en: "Ask the viewers to place their orders.",
    },
];

/// The nudge with this id.
pub fn nudge(id: &str) -> Result<&'static Nudge, PracticeError> {
    NUDGES.iter().find(|n| n.id == id).ok_or_else(|| {
        PracticeError::InvalidValue(format!(
            "nudge: one of {}",
            NUDGES.iter().map(|n| n.id).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// A whisper's text, trimmed: 1 to [`MAX_WHISPER_CHARS`] characters, not
/// blank.
pub fn whisper_text(text: &str) -> Result<&str, PracticeError> {
    let text = text.trim();
    if text::is_blank(text) || text::length(text) > MAX_WHISPER_CHARS {
        return Err(PracticeError::InvalidValue(format!(
            "text: a whisper has 1 to {MAX_WHISPER_CHARS} characters"
        )));
    }
    Ok(text)
}

/// What is told to the trainee: kind, Vietnamese, English (when there is a
/// translation) and, for a nudge, its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coaching {
    /// `whisper`, `nudge`, or the prompter's reason.
    pub kind: String,
    pub text: String,
    pub text_en: Option<String>,
    pub nudge: Option<String>,
}

impl Coaching {
    pub fn whisper(text: &str) -> Result<Coaching, PracticeError> {
        Ok(Coaching {
            kind: "whisper".into(),
            text: whisper_text(text)?.to_owned(),
            text_en: None,
            nudge: None,
        })
    }

    pub fn nudge(id: &str) -> Result<Coaching, PracticeError> {
        let nudge = nudge(id)?;
        Ok(Coaching {
            kind: "nudge".into(),
            text: nudge.vi.into(),
            text_en: Some(nudge.en.into()),
            nudge: Some(nudge.id.into()),
        })
    }

    /// The private event for the room's hosts, from `by` (a trainer's
    /// display name, or `auto`).
    pub fn event(&self, by: &str, at: UnixMillis) -> DirectEvent {
        DirectEvent::Coached {
            by: by.to_owned(),
            kind: self.kind.clone(),
            text: self.text.clone(),
            text_en: self.text_en.clone(),
            nudge: self.nudge.clone(),
            at,
        }
    }
}

/// Tell `room_id`'s hosts connected to this node `coaching` from `by` (a
/// user id, or `auto`; `by_name` is shown) and journal it as `coached`;
/// how many host connections heard it.
pub fn tell(
    rooms: &RoomRegistry,
    journal: &Journal,
    room_id: &str,
    by: &str,
    by_name: &str,
    coaching: &Coaching,
) -> usize {
    let now = clock::unix_millis();
    journal.record(
        room_id,
        now,
        Record::Coached {
            by: by.to_owned(),
            kind: coaching.kind.clone(),
            text: coaching.text.clone(),
        },
    );
    rooms.tell_hosts(room_id, &coaching.event(by_name, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nudge_ids_are_unique_and_every_nudge_speaks_both_languages() {
        let mut ids: Vec<_> = NUDGES.iter().map(|n| n.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), NUDGES.len());
        for n in NUDGES {
            assert!(!n.vi.is_empty() && !n.en.is_empty(), "{}", n.id);
            assert_ne!(n.vi, n.en, "{}", n.id);
        }
    }

    #[test]
    fn an_unknown_nudge_is_refused_naming_the_known_ones() {
        let error = Coaching::nudge("sing").unwrap_err();
        assert!(error.to_string().contains("answer_questions"), "{error}");
        assert_eq!(
            Coaching::nudge("start_sale").unwrap().text_en.as_deref(),
            Some("Start a flash sale now.")
        );
    }

    #[test]
    fn a_whisper_has_one_to_three_hundred_characters() {
        assert_eq!(
            Coaching::whisper("  Chào khách đi em  ").unwrap().text,
            "Chào khách đi em"
        );
        assert!(Coaching::whisper(&"ệ".repeat(300)).is_ok());
        for bad in ["", "   ", "\u{200B}", &"ệ".repeat(301)] {
            assert!(Coaching::whisper(bad).is_err(), "{bad:?}");
        }
    }
}
