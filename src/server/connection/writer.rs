//! The writing half of a connection: the only code that writes to the socket.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{FutureExt, SinkExt};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::media::MediaSignal;
use crate::protocol::{close, DirectEvent};
use crate::room::{to_json, Membership};

use super::super::media;
use super::super::AppState;
use super::{Activity, Outgoing, CLOSE_HANDSHAKE};

pub(super) struct Writer<'a> {
    pub(super) state: &'a AppState,
    pub(super) sink: SplitSink<WebSocket, Message>,
    pub(super) direct: mpsc::Receiver<Outgoing>,
    /// Signals from the SFU (trickled candidates, failures).
    pub(super) media: Option<mpsc::Receiver<MediaSignal>>,
    pub(super) done: &'a CancellationToken,
    /// The reader's `finished`: after a close frame the writer waits for the
    /// client's answer, so the socket is not dropped with unread data (which
    /// would reset it and lose the close frame).
    pub(super) reader_finished: &'a CancellationToken,
    pub(super) activity: &'a Activity,
}

/// Why the writer stopped.
enum End {
    /// Send this close frame, then stop.
    Close(u16, String),
    /// The socket is gone or the reader asked for a hard stop; just stop.
    Quiet,
}

impl Writer<'_> {
    pub(super) async fn run(mut self, mut membership: Membership) {
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
