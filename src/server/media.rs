//! WebRTC signalling over the room's WebSocket: authorise, hand the SDP and
//! ICE candidates to the [`Sfu`](crate::media::Sfu), answer the client.
//!
//! Each connection is one SFU participant (its connection id), so a seller
//! with two tabs or a viewer who reloads never collides with itself. The
//! SFU's own signals (trickled candidates, a failed connection) arrive on
//! the connection's bounded media queue and the writer forwards them.
//!
//! The first publish in a room starts its media watcher: it turns the SFU's
//! live/not-live state into `stream_state` room events and closes the
//! room's media when the room ends.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::auth::Action;
use crate::media::{MediaError, MediaSignal, Sfu};
use crate::protocol::{ClientMessage, DirectEvent, ErrorCode, RoomStatus};
use crate::room::{Actor, Room, RoomError};

use super::refusal::Refusal;

/// Is this one of the signalling messages handled here?
pub fn is_media_message(message: &ClientMessage) -> bool {
    matches!(
        message,
        ClientMessage::PublishOffer { .. }
            | ClientMessage::Unpublish
            | ClientMessage::Subscribe
            | ClientMessage::SubscribeAnswer { .. }
            | ClientMessage::IceCandidate { .. }
    )
}

/// One connection's handle on the SFU.
pub struct MediaSession<'a> {
    pub sfu: &'a Sfu,
    pub room: &'a Arc<Room>,
    pub actor: &'a Actor,
    /// The connection id: the SFU participant.
    pub participant: &'a str,
    /// Where the SFU sends this connection's signals.
    pub signals: &'a mpsc::Sender<MediaSignal>,
}

impl MediaSession<'_> {
    /// Handle one signalling message; the direct reply, if any.
    pub async fn handle(
        &self,
        id: Option<String>,
        message: &ClientMessage,
    ) -> Result<Option<DirectEvent>, Refusal> {
        let room_id = self.room.id.as_str();
        let ack = id.map(|id| DirectEvent::Ack { id });
        match message {
            ClientMessage::PublishOffer { sdp } => {
                self.require(Action::HostLive)?;
                if self.room.status() == RoomStatus::Ended {
                    return Err(RoomError::Ended.into());
                }
                self.watch_stream();
                let answer = self
                    .sfu
                    .publish(room_id, self.participant, sdp.clone(), self.signals.clone())
                    .await?;
                tracing::info!("seller publishes");
                Ok(Some(DirectEvent::PublishAnswer { sdp: answer }))
            }
            ClientMessage::Unpublish => {
                self.require(Action::HostLive)?;
                self.sfu.unpublish(room_id, self.participant).await;
                Ok(ack)
            }
            ClientMessage::Subscribe => {
                let offer = self
                    .sfu
                    .subscribe(room_id, self.participant, self.signals.clone())
                    .await?;
                Ok(Some(DirectEvent::SubscribeOffer { sdp: offer }))
            }
            ClientMessage::SubscribeAnswer { sdp } => {
                self.sfu
                    .subscriber_answer(room_id, self.participant, sdp.clone())
                    .await?;
                Ok(ack)
            }
            ClientMessage::IceCandidate { target, candidate } => {
                self.sfu
                    .add_candidate(room_id, self.participant, *target, candidate.clone())
                    .await?;
                Ok(ack)
            }
            _ => Ok(None),
        }
    }

    fn require(&self, action: Action) -> Result<(), Refusal> {
        if self.actor.role.may(action) {
            Ok(())
        } else {
            Err(RoomError::Forbidden.into())
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
        let mut live = sfu.stream_state(&room_id);
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
                            Some(room) => room.set_stream_live(is_live),
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

impl From<MediaError> for Refusal {
    fn from(error: MediaError) -> Refusal {
        let code = match &error {
            MediaError::NotLive => ErrorCode::MediaNotLive,
            MediaError::InvalidSdp(_) => ErrorCode::InvalidSdp,
            MediaError::UnsupportedCodec => ErrorCode::UnsupportedCodec,
            MediaError::NoSession => ErrorCode::MediaNoSession,
            MediaError::InvalidCandidate(_) => ErrorCode::InvalidCandidate,
            MediaError::Config(_) | MediaError::WebRtc(_) => ErrorCode::MediaFailed,
        };
        Refusal::new(code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_error_codes_match_the_protocol_codes() {
        for error in [
            MediaError::NotLive,
            MediaError::InvalidSdp(String::new()),
            MediaError::UnsupportedCodec,
            MediaError::NoSession,
            MediaError::InvalidCandidate(String::new()),
            MediaError::WebRtc(String::new()),
        ] {
            let wire = error.code();
            assert_eq!(Refusal::from(error).code.as_str(), wire);
        }
    }
}
