//! The writing half of a connection: the only code that writes to the socket.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{FutureExt, SinkExt};
use hyper_tungstenite::hyper::upgrade::Upgraded;
use hyper_tungstenite::HyperWebsocketStream;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

use crate::bus::{Frame, SubscriptionError};
use crate::media::MediaSignal;
use crate::protocol::{close, to_json, DirectEvent, JsonText};
use crate::room::{Actor, Membership, Room};

use super::super::media;
use super::super::AppState;
use super::flag::Flag;
use super::queue::{self, TryRecvError};
use super::{text_payload, Activity, Outgoing, CLOSE_HANDSHAKE};

type Sink = SplitSink<HyperWebsocketStream, Message>;

pub(super) struct Writer<'a> {
    pub(super) state: &'a AppState,
    pub(super) actor: &'a Actor,
    pub(super) sink: Sink,
    pub(super) direct: queue::Receiver<'a>,
    /// Signals from the SFU (trickled candidates, failures).
    pub(super) media: Option<mpsc::Receiver<MediaSignal>>,
    pub(super) done: &'a Flag,
    /// The reader's `finished`: after a close frame the writer waits for the
    /// client's answer while the reader still reads.
    pub(super) reader_finished: &'a Flag,
    pub(super) activity: &'a Activity,
    /// Set when a write timed out (as opposed to failing): the client is a
    /// slow consumer whose socket stopped taking data.
    pub(super) stalled: bool,
}

/// Why the writer stopped.
enum End {
    /// Send this close frame, then stop.
    Close(u16, String),
    /// The reader is gone (the client left or broke off): just stop.
    Quiet,
    /// The socket failed or stopped taking data: nothing more can be
    /// written to it, not even a close frame.
    Stalled,
}

impl Writer<'_> {
    /// Serve until the connection ends; the sink, and whether the socket is
    /// still fit for a lingering close.
    pub(super) async fn run(mut self, mut membership: Membership) -> (Sink, bool) {
        let end = self.serve(&mut membership).await;
        let fit = match end {
            End::Close(code, reason) => {
                // Boxed, as every path taken once at the end: inline, its
                // timers would be part of every idle connection's task.
                Box::pin(self.close(code, reason)).await;
                true
            }
            End::Quiet => true,
            End::Stalled => {
                if self.stalled {
                    self.state.metrics.slow_consumers.inc();
                    tracing::info!(
                        "slow consumer dropped: its socket took nothing for the write timeout"
                    );
                }
                false
            }
        };
        self.done.cancel();
        // `membership` drops here: the connection leaves the room.
        drop(membership);
        (self.sink, fit)
    }

    /// Send the close frame, then give the client [`CLOSE_HANDSHAKE`] to
    /// answer it while the reader still reads.
    async fn close(&mut self, code: u16, reason: String) {
        let frame = CloseFrame {
            code: code.into(),
            reason: Utf8Bytes::from(reason),
        };
        let sent = tokio::time::timeout(
            self.write_timeout(),
            self.sink.send(Message::Close(Some(frame))),
        )
        .await;
        if matches!(sent, Ok(Ok(()))) {
            let _ = tokio::time::timeout(CLOSE_HANDSHAKE, self.reader_finished.cancelled()).await;
        }
    }

    async fn serve(&mut self, membership: &mut Membership) -> End {
        let ping_every = Duration::from_secs(self.state.config.server.ping_interval_secs.max(1));
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        let batch = self.state.config.server.write_batch;
        let room = Arc::clone(membership.room());
        // No branch watches `done` here: only this writer cancels it (after
        // this loop), and the reader's end reaches the loop as the direct
        // queue closing. Polling a cancellation future takes its token's
        // lock, on every wake-up of every viewer's writer: the profile of a
        // 2,000-viewer run put ~6 % of the server's CPU there.
        // The room's last frame (`room_closed`), held back until the reader
        // has stopped, so replies queued before the room ended go first.
        let mut last: Option<Frame> = None;
        // Hosts also get the room's private frames (coaching, flags).
        let mut backstage = room.backstage(self.actor.role);
        loop {
            tokio::select! {
                biased;
                outgoing = self.direct.recv() => {
                    let mut sent = 0;
                    let mut next = outgoing;
                    loop {
                        match next {
                            Some(Outgoing::Text(text)) => {
                                if !self.feed(text).await {
                                    return End::Stalled;
                                }
                                sent += 1;
                            }
                            Some(Outgoing::MediaSignals(receiver)) => self.media = Some(receiver),
                            Some(Outgoing::Close(code, reason)) => {
                                self.flush(sent).await;
                                return End::Close(code, reason.into());
                            }
                            Some(Outgoing::Ended) => {
                                if !self.flush(sent).await {
                                    return End::Stalled;
                                }
                                // Boxed: taken once, and its store read
                                // (is the user banned?) may be large.
                                return Box::pin(self.ended(&room, membership, last)).await;
                            }
                            // The reader is done: the client left or broke off.
                            None => {
                                self.flush(sent).await;
                                return End::Quiet;
                            }
                        }
                        if sent >= batch {
                            break;
                        }
                        match self.direct.try_recv() {
                            Ok(queued) => next = Some(queued),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Disconnected) => next = None,
                        }
                    }
                    if !self.flush(sent).await {
                        return End::Stalled;
                    }
                }
                event = membership.events.recv(), if last.is_none() => {
                    let mut next = Some(event);
                    let mut sent = 0;
                    while let Some(event) = next {
                        match event {
                            Ok(frame) if frame.is_last() => {
                                last = Some(frame);
                                break;
                            }
                            Ok(frame) => {
                                if !self.feed(frame.json).await {
                                    return End::Stalled;
                                }
                                sent += 1;
                            }
                            Err(SubscriptionError::Lagged { last_seq }) => {
                                self.flush(sent).await;
                                return self.slow_consumer(last_seq);
                            }
                            Err(SubscriptionError::Closed) => {
                                self.flush(sent).await;
                                return End::Quiet;
                            }
                        }
                        if sent >= batch {
                            break;
                        }
                        next = membership.events.try_recv();
                    }
                    if !self.flush(sent).await {
                        return End::Stalled;
                    }
                }
                Some(text) = next_private(&mut backstage) => {
                    if !self.feed(text).await || !self.flush(1).await {
                        return End::Stalled;
                    }
                }
                Some(signal) = next_signal(&mut self.media) => {
                    let event = to_json(&media::signal_event(signal));
                    if !self.feed(event).await || !self.flush(1).await {
                        return End::Stalled;
                    }
                }
                _ = ping.tick() => {
                    if self.activity.silent_for() > ping_every * 2 {
                        tracing::debug!("ping timeout");
                        return End::Close(close::GOING_AWAY, "ping timeout".into());
                    }
                    let ping = Message::Ping(Default::default());
                    let sent = within(self.write_timeout(), self.sink.feed(ping)).await;
                    if !self.written(sent) || !self.flush(1).await {
                        return End::Stalled;
                    }
                }
            }
        }
    }

    /// The member's `stop` fired and the reader stopped; everything it
    /// queued has been sent. Close with the code that says why.
    async fn ended(
        &mut self,
        room: &Room,
        membership: &mut Membership,
        last: Option<Frame>,
    ) -> End {
        if room.is_closed() {
            // Deliver the room's events through its last one (`room_closed`).
            let mut last = last;
            let mut sent = 0;
            while last.is_none() {
                let next = tokio::time::timeout(CLOSE_HANDSHAKE, membership.events.recv()).await;
                match next {
                    Ok(Ok(frame)) if frame.is_last() => last = Some(frame),
                    Ok(Ok(frame)) => {
                        if !self.feed(frame.json).await {
                            return End::Stalled;
                        }
                        sent += 1;
                    }
                    Ok(Err(_)) | Err(_) => break,
                }
            }
            if let Some(frame) = last {
                if !self.feed(frame.json).await {
                    return End::Stalled;
                }
                sent += 1;
            }
            if !self.flush(sent).await {
                return End::Stalled;
            }
            return End::Close(close::ROOM_CLOSED, "the room has ended".into());
        }
        // The node is stopping, or gave the room up (it lost its link to the
        // shared store): the client reconnects, through the load balancer,
        // to a node that serves it.
        if self.state.shutdown.is_cancelled() || room.is_evicted() {
            if !self.feed(to_json(&DirectEvent::ServerShutdown)).await || !self.flush(1).await {
                return End::Stalled;
            }
            return End::Close(close::GOING_AWAY, "server shutting down".into());
        }
        if room.is_banned(&self.actor.user_id, self.actor.role).await {
            return End::Close(close::BANNED, "banned from this room".into());
        }
        End::Close(close::GOING_AWAY, "going away".into())
    }

    fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.state.config.server.write_timeout_secs.max(1))
    }

    /// Queue a text frame in the socket's write buffer; `false` if the
    /// socket failed or stalled (feeding flushes when the buffer is full).
    async fn feed(&mut self, json: JsonText) -> bool {
        let timeout = self.write_timeout();
        let written = within(timeout, self.sink.feed(Message::Text(text_payload(json)))).await;
        self.written(written)
    }

    /// Flush what was fed; `false` if the socket failed or stalled.
    async fn flush(&mut self, frames: usize) -> bool {
        if frames == 0 {
            return true;
        }
        self.state.metrics.messages_out.inc_by(frames as u64);
        let timeout = self.write_timeout();
        let written = within(timeout, self.sink.flush()).await;
        self.written(written)
    }

    /// `true` if the write went through; notes a stall.
    fn written(&mut self, written: Written) -> bool {
        self.stalled |= written == Written::TimedOut;
        written == Written::Done
    }

    fn slow_consumer(&self, last_seq: u64) -> End {
        self.state.metrics.slow_consumers.inc();
        tracing::info!(last_seq, "slow consumer disconnected");
        End::Close(
            close::SLOW_CONSUMER,
            format!("slow consumer: reconnect with last_seq={last_seq}"),
        )
    }
}

/// Send the join frames (a snapshot, or `resumed` and the missed events)
/// on the raw socket, in one write, before tungstenite has written anything
/// to it; `false` if the socket failed or took nothing for the write
/// timeout (counted as a slow consumer, as any stalled write is).
///
/// Why not through the sink: tungstenite's write buffer keeps the capacity
/// it ever grew to, so the snapshot, the largest frame most viewers are
/// ever sent, would stay allocated for the connection's life. Here its copy
/// lives only for this write.
pub(super) async fn send_join_frames(
    state: &AppState,
    io: &mut TokioIo<Upgraded>,
    frames: Vec<JsonText>,
) -> bool {
    let header = FrameHeader {
        is_final: true,
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    let length = |json: &JsonText| json.as_str().len() as u64;
    let total: usize = frames
        .iter()
        .map(|json| header.len(length(json)) + json.as_str().len())
        .sum();
    let mut wire = Vec::with_capacity(total);
    for json in &frames {
        // Writing to a `Vec` cannot fail.
        let _ = header.format(length(json), &mut wire);
        wire.extend_from_slice(json.as_str().as_bytes());
    }
    let count = frames.len();
    drop(frames);
    let timeout = Duration::from_secs(state.config.server.write_timeout_secs.max(1));
    let written = within(timeout, async {
        io.write_all(&wire).await?;
        io.flush().await
    })
    .await;
    match written {
        Written::Done => {
            state.metrics.messages_out.inc_by(count as u64);
            true
        }
        Written::Failed => false,
        Written::TimedOut => {
            state.metrics.slow_consumers.inc();
            tracing::info!("slow consumer dropped: its socket took nothing for the write timeout");
            false
        }
    }
}

/// How a socket write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Done,
    Failed,
    TimedOut,
}

/// Run a socket write with a deadline. A write that completes at once (the
/// usual case: the socket buffer has room) never touches the timer wheel,
/// which matters when one room event is written to thousands of sockets.
async fn within<E>(
    timeout: Duration,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> Written {
    tokio::pin!(write);
    let result = match (&mut write).now_or_never() {
        Some(result) => result,
        None => match tokio::time::timeout(timeout, write).await {
            Ok(result) => result,
            Err(_) => return Written::TimedOut,
        },
    };
    match result {
        Ok(()) => Written::Done,
        Err(_) => Written::Failed,
    }
}

/// The next SFU signal, or never when the connection has no media queue.
async fn next_signal(queue: &mut Option<mpsc::Receiver<MediaSignal>>) -> Option<MediaSignal> {
    match queue {
        Some(queue) => queue.recv().await,
        None => std::future::pending().await,
    }
}

/// The next private frame for a host (none, ever, for anyone else). One that
/// fell behind skips what it missed rather than end: these frames are
/// advice, not room state.
async fn next_private(
    queue: &mut Option<tokio::sync::broadcast::Receiver<JsonText>>,
) -> Option<JsonText> {
    let Some(receiver) = queue else {
        return std::future::pending().await;
    };
    loop {
        match receiver.recv().await {
            Ok(text) => return Some(text),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "a host missed private frames");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                *queue = None;
                return std::future::pending().await;
            }
        }
    }
}
