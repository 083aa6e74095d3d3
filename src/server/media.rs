//! WebRTC signalling over the room's WebSocket: authorise, hand the SDP and
//! ICE candidates to the [`Sfu`](crate::media::Sfu), answer the client.
//!
//! Each connection is one SFU participant (its connection id), so a seller
//! with two tabs or a viewer who reloads never collides with itself. The
//! SFU's own signals (trickled candidates, a failed connection) arrive on
//! the connection's bounded media queue and the writer forwards them.
//!
//! The first publish or subscribe in a room on this node starts the room's
//! media watcher: it turns what the SFU announces (a seller's stream started
//! here; it stopped while this node was still the room's origin) into
//! `stream_state` room events, and closes the room's media on this node when
//! the room ends. A node that relays the room from its origin announces
//! nothing, so a relay switching origins never flaps the room's state.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::media::{MediaSignal, Sfu};
use crate::protocol::{DirectEvent, RoomStatus};
use crate::room::{Room, RoomError, RoomFact};

use super::command::MediaCommand;
use super::refusal::Refusal;

/// One connection's handle on the SFU.
pub struct MediaSession<'a> {
    pub sfu: &'a Sfu,
    pub room: &'a Arc<Room>,
    /// The connection id: the SFU participant.
    pub participant: &'a str,
    /// Where the SFU sends this connection's signals.
    pub signals: &'a mpsc::Sender<MediaSignal>,
}

impl MediaSession<'_> {
    /// Handle one signalling command (its role already authorised); the
    /// direct reply, if any.
    pub async fn handle(
        &self,
        id: Option<String>,
        command: MediaCommand,
    ) -> Result<Option<DirectEvent>, Refusal> {
        let room_id = self.room.id.as_str();
        let ack = id.clone().map(|id| DirectEvent::Ack { id });
        match command {
            MediaCommand::Publish { sdp } => {
                if self.room.info().await?.status == RoomStatus::Ended {
                    return Err(RoomError::Ended.into());
                }
                self.watch_stream();
                let answer = self
                    .sfu
                    .publish(room_id, self.participant, sdp, self.signals.clone())
                    .await?;
                tracing::info!("seller publishes");
                Ok(Some(DirectEvent::PublishAnswer { id, sdp: answer }))
            }
            MediaCommand::Unpublish => {
                self.sfu.unpublish(room_id, self.participant).await;
                Ok(ack)
            }
            MediaCommand::Subscribe => {
                self.watch_stream();
                let offer = self
                    .sfu
                    .subscribe(room_id, self.participant, self.signals.clone())
                    .await?;
                Ok(Some(DirectEvent::SubscribeOffer { id, sdp: offer }))
            }
            MediaCommand::SubscribeAnswer { sdp } => {
                self.sfu
                    .subscriber_answer(room_id, self.participant, sdp)
                    .await?;
                Ok(ack)
            }
            MediaCommand::Candidate { target, candidate } => {
                self.sfu
                    .add_candidate(room_id, self.participant, target, candidate)
                    .await?;
                Ok(ack)
            }
        }
    }

    /// Start the room's media watcher, once per room.
    fn watch_stream(&self) {
        if !self.room.claim_media_watch() {
            return;
        }
        let sfu = self.sfu.clone();
        let room = Arc::downgrade(self.room);
        let room_id = self.room.id.clone();
        let closed = self.room.closed();
        let mut live = sfu.stream_announcements(&room_id);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = closed.cancelled() => {
                        sfu.close_room(&room_id).await;
                        return;
                    }
                    changed = live.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let is_live = *live.borrow_and_update();
                        match room.upgrade() {
                            Some(room) => {
                                if let Err(error) = room.observe(RoomFact::StreamLive(is_live)).await {
                                    tracing::warn!(room = %room_id, %error, "could not announce the stream state");
                                }
                            }
                            None => return,
                        }
                    }
                }
            }
        });
    }
}

/// The direct event that forwards one SFU signal to the client.
pub fn signal_event(signal: MediaSignal) -> DirectEvent {
    match signal {
        MediaSignal::IceCandidate { target, candidate } => {
            DirectEvent::IceCandidate { target, candidate }
        }
        MediaSignal::ConnectionFailed { target } => DirectEvent::MediaFailed { target },
    }
}
