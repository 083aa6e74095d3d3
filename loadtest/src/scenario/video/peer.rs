//! The harness's webrtc-rs peer connections (the publisher's and every
//! viewer's): what a browser would negotiate, VP8 and Opus, the crate's
//! default interceptors (NACK, RTCP reports, TWCC), host candidates on
//! 127.0.0.1 only, and no mDNS socket (these peers never meet a `.local`
//! candidate, and 200 viewers would otherwise hold 200 more sockets).
//!
//! Candidates are gathered before the SDP is sent (no trickle), as the
//! server does too.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState, Registry,
    SettingEngineBuilder,
};

/// How long gathering host candidates on loopback may take.
const GATHERING: Duration = Duration::from_secs(10);

/// Payload types the harness registers (those of Chromium's offers).
const PT_VP8: u8 = 96;
const PT_OPUS: u8 = 111;

pub fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "video/VP8".into(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

pub fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "audio/opus".into(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
        rtcp_feedback: vec![],
    }
}

/// A peer connection and what its handler reports.
pub struct Peer {
    pub pc: Arc<dyn PeerConnection>,
    /// Becomes true when ICE gathering completes.
    gathered: watch::Receiver<bool>,
    /// Remote tracks as they are announced (viewers read them).
    pub tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
}

struct Handler {
    gathered: watch::Sender<bool>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(track);
    }
}

impl Peer {
    pub async fn new() -> anyhow::Result<Peer> {
        let mut engine = MediaEngine::default();
        for (codec, payload_type, kind) in [
            (vp8(), PT_VP8, RtpCodecKind::Video),
            (opus(), PT_OPUS, RtpCodecKind::Audio),
        ] {
            engine
                .register_codec(
                    RTCRtpCodecParameters {
                        rtp_codec: codec,
                        payload_type,
                    },
                    kind,
                )
                .map_err(|e| anyhow!("registering a codec: {e}"))?;
        }
        let registry = register_default_interceptors(Registry::new(), &mut engine)
            .map_err(|e| anyhow!("interceptors: {e}"))?;
        let (gathered, gathered_rx) = watch::channel(false);
        let (tracks, tracks_rx) = mpsc::unbounded_channel();
        let settings = SettingEngineBuilder::new()
            .with_include_loopback_candidate(true)
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .build();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler { gathered, tracks }))
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await
            .map_err(|e| anyhow!("building a peer connection: {e}"))?;
        Ok(Peer {
            pc: Arc::new(pc),
            gathered: gathered_rx,
            tracks: tracks_rx,
        })
    }

    /// The local description once every candidate is in it.
    pub async fn local_sdp(&mut self) -> anyhow::Result<String> {
        tokio::time::timeout(GATHERING, self.gathered.wait_for(|g| *g))
            .await
            .context("ICE gathering did not complete")?
            .context("the peer connection went away while gathering")?;
        Ok(self
            .pc
            .local_description()
            .await
            .context("no local description")?
            .sdp)
    }
}
