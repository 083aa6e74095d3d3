//! One room's media: its publisher, its viewers, the two fan-outs between
//! them, and whether the stream is live.
//!
//! The fan-outs and the keyframe requester outlive publishers on purpose:
//! viewers stay attached to them while the seller reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, Mutex};
use tokio_util::sync::CancellationToken;
use webrtc::peer_connection::PeerConnection;

use super::config::MediaConfig;
use super::engine::PortCursor;
use super::forward::{Fanout, KeyframeRequester};

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

/// The publishing participant and their session.
pub(crate) struct Publisher {
    pub(crate) participant: String,
    pub(crate) session: Session,
}

/// A viewer's session.
pub(crate) struct Subscriber {
    pub(crate) session: Session,
}

pub(crate) struct RoomMedia {
    /// The room id, for logs and viewer stream ids.
    pub(crate) id: String,
    /// Shared with the SFU: read for every connection built.
    pub(crate) config: Arc<MediaConfig>,
    /// Shared with the SFU: one port cursor for the whole process.
    pub(crate) ports: Arc<PortCursor>,
    /// Per-track fan-outs; they outlive publishers so viewers survive a republish.
    pub(crate) video: Fanout,
    pub(crate) audio: Fanout,
    /// An `Arc` because viewers' RTCP tasks hold it without holding the room.
    pub(crate) keyframes: Arc<KeyframeRequester>,
    /// Whether the seller's media is flowing; rooms watch it for `stream_state`.
    pub(crate) live: watch::Sender<bool>,
    /// The session whose packets the fan-outs accept (0: none).
    pub(crate) current_source: AtomicU64,
    /// An async lock because replacing a publisher closes a connection.
    pub(crate) publisher: Mutex<Option<Publisher>>,
    /// Viewers by participant id.
    pub(crate) subscribers: Mutex<HashMap<String, Subscriber>>,
    /// Cancelled when the room's media closes: ends the keyframe task.
    pub(crate) stop: CancellationToken,
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
    ) -> Arc<RoomMedia> {
        let stop = CancellationToken::new();
        Arc::new(RoomMedia {
            keyframes: KeyframeRequester::start(config.keyframe_min_interval(), stop.clone()),
            video: Fanout::new(config.video_queue_packets),
            audio: Fanout::new(config.audio_queue_packets),
            live: watch::channel(false).0,
            current_source: AtomicU64::new(0),
            publisher: Mutex::new(None),
            subscribers: Mutex::new(HashMap::new()),
            stop,
            id,
            config,
            ports,
        })
    }

    /// Marks the stream live if `source` is still the current publisher.
    pub(crate) fn media_started(&self, source: u64) {
        if self.current_source.load(Ordering::SeqCst) == source {
            self.live
                .send_if_modified(|live| !std::mem::replace(live, true));
        }
    }

    /// Detaches the fan-outs from `source` and marks the stream not live.
    pub(crate) fn source_ended(&self, source: u64) {
        if self
            .current_source
            .compare_exchange(source, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.video.end_source(source);
            self.audio.end_source(source);
            self.keyframes.clear_target();
            self.live
                .send_if_modified(|live| std::mem::replace(live, false));
        }
    }

    /// Closes the publisher if it is `participant` (or anyone, for `None`).
    pub(crate) async fn remove_publisher(&self, participant: Option<&str>) -> bool {
        let removed = {
            let mut slot = self.publisher.lock().await;
            match slot.as_ref() {
                Some(p) if participant.is_none_or(|who| p.participant == who) => slot.take(),
                _ => None,
            }
        };
        match removed {
            Some(publisher) => {
                self.source_ended(publisher.session.id);
                publisher.session.close().await;
                true
            }
            None => false,
        }
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
                subscriber.session.close().await;
                true
            }
            None => false,
        }
    }

    /// Closes every connection and stops the room's tasks.
    pub(crate) async fn close(&self) {
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
        self.stop.cancel();
    }
}
