//! # The SFU: live video from the seller to every viewer, over WebRTC
//!
//! The server keeps one peer connection per participant and direction: the
//! seller's (publish, receive-only on our side) and each viewer's (subscribe,
//! send-only on our side), plus one per (room, other node) for relays
//! between nodes. RTP from the seller is forwarded, never decoded.
//!
//! This module knows nothing of WebSockets or HTTP. The connection layer
//! calls the [`Sfu`] with SDP and ICE candidates from protocol messages, and
//! relays what the SFU pushes on each participant's [`MediaSignal`] queue.
//!
//! Several nodes can serve one room: the node the seller publishes to is the
//! room's origin ([`MediaDirectory`]), and every other node with viewers of
//! the room relays its stream over one server-to-server connection
//! ([`relay`]). An SFU built with [`Sfu::clustered`] does this; one built
//! with [`Sfu::new`] stands alone.
//!
//! ## Layout
//! - [`config`]: the `[media]` section (ICE servers for browsers, ports, NAT 1:1).
//! - `engine`: codecs, interceptors, ICE settings, socket ports; a live
//!   connection count ([`live_connections`]) that proves connections are freed.
//! - `peer`: the handler every connection carries and the SDP hand-off.
//! - `forward`: fan-out queues, sequence/timestamp continuity, keyframe requests.
//! - `room`: one room's feed, viewers, relays served and live state.
//! - `publisher`, `subscriber`: the two kinds of session a browser has.
//! - [`directory`]: where each room's origin is recorded (the seam, and one
//!   process's map); [`redis_directory`]: the same in Redis, for a deployment.
//! - [`relay`]: one room's stream between nodes (edge and origin sides).
//! - [`tap`]: copies of a local seller's stream for the recorder
//!   ([`Sfu::seller_streams`]).

pub mod config;
pub mod directory;
mod engine;
mod forward;
mod peer;
mod publisher;
pub mod redis_directory;
pub mod relay;
mod room;
mod subscriber;
pub mod tap;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit};

pub use config::{IceServer, MediaConfig};
pub use directory::{DirectoryError, MediaDirectory, MemoryDirectory, NodeAddr, Origin};
pub use engine::{is_keyframe_request, live_connections, KeyframeRequestMarker};
pub use forward::SeqTsRewriter;
pub use redis_directory::{room_media_keys, RedisDirectory};
pub use relay::{ClusterLink, RelayAnswer, RelayError, RelayTransport};

use engine::PortCursor;
use room::{Feed, RoomMedia, TapQueue};
pub use tap::{SellerStream, TapTrack};

/// Which of a participant's two connections a message is about. Serialises as
/// the protocol's `"publish"` / `"subscribe"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Publish,
    Subscribe,
}

/// An ICE candidate in the browser's `RTCIceCandidateInit` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    /// The `candidate:...` attribute line; empty means end of candidates.
    pub candidate: String,
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_mline_index: Option<u16>,
}

/// What the SFU pushes to one participant, outside request/response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSignal {
    /// A server candidate found after the SDP was handed out. Send to the
    /// client as `{"type":"ice_candidate","target":..,"candidate":..}`.
    IceCandidate {
        target: Target,
        candidate: IceCandidate,
    },
    /// The connection failed for good and the SFU dropped it; the client
    /// should publish or subscribe again.
    ConnectionFailed { target: Target },
}

/// Why a media request failed. The service layer's `refusal.rs` gives each
/// variant its stable wire code.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the stream is not live")]
    NotLive,
    #[error("invalid SDP: {0}")]
    InvalidSdp(String),
    #[error("the offer has no video codec the server forwards (VP8 or H.264)")]
    UnsupportedCodec,
    #[error("no media session for this participant")]
    NoSession,
    #[error("invalid ICE candidate: {0}")]
    InvalidCandidate(String),
    #[error("invalid media configuration: {0}")]
    Config(String),
    #[error("media failure: {0}")]
    WebRtc(String),
    #[error("relay between nodes failed: {0}")]
    Relay(RelayError),
}

impl MediaError {
    fn webrtc(e: impl std::fmt::Display) -> MediaError {
        MediaError::WebRtc(e.to_string())
    }

    fn invalid_sdp(e: impl std::fmt::Display) -> MediaError {
        MediaError::InvalidSdp(e.to_string())
    }
}

/// The SFU. Cheap to clone; all clones share the rooms.
#[derive(Clone)]
pub struct Sfu {
    /// Shared state: the WebSocket layer clones the `Sfu` into every connection.
    inner: Arc<SfuInner>,
}

struct SfuInner {
    /// Validated once in `Sfu::new`, shared by every room.
    config: Arc<MediaConfig>,
    /// Round-robin position in the UDP port range, shared by every room.
    ports: Arc<PortCursor>,
    /// Rooms with media state, created on first use, removed by `close_room`.
    rooms: DashMap<String, Arc<RoomMedia>>,
    /// This node's id (a random one for a stand-alone SFU).
    node_id: String,
    /// This node among others; `None` stands alone.
    cluster: Option<Arc<ClusterLink>>,
    /// Where rooms hand their local sellers' stream starts; set once by
    /// [`Sfu::seller_streams`].
    taps: TapQueue,
}

impl Drop for SfuInner {
    /// A dropped peer connection that was never closed keeps its driver task
    /// and sockets alive on the shared runtime, so rooms left open when the
    /// SFU goes away are closed here, in the background.
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for (_, room) in std::mem::take(&mut self.rooms) {
            runtime.spawn(async move { room.close().await });
        }
    }
}

impl Sfu {
    /// A stand-alone SFU: every room's seller publishes to this node.
    pub fn new(config: MediaConfig) -> Result<Sfu, MediaError> {
        let node_id = format!("n-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        Sfu::build(config, node_id, None)
    }

    /// One node of several serving the same rooms: publishing claims the
    /// room's origin in `link.directory`, and viewers of a room published
    /// elsewhere are served through a relay from its origin.
    pub fn clustered(config: MediaConfig, link: ClusterLink) -> Result<Sfu, MediaError> {
        let node_id = link.node.id.clone();
        Sfu::build(config, node_id, Some(Arc::new(link)))
    }

    fn build(
        config: MediaConfig,
        node_id: String,
        cluster: Option<Arc<ClusterLink>>,
    ) -> Result<Sfu, MediaError> {
        config.validate()?;
        Ok(Sfu {
            inner: Arc::new(SfuInner {
                config: Arc::new(config),
                ports: Arc::new(PortCursor::default()),
                rooms: DashMap::new(),
                node_id,
                cluster,
                taps: TapQueue::default(),
            }),
        })
    }

    /// Every stream start of a seller publishing to this node, from now on,
    /// for the recorder: one [`SellerStream`] per start (a republish while
    /// live continues the running one). Only the first call gets the queue;
    /// later calls get `None`. Streams that find the queue full (more than
    /// 64 starts not yet taken) are not recorded; the live is not affected.
    pub fn seller_streams(&self) -> Option<mpsc::Receiver<SellerStream>> {
        let (tx, rx) = mpsc::channel(64);
        self.inner.taps.set(tx).ok().map(|()| rx)
    }

    /// This node's id (in the media directory, and on relays it asks for).
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// Clears `room_id`'s origin if its node is another one and `is_dead`
    /// says it died, so edges stop relaying from it and nobody waits for a
    /// stream that cannot come. `is_dead` is asked only about other nodes'
    /// claims; the SFU never guesses that a node died. Whether the claim
    /// was cleared (compare-and-delete: a newer claim is never touched): the
    /// stream then stopped, and the caller announces it.
    pub async fn clear_dead_origin(
        &self,
        room_id: &str,
        is_dead: impl FnOnce(&str) -> bool,
    ) -> Result<bool, DirectoryError> {
        let Some(cluster) = &self.inner.cluster else {
            return Ok(false);
        };
        match cluster.directory.origin(room_id).await? {
            Some(origin) if origin.node.id != cluster.node.id && is_dead(&origin.node.id) => {
                cluster
                    .directory
                    .clear_origin(room_id, &origin.node.id, origin.epoch)
                    .await
            }
            _ => Ok(false),
        }
    }

    /// STUN/TURN servers for the snapshot's `ice_servers`.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.inner.config.ice_servers
    }

    fn room(&self, room_id: &str) -> Arc<RoomMedia> {
        self.inner
            .rooms
            .entry(room_id.to_owned())
            .or_insert_with(|| {
                RoomMedia::new(
                    room_id.to_owned(),
                    self.inner.config.clone(),
                    self.inner.ports.clone(),
                    self.inner.cluster.clone(),
                    self.inner.taps.clone(),
                )
            })
            .clone()
    }

    fn existing_room(&self, room_id: &str) -> Option<Arc<RoomMedia>> {
        self.inner.rooms.get(room_id).map(|r| r.clone())
    }

    /// Answers a publisher's offer; the participant becomes the room's
    /// publisher, replacing any previous one (viewers stay connected).
    /// The caller checks the participant may publish.
    pub async fn publish(
        &self,
        room_id: &str,
        participant: &str,
        offer_sdp: String,
        signal_tx: mpsc::Sender<MediaSignal>,
    ) -> Result<String, MediaError> {
        publisher::publish(&self.room(room_id), participant, offer_sdp, signal_tx).await
    }

    /// Stops the stream if `participant` is publishing. Viewers keep their
    /// connections and resume when someone publishes again.
    pub async fn unpublish(&self, room_id: &str, participant: &str) {
        if let Some(room) = self.existing_room(room_id) {
            room.remove_publisher(Some(participant)).await;
        }
    }

    /// Creates a viewer connection and returns the server's offer; the client
    /// answers through [`Sfu::subscriber_answer`]. Fails with `NotLive` when
    /// nothing is being published. Resubscribing replaces the old connection.
    ///
    /// In a cluster, a room published on another node is relayed from there:
    /// the first viewer here waits (at most `relay_wait_ms`) for the relay to
    /// be negotiated, and its own connection is set up while the relay's
    /// media starts.
    pub async fn subscribe(
        &self,
        room_id: &str,
        participant: &str,
        signal_tx: mpsc::Sender<MediaSignal>,
    ) -> Result<String, MediaError> {
        let room = match &self.inner.cluster {
            Some(_) => self.room(room_id),
            None => self.existing_room(room_id).ok_or(MediaError::NotLive)?,
        };
        relay::supervisor::want(&room);
        relay::supervisor::await_feed(&room).await?;
        subscriber::subscribe(&room, participant, signal_tx).await
    }

    /// Applies a viewer's answer to the offer from [`Sfu::subscribe`].
    pub async fn subscriber_answer(
        &self,
        room_id: &str,
        participant: &str,
        answer_sdp: String,
    ) -> Result<(), MediaError> {
        let room = self.existing_room(room_id).ok_or(MediaError::NoSession)?;
        subscriber::accept_answer(&room, participant, answer_sdp).await
    }

    /// Adds a client's trickled ICE candidate. An empty candidate (end of
    /// candidates) is accepted and ignored.
    pub async fn add_candidate(
        &self,
        room_id: &str,
        participant: &str,
        target: Target,
        candidate: IceCandidate,
    ) -> Result<(), MediaError> {
        if candidate.candidate.trim().is_empty() {
            return Ok(());
        }
        let room = self.existing_room(room_id).ok_or(MediaError::NoSession)?;
        let pc: Arc<dyn PeerConnection> = match target {
            Target::Publish => {
                let publisher = room.publisher.lock().await;
                match publisher.as_ref() {
                    Some(p) if p.is_seller(participant) => Arc::clone(&p.session.pc),
                    _ => return Err(MediaError::NoSession),
                }
            }
            Target::Subscribe => {
                let subscribers = room.subscribers.lock().await;
                let subscriber = subscribers.get(participant).ok_or(MediaError::NoSession)?;
                Arc::clone(&subscriber.session.pc)
            }
        };
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_mline_index,
            ..Default::default()
        };
        pc.add_ice_candidate(init)
            .await
            .map_err(|e| MediaError::InvalidCandidate(e.to_string()))
    }

    /// Closes every connection of `participant` in the room (they left).
    pub async fn leave(&self, room_id: &str, participant: &str) {
        if let Some(room) = self.existing_room(room_id) {
            room.remove_publisher(Some(participant)).await;
            room.remove_subscriber(participant, None).await;
        }
    }

    /// Closes every connection in the room and forgets it.
    pub async fn close_room(&self, room_id: &str) {
        if let Some((_, room)) = self.inner.rooms.remove(room_id) {
            room.close().await;
        }
    }

    /// Whether the room's media flows on this node (from its seller here,
    /// or relayed from the origin).
    pub fn is_live(&self, room_id: &str) -> bool {
        self.existing_room(room_id)
            .is_some_and(|room| *room.live.borrow())
    }

    /// Live/not-live changes of the room's media on this node (see
    /// [`Sfu::is_live`]). Valid for the room's life (until `close_room`).
    pub fn stream_state(&self, room_id: &str) -> watch::Receiver<bool> {
        self.room(room_id).live.subscribe()
    }

    /// What this node tells the room about its stream, for `stream_state`
    /// events: `true` when a seller's media starts here, `false` when that
    /// seller stops and this node was still the room's origin (not when the
    /// seller moved to another node). Relays never change it, so edges do
    /// not flap the room's state. Every announcement notifies, even a
    /// repeated value. Valid for the room's life (until `close_room`).
    pub fn stream_announcements(&self, room_id: &str) -> watch::Receiver<bool> {
        self.room(room_id).announced.subscribe()
    }

    /// Origin side: answers an edge node's relay offer for the room with the
    /// room's tracks (one relay per edge node; a new one replaces the old).
    /// `NotLive` unless a seller publishes the room on this node.
    pub async fn accept_relay(
        &self,
        room_id: &str,
        edge_node: &str,
        offer_sdp: String,
    ) -> Result<RelayAnswer, MediaError> {
        let room = self.existing_room(room_id).ok_or(MediaError::NotLive)?;
        relay::origin::serve(&room, edge_node, offer_sdp).await
    }

    /// Origin side: closes the relay `relay_id` served to `edge_node`;
    /// whether there was one.
    pub async fn close_relay(&self, room_id: &str, edge_node: &str, relay_id: u64) -> bool {
        match self.existing_room(room_id) {
            Some(room) => room.remove_relay(edge_node, Some(relay_id)).await,
            None => false,
        }
    }

    /// Origin side: relays this node serves for the room (one per edge node).
    pub async fn relays_served(&self, room_id: &str) -> usize {
        match self.existing_room(room_id) {
            Some(room) => room.relays.lock().await.len(),
            None => 0,
        }
    }

    /// Edge side: the node this node relays the room from, if any.
    pub async fn relay_origin(&self, room_id: &str) -> Option<NodeAddr> {
        let room = self.existing_room(room_id)?;
        let publisher = room.publisher.lock().await;
        match publisher.as_ref().map(|p| &p.feed) {
            Some(Feed::Relay { origin, .. }) => Some(origin.node.clone()),
            _ => None,
        }
    }

    /// Edge side: relays this node has opened for the room so far.
    pub fn relays_opened(&self, room_id: &str) -> u64 {
        self.existing_room(room_id)
            .map_or(0, |room| room.edge.opened.load(Ordering::Relaxed))
    }

    /// RTP packets this node has written to the room's viewers and relays.
    pub fn packets_sent(&self, room_id: &str) -> u64 {
        self.existing_room(room_id)
            .map_or(0, |room| room.packets_sent.load(Ordering::Relaxed))
    }

    /// Keyframe requests made for the room (viewer PLI/FIR, joins, lag), before
    /// rate limiting.
    pub fn keyframe_requests_received(&self, room_id: &str) -> u64 {
        self.existing_room(room_id)
            .map_or(0, |room| room.keyframes.requested())
    }

    /// Keyframe requests sent to the room's publisher so far.
    pub fn keyframe_requests_sent(&self, room_id: &str) -> u64 {
        self.existing_room(room_id)
            .map_or(0, |room| room.keyframes.sent())
    }

    /// Viewers with a connection in the room.
    pub async fn subscriber_count(&self, room_id: &str) -> usize {
        match self.existing_room(room_id) {
            Some(room) => room.subscribers.lock().await.len(),
            None => 0,
        }
    }
}
