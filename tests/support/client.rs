//! A real WebSocket client speaking the room protocol (tokio-tungstenite).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Hang guard for every wait: far above anything a passing test needs.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The seq of the last room event seen, for resume tests.
    pub last_seq: u64,
}

/// How the server refused the upgrade.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl Client {
    pub async fn connect(url: &str) -> Result<Client, Refused> {
        Client::connect_with(url, &[]).await
    }

    /// Connect with extra request headers, e.g. `Authorization`.
    pub async fn connect_with(url: &str, headers: &[(&str, &str)]) -> Result<Client, Refused> {
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            request.headers_mut().append(name, value.parse().unwrap());
        }
        match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect hang")
        {
            Ok((ws, _)) => Ok(Client { ws, last_seq: 0 }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Err(Refused { status, body })
            }
            Err(e) => panic!("connect failed: {e}"),
        }
    }

    /// Connect and read the first frame, which must be a snapshot.
    pub async fn join(url: &str) -> (Client, Value) {
        let mut client = Client::connect(url).await.expect("join refused");
        let snapshot = client.next().await;
        assert_eq!(snapshot["type"], "snapshot", "first frame: {snapshot}");
        client.last_seq = snapshot["seq"].as_u64().unwrap();
        (client, snapshot)
    }

    pub async fn send(&mut self, value: Value) {
        self.ws
            .send(Message::text(value.to_string()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// Write bytes straight to the TCP socket, under the WebSocket framing
    /// (see [`masked_frame`]): many frames in one write, or a frame header
    /// whose payload never comes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        match self.ws.get_mut() {
            MaybeTlsStream::Plain(tcp) => tcp.write_all(bytes).await.unwrap(),
            _ => panic!("tests use plain TCP"),
        }
    }

    /// The next frame of any kind (pings skipped), or `None` once the
    /// server has closed: for counting replies.
    pub async fn next_message(&mut self) -> Option<Message> {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame in time");
            match message {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(message)) => return Some(message),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next JSON frame (pings are skipped). Panics on close.
    pub async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if let Some(seq) = value["seq"].as_u64() {
                        self.last_seq = seq;
                    }
                    return value;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Skip frames until one of type `kind`.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let value = self.next().await;
            if value["type"] == kind {
                return value;
            }
        }
    }

    /// Skip frames until one whose type is one of `kinds`.
    pub async fn next_of_any(&mut self, kinds: &[&str]) -> Value {
        loop {
            let value = self.next().await;
            if kinds.iter().any(|kind| value["type"] == *kind) {
                return value;
            }
        }
    }

    /// The next `ack`, or `None` if the connection ends first (room events
    /// and other frames before it are skipped).
    pub async fn next_ack_or_close(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ack" {
                        return Some(value);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Read until the server closes; the close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no close in time");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (frame.code.into(), frame.reason.to_string())
                }
                Some(Ok(Message::Close(None))) | None => return (1005, String::new()),
                Some(Ok(Message::Text(text))) => {
                    if let Some(seq) = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v["seq"].as_u64())
                    {
                        self.last_seq = seq;
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) => return (1006, String::new()),
            }
        }
    }
}

/// A client frame as it goes on the wire: FIN bit, opcode (1 text, 2
/// binary, 0 continuation, 8 close, 9 ping), masked with the all-zero key
/// (so the payload goes as is), and a length that may announce more bytes
/// than `payload` holds.
pub fn masked_frame(opcode: u8, fin: bool, announced_len: u64, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
    match announced_len {
        0..=125 => frame.push(0x80 | announced_len as u8),
        126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(announced_len as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&announced_len.to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// A whole masked text frame of `text`.
pub fn text_frame(text: &str) -> Vec<u8> {
    masked_frame(1, true, text.len() as u64, text.as_bytes())
}

/// A client that follows a room the way the web client does: whenever the
/// server ends its connection it reconnects (to whatever `url_for` gives,
/// e.g. through a load balancer) with `last_seq`, and it keeps every room
/// event it is given, in order, so a test can check that nothing was lost
/// or repeated across reconnects.
pub struct Follower {
    /// The room events received, across every connection.
    pub events: Vec<Value>,
    /// Initial frames after a reconnect that were snapshots, not resumes.
    pub snapshots_after_start: u32,
    pub reconnects: u32,
}

impl Follower {
    /// Follow until an event satisfies `until` (inclusive) or `limit` passes.
    pub async fn follow(
        url_for: impl Fn(Option<u64>) -> String,
        until: impl Fn(&Value) -> bool,
        limit: Duration,
    ) -> Follower {
        let deadline = tokio::time::Instant::now() + limit;
        let mut follower = Follower {
            events: Vec::new(),
            snapshots_after_start: 0,
            reconnects: 0,
        };
        let mut last_seq: Option<u64> = None;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up following after {limit:?}: {} events, last seq {last_seq:?}",
                follower.events.len()
            );
            let request = url_for(last_seq).into_client_request().unwrap();
            let Ok(Ok((mut ws, _))) =
                tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request)).await
            else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let mut first = true;
            while let Ok(Some(Ok(message))) = tokio::time::timeout(WAIT, ws.next()).await {
                let Message::Text(text) = message else {
                    continue;
                };
                let value: Value = serde_json::from_str(&text).unwrap();
                if first {
                    first = false;
                    if value["type"] == "snapshot" {
                        if last_seq.is_some() {
                            follower.snapshots_after_start += 1;
                        }
                        last_seq = value["seq"].as_u64();
                    }
                    continue;
                }
                if let Some(seq) = value["seq"].as_u64() {
                    last_seq = Some(seq);
                    let done = until(&value);
                    follower.events.push(value);
                    if done {
                        return follower;
                    }
                }
            }
            follower.reconnects += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The seqs received, which must rise by one each time.
    pub fn assert_contiguous(&self) {
        for pair in self.events.windows(2) {
            let (a, b) = (pair[0]["seq"].as_u64(), pair[1]["seq"].as_u64());
            assert_eq!(
                b,
                a.map(|a| a + 1),
                "a gap or a repeat between {} and {}",
                pair[0],
                pair[1]
            );
        }
    }

    /// The texts of the chat messages received, in order.
    pub fn chat_texts(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["type"] == "chat")
            .filter_map(|e| e["message"]["text"].as_str().map(str::to_owned))
            .collect()
    }
}
