//! A WebSocket that is read for its whole life.
//!
//! tungstenite answers the server's pings only while the socket is read,
//! and the server closes a connection that leaves a ping unanswered
//! (`ping timeout`, after twice `ping_interval_secs`). A client that waits
//! — for a sale to start, for the other buyers, for the audit — must keep
//! reading all the same: [`Line::read_while`] reads (and drops) frames
//! while it waits for anything else. Once the socket has ended, the line
//! remembers why, for the report.

use std::future::Future;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::Socket;

/// A client socket and, once it has ended, why.
pub struct Line {
    socket: Option<Socket>,
    ended: Option<String>,
}

impl Line {
    pub fn new(socket: Socket) -> Line {
        Line {
            socket: Some(socket),
            ended: None,
        }
    }

    /// Is the socket still open (no close, error or end seen)?
    pub fn is_open(&self) -> bool {
        self.socket.is_some()
    }

    /// Why the socket ended (a close frame's code and reason, an error),
    /// or `None` while it is open.
    pub fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }

    /// Wait for `until`, reading the socket meanwhile: frames are dropped,
    /// pings answered. Returns `until`'s output.
    pub async fn read_while<F: Future>(&mut self, until: F) -> F::Output {
        tokio::pin!(until);
        loop {
            let Some(socket) = self.socket.as_mut() else {
                return until.await;
            };
            tokio::select! {
                out = &mut until => return out,
                next = socket.next() => {
                    self.take(next);
                }
            }
        }
    }

    /// The next text frame before `deadline`; `None` once it passed or the
    /// socket ended. Control frames are handled on the way.
    pub async fn next_text(&mut self, deadline: Instant) -> Option<Utf8Bytes> {
        loop {
            let socket = self.socket.as_mut()?;
            let next = tokio::time::timeout_at(deadline, socket.next())
                .await
                .ok()?;
            if let Some(text) = self.take(next) {
                return Some(text);
            }
        }
    }

    /// Send `frames` and flush once; false when the socket is gone.
    pub async fn send(&mut self, frames: impl IntoIterator<Item = String>) -> bool {
        let Some(socket) = self.socket.as_mut() else {
            return false;
        };
        let mut sent = Ok(());
        for frame in frames {
            sent = socket.feed(Message::text(frame)).await;
            if sent.is_err() {
                break;
            }
        }
        if sent.is_ok() {
            sent = socket.flush().await;
        }
        match sent {
            Ok(()) => true,
            Err(e) => {
                self.end(format!("send failed: {e}"));
                false
            }
        }
    }

    /// Read until a JSON frame of one of the `kinds` arrives; the frame.
    /// Fails when the socket ends or `deadline` passes first.
    pub async fn wait_for_any(
        &mut self,
        kinds: &[&str],
        deadline: Instant,
    ) -> anyhow::Result<Value> {
        loop {
            let Some(text) = self.next_text(deadline).await else {
                match self.ended() {
                    Some(why) => bail!("socket ended while waiting for {kinds:?}: {why}"),
                    None => bail!("no {kinds:?} in time"),
                }
            };
            let value: Value = serde_json::from_str(&text).context("server sent invalid JSON")?;
            if value
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| kinds.contains(&t))
            {
                return Ok(value);
            }
        }
    }

    /// One item of the stream: text is returned, control frames are left
    /// to tungstenite (which queues the pong), an end is remembered.
    fn take(
        &mut self,
        next: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Option<Utf8Bytes> {
        match next {
            Some(Ok(Message::Text(text))) => return Some(text),
            Some(Ok(Message::Close(frame))) => self.end(match frame {
                Some(frame) => format!("closed by the server: {} {}", frame.code, frame.reason),
                None => "closed by the server".to_owned(),
            }),
            Some(Ok(_)) => {}
            Some(Err(e)) => self.end(format!("socket error: {e}")),
            None => self.end("connection ended".to_owned()),
        }
        None
    }

    fn end(&mut self, why: String) {
        self.socket = None;
        self.ended.get_or_insert(why);
    }
}
