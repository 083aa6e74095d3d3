//! Shared test support: a real server on 127.0.0.1:0, real WebSocket
//! clients, and real `redis-server` processes.
#![allow(dead_code)]

pub mod client;
pub mod cluster;
pub mod redis;
pub mod redis_cluster;
pub mod registry;
pub mod room;
pub mod sale;
pub mod server;
