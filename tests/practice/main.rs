//! Practice rooms, black-box: classes, the simulated audience, scenarios,
//! coaching, the compliance checker and scorecards, over real sockets.

#[path = "../support/mod.rs"]
mod support;

mod audience;
mod scenarios;
