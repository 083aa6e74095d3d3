//! Server life cycle and back-pressure: graceful shutdown, slow consumers.

use chophien::auth::Role;
use serde_json::json;

use crate::support::server::{test_config, TestServer};

#[tokio::test]
async fn shutdown_tells_clients_and_closes_with_1001() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let (mut viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    let shutdown = tokio::spawn(server.shutdown());
    assert_eq!(
        viewer.next_of("server_shutdown").await["type"],
        "server_shutdown"
    );
    assert_eq!(viewer.closed().await.0, 1001);
    shutdown.await.unwrap();
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_as_a_slow_consumer() {
    let mut config = test_config();
    config.server.room_event_buffer = 16;
    config.rooms.max_chat_chars = 8000;
    config.server.max_frame_bytes = 16 * 1024;
    config.limits.chat_per_sec = 100_000;
    config.limits.chat_burst = 100_000;
    // Long enough that the stalled write outlasts the sending phase on a busy machine.
    config.server.write_timeout_secs = 120;
    let server = TestServer::with_config(config).await;
    server.room("r1").await;
    // The slow viewer joins and then never reads.
    let (mut slow, _) = server.join("r1", Role::Viewer, "slow").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let text = "x".repeat(8000);
    // Far more than socket buffers hold: the server's writer must fall behind.
    // The sender reads its own echo each time, so only the slow viewer falls behind.
    for _ in 0..3000 {
        seller.send(json!({"type": "chat", "text": text})).await;
        seller.next_of("chat").await;
    }
    let (code, reason) = slow.closed().await;
    assert_eq!(code, 4008, "{reason}");
    assert!(reason.contains("last_seq="), "{reason}");
    assert!(server.state.metrics.slow_consumers.get() >= 1);
}
