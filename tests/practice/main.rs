//! Practice rooms, black-box: classes, the simulated audience, scenarios,
//! coaching, the compliance checker and scorecards, over real sockets.

mod score;
#[path = "../support/mod.rs"]
mod support;

mod audience;
mod classes;
mod coach;
mod compliance;
mod prompter;
mod scenarios;
