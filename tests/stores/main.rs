//! The room, sale, bag, order, stock and voucher stores' contracts, run against
//! every store (memory, Redis, Redis Cluster), and what only the Redis stores
//! must survive (faults, crashes, a Cluster's slots).
//!
//! One test binary for many files: each is a module (one link instead of
//! several, and far less disk).

#[path = "../support/mod.rs"]
mod support;

mod bag_conformance;
mod note_conformance;
mod order_conformance;
mod order_faults;
mod room_conformance;
mod room_redis;
mod room_redis_cluster;
mod room_schedule;
mod sale_conformance;
mod sale_redis;
mod stock_conformance;
mod voucher_conformance;
