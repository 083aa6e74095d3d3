//! Black-box specification of the session server (issue 2): real server on
//! 127.0.0.1:0, real WebSocket and HTTP clients.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod bag;
mod catalog;
mod chat;
mod frames;
mod http_api;
mod join;
mod lifecycle;
mod moderation;
mod note;
mod orders;
mod report;
mod sale;
mod stock;
mod tokens;
mod vouchers;
