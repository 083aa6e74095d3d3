//! A viewer's side: the server offers one audio and one video track, and once
//! the viewer answers, forwards the room's fan-outs into them.
//!
//! The viewer's outgoing tracks belong to the viewer's connection, not to a
//! publisher, so they persist while the seller republishes. Each track has its
//! own SSRC; webrtc 0.21 does not rewrite SSRC or payload type on write (it
//! rejects packets whose SSRC or PT are not this leg's), so the forwarder sets
//! both; header extensions, negotiated on the publisher's leg, were already
//! stripped by the fan-out.
//!
//! A viewer may turn a track down in her answer (the viewer page's data saver
//! answers with the video `inactive`): a track whose negotiated direction does
//! not send is never forwarded, so that viewer costs no video bandwidth at all.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::RTCRtpTransceiverDirection;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState, RTCSessionDescription};
use webrtc::rtp_transceiver::{RtpSender, RtpTransceiver};

use super::engine::{build_peer_connection, is_keyframe_request, media_engine, opus, vp8, Leg};
use super::forward::{KeyframeRequester, ViewerQueue};
use super::peer::{PeerHandler, StateHook};
use super::room::{next_session_id, RoomMedia, Session, Subscriber};
use super::{MediaError, MediaSignal, Target};

/// Builds the viewer's connection and returns the server's offer.
pub(crate) async fn subscribe(
    room: &Arc<RoomMedia>,
    participant: &str,
    signal_tx: mpsc::Sender<MediaSignal>,
) -> Result<String, MediaError> {
    // Live here, or a relay from the origin is negotiated (its media is on
    // its way: the viewer's connection is set up meanwhile).
    if !*room.live.borrow() && !*room.edge.ready.borrow() {
        return Err(MediaError::NotLive);
    }
    let video_codec = room.video.codec().unwrap_or_else(vp8);
    let id = next_session_id();
    let connected = watch::channel(false).0;
    let hook = state_hook(room, participant, id, connected.clone());
    let handler = PeerHandler::new(Target::Subscribe, signal_tx, None, Some(hook));
    let pc = build_peer_connection(
        &room.config,
        &room.ports,
        media_engine(&video_codec)?,
        handler.clone(),
        Leg::Client,
    )
    .await?;
    let session = Session {
        id,
        pc,
        stop: CancellationToken::new(),
    };

    let offered = async {
        for (kind, codec) in [
            (RtpCodecKind::Audio, opus()),
            (RtpCodecKind::Video, video_codec.clone()),
        ] {
            add_outgoing_track(room, &session, kind, codec, connected.subscribe()).await?;
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
    let offer = match offered {
        Ok(offer) => offer,
        Err(e) => {
            session.close().await;
            return Err(e);
        }
    };

    let previous = {
        let mut subscribers = room.subscribers.lock().await;
        if room.stop.is_cancelled() {
            // The room's media closed meanwhile: nothing may be added to it.
            drop(subscribers);
            session.close().await;
            return Err(MediaError::NotLive);
        }
        subscribers.insert(participant.to_owned(), Subscriber { session })
    };
    if let Some(previous) = previous {
        previous.session.close().await;
    }
    Ok(offer)
}

/// Applies the viewer's answer; forwarding starts once the connection is up.
pub(crate) async fn accept_answer(
    room: &RoomMedia,
    participant: &str,
    answer_sdp: String,
) -> Result<(), MediaError> {
    let answer = RTCSessionDescription::answer(answer_sdp).map_err(MediaError::invalid_sdp)?;
    let pc = {
        let subscribers = room.subscribers.lock().await;
        let subscriber = subscribers.get(participant).ok_or(MediaError::NoSession)?;
        Arc::clone(&subscriber.session.pc)
    };
    pc.set_remote_description(answer)
        .await
        .map_err(MediaError::invalid_sdp)
}

/// Starts forwarding when the connection is up (DTLS done, so the first
/// keyframe is not sent into a transport that cannot carry it yet); on
/// failure, removes the viewer if this is still their session.
fn state_hook(
    room: &Arc<RoomMedia>,
    participant: &str,
    id: u64,
    connected: watch::Sender<bool>,
) -> StateHook {
    let room = Arc::downgrade(room);
    let participant = participant.to_owned();
    Box::new(move |state| {
        if state == RTCPeerConnectionState::Connected {
            connected.send_replace(true);
            return;
        }
        if state != RTCPeerConnectionState::Failed {
            return;
        }
        let Some(room) = room.upgrade() else { return };
        let participant = participant.clone();
        tokio::spawn(async move {
            room.remove_subscriber(&participant, Some(id)).await;
        });
    })
}

/// Adds one outgoing track with a fresh SSRC and starts its tasks: the
/// forwarder from the room's fan-out, and for video the relay of the peer's
/// keyframe requests. Used for viewers and for relays served to edges.
pub(crate) async fn add_outgoing_track(
    room: &Arc<RoomMedia>,
    session: &Session,
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
    connected: watch::Receiver<bool>,
) -> Result<(), MediaError> {
    let ssrc = rand::random::<u32>();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("chophien-{}", room.id),
        format!("{kind}-{ssrc}"),
        format!("chophien-{kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: codec.clone(),
            ..Default::default()
        }],
    )));
    let sender = session
        .pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
        .map_err(MediaError::webrtc)?;
    let transceiver = transceiver_of(&*session.pc, &*sender).await;
    let out = Outgoing {
        track: Arc::clone(&track),
        sender,
        transceiver,
        ssrc,
        kind,
        mime: codec.mime_type,
    };
    tokio::spawn(forward(
        Arc::clone(room),
        out,
        connected,
        session.stop.clone(),
    ));
    if kind == RtpCodecKind::Video {
        tokio::spawn(relay_keyframe_requests(
            Arc::clone(&room.keyframes),
            track,
            session.stop.clone(),
        ));
    }
    Ok(())
}

/// One outgoing track of one viewer.
struct Outgoing {
    track: Arc<TrackLocalStaticRTP>,
    /// Read once after negotiation for the payload type this leg agreed on.
    sender: Arc<dyn RtpSender>,
    /// Read once after negotiation for the direction the answer agreed on:
    /// a track the peer answered `inactive` (or `sendonly`) is not forwarded.
    transceiver: Option<Arc<dyn RtpTransceiver>>,
    ssrc: u32,
    kind: RtpCodecKind,
    /// The codec this leg negotiated; packets in any other are not forwarded.
    mime: String,
}

/// Forwards the room's fan-out into one viewer track, from the moment the
/// viewer's connection is up until the session ends. A lagging viewer skips
/// what it missed and gets a keyframe request.
async fn forward(
    room: Arc<RoomMedia>,
    out: Outgoing,
    mut connected: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    tokio::select! {
        _ = stop.cancelled() => return,
        result = connected.wait_for(|up| *up) => if result.is_err() { return },
    }
    let payload_type = match out.sender.get_parameters().await {
        Ok(params) => params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&out.mime))
            .map(|c| c.payload_type),
        Err(_) => None,
    };
    let Some(payload_type) = payload_type else {
        tracing::warn!(room = %room.id, mime = %out.mime, "viewer did not accept the track's codec");
        return;
    };
    if !may_send(out.transceiver.as_deref()).await {
        tracing::debug!(room = %room.id, kind = %out.kind, "viewer turned the track down in its answer");
        return;
    }
    let video = out.kind == RtpCodecKind::Video;
    let fanout = if video { &room.video } else { &room.audio };
    let keyframes = video.then(|| Arc::clone(&room.keyframes));
    let mut queue = ViewerQueue::new(fanout, keyframes);
    if video {
        room.keyframes.request();
    }
    // The source SSRC of the last packet, to re-check the codec on a switch.
    let mut source_ssrc = None;
    let mut codec_matches = true;
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => break,
            received = queue.next() => received,
        };
        let Some(mut packet) = received else { break };
        if source_ssrc != Some(packet.header.ssrc) {
            source_ssrc = Some(packet.header.ssrc);
            codec_matches = fanout
                .codec()
                .is_none_or(|c| c.mime_type.eq_ignore_ascii_case(&out.mime));
        }
        if !codec_matches {
            continue;
        }
        packet.header.ssrc = out.ssrc;
        packet.header.payload_type = payload_type;
        match out.track.write_rtp(packet).await {
            Ok(()) => {
                room.packets_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) if stop.is_cancelled() => break,
            Err(_) => {}
        }
    }
    if queue.skipped() > 0 {
        tracing::info!(room = %room.id, kind = %out.kind, skipped = queue.skipped(), "viewer fell behind during its session");
    }
}

/// The transceiver that carries `sender` (webrtc 0.21 gives no direct link).
async fn transceiver_of(
    pc: &dyn PeerConnection,
    sender: &dyn RtpSender,
) -> Option<Arc<dyn RtpTransceiver>> {
    for transceiver in pc.get_transceivers().await {
        if let Ok(Some(s)) = transceiver.sender().await {
            if s.id() == sender.id() {
                return Some(transceiver);
            }
        }
    }
    None
}

/// Whether the negotiated direction lets this side send. Unknown (no
/// transceiver found, nothing negotiated yet, the connection gone) keeps the
/// old behaviour, forwarding: only an answer that turned sending down stops it.
async fn may_send(transceiver: Option<&dyn RtpTransceiver>) -> bool {
    let Some(transceiver) = transceiver else {
        return true;
    };
    match transceiver.current_direction().await {
        Ok(RTCRtpTransceiverDirection::Unspecified) | Err(_) => true,
        Ok(direction) => direction.has_send(),
    }
}

/// Relays a viewer's PLI/FIR to the room's (rate-limited) keyframe requester.
async fn relay_keyframe_requests(
    keyframes: Arc<KeyframeRequester>,
    track: Arc<TrackLocalStaticRTP>,
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
                    keyframes.request();
                }
            }
            Some(_) => {}
            None => break,
        }
    }
}
