//! Same-run baselines: what a well-known system does on the same machine,
//! at the same moment, with the same load. Our throughput divided by
//! theirs is the result that survives a change of hardware.
//!
//! - [`redis_bench`]: `redis-benchmark` calling the sale store's own
//!   single-buy Redis function — the ceiling for end-to-end reservations.
//! - [`postgres`]: `pgbench` taking units from one hot stock row (optional).
//! - [`socketio`]: a minimal Socket.IO server doing the same room broadcast.
//! - [`ws`]: the same broadcast on Node's `ws` (the lean peer); both are
//!   started through [`node_peer`].

pub mod node_peer;
pub mod postgres;
pub mod redis_bench;
pub mod socketio;
pub mod ws;
