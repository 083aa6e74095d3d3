//! Building the SFU's peer connections: codecs, interceptors, ICE settings,
//! socket ports, and a live-connection count that proves they are freed.
//!
//! Each connection gets its own `MediaEngine` with exactly the codecs that leg
//! may carry (webrtc 0.21 negotiates from the engine, so a one-codec engine is
//! how the server states its choice), the crate's default interceptors (NACK,
//! RTCP reports, TWCC) with a NACK responder ring of our size, and one of ours:
//! [`KeyframeRequestMarker`], which hands viewers' PLI/FIR to the application
//! so they can be relayed to the seller.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{
    Attribute, Interceptor, NackGeneratorBuilder, NackResponderBuilder, Packet, Slot, StreamInfo,
    TaggedPacket,
};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateType, Registry, SettingEngineBuilder,
};

use super::config::MediaConfig;
use super::MediaError;

pub const MIME_VP8: &str = "video/VP8";
pub const MIME_H264: &str = "video/H264";
pub const MIME_OPUS: &str = "audio/opus";

/// Payload types the server uses when it is the offerer (towards viewers).
const PT_OPUS: u8 = 111;
const PT_VP8: u8 = 96;
const PT_H264: u8 = 102;

fn video_feedback() -> Vec<RTCPFeedback> {
    [
        ("goog-remb", ""),
        ("ccm", "fir"),
        ("nack", ""),
        ("nack", "pli"),
    ]
    .into_iter()
    .map(|(typ, parameter)| RTCPFeedback {
        typ: typ.into(),
        parameter: parameter.into(),
    })
    .collect()
}

/// Opus as browsers send it.
pub fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_OPUS.into(),
        clock_rate: 48000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
        rtcp_feedback: vec![],
    }
}

pub fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_VP8.into(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: video_feedback(),
    }
}

/// H.264 constrained baseline, packetization mode 1: what every browser can
/// decode. `profile` is `42e01f` or `42001f`.
pub fn h264(profile: &str) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_H264.into(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: format!(
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id={profile}"
        ),
        rtcp_feedback: video_feedback(),
    }
}

/// Which video codec to accept from a publisher's offer: the room's current
/// codec if offered (so subscribed viewers keep decoding across a republish),
/// else VP8, else H.264. `None` when the offer has no video we can forward.
pub fn choose_video_codec(offer_sdp: &str, sticky: Option<&RTCRtpCodec>) -> Option<RTCRtpCodec> {
    let offered = |mime: &str| {
        let name = mime.trim_start_matches("video/").to_ascii_lowercase();
        offer_sdp.lines().any(|line| {
            line.strip_prefix("a=rtpmap:")
                .and_then(|rest| rest.split_whitespace().nth(1))
                .is_some_and(|enc| enc.to_ascii_lowercase().starts_with(&format!("{name}/")))
        })
    };
    if let Some(codec) = sticky {
        if offered(&codec.mime_type) {
            return Some(codec.clone());
        }
    }
    if offered(MIME_VP8) {
        Some(vp8())
    } else if offered(MIME_H264) {
        Some(h264("42e01f"))
    } else {
        None
    }
}

/// A media engine with Opus and the given video codec family. For H.264 both
/// baseline profiles are registered so either browser flavour matches.
pub fn media_engine(video: &RTCRtpCodec) -> Result<MediaEngine, MediaError> {
    let mut engine = MediaEngine::default();
    let mut register = |codec: RTCRtpCodec, payload_type: u8, kind: RtpCodecKind| {
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: codec,
                    payload_type,
                },
                kind,
            )
            .map_err(MediaError::webrtc)
    };
    register(opus(), PT_OPUS, RtpCodecKind::Audio)?;
    if video.mime_type.eq_ignore_ascii_case(MIME_H264) {
        register(video.clone(), PT_H264, RtpCodecKind::Video)?;
        for (profile, payload_type) in [("42e01f", PT_H264 + 2), ("42001f", PT_H264 + 4)] {
            let other = h264(profile);
            if other.sdp_fmtp_line != video.sdp_fmtp_line {
                register(other, payload_type, RtpCodecKind::Video)?;
            }
        }
    } else {
        register(video.clone(), PT_VP8, RtpCodecKind::Video)?;
    }
    Ok(engine)
}

/// An edge's engine for its relay from the origin: every codec a room can
/// carry (the origin answers with the room's one video codec).
pub fn relay_engine() -> Result<MediaEngine, MediaError> {
    let mut engine = media_engine(&vp8())?;
    for (profile, payload_type) in [("42e01f", PT_H264), ("42001f", PT_H264 + 4)] {
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: h264(profile),
                    payload_type,
                },
                RtpCodecKind::Video,
            )
            .map_err(MediaError::webrtc)?;
    }
    Ok(engine)
}

/// Which kind of peer a connection faces; relays between servers use their
/// own, shorter ICE timeouts so a dead origin is noticed quickly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// A browser (seller or viewer).
    Client,
    /// Another node of the deployment.
    Relay,
}

/// The crate's default interceptors plus [`KeyframeRequestMarker`], last.
///
/// The defaults are composed here as webrtc-rs 0.21.1's
/// `register_default_interceptors` composes them (NACK responder and
/// generator, simulcast header extensions, TWCC receiver, receiver and sender
/// reports), with one difference: the NACK responder keeps
/// `nack_buffer_packets` sent packets per outgoing video stream instead of
/// 1,024 (a power of two; see [`MediaConfig::nack_buffer_packets`]).
pub fn interceptors(
    engine: &mut MediaEngine,
    nack_buffer_packets: u16,
) -> Result<Registry, MediaError> {
    // `configure_nack`, with the ring size ours.
    for parameter in ["", "pli"] {
        engine.register_feedback(
            RTCPFeedback {
                typ: "nack".into(),
                parameter: parameter.into(),
            },
            RtpCodecKind::Video,
        );
    }
    let registry = Registry::new()
        .with(
            Slot::NackResponder,
            NackResponderBuilder::new()
                .with_size(nack_buffer_packets)
                .build(),
        )
        .with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(engine).map_err(MediaError::webrtc)?;
    let registry = configure_twcc_receiver_only(registry, engine).map_err(MediaError::webrtc)?;
    let registry = configure_rtcp_reports(registry);
    // After every other interceptor, so they have all seen the inbound RTCP.
    Ok(registry.with(Slot::from(14_000), KeyframeRequestMarker::default()))
}

/// Connections built and not yet freed. Every handler carries a
/// [`LiveConnection`]; the peer connection owns its handler, so this count
/// falls only when the whole connection has been dropped (webrtc#906).
static LIVE_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// How many SFU peer connections are still allocated in this process.
pub fn live_connections() -> usize {
    LIVE_CONNECTIONS.load(Ordering::SeqCst)
}

/// Counts one allocated connection for as long as it exists.
#[derive(Debug)]
pub struct LiveConnection(());

impl LiveConnection {
    pub fn new() -> LiveConnection {
        LIVE_CONNECTIONS.fetch_add(1, Ordering::SeqCst);
        LiveConnection(())
    }
}

impl Default for LiveConnection {
    fn default() -> Self {
        LiveConnection::new()
    }
}

impl Drop for LiveConnection {
    fn drop(&mut self) {
        LIVE_CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Picks UDP ports round-robin from the configured range.
#[derive(Debug, Default)]
pub struct PortCursor(AtomicUsize);

impl PortCursor {
    fn next(&self, (min, max): (u16, u16)) -> u16 {
        let span = usize::from(max - min) + 1;
        min + (self.0.fetch_add(1, Ordering::Relaxed) % span) as u16
    }
}

/// Builds one peer connection with the SFU's ICE settings. With a port
/// range, tries successive ports until one binds (a port may be in use).
pub async fn build_peer_connection(
    config: &MediaConfig,
    ports: &PortCursor,
    engine: MediaEngine,
    handler: Arc<dyn PeerConnectionEventHandler>,
    leg: Leg,
) -> Result<Arc<dyn PeerConnection>, MediaError> {
    let attempts = match config.port_range() {
        Some((min, max)) => usize::from(max - min) + 1,
        None => 1,
    }
    .min(64);
    let mut engine = Some(engine);
    let mut last_error = None;
    for _ in 0..attempts {
        let port = config.port_range().map_or(0, |range| ports.next(range));
        let addr = SocketAddr::new(config.bind_ip, port);
        if port != 0 && std::net::UdpSocket::bind(addr).is_err() {
            last_error = Some(MediaError::WebRtc(format!("UDP port {port} is in use")));
            continue;
        }
        let mut media_engine = match engine.take() {
            Some(engine) => engine,
            None => break,
        };
        let registry = interceptors(&mut media_engine, config.nack_buffer_packets)?;
        let (disconnected, failed, keepalive) = match leg {
            Leg::Client => config.ice_timeouts(),
            Leg::Relay => config.relay_ice_timeouts(),
        };
        let mut settings = SettingEngineBuilder::new()
            .with_include_loopback_candidate(config.allow_loopback)
            .with_ice_timeouts(Some(disconnected), Some(failed), Some(keepalive))
            // Browsers hide their host addresses behind mDNS names, so the
            // SFU meets them as peer-reflexive candidates; the default 1 s
            // wait before nominating such a pair (meant to let better pairs
            // turn up) delayed every viewer's first frame by a second.
            .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
            // No mDNS socket (webrtc-rs' default, `QueryOnly`, opens one on
            // :5353 per connection, joined to the multicast group, to
            // resolve browsers' `.local` candidates). A server never shares
            // a link with its viewers' browsers, so such a name cannot be
            // resolved anyway; the browser's checks arrive and the pair is
            // found as peer-reflexive (above). Saves one socket per peer
            // connection, and a LAN's every mDNS packet delivered to each.
            .with_multicast_dns_mode(MulticastDnsMode::Disabled);
        if !config.public_ip.is_empty() {
            settings = settings
                .with_nat_1to1_ips(vec![config.public_ip.clone()], RTCIceCandidateType::Host);
        }
        let built = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media_engine)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(handler.clone())
            .with_udp_addrs(vec![addr])
            .build()
            .await;
        match built {
            Ok(pc) => return Ok(Arc::new(pc)),
            // The engine was consumed; only a port clash is worth retrying, and
            // that was checked above, so give up.
            Err(e) => return Err(MediaError::webrtc(e)),
        }
    }
    Err(last_error.unwrap_or_else(|| MediaError::WebRtc("no UDP port available".into())))
}

/// An interceptor that passes inbound keyframe requests (PLI, FIR) to the
/// application and lets every other inbound RTCP packet stop at the end of
/// the chain, where the other interceptors have already acted on it.
///
/// Inbound RTCP reaches `TrackLocal::poll` only when an interceptor marks it
/// with [`Attribute::DeliverToApplication`]; this is the shape of the crate's
/// `rtcp-processing` example.
#[derive(Default)]
pub struct KeyframeRequestMarker {
    /// Packets on their way in, held until the chain polls them.
    read_queue: VecDeque<TaggedPacket>,
    /// Packets on their way out, passed through untouched.
    write_queue: VecDeque<TaggedPacket>,
}

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestMarker {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let requests: Vec<Box<dyn rtc::rtcp::Packet>> = packets
                .iter()
                .filter(|p| is_keyframe_request(p.as_ref()))
                .cloned()
                .collect();
            if requests.is_empty() {
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_queue.pop_front()
    }
}

impl Interceptor for KeyframeRequestMarker {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LIKE: &str = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n";
    const H264_ONLY: &str = "m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n";

    #[test]
    fn vp8_is_preferred_when_offered() {
        assert_eq!(
            choose_video_codec(CHROME_LIKE, None).unwrap().mime_type,
            MIME_VP8
        );
    }

    #[test]
    fn h264_is_accepted_when_it_is_the_only_video_codec() {
        assert_eq!(
            choose_video_codec(H264_ONLY, None).unwrap().mime_type,
            MIME_H264
        );
    }

    #[test]
    fn the_rooms_current_codec_wins_when_the_new_offer_has_it() {
        let sticky = h264("42e01f");
        assert_eq!(
            choose_video_codec(CHROME_LIKE, Some(&sticky))
                .unwrap()
                .mime_type,
            MIME_H264
        );
    }

    #[test]
    fn an_offer_without_forwardable_video_has_no_codec() {
        assert!(choose_video_codec(
            "m=video 9 UDP/TLS/RTP/SAVPF 98\r\na=rtpmap:98 VP9/90000\r\n",
            None
        )
        .is_none());
    }

    #[test]
    fn the_port_cursor_cycles_through_the_range() {
        let cursor = PortCursor::default();
        let ports: Vec<u16> = (0..4).map(|_| cursor.next((40000, 40002))).collect();
        assert_eq!(ports, [40000, 40001, 40002, 40000]);
    }
}
