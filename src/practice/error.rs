//! What can go wrong with classes and coaching: one error enum for the
//! practice module (its wire codes are given in `server/refusal.rs`).

/// Why a class request or a coaching message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PracticeError {
    /// A field of a class, a lesson or a coaching message is out of bounds.
    #[error("{0}")]
    InvalidValue(String),
    /// No class with this id that this trainer runs (another trainer's
    /// class is not told apart from a missing one).
    #[error("no such class")]
    ClassNotFound,
    /// The room named is not one of this class's rooms.
    #[error("no such room in this class")]
    RoomNotInClass,
    /// Coaching is for practice rooms only.
    #[error("coaching is for practice rooms only")]
    NotPracticeRoom,
    /// The trainer runs as many classes as a node keeps for one trainer.
    #[error("a trainer runs at most {0} classes on this server")]
    TooManyClasses(usize),
    /// The class has as many rooms (attempts included) as a class may.
    #[error("a class has at most {0} rooms, attempts included")]
    TooManyRooms(usize),
}
