//! The synthetic publisher: a seller's WebSocket and a webrtc-rs peer that
//! publishes the generated clip (`media`) through the normal signalling
//! (`publish_offer` → `publish_answer`), paced in real time and looped.
//!
//! It packetizes the frames itself (webrtc-rs's VP8 and Opus payloaders,
//! MTU 1200 as the crate's sample track uses) so it knows each video
//! packet's sequence number, and stamps the moment it hands the packet to
//! its track in a [`SendClock`] the viewers (same process) read: arrival
//! minus that stamp is the forward delay. The SFU keeps the first
//! publisher's sequence numbers (its rewriter's offset is 0 for the first
//! source), so a viewer finds the stamp by the number it received.
//!
//! It ignores keyframe requests: keyframes come every 2 s from the clip.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::CancelFlag;
use anyhow::{anyhow, bail, Context};
use rtc::rtp;
use rtc::rtp::packetizer::Packetizer;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};
use webrtc::rtp_transceiver::RtpSender;

use super::media::{Media, FPS};
use super::peer::{self, Peer};
use crate::client::{self, Line};

/// How long the server may take to answer the offer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// The packetizer's MTU (that of webrtc-rs's sample track).
const MTU: usize = 1200;

/// When each video packet was sent, by sequence number: 65,536 slots of
/// nanoseconds since `epoch` + 1 (0: never sent). Written by the publisher,
/// read by every viewer, without locks. A slot is reused after 65,536
/// packets (≈ 7 min at 1.4 Mbit/s), far longer than any packet takes.
pub struct SendClock {
    epoch: Instant,
    sent: Vec<AtomicU64>,
}

impl Default for SendClock {
    fn default() -> Self {
        SendClock::new()
    }
}

impl SendClock {
    pub fn new() -> SendClock {
        SendClock {
            epoch: Instant::now(),
            sent: (0..=u16::MAX as usize).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn stamp(&self, seq: u16, at: Instant) {
        let ns = at.saturating_duration_since(self.epoch).as_nanos() as u64 + 1;
        self.sent[usize::from(seq)].store(ns, Ordering::Relaxed);
    }

    /// How long ago (at `now`) packet `seq` was sent; `None` if it never was.
    pub fn since_sent(&self, seq: u16, now: Instant) -> Option<Duration> {
        let ns = self.sent[usize::from(seq)].load(Ordering::Relaxed);
        if ns == 0 {
            return None;
        }
        let sent = self.epoch + Duration::from_nanos(ns - 1);
        Some(now.saturating_duration_since(sent))
    }
}

/// The running publisher; stops when dropped or [`Publisher::stop`]ped.
pub struct Publisher {
    pc: Arc<dyn PeerConnection>,
    stop: CancelFlag,
    tasks: Vec<JoinHandle<()>>,
    /// True once the room announced the stream live (`stream_state`).
    pub live: watch::Receiver<bool>,
    /// Video packets sent so far.
    pub video_packets: Arc<AtomicU64>,
}

type Out = (Arc<TrackLocalStaticRTP>, u32, Arc<dyn RtpSender>);

impl Publisher {
    /// Connect as the seller at `url`, publish, and start sending `media`.
    pub async fn start(
        url: &str,
        media: Arc<Media>,
        clock: Arc<SendClock>,
    ) -> anyhow::Result<Publisher> {
        let mut line = Line::new(
            client::connect(url)
                .await
                .context("the publisher's WebSocket")?,
        );
        let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        line.wait_for_any(&["snapshot"], deadline)
            .await
            .context("the publisher's join")?;
        let mut peer = Peer::new().await?;
        let video = add_track(&peer.pc, RtpCodecKind::Video, peer::vp8()).await?;
        let audio = add_track(&peer.pc, RtpCodecKind::Audio, peer::opus()).await?;
        let offer = peer
            .pc
            .create_offer(None)
            .await
            .map_err(|e| anyhow!("create_offer: {e}"))?;
        peer.pc
            .set_local_description(offer)
            .await
            .map_err(|e| anyhow!("set_local_description: {e}"))?;
        let sdp = peer.local_sdp().await?;
        let frame = json!({"id": "publish", "type": "publish_offer", "sdp": sdp});
        if !line.send([frame.to_string()]).await {
            bail!(
                "the publisher's socket ended: {}",
                line.ended().unwrap_or("?")
            );
        }
        let answer = answer_to(&mut line, "publish", deadline).await?;
        if answer["type"] != "publish_answer" {
            bail!("publish_offer was refused: {answer}");
        }
        let answer_sdp = answer["sdp"]
            .as_str()
            .context("publish_answer without sdp")?;
        let description = RTCSessionDescription::answer(answer_sdp.to_owned())
            .map_err(|e| anyhow!("the server's answer: {e}"))?;
        peer.pc
            .set_remote_description(description)
            .await
            .map_err(|e| anyhow!("set_remote_description: {e}"))?;

        let stop = CancelFlag::default();
        let (live_tx, live) = watch::channel(false);
        let video_packets = Arc::new(AtomicU64::new(0));
        let tasks = vec![
            tokio::spawn(watch_room(line, live_tx, stop.clone())),
            tokio::spawn(send_video(
                video,
                media.clone(),
                clock,
                video_packets.clone(),
                stop.clone(),
            )),
            tokio::spawn(send_audio(audio, media, stop.clone())),
        ];
        Ok(Publisher {
            pc: peer.pc,
            stop,
            tasks,
            live,
            video_packets,
        })
    }

    /// Wait until the room says the stream is live.
    pub async fn until_live(&mut self, patience: Duration) -> anyhow::Result<()> {
        tokio::time::timeout(patience, self.live.wait_for(|l| *l))
            .await
            .context("the room never announced the stream live")?
            .context("the publisher's socket ended")?;
        Ok(())
    }

    pub async fn stop(self) {
        self.stop.cancel();
        for task in &self.tasks {
            task.abort();
        }
        let _ = self.pc.close().await;
    }
}

/// The frame answering the request `id` (its answer or an `error`).
async fn answer_to(
    line: &mut Line,
    id: &str,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Value> {
    loop {
        let Some(text) = line.next_text(deadline).await else {
            bail!("no answer to {id}: {}", line.ended().unwrap_or("timed out"));
        };
        let frame: Value = serde_json::from_str(&text).context("server sent invalid JSON")?;
        if frame["id"] == id {
            return Ok(frame);
        }
    }
}

/// Read the seller's socket for the whole run (pings answered) and note
/// when the room announces the stream.
async fn watch_room(mut line: Line, live: watch::Sender<bool>, stop: CancelFlag) {
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(3600);
    while !stop.is_cancelled() {
        let Some(text) = line.next_text(deadline()).await else {
            return;
        };
        if let Ok(frame) = serde_json::from_str::<Value>(&text) {
            if frame["type"] == "stream_state" {
                live.send_replace(frame["live"] == true);
            }
        }
    }
}

async fn add_track(
    pc: &Arc<dyn PeerConnection>,
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
) -> anyhow::Result<Out> {
    let ssrc = rand::random::<u32>();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "loadtest".into(),
        format!("loadtest-{kind}"),
        format!("loadtest-{kind}"),
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
        .map_err(|e| anyhow!("add_track: {e}"))?;
    Ok((track, ssrc, sender))
}

/// The payload type the answer gave the sender's codec, once negotiated.
async fn payload_type(sender: &Arc<dyn RtpSender>, stop: &CancelFlag) -> Option<u8> {
    while !stop.is_cancelled() {
        let negotiated = sender
            .get_parameters()
            .await
            .ok()
            .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type));
        if negotiated.is_some() {
            return negotiated;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn packetizer(codec: &RTCRtpCodec, pt: u8, ssrc: u32) -> anyhow::Result<Box<dyn Packetizer>> {
    let payloader = codec.payloader().map_err(|e| anyhow!("payloader: {e}"))?;
    Ok(Box::new(rtp::packetizer::new_packetizer(
        Instant::now(),
        MTU,
        pt,
        ssrc,
        payloader,
        Box::new(rtp::sequence::new_random_sequencer()),
        codec.clock_rate,
    )))
}

async fn send_video(
    (track, ssrc, sender): Out,
    media: Arc<Media>,
    clock: Arc<SendClock>,
    sent: Arc<AtomicU64>,
    stop: CancelFlag,
) {
    let Some(pt) = payload_type(&sender, &stop).await else {
        return;
    };
    let Ok(mut packetizer) = packetizer(&peer::vp8(), pt, ssrc) else {
        return;
    };
    let samples = 90_000 / FPS;
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / FPS);
    for frame in media.video.iter().cycle() {
        ticker.tick().await;
        if stop.is_cancelled() {
            return;
        }
        let Ok(packets) = packetizer.packetize(Instant::now(), &frame.data, samples) else {
            continue;
        };
        for packet in packets {
            clock.stamp(packet.header.sequence_number, Instant::now());
            if track.write_rtp(packet).await.is_ok() {
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn send_audio((track, ssrc, sender): Out, media: Arc<Media>, stop: CancelFlag) {
    let Some(pt) = payload_type(&sender, &stop).await else {
        return;
    };
    let Ok(mut packetizer) = packetizer(&peer::opus(), pt, ssrc) else {
        return;
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    for packet in media.audio.iter().cycle() {
        ticker.tick().await;
        if stop.is_cancelled() {
            return;
        }
        let Ok(packets) = packetizer.packetize(Instant::now(), &packet.data, packet.samples) else {
            continue;
        };
        for packet in packets {
            let _ = track.write_rtp(packet).await;
        }
    }
}
