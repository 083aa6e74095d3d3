//! Relaying a room's stream between nodes: one server-to-server peer
//! connection per (room, edge node), whatever the number of viewers.
//!
//! The node a seller publishes to is the room's **origin** (recorded in the
//! [`MediaDirectory`]). A node with viewers of a room whose origin is another
//! node is an **edge**: it opens one peer connection to the origin and
//! feeds what arrives into its own fan-outs, exactly as a local seller would.
//! Towards the origin, the relay is one more subscriber (it gets the room's
//! audio and video tracks, and its PLI/FIR reach the seller, rate-limited);
//! towards the edge's viewers, it is the room's publisher, so their
//! sequence/timestamp continuity, lag handling and keyframe requests work
//! unchanged — including when the relay is replaced by one to a new origin.
//!
//! - `supervisor`: the edge side's decisions: a per-room task that follows the
//!   directory and keeps at most one relay open while the room has viewers here.
//! - `edge`: the edge side's connection: offer, answer, install as the feed.
//! - `origin`: the origin side: answering a relay offer with the room's tracks.
//!
//! The edge reaches the origin through a [`RelayTransport`] (the service
//! layer's implementation is HTTP with node tokens, `server/relay/`), so this
//! module knows nothing of HTTP.

pub(crate) mod edge;
pub(crate) mod origin;
pub(crate) mod supervisor;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::directory::{MediaDirectory, NodeAddr};

/// The origin's answer to an edge's relay offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayAnswer {
    /// The origin's SDP answer (all of its host candidates included).
    pub sdp: String,
    /// Names this relay on the origin, to close it.
    pub relay_id: u64,
}

/// Why a relay could not be opened or closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The node asked is not (or no longer) publishing the room.
    #[error("that node does not publish the room")]
    NotOrigin,
    /// The origin answered with an error.
    #[error("the origin refused the relay: {0}")]
    Refused(String),
    /// The origin could not be reached or did not answer in time.
    #[error("the origin could not be reached: {0}")]
    Unreachable(String),
}

/// How an edge asks an origin for a relay.
#[async_trait::async_trait]
pub trait RelayTransport: Send + Sync + 'static {
    /// Hands the edge's offer to `origin` for `room_id`; the origin's answer.
    async fn open(
        &self,
        origin: &NodeAddr,
        room_id: &str,
        offer_sdp: String,
    ) -> Result<RelayAnswer, RelayError>;

    /// Tells `origin` the relay is no longer needed (best effort: the origin
    /// also drops it when its connection fails).
    async fn close(
        &self,
        origin: &NodeAddr,
        room_id: &str,
        relay_id: u64,
    ) -> Result<(), RelayError>;
}

/// What makes an SFU one node among others.
#[derive(Clone)]
pub struct ClusterLink {
    /// This node, as others reach it.
    pub node: NodeAddr,
    /// Where rooms' origins are recorded; shared by every node.
    pub directory: Arc<dyn MediaDirectory>,
    /// How this node asks origins for relays.
    pub transport: Arc<dyn RelayTransport>,
}
