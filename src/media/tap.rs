//! Copies of a local seller's stream for whoever records it.
//!
//! When a seller's media starts on this node (not a relay's: the origin
//! records, edges do not), the room hands a [`SellerStream`] to the SFU's tap
//! queue ([`Sfu::seller_streams`](super::Sfu::seller_streams)). It reads the
//! room's fan-outs like one more viewer: a bounded broadcast receiver per
//! track, so a slow recorder lags and skips on its own queue and never holds
//! back the seller or the viewers. The packets are the fan-outs' own, after
//! renumbering: a republish while live (camera switch, page reload) continues
//! the same numbering and the same recording; a stop ends the stream
//! ([`SellerStream::ended`]) and the next start is a new one.

use std::sync::Arc;

use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::forward::KeyframeRequester;

/// One stream start of a local seller, from its first packet until she stops,
/// fails, moves to another node or the room closes.
pub struct SellerStream {
    /// The room the stream belongs to.
    pub room_id: String,
    /// The video track, if the seller sends video.
    pub video: Option<TapTrack>,
    /// The audio track (Opus).
    pub audio: TapTrack,
    /// Cancelled when the stream stops.
    ended: CancellationToken,
    /// The room's requester: a recording starts on a keyframe. Rate-limited
    /// like every other request, so a recorder cannot flood the seller.
    keyframes: Arc<KeyframeRequester>,
}

/// One track of a [`SellerStream`].
pub struct TapTrack {
    /// The codec the seller's packets are in (mime type, clock rate,
    /// channels, fmtp line).
    pub codec: RTCRtpCodec,
    /// The fan-out's packets, from the moment the stream started. A receiver
    /// that falls behind gets `Lagged(n)`: those packets are lost to it only.
    pub packets: broadcast::Receiver<rtp::Packet>,
}

impl SellerStream {
    pub(crate) fn new(
        room_id: String,
        video: Option<TapTrack>,
        audio: TapTrack,
        ended: CancellationToken,
        keyframes: Arc<KeyframeRequester>,
    ) -> SellerStream {
        SellerStream {
            room_id,
            video,
            audio,
            ended,
            keyframes,
        }
    }

    /// Resolves when the stream stops (and at once if it already has).
    pub fn ended(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.ended.clone().cancelled_owned()
    }

    /// Whether the stream has stopped.
    pub fn has_ended(&self) -> bool {
        self.ended.is_cancelled()
    }

    /// Asks the seller for a keyframe (at most one per
    /// `media.keyframe_min_interval_ms`, shared with the viewers' requests).
    pub fn request_keyframe(&self) {
        self.keyframes.request();
    }
}
