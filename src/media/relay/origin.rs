//! The origin's side of a relay: an edge node's offer is answered with the
//! room's audio and video tracks, like a viewer's, on one connection per
//! edge node.
//!
//! Only a node with a local seller serves relays (no chains: an edge never
//! relays what it relays). A new relay from the same edge replaces the old
//! one. The relay's tracks are fed from the room's fan-outs by the same
//! forwarders viewers have, so a lagging relay skips and asks for a keyframe,
//! and the edge's PLI/FIR reach the seller through the room's rate-limited
//! keyframe requester.

use std::sync::Arc;
use std::time::Duration;

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use webrtc::peer_connection::{RTCPeerConnectionState, RTCSessionDescription};

use super::super::engine::{build_peer_connection, media_engine, opus, vp8, Leg};
use super::super::peer::{PeerHandler, StateHook};
use super::super::room::{next_session_id, Feed, Relayed, RoomMedia, Session};
use super::super::subscriber::add_outgoing_track;
use super::super::{MediaError, Target};
use super::RelayAnswer;

/// A relay not connected by then is dropped (the edge vanished mid-way).
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

/// Answers `edge`'s relay offer with the room's tracks.
pub(crate) async fn serve(
    room: &Arc<RoomMedia>,
    edge: &str,
    offer_sdp: String,
) -> Result<RelayAnswer, MediaError> {
    let offer = RTCSessionDescription::offer(offer_sdp).map_err(MediaError::invalid_sdp)?;
    let has_seller = room
        .publisher
        .lock()
        .await
        .as_ref()
        .is_some_and(|p| matches!(p.feed, Feed::Seller { .. }));
    if !has_seller {
        return Err(MediaError::NotLive);
    }
    let video_codec = room.video.codec().unwrap_or_else(vp8);

    let id = next_session_id();
    let connected = watch::channel(false).0;
    // Nobody reads a relay's signals: its candidates are all in the answer.
    let (signals, _) = mpsc::channel(1);
    let hook = state_hook(room, edge, id, connected.clone());
    let handler = PeerHandler::new(Target::Subscribe, signals, None, Some(hook));
    let pc = build_peer_connection(
        &room.config,
        &room.ports,
        media_engine(&video_codec)?,
        handler.clone(),
        Leg::Relay,
    )
    .await?;
    let session = Session {
        id,
        pc,
        stop: CancellationToken::new(),
    };

    let answered = async {
        // Tracks first, then the offer: its receive-only sections take them
        // (the shape of the crate's broadcast example).
        for (kind, codec) in [
            (RtpCodecKind::Audio, opus()),
            (RtpCodecKind::Video, video_codec.clone()),
        ] {
            add_outgoing_track(room, &session, kind, codec, connected.subscribe()).await?;
        }
        handler.answer(&*session.pc, offer).await
    }
    .await;
    let sdp = match answered {
        Ok(sdp) => sdp,
        Err(e) => {
            session.close().await;
            return Err(e);
        }
    };

    let previous = {
        let mut relays = room.relays.lock().await;
        if room.stop.is_cancelled() {
            drop(relays);
            session.close().await;
            return Err(MediaError::NotLive);
        }
        relays.insert(edge.to_owned(), Relayed { session })
    };
    if let Some(previous) = previous {
        previous.session.close().await;
    }
    tracing::info!(room = %room.id, %edge, relay = id, "serving a relay to an edge");
    tokio::spawn(drop_if_not_connected(
        Arc::downgrade(room),
        edge.to_owned(),
        id,
        connected.subscribe(),
    ));
    Ok(RelayAnswer { sdp, relay_id: id })
}

/// Starts forwarding once connected; removes the relay when its connection
/// fails or closes (the edge or the network died).
fn state_hook(
    room: &Arc<RoomMedia>,
    edge: &str,
    id: u64,
    connected: watch::Sender<bool>,
) -> StateHook {
    let room = Arc::downgrade(room);
    let edge = edge.to_owned();
    Box::new(move |state| match state {
        RTCPeerConnectionState::Connected => {
            connected.send_replace(true);
        }
        RTCPeerConnectionState::Failed => {
            let Some(room) = room.upgrade() else { return };
            let edge = edge.clone();
            tokio::spawn(async move {
                room.remove_relay(&edge, Some(id)).await;
            });
        }
        _ => {}
    })
}

async fn drop_if_not_connected(
    room: std::sync::Weak<RoomMedia>,
    edge: String,
    id: u64,
    mut connected: watch::Receiver<bool>,
) {
    let up = tokio::time::timeout(CONNECT_DEADLINE, connected.wait_for(|up| *up))
        .await
        .is_ok_and(|up| up.is_ok());
    if up {
        return;
    }
    if let Some(room) = room.upgrade() {
        if room.remove_relay(&edge, Some(id)).await {
            tracing::info!(room = %room.id, %edge, "a relay never connected; dropped");
        }
    }
}
