//! VietQR bank-transfer payment (issue 11 part 4), black-box: codes drawn by
//! the server are read back with a real QR reader (Debian's `zbarimg`) and
//! their fields checked by a parser and a CRC written here, independently
//! of `chophien::payment`; the HTTP endpoints over a real socket, with
//! orders made through the real WebSocket flow; the payment store on
//! memory and on a real `redis-server`.
//!
//! `zbarimg` (package `zbar-tools`, which `tests/run-all` installs) must be
//! there: without it these tests fail, they never skip.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chophien::auth::Role;
use chophien::payment::{vietqr, BankAccount, PaymentError, PaymentStore};
use chophien::redis_link::RedisLink;
use reqwest::StatusCode;
use serde_json::{json, Value};

use support::client::Client;
use support::redis::RedisServer;
use support::server::{Store, TestServer};

// ---------------------------------------------------------------------------
// Reading a code back, independently of the crate.
// ---------------------------------------------------------------------------

const ZBARIMG: &str = "/usr/bin/zbarimg";

/// The text of the one QR code in the PNG `bytes`, read by `zbarimg`.
fn read_qr(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("code.png");
    std::fs::write(&path, bytes).expect("write the PNG");
    read_qr_file(&path)
}

fn read_qr_file(path: &Path) -> String {
    assert!(
        Path::new(ZBARIMG).exists(),
        "{ZBARIMG} is missing: install zbar-tools (apt-get install zbar-tools); \
         this test reads the QR code back with it and does not skip"
    );
    let output = Command::new(ZBARIMG)
        .args(["--raw", "-q"])
        .arg(path)
        .output()
        .expect("run zbarimg");
    assert!(
        output.status.success(),
        "zbarimg found no code ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("zbarimg prints UTF-8");
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

/// EMVCo TLV fields: (ID, value), each length checked to be 2 decimal
/// digits that fit the rest of the text.
fn tlv(text: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "a field too short in {text:?}");
        let (id, len) = (&rest[..2], &rest[2..4]);
        assert!(id.bytes().all(|b| b.is_ascii_digit()), "ID {id:?}");
        assert!(len.bytes().all(|b| b.is_ascii_digit()), "length {len:?}");
        let len: usize = len.parse().unwrap();
        assert!(rest.len() >= 4 + len, "field {id} runs past the end");
        fields.push((id.to_owned(), rest[4..4 + len].to_owned()));
        rest = &rest[4 + len..];
    }
    fields
}

/// CRC-16/CCITT-FALSE, bit by bit: poly 0x1021, init 0xFFFF, MSB first,
/// no final XOR.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// What a payment code must say.
struct Expected<'a> {
    bin: &'a str,
    account_number: &'a str,
    amount_vnd: u64,
    note: &'a str,
}

/// Checks every field of a VietQR payload, in order, and its CRC.
fn check_payload(payload: &str, expected: &Expected) {
    let fields = tlv(payload);
    let ids: Vec<&str> = fields.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["00", "01", "38", "53", "54", "58", "62", "63"],
        "{payload}"
    );
    let value = |id: &str| &fields.iter().find(|(i, _)| i == id).unwrap().1;
    assert_eq!(value("00"), "01", "payload format indicator");
    assert_eq!(value("01"), "12", "dynamic: the code carries an amount");

    let merchant = tlv(value("38"));
    let ids: Vec<&str> = merchant.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["00", "01", "02"]);
    assert_eq!(merchant[0].1, "A000000727", "NAPAS GUID");
    let beneficiary = tlv(&merchant[1].1);
    assert_eq!(
        beneficiary,
        [
            ("00".to_owned(), expected.bin.to_owned()),
            ("01".to_owned(), expected.account_number.to_owned())
        ]
    );
    assert_eq!(merchant[2].1, "QRIBFTTA", "transfer to an account");

    assert_eq!(value("53"), "704", "VND");
    assert_eq!(value("54"), &expected.amount_vnd.to_string());
    assert_eq!(value("58"), "VN");
    assert_eq!(
        tlv(value("62")),
        [("08".to_owned(), expected.note.to_owned())]
    );

    let crc = value("63");
    assert_eq!(crc.len(), 4);
    assert!(crc
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
    let covered = &payload[..payload.len() - 4];
    assert!(covered.ends_with("6304"));
    assert_eq!(*crc, format!("{:04X}", crc16(covered.as_bytes())));
}

#[test]
fn the_test_crc_is_ccitt_false() {
    assert_eq!(crc16(b"123456789"), 0x29B1);
}

#[test]
fn a_drawn_code_reads_back_with_every_field_of_the_transfer() {
    let account = BankAccount::new("970415", "103870123456", "Trần Văn Bình").unwrap();
    let payload = vietqr::payload(&account, 1_250_000, "Thanh toán đơn ABC").unwrap();
    let read = read_qr(&vietqr::png(&payload).unwrap());
    assert_eq!(read, payload);
    check_payload(
        &read,
        &Expected {
            bin: "970415",
            account_number: "103870123456",
            amount_vnd: 1_250_000,
            note: "Thanh toan don ABC",
        },
    );
}

#[test]
fn the_longest_fields_still_read_back() {
    let account = BankAccount::new("970436", "1234567890123456789", &"A".repeat(50)).unwrap();
    let amount = 1_000_000_000_000;
    let note = "Đơn hàng số 0123456789 ABCDEFGH";
    let payload = vietqr::payload(&account, amount, note).unwrap();
    check_payload(
        &read_qr(&vietqr::png(&payload).unwrap()),
        &Expected {
            bin: "970436",
            account_number: "1234567890123456789",
            amount_vnd: amount,
            note: "Don hang so 0123456789 AB",
        },
    );
}

// ---------------------------------------------------------------------------
// Over HTTP, with orders made through the WebSocket.
// ---------------------------------------------------------------------------

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

fn lan_account() -> Value {
    json!({"bin": "970436", "account_number": "0011001234567", "account_name": "Nguyễn Thị Lan"})
}

async fn put_account(
    server: &TestServer,
    room: &str,
    token: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let response = http()
        .put(server.http(&format!("/api/rooms/{room}/payment")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The status and JSON body of a GET with `token` in the query.
async fn get_json(server: &TestServer, path_and_query: &str) -> (StatusCode, Value) {
    let response = http()
        .get(server.http(path_and_query))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A live sale of p1 (199,000 đồng) in `room`, and an order of two units
/// by viewer `buyer` paying by bank transfer, made over the WebSocket: the
/// order's id and total.
async fn order_by(server: &TestServer, room: &str, buyer: &str) -> (String, u64) {
    order_paid_by(server, room, buyer, "bank_transfer").await
}

/// As [`order_by`], paying by `payment`.
async fn order_paid_by(
    server: &TestServer,
    room: &str,
    buyer: &str,
    payment: &str,
) -> (String, u64) {
    let (mut seller, _) = server.join(room, Role::Seller, "hoa").await;
    let (mut viewer, _) = server.join(room, Role::Viewer, buyer).await;
    seller
        .send(
            json!({"id": "s", "type": "start_sale", "product_id": "p1", "stock": 5,
                     "price_vnd": 199000, "per_buyer_limit": 2, "duration_secs": 600,
                     "hold_secs": 120}),
        )
        .await;
    seller.next_of("ack").await;
    let sale_id = viewer.next_of("sale_updated").await["sale"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    viewer
        .send(
            json!({"id": "b", "type": "buy", "sale_id": sale_id, "quantity": 2,
                     "idempotency_key": "key-000001"}),
        )
        .await;
    let result = viewer.next_of("buy_result").await;
    assert_eq!(result["outcome"], "reserved");
    let hold_id = result["hold"]["hold_id"].as_str().unwrap().to_owned();
    viewer
        .send(
            json!({"id": "c", "type": "confirm_hold", "hold_id": hold_id, "shipping":
                     {"name": "Nguyễn Thị Lan", "phone": "0912 345 678",
                      "address": "12 Hoàng Văn Thụ, TP Thái Nguyên"}, "payment": payment}),
        )
        .await;
    let order = viewer.next_of("order_confirmed").await["order"].clone();
    close(seller).await;
    close(viewer).await;
    (
        order["order_id"].as_str().unwrap().to_owned(),
        order["total_vnd"].as_u64().unwrap(),
    )
}

async fn close(client: Client) {
    drop(client);
}

/// The seller gives her account; a buyer orders over the WebSocket and
/// scans the code of her order: the bank, account, exact total and a note
/// naming the order read back from the PNG.
async fn a_buyer_scans_her_order_and_reads_the_amount_and_note(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let seller = server.token("r1", Role::Seller, "hoa");
    let (status, account) = put_account(&server, "r1", &seller, &lan_account()).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["account_name"], "NGUYEN THI LAN");

    let (order_id, total) = order_by(&server, "r1", "lan").await;
    assert_eq!(total, 398_000);
    let buyer = server.token("r1", Role::Viewer, "lan");
    let png = http()
        .get(server.http(&format!(
            "/api/rooms/r1/orders/{order_id}/vietqr.png?token={buyer}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(png.headers()["cache-control"], "no-store");
    let read = read_qr(&png.bytes().await.unwrap());
    let note = format!("CP {}", order_id.to_uppercase());
    check_payload(
        &read,
        &Expected {
            bin: "970436",
            account_number: "0011001234567",
            amount_vnd: 398_000,
            note: &note,
        },
    );

    // The JSON variant, token in the header, says the same beside the name.
    let code: Value = http()
        .get(server.http(&format!("/api/rooms/r1/orders/{order_id}/vietqr")))
        .bearer_auth(&buyer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code["payload"], read.as_str());
    assert_eq!(code["amount_vnd"], 398_000);
    assert_eq!(code["note"], note.as_str());
    assert_eq!(code["account_name"], "NGUYEN THI LAN");
    assert_eq!(code["account_number"], "0011001234567");
    assert_eq!(code["bin"], "970436");
    assert_eq!(code["bank"]["short_name"], "Vietcombank");

    // The seller sees the same code, as SVG.
    let svg = http()
        .get(server.http(&format!("/api/rooms/r1/orders/{order_id}/vietqr.svg")))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status(), StatusCode::OK);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
    server.shutdown().await;
}

/// The seller sets, reads, replaces and removes her account; bad values
/// are 422 naming the field; nobody else may touch it.
async fn the_seller_sets_reads_and_removes_the_account(store: Store) {
    let server = store.start().await;
    server.room("r1").await;
    let seller = server.token("r1", Role::Seller, "hoa");
    let path = "/api/rooms/r1/payment";

    let (status, body) = get_json(&server, &format!("{path}?token={seller}")).await;
    // Settings take the token from the header only.
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let read = || async {
        let response = http()
            .get(server.http(path))
            .bearer_auth(&seller)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json::<Value>().await.unwrap())
    };
    let (status, body) = read().await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "payment_not_set");

    let (status, set) = put_account(&server, "r1", &seller, &lan_account()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        set,
        json!({"bin": "970436", "account_number": "0011001234567", "account_name": "NGUYEN THI LAN",
               "bank": {"short_name": "Vietcombank", "name": "Ngân hàng TMCP Ngoại Thương Việt Nam",
                        "bin": "970436"}})
    );
    assert_eq!(read().await, (StatusCode::OK, set));

    // Any 6-digit BIN, known or not, replaces the account whole.
    let other = json!({"bin": "123456", "account_number": "99998888", "account_name": "HOA SHOP"});
    let (status, set) = put_account(&server, "r1", &seller, &other).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(set["bank"], Value::Null);
    assert_eq!(read().await.1["account_number"], "99998888");

    for (body, field) in [
        (
            json!({"bin": "97043", "account_number": "0011001234567", "account_name": "LAN"}),
            "bin",
        ),
        (
            json!({"bin": "970436", "account_number": "12-34", "account_name": "LAN"}),
            "account_number",
        ),
        (
            json!({"bin": "970436", "account_number": "0011001234567", "account_name": "LAN & CO"}),
            "account_name",
        ),
    ] {
        let (status, error) = put_account(&server, "r1", &seller, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error["error"]["code"], "invalid_value");
        assert_eq!(error["error"]["field"], field);
    }
    let (status, error) = put_account(&server, "r1", &seller, &json!({"bin": "970436"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "bad_request");
    // Refused values changed nothing.
    assert_eq!(read().await.1["account_number"], "99998888");

    let viewer = server.token("r1", Role::Viewer, "lan");
    let (status, error) = put_account(&server, "r1", &viewer, &lan_account()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["error"]["code"], "forbidden");
    let other_seller = server.token("r2", Role::Seller, "mai");
    assert_eq!(
        put_account(&server, "r1", &other_seller, &lan_account())
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, error) = put_account(&server, "nowhere", &seller, &lan_account()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"]["code"], "room_not_found");
    let anonymous = http()
        .put(server.http(path))
        .json(&lan_account())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // `null` removes it, and so does DELETE (twice is harmless); an admin may.
    let (status, _) = put_account(&server, "r1", &seller, &Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(read().await.1["error"]["code"], "payment_not_set");
    let admin = server.token("*", Role::Admin, "root");
    assert_eq!(
        put_account(&server, "r1", &admin, &lan_account()).await.0,
        StatusCode::OK
    );
    for _ in 0..2 {
        let deleted = http()
            .delete(server.http(path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(read().await.1["error"]["code"], "payment_not_set");
    server.shutdown().await;
}

crate::on_every_store!(
    a_buyer_scans_her_order_and_reads_the_amount_and_note,
    the_seller_sets_reads_and_removes_the_account,
);

#[tokio::test]
async fn only_the_buyer_and_the_rooms_seller_or_an_admin_get_an_orders_code() {
    let server = TestServer::start().await;
    server.room("r1").await;
    server.room("r2").await;
    let seller = server.token("r1", Role::Seller, "hoa");
    put_account(&server, "r1", &seller, &lan_account()).await;
    let (order_id, _) = order_by(&server, "r1", "lan").await;
    let code = |token: String| {
        let path = format!("/api/rooms/r1/orders/{order_id}/vietqr.png?token={token}");
        let server = &server;
        async move { get_json(server, &path).await }
    };

    assert_eq!(
        code(server.token("r1", Role::Viewer, "lan")).await.0,
        StatusCode::OK
    );
    assert_eq!(code(seller.clone()).await.0, StatusCode::OK);
    assert_eq!(
        code(server.token("*", Role::Admin, "root")).await.0,
        StatusCode::OK
    );

    // Another viewer of the room: as if the order did not exist.
    let (status, body) = code(server.token("r1", Role::Viewer, "minh")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "order_not_found");
    // A moderator is not the seller.
    let (status, _) = code(server.token("r1", Role::Moderator, "tuan")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The buyer's identity with a token of another room, another room's seller.
    for token in [
        server.token("r2", Role::Viewer, "lan"),
        server.token("r2", Role::Seller, "mai"),
    ] {
        let (status, body) = code(token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "forbidden");
    }
    // No token, a bad token, an unknown order.
    let (status, _) = get_json(&server, &format!("/api/rooms/r1/orders/{order_id}/vietqr")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code("not-a-token".into()).await.0, StatusCode::UNAUTHORIZED);
    let lan = server.token("r1", Role::Viewer, "lan");
    let (status, body) = get_json(
        &server,
        &format!("/api/rooms/r1/orders/0000000000000000/vietqr?token={lan}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "order_not_found");
    // Two different tokens (query and header) are refused.
    let both = http()
        .get(server.http(&format!(
            "/api/rooms/r1/orders/{order_id}/vietqr?token={lan}"
        )))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn only_a_transfer_waiting_for_its_money_gets_a_code() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let seller = server.token("r1", Role::Seller, "hoa");
    put_account(&server, "r1", &seller, &lan_account()).await;
    let (cash, _) = order_paid_by(&server, "r1", "lan", "cod").await;
    let path = format!("/api/rooms/r1/orders/{cash}/vietqr?token={seller}");
    let (status, body) = get_json(&server, &path).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "invalid_state");
}

#[tokio::test]
async fn an_order_of_a_room_without_a_bank_account_is_payment_not_set() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let (order_id, _) = order_by(&server, "r1", "lan").await;
    let lan = server.token("r1", Role::Viewer, "lan");
    for suffix in ["", ".svg", ".png"] {
        let (status, body) = get_json(
            &server,
            &format!("/api/rooms/r1/orders/{order_id}/vietqr{suffix}?token={lan}"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{suffix}");
        assert_eq!(body["error"]["code"], "payment_not_set");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_bank_list_names_well_known_banks_and_their_bins() {
    let server = TestServer::start().await;
    let (status, banks) = get_json(&server, "/api/banks").await;
    assert_eq!(status, StatusCode::OK);
    let banks = banks.as_array().unwrap();
    assert!(banks.len() >= 20);
    for (short_name, bin) in [
        ("Vietcombank", "970436"),
        ("VietinBank", "970415"),
        ("BIDV", "970418"),
        ("Agribank", "970405"),
        ("Techcombank", "970407"),
        ("MB", "970422"),
    ] {
        assert!(
            banks
                .iter()
                .any(|b| b["short_name"] == short_name && b["bin"] == bin && b["name"].is_string()),
            "{short_name}"
        );
    }
    server.shutdown().await;
}

/// On Redis the account lives beside the room's keys and expires with the
/// room, so a room id used again after its records are gone never pays
/// into the old seller's account; an ended room takes no new account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_an_ended_rooms_account_expires_with_it() {
    let server = Store::Redis.start().await;
    server.room("r1").await;
    let seller = server.token("r1", Role::Seller, "hoa");
    assert_eq!(
        put_account(&server, "r1", &seller, &lan_account()).await.0,
        StatusCode::OK
    );
    let mut redis = server.redis.as_ref().unwrap().client();
    let ttl: i64 = redis::cmd("TTL")
        .arg("{room:r1}:payment")
        .query(&mut redis)
        .unwrap();
    assert_eq!(ttl, -1, "no expiry while the room runs");

    let closed = http()
        .post(server.http("/api/rooms/r1/close"))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::OK);
    let ttl: i64 = redis::cmd("TTL")
        .arg("{room:r1}:payment")
        .query(&mut redis)
        .unwrap();
    let ended_ttl = server.state.config.rooms.ended_ttl_secs as i64;
    assert!(ttl > 0 && ttl <= ended_ttl, "ttl {ttl}");

    let (status, error) = put_account(&server, "r1", &seller, &lan_account()).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(error["error"]["code"], "room_ended");
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// The payment store: one conformance suite, memory and real Redis.
// ---------------------------------------------------------------------------

fn account(number: &str) -> BankAccount {
    BankAccount::new("970422", number, "Phạm Thu Hà").unwrap()
}

async fn conformance(store: PaymentStore) {
    assert_eq!(store.account("r1").await, Ok(None));
    store
        .set_account("r1", Some(&account("111111")))
        .await
        .unwrap();
    assert_eq!(store.account("r1").await, Ok(Some(account("111111"))));
    assert_eq!(store.account("r2").await, Ok(None), "rooms are separate");

    store
        .set_account("r2", Some(&account("222222")))
        .await
        .unwrap();
    store
        .set_account("r1", Some(&account("333333")))
        .await
        .unwrap();
    assert_eq!(store.account("r1").await, Ok(Some(account("333333"))));
    assert_eq!(store.account("r2").await, Ok(Some(account("222222"))));

    store.set_account("r1", None).await.unwrap();
    store.set_account("r1", None).await.unwrap();
    assert_eq!(store.account("r1").await, Ok(None));
    assert_eq!(store.account("r2").await, Ok(Some(account("222222"))));

    for bad in ["", "R1", "{room:x}", "a/b", &"a".repeat(65)] {
        assert!(
            matches!(
                store.account(bad).await,
                Err(PaymentError::InvalidValue {
                    field: "room_id",
                    ..
                })
            ),
            "{bad:?}"
        );
        assert!(store
            .set_account(bad, Some(&account("444444")))
            .await
            .is_err());
    }
}

#[tokio::test]
async fn the_memory_payment_store_conforms() {
    conformance(PaymentStore::memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_payment_store_conforms() {
    let redis = RedisServer::start();
    let link = RedisLink::connect(redis.url(), Duration::from_millis(500))
        .await
        .unwrap();
    let store = PaymentStore::redis(link);
    conformance(store.clone()).await;

    // One hash, tagged by room, three fields.
    store
        .set_account("r3", Some(&account("555555")))
        .await
        .unwrap();
    let mut conn = redis.client();
    let stored: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg("{room:r3}:payment")
        .query(&mut conn)
        .unwrap();
    let mut stored = stored;
    stored.sort();
    assert_eq!(
        stored,
        [
            ("account_name".to_owned(), "PHAM THU HA".to_owned()),
            ("account_number".to_owned(), "555555".to_owned()),
            ("bin".to_owned(), "970422".to_owned()),
        ]
    );

    // A record that breaks the rules is never handed out.
    let _: () = redis::cmd("HSET")
        .arg("{room:r3}:payment")
        .arg("bin")
        .arg("x")
        .query(&mut conn)
        .unwrap();
    assert!(matches!(
        store.account("r3").await,
        Err(PaymentError::Internal(_))
    ));

    // Redis frozen: unavailable within the link's deadline, never a hang.
    redis.freeze();
    let started = std::time::Instant::now();
    let frozen = store.account("r2").await;
    redis.thaw();
    assert!(
        matches!(frozen, Err(PaymentError::Unavailable(_))),
        "{frozen:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// The order page's code: no token, the order code and its shipping phone
/// instead; a wrong phone is an unknown order, a cash order has no code.
#[tokio::test]
async fn the_order_page_gets_a_transfers_code_with_the_code_and_phone() {
    let server = TestServer::start().await;
    server.room("r1").await;
    let seller = server.token("r1", Role::Seller, "hoa");
    put_account(&server, "r1", &seller, &lan_account()).await;
    let (order_id, total) = order_by(&server, "r1", "lan").await;
    let ask = |code: String, phone: &'static str| {
        let server = &server;
        async move {
            let response = http()
                .post(server.http("/api/orders/vietqr"))
                .json(&json!({"order_code": code, "phone": phone}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = ask(format!("CP {}", order_id.to_uppercase()), "0912345678").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["amount_vnd"], total);
    assert!(
        body["svg"].as_str().unwrap().starts_with("<?xml")
            || body["svg"].as_str().unwrap().contains("<svg")
    );
    assert!(body["payload"].as_str().unwrap().contains("A000000727"));

    let (status, body) = ask(order_id.clone(), "0987654321").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "order_not_found");

    server.room("r2").await;
    let (cash, _) = order_paid_by(&server, "r2", "minh", "cod").await;
    let (status, body) = ask(cash, "0912345678").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "invalid_state");
}
