//! The event handler every SFU peer connection carries, and the SDP hand-off.
//!
//! webrtc 0.21 calls the handler on the connection's driver task, so nothing
//! here may wait: signals go out with `try_send`, and anything slow (closing a
//! failed connection) is spawned. The handler holds no strong reference to the
//! connection or the room: the connection owns the handler, and a reference
//! back would be a cycle that keeps both alive after close (webrtc#906).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription,
};

use super::engine::LiveConnection;
use super::{IceCandidate, MediaError, MediaSignal, Target};

/// How long to wait for host candidates before handing out an SDP anyway;
/// later candidates then trickle out as [`MediaSignal::IceCandidate`].
const GATHER_WAIT: Duration = Duration::from_secs(2);

/// Called with each remote track (publisher connections only).
pub(crate) type TrackSink = Box<dyn Fn(Arc<dyn TrackRemote>) + Send + Sync>;
/// Called on every connection state change (connected, failed, ...).
pub(crate) type StateHook = Box<dyn Fn(RTCPeerConnectionState) + Send + Sync>;

pub(crate) struct PeerHandler {
    /// Which of the participant's connections this is, for signals.
    target: Target,
    /// The participant's signalling queue (bounded, owned by the WebSocket
    /// layer); a full queue drops the signal rather than stall the driver.
    signal_tx: mpsc::Sender<MediaSignal>,
    /// Set once the SDP has been handed out: candidates gathered before are in
    /// it, candidates gathered after must be trickled.
    sdp_delivered: AtomicBool,
    /// Flips to true when ICE gathering completes.
    gathered: watch::Sender<bool>,
    on_track: Option<TrackSink>,
    on_state: Option<StateHook>,
    /// Makes this connection visible in `engine::live_connections()` until
    /// the connection (which owns this handler) is freed.
    _live: LiveConnection,
}

impl PeerHandler {
    pub(crate) fn new(
        target: Target,
        signal_tx: mpsc::Sender<MediaSignal>,
        on_track: Option<TrackSink>,
        on_state: Option<StateHook>,
    ) -> Arc<PeerHandler> {
        Arc::new(PeerHandler {
            target,
            signal_tx,
            sdp_delivered: AtomicBool::new(false),
            gathered: watch::channel(false).0,
            on_track,
            on_state,
            _live: LiveConnection::new(),
        })
    }

    /// Takes the remote `offer` and answers it: the answer SDP, with the
    /// candidates gathered by then ([`local_sdp`](Self::local_sdp)).
    pub(crate) async fn answer(
        &self,
        pc: &dyn PeerConnection,
        offer: RTCSessionDescription,
    ) -> Result<String, MediaError> {
        pc.set_remote_description(offer)
            .await
            .map_err(MediaError::invalid_sdp)?;
        let answer = pc.create_answer(None).await.map_err(MediaError::webrtc)?;
        pc.set_local_description(answer)
            .await
            .map_err(MediaError::webrtc)?;
        self.local_sdp(pc).await
    }

    /// The local description once gathering is done (or after a short wait),
    /// marking it delivered so later candidates are trickled.
    pub(crate) async fn local_sdp(&self, pc: &dyn PeerConnection) -> Result<String, MediaError> {
        let mut gathered = self.gathered.subscribe();
        let _ = tokio::time::timeout(GATHER_WAIT, gathered.wait_for(|done| *done)).await;
        // Mark first: a candidate gathered between the two steps is then both
        // in the SDP and trickled, which is harmless, rather than lost.
        self.sdp_delivered.store(true, Ordering::SeqCst);
        pc.local_description()
            .await
            .map(|desc| desc.sdp)
            .ok_or_else(|| MediaError::WebRtc("no local description".into()))
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PeerHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if !self.sdp_delivered.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(init) = event.candidate.to_json() {
            let candidate = IceCandidate {
                candidate: init.candidate,
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
            };
            let _ = self.signal_tx.try_send(MediaSignal::IceCandidate {
                target: self.target,
                candidate,
            });
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(target = ?self.target, %state, "media connection state");
        if state == RTCPeerConnectionState::Failed {
            let _ = self.signal_tx.try_send(MediaSignal::ConnectionFailed {
                target: self.target,
            });
        }
        if let Some(hook) = &self.on_state {
            hook(state);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if let Some(sink) = &self.on_track {
            sink(track);
        }
    }
}
