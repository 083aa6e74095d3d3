//! The coach channel (issue 13, section 4): a trainer in a practice room
//! whispers or nudges; the trainee hears it privately (`coached`), the
//! audience never does; only trainers and admins coach, only in practice
//! rooms.

use std::time::Duration;

use chophien::auth::Role;
use chophien::journal::Record;
use serde_json::{json, Value};

use crate::classes::{join, open_class, studio_token};
use crate::support::client::Client;
use crate::support::server::{Store, TestServer};

/// A class of one: the server, the room, the trainee and her coach joined.
async fn lesson(store: Store) -> (TestServer, Value, Client, Client) {
    let server = store.start().await;
    let class = open_class(&server, &["Lan"]).await;
    let room = class["rooms"][0].clone();
    let (mut trainee, _) = join(&server, &room, &studio_token(&room)).await;
    trainee.send(json!({"id": "live", "type": "go_live"})).await;
    trainee.next_of("ack").await;
    let (coach, _) = join(&server, &room, room["coach_token"].as_str().unwrap()).await;
    (server, room, trainee, coach)
}

/// Read `client`'s frames until it receives the chat message `marker`,
/// then for `linger` more; every frame read.
async fn frames_through(client: &mut Client, marker: &str, linger: Duration) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = client.next().await;
        let done = frame["type"] == "chat" && frame["message"]["text"] == marker;
        frames.push(frame);
        if done {
            break;
        }
    }
    let until = tokio::time::Instant::now() + linger;
    while let Ok(frame) = tokio::time::timeout_at(until, client.next()).await {
        frames.push(frame);
    }
    frames
}

crate::on_every_store!(
    a_whisper_reaches_the_trainee_and_never_a_viewer,
    a_nudge_tells_the_trainee_in_vietnamese_and_english,
);

async fn a_whisper_reaches_the_trainee_and_never_a_viewer(store: Store) {
    let (server, room, mut trainee, mut coach) = lesson(store).await;
    let room_id = room["room_id"].as_str().unwrap();
    let (mut viewer, _) = server.join(room_id, Role::Viewer, "lan-xem").await;
    coach
        .send(json!({"id": "w", "type": "coach", "text": "Chào khách mới vào đi em"}))
        .await;
    assert_eq!(
        coach.next_of_any(&["ack", "error"]).await,
        json!({"type": "ack", "id": "w"})
    );
    let coached = trainee.next_of("coached").await;
    assert_eq!(coached["kind"], "whisper");
    assert_eq!(coached["text"], "Chào khách mới vào đi em");
    assert_eq!(coached["by"], "Tên co-hoa");
    assert!(coached["at"].as_u64().unwrap() > 0);
    assert!(
        coached.get("seq").is_none(),
        "a private frame is not a room event"
    );
    // After the trainee has it, something public: the viewer reads up to it
    // and on for a while, and never sees the whisper.
    coach.send(json!({"type": "chat", "text": "mốc"})).await;
    let seen = frames_through(&mut viewer, "mốc", Duration::from_millis(300)).await;
    assert!(
        seen.iter()
            .all(|f| f["type"] != "coached" && !f.to_string().contains("Chào khách mới vào đi em")),
        "a viewer saw coaching: {seen:?}"
    );
    // A moderator is not a host either.
    let (mut moderator, _) = server.join(room_id, Role::Moderator, "mod").await;
    coach
        .send(json!({"id": "w2", "type": "coach", "text": "Lần hai"}))
        .await;
    assert_eq!(trainee.next_of("coached").await["text"], "Lần hai");
    coach.send(json!({"type": "chat", "text": "mốc 2"})).await;
    let seen = frames_through(&mut moderator, "mốc 2", Duration::from_millis(300)).await;
    assert!(seen.iter().all(|f| f["type"] != "coached"), "{seen:?}");
}

async fn a_nudge_tells_the_trainee_in_vietnamese_and_english(store: Store) {
    let (_server, _room, mut trainee, mut coach) = lesson(store).await;
    coach
        .send(json!({"id": "n", "type": "nudge", "nudge": "answer_questions"}))
        .await;
    assert_eq!(coach.next_of_any(&["ack", "error"]).await["type"], "ack");
    let coached = trainee.next_of("coached").await;
    assert_eq!(coached["kind"], "nudge");
    assert_eq!(coached["nudge"], "answer_questions");
    assert_eq!(coached["text"], "Trả lời câu hỏi của khách đi em.");
    assert_eq!(coached["text_en"], "Answer the viewers' questions.");
    // The coach's own connection is a host's: it hears it too.
    assert_eq!(coach.next_of("coached").await["nudge"], "answer_questions");
}

#[tokio::test]
async fn only_trainers_and_admins_coach() {
    let (server, room, mut trainee, _coach) = lesson(Store::Memory).await;
    let room_id = room["room_id"].as_str().unwrap();
    let (mut viewer, _) = server.join(room_id, Role::Viewer, "lan-xem").await;
    let (mut moderator, _) = server.join(room_id, Role::Moderator, "mod").await;
    for client in [&mut trainee, &mut viewer, &mut moderator] {
        client
            .send(json!({"id": "w", "type": "coach", "text": "tự nhắc mình"}))
            .await;
        let error = client.next_of_any(&["ack", "error"]).await;
        assert_eq!(
            (&error["type"], &error["code"]),
            (&json!("error"), &json!("forbidden"))
        );
    }
    let (mut admin, _) = server.join(room_id, Role::Admin, "root").await;
    admin
        .send(json!({"id": "w", "type": "nudge", "nudge": "slow_down"}))
        .await;
    assert_eq!(admin.next_of_any(&["ack", "error"]).await["type"], "ack");
    assert_eq!(trainee.next_of("coached").await["nudge"], "slow_down");
}

#[tokio::test]
async fn coaching_is_for_practice_rooms_only() {
    let server = TestServer::start().await;
    server.room("that-room").await;
    let (mut trainer, _) = server.join("that-room", Role::Trainer, "co-hoa").await;
    trainer
        .send(json!({"id": "w", "type": "coach", "text": "Chào khách"}))
        .await;
    let error = trainer.next_of_any(&["ack", "error"]).await;
    assert_eq!(error["code"], "not_practice_room", "{error}");
}

#[tokio::test]
async fn bad_coaching_gets_a_typed_error() {
    let (_server, _room, _trainee, mut coach) = lesson(Store::Memory).await;
    for frame in [
        json!({"id": "e", "type": "coach", "text": "   "}),
        json!({"id": "e", "type": "coach", "text": "ệ".repeat(301)}),
        json!({"id": "e", "type": "nudge", "nudge": "dance"}),
    ] {
        coach.send(frame.clone()).await;
        let error = coach.next_of_any(&["ack", "error"]).await;
        assert_eq!(error["code"], "invalid_value", "{frame}: {error}");
    }
    coach.send(json!({"id": "e", "type": "coach"})).await;
    assert_eq!(
        coach.next_of_any(&["ack", "error"]).await["code"],
        "bad_request"
    );
    coach
        .send(json!({"id": "ok", "type": "coach", "text": "ệ".repeat(300)}))
        .await;
    assert_eq!(coach.next_of_any(&["ack", "error"]).await["type"], "ack");
}

#[tokio::test]
async fn coaching_is_journaled() {
    let (server, room, mut trainee, mut coach) = lesson(Store::Memory).await;
    coach
        .send(json!({"id": "w", "type": "coach", "text": "Ghim trà lên em"}))
        .await;
    trainee.next_of("coached").await;
    let entries = server
        .state
        .journal
        .read(room["room_id"].as_str().unwrap())
        .await
        .unwrap();
    let coached: Vec<&Record> = entries
        .iter()
        .map(|e| &e.record)
        .filter(|r| matches!(r, Record::Coached { .. }))
        .collect();
    assert_eq!(
        coached,
        [&Record::Coached {
            by: "co-hoa".into(),
            kind: "whisper".into(),
            text: "Ghim trà lên em".into(),
        }]
    );
}

#[tokio::test]
async fn the_nudges_are_listed_for_any_token_holder() {
    let (server, room, _trainee, _coach) = lesson(Store::Memory).await;
    let coach_token = room["coach_token"].as_str().unwrap();
    let (status, listed) = crate::classes::get(&server, "/api/practice/nudges", coach_token).await;
    assert_eq!(status, 200);
    let nudges = listed["nudges"].as_array().unwrap();
    assert!(nudges.len() >= 6);
    assert!(nudges.iter().any(|n| n["id"] == "answer_questions"
        && n["vi"] == "Trả lời câu hỏi của khách đi em."
        && n["en"] == "Answer the viewers' questions."));
    let (status, _) = crate::classes::get(&server, "/api/practice/nudges", "nope").await;
    assert_eq!(status, 401);
}
