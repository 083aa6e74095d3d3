//! The client side of the wire: WebSocket connections with small buffers,
//! and the few HTTP calls the scenarios make.
//!
//! Ten thousand clients share one process, so each socket gets 4 KiB read
//! and write buffers instead of tungstenite's 128 KiB defaults. Beyond
//! ~28,000 connections to one server port, loopback runs out of ephemeral
//! ports for one source address: [`connect_from`] binds the client socket
//! to another loopback address (127.0.0.2, …) first. [`Line`] is a socket
//! read for its whole life, so pings are answered however long a client
//! waits.

mod line;

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use line::Line;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connections one loopback source address carries to one server port
/// before the next address is used: loopback has ~28,000 ephemeral ports
/// (`ip_local_port_range` 32768–60999) per source and destination.
pub const CONNECTIONS_PER_SOURCE: usize = 20_000;

fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Open a WebSocket with small per-connection buffers and Nagle off.
pub async fn connect(url: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let (socket, _response) =
        tokio_tungstenite::connect_async_with_config(url, Some(small_buffers()), true).await?;
    Ok(socket)
}

/// Open a WebSocket as [`connect`] does, from the local address `source`
/// when given (the kernel's choice when `None`).
pub async fn connect_from(url: &str, source: Option<IpAddr>) -> anyhow::Result<Socket> {
    let Some(source) = source else {
        return Ok(connect(url).await?);
    };
    let uri: Uri = url.parse().with_context(|| format!("bad URL {url}"))?;
    let host = uri.host().with_context(|| format!("no host in {url}"))?;
    let port = uri.port_u16().unwrap_or(80);
    let destination = tokio::net::lookup_host((host, port))
        .await?
        .find(|a| a.is_ipv4() == source.is_ipv4())
        .with_context(|| format!("{host} has no address of the family of {source}"))?;
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if source.is_ipv4() {
        bind_address_no_port(&socket)?;
    }
    socket.bind(SocketAddr::new(source, 0))?;
    socket.set_nodelay(true)?;
    let stream = socket.connect(destination).await?;
    let (socket, _response) = tokio_tungstenite::client_async_with_config(
        url,
        MaybeTlsStream::Plain(stream),
        Some(small_buffers()),
    )
    .await?;
    Ok(socket)
}

/// `IP_BIND_ADDRESS_NO_PORT`: let `connect` pick the local port for the
/// whole (source, destination) pair. A plain `bind(ip, 0)` reserves a port
/// for the source address alone, so one address would again stop at
/// ~28,000 sockets whatever their destinations.
fn bind_address_no_port(socket: &TcpSocket) -> std::io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads a c_int (the option's type) from a pointer
    // valid for the length given, on a socket this process owns.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The loopback source address of a node's `j`-th client when the node
/// gets `per_node` clients: `None` (the kernel's choice, 127.0.0.1) while
/// one address suffices, else 127.0.0.1, 127.0.0.2, … round-robin over as
/// many as [`CONNECTIONS_PER_SOURCE`] asks for.
pub fn source_address(j: usize, per_node: usize) -> Option<IpAddr> {
    let sources = per_node.div_ceil(CONNECTIONS_PER_SOURCE);
    if sources <= 1 {
        return None;
    }
    let k = (j % sources) as u8;
    Some(IpAddr::from([127, 0, 0, 1 + k]))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_address_serves_up_to_twenty_thousand_clients() {
        assert_eq!(source_address(0, 20_000), None);
        assert_eq!(source_address(19_999, 20_000), None);
    }

    #[test]
    fn more_clients_are_spread_over_loopback_addresses_round_robin() {
        let at = |j| source_address(j, 50_000).map(|a| a.to_string());
        assert_eq!(at(0).as_deref(), Some("127.0.0.1"));
        assert_eq!(at(1).as_deref(), Some("127.0.0.2"));
        assert_eq!(at(2).as_deref(), Some("127.0.0.3"));
        assert_eq!(at(3).as_deref(), Some("127.0.0.1"));
        let used: std::collections::BTreeSet<_> = (0..50_000).filter_map(at).collect();
        assert_eq!(used.len(), 3);
    }
}
