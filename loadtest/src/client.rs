//! The client side of the wire: WebSocket connections with small buffers,
//! and the few HTTP calls the scenarios make.
//!
//! Ten thousand clients share one process, so each socket gets 4 KiB read
//! and write buffers instead of tungstenite's 128 KiB defaults.

use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Open a WebSocket with small per-connection buffers and Nagle off.
pub async fn connect(url: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let (socket, _response) =
        tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    Ok(socket)
}

/// `ws://…/ws/rooms/{room}?token=…`
pub fn room_url(ws_base: &str, room: &str, token: &str) -> String {
    format!("{ws_base}/ws/rooms/{room}?token={token}")
}

/// Read frames until a JSON frame of type `kind` arrives; the frame.
/// Fails on close, error, or after `timeout`.
pub async fn wait_for(socket: &mut Socket, kind: &str, timeout: Duration) -> anyhow::Result<Value> {
    wait_for_any(socket, &[kind], timeout).await
}

/// Read frames until a JSON frame of one of the `kinds` arrives.
pub async fn wait_for_any(
    socket: &mut Socket,
    kinds: &[&str],
    timeout: Duration,
) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next())
            .await
            .with_context(|| format!("no {kinds:?} within {timeout:?}"))?;
        match next {
            Some(Ok(Message::Text(text))) => {
                let value: Value =
                    serde_json::from_str(&text).context("server sent invalid JSON")?;
                if value
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| kinds.contains(&t))
                {
                    return Ok(value);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                bail!("closed while waiting for {kinds:?}: {frame:?}")
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => bail!("socket failed while waiting for {kinds:?}: {e}"),
            None => bail!("socket ended while waiting for {kinds:?}"),
        }
    }
}

/// Open a room through `POST /api/rooms` with an admin token, with one
/// product (id `p1`) of `stock` units.
pub async fn create_room(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    id: &str,
    stock: u32,
) -> anyhow::Result<()> {
    let body = json!({
        "id": id,
        "title": format!("Load test {id}"),
        "seller_name": "Load test",
        "products": [{ "name": "Chè Tân Cương (load test)", "price_vnd": 199000, "stock": stock }],
    });
    let response = http
        .post(format!("{base}/api/rooms"))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .context("POST /api/rooms failed")?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        bail!("POST /api/rooms answered {status}: {text} (does --secret match the server's?)");
    }
    Ok(())
}

/// Does the node at `base` know room `id` (`GET /api/rooms/{id}`: 200 or 404)?
pub async fn room_exists(http: &reqwest::Client, base: &str, id: &str) -> anyhow::Result<bool> {
    let response = http
        .get(format!("{base}/api/rooms/{id}"))
        .send()
        .await
        .with_context(|| format!("GET {base}/api/rooms/{id} failed"))?;
    match response.status() {
        status if status.is_success() => Ok(true),
        reqwest::StatusCode::NOT_FOUND => Ok(false),
        status => bail!("GET {base}/api/rooms/{id} answered {status}"),
    }
}

/// `GET /api/rooms/{id}/orders` as the plan defines it.
#[derive(Debug, Deserialize)]
pub struct Orders {
    pub orders: Vec<Order>,
    pub units_sold: u64,
}

/// The fields of an order the audit needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub sale_id: String,
    pub hold_id: String,
    pub buyer_id: String,
    pub quantity: u32,
}

pub async fn orders(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    room: &str,
) -> anyhow::Result<Orders> {
    let response = http
        .get(format!("{base}/api/rooms/{room}/orders"))
        .bearer_auth(token)
        .send()
        .await
        .context("GET orders failed")?;
    if !response.status().is_success() {
        bail!(
            "GET /api/rooms/{room}/orders answered {}",
            response.status()
        );
    }
    response
        .json()
        .await
        .context("orders body is not the documented JSON")
}
