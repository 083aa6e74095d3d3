//! The seller's side: answer their offer, then pour each received track into
//! the room's fan-out.
//!
//! A new publish replaces the previous feed (same seller after a reload or
//! camera switch, a co-host, or a relay from another node when the seller
//! moves here). The room's fan-outs are switched to the new source before the
//! old connection is closed, so viewers never see a gap longer than the new
//! connection's set-up. In a cluster, publishing makes this node the room's
//! origin in the directory (the newest claim wins).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::RTCPeerConnectionState;
use webrtc::peer_connection::RTCSessionDescription;

use super::engine::{build_peer_connection, choose_video_codec, media_engine, vp8, Leg};
use super::peer::{PeerHandler, StateHook, TrackSink};
use super::room::{next_session_id, Feed, Publisher, RoomMedia, Session};
use super::{MediaError, MediaSignal, Target};

/// Answers `offer_sdp` from `participant` and makes them the room's publisher.
pub(crate) async fn publish(
    room: &Arc<RoomMedia>,
    participant: &str,
    offer_sdp: String,
    signal_tx: mpsc::Sender<MediaSignal>,
) -> Result<String, MediaError> {
    let has_video = offer_sdp.lines().any(|line| line.starts_with("m=video"));
    let video = match choose_video_codec(&offer_sdp, room.video.codec().as_ref()) {
        Some(codec) => codec,
        None if !has_video => vp8(),
        None => return Err(MediaError::UnsupportedCodec),
    };
    let offer = RTCSessionDescription::offer(offer_sdp).map_err(MediaError::invalid_sdp)?;

    let id = next_session_id();
    let stop = CancellationToken::new();
    let handler = PeerHandler::new(
        Target::Publish,
        signal_tx,
        Some(track_sink(room, id, has_video, true, stop.clone())),
        Some(failure_hook(room, id)),
    );
    let pc = build_peer_connection(
        &room.config,
        &room.ports,
        media_engine(&video)?,
        handler.clone(),
        Leg::Client,
    )
    .await?;
    let session = Session { id, pc, stop };

    let negotiated = async { handler.answer(&*session.pc, offer).await }.await;
    let answer = match negotiated {
        Ok(answer) => answer,
        Err(e) => {
            session.close().await;
            return Err(e);
        }
    };

    let epoch = claim_origin(room).await;
    let previous = {
        let mut slot = room.publisher.lock().await;
        if room.stop.is_cancelled() {
            // The room's media closed meanwhile: nothing may be added to it.
            drop(slot);
            session.close().await;
            return Err(MediaError::NotLive);
        }
        room.current_source.store(id, Ordering::SeqCst);
        if has_video {
            // Known now, before the first packet: a viewer subscribing in
            // between must be offered this codec.
            room.video.set_codec(video);
        }
        room.edge.ready.send_replace(false);
        slot.replace(Publisher {
            feed: Feed::Seller {
                participant: participant.to_owned(),
                epoch,
            },
            session,
        })
    };
    if let Some(previous) = previous {
        // The fan-outs already ignore it (current_source moved on); the stream
        // stays live if it was, as the new publisher takes over.
        room.retire_replaced(previous).await;
    }
    Ok(answer)
}

/// Records this node as the room's origin; the claim's epoch, or `None`
/// without a cluster or when the directory does not answer (the stream then
/// still reaches this node's viewers).
pub(crate) async fn claim_origin(room: &RoomMedia) -> Option<u64> {
    let cluster = room.cluster.as_ref()?;
    match cluster.directory.set_origin(&room.id, &cluster.node).await {
        Ok(epoch) => Some(epoch),
        Err(error) => {
            tracing::warn!(room = %room.id, %error, "could not record this node as the room's origin");
            None
        }
    }
}

/// Spawns an ingest task for each track a feed sends (a seller's or a
/// relay's). The stream goes live with the first video packet (the first
/// audio one if there is no video); `announce` says whether that is news for
/// the room (a local seller) or not (a relay: the origin announces).
pub(crate) fn track_sink(
    room: &Arc<RoomMedia>,
    source: u64,
    has_video: bool,
    announce: bool,
    stop: CancellationToken,
) -> TrackSink {
    let room = Arc::downgrade(room);
    Box::new(move |track| {
        if let Some(room) = room.upgrade() {
            let feed = Ingest {
                source,
                has_video,
                announce,
            };
            tokio::spawn(ingest(room, feed, track, stop.clone()));
        }
    })
}

/// On failure, removes the publisher if it is still this session.
fn failure_hook(room: &Arc<RoomMedia>, source: u64) -> StateHook {
    let room = Arc::downgrade(room);
    Box::new(move |state| {
        if state != RTCPeerConnectionState::Failed {
            return;
        }
        let Some(room) = room.upgrade() else { return };
        tokio::spawn(async move {
            if room.remove_feed(source).await {
                tracing::info!(room = %room.id, "publisher connection failed");
            }
        });
    })
}

/// What an ingest task needs to know about its feed.
struct Ingest {
    /// The feed's session id: packets are accepted while it is current.
    source: u64,
    /// Whether the feed sends video (else its audio makes the stream live).
    has_video: bool,
    /// Whether the stream starting is announced to the room.
    announce: bool,
}

/// Reads one publisher track until it ends or the session closes, feeding the
/// room's fan-out.
async fn ingest(
    room: Arc<RoomMedia>,
    feed: Ingest,
    track: Arc<dyn TrackRemote>,
    stop: CancellationToken,
) {
    let source = feed.source;
    let Some(ssrc) = track.ssrcs().await.first().copied() else {
        return;
    };
    let Some(codec) = track.codec(ssrc).await else {
        return;
    };
    let kind = track.kind().await;
    if room.current_source.load(Ordering::SeqCst) != source {
        return;
    }
    tracing::info!(room = %room.id, codec = %codec.mime_type, ssrc, "publisher track");
    let fanout = match kind {
        RtpCodecKind::Video => &room.video,
        RtpCodecKind::Audio => &room.audio,
        _ => return,
    };
    fanout.begin_source(source, codec);
    if kind == RtpCodecKind::Video {
        room.keyframes.set_target(Arc::clone(&track), ssrc);
        // Viewers that stayed through a republish need a picture now.
        room.keyframes.request();
    }
    // Whether this track's first packet makes the stream live.
    let mut starts_stream = kind == RtpCodecKind::Video || !feed.has_video;
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => break,
            event = track.poll() => event,
        };
        match event {
            Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                if starts_stream {
                    starts_stream = false;
                    room.media_started(source, feed.announce);
                }
                fanout.forward(source, packet);
            }
            Some(TrackRemoteEvent::OnEnded) | None => break,
            Some(_) => {}
        }
    }
}
