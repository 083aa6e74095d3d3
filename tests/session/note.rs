//! The pinned announcement over real sockets: the seller pins a note
//! ("Freeship đơn từ 300k"), everyone in the room hears it, a late joiner's
//! snapshot carries it, unpinning takes it down; a viewer may not pin, and
//! blank or over-long notes are refused with `invalid_value`; in a
//! practice room a claim in a note is flagged like a claim in chat.

use chophien::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::server::{Store, TestServer};

crate::on_every_store!(
    a_pinned_note_reaches_everyone_and_late_joiners,
    unpinning_takes_the_note_down_for_everyone_and_later_snapshots,
    a_viewer_may_not_pin_or_unpin_a_note,
    a_blank_or_too_long_note_is_refused_with_invalid_value,
    a_cure_claim_in_a_practice_rooms_note_is_flagged_as_a_pinned_note,
    pinning_and_unpinning_are_in_the_session_journal_and_its_replay,
);

async fn seller_and_viewer(server: &TestServer) -> (Client, Client) {
    server.room("r1").await;
    let (seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let (viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    (seller, viewer)
}

async fn a_pinned_note_reaches_everyone_and_late_joiners(store: Store) {
    let server = store.start().await;
    let (mut seller, mut viewer) = seller_and_viewer(&server).await;
    let (_, first) = server.join("r1", Role::Viewer, "an").await;
    assert!(first.get("pinned_note").is_none(), "no note yet: {first}");
    seller
        .send(json!({"type": "pin_note", "text": " Freeship đơn từ 300k "}))
        .await;
    for client in [&mut seller, &mut viewer] {
        let event = client.next_of("note_pinned").await;
        assert_eq!(event["note"]["text"], "Freeship đơn từ 300k");
        assert_eq!(event["note"]["by"], "Tên hoa");
        assert!(event["note"]["pinned_at"].as_u64().is_some_and(|at| at > 0));
    }
    let (_, late) = server.join("r1", Role::Viewer, "binh").await;
    assert_eq!(late["pinned_note"]["text"], "Freeship đơn từ 300k");
    assert_eq!(late["pinned_note"]["by"], "Tên hoa");
}

async fn unpinning_takes_the_note_down_for_everyone_and_later_snapshots(store: Store) {
    let server = store.start().await;
    let (mut seller, mut viewer) = seller_and_viewer(&server).await;
    seller
        .send(json!({"type": "pin_note", "text": "Freeship đơn từ 300k"}))
        .await;
    viewer.next_of("note_pinned").await;
    seller.send(json!({"type": "unpin_note"})).await;
    viewer.next_of("note_unpinned").await;
    let (_, late) = server.join("r1", Role::Viewer, "binh").await;
    assert!(late.get("pinned_note").is_none(), "{late}");
}

async fn a_viewer_may_not_pin_or_unpin_a_note(store: Store) {
    let server = store.start().await;
    let (mut seller, mut viewer) = seller_and_viewer(&server).await;
    seller
        .send(json!({"type": "pin_note", "text": "Freeship đơn từ 300k"}))
        .await;
    viewer.next_of("note_pinned").await;
    for frame in [
        json!({"id": "v1", "type": "pin_note", "text": "Shop lừa đảo"}),
        json!({"id": "v2", "type": "unpin_note"}),
    ] {
        viewer.send(frame).await;
        let error = viewer.next_of("error").await;
        assert_eq!(error["code"], "forbidden", "{error}");
    }
    let (_, late) = server.join("r1", Role::Viewer, "binh").await;
    assert_eq!(late["pinned_note"]["text"], "Freeship đơn từ 300k");
}

async fn a_blank_or_too_long_note_is_refused_with_invalid_value(store: Store) {
    let server = store.start().await;
    let (mut seller, _viewer) = seller_and_viewer(&server).await;
    for (id, text) in [
        ("blank", "   ".to_owned()),
        ("invisible", "\u{200B}\u{3164}".to_owned()),
        ("long", "ệ".repeat(201)),
    ] {
        seller
            .send(json!({"id": id, "type": "pin_note", "text": text}))
            .await;
        let error = seller.next_of("error").await;
        assert_eq!(
            (error["id"].as_str(), error["code"].as_str()),
            (Some(id), Some("invalid_value"))
        );
    }
    let (_, late) = server.join("r1", Role::Viewer, "binh").await;
    assert!(late.get("pinned_note").is_none(), "{late}");
}

async fn a_cure_claim_in_a_practice_rooms_note_is_flagged_as_a_pinned_note(store: Store) {
    let server = store.start().await;
    server.practice_room("luyen").await;
    let (mut trainee, _) = server.join("luyen", Role::Seller, "hoa").await;
    trainee
        .send(json!({"type": "pin_note", "text": "Trà này chữa khỏi tiểu đường"}))
        .await;
    let flag = trainee.next_of("compliance_flag").await;
    assert_eq!(flag["rule_id"], "disease_cure");
    assert_eq!(flag["source"], "pinned_note");
    assert_eq!(flag["excerpt"], "chữa khỏi");
}

async fn pinning_and_unpinning_are_in_the_session_journal_and_its_replay(store: Store) {
    let server = store.start().await;
    let (mut seller, mut viewer) = seller_and_viewer(&server).await;
    seller
        .send(json!({"type": "pin_note", "text": "Freeship đơn từ 300k"}))
        .await;
    viewer.next_of("note_pinned").await;
    seller.send(json!({"type": "unpin_note"})).await;
    viewer.next_of("note_unpinned").await;
    // The journal's writer runs on its own: read until both are there.
    let mut kinds = Vec::new();
    for _ in 0..100 {
        let response = reqwest::Client::new()
            .get(server.http("/api/rooms/r1/journal"))
            .bearer_auth(server.token("r1", Role::Seller, "hoa"))
            .send()
            .await
            .expect("HTTP request");
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.text().await.expect("journal body");
        let events: Vec<Value> = body
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
            .filter(|entry| entry["type"] == "event")
            .map(|entry| entry["event"].clone())
            .filter(|event| {
                event["type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("note_"))
            })
            .collect();
        kinds = events.iter().map(|e| e["type"].clone()).collect();
        if kinds.len() == 2 {
            assert_eq!(events[0]["note"]["text"], "Freeship đơn từ 300k");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(kinds, [json!("note_pinned"), json!("note_unpinned")]);
    // The replay's timeline (read from that journal) shows the note as it was at each moment.
    let timeline: Value = reqwest::Client::new()
        .get(server.http("/api/rooms/r1/timeline"))
        .bearer_auth(server.token("r1", Role::Seller, "hoa"))
        .send()
        .await
        .expect("HTTP request")
        .json()
        .await
        .expect("timeline JSON");
    let notes: Vec<&Value> = timeline["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["type"].as_str().is_some_and(|t| t.starts_with("note_")))
        .collect();
    assert_eq!(notes.len(), 2, "{timeline}");
    assert_eq!(notes[0]["note"]["text"], "Freeship đơn từ 300k");
    assert_eq!(notes[1]["type"], "note_unpinned");
    assert!(notes[0]["at"].as_u64().is_some(), "{}", notes[0]);
}
