//! Moderation: delete, mute, ban, slow mode, banned words.

use chophien::auth::Role;
use serde_json::json;

use crate::support::client::Client;
use crate::support::server::TestServer;

struct Room {
    moderator: Client,
    viewer: Client,
}

async fn room(server: &TestServer) -> Room {
    server.room("r1");
    let (moderator, _) = server.join("r1", Role::Moderator, "mod").await;
    let (viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    Room { moderator, viewer }
}

#[tokio::test]
async fn a_deleted_message_disappears_for_everyone() {
    let server = TestServer::start().await;
    let Room {
        mut moderator,
        mut viewer,
    } = room(&server).await;
    viewer
        .send(json!({"type": "chat", "text": "mua hàng giá rẻ tại web lạ"}))
        .await;
    let id = moderator.next_of("chat").await["message"]["id"].clone();
    moderator
        .send(json!({"type": "delete_message", "message_id": id}))
        .await;
    assert_eq!(viewer.next_of("message_deleted").await["message_id"], id);
    let (_, snapshot) = server.join("r1", Role::Viewer, "minh").await;
    assert!(snapshot["chat"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_muted_user_gets_muted_until_the_mute_ends() {
    let server = TestServer::start().await;
    let Room {
        mut moderator,
        mut viewer,
    } = room(&server).await;
    moderator
        .send(json!({"type": "mute_user", "user_id": "lan", "minutes": 5}))
        .await;
    viewer.next_of("user_muted").await;
    viewer.send(json!({"type": "chat", "text": "hello"})).await;
    let error = viewer.next_of("error").await;
    assert_eq!(error["code"], "muted");
    assert!(error["retry_after_ms"].as_u64().unwrap() > 4 * 60_000);

    moderator
        .send(json!({"type": "unmute_user", "user_id": "lan"}))
        .await;
    viewer.next_of("user_unmuted").await;
    viewer
        .send(json!({"id": "ok", "type": "chat", "text": "hello"}))
        .await;
    assert_eq!(viewer.next_of("ack").await["id"], "ok");
}

#[tokio::test]
async fn slow_mode_refuses_a_second_message_too_soon() {
    let server = TestServer::start().await;
    let Room {
        mut moderator,
        mut viewer,
    } = room(&server).await;
    moderator
        .send(json!({"type": "set_slow_mode", "seconds": 30}))
        .await;
    assert_eq!(
        viewer.next_of("settings_changed").await["settings"]["slow_mode_seconds"],
        30
    );
    viewer
        .send(json!({"id": "1", "type": "chat", "text": "một"}))
        .await;
    viewer.next_of("ack").await;
    viewer
        .send(json!({"id": "2", "type": "chat", "text": "hai"}))
        .await;
    let error = viewer.next_of("error").await;
    assert_eq!(error["code"], "slow_mode");
    assert!(error["retry_after_ms"].as_u64().unwrap() > 20_000);
}

#[tokio::test]
async fn a_banned_word_is_refused() {
    let server = TestServer::start().await;
    let Room {
        mut moderator,
        mut viewer,
    } = room(&server).await;
    moderator
        .send(json!({"id": "w", "type": "set_banned_words", "words": ["lừa đảo"]}))
        .await;
    moderator.next_of("ack").await;
    viewer
        .send(json!({"type": "chat", "text": "Shop LỪA ĐẢO"}))
        .await;
    assert_eq!(viewer.next_of("error").await["code"], "banned_word");
}

#[tokio::test]
async fn a_banned_user_is_disconnected_and_cannot_rejoin() {
    let server = TestServer::start().await;
    let Room {
        mut moderator,
        mut viewer,
    } = room(&server).await;
    moderator
        .send(json!({"type": "ban_user", "user_id": "lan"}))
        .await;
    let (code, _) = viewer.closed().await;
    assert_eq!(code, 4003);
    let refused = Client::connect(&server.ws_url("r1", &server.token("r1", Role::Viewer, "lan")))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["error"]["code"], "banned");
    // Another identity still joins.
    server.join("r1", Role::Viewer, "minh").await;
}
