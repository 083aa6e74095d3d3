//! Real WebRTC clients for the SFU tests, built with webrtc-rs itself: a
//! publisher that sends generated VP8 and Opus RTP, and viewers that count
//! what they receive. Everything runs on loopback.
#![allow(dead_code)]

pub mod chromium;
pub mod nodes;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chophien::media::{is_keyframe_request, KeyframeRequestMarker, MediaConfig, MediaSignal, Sfu};
use parking_lot::Mutex;
use rtc::interceptor::Slot;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceGatheringState,
    RTCSessionDescription, Registry, SettingEngineBuilder,
};

/// A hang guard, not a performance claim.
pub const PATIENCE: Duration = Duration::from_secs(15);

tokio::task_local! {
    /// The runtime the server side of a test runs on, when it is not the
    /// test's own (measurements keep the server's work on threads of its own).
    pub static SERVER_RUNTIME: tokio::runtime::Handle;
}

/// Runs an SFU call on the server's runtime (see [`SERVER_RUNTIME`]): the
/// connections it builds then run there too.
async fn on_server<T: Send + 'static>(
    call: impl std::future::Future<Output = Result<T, chophien::media::MediaError>> + Send + 'static,
) -> T {
    let result = match SERVER_RUNTIME.try_with(|handle| handle.clone()) {
        Ok(handle) => handle.spawn(call).await.expect("the SFU call panicked"),
        Err(_) => call.await,
    };
    result.expect("the SFU call failed")
}

pub fn sfu() -> Sfu {
    Sfu::new(MediaConfig::loopback()).unwrap()
}

pub fn signal_queue() -> (mpsc::Sender<MediaSignal>, mpsc::Receiver<MediaSignal>) {
    mpsc::channel(64)
}

fn codec(mime: &str, clock_rate: u32, channels: u16, fmtp: &str) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime.into(),
        clock_rate,
        channels,
        sdp_fmtp_line: fmtp.into(),
        rtcp_feedback: vec![],
    }
}

pub fn vp8() -> RTCRtpCodec {
    codec("video/VP8", 90000, 0, "")
}

pub fn h264() -> RTCRtpCodec {
    codec(
        "video/H264",
        90000,
        0,
        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    )
}

pub fn opus() -> RTCRtpCodec {
    codec("audio/opus", 48000, 2, "minptime=10;useinbandfec=1")
}

/// Client-side engine: what a browser offers (VP8, H.264, Opus).
fn client_engine() -> MediaEngine {
    let mut engine = MediaEngine::default();
    for (c, pt, kind) in [
        (vp8(), 96, RtpCodecKind::Video),
        (h264(), 102, RtpCodecKind::Video),
        (opus(), 111, RtpCodecKind::Audio),
    ] {
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: c,
                    payload_type: pt,
                },
                kind,
            )
            .unwrap();
    }
    engine
}

struct ClientHandler {
    gathered: watch::Sender<bool>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for ClientHandler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(track);
    }
}

/// A webrtc-rs peer with what a browser offers and webrtc-rs's default
/// interceptors (NACK generator included): its connection, whether it has
/// gathered its candidates, and the tracks it receives.
pub async fn client_pc() -> (
    Arc<dyn PeerConnection>,
    watch::Receiver<bool>,
    mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
) {
    let mut engine = client_engine();
    let registry = register_default_interceptors(Registry::new(), &mut engine).unwrap();
    let registry = registry.with(Slot::from(14_000), KeyframeRequestMarker::default());
    let (gathered, gathered_rx) = watch::channel(false);
    let (tracks, tracks_rx) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(engine)
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_include_loopback_candidate(true)
                .build(),
        )
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(ClientHandler { gathered, tracks }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
        .build()
        .await
        .unwrap();
    (Arc::new(pc), gathered_rx, tracks_rx)
}

async fn local_sdp(pc: &Arc<dyn PeerConnection>, gathered: &mut watch::Receiver<bool>) -> String {
    tokio::time::timeout(PATIENCE, gathered.wait_for(|g| *g))
        .await
        .unwrap()
        .unwrap();
    pc.local_description().await.unwrap().sdp
}

/// A publisher that sends a generated VP8 video stream (30 packets/s) and an
/// Opus stream (50 packets/s), and counts the keyframe requests it receives.
pub struct TestPublisher {
    pub pc: Arc<dyn PeerConnection>,
    pub keyframe_requests: Arc<AtomicU64>,
    pub video_ssrc: u32,
    stop: CancellationToken,
    /// The `ffmpeg` fake camera of [`TestPublisher::start_camera`]; killed
    /// when dropped.
    camera: Option<tokio::process::Child>,
}

impl TestPublisher {
    pub async fn start(sfu: &Sfu, room: &str, participant: &str) -> TestPublisher {
        TestPublisher::start_with(sfu, room, participant, vp8()).await
    }

    /// A publisher whose offer has only `video_codec` for video.
    pub async fn start_with(
        sfu: &Sfu,
        room: &str,
        participant: &str,
        video_codec: RTCRtpCodec,
    ) -> TestPublisher {
        let (pc, mut gathered, _tracks) = client_pc().await;
        let video = add_track(&pc, RtpCodecKind::Video, video_codec).await;
        let audio = add_track(&pc, RtpCodecKind::Audio, opus()).await;
        let offer = pc.create_offer(None).await.unwrap();
        pc.set_local_description(offer).await.unwrap();
        let offer_sdp = local_sdp(&pc, &mut gathered).await;
        let (signal_tx, _signal_rx) = signal_queue();
        let answer = {
            let (sfu, room, who) = (sfu.clone(), room.to_owned(), participant.to_owned());
            on_server(async move { sfu.publish(&room, &who, offer_sdp, signal_tx).await }).await
        };
        pc.set_remote_description(RTCSessionDescription::answer(answer).unwrap())
            .await
            .unwrap();

        let stop = CancellationToken::new();
        let keyframe_requests = Arc::new(AtomicU64::new(0));
        tokio::spawn(count_keyframe_requests(
            video.0.clone(),
            keyframe_requests.clone(),
            stop.clone(),
        ));
        tokio::spawn(send_rtp(video.clone(), 33, 3000, stop.clone()));
        tokio::spawn(send_rtp(audio, 20, 960, stop.clone()));
        TestPublisher {
            pc,
            keyframe_requests,
            video_ssrc: video.1,
            stop,
            camera: None,
        }
    }

    /// A publisher whose media is real: Debian's `ffmpeg` encodes a test
    /// pattern (320×240, 30 fps, VP8 at 300 kbit/s, a keyframe every second)
    /// and a 440 Hz tone (Opus) in real time, and sends the RTP to this
    /// publisher, which writes it to its tracks. Fails if `ffmpeg` is
    /// missing.
    pub async fn start_camera(sfu: &Sfu, room: &str, participant: &str) -> TestPublisher {
        let (pc, mut gathered, _tracks) = client_pc().await;
        let video = add_track(&pc, RtpCodecKind::Video, vp8()).await;
        let audio = add_track(&pc, RtpCodecKind::Audio, opus()).await;
        let offer = pc.create_offer(None).await.unwrap();
        pc.set_local_description(offer).await.unwrap();
        let offer_sdp = local_sdp(&pc, &mut gathered).await;
        let (signal_tx, _signal_rx) = signal_queue();
        let answer = {
            let (sfu, room, who) = (sfu.clone(), room.to_owned(), participant.to_owned());
            on_server(async move { sfu.publish(&room, &who, offer_sdp, signal_tx).await }).await
        };
        pc.set_remote_description(RTCSessionDescription::answer(answer).unwrap())
            .await
            .unwrap();
        let video_in = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let audio_in = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let camera = tokio::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=30"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
            .args(["-map", "0:v", "-c:v", "libvpx", "-deadline", "realtime"])
            .args([
                "-b:v",
                "300k",
                "-g",
                "30",
                "-payload_type",
                "96",
                "-f",
                "rtp",
            ])
            .arg(format!("rtp://{}", video_in.local_addr().unwrap()))
            .args([
                "-map",
                "1:a",
                "-c:a",
                "libopus",
                "-payload_type",
                "111",
                "-f",
                "rtp",
            ])
            .arg(format!("rtp://{}", audio_in.local_addr().unwrap()))
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("Debian's ffmpeg must be installed (apt-get install ffmpeg)");
        let stop = CancellationToken::new();
        let keyframe_requests = Arc::new(AtomicU64::new(0));
        tokio::spawn(count_keyframe_requests(
            video.0.clone(),
            keyframe_requests.clone(),
            stop.clone(),
        ));
        tokio::spawn(relay_rtp(video.clone(), video_in, stop.clone()));
        tokio::spawn(relay_rtp(audio, audio_in, stop.clone()));
        TestPublisher {
            pc,
            keyframe_requests,
            video_ssrc: video.1,
            stop,
            camera: Some(camera),
        }
    }

    pub fn keyframe_requests(&self) -> u64 {
        self.keyframe_requests.load(Ordering::SeqCst)
    }

    pub async fn stop(mut self) {
        if let Some(mut camera) = self.camera.take() {
            let _ = camera.kill().await;
        }
        self.stop.cancel();
        self.pc.close().await.unwrap();
    }
}

type OutTrack = (
    Arc<TrackLocalStaticRTP>,
    u32,
    Arc<dyn webrtc::rtp_transceiver::RtpSender>,
);

async fn add_track(
    pc: &Arc<dyn PeerConnection>,
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
) -> OutTrack {
    let ssrc = rand::random::<u32>();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "test-stream".into(),
        format!("test-{kind}"),
        format!("test-{kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )));
    let sender = pc
        .add_track(track.clone() as Arc<dyn TrackLocal>)
        .await
        .unwrap();
    (track, ssrc, sender)
}

/// What the test publisher sends in every packet: a VP8 payload descriptor
/// and the start of a keyframe header.
pub const PAYLOAD: &[u8] = &[
    0x10, 0x00, 0x9d, 0x01, 0x2a, 0x10, 0x00, 0x10, 0x00, 0x00, 0x00,
];

/// Writes one packet every `period_ms` once the track is negotiated. Video
/// payloads carry a VP8 payload descriptor and a keyframe-looking header; the
/// SFU does not decode, so the bytes need only be plausible.
async fn send_rtp(
    (track, ssrc, sender): OutTrack,
    period_ms: u64,
    ts_step: u32,
    stop: CancellationToken,
) {
    let mut payload_type = None;
    let mut seq: u16 = rand::random();
    let mut ts: u32 = rand::random();
    let mut ticker = tokio::time::interval(Duration::from_millis(period_ms));
    while !stop.is_cancelled() {
        ticker.tick().await;
        if payload_type.is_none() {
            payload_type = sender
                .get_parameters()
                .await
                .ok()
                .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type));
        }
        let Some(pt) = payload_type else { continue };
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker: true,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                ..Default::default()
            },
            payload: bytes::Bytes::from_static(PAYLOAD),
        };
        let _ = track.write_rtp(packet).await;
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(ts_step);
    }
}

/// Writes every RTP packet `socket` receives to the track, with the track's
/// SSRC and negotiated payload type.
async fn relay_rtp(
    (track, ssrc, sender): OutTrack,
    socket: tokio::net::UdpSocket,
    stop: CancellationToken,
) {
    use rtc::shared::marshal::Unmarshal;
    let mut payload_type = None;
    let mut buffer = vec![0u8; 2048];
    loop {
        let n = tokio::select! {
            _ = stop.cancelled() => return,
            received = socket.recv(&mut buffer) => match received {
                Ok(n) => n,
                Err(_) => return,
            },
        };
        if payload_type.is_none() {
            payload_type = sender
                .get_parameters()
                .await
                .ok()
                .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type));
        }
        let Some(pt) = payload_type else { continue };
        let Ok(mut packet) = rtp::Packet::unmarshal(&mut &buffer[..n]) else {
            continue;
        };
        packet.header.payload_type = pt;
        packet.header.ssrc = ssrc;
        let _ = track.write_rtp(packet).await;
    }
}

async fn count_keyframe_requests(
    track: Arc<TrackLocalStaticRTP>,
    count: Arc<AtomicU64>,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => break,
            event = track.poll() => event,
        };
        match event {
            Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
            Some(_) => {}
            None => break,
        }
    }
}

/// What one viewer received on one track.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub packets: u64,
    pub ssrc: u32,
    pub first_at: Option<Instant>,
    /// Every sequence number, in arrival order.
    pub seqs: Vec<u16>,
    pub payload_types: Vec<u8>,
    /// The payload of the first packet, as it arrived.
    pub first_payload: Vec<u8>,
    /// The codec the track was negotiated with.
    pub mime: String,
}

/// A viewer that subscribes through the SFU and records what arrives.
pub struct TestViewer {
    pub pc: Arc<dyn PeerConnection>,
    pub video: Arc<Mutex<Received>>,
    pub audio: Arc<Mutex<Received>>,
    /// Remote tracks announced (stays 2 across a republish).
    pub tracks_seen: Arc<AtomicU64>,
    video_track: Arc<Mutex<Option<Arc<dyn TrackRemote>>>>,
    pub subscribed_at: Instant,
}

impl TestViewer {
    pub async fn join(sfu: &Sfu, room: &str, participant: &str) -> TestViewer {
        let (signal_tx, _signal_rx) = signal_queue();
        TestViewer::join_with(sfu, room, participant, signal_tx).await
    }

    /// Joins answering with the video `inactive`, as the viewer page's data
    /// saver does: sound only.
    pub async fn join_audio_only(sfu: &Sfu, room: &str, participant: &str) -> TestViewer {
        let (signal_tx, _signal_rx) = signal_queue();
        TestViewer::join_answering(sfu, room, participant, signal_tx, true).await
    }

    /// Joins with the caller's signal queue, to observe what the SFU pushes.
    pub async fn join_with(
        sfu: &Sfu,
        room: &str,
        participant: &str,
        signal_tx: mpsc::Sender<MediaSignal>,
    ) -> TestViewer {
        TestViewer::join_answering(sfu, room, participant, signal_tx, false).await
    }

    async fn join_answering(
        sfu: &Sfu,
        room: &str,
        participant: &str,
        signal_tx: mpsc::Sender<MediaSignal>,
        video_inactive: bool,
    ) -> TestViewer {
        let subscribed_at = Instant::now();
        let offer = {
            let (sfu, room, who) = (sfu.clone(), room.to_owned(), participant.to_owned());
            on_server(async move { sfu.subscribe(&room, &who, signal_tx).await }).await
        };
        let (pc, mut gathered, mut tracks) = client_pc().await;
        pc.set_remote_description(RTCSessionDescription::offer(offer).unwrap())
            .await
            .unwrap();
        let answer = pc.create_answer(None).await.unwrap();
        pc.set_local_description(answer).await.unwrap();
        let mut answer_sdp = local_sdp(&pc, &mut gathered).await;
        if video_inactive {
            answer_sdp = video_inactive_in(&answer_sdp);
        }
        {
            let (sfu, room, who) = (sfu.clone(), room.to_owned(), participant.to_owned());
            on_server(async move { sfu.subscriber_answer(&room, &who, answer_sdp).await }).await;
        }

        let viewer = TestViewer {
            pc,
            video: Arc::default(),
            audio: Arc::default(),
            tracks_seen: Arc::default(),
            video_track: Arc::default(),
            subscribed_at,
        };
        let (video, audio, seen, video_track) = (
            viewer.video.clone(),
            viewer.audio.clone(),
            viewer.tracks_seen.clone(),
            viewer.video_track.clone(),
        );
        tokio::spawn(async move {
            while let Some(track) = tracks.recv().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let video_kind = track.kind().await == RtpCodecKind::Video;
                if video_kind {
                    *video_track.lock() = Some(track.clone());
                }
                let sink = if video_kind {
                    video.clone()
                } else {
                    audio.clone()
                };
                tokio::spawn(async move {
                    if let Some(ssrc) = track.ssrcs().await.first().copied() {
                        if let Some(codec) = track.codec(ssrc).await {
                            sink.lock().mime = codec.mime_type;
                        }
                    }
                    while let Some(event) = track.poll().await {
                        if let TrackRemoteEvent::OnRtpPacket(p) = event {
                            let mut r = sink.lock();
                            r.packets += 1;
                            r.ssrc = p.header.ssrc;
                            if r.first_at.is_none() {
                                r.first_at = Some(Instant::now());
                                r.first_payload = p.payload.to_vec();
                            }
                            r.seqs.push(p.header.sequence_number);
                            r.payload_types.push(p.header.payload_type);
                        }
                    }
                });
            }
        });
        viewer
    }

    pub fn video(&self) -> Received {
        self.video.lock().clone()
    }

    pub fn audio(&self) -> Received {
        self.audio.lock().clone()
    }

    /// Sends a PLI for the video track, as a decoder that lost sync would.
    pub async fn request_keyframe(&self) {
        let track = self.video_track.lock().clone().expect("video track");
        let ssrc = track.ssrcs().await.first().copied().unwrap();
        track
            .write_rtcp(vec![Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            })])
            .await
            .unwrap();
    }

    pub async fn close(self) {
        self.pc.close().await.unwrap();
    }
}

/// The answer with its video section's direction turned to `inactive` (what
/// a browser answers when the page sets the video transceiver so).
fn video_inactive_in(sdp: &str) -> String {
    let mut in_video = false;
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        if line.starts_with("m=") {
            in_video = line.starts_with("m=video");
        }
        let bare = line.trim_end();
        if in_video && matches!(bare, "a=recvonly" | "a=sendrecv") {
            out.push_str("a=inactive\r\n");
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Polls `check` every 20 ms until it holds; panics after [`PATIENCE`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`eventually`] for checks that must await.
pub async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
