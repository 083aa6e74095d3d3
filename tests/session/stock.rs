//! One stock per product (issue 11, part 2), on the memory store and on a
//! real Redis: a flash sale takes its units from the product's stock, every
//! client sees the product's count follow, and what the sale did not sell
//! comes back when it ends. A sale's start or end tells the product's new
//! count inside its own `sale_updated` (`product_stock`, issue 10): one
//! frame to every connection for the change, not two.

use std::time::Duration;

use chophien::auth::Role;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::Store;

crate::on_every_store!(
    starting_a_sale_tells_the_products_carved_stock_inside_sale_updated_and_no_product_stock_follows,
    ending_a_sale_with_unsold_units_tells_the_products_restored_stock_inside_sale_updated,
    a_viewer_who_joins_after_the_start_sees_the_carved_stock_in_the_snapshot,
    a_sale_larger_than_the_products_stock_is_refused,
    a_restock_by_the_seller_is_what_the_next_sale_takes_from,
);

fn p1_in(snapshot: &Value) -> u64 {
    let products = snapshot["products"].as_array().unwrap();
    let p1 = products.iter().find(|p| p["id"] == "p1").unwrap();
    p1["stock"].as_u64().unwrap()
}

fn start(stock: u32) -> Value {
    json!({"id": "s", "type": "start_sale", "product_id": "p1", "stock": stock, "price_vnd": 199000,
           "per_buyer_limit": 2, "duration_secs": 600})
}

/// Two of the announcer's ticks (250 ms in tests): long enough for its
/// re-read of the product to have spoken, had it anything to say.
const ANNOUNCER_TICKS: Duration = Duration::from_millis(600);

/// The seller chats a marker; every frame `client` receives up to it.
async fn frames_until_marker(seller: &mut Client, client: &mut Client) -> Vec<Value> {
    seller.send(json!({"type": "chat", "text": "mốc"})).await;
    let mut frames = Vec::new();
    loop {
        let frame = client.next().await;
        if frame["type"] == "chat" && frame["message"]["text"] == "mốc" {
            return frames;
        }
        frames.push(frame);
    }
}

fn no_product_stock(frames: &[Value]) {
    let told: Vec<&Value> = frames
        .iter()
        .filter(|frame| frame["type"] == "product_stock")
        .collect();
    assert!(told.is_empty(), "a separate product_stock: {told:?}");
}

async fn starting_a_sale_tells_the_products_carved_stock_inside_sale_updated_and_no_product_stock_follows(
    store: Store,
) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, snapshot) = server.join("r1", Role::Seller, "hoa").await;
    assert_eq!(p1_in(&snapshot), 120, "the demo catalog");
    let (mut viewer, _) = server.join("r1", Role::Viewer, "lan").await;

    seller.send(start(20)).await;
    seller.next_of("ack").await;
    let started = viewer.next_of("sale_updated").await;
    assert_eq!(started["sale"]["product_id"], "p1");
    assert_eq!(started["sale"]["stock_total"], 20);
    assert_eq!(started["product_stock"], 100, "{started}");
    tokio::time::sleep(ANNOUNCER_TICKS).await;
    no_product_stock(&frames_until_marker(&mut seller, &mut viewer).await);
}

async fn ending_a_sale_with_unsold_units_tells_the_products_restored_stock_inside_sale_updated(
    store: Store,
) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let (mut viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    seller.send(start(20)).await;
    let sale = viewer.next_of("sale_updated").await["sale"].clone();
    viewer
        .send(
            json!({"id": "b", "type": "buy", "sale_id": sale["id"], "quantity": 2,
                     "idempotency_key": "key-lan-00001"}),
        )
        .await;
    assert_eq!(viewer.next_of("buy_result").await["outcome"], "reserved");

    seller
        .send(json!({"id": "e", "type": "end_sale", "sale_id": sale["id"]}))
        .await;
    let ended = viewer.next_of("sale_updated").await;
    assert_eq!(ended["sale"]["state"], "ended");
    // 18 unsold come back; the 2 held stay the buyer's until her hold ends.
    assert_eq!(ended["product_stock"], 118, "{ended}");
    tokio::time::sleep(ANNOUNCER_TICKS).await;
    no_product_stock(&frames_until_marker(&mut seller, &mut viewer).await);
    let (_, late) = server.join("r1", Role::Viewer, "minh").await;
    assert_eq!(p1_in(&late), 118, "a late joiner's catalog agrees");
}

async fn a_viewer_who_joins_after_the_start_sees_the_carved_stock_in_the_snapshot(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    seller.send(start(20)).await;
    seller.next_of("ack").await;
    let (_, late) = server.join("r1", Role::Viewer, "minh").await;
    assert_eq!(p1_in(&late), 100);
    assert_eq!(late["sale"]["stock_total"], 20);
}

async fn a_sale_larger_than_the_products_stock_is_refused(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    seller.send(start(121)).await;
    let refused = seller.next_of("error").await;
    assert_eq!(refused["id"], "s");
    assert_eq!(refused["code"], "insufficient_stock");
    assert!(
        refused["message"].as_str().unwrap().contains("120"),
        "{refused}"
    );
}

async fn a_restock_by_the_seller_is_what_the_next_sale_takes_from(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    seller
        .send(json!({"id": "u", "type": "update_product", "product_id": "p1", "stock": 30}))
        .await;
    seller.next_of("ack").await;
    seller.send(start(31)).await;
    assert_eq!(seller.next_of("error").await["code"], "insufficient_stock");
    seller.send(start(30)).await;
    assert_eq!(seller.next_of("sale_updated").await["product_stock"], 0);
}
