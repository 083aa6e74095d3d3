//! This node's classes and practice rooms, in memory.
//!
//! A class lives on the node that opened it (a known limit: a node that
//! restarts forgets its classes, though their rooms and journals stay in
//! the room store). The set of practice rooms is what routes a room's sales
//! to this node's memory sale store (`AppState::sales_for`), so it is
//! filled before a class's rooms are handed out.

use std::collections::HashMap;

use dashmap::DashSet;
use parking_lot::RwLock;

use super::class::{Class, PracticeRoom};
use super::error::PracticeError;

/// Most classes one trainer keeps on a node (bounded memory).
pub const MAX_CLASSES_PER_TRAINER: usize = 100;

/// Who asks about a class: its owner sees it, an admin sees every class.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub identity: &'a str,
    pub admin: bool,
}

impl Asker<'_> {
    fn sees(&self, class: &Class) -> bool {
        self.admin || class.owner == self.identity
    }
}

/// The classes opened on this node and every practice room it knows.
#[derive(Default)]
pub struct Classes {
    /// By id. A std-like lock, not a tokio one: held for a lookup or an
    /// insert, never across an `.await`.
    classes: RwLock<HashMap<String, Class>>,
    /// Practice rooms (of classes here, or seen at a join): read on every
    /// sale request, so a lock-free set.
    practice_rooms: DashSet<String>,
}

impl Classes {
    pub fn new() -> Classes {
        Classes::default()
    }

    /// Is `room_id` a practice room this node knows of?
    pub fn is_practice_room(&self, room_id: &str) -> bool {
        self.practice_rooms.contains(room_id)
    }

    /// Note that `room_id` is a practice room (right after creating it, or
    /// when a join's snapshot says so).
    pub fn mark_practice_room(&self, room_id: &str) {
        if !self.practice_rooms.contains(room_id) {
            self.practice_rooms.insert(room_id.to_owned());
        }
    }

    /// May `owner` open one more class?
    pub fn check_room_for(&self, owner: &str) -> Result<(), PracticeError> {
        let classes = self.classes.read();
        let theirs = classes.values().filter(|c| c.owner == owner).count();
        if theirs >= MAX_CLASSES_PER_TRAINER {
            return Err(PracticeError::TooManyClasses(MAX_CLASSES_PER_TRAINER));
        }
        Ok(())
    }

    /// Keep `class` (its rooms already opened and marked).
    pub fn insert(&self, class: Class) {
        for room in &class.rooms {
            self.mark_practice_room(&room.room_id);
        }
        self.classes.write().insert(class.id.clone(), class);
    }

    /// The class `id` as `asker` may see it.
    pub fn get(&self, asker: Asker<'_>, id: &str) -> Result<Class, PracticeError> {
        self.classes
            .read()
            .get(id)
            .filter(|class| asker.sees(class))
            .cloned()
            .ok_or(PracticeError::ClassNotFound)
    }

    /// The classes `asker` may see, newest first.
    pub fn list(&self, asker: Asker<'_>) -> Vec<Class> {
        let mut classes: Vec<Class> = self
            .classes
            .read()
            .values()
            .filter(|class| asker.sees(class))
            .cloned()
            .collect();
        classes.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        classes
    }

    /// Add a retry's room to class `id`; the class as it now is.
    pub fn add_room(
        &self,
        asker: Asker<'_>,
        id: &str,
        room: PracticeRoom,
    ) -> Result<Class, PracticeError> {
        self.mark_practice_room(&room.room_id);
        let mut classes = self.classes.write();
        let class = classes
            .get_mut(id)
            .filter(|class| asker.sees(class))
            .ok_or(PracticeError::ClassNotFound)?;
        class.rooms.push(room);
        Ok(class.clone())
    }

    /// Score every room of class `id` with `weights` from now on; the
    /// class as it now is.
    pub fn set_weights(
        &self,
        asker: Asker<'_>,
        id: &str,
        weights: crate::practice::score::Weights,
    ) -> Result<Class, PracticeError> {
        let mut classes = self.classes.write();
        let class = classes
            .get_mut(id)
            .filter(|class| asker.sees(class))
            .ok_or(PracticeError::ClassNotFound)?;
        class.weights = weights;
        Ok(class.clone())
    }

    /// The class a practice room belongs to, if it was opened here.
    pub fn class_of_room(&self, room_id: &str) -> Option<Class> {
        self.classes
            .read()
            .values()
            .find(|class| class.rooms.iter().any(|r| r.room_id == room_id))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::practice::lesson::Lesson;

    fn class(id: &str, owner: &str, at: u64) -> Class {
        Class {
            id: id.into(),
            name: "Lớp".into(),
            owner: owner.into(),
            created_at: at,
            lesson: Lesson::default(),
            weights: crate::practice::score::Weights::default(),
            rooms: vec![PracticeRoom {
                room_id: format!("room-{id}"),
                trainee: "Lan".into(),
                attempt: 1,
                opened_at: at,
            }],
        }
    }

    const HOA: Asker = Asker {
        identity: "hoa",
        admin: false,
    };
    const MAI: Asker = Asker {
        identity: "mai",
        admin: false,
    };
    const ADMIN: Asker = Asker {
        identity: "root",
        admin: true,
    };

    #[test]
    fn a_trainer_sees_her_own_classes_and_an_admin_sees_all() {
        let classes = Classes::new();
        classes.insert(class("a", "hoa", 1));
        classes.insert(class("b", "hoa", 2));
        classes.insert(class("c", "mai", 3));
        let ids =
            |asker| -> Vec<String> { classes.list(asker).into_iter().map(|c| c.id).collect() };
        assert_eq!(ids(HOA), ["b", "a"]);
        assert_eq!(ids(MAI), ["c"]);
        assert_eq!(ids(ADMIN), ["c", "b", "a"]);
        assert!(classes.get(HOA, "a").is_ok());
        assert_eq!(classes.get(MAI, "a"), Err(PracticeError::ClassNotFound));
        assert!(classes.get(ADMIN, "a").is_ok());
    }

    #[test]
    fn a_class_s_rooms_are_practice_rooms() {
        let classes = Classes::new();
        assert!(!classes.is_practice_room("room-a"));
        classes.insert(class("a", "hoa", 1));
        assert!(classes.is_practice_room("room-a"));
        let retry = PracticeRoom {
            room_id: "room-a2".into(),
            trainee: "Lan".into(),
            attempt: 2,
            opened_at: 5,
        };
        assert_eq!(
            classes.add_room(MAI, "a", retry.clone()),
            Err(PracticeError::ClassNotFound)
        );
        let class = classes.add_room(HOA, "a", retry).unwrap();
        assert_eq!(class.rooms.len(), 2);
        assert!(classes.is_practice_room("room-a2"));
        assert_eq!(classes.class_of_room("room-a2").unwrap().id, "a");
    }

    #[test]
    fn a_trainer_keeps_a_bounded_number_of_classes() {
        let classes = Classes::new();
        for i in 0..MAX_CLASSES_PER_TRAINER {
            classes.insert(class(&i.to_string(), "hoa", i as u64));
        }
        assert_eq!(
            classes.check_room_for("hoa"),
            Err(PracticeError::TooManyClasses(MAX_CLASSES_PER_TRAINER))
        );
        assert!(classes.check_room_for("mai").is_ok());
    }
}
