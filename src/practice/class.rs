//! A trainer's class: its name, its trainees' practice rooms (one per
//! trainee and attempt) and its lesson. Plain data and the checks of a new
//! class; `classes.rs` keeps them, `server/practice.rs` serves them.

use serde::{Deserialize, Serialize};

use crate::auth;
use crate::clock::UnixMillis;
use crate::room::text;

use super::error::PracticeError;
use super::lesson::Lesson;

/// Most trainees in one class (one practice room each).
pub const MAX_TRAINEES: usize = 40;
/// Most rooms in one class, every attempt included (bounded memory, and
/// the overview reads every room).
pub const MAX_ROOMS: usize = 200;
/// Longest class name, in Unicode scalar values.
pub const MAX_CLASS_NAME_CHARS: usize = 100;

/// A class as the trainer asks for it (`POST /api/classes`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClass {
    pub name: String,
    /// Display names, one practice room each.
    pub trainees: Vec<String>,
    #[serde(default)]
    pub lesson: Option<Lesson>,
}

/// A new class whose fields were checked: trimmed names, a checked lesson.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedClass {
    pub name: String,
    pub trainees: Vec<String>,
    pub lesson: Lesson,
}

impl NewClass {
    /// The class, checked: a name of 1 to [`MAX_CLASS_NAME_CHARS`]
    /// characters; 1 to [`MAX_TRAINEES`] trainees, each named like a seller
    /// whose name goes into her studio token (1 to `auth::MAX_NAME_CHARS`
    /// characters, not blank), no name twice; the lesson checked
    /// ([`Lesson::checked`]), the default lesson when absent.
    pub fn checked(self) -> Result<CheckedClass, PracticeError> {
        let invalid = |message: String| Err(PracticeError::InvalidValue(message));
        let name = self.name.trim();
        if text::is_blank(name) || text::length(name) > MAX_CLASS_NAME_CHARS {
            return invalid(format!(
                "name: a class name has 1 to {MAX_CLASS_NAME_CHARS} characters"
            ));
        }
        if self.trainees.is_empty() || self.trainees.len() > MAX_TRAINEES {
            return invalid(format!(
                "trainees: a class has 1 to {MAX_TRAINEES} trainees"
            ));
        }
        let mut trainees: Vec<String> = Vec::with_capacity(self.trainees.len());
        for trainee in &self.trainees {
            let trainee = checked_trainee(trainee)?;
            if trainees
                .iter()
                .any(|t| t.to_lowercase() == trainee.to_lowercase())
            {
                return invalid(format!("trainees: {trainee} is named twice"));
            }
            trainees.push(trainee);
        }
        Ok(CheckedClass {
            name: name.to_owned(),
            trainees,
            lesson: self.lesson.unwrap_or_default().checked()?,
        })
    }
}

/// A trainee's name, trimmed, or why it cannot be one.
pub fn checked_trainee(name: &str) -> Result<String, PracticeError> {
    let name = name.trim();
    if !auth::is_valid_name(name) {
        return Err(PracticeError::InvalidValue(format!(
            "trainees: a trainee's name has 1 to {} characters and is not blank",
            auth::MAX_NAME_CHARS
        )));
    }
    Ok(name.to_owned())
}

/// A class as this node keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Class {
    /// `cl-` and 12 hex digits, random: not guessable from another's.
    pub id: String,
    pub name: String,
    /// The identity (`sub`) of the trainer who opened it: she alone (and
    /// admins) may see and manage it.
    pub owner: String,
    pub created_at: UnixMillis,
    pub lesson: Lesson,
    /// Every attempt's room, in the order they were opened.
    pub rooms: Vec<PracticeRoom>,
}

/// One trainee's practice room, for one attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PracticeRoom {
    pub room_id: String,
    pub trainee: String,
    /// 1 for the first room of a trainee, n + 1 for a retry after n:
    /// attempts are kept so that they can be compared.
    pub attempt: u32,
    pub opened_at: UnixMillis,
}

impl Class {
    /// The room `room_id` of this class.
    pub fn room(&self, room_id: &str) -> Result<&PracticeRoom, PracticeError> {
        self.rooms
            .iter()
            .find(|room| room.room_id == room_id)
            .ok_or(PracticeError::RoomNotInClass)
    }

    /// May one more room (a retry) be opened in this class?
    pub fn check_room_for_retry(&self) -> Result<(), PracticeError> {
        match self.rooms.len() < MAX_ROOMS {
            true => Ok(()),
            false => Err(PracticeError::TooManyRooms(MAX_ROOMS)),
        }
    }

    /// The number of `trainee`'s next attempt.
    pub fn next_attempt(&self, trainee: &str) -> u32 {
        self.rooms
            .iter()
            .filter(|room| room.trainee == trainee)
            .map(|room| room.attempt)
            .max()
            .unwrap_or(0)
            + 1
    }
}

/// The title of a trainee's practice room (shown to her and her viewers).
pub fn room_title(class_name: &str, trainee: &str, attempt: u32) -> String {
    let title = format!("Phòng luyện tập — {trainee} — {class_name} (lần {attempt})");
    // A class name of 100 and a trainee name of 40 characters fit the
    // room's 200; cut anyway rather than refuse.
    title.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str, trainees: &[&str]) -> NewClass {
        NewClass {
            name: name.into(),
            trainees: trainees.iter().map(|t| t.to_string()).collect(),
            lesson: None,
        }
    }

    #[test]
    fn names_are_trimmed_and_the_lesson_defaults() {
        let class = new(" Lớp K15 ", &[" Lan ", "Hùng"]).checked().unwrap();
        assert_eq!(class.name, "Lớp K15");
        assert_eq!(class.trainees, ["Lan", "Hùng"]);
        assert_eq!(class.lesson, Lesson::default());
    }

    #[test]
    fn a_class_has_one_to_forty_distinct_named_trainees() {
        let forty: Vec<String> = (1..=40).map(|i| format!("Học viên {i}")).collect();
        let forty: Vec<&str> = forty.iter().map(String::as_str).collect();
        assert!(new("Lớp", &forty).checked().is_ok());
        let mut forty_one = forty.clone();
        forty_one.push("Thêm");
        for bad in [
            new("Lớp", &[]),
            new("Lớp", &forty_one),
            new("Lớp", &["Lan", "lan"]),
            new("Lớp", &["  "]),
            new("Lớp", &["\u{200B}"]),
            new("Lớp", &[&"ệ".repeat(41)]),
            new("", &["Lan"]),
            new(&"a".repeat(101), &["Lan"]),
        ] {
            assert!(
                matches!(bad.clone().checked(), Err(PracticeError::InvalidValue(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn attempts_count_per_trainee() {
        let room = |trainee: &str, attempt| PracticeRoom {
            room_id: format!("{trainee}{attempt}"),
            trainee: trainee.into(),
            attempt,
            opened_at: 0,
        };
        let class = Class {
            id: "cl-1".into(),
            name: "Lớp".into(),
            owner: "t".into(),
            created_at: 0,
            lesson: Lesson::default(),
            rooms: vec![room("Lan", 1), room("Hùng", 1), room("Lan", 2)],
        };
        assert_eq!(class.next_attempt("Lan"), 3);
        assert_eq!(class.next_attempt("Hùng"), 2);
        assert_eq!(class.next_attempt("Mai"), 1);
        assert_eq!(class.room("Lan2").unwrap().attempt, 2);
        assert_eq!(class.room("x"), Err(PracticeError::RoomNotInClass));
    }
}
