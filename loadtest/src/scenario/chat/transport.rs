//! Which server a chat fan-out runs against, and how each speaks: ours
//! (JSON frames with `seq`, an answer to every message), the Socket.IO peer
//! (Engine.IO framing, pings to answer) and the Node `ws` peer (the bare
//! payload). The same markers travel through all three.

use std::sync::Arc;

use tokio_tungstenite::tungstenite::Message;

use crate::baseline::{socketio, ws};
use crate::client::{self, Socket};
use crate::tokens::Minter;

use super::CONNECT_TIMEOUT;

/// Which server the fan-out runs against.
pub enum Transport {
    Chophien {
        /// One per node, node 0 first.
        ws_bases: Vec<String>,
        room: String,
        minter: Arc<Minter>,
    },
    SocketIo {
        port: u16,
    },
    Ws {
        port: u16,
    },
}

impl Transport {
    /// How many nodes clients are spread over.
    pub fn nodes(&self) -> usize {
        match self {
            Transport::Chophien { ws_bases, .. } => ws_bases.len().max(1),
            Transport::SocketIo { .. } | Transport::Ws { .. } => 1,
        }
    }

    /// Connect client `i` to `node` and wait until it is in the room; the
    /// socket and the snapshot's seq (our server only).
    pub async fn connect(&self, i: usize, node: usize) -> anyhow::Result<(Socket, Option<u64>)> {
        match self {
            Transport::Chophien {
                ws_bases,
                room,
                minter,
            } => {
                let token =
                    minter.token(&format!("lt-v{i}"), &format!("Khách {i}"), room, "viewer")?;
                let ws_base = &ws_bases[node % ws_bases.len()];
                let mut socket = client::connect(&client::room_url(ws_base, room, &token)).await?;
                let snapshot = client::wait_for(&mut socket, "snapshot", CONNECT_TIMEOUT).await?;
                Ok((
                    socket,
                    snapshot.get("seq").and_then(serde_json::Value::as_u64),
                ))
            }
            Transport::SocketIo { port } => {
                Ok((socketio::connect(*port, CONNECT_TIMEOUT).await?, None))
            }
            Transport::Ws { port } => Ok((ws::connect(*port, CONNECT_TIMEOUT).await?, None)),
        }
    }

    /// Message `n` of a sender: our server answers it with an ack, or an
    /// error naming `n`.
    pub fn chat_frame(&self, n: u64, text: &str) -> Message {
        match self {
            Transport::Chophien { .. } => Message::text(
                serde_json::json!({ "id": n.to_string(), "type": "chat", "text": text })
                    .to_string(),
            ),
            Transport::SocketIo { .. } => socketio::chat_frame(text),
            Transport::Ws { .. } => ws::chat_frame(text),
        }
    }

    /// The reply to send for an incoming frame (Engine.IO pong), if any.
    pub fn answer(&self, text: &str) -> Option<Message> {
        match self {
            Transport::SocketIo { .. } if socketio::is_ping(text) => Some(Message::text("3")),
            _ => None,
        }
    }

    /// The answer a frame is to a sender's message (our server only): the
    /// message's number and, for an error, its code.
    pub fn answer_to(&self, text: &str) -> Option<(Option<u64>, Option<String>)> {
        if !matches!(self, Transport::Chophien { .. }) || text.contains(r#""seq":"#) {
            return None;
        }
        let is_ack = text.contains(r#""type":"ack""#);
        if !is_ack && !text.contains(r#""type":"error""#) {
            return None;
        }
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let n = value
            .get("id")
            .and_then(serde_json::Value::as_str)
            .and_then(|id| id.parse().ok());
        let code = value.get("code").and_then(serde_json::Value::as_str);
        Some((n, (!is_ack).then(|| code.unwrap_or("?").to_owned())))
    }
}
