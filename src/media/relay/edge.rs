//! The edge's side of a relay: while a room has viewers on this node and
//! its origin is another node, one peer connection to the origin feeds the
//! room's fan-outs.
//!
//! One supervisor task per room does everything, so there is never more
//! than one relay (or one attempt) per room on this node. It starts when a
//! viewer subscribes, and on each turn (every `relay_poll_ms`, or sooner when
//! woken) reads the room's origin from the directory and compares it with
//! the room's feed here:
//!
//! | directory says \ feed here | none / relay from another node | relay from it | local seller |
//! |---|---|---|---|
//! | no origin | — | close the relay (the stream ended) | claim the origin again |
//! | this node | — | close the relay | — |
//! | another node | open a relay to it (replacing the old one) | keep it | yield to a newer claim: relay instead |
//!
//! A relay whose connection fails is dropped at once and the supervisor
//! woken, so it reconnects (to the same origin, or a new one the directory
//! names). Failed attempts at one claim back off up to a few seconds; a new
//! claim is tried at once. When the room has had
//! no viewer here for `relay_idle_grace_ms`, the relay closes (and the origin
//! is told) and the supervisor ends.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use webrtc::peer_connection::{RTCPeerConnectionState, RTCSessionDescription};

use super::super::directory::Origin;
use super::super::engine::{build_peer_connection, choose_video_codec, relay_engine, Leg};
use super::super::peer::{PeerHandler, StateHook};
use super::super::publisher::{claim_origin, track_sink};
use super::super::room::{next_session_id, Feed, Publisher, RoomMedia, Session};
use super::super::{MediaError, Target};
use super::ClusterLink;

/// The longest pause between two attempts to reach an origin.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A viewer wants the room's stream on this node: make sure the supervisor
/// runs, and wake it.
pub(crate) fn want(room: &Arc<RoomMedia>) {
    let Some(link) = room.cluster.clone() else {
        return;
    };
    room.edge.touch();
    if room
        .edge
        .running
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        tokio::spawn(supervise(Arc::clone(room), link));
    } else {
        room.edge.wake.notify_one();
    }
}

/// Waits until a viewer may subscribe here: the stream is live here, or a
/// relay from the origin is negotiated. `NotLive` when no other node
/// publishes the room, or the relay does not come up within `relay_wait_ms`.
pub(crate) async fn await_feed(room: &RoomMedia) -> Result<(), MediaError> {
    let Some(link) = room.cluster.as_ref() else {
        return Ok(());
    };
    if *room.live.borrow() || *room.edge.ready.borrow() {
        return Ok(());
    }
    let local_seller = room
        .publisher
        .lock()
        .await
        .as_ref()
        .is_some_and(|p| matches!(p.feed, Feed::Seller { .. }));
    if local_seller {
        // Published here, not flowing yet: as on a single node.
        return Err(MediaError::NotLive);
    }
    match link.directory.origin(&room.id).await {
        Ok(Some(origin)) if origin.node.id != link.node.id => {}
        Ok(_) => return Err(MediaError::NotLive),
        Err(error) => {
            tracing::warn!(room = %room.id, %error, "no media directory to find the room's origin");
            return Err(MediaError::NotLive);
        }
    }
    let mut live = room.live.subscribe();
    let mut ready = room.edge.ready.subscribe();
    let fed = async {
        tokio::select! {
            up = live.wait_for(|live| *live) => up.is_ok(),
            up = ready.wait_for(|ready| *ready) => up.is_ok(),
        }
    };
    match tokio::time::timeout(room.config.relay_wait(), fed).await {
        Ok(true) => Ok(()),
        _ => Err(MediaError::NotLive),
    }
}

/// The room's supervisor: see the module documentation.
async fn supervise(room: Arc<RoomMedia>, link: Arc<ClusterLink>) {
    let poll = room.config.relay_poll();
    let mut backoff = Backoff::default();
    loop {
        if room.stop.is_cancelled() {
            return;
        }
        if is_idle(&room).await {
            close_relay(&room).await;
            room.edge.running.store(false, Ordering::SeqCst);
            // A viewer may have asked in between: carry on if so, unless a
            // new supervisor already took over.
            let resumed = !is_idle(&room).await
                && room
                    .edge
                    .running
                    .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok();
            if !resumed {
                tracing::debug!(room = %room.id, "relay supervisor idle; ends");
                return;
            }
        }
        step(&room, &link, &mut backoff, poll).await;
        tokio::select! {
            _ = room.stop.cancelled() => return,
            _ = room.edge.wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Failed attempts to reach one origin claim: the next attempt waits twice
/// as long each time, up to [`MAX_BACKOFF`]. A new claim (another node, or
/// a new epoch) is tried at once.
#[derive(Default)]
struct Backoff {
    /// The claim that failed, its failures in a row, and when to try again.
    failed: Option<(Origin, u32, Instant)>,
}

impl Backoff {
    fn allows(&self, origin: &Origin) -> bool {
        match &self.failed {
            Some((failed, _, retry_at)) if failed == origin => Instant::now() >= *retry_at,
            _ => true,
        }
    }

    fn record(&mut self, origin: &Origin, ok: bool, poll: Duration) {
        if ok {
            self.failed = None;
            return;
        }
        let failures = match &self.failed {
            Some((failed, n, _)) if failed == origin => n.saturating_add(1),
            _ => 1,
        };
        let pause = (poll * 2u32.saturating_pow(failures.min(8))).min(MAX_BACKOFF);
        self.failed = Some((origin.clone(), failures, Instant::now() + pause));
    }
}

/// No viewer here, and none asked or left within the grace period.
async fn is_idle(room: &RoomMedia) -> bool {
    room.subscribers.lock().await.is_empty()
        && room.edge.wanted_at.lock().elapsed() >= room.config.relay_idle_grace()
}

/// What feeds the room here, in the terms the supervisor decides on.
enum Current {
    Nothing,
    Seller { epoch: Option<u64> },
    Relay { from: String },
}

async fn current(room: &RoomMedia) -> Current {
    match room.publisher.lock().await.as_ref().map(|p| &p.feed) {
        None => Current::Nothing,
        Some(Feed::Seller { epoch, .. }) => Current::Seller { epoch: *epoch },
        Some(Feed::Relay { origin, .. }) => Current::Relay {
            from: origin.node.id.clone(),
        },
    }
}

/// One look at the directory and the feed, acting on the difference.
async fn step(room: &Arc<RoomMedia>, link: &ClusterLink, backoff: &mut Backoff, poll: Duration) {
    let origin = match link.directory.origin(&room.id).await {
        Ok(origin) => origin,
        Err(error) => {
            tracing::debug!(room = %room.id, %error, "media directory unavailable");
            return;
        }
    };
    let me = link.node.id.as_str();
    let relay_to = match (origin, current(room).await) {
        // The stream ended at the origin, or this node is the origin now
        // (its seller's publish replaces the feed).
        (None, Current::Relay { .. }) => {
            close_relay(room).await;
            None
        }
        (Some(o), Current::Relay { .. }) if o.node.id == me => {
            close_relay(room).await;
            None
        }
        (Some(o), Current::Relay { from }) if from == o.node.id => None,
        (Some(o), Current::Relay { .. } | Current::Nothing) if o.node.id != me => Some(o),
        // The seller published on another node after publishing here: the
        // newest claim wins, as a republish on one node would.
        (Some(o), Current::Seller { epoch: Some(e) }) if o.node.id != me && o.epoch > e => {
            tracing::info!(room = %room.id, origin = %o.node.id, "the seller moved to another node");
            Some(o)
        }
        (Some(o), Current::Seller { .. }) if o.node.id == me => None,
        // A seller publishes here but the directory lost the claim (it was
        // unavailable at publish, or cleared): claim it again.
        (_, Current::Seller { .. }) => {
            reclaim(room).await;
            None
        }
        _ => None,
    };
    if let Some(origin) = relay_to {
        if backoff.allows(&origin) {
            let ok = open(room, link, &origin).await;
            backoff.record(&origin, ok, poll);
        }
    }
}

/// Records this node as origin again for its local seller.
async fn reclaim(room: &RoomMedia) {
    let Some(epoch) = claim_origin(room).await else {
        return;
    };
    let mut slot = room.publisher.lock().await;
    if let Some(Publisher {
        feed: Feed::Seller { epoch: current, .. },
        ..
    }) = slot.as_mut()
    {
        *current = Some(epoch);
        tracing::info!(room = %room.id, epoch, "claimed the room's origin again");
        if *room.live.borrow() {
            room.announced.send_replace(true);
        }
    }
}

/// Closes the relay feeding the room here, if any.
async fn close_relay(room: &RoomMedia) {
    let relay = {
        let slot = room.publisher.lock().await;
        match slot.as_ref() {
            Some(p) if matches!(p.feed, Feed::Relay { .. }) => Some(p.session.id),
            _ => None,
        }
    };
    if let Some(id) = relay {
        if room.remove_feed(id).await {
            tracing::info!(room = %room.id, "relay closed");
        }
    }
}

/// Opens a relay from `origin` and makes it the room's feed; whether it did.
async fn open(room: &Arc<RoomMedia>, link: &ClusterLink, origin: &Origin) -> bool {
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
