//! Practice rooms for trainers: classes of trainees who sell live to a
//! simulated Vietnamese audience, with scenarios the trainer injects,
//! private coaching, a compliance checker and a scorecard.
//!
//! A practice room is an ordinary room (same room store, protocol, video,
//! chat, pins, sales, bag) marked `practice`: its sales and orders live in
//! this node's memory sale store (no real orders, no webhooks), and the
//! node that opened its class runs its audience, coaching and scoring.
//!
//! Layout (classes and coaching): `class.rs` (a class, its rooms and the
//! checks of a new one), `lesson.rs` (the lesson settings the audience
//! follows), `classes.rs` (this node's classes and the set of practice
//! rooms that routes their sales), `coach.rs` (whispers, nudges and the
//! private `coached` event), `overview.rs` (the class overview's figures),
//! `follow.rs` (each room's journal as the overview last parsed it),
//! `prompter.rs` (the automatic prompter's rules, pure) and `watch.rs` (its
//! task per practice room), `clock.rs` (the lesson clock both the prompter
//! and the audience run on), `error.rs`.
//! Scoring: `score/` (the scorecard of one attempt, computed from its
//! journal alone), `review.rs` (the trainer's marks and annotations, kept as
//! journal records).

pub mod audience;
pub mod class;
pub mod classes;
pub mod clock;
pub mod coach;
pub mod error;
pub mod follow;
pub mod lesson;
pub mod overview;
pub mod prompter;
pub mod review;
pub mod scenario;
pub mod score;
pub mod watch;

pub use class::{Class, NewClass, PracticeRoom};
pub use classes::{Asker, Classes};
pub use error::PracticeError;
pub use lesson::Lesson;
