//! Chat, hearts, viewer counts, pins and rate limits.

use chophien::auth::Role;
use serde_json::json;

use crate::support::client::Client;
use crate::support::server::{Store, TestServer};

async fn seller_and_viewer(server: &TestServer) -> (Client, Client) {
    server.room("r1").await;
    let (seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let (viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    (seller, viewer)
}

async fn a_chat_message_reaches_everyone_in_the_room(store: Store) {
    let server = store.start().await;
    let (mut seller, mut viewer) = seller_and_viewer(&server).await;
    viewer
        .send(json!({"type": "chat", "text": "Chè này pha mấy lần nước ạ?"}))
        .await;
    for client in [&mut seller, &mut viewer] {
        let event = client.next_of("chat").await;
        assert_eq!(event["message"]["text"], "Chè này pha mấy lần nước ạ?");
        assert_eq!(event["message"]["user_id"], "lan");
        assert_eq!(event["message"]["role"], "viewer");
    }
}

async fn a_request_id_is_echoed_in_the_ack(store: Store) {
    let server = store.start().await;
    let (_, mut viewer) = seller_and_viewer(&server).await;
    viewer
        .send(json!({"id": "req-7", "type": "chat", "text": "chào"}))
        .await;
    assert_eq!(viewer.next_of("ack").await["id"], "req-7");
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let server = TestServer::start().await;
    let (_, mut viewer) = seller_and_viewer(&server).await;
    viewer.send(json!({"type": "ping"})).await;
    viewer.next_of("pong").await;
}

async fn hearts_are_aggregated_into_counts(store: Store) {
    let server = store.start().await;
    let (mut seller, mut viewer) = seller_and_viewer(&server).await;
    for _ in 0..10 {
        viewer.send(json!({"type": "heart", "count": 3})).await;
    }
    let mut total = 0;
    let mut events = 0;
    while total < 30 {
        let event = seller.next_of("hearts").await;
        total = event["total"].as_u64().unwrap();
        events += 1;
    }
    assert_eq!(total, 30);
    assert!(
        events < 10,
        "hearts were not aggregated: {events} events for 10 taps"
    );
}

async fn the_viewer_count_follows_joins_and_leaves(store: Store) {
    let server = store.start().await;
    let (mut seller, viewer) = seller_and_viewer(&server).await;
    assert_eq!(seller.next_of("viewer_count").await["count"], 1);
    drop(viewer);
    assert_eq!(seller.next_of("viewer_count").await["count"], 0);
}

async fn a_pinned_product_appears_for_viewers_and_in_later_snapshots(store: Store) {
    let server = store.start().await;
    let (mut seller, mut viewer) = seller_and_viewer(&server).await;
    seller
        .send(json!({"type": "pin_product", "product_id": "p2"}))
        .await;
    let event = viewer.next_of("product_pinned").await;
    assert_eq!(event["product"]["id"], "p2");
    assert_eq!(event["product"]["price_vnd"], 180_000);
    let (_, snapshot) = server.join("r1", Role::Viewer, "minh").await;
    assert_eq!(snapshot["pinned_product"]["id"], "p2");

    seller.send(json!({"type": "unpin_product"})).await;
    viewer.next_of("product_unpinned").await;
}

async fn the_seller_adds_and_edits_products(store: Store) {
    let server = store.start().await;
    let (mut seller, mut viewer) = seller_and_viewer(&server).await;
    seller
        .send(json!({"type": "add_product", "product": {"name": "Chè búp 100g", "price_vnd": 60000, "stock": 40}}))
        .await;
    let added = viewer.next_of("product_upserted").await;
    let id = added["product"]["id"].as_str().unwrap().to_owned();
    seller
        .send(json!({"type": "update_product", "product_id": id, "price_vnd": 55000}))
        .await;
    let updated = viewer.next_of("product_upserted").await;
    assert_eq!(updated["product"]["price_vnd"], 55000);
    assert_eq!(updated["product"]["stock"], 40);
}

#[tokio::test]
async fn chat_beyond_the_rate_limit_is_refused_with_a_retry_time() {
    let server = TestServer::start().await;
    let (_, mut viewer) = seller_and_viewer(&server).await;
    let burst = server.state.config.limits.chat_burst;
    for i in 0..=burst {
        viewer
            .send(json!({"id": format!("c{i}"), "type": "chat", "text": format!("spam {i}")}))
            .await;
    }
    let error = viewer.next_of("error").await;
    assert_eq!(error["code"], "rate_limited");
    assert_eq!(error["id"], format!("c{burst}"));
    assert!(error["retry_after_ms"].as_u64().unwrap() > 0);
}

async fn the_seller_goes_live_and_everyone_sees_the_status(store: Store) {
    let server = store.start().await;
    let (mut seller, mut viewer) = seller_and_viewer(&server).await;
    seller.send(json!({"type": "go_live"})).await;
    assert_eq!(viewer.next_of("room_status").await["status"], "live");
    seller.send(json!({"id": "again", "type": "go_live"})).await;
    assert_eq!(seller.next_of("error").await["code"], "invalid_state");
}

async fn a_message_of_only_invisible_characters_is_empty(store: Store) {
    let server = store.start().await;
    let (_, mut viewer) = seller_and_viewer(&server).await;
    for text in [
        "\u{200B}",
        " \u{200C}\u{200D} ",
        "\u{2060}\u{FEFF}\u{00AD}",
        "\u{3164}\u{115F}\u{1160}\u{FFA0}",
        "\u{2800}\u{034F}\u{FE0F}",
    ] {
        // Five messages: within the chat burst, so none is rate-limited.
        viewer
            .send(json!({"id": "c", "type": "chat", "text": text}))
            .await;
        let error = viewer.next_of("error").await;
        assert_eq!(error["code"], "invalid_value", "{text:?}");
        assert_eq!(error["message"], "the message is empty", "{text:?}");
    }
}

#[tokio::test]
async fn the_chat_limit_counts_unicode_scalar_values() {
    let server = TestServer::start().await;
    let (_, mut viewer) = seller_and_viewer(&server).await;
    // 500 precomposed Vietnamese letters (1,500 bytes) and 500 emoji (1,000
    // UTF-16 units) are both 500 scalar values: at the limit.
    for text in ["ệ".repeat(500), "🍵".repeat(500)] {
        viewer.send(json!({"type": "chat", "text": text})).await;
        assert_eq!(viewer.next_of("chat").await["message"]["text"], text);
    }
    viewer
        .send(json!({"id": "c", "type": "chat", "text": "🍵".repeat(501)}))
        .await;
    assert_eq!(viewer.next_of("error").await["code"], "invalid_value");
}

crate::on_every_store!(
    a_chat_message_reaches_everyone_in_the_room,
    a_request_id_is_echoed_in_the_ack,
    hearts_are_aggregated_into_counts,
    the_viewer_count_follows_joins_and_leaves,
    a_pinned_product_appears_for_viewers_and_in_later_snapshots,
    the_seller_adds_and_edits_products,
    the_seller_goes_live_and_everyone_sees_the_status,
    a_message_of_only_invisible_characters_is_empty,
);
