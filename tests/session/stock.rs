//! One stock per product (issue 11, part 2), on the memory store and on a
//! real Redis: a flash sale takes its units from the product's stock, every
//! client sees the product's count follow (`product_stock`), and what the
//! sale did not sell comes back when it ends.

use chophien::auth::Role;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::Store;

crate::on_every_store!(
    a_sale_takes_its_units_from_the_product_and_gives_back_what_is_left,
    a_sale_larger_than_the_products_stock_is_refused,
    a_restock_by_the_seller_is_what_the_next_sale_takes_from,
);

/// The next `product_stock` of p1.
async fn p1_stock(client: &mut Client) -> u64 {
    loop {
        let event = client.next_of("product_stock").await;
        if event["product_id"] == "p1" {
            return event["stock"].as_u64().unwrap_or(u64::MAX);
        }
    }
}

fn p1_in(snapshot: &Value) -> u64 {
    let products = snapshot["products"].as_array().unwrap();
    let p1 = products.iter().find(|p| p["id"] == "p1").unwrap();
    p1["stock"].as_u64().unwrap()
}

fn start(stock: u32) -> Value {
    json!({"id": "s", "type": "start_sale", "product_id": "p1", "stock": stock, "price_vnd": 199000,
           "per_buyer_limit": 2, "duration_secs": 600})
}

async fn a_sale_takes_its_units_from_the_product_and_gives_back_what_is_left(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut seller, snapshot) = server.join("r1", Role::Seller, "hoa").await;
    assert_eq!(p1_in(&snapshot), 120, "the demo catalog");
    let (mut viewer, _) = server.join("r1", Role::Viewer, "lan").await;

    seller.send(start(20)).await;
    assert_eq!(p1_stock(&mut viewer).await, 100);
    let (_, late) = server.join("r1", Role::Viewer, "minh").await;
    assert_eq!(p1_in(&late), 100, "a late joiner's catalog agrees");

    // (The sale was announced just before the product's new stock.)
    let sale = seller.next_of("sale_updated").await["sale"].clone();
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
    // 18 unsold come back; the 2 held stay the buyer's until her hold ends.
    assert_eq!(p1_stock(&mut viewer).await, 118);
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
    assert_eq!(p1_stock(&mut seller).await, 0);
}
