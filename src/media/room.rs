//! One room's media on this node: who feeds it (a local seller, or a relay
//! from the room's origin on another node), its viewers, the relays it
//! serves to other nodes, the two fan-outs, and whether the stream is live.
//!
//! The fan-outs and the keyframe requester outlive feeds on purpose:
//! viewers stay attached to them while the seller reconnects, here or on
//! another node.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{watch, Mutex, Notify};
use tokio_util::sync::CancellationToken;
use webrtc::peer_connection::PeerConnection;

use super::config::MediaConfig;
use super::directory::Origin;
use super::engine::PortCursor;
use super::forward::{Fanout, KeyframeRequester};
use super::relay::ClusterLink;
use super::tap::{SellerStream, TapTrack};

/// Where a room hands its seller's stream starts (the SFU's tap queue, set
/// once by [`Sfu::seller_streams`](super::Sfu::seller_streams); empty: nobody
/// records). Shared by every room of the SFU.
pub(crate) type TapQueue = Arc<std::sync::OnceLock<tokio::sync::mpsc::Sender<SellerStream>>>;

/// A peer connection the SFU owns, with the token that ends its tasks.
pub(crate) struct Session {
    /// Distinguishes this session from earlier ones of the same participant,
    /// so a late failure of a replaced session cannot tear down its successor.
    pub(crate) id: u64,
    pub(crate) pc: Arc<dyn PeerConnection>,
    /// Cancelled on close: ends every task serving this session.
    pub(crate) stop: CancellationToken,
}

impl Session {
    /// Ends the session's tasks and closes the connection.
    pub(crate) async fn close(self) {
        self.stop.cancel();
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "closing a media connection");
        }
    }
}

/// Where the room's stream comes from on this node.
pub(crate) enum Feed {
    /// A seller connected here; `epoch` is this node's claim as the room's
    /// origin (`None` without a cluster, or if the directory did not answer).
    Seller {
        participant: String,
        epoch: Option<u64>,
    },
    /// The origin's stream, relayed from another node.
    Relay { origin: Origin, relay_id: u64 },
}

/// The room's feed and its session.
pub(crate) struct Publisher {
    pub(crate) feed: Feed,
    pub(crate) session: Session,
}

impl Publisher {
    /// Is this `participant`'s own publishing session?
    pub(crate) fn is_seller(&self, participant: &str) -> bool {
        matches!(&self.feed, Feed::Seller { participant: p, .. } if p == participant)
    }
}

/// A viewer's session.
pub(crate) struct Subscriber {
    pub(crate) session: Session,
}

/// A relay this node serves to an edge node (origin side).
pub(crate) struct Relayed {
    pub(crate) session: Session,
}

/// The edge side's bookkeeping (used only with a cluster link).
pub(crate) struct EdgeState {
    /// Whether the relay supervisor task is running for this room.
    pub(crate) running: AtomicBool,
    /// Wakes the supervisor early: a viewer waits, a relay failed.
    pub(crate) wake: Notify,
    /// When a viewer last asked for the stream or left: once no viewer
    /// remains, the relay closes `relay_idle_grace_ms` after this. A short
    /// non-async lock.
    pub(crate) wanted_at: parking_lot::Mutex<Instant>,
    /// True while a relay is installed as the feed (negotiated; its media
    /// may not flow yet). Viewers may subscribe from then on.
    pub(crate) ready: watch::Sender<bool>,
    /// Relays opened for this room so far (tests, metrics).
    pub(crate) opened: AtomicU64,
}

impl EdgeState {
    fn new() -> EdgeState {
        EdgeState {
            running: AtomicBool::new(false),
            wake: Notify::new(),
            wanted_at: parking_lot::Mutex::new(Instant::now()),
            ready: watch::channel(false).0,
            opened: AtomicU64::new(0),
        }
    }

    /// A viewer asked for the stream, or the last one left: restart the grace.
    pub(crate) fn touch(&self) {
        *self.wanted_at.lock() = Instant::now();
    }
}

pub(crate) struct RoomMedia {
    /// The room id, for logs and viewer stream ids.
    pub(crate) id: String,
    /// Shared with the SFU: read for every connection built.
    pub(crate) config: Arc<MediaConfig>,
    /// Shared with the SFU: one port cursor for the whole process.
    pub(crate) ports: Arc<PortCursor>,
    /// This node among others; `None` for a stand-alone SFU.
    pub(crate) cluster: Option<Arc<ClusterLink>>,
    /// Per-track fan-outs; they outlive feeds so viewers survive a republish.
    pub(crate) video: Fanout,
    pub(crate) audio: Fanout,
    /// An `Arc` because viewers' RTCP tasks hold it without holding the room.
    pub(crate) keyframes: Arc<KeyframeRequester>,
    /// Whether media flows into the fan-outs here (from a seller or a relay):
    /// gates `subscribe` and drives `Sfu::stream_state`.
    pub(crate) live: watch::Sender<bool>,
    /// What this node tells the room about its stream: set by a local
    /// seller's media starting and by the origin's claim being released;
    /// never by a relay (edges do not announce). Every send notifies.
    pub(crate) announced: watch::Sender<bool>,
    /// The session whose packets the fan-outs accept (0: none).
    pub(crate) current_source: AtomicU64,
    /// An async lock because replacing a feed closes a connection.
    pub(crate) publisher: Mutex<Option<Publisher>>,
    /// Viewers by participant id.
    pub(crate) subscribers: Mutex<HashMap<String, Subscriber>>,
    /// Relays served to edge nodes, by edge node id (one per edge).
    pub(crate) relays: Mutex<HashMap<String, Relayed>>,
    /// The relay supervisor's state, when this node is an edge.
    pub(crate) edge: EdgeState,
    /// RTP packets written to viewers' and relays' tracks (cost measurements).
    pub(crate) packets_sent: AtomicU64,
    /// Cancelled when the room's media closes: ends the keyframe task and
    /// the relay supervisor.
    pub(crate) stop: CancellationToken,
    /// Where a local seller's stream starts are handed (see `tap`).
    taps: TapQueue,
    /// The local seller's stream as handed to the tap queue: its end signal,
    /// cancelled when her media stops here. `None` while no local seller's
    /// media flows. A short non-async lock.
    seller_stream: parking_lot::Mutex<Option<CancellationToken>>,
}

/// Session ids are unique in the process, so they never repeat across rooms.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_session_id() -> u64 {
    NEXT_SESSION.fetch_add(1, Ordering::Relaxed)
}

impl RoomMedia {
    pub(crate) fn new(
        id: String,
        config: Arc<MediaConfig>,
        ports: Arc<PortCursor>,
        cluster: Option<Arc<ClusterLink>>,
        taps: TapQueue,
    ) -> Arc<RoomMedia> {
        let stop = CancellationToken::new();
        Arc::new(RoomMedia {
            keyframes: KeyframeRequester::start(config.keyframe_min_interval(), stop.clone()),
            video: Fanout::new(config.video_queue_packets),
            audio: Fanout::new(config.audio_queue_packets),
            live: watch::channel(false).0,
            announced: watch::channel(false).0,
            current_source: AtomicU64::new(0),
            publisher: Mutex::new(None),
            subscribers: Mutex::new(HashMap::new()),
            relays: Mutex::new(HashMap::new()),
            edge: EdgeState::new(),
            packets_sent: AtomicU64::new(0),
            stop,
            taps,
            seller_stream: parking_lot::Mutex::new(None),
            id,
            config,
            ports,
            cluster,
        })
    }

    /// Marks the stream live if `source` is still the current feed, and
    /// announces it if the feed is a local seller.
    pub(crate) fn media_started(&self, source: u64, announce: bool) {
        if self.current_source.load(Ordering::SeqCst) == source {
            self.live
                .send_if_modified(|live| !std::mem::replace(live, true));
            if announce {
                self.announced.send_replace(true);
                self.seller_stream_started();
            } else {
                // A relay now feeds the room here: the seller streams to
                // another node, which records her.
                self.seller_stream_ended();
            }
        }
    }

    /// A local seller's media flows: hands a new [`SellerStream`] to the tap
    /// queue, unless one is running (a republish while live continues it).
    fn seller_stream_started(&self) {
        let Some(queue) = self.taps.get() else {
            return;
        };
        let mut current = self.seller_stream.lock();
        if current.is_some() {
            return;
        }
        let ended = self.stop.child_token();
        let audio_codec = self.audio.codec().unwrap_or_else(super::engine::opus);
        let video = self.video.codec().map(|codec| TapTrack {
            codec,
            packets: self.video.subscribe(),
        });
        let stream = SellerStream::new(
            self.id.clone(),
            video,
            TapTrack {
                codec: audio_codec,
                packets: self.audio.subscribe(),
            },
            ended.clone(),
            Arc::clone(&self.keyframes),
        );
        // Never waits: a full queue loses this recording, not the live.
        match queue.try_send(stream) {
            Ok(()) => *current = Some(ended),
            Err(error) => {
                tracing::warn!(room = %self.id, %error, "the recorder did not take the seller's stream");
            }
        }
    }

    /// The local seller's media stopped here: ends her [`SellerStream`].
    fn seller_stream_ended(&self) {
        if let Some(ended) = self.seller_stream.lock().take() {
            ended.cancel();
        }
    }

    /// Detaches the fan-outs from `source` and marks the stream not live here.
    pub(crate) fn source_ended(&self, source: u64) {
        if self
            .current_source
            .compare_exchange(source, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.video.end_source(source);
            self.audio.end_source(source);
            self.keyframes.clear_target();
            self.seller_stream_ended();
            self.edge.ready.send_replace(false);
            self.live
                .send_if_modified(|live| std::mem::replace(live, false));
        }
    }

    /// Closes the feed if it is `participant`'s (or any feed, for `None`).
    pub(crate) async fn remove_publisher(&self, participant: Option<&str>) -> bool {
        let removed = {
            let mut slot = self.publisher.lock().await;
            match slot.as_ref() {
                Some(p) if participant.is_none_or(|who| p.is_seller(who)) => slot.take(),
                _ => None,
            }
        };
        match removed {
            Some(publisher) => {
                self.retire(publisher).await;
                true
            }
            None => false,
        }
    }

    /// Closes the feed if it is still session `source` (a failed connection).
    pub(crate) async fn remove_feed(&self, source: u64) -> bool {
        let removed = {
            let mut slot = self.publisher.lock().await;
            if slot.as_ref().is_some_and(|p| p.session.id == source) {
                slot.take()
            } else {
                None
            }
        };
        match removed {
            Some(publisher) => {
                self.retire(publisher).await;
                true
            }
            None => false,
        }
    }

    /// A feed that ended (nothing replaces it): the stream stops here. A
    /// seller's end releases this node's claim as origin and, if the claim
    /// was still current, announces the stream not live; a relay is closed
    /// at its origin too.
    async fn retire(&self, publisher: Publisher) {
        self.source_ended(publisher.session.id);
        publisher.session.close().await;
        match publisher.feed {
            Feed::Seller { epoch, .. } => self.release_origin(epoch).await,
            Feed::Relay { origin, relay_id } => self.close_relay_at_origin(&origin, relay_id),
        }
    }

    /// A feed replaced by another (a republish, a new origin): closed without
    /// touching the live state or the directory, which the new feed owns.
    pub(crate) async fn retire_replaced(&self, publisher: Publisher) {
        publisher.session.close().await;
        if let Feed::Relay { origin, relay_id } = publisher.feed {
            self.close_relay_at_origin(&origin, relay_id);
        }
    }

    /// Gives up this node's claim as origin; announces "not live" when the
    /// claim was still the room's current one (another node's newer claim
    /// means the stream moved, not stopped).
    async fn release_origin(&self, epoch: Option<u64>) {
        let Some(cluster) = &self.cluster else {
            self.announced.send_replace(false);
            return;
        };
        let Some(epoch) = epoch else {
            // Never recorded (the directory did not answer): nobody else can
            // speak for this stream, so say it stopped.
            self.announced.send_replace(false);
            return;
        };
        match cluster
            .directory
            .clear_origin(&self.id, &cluster.node.id, epoch)
            .await
        {
            Ok(true) => {
                self.announced.send_replace(false);
            }
            Ok(false) => {
                tracing::info!(room = %self.id, "the seller left this node after publishing elsewhere");
            }
            Err(error) => {
                tracing::warn!(room = %self.id, %error, "could not release the room's origin");
            }
        }
    }

    /// Tells the origin a relay is closed, in the background.
    fn close_relay_at_origin(&self, origin: &Origin, relay_id: u64) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let (node, room) = (origin.node.clone(), self.id.clone());
        tokio::spawn(async move {
            if let Err(error) = cluster.transport.close(&node, &room, relay_id).await {
                tracing::debug!(%room, origin = %node.id, %error, "closing a relay at its origin");
            }
        });
    }

    /// Closes a viewer's session (only session `only`, if given).
    pub(crate) async fn remove_subscriber(&self, participant: &str, only: Option<u64>) -> bool {
        let removed = {
            let mut subscribers = self.subscribers.lock().await;
            match subscribers.get(participant) {
                Some(s) if only.is_none_or(|id| s.session.id == id) => {
                    subscribers.remove(participant)
                }
                _ => None,
            }
        };
        match removed {
            Some(subscriber) => {
                self.edge.touch();
                subscriber.session.close().await;
                true
            }
            None => false,
        }
    }

    /// Closes the relay served to `edge` (only session `only`, if given).
    pub(crate) async fn remove_relay(&self, edge: &str, only: Option<u64>) -> bool {
        let removed = {
            let mut relays = self.relays.lock().await;
            match relays.get(edge) {
                Some(r) if only.is_none_or(|id| r.session.id == id) => relays.remove(edge),
                _ => None,
            }
        };
        match removed {
            Some(relay) => {
                tracing::info!(room = %self.id, %edge, "relay to an edge closed");
                relay.session.close().await;
                true
            }
            None => false,
        }
    }

    /// Closes every connection and stops the room's tasks.
    pub(crate) async fn close(&self) {
        self.stop.cancel();
        self.seller_stream_ended();
        self.remove_publisher(None).await;
        let subscribers: Vec<Subscriber> = self
            .subscribers
            .lock()
            .await
            .drain()
            .map(|(_, s)| s)
            .collect();
        for subscriber in subscribers {
            subscriber.session.close().await;
        }
        let relays: Vec<Relayed> = self.relays.lock().await.drain().map(|(_, r)| r).collect();
        for relay in relays {
            relay.session.close().await;
        }
    }
}
