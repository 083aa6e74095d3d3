//! Practice rooms for trainers: classes of trainees who sell live to a
//! simulated Vietnamese audience, with scenarios the trainer injects,
//! private coaching, a compliance checker and a scorecard.
//!
//! A practice room is an ordinary room (same room store, protocol, video,
//! chat, pins, sales, bag) marked `practice`: its sales and orders live in
//! this node's memory sale store (no real orders, no webhooks), and the
//! node that opened its class runs its audience, coaching and scoring.

pub mod audience;
pub mod scenario;
