//! The shopping bag (issue 11, part 2) over the wire, on the memory store
//! and on a real Redis: viewers reserve catalog products at their regular
//! price, see every product's count follow, and check out once; a reload
//! brings the bag back; bad frames get typed errors.

use chophien::auth::Role;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::{Store, TestServer};

crate::on_every_store!(
    a_viewer_fills_her_bag_and_checks_out_once,
    the_bag_opens_when_the_live_starts,
    a_reload_brings_the_bag_back,
    a_limit_the_seller_sets_holds_in_the_bag,
    a_line_taken_out_goes_back_on_sale,
    bad_bag_frames_get_typed_errors,
);

/// A live room `r1` with the seller connected.
async fn live_room(server: &TestServer) -> Client {
    server.room("r1").await;
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    seller.send(json!({"id": "live", "type": "go_live"})).await;
    seller.next_of("ack").await;
    seller
}

fn add(product: &str, quantity: u32, key: &str) -> Value {
    json!({"id": key, "type": "add_to_bag", "product_id": product, "quantity": quantity,
           "idempotency_key": key})
}

/// Sends `add_to_bag` and returns its `bag_result`.
async fn bag(client: &mut Client, product: &str, quantity: u32, key: &str) -> Value {
    client.send(add(product, quantity, key)).await;
    let result = client.next_of("bag_result").await;
    assert_eq!(result["id"], key);
    assert_eq!(result["product_id"], product);
    result
}

fn checkout(holds: &[&Value]) -> Value {
    let ids: Vec<&Value> = holds.iter().map(|hold| &hold["hold_id"]).collect();
    json!({"id": "k", "type": "checkout_bag", "hold_ids": ids,
           "shipping": {"name": "Nguyễn Thị Lan", "phone": "0912 345 678",
                        "address": "12 Hoàng Văn Thụ, TP Thái Nguyên"}})
}

/// The next `product_stock` of `product`.
async fn stock_of(client: &mut Client, product: &str) -> u64 {
    loop {
        let event = client.next_of("product_stock").await;
        if event["product_id"] == product {
            return event["stock"].as_u64().unwrap_or(u64::MAX);
        }
    }
}

async fn a_viewer_fills_her_bag_and_checks_out_once(store: Store) {
    let server = store.start().await;
    let mut seller = live_room(&server).await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    let (mut minh, _) = server.join("r1", Role::Viewer, "minh").await;

    let tea = bag(&mut lan, "p1", 2, "key-lan-00001").await;
    assert_eq!(tea["outcome"], "reserved");
    let tea = tea["hold"].clone();
    assert_eq!(tea["sale_id"], "bag");
    assert_eq!(tea["product_id"], "p1");
    assert_eq!(tea["unit_price_vnd"], 250000);
    assert_eq!(
        stock_of(&mut minh, "p1").await,
        118,
        "everyone sees the count"
    );
    let hook = bag(&mut lan, "p2", 1, "key-lan-00002").await["hold"].clone();

    lan.send(checkout(&[&tea, &hook])).await;
    let order = lan.next_of("order_confirmed").await["order"].clone();
    assert_eq!(order["sale_id"], "bag");
    assert_eq!(order["total_vnd"], 2 * 250000 + 180000);
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);
    assert_eq!(order["shipping"]["phone"], "0912345678");
    let purchase = seller.next_of("sale_purchase").await;
    assert_eq!(
        (&purchase["sale_id"], &purchase["quantity"]),
        (&json!("bag"), &json!(3))
    );
    // Checking out again (a lost answer) returns the same order.
    lan.send(checkout(&[&tea, &hook])).await;
    let again = lan.next_of("order_confirmed").await["order"].clone();
    assert_eq!(again["order_id"], order["order_id"]);
    lan.send(json!({"id": "o", "type": "list_my_orders"})).await;
    let mine = lan.next_of("my_orders").await;
    assert_eq!(mine["orders"].as_array().unwrap().len(), 1);
}

async fn the_bag_opens_when_the_live_starts(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    lan.send(add("p1", 1, "key-lan-00001")).await;
    let refused = lan.next_of("error").await;
    assert_eq!(refused["code"], "invalid_state");
    let (mut seller, _) = server.join("r1", Role::Seller, "hoa").await;
    seller.send(json!({"id": "live", "type": "go_live"})).await;
    seller.next_of("ack").await;
    assert_eq!(
        bag(&mut lan, "p1", 1, "key-lan-00001").await["outcome"],
        "reserved"
    );
    lan.send(add("p9", 1, "key-lan-00002")).await;
    assert_eq!(lan.next_of("error").await["code"], "product_not_found");
}

async fn a_reload_brings_the_bag_back(store: Store) {
    let server = store.start().await;
    let _seller = live_room(&server).await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    let hold = bag(&mut lan, "p2", 3, "key-lan-00001").await["hold"].clone();
    drop(lan);
    let (mut again, _) = server.join("r1", Role::Viewer, "lan").await;
    let mine = again.next_of("my_holds").await;
    assert_eq!(mine["holds"], json!([hold]));
}

async fn a_limit_the_seller_sets_holds_in_the_bag(store: Store) {
    let server = store.start().await;
    let mut seller = live_room(&server).await;
    seller
        .send(
            json!({"id": "u", "type": "update_product", "product_id": "p1",
                     "per_buyer_limit": 2}),
        )
        .await;
    let upserted = seller.next_of("product_upserted").await;
    assert_eq!(upserted["product"]["per_buyer_limit"], 2);
    let (mut lan, snapshot) = server.join("r1", Role::Viewer, "lan").await;
    assert_eq!(snapshot["products"][0]["per_buyer_limit"], 2);
    assert_eq!(
        bag(&mut lan, "p1", 2, "key-lan-00001").await["outcome"],
        "reserved"
    );
    assert_eq!(
        bag(&mut lan, "p1", 1, "key-lan-00002").await["outcome"],
        "limit_reached"
    );
    seller
        .send(
            json!({"id": "u0", "type": "update_product", "product_id": "p1",
                     "per_buyer_limit": 0}),
        )
        .await;
    let lifted = seller.next_of("product_upserted").await;
    assert!(
        lifted["product"].get("per_buyer_limit").is_none(),
        "{lifted}"
    );
    assert_eq!(
        bag(&mut lan, "p1", 1, "key-lan-00003").await["outcome"],
        "reserved"
    );
}

async fn a_line_taken_out_goes_back_on_sale(store: Store) {
    let server = store.start().await;
    let _seller = live_room(&server).await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    let hold = bag(&mut lan, "p1", 20, "key-lan-00001").await["hold"].clone();
    assert_eq!(stock_of(&mut lan, "p1").await, 100);
    lan.send(json!({"id": "x", "type": "cancel_hold", "hold_id": hold["hold_id"]}))
        .await;
    assert_eq!(
        lan.next_of("hold_cancelled").await["hold_id"],
        hold["hold_id"]
    );
    assert_eq!(stock_of(&mut lan, "p1").await, 120);
    lan.send(checkout(&[&hold])).await;
    assert_eq!(lan.next_of("error").await["code"], "hold_not_found");
}

async fn bad_bag_frames_get_typed_errors(store: Store) {
    let server = store.start().await;
    let _seller = live_room(&server).await;
    let (mut lan, _) = server.join("r1", Role::Viewer, "lan").await;
    assert_eq!(
        refused(&mut lan, add("p1", 0, "key-lan-00001")).await,
        "invalid_value"
    );
    assert_eq!(
        refused(&mut lan, add("p1", 1, "short")).await,
        "invalid_value"
    );
    assert_eq!(
        refused(
            &mut lan,
            json!({"type": "add_to_bag", "product_id": "p1", "quantity": -1,
                       "idempotency_key": "key-lan-00001"})
        )
        .await,
        "bad_request"
    );
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"hold_id": format!("bag-{i:016x}")}))
        .collect();
    let many: Vec<&Value> = many.iter().collect();
    assert_eq!(refused(&mut lan, checkout(&many)).await, "invalid_value");
    assert_eq!(refused(&mut lan, checkout(&[])).await, "invalid_value");
    let forged = json!({"hold_id": "bag-00000000000000ff"});
    assert_eq!(
        refused(&mut lan, checkout(&[&forged])).await,
        "hold_not_found"
    );
    let mut bad_phone = checkout(&[&forged]);
    bad_phone["shipping"]["phone"] = json!("12");
    assert_eq!(refused(&mut lan, bad_phone).await, "invalid_shipping");
}

/// Sends `frame` and returns the code of the error that answers it.
async fn refused(client: &mut Client, frame: Value) -> Value {
    client.send(frame).await;
    client.next_of("error").await["code"].clone()
}
