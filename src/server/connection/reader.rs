//! The reading half of a connection: parse, rate-limit, dispatch, reply.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::media::MediaSignal;
use crate::protocol::{
    close, ClientFrame, ClientMessage, DirectEvent, ErrorCode, CLIENT_MESSAGE_TYPES,
};
use crate::room::{to_json, Actor, Room};

use super::super::limits::ConnectionLimits;
use super::super::media::{self, MediaSession};
use super::super::refusal::Refusal;
use super::super::{sales, AppState};
use super::{Activity, Outgoing, MAX_HEARTS_PER_MESSAGE, MAX_REQUEST_ID_LEN, MEDIA_SIGNAL_QUEUE};

pub(super) struct Reader<'a> {
    pub(super) state: &'a AppState,
    pub(super) actor: &'a Actor,
    pub(super) room: &'a Arc<Room>,
    pub(super) direct: mpsc::Sender<Outgoing>,
    /// This connection's id as the SFU knows it.
    pub(super) participant: &'a str,
    /// Where the SFU sends this connection's signals (drained by the writer).
    /// Made on the first signalling message, so connections that never
    /// signal (chat-only clients, the load test's thousands of viewers) do
    /// not pay for its buffer; its receiver goes to the writer through the
    /// direct queue.
    pub(super) media: std::sync::OnceLock<mpsc::Sender<MediaSignal>>,
    /// Cancelled by the writer when it has ended the connection.
    pub(super) done: &'a CancellationToken,
    /// Cancelled by the reader when it stops reading.
    pub(super) finished: &'a CancellationToken,
    pub(super) activity: &'a Activity,
}

impl Reader<'_> {
    pub(super) async fn run(self, mut stream: SplitStream<WebSocket>) {
        let limits = ConnectionLimits::new(&self.state.config.limits);
        let max_frame = self.state.config.server.max_frame_bytes;
        // Set once a close was requested: read on (ignoring frames) until the
        // client answers with its own close, so the socket ends cleanly.
        let mut closing = false;
        let done = self.done.cancelled();
        tokio::pin!(done);
        loop {
            let next = tokio::select! {
                _ = &mut done => break,
                next = stream.next() => next,
            };
            let Some(message) = next else { break };
            self.activity.touch();
            if closing && !matches!(message, Ok(Message::Close(_)) | Err(_)) {
                continue;
            }
            let reply = match message {
                Ok(Message::Text(text)) if text.len() > max_frame => {
                    self.too_big();
                    closing = true;
                    None
                }
                Ok(Message::Binary(data)) if data.len() > max_frame => {
                    self.too_big();
                    closing = true;
                    None
                }
                Ok(Message::Text(text)) => {
                    self.state.metrics.messages_in.inc();
                    self.handle(&text, &limits).await
                }
                Ok(Message::Binary(_)) => Some(self.refuse(
                    None,
                    Refusal::new(
                        ErrorCode::UnsupportedFrame,
                        "only JSON text frames are accepted",
                    ),
                )),
                Ok(Message::Close(_)) => break,
                Ok(Message::Ping(_) | Message::Pong(_)) => None,
                Err(error) => {
                    // Beyond the hard limit the frame cannot be skipped: say
                    // why and drop the connection.
                    if is_too_big(&error) {
                        self.too_big();
                    } else {
                        tracing::debug!(%error, "read failed");
                    }
                    break;
                }
            };
            if let Some(reply) = reply {
                if !self.queue(reply) {
                    break;
                }
            }
        }
        self.finished.cancel();
        // Dropping `direct` lets the writer send what is queued, then close.
    }

    /// The SFU's way to this connection, made on first use.
    fn media_signals(&self) -> &mpsc::Sender<MediaSignal> {
        self.media.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(MEDIA_SIGNAL_QUEUE);
            // The writer is alive while the reader runs; if the queue is
            // full the client is being dropped anyway.
            let _ = self.direct.try_send(Outgoing::MediaSignals(receiver));
            sender
        })
    }

    /// A frame over `max_frame_bytes`: close with 1009.
    fn too_big(&self) {
        self.state.metrics.error(ErrorCode::BadRequest);
        let _ = self
            .direct
            .try_send(Outgoing::Close(close::MESSAGE_TOO_BIG, "frame too large"));
    }

    /// Queue a reply; `false` when the client is not reading its replies
    /// and has been dropped.
    fn queue(&self, event: DirectEvent) -> bool {
        match self.direct.try_send(Outgoing::Text(to_json(&event))) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!("client is not reading its replies; dropping it");
                self.state.metrics.slow_consumers.inc();
                self.done.cancel();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Handle one text frame; the reply to send, if any.
    async fn handle(&self, text: &str, limits: &ConnectionLimits) -> Option<DirectEvent> {
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(error) => {
                let (id, code, message) = classify_bad_frame(text, &error);
                return Some(self.refuse(id, Refusal::new(code, message)));
            }
        };
        let ClientFrame { id, message } = frame;
        if id.as_ref().is_some_and(|id| id.len() > MAX_REQUEST_ID_LEN) {
            let message = format!("id is at most {MAX_REQUEST_ID_LEN} bytes");
            return Some(self.refuse(None, Refusal::new(ErrorCode::BadRequest, message)));
        }
        if let Err(wait) = limits.check(&message) {
            let retry = wait.as_millis().max(1) as u64;
            let refusal = Refusal {
                code: ErrorCode::RateLimited,
                message: format!("too many requests: retry in {retry} ms"),
                retry_after_ms: Some(retry),
            };
            return Some(self.refuse(id, refusal));
        }
        let ack = |id: Option<String>| id.map(|id| DirectEvent::Ack { id });
        let result = match &message {
            ClientMessage::Ping => return Some(DirectEvent::Pong),
            ClientMessage::Heart { count } => {
                if *count == 0 || *count > MAX_HEARTS_PER_MESSAGE {
                    let text = format!("count must be between 1 and {MAX_HEARTS_PER_MESSAGE}");
                    return Some(self.refuse(id, Refusal::new(ErrorCode::InvalidValue, text)));
                }
                self.room.heart(*count);
                Ok(ack(id.clone()))
            }
            // Boxed: these futures are large (a Redis round trip, WebRTC
            // negotiation) and rare; inline, they would grow every idle
            // connection's task by their size.
            sale if sales::is_sale_message(sale) => {
                Box::pin(sales::handle(
                    self.state,
                    self.room,
                    self.actor,
                    id.clone(),
                    sale,
                ))
                .await
            }
            signal if media::is_media_message(signal) => {
                let signals = self.media_signals();
                let session = MediaSession {
                    sfu: &self.state.sfu,
                    room: self.room,
                    actor: self.actor,
                    participant: self.participant,
                    signals,
                };
                Box::pin(session.handle(id.clone(), signal)).await
            }
            other => self
                .room
                .request(self.actor, other)
                .map(|()| ack(id.clone()))
                .map_err(Refusal::from),
        };
        match result {
            Ok(reply) => reply,
            Err(refusal) => {
                tracing::debug!(code = refusal.code.as_str(), message = %refusal.message, "request refused");
                Some(self.refuse(id, refusal))
            }
        }
    }

    fn refuse(&self, id: Option<String>, refusal: Refusal) -> DirectEvent {
        self.state.metrics.error(refusal.code);
        refusal.into_event(id)
    }
}

/// Tell `unknown_type` from `bad_request` for a frame that did not parse,
/// keeping the request id when there is one.
fn classify_bad_frame(
    text: &str,
    error: &serde_json::Error,
) -> (Option<String>, ErrorCode, String) {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<serde_json::Value>(text)
    else {
        return (
            None,
            ErrorCode::BadRequest,
            format!("not a JSON object: {error}"),
        );
    };
    let id = object
        .get("id")
        .and_then(|v| v.as_str())
        .filter(|id| id.len() <= MAX_REQUEST_ID_LEN)
        .map(str::to_owned);
    match object.get("type").and_then(|t| t.as_str()) {
        None => (id, ErrorCode::BadRequest, "missing field `type`".into()),
        Some(kind) if !CLIENT_MESSAGE_TYPES.contains(&kind) => (
            id,
            ErrorCode::UnknownType,
            format!("unknown message type `{kind}`"),
        ),
        Some(_) => (id, ErrorCode::BadRequest, error.to_string()),
    }
}

fn is_too_big(error: &axum::Error) -> bool {
    use std::error::Error as _;
    let mut source = error.source();
    while let Some(inner) = source {
        if let Some(tungstenite::Error::Capacity(_)) = inner.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = inner.source();
    }
    false
}
