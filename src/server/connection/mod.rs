//! One WebSocket connection: a reader and a writer, joined in one task.
//!
//! The **reader** parses each client frame, routes and authorises it
//! (`server/command.rs`), applies the rate limits, has the request carried
//! out and queues the reply (`ack`, `error`, `pong`, …) on a small bounded
//! direct queue. It never writes to the socket. When that queue is full it
//! waits: a client that sends a burst of requests is read no faster than it
//! reads its replies (back-pressure), and nothing it was owed is dropped.
//!
//! The join frames go first, on the raw socket, before either half starts
//! (see [`serve`]). Then the **writer** is the only code that writes. It
//! forwards the room's shared event frames and the direct replies,
//! draining whatever is ready (up to `write_batch`) with `feed` and flushing
//! once. It ends the connection with a close code that says why: the server
//! is shutting down (1001), the client stopped answering pings (1001), a
//! frame broke the protocol (1002), a text frame was not UTF-8 (1007), a
//! frame or message was too big (1009), the room closed (4000), the user was
//! banned (4003), or the client fell too far behind its room (4008; it may
//! resume with `last_seq`). A client whose socket accepts nothing for
//! `server.write_timeout_secs` cannot be sent a close frame: it is dropped.
//!
//! **Ending.** When the member's `stop` fires (ban, room end, node stop),
//! the reader stops reading — after queueing the reply to the request it was
//! handling — and queues [`Outgoing::Ended`]; the writer sends everything
//! queued before it, then the close. So the `ack` of an `end_live` reaches
//! its sender before `room_closed` (the writer holds the room's last frame
//! back until then). Every close ends with a lingering close: after our
//! close frame the socket's write side is shut and whatever the client
//! still sends (the rest of an oversized frame, its close reply) is read and
//! dropped until it closes too, so the close frame is never lost to a reset.
//!
//! `reader.rs` and `writer.rs` hold the two halves; this module joins them.
//! What the halves share lives in this task, not on the heap, so an idle
//! connection costs little: the direct queue (`queue.rs`) and the flags
//! each raises for the other (`flag.rs`).

mod flag;
mod queue;
mod reader;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper_tungstenite::HyperWebsocketStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tungstenite::Utf8Bytes;

use crate::media::MediaSignal;
use crate::protocol::JsonText;
use crate::room::{Actor, Membership};

use super::{journal, AppState};
use flag::Flag;
use queue::DirectQueue;
use reader::Reader;
use writer::Writer;

/// How long to wait for the client's answer to our close frame, and for it
/// to close its side afterwards.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);
/// SFU signals queued for one connection; the SFU drops signals beyond it
/// rather than wait (trickled candidates are few; most are in the SDP).
const MEDIA_SIGNAL_QUEUE: usize = 32;
/// Longest request id echoed back.
const MAX_REQUEST_ID_LEN: usize = 64;

/// What the reader asks the writer to send, in order (on the
/// [`queue::DirectQueue`]).
enum Outgoing {
    Text(JsonText),
    /// Close with this code and reason (after what is queued before it).
    Close(u16, &'static str),
    /// From now on, also forward what the SFU sends on this queue.
    MediaSignals(mpsc::Receiver<MediaSignal>),
    /// The member's `stop` fired and the reader has stopped: close with the
    /// code that says why, after what is queued before this.
    Ended,
}

/// Serve one admitted connection until either side ends it.
pub async fn serve(
    mut socket: HyperWebsocketStream,
    state: AppState,
    actor: Actor,
    mut membership: Membership,
    connection_id: u64,
) {
    state.metrics.connections.inc();
    tracing::debug!(role = actor.role.as_str(), "connected");
    let participant = format!("c{connection_id}");
    let room = Arc::clone(membership.room());
    let visit = format!("{}:{participant}", state.node.id);
    let joined_at = Instant::now();
    journal::joined(&state, &room.id, &actor, &visit);

    // The join frames go out on the raw socket, before tungstenite has
    // written anything: its write buffer keeps the capacity it ever grew
    // to, and the snapshot (the largest frame most viewers are ever sent)
    // would stay allocated for the connection's life. Boxed: needed once.
    let initial = std::mem::take(&mut membership.initial);
    let greeted = Box::pin(writer::send_join_frames(&state, socket.get_mut(), initial)).await;
    // The socket, when it is still fit for a lingering close.
    let lingering = if greeted {
        let (sink, stream) = socket.split();
        let direct = DirectQueue::new(state.config.server.direct_queue);
        let (direct_tx, direct_rx) = direct.split();
        let done = Flag::new();
        let reader_finished = Flag::new();
        let activity = Activity::new();
        let reader = Reader {
            state: &state,
            actor: &actor,
            room: &room,
            direct: direct_tx,
            participant: &participant,
            media: std::sync::OnceLock::new(),
            stop: membership.stop.clone(),
            done: &done,
            finished: &reader_finished,
            activity: &activity,
        };
        let writer = Writer {
            state: &state,
            actor: &actor,
            sink,
            direct: direct_rx,
            media: None,
            done: &done,
            reader_finished: &reader_finished,
            activity: &activity,
            stalled: false,
        };
        let (stream, (sink, clean)) = tokio::join!(reader.run(stream), writer.run(membership));
        // Close this connection's peer connections, if it had any. Boxed:
        // the SFU's future is large, and inline it would be part of every
        // idle connection's task though it runs once, at the end.
        Box::pin(state.sfu.leave(&room.id, &participant)).await;
        clean.then(|| stream.reunite(sink).ok()).flatten()
    } else {
        // The socket failed, or took nothing for the write timeout: not
        // even a close frame can be sent. Leave the room at once.
        drop(membership);
        None
    };
    let stayed = joined_at.elapsed().as_millis() as u64;
    journal::left(&state, &room.id, &actor, &visit, stayed);
    if let Some(socket) = lingering {
        // Boxed: its buffer would otherwise be part of every idle
        // connection's task, though it is needed only at the very end.
        Box::pin(linger(socket)).await;
    }

    state.metrics.connections.dec();
    tracing::debug!("disconnected");
}

/// End the TCP connection politely: send whatever tungstenite still owes
/// (its answer to the client's close), shut our side, and read and drop what
/// the client still sends until it closes too (bounded by
/// [`CLOSE_HANDSHAKE`]). Dropping a socket with unread data would reset the
/// connection, and a reset can destroy the close frame we just sent.
async fn linger(mut socket: HyperWebsocketStream) {
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
        let _ = socket.flush().await;
        let io = socket.get_mut();
        let _ = io.shutdown().await;
        let mut scrap = [0u8; 2048];
        while let Ok(1..) = io.read(&mut scrap).await {}
    })
    .await;
}

/// A frame's JSON as a WebSocket text payload, without checking it again.
fn text_payload(json: JsonText) -> Utf8Bytes {
    let bytes = json.into_bytes();
    // SAFETY: a `JsonText` is only ever made from a `str` (see its docs), so
    // its bytes are valid UTF-8; checking again would cost a pass over every
    // frame for every recipient.
    unsafe { Utf8Bytes::from_bytes_unchecked(bytes) }
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
