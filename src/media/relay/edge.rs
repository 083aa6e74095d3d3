//! The edge's relay connection: an offer to receive the room's audio and
//! video, handed to the origin through the [`RelayTransport`], and the
//! origin's answer applied; the connection then becomes the room's feed here,
//! replacing the previous one (an older relay, or a seller who moved away).
//!
//! Towards the origin it is a subscriber; towards this node's viewers, a
//! publisher: its tracks go through the same ingest as a seller's, so the
//! fan-outs' sequence/timestamp continuity and keyframe requests apply.
//!
//! [`RelayTransport`]: super::RelayTransport

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use webrtc::peer_connection::{RTCPeerConnectionState, RTCSessionDescription};

use super::super::directory::Origin;
use super::super::engine::{build_peer_connection, choose_video_codec, relay_engine, Leg};
use super::super::peer::{PeerHandler, StateHook};
use super::super::publisher::track_sink;
use super::super::room::{next_session_id, Feed, Publisher, RoomMedia, Session};
use super::super::{MediaError, Target};
use super::ClusterLink;

/// Opens a relay from `origin` and makes it the room's feed; whether it did.
pub(crate) async fn open(room: &Arc<RoomMedia>, link: &ClusterLink, origin: &Origin) -> bool {
    match try_open(room, link, origin).await {
        Ok(()) => {
            tracing::info!(room = %room.id, origin = %origin.node.id, epoch = origin.epoch, "relaying from the origin");
            true
        }
        Err(error) => {
            tracing::info!(room = %room.id, origin = %origin.node.id, %error, "could not open a relay");
            false
        }
    }
}

async fn try_open(
    room: &Arc<RoomMedia>,
    link: &ClusterLink,
    origin: &Origin,
) -> Result<(), MediaError> {
    let id = next_session_id();
    let stop = CancellationToken::new();
    // Nobody reads a relay's signals: its candidates are all in the offer.
    let (signals, _) = mpsc::channel(1);
    // Any first packet makes the stream live here; edges never announce.
    let sink = track_sink(room, id, false, false, stop.clone());
    let handler = PeerHandler::new(
        Target::Publish,
        signals,
        Some(sink),
        Some(state_hook(Arc::downgrade(room), id)),
    );
    let pc = build_peer_connection(
        &room.config,
        &room.ports,
        relay_engine()?,
        handler.clone(),
        Leg::Relay,
    )
    .await?;
    let session = Session { id, pc, stop };

    let offered = async {
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            let init = RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                ..Default::default()
            };
            session
                .pc
                .add_transceiver_from_kind(kind, Some(init))
                .await
                .map_err(MediaError::webrtc)?;
        }
        let offer = session
            .pc
            .create_offer(None)
            .await
            .map_err(MediaError::webrtc)?;
        session
            .pc
            .set_local_description(offer)
            .await
            .map_err(MediaError::webrtc)?;
        handler.local_sdp(&*session.pc).await
    }
    .await;
    let answer = match offered {
        Ok(offer) => link.transport.open(&origin.node, &room.id, offer).await,
        Err(e) => {
            session.close().await;
            return Err(e);
        }
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            session.close().await;
            return Err(MediaError::Relay(e));
        }
    };
    let description = match RTCSessionDescription::answer(answer.sdp.clone()) {
        Ok(description) => description,
        Err(e) => {
            session.close().await;
            let _ = link
                .transport
                .close(&origin.node, &room.id, answer.relay_id)
                .await;
            return Err(MediaError::invalid_sdp(e));
        }
    };

    // Installed before the answer is applied: media may flow right after,
    // and the ingest of this feed's tracks must find it current.
    let pc = Arc::clone(&session.pc);
    let previous = {
        let mut slot = room.publisher.lock().await;
        // A seller who published here while the relay was being negotiated
        // holds a newer claim than the origin it was meant for: she stays.
        let newer_seller = match slot.as_ref().map(|p| &p.feed) {
            Some(Feed::Seller { epoch, .. }) => epoch.is_none_or(|e| e > origin.epoch),
            _ => false,
        };
        if room.stop.is_cancelled() || newer_seller {
            drop(slot);
            session.close().await;
            let _ = link
                .transport
                .close(&origin.node, &room.id, answer.relay_id)
                .await;
            return Err(MediaError::NotLive);
        }
        room.current_source.store(id, Ordering::SeqCst);
        if let Some(codec) = choose_video_codec(&answer.sdp, None) {
            room.video.set_codec(codec);
        }
        slot.replace(Publisher {
            feed: Feed::Relay {
                origin: origin.clone(),
                relay_id: answer.relay_id,
            },
            session,
        })
    };
    room.edge.opened.fetch_add(1, Ordering::Relaxed);
    if let Some(previous) = previous {
        room.retire_replaced(previous).await;
    }
    if let Err(e) = pc.set_remote_description(description).await {
        room.remove_feed(id).await;
        return Err(MediaError::invalid_sdp(e));
    }
    room.edge.ready.send_replace(true);
    Ok(())
}

/// A failed relay is dropped at once (the stream stops here until the
/// supervisor reconnects); a disconnected one wakes the supervisor, in case
/// the directory already names a new origin.
fn state_hook(room: Weak<RoomMedia>, id: u64) -> StateHook {
    Box::new(move |state| {
        let Some(room) = room.upgrade() else { return };
        match state {
            RTCPeerConnectionState::Failed => {
                tokio::spawn(async move {
                    if room.remove_feed(id).await {
                        tracing::info!(room = %room.id, "relay from the origin failed");
                    }
                    room.edge.wake.notify_one();
                });
            }
            RTCPeerConnectionState::Disconnected => room.edge.wake.notify_one(),
            _ => {}
        }
    })
}
