//! This node among others: who it is, its heartbeat, and the directory of
//! the nodes serving rooms together.
//!
//! Each node beats every `cluster.heartbeat_ms`, writing a [`NodeReport`]
//! (its address, version, readiness, connections, and the rooms it has
//! connections in) to the [`NodeDirectory`]: in Redis when rooms span nodes
//! (`chophien:{nodes}:<id>` with a time to live, indexed by last beat in
//! `chophien:{nodes}`; one hash tag, so it works on a Redis Cluster), or in
//! this process alone. A node that stops beating
//! drops out after `cluster.node_ttl_ms`. Admins list the directory over
//! HTTP (`GET /api/admin/nodes`) to see which node serves which room.
//!
//! The beat also watches the node's link to Redis: when it has failed for
//! `cluster.partition_grace_ms`, the node stops taking clients (`/readyz`
//! answers 503, so a load balancer routes around it) and tells the clients
//! it has to reconnect elsewhere, rather than serving rooms it can no longer
//! see change.

mod directory;

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;

pub use directory::{NodeDirectory, NodeError};

/// What a node says about itself at each beat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    pub id: String,
    /// Where other nodes reach this one over HTTP (`cluster.advertise_url`).
    pub url: String,
    /// The `chophien` version it runs.
    pub version: String,
    pub started_at: UnixMillis,
    pub heartbeat_at: UnixMillis,
    /// Is it taking clients (what `/readyz` says)?
    pub ready: bool,
    /// Open WebSocket connections.
    pub connections: u64,
    /// The rooms with connections on this node.
    pub rooms: Vec<RoomPresence>,
}

/// One room's connections on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomPresence {
    pub room_id: String,
    /// Every connection in the room on this node (sellers, moderators, …).
    pub members: u64,
    /// Of which viewers.
    pub viewers: u64,
}

/// The `chophien` version, as nodes report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
