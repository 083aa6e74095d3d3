//! Moderation: delete, mute, ban, slow mode, banned words.

use chophien::auth::Role;
use serde_json::json;

use crate::support::client::Client;
use crate::support::server::{Store, TestServer};

struct Room {
    moderator: Client,
    viewer: Client,
}

async fn room(server: &TestServer) -> Room {
    server.room("r1").await;
    let (moderator, _) = server.join("r1", Role::Moderator, "mod").await;
    let (viewer, _) = server.join("r1", Role::Viewer, "lan").await;
    Room { moderator, viewer }
}

async fn a_deleted_message_disappears_for_everyone(store: Store) {
    let server = store.start().await;
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

async fn a_muted_user_gets_muted_until_the_mute_ends(store: Store) {
    let server = store.start().await;
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

async fn slow_mode_refuses_a_second_message_too_soon(store: Store) {
    let server = store.start().await;
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

async fn a_banned_word_is_refused(store: Store) {
    let server = store.start().await;
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

async fn a_banned_user_is_disconnected_and_cannot_rejoin(store: Store) {
    let server = store.start().await;
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

async fn a_moderator_may_not_ban_or_mute_the_seller_or_another_moderator(store: Store) {
    let server = store.start().await;
    let Room { mut moderator, .. } = room(&server).await;
    let (_seller, _) = server.join("r1", Role::Seller, "hoa").await;
    let (_other, _) = server.join("r1", Role::Moderator, "mod2").await;
    for target in ["hoa", "mod2"] {
        for request in [
            json!({"id": "x", "type": "ban_user", "user_id": target}),
            json!({"id": "x", "type": "mute_user", "user_id": target, "minutes": 5}),
        ] {
            moderator.send(request.clone()).await;
            let error = moderator.next_of("error").await;
            assert_eq!(error["code"], "forbidden", "{request}");
        }
    }
    // The seller is still welcome in her own room.
    server.join("r1", Role::Seller, "hoa").await;
}

async fn nobody_mutes_or_bans_themselves(store: Store) {
    let server = store.start().await;
    let Room { mut moderator, .. } = room(&server).await;
    for request in [
        json!({"type": "mute_user", "user_id": "mod", "minutes": 5}),
        json!({"type": "ban_user", "user_id": "mod"}),
    ] {
        moderator.send(request.clone()).await;
        assert_eq!(
            moderator.next_of("error").await["code"],
            "forbidden",
            "{request}"
        );
    }
}

async fn a_ban_placed_before_the_seller_first_joined_never_shuts_her_out(store: Store) {
    let server = store.start().await;
    let Room { mut moderator, .. } = room(&server).await;
    // The room has not seen "hoa" yet, so it cannot rank her: the ban goes in.
    moderator
        .send(json!({"id": "b", "type": "ban_user", "user_id": "hoa"}))
        .await;
    moderator.next_of("ack").await;
    // But it holds only below the moderator's rank.
    let (_seller, snapshot) = server.join("r1", Role::Seller, "hoa").await;
    assert_eq!(snapshot["me"]["role"], "seller");
    let refused = Client::connect(&server.ws_url("r1", &server.token("r1", Role::Viewer, "hoa")))
        .await
        .err()
        .unwrap();
    assert_eq!(refused.body["error"]["code"], "banned");
}

async fn the_seller_sees_bans_and_lifts_one_so_the_user_may_return(store: Store) {
    let server = store.start().await;
    let Room {
        mut moderator,
        mut viewer,
    } = room(&server).await;
    viewer
        .send(json!({"type": "chat", "text": "mua ở shop khác rẻ hơn"}))
        .await;
    moderator.next_of("chat").await;
    moderator
        .send(json!({"id": "b", "type": "ban_user", "user_id": "lan"}))
        .await;
    let banned = moderator.next_of("user_banned").await;
    assert_eq!(banned["name"], "Tên lan");

    let (mut seller, snapshot) = server.join("r1", Role::Seller, "hoa").await;
    assert_eq!(
        snapshot["banned"],
        json!([{"user_id": "lan", "name": "Tên lan"}])
    );
    seller
        .send(json!({"id": "u", "type": "unban_user", "user_id": "lan"}))
        .await;
    assert_eq!(seller.next_of("ack").await["id"], "u");
    assert_eq!(moderator.next_of("user_unbanned").await["user_id"], "lan");
    server.join("r1", Role::Viewer, "lan").await;
    // Viewers are not shown the list.
    let (_, snapshot) = server.join("r1", Role::Viewer, "minh").await;
    assert!(snapshot.get("banned").is_none());
}

async fn a_moderator_bans_but_may_not_lift_a_ban(store: Store) {
    let server = store.start().await;
    let Room { mut moderator, .. } = room(&server).await;
    moderator
        .send(json!({"type": "ban_user", "user_id": "lan"}))
        .await;
    moderator.next_of("user_banned").await;
    moderator
        .send(json!({"type": "unban_user", "user_id": "lan"}))
        .await;
    assert_eq!(moderator.next_of("error").await["code"], "forbidden");
}

crate::on_every_store!(
    a_deleted_message_disappears_for_everyone,
    a_muted_user_gets_muted_until_the_mute_ends,
    slow_mode_refuses_a_second_message_too_soon,
    a_banned_word_is_refused,
    a_banned_user_is_disconnected_and_cannot_rejoin,
    a_moderator_may_not_ban_or_mute_the_seller_or_another_moderator,
    nobody_mutes_or_bans_themselves,
    a_ban_placed_before_the_seller_first_joined_never_shuts_her_out,
    the_seller_sees_bans_and_lifts_one_so_the_user_may_return,
    a_moderator_bans_but_may_not_lift_a_ban,
);
