//! The Node `ws` peer (`loadtest/peers/ws/server.js`) and its client side.
//!
//! The leanest room broadcast in common Node.js use: every text frame a
//! client sends is sent, as received, to every open socket. Frames carry the
//! Socket.IO peer's payload, `["chat","lt|…|"]`, so the harness reads the
//! same marker from all three servers. The peer greets each socket with
//! `["joined"]` once it is in the room.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::node_peer;
use crate::client::{self, Socket};
use crate::target::Spawned;

/// The greeting that says a socket is in the room.
const JOINED: &str = r#"["joined"]"#;

/// The peer's directory.
pub fn peer_dir() -> PathBuf {
    node_peer::dir("ws")
}

/// Start the peer on a free port (`npm ci` first if `ws` is missing).
pub async fn spawn_peer() -> anyhow::Result<Spawned> {
    node_peer::spawn("ws", "ws").await
}

/// Connect to the peer and wait until the socket is in the room.
pub async fn connect(port: u16, timeout: Duration) -> anyhow::Result<Socket> {
    let mut socket = client::connect(&format!("ws://127.0.0.1:{port}/")).await?;
    let next = tokio::time::timeout(timeout, socket.next())
        .await
        .context("the ws peer did not greet the socket")?;
    match next {
        Some(Ok(Message::Text(text))) if text.as_str() == JOINED => Ok(socket),
        other => bail!("unexpected first frame from the ws peer (wanted {JOINED}): {other:?}"),
    }
}

/// A `chat` message carrying `text`.
pub fn chat_frame(text: &str) -> Message {
    let payload = serde_json::to_string(&("chat", text)).unwrap_or_default();
    Message::text(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_message_is_the_socketio_payload_without_its_prefix() {
        assert_eq!(
            chat_frame("lt|1|2|3|").into_text().unwrap().as_str(),
            r#"["chat","lt|1|2|3|"]"#
        );
    }
}
