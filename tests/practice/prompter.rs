//! The automatic prompter (issue 13, section 4): while a practice room is
//! live, the trainee is told (privately, `by: "auto"`) when a question
//! waits over 30 s, when viewers drop, when she has been silent over 60 s.
//! Lessons run ten times faster here (`speed: 10`): 30 lesson seconds are
//! 3 real ones.

use chophien::auth::{Role, ANY_ROOM};
use chophien::journal::Record;
use serde_json::{json, Value};

use crate::classes::{join, post, studio_token};
use crate::support::client::Client;
use crate::support::server::{Store, TestServer};

/// A live practice room on a fast lesson: the server, the room, the
/// trainee.
async fn live_room(store: Store) -> (TestServer, Value, Client) {
    let server = store.start().await;
    let (status, class) = post(
        &server,
        "/api/classes",
        &server.token(ANY_ROOM, Role::Trainer, "co-hoa"),
        json!({"name": "Lớp nhanh", "trainees": ["Lan"], "lesson": {"speed": 10.0, "audience_size": 0}}),
    )
    .await;
    assert_eq!(status, 201, "{class}");
    let room = class["rooms"][0].clone();
    let (mut trainee, _) = join(&server, &room, &studio_token(&room)).await;
    trainee.send(json!({"id": "live", "type": "go_live"})).await;
    trainee.next_of("ack").await;
    (server, room, trainee)
}

/// The prompter's next word to the trainee.
async fn next_prompt(trainee: &mut Client) -> Value {
    let prompt = trainee.next_of("coached").await;
    assert_eq!(prompt["by"], "auto", "{prompt}");
    prompt
}

crate::on_every_store!(a_question_left_unanswered_is_pointed_out_to_the_trainee_alone);

async fn a_question_left_unanswered_is_pointed_out_to_the_trainee_alone(store: Store) {
    let (server, room, mut trainee) = live_room(store).await;
    let room_id = room["room_id"].as_str().unwrap();
    let (mut viewer, _) = server.join(room_id, Role::Viewer, "mai").await;
    viewer
        .send(json!({"id": "q", "type": "chat", "text": "Trà này bao nhiêu tiền một cân?"}))
        .await;
    let prompt = next_prompt(&mut trainee).await;
    assert_eq!(prompt["kind"], "question_waiting");
    let text = prompt["text"].as_str().unwrap();
    assert!(text.starts_with("Tên mai hỏi đã"), "{text}");
    assert!(text.contains("“Trà này bao nhiêu tiền một cân?”"), "{text}");
    assert!(prompt["text_en"].as_str().unwrap().contains("has waited"));
    // The asker never hears of it.
    trainee.send(json!({"type": "chat", "text": "mốc"})).await;
    loop {
        let frame = viewer.next().await;
        assert_ne!(frame["type"], "coached", "{frame}");
        if frame["type"] == "chat" && frame["message"]["text"] == "mốc" {
            break;
        }
    }
    let entries = server.state.journal.read(room_id).await.unwrap();
    assert!(entries.iter().any(|e| matches!(&e.record,
        Record::Coached { by, kind, .. } if by == "auto" && kind == "question_waiting")));
}

#[tokio::test]
async fn an_answered_question_is_not_pointed_out_but_a_silence_is() {
    let (server, room, mut trainee) = live_room(Store::Memory).await;
    let room_id = room["room_id"].as_str().unwrap();
    let (mut viewer, _) = server.join(room_id, Role::Viewer, "mai").await;
    viewer
        .send(json!({"id": "q", "type": "chat", "text": "ship về Hà Nội không?"}))
        .await;
    let question = trainee.next_of("chat").await["message"]["id"].clone();
    trainee
        .send(json!({"id": "a", "type": "chat", "text": "Dạ có ạ", "reply_to": question}))
        .await;
    trainee.next_of("ack").await;
    // Due after 30 lesson seconds had it waited; she then says nothing for
    // 60: the first prompt is about her silence.
    let prompt = next_prompt(&mut trainee).await;
    assert_eq!(prompt["kind"], "silent", "{prompt}");
    assert!(prompt["text"].as_str().unwrap().contains("chưa nói gì"));
}

#[tokio::test]
async fn many_waiting_questions_make_one_prompt_naming_the_oldest() {
    let (server, room, mut trainee) = live_room(Store::Memory).await;
    let room_id = room["room_id"].as_str().unwrap();
    let mut viewers = Vec::new();
    for name in ["bot-1", "bot-2", "bot-3", "bot-4", "bot-5"] {
        let (mut viewer, _) = server.join(room_id, Role::Viewer, name).await;
        viewer
            .send(json!({"id": "q", "type": "chat", "text": format!("{name}: ib giá shop ơi")}))
            .await;
        viewer.next_of("ack").await;
        viewers.push(viewer);
    }
    let prompt = next_prompt(&mut trainee).await;
    assert_eq!(prompt["kind"], "question_waiting");
    let text = prompt["text"].as_str().unwrap();
    assert!(text.starts_with("Tên bot-1 hỏi"), "{text}");
    assert!(text.contains("(và 4 câu hỏi khác)"), "{text}");
    // The next word is the silence (60 lesson s), not another question prompt.
    assert_eq!(next_prompt(&mut trainee).await["kind"], "silent");
}

#[tokio::test]
async fn viewers_leaving_are_pointed_out() {
    let (server, room, mut trainee) = live_room(Store::Memory).await;
    let room_id = room["room_id"].as_str().unwrap();
    let mut viewers = Vec::new();
    for name in ["a", "b", "c", "d"] {
        viewers.push(server.join(room_id, Role::Viewer, name).await.0);
    }
    while trainee.next_of("viewer_count").await["count"] != 4 {}
    viewers.truncate(1);
    let prompt = next_prompt(&mut trainee).await;
    assert_eq!(prompt["kind"], "viewers_dropping", "{prompt}");
    // The count may be told on the way down (4 → 2, then 1): from the peak.
    assert!(
        prompt["text"].as_str().unwrap().contains("4 → "),
        "{prompt}"
    );
}
