//! Shared test support: a real server on 127.0.0.1:0 and real WebSocket clients.
#![allow(dead_code)]

pub mod client;
pub mod server;
