//! Products wherever they enter a room (issue 8 §5): the catalog of
//! `POST /api/rooms` meets the rules `add_product` and `update_product`
//! meet, and products and sales share one price ceiling.

use chophien::auth::{Role, ANY_ROOM};
use chophien::money::MAX_PRICE_VND;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::server::TestServer;

fn good_product() -> Value {
    json!({"name": "Bình gốm men nâu", "price_vnd": 350000, "stock": 5})
}

/// `POST /api/rooms` as an admin with `products`; the status and body.
async fn create_with(server: &TestServer, products: Vec<Value>) -> (StatusCode, Value) {
    let admin = server.token(ANY_ROOM, Role::Admin, "admin");
    let response = reqwest::Client::new()
        .post(server.http("/api/rooms"))
        .bearer_auth(&admin)
        .json(&json!({"id": "gom", "title": "Gốm Phù Lãng", "products": products}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// The product at index 1 is `bad`; creation must fail naming it.
async fn assert_refused(bad: Value, field: &str) {
    let server = TestServer::start().await;
    let (status, body) = create_with(&server, vec![good_product(), bad.clone()]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    assert_eq!(body["error"]["code"], "invalid_value");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("products[1].{field} ")),
        "{bad}: {message}"
    );
    assert!(
        server.state.rooms.list().await.unwrap().is_empty(),
        "a refused room was opened"
    );
}

#[tokio::test]
async fn room_creation_refuses_a_product_priced_zero() {
    assert_refused(json!({"name": "Chén", "price_vnd": 0}), "price_vnd").await;
}

#[tokio::test]
async fn room_creation_refuses_a_price_over_the_ceiling() {
    assert_refused(
        json!({"name": "Chén", "price_vnd": 18446744073709551615u64}),
        "price_vnd",
    )
    .await;
    assert_refused(
        json!({"name": "Chén", "price_vnd": MAX_PRICE_VND + 1}),
        "price_vnd",
    )
    .await;
}

#[tokio::test]
async fn room_creation_refuses_an_empty_or_blank_product_name() {
    assert_refused(json!({"name": "", "price_vnd": 1000}), "name").await;
    assert_refused(
        json!({"name": "\u{200B}\u{3164}", "price_vnd": 1000}),
        "name",
    )
    .await;
}

#[tokio::test]
async fn room_creation_refuses_a_stock_over_a_million() {
    assert_refused(
        json!({"name": "Chén", "price_vnd": 1000, "stock": 4294967295u32}),
        "stock",
    )
    .await;
}

#[tokio::test]
async fn room_creation_refuses_a_long_description_and_a_foreign_image_url() {
    assert_refused(
        json!({"name": "Chén", "price_vnd": 1000, "description": "x".repeat(1001)}),
        "description",
    )
    .await;
    assert_refused(
        json!({"name": "Chén", "price_vnd": 1000, "image_url": "javascript:alert(1)"}),
        "image_url",
    )
    .await;
}

#[tokio::test]
async fn room_creation_refuses_more_than_200_products() {
    let server = TestServer::start().await;
    let (status, body) = create_with(&server, vec![good_product(); 201]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_value");
    let (status, _) = create_with(&server, vec![good_product(); 200]).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_created_catalog_is_stored_as_add_product_stores_one() {
    let server = TestServer::start().await;
    let product = json!({"name": "  Bình gốm  ", "description": " men nâu ", "price_vnd": MAX_PRICE_VND, "stock": 1000000, "image_url": ""});
    let (status, body) = create_with(&server, vec![product]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, snapshot) = server.join("gom", Role::Viewer, "lan").await;
    assert_eq!(
        snapshot["products"][0],
        json!({"id": "p1", "name": "Bình gốm", "description": "men nâu", "price_vnd": MAX_PRICE_VND,
               "stock": 1000000, "image_url": null})
    );
}

#[tokio::test]
async fn products_and_sales_share_one_price_ceiling() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let over = json!({"name": "Ấm tử sa", "price_vnd": MAX_PRICE_VND + 1});
    seller
        .send(json!({"id": "a", "type": "add_product", "product": over}))
        .await;
    let error = seller.next_of("error").await;
    assert_eq!(error["code"], "invalid_value");
    assert!(error["message"].as_str().unwrap().starts_with("price_vnd "));
    seller
        .send(json!({"id": "u", "type": "update_product", "product_id": "p1", "price_vnd": MAX_PRICE_VND + 1}))
        .await;
    assert_eq!(seller.next_of("error").await["code"], "invalid_value");
    // At the ceiling a product may be added, and put on sale at its price.
    let top = json!({"name": "Ấm tử sa", "price_vnd": MAX_PRICE_VND, "stock": 1});
    seller
        .send(json!({"id": "b", "type": "add_product", "product": top}))
        .await;
    let product = seller.next_of("product_upserted").await["product"].clone();
    seller
        .send(
            json!({"id": "s", "type": "start_sale", "product_id": product["id"], "stock": 1,
                     "price_vnd": MAX_PRICE_VND, "per_buyer_limit": 1, "duration_secs": 60}),
        )
        .await;
    assert_eq!(seller.next_of("ack").await["id"], "s");
}

#[tokio::test]
async fn a_blank_product_name_is_refused_over_the_websocket() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let blank = json!({"name": "\u{2800}\u{FEFF}", "price_vnd": 1000});
    seller
        .send(json!({"id": "a", "type": "add_product", "product": blank}))
        .await;
    let error = seller.next_of("error").await;
    assert_eq!(error["code"], "invalid_value");
    seller
        .send(json!({"id": "u", "type": "update_product", "product_id": "p1", "name": "\u{00AD}"}))
        .await;
    assert_eq!(seller.next_of("error").await["code"], "invalid_value");
}
