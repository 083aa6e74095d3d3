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
//!
//! `reader.rs` and `writer.rs` hold the two halves; this module joins them.

mod reader;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::media::MediaSignal;
use crate::room::{Actor, Membership};

use super::AppState;
use reader::Reader;
use writer::Writer;

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
