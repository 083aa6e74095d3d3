//! The Socket.IO peer (`loadtest/peers/socketio/server.js`) and a tiny
//! client for it.
//!
//! The client speaks Engine.IO v4 over a plain WebSocket, which is all the
//! peer needs: the server opens with `0{…}`, the client joins the default
//! namespace with `40` (answered by `40{…}`), events are `42["name",data]`,
//! and the server's `2` (ping) is answered with `3` (pong).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Socket};
use crate::target::Spawned;

/// The peer's directory (package.json, package-lock.json, server.js).
pub fn peer_dir() -> PathBuf {
    super::node_peer::dir("socketio")
}

/// Start the peer on a free port, installing its packages first (`npm ci`)
/// if they are missing.
pub async fn spawn_peer() -> anyhow::Result<Spawned> {
    super::node_peer::spawn("socketio", "socket.io").await
}

/// Connect to the peer and join the default namespace.
pub async fn connect(port: u16, timeout: Duration) -> anyhow::Result<Socket> {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let mut socket = client::connect(&url).await?;
    expect_prefix(&mut socket, "0", timeout).await?;
    socket.send(Message::text("40")).await?;
    expect_prefix(&mut socket, "40", timeout).await?;
    Ok(socket)
}

async fn expect_prefix(socket: &mut Socket, prefix: &str, timeout: Duration) -> anyhow::Result<()> {
    let next = tokio::time::timeout(timeout, socket.next())
        .await
        .context("Engine.IO handshake timed out")?;
    match next {
        Some(Ok(Message::Text(text))) if text.starts_with(prefix) => Ok(()),
        other => bail!("unexpected Engine.IO handshake frame (wanted `{prefix}…`): {other:?}"),
    }
}

/// A `chat` event carrying `text`.
pub fn chat_frame(text: &str) -> Message {
    let payload = serde_json::to_string(&("chat", text)).unwrap_or_default();
    Message::text(format!("42{payload}"))
}

/// Is this frame an Engine.IO ping that must be answered with `3`?
pub fn is_ping(text: &str) -> bool {
    text == "2"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_event_is_an_engine_io_message_packet() {
        assert_eq!(
            chat_frame("lt|1|2|3|").into_text().unwrap().as_str(),
            r#"42["chat","lt|1|2|3|"]"#
        );
    }
}
