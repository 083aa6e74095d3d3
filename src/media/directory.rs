//! Where a room's stream comes from: the node its seller publishes to (the
//! room's *origin*), as every node of a deployment sees it.
//!
//! The SFU claims a room's origin when a seller publishes to it, releases it
//! when that seller stops, and reads it to decide whether to relay the room
//! from another node. [`MediaDirectory`] is the seam; [`MemoryDirectory`]
//! serves one process (a single node, or several test nodes sharing one
//! instance), and [`RedisDirectory`](super::RedisDirectory) serves a
//! deployment. Both pass the same contract tests (`tests/cluster/media_directory.rs`).
//!
//! ## Contract (every implementation)
//! - `set_origin(room, node)` makes `node` the origin and returns the room's
//!   new **epoch**, greater than every epoch the room had before, even across
//!   `clear_origin` (in Redis: `INCR` a per-room counter and write the origin
//!   in one atomic step). The newest claim wins: a seller who reconnects to
//!   another node and publishes there takes the room with her.
//! - `origin(room)` answers the current origin and its epoch, or `None`.
//!   Edges call it every `media.relay_poll_ms` while they have viewers, so it
//!   must be one cheap read.
//! - `clear_origin(room, node_id, epoch)` clears the origin only if it is
//!   still `node_id` at `epoch` (compare-and-delete) and says whether it did:
//!   a node whose seller left never clears a newer claim by another node.
//! - Records are small (`NodeAddr` and epoch) and should be tagged by room
//!   (`{room:ID}:media:origin`, `{room:ID}:media:epoch`) so they share the
//!   room's Redis Cluster slot.
//! - When a node is declared dead (its heartbeat expired), whoever declares
//!   it clears its origins with `clear_origin(room, node, epoch)` and, when
//!   that succeeds, announces the stream not live: the SFU itself never
//!   guesses that another node died.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// A node as other nodes reach it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeAddr {
    /// The node's id (unique in the deployment).
    pub id: String,
    /// The base URL of its internal HTTP endpoint, e.g. `http://10.0.0.7:8080`.
    pub url: String,
}

/// A room's origin and the epoch of its claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub node: NodeAddr,
    /// Grows with every claim of the room; edges compare it to notice a new origin.
    pub epoch: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The directory did not answer (Redis down or slow).
    #[error("the media directory is unavailable: {0}")]
    Unavailable(String),
}

/// Where rooms' origins are recorded. See the module documentation for the
/// contract every implementation keeps.
#[async_trait::async_trait]
pub trait MediaDirectory: Send + Sync + 'static {
    /// The room's origin, if some node publishes it.
    async fn origin(&self, room_id: &str) -> Result<Option<Origin>, DirectoryError>;

    /// `node` now publishes the room; the claim's epoch.
    async fn set_origin(&self, room_id: &str, node: &NodeAddr) -> Result<u64, DirectoryError>;

    /// Clears the origin if it is still `node_id` at `epoch`; whether it did.
    async fn clear_origin(
        &self,
        room_id: &str,
        node_id: &str,
        epoch: u64,
    ) -> Result<bool, DirectoryError>;
}

/// The directory of one process: a map behind a mutex. Epochs come from one
/// counter for all rooms, so they grow per room even after a room's entry is
/// cleared and removed.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    /// Current origins by room. A short non-async lock: no await under it.
    origins: Mutex<HashMap<String, Origin>>,
    /// The last epoch handed out, in any room.
    epochs: AtomicU64,
}

#[async_trait::async_trait]
impl MediaDirectory for MemoryDirectory {
    async fn origin(&self, room_id: &str) -> Result<Option<Origin>, DirectoryError> {
        Ok(self.origins.lock().get(room_id).cloned())
    }

    async fn set_origin(&self, room_id: &str, node: &NodeAddr) -> Result<u64, DirectoryError> {
        let mut origins = self.origins.lock();
        let epoch = self.epochs.fetch_add(1, Ordering::SeqCst) + 1;
        origins.insert(
            room_id.to_owned(),
            Origin {
                node: node.clone(),
                epoch,
            },
        );
        Ok(epoch)
    }

    async fn clear_origin(
        &self,
        room_id: &str,
        node_id: &str,
        epoch: u64,
    ) -> Result<bool, DirectoryError> {
        let mut origins = self.origins.lock();
        match origins.get(room_id) {
            Some(origin) if origin.node.id == node_id && origin.epoch == epoch => {
                origins.remove(room_id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
