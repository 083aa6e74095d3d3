//! One WebSocket connection: a reader and a writer, joined in one task.
//!
//! The **reader** parses each client frame, applies the rate limits, hands
//! the request to the room and queues the reply (`ack`, `error`, `pong`) on
//! a small bounded direct queue. It never writes to the socket.
//!
//! The **writer** is the only code that writes. It sends the join frames,
//! then forwards the room's shared event frames and the direct replies,
//! draining whatever is ready (up to `write_batch`) with `feed` and flushing
//! once. It ends the connection with a close code that says why: the server
//! is shutting down (1001), a frame was too big (1009), the room closed
//! (4000), the user was banned (4003), or the client fell too far behind its
//! room (4008; it may resume with `last_seq`). A write that stalls longer
//! than `server.write_timeout_secs` also counts as a slow consumer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::media::MediaSignal;
use crate::protocol::{
    close, ClientFrame, ClientMessage, DirectEvent, ErrorCode, CLIENT_MESSAGE_TYPES,
};
use crate::room::{to_json, Actor, Membership, Room};

use super::limits::ConnectionLimits;
use super::media::{self, MediaSession};
use super::refusal::Refusal;
use super::{sales, AppState};

/// How long to wait for the client's answer to our close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);
/// SFU signals queued for one connection; the SFU drops signals beyond it
/// rather than wait (trickled candidates are few; most are in the SDP).
const MEDIA_SIGNAL_QUEUE: usize = 32;
/// Longest request id echoed back.
const MAX_REQUEST_ID_LEN: usize = 64;
/// Most hearts one `heart` message may carry.
const MAX_HEARTS_PER_MESSAGE: u32 = 100;

/// What the reader asks the writer to send.
enum Outgoing {
    Text(Utf8Bytes),
    Close(u16, &'static str),
    /// From now on, also forward what the SFU sends on this queue.
    MediaSignals(mpsc::Receiver<MediaSignal>),
}

/// Serve one admitted connection until either side ends it.
pub async fn serve(
    socket: WebSocket,
    state: AppState,
    actor: Actor,
    membership: Membership,
    connection_id: u64,
) {
    state.metrics.connections.inc();
    tracing::debug!(role = actor.role.as_str(), "connected");
    let (sink, stream) = socket.split();
    let (direct_tx, direct_rx) = mpsc::channel(state.config.server.direct_queue);
    let participant = format!("c{connection_id}");
    let room = Arc::clone(membership.room());
    let done = CancellationToken::new();
    let reader_finished = CancellationToken::new();
    let activity = Activity::new();

    let reader = Reader {
        state: &state,
        actor: &actor,
        room: &room,
        direct: direct_tx,
        participant: &participant,
        media: std::sync::OnceLock::new(),
        done: &done,
        finished: &reader_finished,
        activity: &activity,
    };
    let writer = Writer {
        state: &state,
        sink,
        direct: direct_rx,
        media: None,
        done: &done,
        reader_finished: &reader_finished,
        activity: &activity,
    };
    tokio::join!(reader.run(stream), writer.run(membership));
    // Close this connection's peer connections, if it had any.
    state.sfu.leave(&room.id, &participant).await;

    state.metrics.connections.dec();
    tracing::debug!("disconnected");
}

/// When the client was last heard from, for ping time-outs.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

struct Reader<'a> {
    state: &'a AppState,
    actor: &'a Actor,
    room: &'a Arc<Room>,
    direct: mpsc::Sender<Outgoing>,
    /// This connection's id as the SFU knows it.
    participant: &'a str,
    /// Where the SFU sends this connection's signals (drained by the writer).
    /// Made on the first signalling message, so connections that never
    /// signal (chat-only clients, the load test's thousands of viewers) do
    /// not pay for its buffer; its receiver goes to the writer through the
    /// direct queue.
    media: std::sync::OnceLock<mpsc::Sender<MediaSignal>>,
    /// Cancelled by the writer when it has ended the connection.
    done: &'a CancellationToken,
    /// Cancelled by the reader when it stops reading.
    finished: &'a CancellationToken,
    activity: &'a Activity,
}

impl Reader<'_> {
    async fn run(self, mut stream: SplitStream<WebSocket>) {
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

struct Writer<'a> {
    state: &'a AppState,
    sink: SplitSink<WebSocket, Message>,
    direct: mpsc::Receiver<Outgoing>,
    /// Signals from the SFU (trickled candidates, failures).
    media: Option<mpsc::Receiver<MediaSignal>>,
    done: &'a CancellationToken,
    /// The reader's `finished`: after a close frame the writer waits for the
    /// client's answer, so the socket is not dropped with unread data (which
    /// would reset it and lose the close frame).
    reader_finished: &'a CancellationToken,
    activity: &'a Activity,
}

/// Why the writer stopped.
enum End {
    /// Send this close frame, then stop.
    Close(u16, String),
    /// The socket is gone or the reader asked for a hard stop; just stop.
    Quiet,
}

impl Writer<'_> {
    async fn run(mut self, mut membership: Membership) {
        let end = self.serve(&mut membership).await;
        if let End::Close(code, reason) = end {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            };
            let sent = tokio::time::timeout(
                self.write_timeout(),
                self.sink.send(Message::Close(Some(frame))),
            )
            .await;
            if matches!(sent, Ok(Ok(()))) {
                let _ =
                    tokio::time::timeout(CLOSE_HANDSHAKE, self.reader_finished.cancelled()).await;
            }
        }
        self.done.cancel();
        // `membership` drops here: the connection leaves the room.
    }

    async fn serve(&mut self, membership: &mut Membership) -> End {
        let mut last_seq = membership.seq;
        let initial = std::mem::take(&mut membership.initial);
        let count = initial.len();
        for frame in initial {
            if !self.feed(Message::Text(frame)).await {
                return End::Quiet;
            }
        }
        if !self.flush(count).await {
            return End::Quiet;
        }

        let ping_every = Duration::from_secs(self.state.config.server.ping_interval_secs.max(1));
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        let batch = self.state.config.server.write_batch;
        // Two signals, both this connection's own and made once, not per
        // loop turn: polling a cancellation future takes its token's lock,
        // and tokens shared by thousands of writers would contend on it for
        // every frame delivered.
        let room = Arc::clone(membership.room());
        let (stop, done) = (membership.stop.clone(), self.done.clone());
        let stop = stop.cancelled();
        let done = done.cancelled();
        tokio::pin!(stop, done);
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => {
                    if self.state.shutdown.is_cancelled() {
                        self.feed(Message::Text(to_json(&DirectEvent::ServerShutdown))).await;
                        return End::Close(close::GOING_AWAY, "server shutting down".into());
                    }
                    if !room.is_closed() {
                        return End::Close(close::BANNED, "banned from this room".into());
                    }
                    // The `room_closed` event is already in the stream: deliver it first.
                    let mut sent = 0;
                    while let Ok(frame) = membership.events.try_recv() {
                        if !self.feed(Message::Text(frame.json)).await {
                            return End::Quiet;
                        }
                        sent += 1;
                    }
                    self.flush(sent).await;
                    return End::Close(close::ROOM_CLOSED, "the room has ended".into());
                }
                _ = &mut done => return End::Quiet,
                outgoing = self.direct.recv() => {
                    let mut sent = 0;
                    let mut next = outgoing;
                    loop {
                        match next {
                            Some(Outgoing::Text(text)) => {
                                if !self.feed(Message::Text(text)).await {
                                    return End::Quiet;
                                }
                                sent += 1;
                            }
                            Some(Outgoing::MediaSignals(receiver)) => self.media = Some(receiver),
                            Some(Outgoing::Close(code, reason)) => {
                                self.flush(sent).await;
                                return End::Close(code, reason.into());
                            }
                            // The reader is done: the client left or broke the protocol.
                            None => {
                                self.flush(sent).await;
                                return End::Quiet;
                            }
                        }
                        if sent >= batch {
                            break;
                        }
                        match self.direct.try_recv() {
                            Ok(outgoing) => next = Some(outgoing),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => next = None,
                        }
                    }
                    if !self.flush(sent).await {
                        return End::Quiet;
                    }
                }
                event = membership.events.recv() => {
                    let mut next = event;
                    let mut sent = 0;
                    loop {
                        match next {
                            Ok(frame) => {
                                last_seq = frame.seq;
                                if !self.feed(Message::Text(frame.json)).await {
                                    return End::Quiet;
                                }
                                sent += 1;
                            }
                            Err(broadcast::error::RecvError::Lagged(missed)) => {
                                return self.slow_consumer(last_seq, missed);
                            }
                            Err(broadcast::error::RecvError::Closed) => {
                                self.flush(sent).await;
                                return End::Quiet;
                            }
                        }
                        if sent >= batch {
                            break;
                        }
                        next = match membership.events.try_recv() {
                            Ok(frame) => Ok(frame),
                            Err(broadcast::error::TryRecvError::Lagged(n)) => Err(broadcast::error::RecvError::Lagged(n)),
                            Err(_) => break,
                        };
                    }
                    if !self.flush(sent).await {
                        return self.slow_consumer(last_seq, 0);
                    }
                }
                Some(signal) = next_signal(&mut self.media) => {
                    if !self.feed(Message::Text(to_json(&media::signal_event(signal)))).await || !self.flush(1).await {
                        return End::Quiet;
                    }
                }
                _ = ping.tick() => {
                    if self.activity.silent_for() > ping_every * 2 {
                        tracing::debug!("ping timeout");
                        return End::Close(close::GOING_AWAY, "ping timeout".into());
                    }
                    if !self.feed(Message::Ping(Default::default())).await || !self.flush(1).await {
                        return End::Quiet;
                    }
                }
            }
        }
    }

    fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.state.config.server.write_timeout_secs.max(1))
    }

    /// Queue a frame in the socket's write buffer; `false` if the socket
    /// failed or stalled (feeding flushes when the buffer is full).
    async fn feed(&mut self, message: Message) -> bool {
        let timeout = self.write_timeout();
        within(timeout, self.sink.feed(message)).await
    }

    /// Flush what was fed; `false` if the socket failed or stalled.
    async fn flush(&mut self, frames: usize) -> bool {
        if frames == 0 {
            return true;
        }
        self.state.metrics.messages_out.inc_by(frames as u64);
        let timeout = self.write_timeout();
        within(timeout, self.sink.flush()).await
    }

    fn slow_consumer(&self, last_seq: u64, missed: u64) -> End {
        self.state.metrics.slow_consumers.inc();
        tracing::info!(last_seq, missed, "slow consumer disconnected");
        End::Close(
            close::SLOW_CONSUMER,
            format!("slow consumer: reconnect with last_seq={last_seq}"),
        )
    }
}

/// Run a socket write with a deadline; `false` if it failed or timed out.
/// A write that completes at once (the usual case: the socket buffer has
/// room) never touches the timer wheel, which matters when one room event
/// is written to thousands of sockets.
async fn within<E>(
    timeout: Duration,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> bool {
    tokio::pin!(write);
    if let Some(result) = (&mut write).now_or_never() {
        return result.is_ok();
    }
    matches!(tokio::time::timeout(timeout, write).await, Ok(Ok(())))
}

/// The next SFU signal, or never when the connection has no media queue.
async fn next_signal(queue: &mut Option<mpsc::Receiver<MediaSignal>>) -> Option<MediaSignal> {
    match queue {
        Some(queue) => queue.recv().await,
        None => std::future::pending().await,
    }
}
