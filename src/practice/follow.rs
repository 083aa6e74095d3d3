//! Following practice rooms' journals for the class overview: each poll
//! parses only the lines added since the last one. A trainer page polls
//! every few seconds for up to 40 rooms; parsing each journal whole every
//! time cost ~40 ms a busy room in a debug build (measured:
//! `measure_the_overview_of_thirty_busy_rooms` in `tests/practice`), nearly
//! all of it JSON parsing, so parsed entries are kept between polls: the
//! overview of 30 rooms of 3,351 entries each went from 1.2–1.5 s a poll to
//! 80–105 ms (debug build, this 2-core machine shared with other builds).

use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::journal::JournalEntry;

/// One room's journal as parsed so far.
#[derive(Debug, Default)]
pub struct Followed {
    /// The session's first line: a different one means another session
    /// (read from scratch).
    first_line: String,
    /// Lines parsed so far (unreadable ones included, skipped).
    lines: usize,
    entries: Vec<JournalEntry>,
}

impl Followed {
    /// Take in the journal's lines as read now; its entries.
    pub fn follow(&mut self, lines: &[String]) -> &[JournalEntry] {
        let same_session = lines.len() >= self.lines
            && lines.first().map(String::as_str).unwrap_or_default() == self.first_line;
        if !same_session {
            *self = Followed {
                first_line: lines.first().cloned().unwrap_or_default(),
                ..Followed::default()
            };
        }
        let new = &lines[self.lines..];
        self.entries.extend(
            new.iter()
                .filter_map(|line| serde_json::from_str(line).ok()),
        );
        self.lines = lines.len();
        &self.entries
    }
}

/// Every followed room's journal on this node.
#[derive(Default)]
pub struct Followers {
    /// A lock per room (held while parsing, never across an `.await`), so
    /// rooms are parsed in parallel and one room's polls in turn.
    rooms: DashMap<String, Arc<Mutex<Followed>>>,
}

impl Followers {
    pub fn new() -> Followers {
        Followers::default()
    }

    /// Run `with` on `room_id`'s entries, given its journal lines read now.
    pub fn with_entries<T>(
        &self,
        room_id: &str,
        lines: &[String],
        with: impl FnOnce(&[JournalEntry]) -> T,
    ) -> T {
        let followed = Arc::clone(self.rooms.entry(room_id.to_owned()).or_default().value());
        let mut followed = followed.lock();
        with(followed.follow(lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at: u64) -> String {
        format!(r#"{{"at":{at},"type":"coached","by":"auto","kind":"silent","text":"…"}}"#)
    }

    #[test]
    fn new_lines_are_added_to_those_parsed_before() {
        let mut followed = Followed::default();
        let mut lines = vec![line(1), line(2)];
        assert_eq!(followed.follow(&lines).len(), 2);
        lines.push("not json".into());
        lines.push(line(4));
        let ats: Vec<u64> = followed.follow(&lines).iter().map(|e| e.at).collect();
        assert_eq!(ats, [1, 2, 4]);
        assert_eq!(followed.follow(&lines).len(), 3, "nothing new");
    }

    #[test]
    fn another_session_is_read_from_scratch() {
        let mut followed = Followed::default();
        followed.follow(&[line(1), line(2), line(3)]);
        let ats: Vec<u64> = followed
            .follow(&[line(7), line(8), line(9), line(10)])
            .iter()
            .map(|e| e.at)
            .collect();
        assert_eq!(ats, [7, 8, 9, 10]);
        assert_eq!(followed.follow(&[line(7)]).len(), 1, "shorter: read again");
    }
}
