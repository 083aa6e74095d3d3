//! The pinned announcement: one short text the seller (or a moderator on
//! her behalf) pins above the chat — "Freeship đơn từ 300k" — until it is
//! replaced or taken down.
//!
//! This module owns the note's text rule and what pinning and unpinning
//! produce; both room stores call it (the memory store through
//! [`RoomState`](super::RoomState), the Redis store before it calls
//! `chophien_room_note`), so they refuse the same texts with the same
//! messages. Who may pin is the service layer's table (`Action::PinProduct`:
//! the roles that pin products pin the note too, moderators included, since
//! both only show what the seller sells and says).

use crate::clock::UnixMillis;
use crate::protocol::{PinnedNote, RoomEvent};

use super::actor::Actor;
use super::{text, RoomError};

/// Longest note, in Unicode scalar values (`text::length`): one line over
/// the video on a phone, two at most.
pub const MAX_NOTE_CHARS: usize = 200;

/// A note's text as it will be pinned (trimmed), or why it may not be: the
/// checks that need no room data, run by every room store.
pub fn note_text(text: &str) -> Result<&str, RoomError> {
    let text = text.trim();
    if text::is_blank(text) {
        return Err(RoomError::InvalidValue("the note is empty".into()));
    }
    if text::length(text) > MAX_NOTE_CHARS {
        return Err(RoomError::InvalidValue(format!(
            "a note is at most {MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(text)
}

/// The note `actor` pins at `now`, once its text passed [`note_text`].
pub fn note(actor: &Actor, text: &str, now: UnixMillis) -> PinnedNote {
    PinnedNote {
        text: text.to_owned(),
        pinned_at: now,
        by: actor.name.clone(),
    }
}

/// Pin `text` in place of `current`: the event everyone hears.
pub fn pin(
    current: &mut Option<PinnedNote>,
    actor: &Actor,
    text: &str,
    now: UnixMillis,
) -> Result<Vec<RoomEvent>, RoomError> {
    let text = note_text(text)?;
    let pinned = note(actor, text, now);
    *current = Some(pinned.clone());
    Ok(vec![RoomEvent::NotePinned { note: pinned }])
}

/// Take the note down; nothing happens (and nobody hears) when none is up.
pub fn unpin(current: &mut Option<PinnedNote>) -> Vec<RoomEvent> {
    match current.take() {
        Some(_) => vec![RoomEvent::NoteUnpinned],
        None => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn seller() -> Actor {
        Actor {
            user_id: "s".into(),
            name: "Chị Lan".into(),
            role: Role::Seller,
        }
    }

    #[test]
    fn a_note_is_trimmed_and_signed_by_its_author() {
        let mut current = None;
        let events = pin(&mut current, &seller(), "  Freeship đơn từ 300k \n", 42).unwrap();
        let expected = PinnedNote {
            text: "Freeship đơn từ 300k".into(),
            pinned_at: 42,
            by: "Chị Lan".into(),
        };
        assert_eq!(
            events,
            [RoomEvent::NotePinned {
                note: expected.clone()
            }]
        );
        assert_eq!(current, Some(expected));
    }

    #[test]
    fn a_blank_note_is_refused_and_changes_nothing() {
        let mut current = None;
        for text in ["", "   ", "\u{200B}\u{3164}"] {
            let refused = pin(&mut current, &seller(), text, 1).unwrap_err();
            assert_eq!(refused, RoomError::InvalidValue("the note is empty".into()));
        }
        assert_eq!(current, None);
    }

    #[test]
    fn the_length_limit_counts_characters_not_bytes() {
        let mut current = None;
        let longest = "ệ".repeat(MAX_NOTE_CHARS);
        assert!(pin(&mut current, &seller(), &longest, 1).is_ok());
        let too_long = "ệ".repeat(MAX_NOTE_CHARS + 1);
        assert!(matches!(
            pin(&mut current, &seller(), &too_long, 2),
            Err(RoomError::InvalidValue(_))
        ));
        assert_eq!(current.map(|n| n.pinned_at), Some(1));
    }

    #[test]
    fn unpinning_is_heard_only_when_a_note_was_up() {
        let mut current = None;
        assert!(unpin(&mut current).is_empty());
        pin(&mut current, &seller(), "Freeship", 1).unwrap();
        assert_eq!(unpin(&mut current), [RoomEvent::NoteUnpinned]);
        assert_eq!(current, None);
    }
}
