//! The WebSocket framing edges a client can hit: size limits, UTF-8,
//! bursts of requests in one TCP write, and the order of a room's last frames.

use chophien::auth::Role;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::client::{masked_frame, text_frame, Client};
use crate::support::server::TestServer;

const MIB: usize = 1 << 20;

async fn viewer(server: &TestServer) -> Client {
    server.room("r1").await;
    server.join("r1", Role::Viewer, "lan").await.0
}

#[tokio::test]
async fn a_one_mebibyte_frame_closes_with_1009() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    let chat = json!({"type": "chat", "text": "x".repeat(MIB)}).to_string();
    client.send_bytes(&text_frame(&chat)).await;
    assert_eq!(client.closed().await.0, 1009);
}

#[tokio::test]
async fn a_frame_header_that_announces_one_mebibyte_closes_with_1009() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    // The header alone: the payload never follows.
    client
        .send_bytes(&masked_frame(1, true, MIB as u64, b""))
        .await;
    assert_eq!(client.closed().await.0, 1009);
}

#[tokio::test]
async fn a_one_mebibyte_message_in_16_kib_fragments_closes_with_1009() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    let chunk = vec![b'x'; 16 * 1024];
    let fragments = MIB / chunk.len();
    let mut bytes = Vec::with_capacity(MIB + fragments * 16);
    for i in 0..fragments {
        let opcode = if i == 0 { 1 } else { 0 };
        let fin = i + 1 == fragments;
        bytes.extend(masked_frame(opcode, fin, chunk.len() as u64, &chunk));
    }
    client.send_bytes(&bytes).await;
    assert_eq!(client.closed().await.0, 1009);
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    client
        .send_bytes(&masked_frame(1, true, 2, &[0xC3, 0x28]))
        .await;
    assert_eq!(client.closed().await.0, 1007);
}

#[tokio::test]
async fn seventy_pings_in_one_write_are_each_answered_and_the_connection_stays() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    let burst: Vec<u8> = (0..70)
        .flat_map(|_| text_frame(r#"{"type":"ping"}"#))
        .collect();
    client.send_bytes(&burst).await;
    let (mut pongs, mut limited) = (0, 0);
    while pongs + limited < 70 {
        let reply = client.next().await;
        match reply["type"].as_str() {
            Some("pong") => pongs += 1,
            Some("error") => {
                assert_eq!(reply["code"], "rate_limited", "{reply}");
                limited += 1;
            }
            _ => {}
        }
    }
    // Pings have a rate limit of their own (a burst of 20 by default).
    assert_eq!(pongs, server.state.config.limits.pings_burst);
    client.send(json!({"id": "after", "type": "heart"})).await;
    assert_eq!(client.next_of("ack").await["id"], "after");
}

#[tokio::test]
async fn a_hundred_requests_in_one_write_get_a_hundred_replies_in_order() {
    let server = TestServer::start().await;
    let mut client = viewer(&server).await;
    // More than the reply queue holds (`server.direct_queue`, 64).
    let burst: Vec<u8> = (0..100)
        .flat_map(|i| {
            text_frame(
                &json!({"id": format!("c{i}"), "type": "chat", "text": "chào shop"}).to_string(),
            )
        })
        .collect();
    client.send_bytes(&burst).await;
    let mut next_id = 0;
    while next_id < 100 {
        let reply = client.next().await;
        if reply.get("seq").is_some() || reply["type"] == "my_holds" || reply["type"] == "my_orders"
        {
            continue; // a room event (the accepted chats), or the join's holds and orders
        }
        assert_eq!(reply["id"], format!("c{next_id}"), "{reply}");
        assert!(
            reply["type"] == "ack" || reply["code"] == "rate_limited",
            "{reply}"
        );
        next_id += 1;
    }
    client.send(json!({"id": "after", "type": "ping"})).await;
    client.next_of("pong").await;
}

#[tokio::test]
async fn end_live_is_acknowledged_before_room_closed() {
    let server = TestServer::start().await;
    for round in 0..5 {
        let room = format!("r{round}");
        server.room(&room).await;
        let (mut seller, _) = server.join(&room, Role::Seller, "hoa").await;
        seller.send(json!({"id": "end", "type": "end_live"})).await;
        let mut seen = Vec::new();
        while let Some(message) = seller.next_message().await {
            match message {
                Message::Text(text) => {
                    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                    seen.push(value["type"].as_str().unwrap_or_default().to_owned());
                }
                Message::Close(frame) => {
                    assert_eq!(u16::from(frame.unwrap().code), 4000);
                    break;
                }
                _ => {}
            }
        }
        let ack = seen.iter().position(|t| t == "ack");
        let closed = seen.iter().position(|t| t == "room_closed");
        assert!(ack.is_some() && ack < closed, "{seen:?}");
    }
}
