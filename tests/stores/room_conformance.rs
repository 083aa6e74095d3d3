//! The `RoomStore` contract, run against both stores.
//!
//! Every behaviour below is a generic async fn over `S: RoomStore`; the
//! `on_every_room_store!` macro (tests/support/room.rs) instantiates each once for `MemoryRoomStore`,
//! once for `RedisRoomStore` on its own real `redis-server`, and once for
//! `RedisRoomStore` on a real three-primary Redis Cluster (shared by this
//! binary's tests, one at a time, emptied for each). Time is
//! passed explicitly (`Clock::at`). Events are compared as parsed JSON,
//! `seq` included: both stores must send the same frames. The Redis store
//! delivers through its feed, so tests wait for frames (hang guard only).

use crate::support;

use std::time::Duration;

use chophien::auth::Role;
use chophien::protocol::{NewProduct, ProductChanges, RoomStatus, SaleInfo, SaleState};
use chophien::room::store::{Joined, RoomStore};
use chophien::room::{Actor, RoomCommand, RoomError, RoomFact};
use serde_json::{json, Value};

use support::room::{
    admin, limits, moderator, open_watched, person, product, record, seller, viewer, Clock,
    Collector, REPLAY, T0,
};

const ROOM: &str = "tra-thai-nguyen";

crate::on_every_room_store!(
    chat_messages_get_ids_in_order_and_the_history_keeps_the_newest,
    chat_text_is_trimmed_and_checked,
    slow_mode_spaces_a_viewers_messages_but_not_the_hosts,
    a_mute_holds_until_it_ends_and_only_below_its_author,
    lifting_a_mute_takes_the_rank_that_placed_it,
    a_ban_refuses_joins_and_every_command_below_its_author,
    nobody_moderates_themselves_or_an_equal_or_higher_rank,
    lifting_a_ban_takes_the_rank_that_placed_it,
    messages_are_deleted_by_their_author_or_from_above,
    banned_words_match_the_lower_cased_text,
    products_are_added_updated_and_removed,
    pins_need_an_existing_product,
    a_room_goes_live_once,
    room_closed_is_the_last_event_and_nothing_follows,
    closing_a_room_ends_it_for_everyone,
    a_join_resumes_from_recent_events_or_gets_a_snapshot,
    a_snapshot_shows_the_room_as_of_its_seq,
    hearts_are_announced_at_most_once_per_interval,
    viewers_are_counted_over_nodes_until_their_reports_expire,
    sale_facts_are_announced_once_when_they_change,
    a_sales_start_or_end_tells_its_products_stock_and_the_catalog_follows_silently,
    room_ids_are_taken_once_and_unknown_rooms_are_not_found,
    rooms_are_listed_newest_first,
    a_practice_room_says_so_in_its_info_snapshot_and_list,
);

/// Opens `ROOM` and watches it on this node (see [`open_watched`]).
async fn open<S: RoomStore>(store: &S) -> (std::sync::Arc<Collector>, u64) {
    open_watched(store, ROOM).await
}

async fn join<S: RoomStore>(store: &S, actor: &Actor) {
    store.join(ROOM, actor, None).await.unwrap();
}

async fn apply<S: RoomStore>(
    store: &S,
    actor: &Actor,
    command: RoomCommand,
    now: chophien::clock::Now,
) -> Result<(), RoomError> {
    store.apply(ROOM, actor, &command, now).await
}

fn chat(text: &str) -> RoomCommand {
    RoomCommand::Chat {
        text: text.into(),
        reply_to: None,
    }
}

fn message(seq: u64, id: u64, who: &Actor, text: &str, sent_at: u64) -> Value {
    json!({"seq": seq, "type": "chat", "message": {"id": id, "user_id": who.user_id,
        "name": who.name, "role": who.role, "text": text, "sent_at": sent_at}})
}

/// A snapshot of `ROOM` for `actor`.
async fn snapshot<S: RoomStore>(store: &S, actor: &Actor) -> chophien::room::store::RoomView {
    match store.join(ROOM, actor, None).await.unwrap() {
        Joined::Snapshot(view) => *view,
        Joined::Resumed { .. } => panic!("a join without last_seq resumed"),
    }
}

/// Something every store announces at once: proves that nothing was
/// announced before it (events arrive in seq order).
async fn marker<S: RoomStore>(store: &S, events: &Collector, clock: Clock, seq: u64) {
    apply(store, &seller(), chat("mốc"), clock.at(900_000))
        .await
        .unwrap();
    let next = events.next(ROOM).await;
    assert_eq!(
        (next["seq"].as_u64(), &next["message"]["text"]),
        (Some(seq), &json!("mốc")),
        "something was announced before the marker: {next}"
    );
}

async fn chat_messages_get_ids_in_order_and_the_history_keeps_the_newest<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let lan = viewer();
    for i in 0..5 {
        apply(&store, &lan, chat(&format!("m{i}")), clock.at(i * 1000))
            .await
            .unwrap();
    }
    let expected: Vec<Value> = (0..5)
        .map(|i| message(s + 1 + i, i + 1, &lan, &format!("m{i}"), T0 + i * 1000))
        .collect();
    assert_eq!(events.take(ROOM, 5).await, expected);
    let view = snapshot(&store, &seller()).await;
    let texts: Vec<&str> = view.chat.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["m2", "m3", "m4"],
        "chat_history is {}",
        limits().chat_history
    );
    assert_eq!(view.chat[0].id, 3);
    assert_eq!(view.seq, s + 5);
}

async fn chat_text_is_trimmed_and_checked<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let lan = viewer();
    apply(&store, &lan, chat("  Chào shop!  "), clock.at(0))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        message(s + 1, 1, &lan, "Chào shop!", T0)
    );
    assert_eq!(
        apply(&store, &lan, chat("\u{200B} \u{3164}"), clock.at(1)).await,
        Err(RoomError::InvalidValue("the message is empty".into()))
    );
    let long = "ệ".repeat(limits().max_chat_chars + 1);
    assert!(matches!(
        apply(&store, &lan, chat(&long), clock.at(2)).await,
        Err(RoomError::InvalidValue(_))
    ));
    let full = "🍵".repeat(limits().max_chat_chars);
    apply(&store, &lan, chat(&full), clock.at(3)).await.unwrap();
    assert_eq!(events.next(ROOM).await["message"]["id"], 2);
}

async fn slow_mode_spaces_a_viewers_messages_but_not_the_hosts<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let (lan, hoa, minh) = (viewer(), seller(), moderator());
    apply(
        &store,
        &minh,
        RoomCommand::SetSlowMode { seconds: 10 },
        clock.at(0),
    )
    .await
    .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 1, "type": "settings_changed", "settings": {"slow_mode_seconds": 10}})
    );
    apply(&store, &lan, chat("một"), clock.at(1000))
        .await
        .unwrap();
    assert_eq!(
        apply(&store, &lan, chat("hai"), clock.at(5000)).await,
        Err(RoomError::SlowMode {
            retry_after: Duration::from_secs(6)
        })
    );
    apply(&store, &lan, chat("ba"), clock.at(11_000))
        .await
        .unwrap();
    apply(&store, &hoa, chat("a"), clock.at(11_000))
        .await
        .unwrap();
    apply(&store, &hoa, chat("b"), clock.at(11_000))
        .await
        .unwrap();
    let texts: Vec<Value> = events
        .take(ROOM, 4)
        .await
        .iter()
        .map(|e| e["message"]["text"].clone())
        .collect();
    assert_eq!(texts, [json!("một"), json!("ba"), json!("a"), json!("b")]);
    assert_eq!(
        apply(
            &store,
            &minh,
            RoomCommand::SetSlowMode { seconds: 3601 },
            clock.at(0)
        )
        .await,
        Err(RoomError::InvalidValue(
            "slow mode is at most 3600 seconds".into()
        ))
    );
    apply(
        &store,
        &minh,
        RoomCommand::SetSlowMode { seconds: 0 },
        clock.at(0),
    )
    .await
    .unwrap();
    events.next(ROOM).await;
    apply(&store, &lan, chat("bốn"), clock.at(11_001))
        .await
        .unwrap();
    assert_eq!(events.next(ROOM).await["message"]["text"], "bốn");
}

async fn a_mute_holds_until_it_ends_and_only_below_its_author<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let (lan, minh) = (viewer(), moderator());
    let mute = |user: &str, minutes| RoomCommand::MuteUser {
        user_id: user.into(),
        minutes,
    };
    apply(&store, &minh, mute("lan", 2), clock.at(0))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 1, "type": "user_muted", "user_id": "lan", "until": T0 + 120_000})
    );
    assert_eq!(
        apply(&store, &lan, chat("hi"), clock.at(60_000)).await,
        Err(RoomError::Muted {
            until: T0 + 120_000
        })
    );
    apply(&store, &lan, chat("hi"), clock.at(120_000))
        .await
        .unwrap();
    assert_eq!(events.next(ROOM).await["message"]["text"], "hi");
    for minutes in [0, limits().max_mute_minutes + 1] {
        assert_eq!(
            apply(&store, &minh, mute("lan", minutes), clock.at(0)).await,
            Err(RoomError::InvalidValue(
                "minutes must be between 1 and 1440".into()
            ))
        );
    }
    // Placed before "hoa" first joined (a viewer to the room then), it
    // holds only below the moderator's rank: she speaks as a seller.
    apply(&store, &minh, mute("hoa", 5), clock.at(0))
        .await
        .unwrap();
    events.next(ROOM).await;
    join(&store, &seller()).await;
    apply(&store, &seller(), chat("vẫn nói được"), clock.at(1000))
        .await
        .unwrap();
    assert_eq!(events.next(ROOM).await["message"]["text"], "vẫn nói được");
    let hoa_as_viewer = person("hoa", "Hoa", Role::Viewer);
    assert_eq!(
        apply(&store, &hoa_as_viewer, chat("x"), clock.at(1000)).await,
        Err(RoomError::Muted {
            until: T0 + 300_000
        })
    );
}

async fn lifting_a_mute_takes_the_rank_that_placed_it<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let (minh, root) = (moderator(), admin());
    join(&store, &minh).await;
    join(&store, &root).await;
    let unmute = RoomCommand::UnmuteUser {
        user_id: "lan".into(),
    };
    let mute = RoomCommand::MuteUser {
        user_id: "lan".into(),
        minutes: 5,
    };
    apply(&store, &root, mute, clock.at(0)).await.unwrap();
    events.next(ROOM).await;
    assert_eq!(
        apply(&store, &minh, unmute.clone(), clock.at(1)).await,
        Err(RoomError::Outranked)
    );
    apply(&store, &root, unmute.clone(), clock.at(2))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 2, "type": "user_unmuted", "user_id": "lan"})
    );
    // Lifting a mute that is not there is announced all the same.
    apply(&store, &minh, unmute, clock.at(3)).await.unwrap();
    assert_eq!(events.next(ROOM).await["type"], "user_unmuted");
    apply(&store, &viewer(), chat("được nói"), clock.at(4))
        .await
        .unwrap();
    assert_eq!(events.next(ROOM).await["type"], "chat");
}

async fn a_ban_refuses_joins_and_every_command_below_its_author<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let (lan, minh) = (viewer(), moderator());
    apply(&store, &lan, chat("mua ở shop khác"), clock.at(0))
        .await
        .unwrap();
    events.next(ROOM).await;
    let ban = |user: &str| RoomCommand::BanUser {
        user_id: user.into(),
    };
    apply(&store, &minh, ban("lan"), clock.at(1)).await.unwrap();
    // The name comes from the recent chat; an unseen identity has none.
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 2, "type": "user_banned", "user_id": "lan", "name": "Lan"})
    );
    apply(&store, &minh, ban("ghost"), clock.at(2))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 3, "type": "user_banned", "user_id": "ghost", "name": null})
    );
    assert_eq!(store.is_banned(ROOM, "lan", Role::Viewer).await, Ok(true));
    assert_eq!(
        store.is_banned(ROOM, "lan", Role::Moderator).await,
        Ok(false)
    );
    assert_eq!(
        store.join(ROOM, &lan, None).await.err(),
        Some(RoomError::Banned)
    );
    for command in [
        chat("xin lỗi"),
        RoomCommand::PinProduct {
            product_id: "p1".into(),
        },
        RoomCommand::DeleteMessage { message_id: 1 },
    ] {
        assert_eq!(
            apply(&store, &lan, command, clock.at(3)).await,
            Err(RoomError::Banned)
        );
    }
    // A ban placed before "hoa" joined holds only below its author's rank.
    apply(&store, &minh, ban("hoa"), clock.at(4)).await.unwrap();
    events.next(ROOM).await;
    join(&store, &seller()).await;
    let view = snapshot(&store, &seller()).await;
    let banned: Vec<(&str, Option<&str>)> = view
        .banned
        .iter()
        .map(|b| (b.user_id.as_str(), b.name.as_deref()))
        .collect();
    assert_eq!(
        banned,
        [("ghost", None), ("hoa", None), ("lan", Some("Lan"))]
    );
    assert_eq!(
        store
            .join(ROOM, &person("hoa", "Hoa", Role::Viewer), None)
            .await
            .err(),
        Some(RoomError::Banned)
    );
}

async fn nobody_moderates_themselves_or_an_equal_or_higher_rank<S: RoomStore>(store: S) {
    let (_events, _) = open(&store).await;
    let clock = Clock::new();
    let minh = moderator();
    let other = person("mod2", "Tuấn", Role::Moderator);
    join(&store, &minh).await;
    join(&store, &other).await;
    join(&store, &seller()).await;
    for target in ["hoa", "mod2"] {
        for command in [
            RoomCommand::BanUser {
                user_id: target.into(),
            },
            RoomCommand::MuteUser {
                user_id: target.into(),
                minutes: 5,
            },
            RoomCommand::UnmuteUser {
                user_id: target.into(),
            },
        ] {
            assert_eq!(
                apply(&store, &minh, command.clone(), clock.at(0)).await,
                Err(RoomError::Outranked),
                "{command:?}"
            );
        }
    }
    for command in [
        RoomCommand::BanUser {
            user_id: "mod".into(),
        },
        RoomCommand::MuteUser {
            user_id: "mod".into(),
            minutes: 0,
        },
        RoomCommand::UnbanUser {
            user_id: "mod".into(),
        },
    ] {
        assert_eq!(
            apply(&store, &minh, command.clone(), clock.at(0)).await,
            Err(RoomError::OwnIdentity),
            "{command:?}"
        );
    }
    // A seller bans a moderator; an admin bans a seller.
    apply(
        &store,
        &seller(),
        RoomCommand::BanUser {
            user_id: "mod2".into(),
        },
        clock.at(1),
    )
    .await
    .unwrap();
    apply(
        &store,
        &admin(),
        RoomCommand::BanUser {
            user_id: "hoa".into(),
        },
        clock.at(2),
    )
    .await
    .unwrap();
    assert_eq!(store.is_banned(ROOM, "hoa", Role::Seller).await, Ok(true));
}

async fn lifting_a_ban_takes_the_rank_that_placed_it<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let (hoa, root, minh) = (seller(), admin(), moderator());
    let unban = RoomCommand::UnbanUser {
        user_id: "lan".into(),
    };
    apply(
        &store,
        &root,
        RoomCommand::BanUser {
            user_id: "lan".into(),
        },
        clock.at(0),
    )
    .await
    .unwrap();
    events.next(ROOM).await;
    for lower in [&hoa, &minh] {
        assert_eq!(
            apply(&store, lower, unban.clone(), clock.at(1)).await,
            Err(RoomError::Outranked)
        );
    }
    apply(&store, &root, unban.clone(), clock.at(2))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 2, "type": "user_unbanned", "user_id": "lan"})
    );
    assert_eq!(
        apply(&store, &hoa, unban, clock.at(3)).await,
        Err(RoomError::InvalidState(
            "this user is not banned from the room".into()
        ))
    );
    join(&store, &viewer()).await;
}

async fn messages_are_deleted_by_their_author_or_from_above<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let (lan, hoa, minh) = (viewer(), seller(), moderator());
    apply(&store, &hoa, chat("giá 199k"), clock.at(0))
        .await
        .unwrap();
    apply(&store, &lan, chat("rẻ quá"), clock.at(1))
        .await
        .unwrap();
    apply(&store, &lan, chat("lỡ tay"), clock.at(2))
        .await
        .unwrap();
    events.take(ROOM, 3).await;
    let delete = |id| RoomCommand::DeleteMessage { message_id: id };
    assert_eq!(
        apply(&store, &minh, delete(1), clock.at(3)).await,
        Err(RoomError::Outranked)
    );
    assert_eq!(
        apply(&store, &lan, delete(1), clock.at(3)).await,
        Err(RoomError::Outranked)
    );
    apply(&store, &lan, delete(3), clock.at(4)).await.unwrap();
    apply(&store, &minh, delete(2), clock.at(5)).await.unwrap();
    apply(&store, &hoa, delete(1), clock.at(6)).await.unwrap();
    let deleted: Vec<Value> = events.take(ROOM, 3).await;
    assert_eq!(
        deleted,
        [3, 2, 1].map(|id| json!({"seq": s + 7 - id, "type": "message_deleted", "message_id": id}))
    );
    assert_eq!(
        apply(&store, &hoa, delete(1), clock.at(7)).await,
        Err(RoomError::MessageNotFound)
    );
    assert!(snapshot(&store, &lan).await.chat.is_empty());
}

async fn banned_words_match_the_lower_cased_text<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let (lan, minh) = (viewer(), moderator());
    let words = vec!["Lừa Đảo".to_owned(), "  ".to_owned(), "SPAM".to_owned()];
    apply(
        &store,
        &minh,
        RoomCommand::SetBannedWords { words },
        clock.at(0),
    )
    .await
    .unwrap();
    for text in ["Shop LỪA ĐẢO quá", "spam spam", "đây là lừa đảo"] {
        assert_eq!(
            apply(&store, &lan, chat(text), clock.at(1)).await,
            Err(RoomError::BannedWord),
            "{text}"
        );
    }
    // The list is private: setting it announced nothing.
    marker(&store, &events, clock, s + 1).await;
    apply(&store, &lan, chat("trà ngon"), clock.at(2))
        .await
        .unwrap();
    assert_eq!(events.next(ROOM).await["message"]["text"], "trà ngon");
    let too_many = vec!["x".to_owned(); limits().max_banned_words + 1];
    assert_eq!(
        apply(
            &store,
            &minh,
            RoomCommand::SetBannedWords { words: too_many },
            clock.at(3)
        )
        .await,
        Err(RoomError::InvalidValue("at most 500 banned words".into()))
    );
}

fn tea() -> NewProduct {
    NewProduct {
        name: "  Chè búp 100g ".into(),
        description: " Hái tay ".into(),
        price_vnd: 60_000,
        stock: 40,
        image_url: Some("/img/che.svg".into()),
        per_buyer_limit: None,
    }
}

async fn products_are_added_updated_and_removed<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let hoa = seller();
    apply(
        &store,
        &hoa,
        RoomCommand::AddProduct { product: tea() },
        clock.at(0),
    )
    .await
    .unwrap();
    let p3 = json!({"id": "p3", "name": "Chè búp 100g", "description": "Hái tay",
        "price_vnd": 60000, "stock": 40, "image_url": "/img/che.svg"});
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 1, "type": "product_upserted", "product": p3})
    );
    let free = NewProduct {
        price_vnd: 0,
        ..tea()
    };
    assert!(matches!(
        apply(&store, &hoa, RoomCommand::AddProduct { product: free }, clock.at(1)).await,
        Err(RoomError::InvalidValue(message)) if message.starts_with("price_vnd ")
    ));
    let update = |changes| RoomCommand::UpdateProduct {
        product_id: "p3".into(),
        changes,
    };
    apply(
        &store,
        &hoa,
        update(ProductChanges {
            price_vnd: Some(55_000),
            ..Default::default()
        }),
        clock.at(2),
    )
    .await
    .unwrap();
    assert_eq!(events.next(ROOM).await["product"]["price_vnd"], 55_000);
    apply(
        &store,
        &hoa,
        RoomCommand::PinProduct {
            product_id: "p3".into(),
        },
        clock.at(3),
    )
    .await
    .unwrap();
    events.next(ROOM).await;
    // A pinned product's change is announced as an upsert and a pin.
    apply(
        &store,
        &hoa,
        update(ProductChanges {
            name: Some(" Chè đặc biệt ".into()),
            image_url: Some(String::new()),
            ..Default::default()
        }),
        clock.at(4),
    )
    .await
    .unwrap();
    let changed = json!({"id": "p3", "name": "Chè đặc biệt", "description": "Hái tay",
        "price_vnd": 55000, "stock": 40, "image_url": null});
    assert_eq!(
        events.take(ROOM, 2).await,
        [
            json!({"seq": s + 4, "type": "product_upserted", "product": changed}),
            json!({"seq": s + 5, "type": "product_pinned", "product": changed}),
        ]
    );
    assert_eq!(
        serde_json::to_value(store.product(ROOM, "p3").await.unwrap()).unwrap(),
        changed
    );
    assert!(matches!(
        apply(
            &store,
            &hoa,
            update(ProductChanges {
                stock: Some(2_000_000),
                ..Default::default()
            }),
            clock.at(5)
        )
        .await,
        Err(RoomError::InvalidValue(_))
    ));
    let unknown = RoomCommand::UpdateProduct {
        product_id: "p9".into(),
        changes: ProductChanges::default(),
    };
    assert_eq!(
        apply(&store, &hoa, unknown, clock.at(5)).await,
        Err(RoomError::ProductNotFound)
    );
    let remove = |id: &str| RoomCommand::RemoveProduct {
        product_id: id.into(),
    };
    apply(&store, &hoa, remove("p3"), clock.at(6))
        .await
        .unwrap();
    assert_eq!(
        events.take(ROOM, 2).await,
        [
            json!({"seq": s + 6, "type": "product_unpinned"}),
            json!({"seq": s + 7, "type": "product_removed", "product_id": "p3"}),
        ]
    );
    assert_eq!(
        apply(&store, &hoa, remove("p3"), clock.at(7)).await,
        Err(RoomError::ProductNotFound)
    );
    assert_eq!(
        store.product(ROOM, "p3").await.err(),
        Some(RoomError::ProductNotFound)
    );
    // Ids come from a counter (never reused); the catalog has a bound.
    for _ in 0..2 {
        apply(
            &store,
            &hoa,
            RoomCommand::AddProduct { product: tea() },
            clock.at(8),
        )
        .await
        .unwrap();
    }
    let ids: Vec<Value> = events
        .take(ROOM, 2)
        .await
        .iter()
        .map(|e| e["product"]["id"].clone())
        .collect();
    assert_eq!(ids, [json!("p4"), json!("p5")]);
    assert_eq!(
        apply(
            &store,
            &hoa,
            RoomCommand::AddProduct { product: tea() },
            clock.at(9)
        )
        .await,
        Err(RoomError::InvalidValue(
            "a room has at most 4 products".into()
        ))
    );
    let view = snapshot(&store, &hoa).await;
    let ids: Vec<&str> = view.products.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["p1", "p2", "p4", "p5"]);
    assert_eq!(view.products[0], product("p1"));
}

async fn pins_need_an_existing_product<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let minh = moderator();
    let pin = |id: &str| RoomCommand::PinProduct {
        product_id: id.into(),
    };
    for id in ["nope", ""] {
        assert_eq!(
            apply(&store, &minh, pin(id), clock.at(0)).await,
            Err(RoomError::ProductNotFound)
        );
    }
    apply(&store, &minh, pin("p2"), clock.at(1)).await.unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 1, "type": "product_pinned", "product": product("p2")})
    );
    assert_eq!(
        store.info(ROOM).await.unwrap().pinned_product_id.as_deref(),
        Some("p2")
    );
    let view = snapshot(&store, &viewer()).await;
    assert_eq!(view.pinned_product, Some(product("p2")));
    assert_eq!(view.info.pinned_product_id.as_deref(), Some("p2"));
    apply(&store, &minh, RoomCommand::UnpinProduct, clock.at(2))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 2, "type": "product_unpinned"})
    );
    // Unpinning nothing announces nothing.
    apply(&store, &minh, RoomCommand::UnpinProduct, clock.at(3))
        .await
        .unwrap();
    marker(&store, &events, clock, s + 3).await;
    assert_eq!(snapshot(&store, &viewer()).await.pinned_product, None);
}

async fn a_room_goes_live_once<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    apply(&store, &seller(), RoomCommand::GoLive, clock.at(0))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 1, "type": "room_status", "status": "live"})
    );
    assert_eq!(
        apply(&store, &seller(), RoomCommand::GoLive, clock.at(1)).await,
        Err(RoomError::InvalidState("the room is already live".into()))
    );
    assert_eq!(store.info(ROOM).await.unwrap().status, RoomStatus::Live);
}

async fn room_closed_is_the_last_event_and_nothing_follows<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let hoa = seller();
    apply(&store, &hoa, RoomCommand::EndLive, clock.at(0))
        .await
        .unwrap();
    let ending = events.take_frames(ROOM, 2).await;
    assert!(!ending[0].is_last() && ending[1].is_last());
    let ending: Vec<Value> = ending
        .iter()
        .map(|f| serde_json::from_str(f.json.as_str()).unwrap())
        .collect();
    assert_eq!(
        ending,
        [
            json!({"seq": s + 1, "type": "room_status", "status": "ended"}),
            json!({"seq": s + 2, "type": "room_closed", "reason": "the seller ended the live session"}),
        ]
    );
    // After the end every door refuses, and nothing more is announced.
    assert_eq!(
        apply(&store, &hoa, chat("còn ai không"), clock.at(1)).await,
        Err(RoomError::Ended)
    );
    assert_eq!(
        apply(&store, &hoa, RoomCommand::EndLive, clock.at(1)).await,
        Err(RoomError::Ended)
    );
    assert_eq!(
        store.observe(ROOM, RoomFact::StreamLive(true)).await,
        Err(RoomError::Ended)
    );
    assert_eq!(
        store.add_hearts(ROOM, 5, T0, 1).await,
        Err(RoomError::Ended)
    );
    assert_eq!(
        store.report_viewers(ROOM, "n1", 3, T0, 1000).await,
        Err(RoomError::Ended)
    );
    assert_eq!(
        store.join(ROOM, &viewer(), None).await.err(),
        Some(RoomError::Ended)
    );
    assert_eq!(
        store.product(ROOM, "p1").await.err(),
        Some(RoomError::Ended)
    );
    assert_eq!(store.current_sale(ROOM).await, Ok(None));
    assert_eq!(store.is_banned(ROOM, "lan", Role::Viewer).await, Ok(false));
    let info = store.close(ROOM, "again").await.unwrap();
    assert_eq!(info.status, RoomStatus::Ended);
    assert_eq!(store.info(ROOM).await.unwrap(), info);
    assert_eq!(store.list().await.unwrap(), vec![info]);
    assert_eq!(events.pending(ROOM), 0, "something followed room_closed");
}

async fn closing_a_room_ends_it_for_everyone<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    store
        .report_viewers(ROOM, "n1", 2, T0, 60_000)
        .await
        .unwrap();
    events.next(ROOM).await;
    let info = store.close(ROOM, "the room was closed").await.unwrap();
    assert_eq!((info.status, info.viewer_count), (RoomStatus::Ended, 2));
    assert_eq!(
        events.take(ROOM, 2).await,
        [
            json!({"seq": s + 2, "type": "room_status", "status": "ended"}),
            json!({"seq": s + 3, "type": "room_closed", "reason": "the room was closed"}),
        ]
    );
    assert_eq!(store.close(ROOM, "again").await.unwrap(), info);
}

async fn a_join_resumes_from_recent_events_or_gets_a_snapshot<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let hoa = seller();
    for i in 0..3 {
        apply(&store, &hoa, chat(&format!("m{i}")), clock.at(i))
            .await
            .unwrap();
    }
    let sent = events.take_frames(ROOM, 3).await;
    let lan = viewer();
    match store.join(ROOM, &lan, Some(s)).await.unwrap() {
        Joined::Resumed {
            from_seq,
            to_seq,
            frames,
        } => {
            assert_eq!((from_seq, to_seq), (s + 1, s + 3));
            let json = |f: &[chophien::bus::Frame]| -> Vec<String> {
                f.iter().map(|f| f.json.as_str().to_owned()).collect()
            };
            assert_eq!(json(&frames), json(&sent), "the same bytes as delivered");
        }
        Joined::Snapshot(_) => panic!("the recent events were not resumed"),
    }
    assert!(matches!(
        store.join(ROOM, &lan, Some(s + 3)).await.unwrap(),
        Joined::Resumed { from_seq, to_seq, frames } if from_seq == s + 4 && to_seq == s + 3 && frames.is_empty()
    ));
    // Ahead of the room (a client of another incarnation): a snapshot.
    assert!(matches!(
        store.join(ROOM, &lan, Some(s + 100)).await.unwrap(),
        Joined::Snapshot(view) if view.seq == s + 3
    ));
    // Beyond the replay buffer: a snapshot; at its edge: the events.
    for i in 0..REPLAY as u64 + 2 {
        apply(&store, &hoa, chat(&format!("n{i}")), clock.at(10 + i))
            .await
            .unwrap();
    }
    let now = s + 3 + REPLAY as u64 + 2;
    events.take(ROOM, REPLAY + 2).await;
    assert!(matches!(
        store.join(ROOM, &lan, Some(s)).await.unwrap(),
        Joined::Snapshot(view) if view.seq == now
    ));
    assert!(matches!(
        store
            .join(ROOM, &lan, Some(now - REPLAY as u64 - 1))
            .await
            .unwrap(),
        Joined::Snapshot(_)
    ));
    match store
        .join(ROOM, &lan, Some(now - REPLAY as u64))
        .await
        .unwrap()
    {
        Joined::Resumed { frames, .. } => {
            let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
            assert_eq!(seqs, ((now - REPLAY as u64 + 1)..=now).collect::<Vec<_>>());
        }
        Joined::Snapshot(_) => panic!("the last {REPLAY} events were not resumed"),
    }
}

async fn a_snapshot_shows_the_room_as_of_its_seq<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let hoa = seller();
    apply(&store, &hoa, chat("chào"), clock.at(0))
        .await
        .unwrap();
    apply(
        &store,
        &moderator(),
        RoomCommand::SetSlowMode { seconds: 5 },
        clock.at(1),
    )
    .await
    .unwrap();
    store.add_hearts(ROOM, 7, T0, 500).await.unwrap();
    store
        .observe(ROOM, RoomFact::StreamLive(true))
        .await
        .unwrap();
    events.take(ROOM, 4).await;
    let view = snapshot(&store, &hoa).await;
    assert_eq!(view.seq, s + 4);
    assert_eq!(view.info, store.info(ROOM).await.unwrap());
    assert_eq!(view.info.title, "Phiên chợ chè");
    assert_eq!(view.info.created_at, T0);
    assert_eq!(view.info.status, RoomStatus::Scheduled);
    assert_eq!(view.products, vec![product("p1"), product("p2")]);
    assert_eq!(view.chat.len(), 1);
    assert_eq!(view.chat[0].role, Role::Seller);
    assert_eq!(view.settings.slow_mode_seconds, 5);
    assert_eq!(view.hearts_total, 7);
    assert!(view.stream_live);
    assert_eq!(view.sale, None);
    assert!(view.banned.is_empty());
}

async fn hearts_are_announced_at_most_once_per_interval<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    assert_eq!(store.add_hearts(ROOM, 3, T0, 500).await, Ok(false));
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 1, "type": "hearts", "count": 3, "total": 3})
    );
    // Within the interval (less a tenth): counted, owed, not announced.
    assert_eq!(store.add_hearts(ROOM, 2, T0 + 100, 500).await, Ok(true));
    assert_eq!(store.add_hearts(ROOM, 0, T0 + 449, 500).await, Ok(true));
    marker(&store, &events, clock, s + 2).await;
    assert_eq!(store.add_hearts(ROOM, 0, T0 + 450, 500).await, Ok(false));
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 3, "type": "hearts", "count": 2, "total": 5})
    );
    assert_eq!(store.add_hearts(ROOM, 0, T0 + 2000, 500).await, Ok(false));
    assert_eq!(snapshot(&store, &viewer()).await.hearts_total, 5);
}

async fn viewers_are_counted_over_nodes_until_their_reports_expire<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    store
        .report_viewers(ROOM, "node-a", 3, T0, 3000)
        .await
        .unwrap();
    store
        .report_viewers(ROOM, "node-b", 2, T0 + 100, 3000)
        .await
        .unwrap();
    assert_eq!(
        events.take(ROOM, 2).await,
        [
            json!({"seq": s + 1, "type": "viewer_count", "count": 3}),
            json!({"seq": s + 2, "type": "viewer_count", "count": 5}),
        ]
    );
    // Unchanged: nothing announced.
    store
        .report_viewers(ROOM, "node-b", 2, T0 + 200, 3000)
        .await
        .unwrap();
    marker(&store, &events, clock, s + 3).await;
    // node-a stopped reporting: its viewers stop counting when its report expires.
    store
        .report_viewers(ROOM, "node-b", 2, T0 + 3000, 3000)
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 4, "type": "viewer_count", "count": 2})
    );
    assert_eq!(store.info(ROOM).await.unwrap().viewer_count, 2);
    store
        .report_viewers(ROOM, "node-b", 0, T0 + 3100, 3000)
        .await
        .unwrap();
    assert_eq!(events.next(ROOM).await["count"], 0);
}

fn sale(id: &str, state: SaleState, remaining: u32) -> SaleInfo {
    SaleInfo {
        id: id.into(),
        product_id: "p1".into(),
        product_name: "Chè Tân Cương".into(),
        price_vnd: 199_000,
        stock_total: 10,
        remaining,
        returned_to_stock: 0,
        per_buyer_limit: 2,
        state,
        starts_at: T0,
        ends_at: T0 + 300_000,
        hold_secs: 60,
    }
}

async fn sale_facts_are_announced_once_when_they_change<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    let observe = |fact| store.observe(ROOM, fact);
    let live = sale("s1", SaleState::Live, 10);
    observe(RoomFact::SaleChanged {
        sale: live.clone(),
        product_stock: None,
    })
    .await
    .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 1, "type": "sale_updated", "sale": serde_json::to_value(&live).unwrap()})
    );
    assert_eq!(store.current_sale(ROOM).await, Ok(Some(live.clone())));
    // The same read again, and a late read of another sale: nothing.
    observe(RoomFact::SaleRead(live.clone())).await.unwrap();
    observe(RoomFact::SaleRead(sale("s0", SaleState::Ended, 0)))
        .await
        .unwrap();
    marker(&store, &events, clock, s + 2).await;
    observe(RoomFact::SaleRead(sale("s1", SaleState::Live, 7)))
        .await
        .unwrap();
    observe(RoomFact::SaleRead(sale("s1", SaleState::SoldOut, 0)))
        .await
        .unwrap();
    let sold_out = sale("s1", SaleState::SoldOut, 0);
    assert_eq!(
        events.take(ROOM, 2).await,
        [
            json!({"seq": s + 3, "type": "sale_stock", "sale_id": "s1", "remaining": 7}),
            json!({"seq": s + 4, "type": "sale_updated", "sale": serde_json::to_value(&sold_out).unwrap()}),
        ]
    );
    observe(RoomFact::OrderPlaced {
        sale_id: "s1".into(),
        buyer_name: "Lan".into(),
        quantity: 2,
    })
    .await
    .unwrap();
    observe(RoomFact::StreamLive(true)).await.unwrap();
    observe(RoomFact::StreamLive(true)).await.unwrap();
    observe(RoomFact::StreamLive(false)).await.unwrap();
    assert_eq!(
        events.take(ROOM, 3).await,
        [
            json!({"seq": s + 5, "type": "sale_purchase", "sale_id": "s1", "buyer_name": "Lan", "quantity": 2}),
            json!({"seq": s + 6, "type": "stream_state", "live": true}),
            json!({"seq": s + 7, "type": "stream_state", "live": false}),
        ]
    );
    assert_eq!(store.current_sale(ROOM).await, Ok(Some(sold_out.clone())));
    assert_eq!(snapshot(&store, &viewer()).await.sale, Some(sold_out));
}

async fn a_sales_start_or_end_tells_its_products_stock_and_the_catalog_follows_silently<
    S: RoomStore,
>(
    store: S,
) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    assert_eq!(product("p1").stock, 120, "the demo catalog");
    let live = sale("s1", SaleState::Live, 10);
    store
        .observe(
            ROOM,
            RoomFact::SaleChanged {
                sale: live.clone(),
                product_stock: Some(110),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 1, "type": "sale_updated", "sale": serde_json::to_value(&live).unwrap(),
               "product_stock": 110})
    );
    // No `product_stock` of its own, and a later read that agrees is quiet.
    let agreeing = RoomFact::ProductStock {
        product_id: "p1".into(),
        stock: 110,
    };
    store.observe(ROOM, agreeing).await.unwrap();
    marker(&store, &events, clock, s + 2).await;
    let carved = chophien::protocol::Product {
        stock: 110,
        ..product("p1")
    };
    let view = snapshot(&store, &viewer()).await;
    assert_eq!(view.products, vec![carved, product("p2")]);
    assert_eq!(view.sale, Some(live));

    let ended = sale("s1", SaleState::Ended, 2);
    store
        .observe(
            ROOM,
            RoomFact::SaleChanged {
                sale: ended.clone(),
                product_stock: Some(118),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 3, "type": "sale_updated", "sale": serde_json::to_value(&ended).unwrap(),
               "product_stock": 118})
    );
    marker(&store, &events, clock, s + 4).await;
    assert_eq!(snapshot(&store, &viewer()).await.products[0].stock, 118);
}

async fn room_ids_are_taken_once_and_unknown_rooms_are_not_found<S: RoomStore>(store: S) {
    store.create(record(ROOM, T0)).await.unwrap();
    assert_eq!(
        store.create(record(ROOM, T0 + 1)).await.err(),
        Some(RoomError::AlreadyExists)
    );
    store.close(ROOM, "bye").await.unwrap();
    assert_eq!(
        store.create(record(ROOM, T0 + 2)).await.err(),
        Some(RoomError::AlreadyExists),
        "an ended room keeps its id"
    );
    const NOPE: &str = "nope";
    let clock = Clock::new();
    let lan = viewer();
    let not_found = Some(RoomError::RoomNotFound);
    assert_eq!(store.info(NOPE).await.err(), not_found);
    assert_eq!(store.join(NOPE, &lan, None).await.err(), not_found);
    assert_eq!(
        store
            .apply(NOPE, &lan, &chat("alo"), clock.at(0))
            .await
            .err(),
        not_found
    );
    assert_eq!(
        store
            .apply(NOPE, &seller(), &RoomCommand::EndLive, clock.at(0))
            .await
            .err(),
        not_found
    );
    assert_eq!(
        store.observe(NOPE, RoomFact::StreamLive(true)).await.err(),
        not_found
    );
    assert_eq!(store.close(NOPE, "bye").await.err(), not_found);
    assert_eq!(store.product(NOPE, "p1").await.err(), not_found);
    assert_eq!(store.current_sale(NOPE).await.err(), not_found);
    assert_eq!(
        store.is_banned(NOPE, "lan", Role::Viewer).await.err(),
        not_found
    );
    assert_eq!(store.add_hearts(NOPE, 1, T0, 500).await.err(), not_found);
    assert_eq!(
        store.report_viewers(NOPE, "n1", 1, T0, 500).await.err(),
        not_found
    );
    assert_eq!(store.health().await, Ok(()));
}

async fn rooms_are_listed_newest_first<S: RoomStore>(store: S) {
    assert!(store.list().await.unwrap().is_empty());
    for (id, at) in [("b-room", T0), ("a-room", T0), ("c-room", T0 + 5)] {
        store.create(record(id, at)).await.unwrap();
    }
    store.close("b-room", "bye").await.unwrap();
    let listed: Vec<(String, RoomStatus)> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|info| (info.id, info.status))
        .collect();
    assert_eq!(
        listed,
        [
            ("c-room".to_owned(), RoomStatus::Scheduled),
            ("a-room".to_owned(), RoomStatus::Scheduled),
            ("b-room".to_owned(), RoomStatus::Ended),
        ]
    );
}

async fn a_practice_room_says_so_in_its_info_snapshot_and_list<S: RoomStore>(store: S) {
    store.create(record("real-room", T0)).await.unwrap();
    let practice = chophien::room::store::RoomRecord {
        practice: true,
        ..record(ROOM, T0 + 1)
    };
    assert!(store.create(practice).await.unwrap().practice);
    assert!(store.info(ROOM).await.unwrap().practice);
    assert!(!store.info("real-room").await.unwrap().practice);
    assert!(snapshot(&store, &viewer()).await.info.practice);
    let listed: Vec<(String, bool)> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|info| (info.id, info.practice))
        .collect();
    assert_eq!(
        listed,
        [(ROOM.to_owned(), true), ("real-room".to_owned(), false)]
    );
}
