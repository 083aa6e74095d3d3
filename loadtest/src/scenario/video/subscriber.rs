//! One harness viewer: a viewer's WebSocket and a webrtc-rs peer that
//! subscribes through the normal signalling (`subscribe` →
//! `subscribe_offer` → `subscribe_answer`) and reads the RTP it gets.
//!
//! Per viewer it keeps: when it subscribed, its first packet and its first
//! keyframe arrived; its video sequence numbers (extended over wraps) and
//! how many packets came, for losses; and, while the harness measures, each
//! video packet's forward delay (arrival − the publisher's stamp).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};

use super::peer::Peer;
use super::publisher::SendClock;
use super::vp8;
use crate::client::{self, Line};
use crate::stats::LatencyRecorder;

/// How long the server may take to answer `subscribe`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// `media_not_live` retries (the stream is starting) and their pause.
const NOT_LIVE_RETRIES: u32 = 40;
const NOT_LIVE_PAUSE: Duration = Duration::from_millis(250);

/// What the harness shares with every viewer's tasks.
#[derive(Clone)]
pub struct Shared {
    /// The publisher's send stamps; `None` when another publisher (a
    /// browser) sends, and delays cannot be known.
    pub clock: Option<Arc<SendClock>>,
    /// Set while a measurement window is open: delays are recorded then.
    pub measuring: Arc<AtomicBool>,
    /// Forward delays of the current window, sharded by viewer.
    pub delays: Arc<LatencyRecorder>,
}

/// Video sequence numbers seen by one viewer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SeqCount {
    /// Extended (wrap-counted) highest sequence number; `None` before any.
    pub highest: Option<i64>,
    /// The first one.
    pub first: Option<i64>,
    /// Packets received (duplicates included).
    pub received: u64,
}

impl SeqCount {
    /// Count packet `seq` (16 bits), extending it next to the highest.
    pub fn add(&mut self, seq: u16) {
        self.received += 1;
        let extended = match self.highest {
            None => i64::from(seq),
            Some(highest) => {
                let delta = seq.wrapping_sub(highest as u16) as i16;
                highest + i64::from(delta)
            }
        };
        self.first.get_or_insert(extended);
        self.highest = Some(self.highest.map_or(extended, |h| h.max(extended)));
    }

    /// Packets missing between `earlier` and now (never negative: a
    /// retransmission that filled a gap counts as received).
    pub fn lost_since(&self, earlier: &SeqCount) -> u64 {
        let (Some(now), Some(then)) = (self.highest, earlier.highest.or(self.first.map(|f| f - 1)))
        else {
            return 0;
        };
        let expected = (now - then).max(0) as u64;
        expected.saturating_sub(self.received - earlier.received)
    }

    /// Packets missing since the first one arrived.
    pub fn lost(&self) -> u64 {
        match (self.first, self.highest) {
            (Some(first), Some(highest)) => {
                ((highest - first + 1).max(0) as u64).saturating_sub(self.received)
            }
            _ => 0,
        }
    }
}

/// What one viewer observed so far.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub subscribed_at: Option<Instant>,
    pub first_packet_at: Option<Instant>,
    pub first_keyframe_at: Option<Instant>,
    pub video: SeqCount,
    pub audio_packets: u64,
    /// Video packets whose sequence number the publisher never stamped.
    pub unmatched: u64,
}

/// A connected viewer; closes when dropped or [`Viewer::close`]d.
pub struct Viewer {
    pc: Arc<dyn PeerConnection>,
    pub observed: Arc<Mutex<Observed>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Viewer {
    /// Join at `url` with viewer number `index` and subscribe.
    pub async fn join(url: &str, index: usize, shared: Shared) -> anyhow::Result<Viewer> {
        let mut line = Line::new(client::connect(url).await.context("a viewer's WebSocket")?);
        let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        line.wait_for_any(&["snapshot"], deadline)
            .await
            .context("a viewer's join")?;
        let observed = Arc::new(Mutex::new(Observed::default()));
        let subscribed_at = Instant::now();
        let offer = subscribe(&mut line, deadline).await?;
        if let Ok(mut o) = observed.lock() {
            o.subscribed_at = Some(subscribed_at);
        }
        let mut peer = Peer::new().await?;
        let description =
            RTCSessionDescription::offer(offer).map_err(|e| anyhow!("the server's offer: {e}"))?;
        peer.pc
            .set_remote_description(description)
            .await
            .map_err(|e| anyhow!("set_remote_description: {e}"))?;
        let answer = peer
            .pc
            .create_answer(None)
            .await
            .map_err(|e| anyhow!("create_answer: {e}"))?;
        peer.pc
            .set_local_description(answer)
            .await
            .map_err(|e| anyhow!("set_local_description: {e}"))?;
        let sdp = peer.local_sdp().await?;
        let frame = json!({"id": "answer", "type": "subscribe_answer", "sdp": sdp});
        if !line.send([frame.to_string()]).await {
            bail!("a viewer's socket ended: {}", line.ended().unwrap_or("?"));
        }
        let mut tracks =
            std::mem::replace(&mut peer.tracks, tokio::sync::mpsc::unbounded_channel().1);
        let mut tasks = vec![tokio::spawn(async move {
            // Read the socket for the viewer's life: pings are answered.
            let far = tokio::time::Instant::now() + Duration::from_secs(24 * 3600);
            while line.next_text(far).await.is_some() {}
        })];
        let sink = observed.clone();
        tasks.push(tokio::spawn(async move {
            let mut readers = Vec::new();
            while let Some(track) = tracks.recv().await {
                readers.push(tokio::spawn(read_track(
                    track,
                    index,
                    sink.clone(),
                    shared.clone(),
                )));
            }
            // The peer connection is gone: so are its tracks.
            for reader in readers {
                reader.abort();
            }
        }));
        Ok(Viewer {
            pc: peer.pc,
            observed,
            tasks,
        })
    }

    pub fn observed(&self) -> Observed {
        self.observed.lock().map(|o| o.clone()).unwrap_or_default()
    }

    pub async fn close(self) {
        for task in &self.tasks {
            task.abort();
        }
        let _ = self.pc.close().await;
    }
}

/// Send `subscribe` until the server offers (it answers `media_not_live`
/// until the publisher's first packet); the offer's SDP.
async fn subscribe(line: &mut Line, deadline: tokio::time::Instant) -> anyhow::Result<String> {
    for attempt in 0..=NOT_LIVE_RETRIES {
        let id = format!("subscribe-{attempt}");
        if !line
            .send([json!({"id": id, "type": "subscribe"}).to_string()])
            .await
        {
            bail!("a viewer's socket ended: {}", line.ended().unwrap_or("?"));
        }
        let answer = loop {
            let Some(text) = line.next_text(deadline).await else {
                bail!(
                    "no answer to subscribe: {}",
                    line.ended().unwrap_or("timed out")
                );
            };
            let frame: Value = serde_json::from_str(&text).context("server sent invalid JSON")?;
            if frame["id"] == id.as_str() {
                break frame;
            }
        };
        match answer["type"].as_str() {
            Some("subscribe_offer") => {
                return answer["sdp"]
                    .as_str()
                    .map(str::to_owned)
                    .context("subscribe_offer without sdp");
            }
            Some("error") if answer["code"] == "media_not_live" => {
                tokio::time::sleep(NOT_LIVE_PAUSE).await;
            }
            _ => bail!("subscribe was refused: {answer}"),
        }
    }
    bail!("the stream was not live after {NOT_LIVE_RETRIES} subscribes")
}

async fn read_track(
    track: Arc<dyn TrackRemote>,
    index: usize,
    sink: Arc<Mutex<Observed>>,
    shared: Shared,
) {
    let video = track.kind().await == RtpCodecKind::Video;
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        let now = Instant::now();
        let Ok(mut o) = sink.lock() else {
            return;
        };
        o.first_packet_at.get_or_insert(now);
        if !video {
            o.audio_packets += 1;
            continue;
        }
        let seq = packet.header.sequence_number;
        o.video.add(seq);
        if o.first_keyframe_at.is_none() && vp8::starts_keyframe(&packet.payload) {
            o.first_keyframe_at = Some(now);
        }
        if let Some(clock) = &shared.clock {
            match clock.since_sent(seq, now) {
                Some(delay) if shared.measuring.load(Ordering::Relaxed) => {
                    shared.delays.record(index, delay);
                }
                Some(_) => {}
                None => o.unmatched += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_in_sequence_numbers_is_a_loss() {
        let mut count = SeqCount::default();
        for seq in [10, 11, 13, 14] {
            count.add(seq);
        }
        assert_eq!(count.lost(), 1);
    }

    #[test]
    fn sequence_numbers_are_extended_across_the_wrap() {
        let mut count = SeqCount::default();
        for seq in [65534, 65535, 0, 1] {
            count.add(seq);
        }
        assert_eq!(count.lost(), 0);
        assert_eq!(count.highest, Some(65537));
    }

    #[test]
    fn a_late_packet_fills_its_gap() {
        let mut count = SeqCount::default();
        for seq in [1, 3, 2] {
            count.add(seq);
        }
        assert_eq!(count.lost(), 0);
    }

    #[test]
    fn losses_are_counted_within_a_window() {
        let mut count = SeqCount::default();
        for seq in [1, 2, 4] {
            count.add(seq);
        }
        let start = count;
        for seq in [5, 7, 8, 10] {
            count.add(seq);
        }
        assert_eq!(count.lost_since(&start), 2, "6 and 9");
        assert_eq!(count.lost(), 3);
    }
}
