//! Track fan-out: one publisher track in, one bounded queue per viewer out,
//! and the keyframe requests that flow the other way.
//!
//! A [`Fanout`] lives as long as its room, not its publisher: when the seller
//! republishes (camera switch, page reload) the new source feeds the same
//! fan-out, and [`SeqTsRewriter`] makes the sequence numbers and timestamps
//! continue from where the old source stopped, so viewers' jitter buffers see
//! one continuous stream. Each viewer reads the fan-out through its own
//! `tokio::sync::broadcast` receiver: a slow viewer lags and skips on its own
//! queue and never holds back the publisher or the other viewers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_remote::TrackRemote;

/// Keeps an outgoing RTP stream's sequence numbers and timestamps continuous
/// across a change of source. Pure logic: the caller passes the clock.
#[derive(Debug)]
pub struct SeqTsRewriter {
    /// RTP clock rate of the current source (90 kHz video, 48 kHz Opus).
    clock_rate: u32,
    /// Offsets added to the current source's numbers; `None` until its first
    /// packet, which fixes them.
    offsets: Option<(u16, u32)>,
    /// The newest packet sent so far: where a new source must continue from.
    last: Option<Sent>,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    seq: u16,
    ts: u32,
    at: Instant,
}

impl SeqTsRewriter {
    pub fn new(clock_rate: u32) -> SeqTsRewriter {
        SeqTsRewriter {
            clock_rate: clock_rate.max(1),
            offsets: None,
            last: None,
        }
    }

    /// The next packet comes from a new source with its own numbering.
    pub fn new_source(&mut self, clock_rate: u32) {
        self.clock_rate = clock_rate.max(1);
        self.offsets = None;
    }

    /// Maps a source packet's (sequence number, timestamp) to the outgoing ones.
    pub fn rewrite(&mut self, seq: u16, ts: u32, now: Instant) -> (u16, u32) {
        let (seq_offset, ts_offset) = *self.offsets.get_or_insert_with(|| match self.last {
            None => (0, 0),
            Some(last) => {
                // Continue one packet after the last, and advance the
                // timestamp by the wall time that passed (at least one tick).
                let elapsed = now.saturating_duration_since(last.at);
                let ticks = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000).max(1);
                let next_ts = last.ts.wrapping_add(ticks as u32);
                (
                    last.seq.wrapping_add(1).wrapping_sub(seq),
                    next_ts.wrapping_sub(ts),
                )
            }
        });
        let out = (seq.wrapping_add(seq_offset), ts.wrapping_add(ts_offset));
        // Track the newest packet only: a reordered older one must not pull
        // the continuation point back.
        let newer = self
            .last
            .is_none_or(|last| (out.0.wrapping_sub(last.seq) as i16) > 0);
        if newer {
            self.last = Some(Sent {
                seq: out.0,
                ts: out.1,
                at: now,
            });
        }
        out
    }
}

/// One room track (audio or video) fanned out to every viewer.
pub struct Fanout {
    /// The per-viewer queues: each viewer holds a receiver with this capacity.
    tx: broadcast::Sender<rtp::Packet>,
    /// Source bookkeeping, touched once per packet; a short non-async lock.
    state: Mutex<FanoutState>,
}

struct FanoutState {
    /// Which publisher session feeds the fan-out; packets from any other
    /// (a replaced publisher still draining) are dropped.
    source: u64,
    /// The current source's codec, so a viewer whose leg negotiated another
    /// codec does not get undecodable packets.
    codec: Option<RTCRtpCodec>,
    /// Continuity across sources; one per room track, so all viewers see the
    /// same numbering (and NACKs from any viewer refer to the same packets).
    rewriter: SeqTsRewriter,
}

impl Fanout {
    pub fn new(capacity: usize) -> Fanout {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Fanout {
            tx,
            state: Mutex::new(FanoutState {
                source: 0,
                codec: None,
                rewriter: SeqTsRewriter::new(90000),
            }),
        }
    }

    /// From now on, packets come from publisher session `source` in `codec`.
    pub fn begin_source(&self, source: u64, codec: RTCRtpCodec) {
        let mut state = self.state.lock();
        state.source = source;
        state.rewriter.new_source(codec.clock_rate);
        state.codec = Some(codec);
    }

    /// Announces the codec of the next source before its first packet.
    pub fn set_codec(&self, codec: RTCRtpCodec) {
        self.state.lock().codec = Some(codec);
    }

    /// Stops accepting packets from any source (the publisher left).
    pub fn end_source(&self, source: u64) {
        let mut state = self.state.lock();
        if state.source == source {
            state.source = 0;
        }
    }

    pub fn codec(&self) -> Option<RTCRtpCodec> {
        self.state.lock().codec.clone()
    }

    /// Renumbers a packet from `source`, strips its header extensions and
    /// queues it for every viewer.
    pub fn forward(&self, source: u64, mut packet: rtp::Packet) {
        {
            let mut state = self.state.lock();
            if state.source != source || source == 0 {
                return;
            }
            let (seq, ts) = state.rewriter.rewrite(
                packet.header.sequence_number,
                packet.header.timestamp,
                Instant::now(),
            );
            packet.header.sequence_number = seq;
            packet.header.timestamp = ts;
        }
        // Header extension ids belong to the publisher's leg; no viewer leg
        // can use them. Stripping once here also makes the per-viewer clone
        // allocation-free (an empty Vec).
        packet.header.extension = false;
        packet.header.extension_profile = 0;
        packet.header.extensions.clear();
        packet.header.extensions_padding = 0;
        // No receivers is not an error: nobody is watching yet.
        let _ = self.tx.send(packet);
    }

    /// A new viewer queue, starting with the next packet.
    pub fn subscribe(&self) -> broadcast::Receiver<rtp::Packet> {
        self.tx.subscribe()
    }
}

/// One viewer's bounded queue on a fan-out. Falling behind is not fatal:
/// the viewer skips what it missed, a keyframe is requested so its decoder
/// recovers, and forwarding goes on (the crate's broadcast example stops).
pub struct ViewerQueue {
    /// This viewer's position in the fan-out's ring buffer.
    rx: broadcast::Receiver<rtp::Packet>,
    /// Where to ask for a keyframe after skipping (video queues only).
    keyframes: Option<Arc<KeyframeRequester>>,
    /// Packets skipped so far, for logs.
    skipped: u64,
}

impl ViewerQueue {
    pub fn new(fanout: &Fanout, keyframes: Option<Arc<KeyframeRequester>>) -> ViewerQueue {
        ViewerQueue {
            rx: fanout.subscribe(),
            keyframes,
            skipped: 0,
        }
    }

    /// The next packet, skipping ahead if this viewer fell behind; `None`
    /// once the fan-out is gone.
    pub async fn next(&mut self) -> Option<rtp::Packet> {
        loop {
            match self.rx.recv().await {
                Ok(packet) => return Some(packet),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    self.skipped += n;
                    tracing::debug!(
                        skipped = n,
                        total = self.skipped,
                        "slow viewer skipped packets"
                    );
                    if let Some(keyframes) = &self.keyframes {
                        keyframes.request();
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

/// Sends keyframe requests (PLI) to the publisher's video track, at most one
/// per interval however many viewers ask: requests in between coalesce.
pub struct KeyframeRequester {
    /// The publisher's video track and its SSRC, while one is publishing.
    target: Mutex<Option<(Arc<dyn TrackRemote>, u32)>>,
    /// Wakes the sending task; a `Notify` stores one permit, which is the
    /// coalescing.
    wake: Notify,
    /// PLIs actually sent (for tests and metrics).
    sent: AtomicU64,
    /// Requests received, before rate limiting (for tests and metrics).
    requested: AtomicU64,
}

impl KeyframeRequester {
    /// Starts the sending task; it ends when `stop` is cancelled.
    pub fn start(min_interval: Duration, stop: CancellationToken) -> Arc<KeyframeRequester> {
        let requester = Arc::new(KeyframeRequester {
            target: Mutex::new(None),
            wake: Notify::new(),
            sent: AtomicU64::new(0),
            requested: AtomicU64::new(0),
        });
        let task = Arc::clone(&requester);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = task.wake.notified() => {}
                }
                let target = task.target.lock().clone();
                if let Some((track, media_ssrc)) = target {
                    let pli = PictureLossIndication {
                        sender_ssrc: 0,
                        media_ssrc,
                    };
                    if track.write_rtcp(vec![Box::new(pli)]).await.is_ok() {
                        task.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(min_interval) => {}
                }
            }
            // Release the publisher's track with the room.
            task.target.lock().take();
        });
        requester
    }

    /// Asks for a keyframe soon (rate-limited).
    pub fn request(&self) {
        self.requested.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_one();
    }

    pub fn set_target(&self, track: Arc<dyn TrackRemote>, ssrc: u32) {
        *self.target.lock() = Some((track, ssrc));
    }

    pub fn clear_target(&self) {
        self.target.lock().take();
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn requested(&self) -> u64 {
        self.requested.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_source_passes_through_unchanged() {
        let mut rewriter = SeqTsRewriter::new(90000);
        let now = Instant::now();
        assert_eq!(rewriter.rewrite(1000, 5000, now), (1000, 5000));
        assert_eq!(rewriter.rewrite(1001, 8000, now), (1001, 8000));
    }

    #[test]
    fn a_new_source_continues_the_sequence_and_advances_time_by_the_gap() {
        let mut rewriter = SeqTsRewriter::new(90000);
        let start = Instant::now();
        rewriter.rewrite(65535, 4_294_967_000, start);
        rewriter.new_source(90000);
        let (seq, ts) = rewriter.rewrite(17, 123, start + Duration::from_millis(100));
        assert_eq!(seq, 0, "wraps to the packet after 65535");
        assert_eq!(
            ts,
            4_294_967_000u32.wrapping_add(9000),
            "100 ms at 90 kHz later"
        );
        // The new source's own steps are kept.
        assert_eq!(
            rewriter.rewrite(18, 3123, start + Duration::from_millis(130)),
            (1, ts.wrapping_add(3000))
        );
    }

    #[test]
    fn a_reordered_packet_does_not_move_the_continuation_point() {
        let mut rewriter = SeqTsRewriter::new(48000);
        let now = Instant::now();
        rewriter.rewrite(10, 0, now);
        rewriter.rewrite(12, 1920, now);
        rewriter.rewrite(11, 960, now);
        rewriter.new_source(48000);
        assert_eq!(rewriter.rewrite(500, 0, now).0, 13);
    }

    fn numbered(seq: u16) -> rtp::Packet {
        let mut packet = rtp::Packet::default();
        packet.header.sequence_number = seq;
        packet
    }

    #[tokio::test]
    async fn a_slow_viewer_skips_asks_for_a_keyframe_and_keeps_going_without_holding_back_others() {
        let stop = CancellationToken::new();
        let keyframes = KeyframeRequester::start(Duration::from_millis(500), stop.clone());
        let fanout = Fanout::new(4);
        fanout.begin_source(1, crate::media::engine::vp8());
        let mut fast = ViewerQueue::new(&fanout, Some(keyframes.clone()));
        let mut slow = ViewerQueue::new(&fanout, Some(keyframes.clone()));

        // The fast viewer keeps up; the slow one reads nothing meanwhile.
        for seq in 0..10 {
            fanout.forward(1, numbered(seq));
            assert_eq!(fast.next().await.unwrap().header.sequence_number, seq);
        }
        // The slow viewer resumes at the oldest packet still queued.
        assert_eq!(slow.next().await.unwrap().header.sequence_number, 6);
        assert_eq!(slow.skipped(), 6);
        assert_eq!(keyframes.requested(), 1);
        // And keeps receiving new packets.
        for seq in 7..10 {
            assert_eq!(slow.next().await.unwrap().header.sequence_number, seq);
        }
        fanout.forward(1, numbered(10));
        assert_eq!(slow.next().await.unwrap().header.sequence_number, 10);
        assert_eq!(fast.next().await.unwrap().header.sequence_number, 10);
        stop.cancel();
    }

    #[test]
    fn forwarded_packets_carry_no_header_extensions() {
        let fanout = Fanout::new(8);
        let mut rx = fanout.subscribe();
        fanout.begin_source(1, crate::media::engine::vp8());
        let mut packet = rtp::Packet::default();
        packet
            .header
            .set_extension(3, bytes::Bytes::from_static(&[1, 2]))
            .unwrap();
        fanout.forward(1, packet);
        let header = rx.try_recv().unwrap().header;
        assert!(!header.extension && header.extensions.is_empty());
    }

    #[test]
    fn packets_from_a_replaced_source_are_dropped() {
        let fanout = Fanout::new(8);
        let mut rx = fanout.subscribe();
        fanout.begin_source(1, crate::media::engine::vp8());
        fanout.begin_source(2, crate::media::engine::vp8());
        fanout.forward(1, rtp::Packet::default());
        let mut packet = rtp::Packet::default();
        packet.header.sequence_number = 7;
        fanout.forward(2, packet);
        assert_eq!(rx.try_recv().unwrap().header.sequence_number, 7);
        assert!(rx.try_recv().is_err());
    }
}
