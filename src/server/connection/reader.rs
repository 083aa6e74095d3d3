//! The reading half of a connection: parse, route, rate-limit, dispatch, reply.

use std::sync::Arc;

use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use hyper_tungstenite::HyperWebsocketStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tungstenite::{Message, Utf8Bytes};

use crate::media::MediaSignal;
use crate::protocol::{close, to_json, ClientFrame, DirectEvent, ErrorCode, CLIENT_MESSAGE_TYPES};
use crate::room::{Actor, Room, RoomError};

use super::super::command::{self, Command};
use super::super::limits::ConnectionLimits;
use super::super::media::MediaSession;
use super::super::refusal::Refusal;
use super::super::{compliance, journal, sales, AppState};
use super::flag::Flag;
use super::queue::{self, TrySendError};
use super::{Activity, Outgoing, MAX_REQUEST_ID_LEN, MEDIA_SIGNAL_QUEUE};

type Stream = SplitStream<HyperWebsocketStream>;

pub(super) struct Reader<'a> {
    pub(super) state: &'a AppState,
    pub(super) actor: &'a Actor,
    pub(super) room: &'a Arc<Room>,
    pub(super) direct: queue::Sender<'a>,
    /// This connection's id as the SFU knows it.
    pub(super) participant: &'a str,
    /// Where the SFU sends this connection's signals (drained by the writer).
    /// Made on the first signalling message, so connections that never
    /// signal (chat-only clients, the load test's thousands of viewers) do
    /// not pay for its buffer; its receiver goes to the writer through the
    /// direct queue.
    pub(super) media: std::sync::OnceLock<mpsc::Sender<MediaSignal>>,
    /// The member's own stop signal (ban, room end, node stop).
    pub(super) stop: CancellationToken,
    /// Cancelled by the writer when it has ended the connection.
    pub(super) done: &'a Flag,
    /// Cancelled by the reader when it stops reading.
    pub(super) finished: &'a Flag,
    pub(super) activity: &'a Activity,
}

impl Reader<'_> {
    /// Read until the client leaves, breaks the protocol or must stop; the
    /// stream is handed back for the lingering close.
    pub(super) async fn run(self, mut stream: Stream) -> Stream {
        let limits = ConnectionLimits::new(&self.state.config.limits);
        let (done, stop) = (self.done.cancelled(), self.stop.cancelled());
        tokio::pin!(done, stop);
        loop {
            let next = tokio::select! {
                biased;
                _ = &mut done => break,
                // Every reply to what was read before is queued by now: the
                // writer sends them, then the close.
                _ = &mut stop => {
                    self.send(Outgoing::Ended).await;
                    break;
                }
                next = stream.next() => next,
            };
            let Some(message) = next else { break };
            self.activity.touch();
            // Only what is needed crosses an `.await` below: a read's error
            // and a request's reply are large, and whatever an idle
            // connection's task might hold is paid for by every viewer.
            let reply = match Incoming::from(message) {
                Incoming::Text(text) => {
                    self.state.metrics.messages_in.inc();
                    self.handle(text.as_str(), &limits)
                        .await
                        .map(|r| to_json(&r))
                }
                Incoming::Binary => Some(to_json(&self.refuse(
                    None,
                    Refusal::new(
                        ErrorCode::UnsupportedFrame,
                        "only JSON text frames are accepted",
                    ),
                ))),
                Incoming::Control => None,
                Incoming::Close => break,
                Incoming::Broken(Some((code, reason))) => {
                    self.state.metrics.error(ErrorCode::BadRequest);
                    self.send(Outgoing::Close(code, reason)).await;
                    break;
                }
                Incoming::Broken(None) => break,
            };
            if let Some(reply) = reply {
                if !self.send(Outgoing::Text(reply)).await {
                    break;
                }
            }
        }
        self.finished.cancel();
        // Dropping `direct` lets the writer send what is queued, then stop.
        stream
    }

    /// Queue something for the writer, waiting while the queue is full (the
    /// client is behind on its replies: stop reading until it catches up).
    /// `false` once the writer has ended the connection.
    async fn send(&self, outgoing: Outgoing) -> bool {
        match self.direct.try_send(outgoing) {
            Ok(()) => true,
            Err(TrySendError::Closed) => false,
            // Boxed: rare, and its future would grow every connection's task.
            Err(TrySendError::Full(outgoing)) => {
                Box::pin(self.send_when_there_is_room(outgoing)).await
            }
        }
    }

    async fn send_when_there_is_room(&self, outgoing: Outgoing) -> bool {
        tokio::select! {
            biased;
            _ = self.done.cancelled() => false,
            sent = self.direct.send(outgoing) => sent,
        }
    }

    /// The SFU's way to this connection, made on first use.
    async fn media_signals(&self) -> mpsc::Sender<MediaSignal> {
        if let Some(sender) = self.media.get() {
            return sender.clone();
        }
        let (sender, receiver) = mpsc::channel(MEDIA_SIGNAL_QUEUE);
        self.send(Outgoing::MediaSignals(receiver)).await;
        self.media.get_or_init(|| sender).clone()
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
        let command = match command::route(message, self.actor) {
            Ok(command) => command,
            Err(refusal) => return Some(self.refuse(id, refusal)),
        };
        if let Err(wait) = limits.check(command.bucket()) {
            let retry = wait.as_millis().max(1) as u64;
            let refusal = Refusal {
                code: ErrorCode::RateLimited,
                message: format!("too many requests: retry in {retry} ms"),
                retry_after_ms: Some(retry),
            };
            return Some(self.refuse(id, refusal));
        }
        let ack = |id: Option<String>| id.map(|id| DirectEvent::Ack { id });
        let result = match command {
            Command::Ping => return Some(DirectEvent::Pong),
            Command::Heart(count) => {
                self.room.heart(count);
                Ok(ack(id.clone()))
            }
            // Boxed like the sale and media futures: the store call may be a
            // Redis round trip.
            Command::Room(command) => Box::pin(async {
                self.room.request(self.actor, &command).await?;
                journal::moderated(self.state, &self.room.id, self.actor, &command);
                compliance::after_request(self.state, self.room, self.actor, &command);
                sales::catalog_changed(self.state, &self.room.id, &command).await;
                Ok(ack(id.clone()))
            })
            .await
            .map_err(|error: RoomError| Refusal::from(error)),
            Command::ViewProduct(product_id) => Box::pin(async {
                // Only a product of the catalog counts.
                self.room.product(&product_id).await?;
                journal::product_viewed(self.state, &self.room.id, self.actor, product_id);
                Ok(ack(id.clone()))
            })
            .await
            .map_err(|error: RoomError| Refusal::from(error)),
            // Boxed, by `sales::handle` itself (a buy in a box of its own
            // size): these futures are large (a Redis round trip, WebRTC
            // negotiation); inline, they would grow every idle connection's
            // task by their size.
            Command::Sale(command) => {
                sales::handle(self.state, self.room, self.actor, id.clone(), command).await
            }
            Command::Coach(command) => {
                Box::pin(super::super::practice::coach(
                    self.state,
                    self.room,
                    self.actor,
                    id.clone(),
                    command,
                ))
                .await
            }
            Command::Media(command) => {
                Box::pin(async {
                    let signals = self.media_signals().await;
                    let session = MediaSession {
                        sfu: &self.state.sfu,
                        room: self.room,
                        participant: self.participant,
                        signals: &signals,
                    };
                    session.handle(id.clone(), command).await
                })
                .await
            }
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

/// What one read from the socket asks of the reader, without the read's
/// (large) error value.
enum Incoming {
    Text(Utf8Bytes),
    Binary,
    /// Ping, pong or a raw frame: nothing to answer (tungstenite answers pings).
    Control,
    Close,
    /// The read failed; with a close code when it failed because of what the
    /// client sent.
    Broken(Option<(u16, &'static str)>),
}

impl From<Result<Message, tungstenite::Error>> for Incoming {
    fn from(read: Result<Message, tungstenite::Error>) -> Incoming {
        match read {
            Ok(Message::Text(text)) => Incoming::Text(text),
            Ok(Message::Binary(_)) => Incoming::Binary,
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => Incoming::Control,
            Ok(Message::Close(_)) => Incoming::Close,
            Err(error) => {
                let close = close_for(&error);
                if close.is_none() {
                    tracing::debug!(%error, "read failed");
                }
                Incoming::Broken(close)
            }
        }
    }
}

/// The close code for a read that failed because of what the client sent;
/// `None` when the connection itself failed (nothing useful to say).
fn close_for(error: &tungstenite::Error) -> Option<(u16, &'static str)> {
    use tungstenite::error::ProtocolError;
    match error {
        tungstenite::Error::Capacity(_) => Some((
            close::MESSAGE_TOO_BIG,
            "frame or message larger than server.max_frame_bytes",
        )),
        tungstenite::Error::Utf8(_) => Some((close::INVALID_PAYLOAD, "text frame is not UTF-8")),
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        tungstenite::Error::Protocol(_) => {
            Some((close::PROTOCOL_ERROR, "WebSocket protocol error"))
        }
        _ => None,
    }
}
