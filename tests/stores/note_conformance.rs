//! The pinned announcement's contract (`pin_note`, `unpin_note`, the
//! snapshot's `pinned_note`), run against every room store: memory, Redis,
//! and a Redis Cluster. Both stores must send the same frames and keep the
//! same note, so it survives reconnects and reads the same on every node.

use crate::support;

use chophien::protocol::PinnedNote;
use chophien::room::store::{Joined, RoomStore, RoomView};
use chophien::room::{Actor, RoomCommand, RoomError};
use serde_json::json;

use support::room::{moderator, open_watched, seller, viewer, Clock, Collector, T0};

const ROOM: &str = "che-thai-nguyen";

crate::on_every_room_store!(
    a_pinned_note_is_announced_and_in_every_later_snapshot,
    a_new_note_replaces_the_old_and_unpinning_clears_it,
    note_text_is_checked_before_anything_changes,
    a_banned_host_cannot_pin,
);

/// Opens `ROOM` and watches it on this node (see [`open_watched`]).
async fn open<S: RoomStore>(store: &S) -> (std::sync::Arc<Collector>, u64) {
    open_watched(store, ROOM).await
}

async fn apply<S: RoomStore>(
    store: &S,
    actor: &Actor,
    command: RoomCommand,
    now: chophien::clock::Now,
) -> Result<(), RoomError> {
    store.apply(ROOM, actor, &command, now).await
}

fn pin(text: &str) -> RoomCommand {
    RoomCommand::PinNote { text: text.into() }
}

async fn snapshot<S: RoomStore>(store: &S, actor: &Actor) -> RoomView {
    match store.join(ROOM, actor, None).await.unwrap() {
        Joined::Snapshot(view) => *view,
        Joined::Resumed { .. } => panic!("a join without last_seq resumed"),
    }
}

async fn a_pinned_note_is_announced_and_in_every_later_snapshot<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    // Markup and quotes are text like any other: kept exactly.
    let text = r#"Freeship đơn từ 300k <b>"nay"</b> / mai"#;
    apply(&store, &seller(), pin(&format!("  {text} ")), clock.at(5))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 1, "type": "note_pinned",
            "note": {"text": text, "pinned_at": T0 + 5, "by": "Chị Hoa"}})
    );
    let expected = PinnedNote {
        text: text.into(),
        pinned_at: T0 + 5,
        by: "Chị Hoa".into(),
    };
    assert_eq!(
        snapshot(&store, &viewer()).await.pinned_note,
        Some(expected.clone())
    );
    // A reconnect that resumes hears the pin itself.
    match store.join(ROOM, &viewer(), Some(s)).await.unwrap() {
        Joined::Resumed { frames, .. } => {
            let first: serde_json::Value = serde_json::from_str(frames[0].json.as_str()).unwrap();
            assert_eq!(first["type"], "note_pinned");
            assert_eq!(first["note"]["text"], text);
        }
        Joined::Snapshot(view) => assert_eq!(view.pinned_note, Some(expected)),
    }
}

async fn a_new_note_replaces_the_old_and_unpinning_clears_it<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    apply(&store, &seller(), pin("Freeship đơn từ 300k"), clock.at(1))
        .await
        .unwrap();
    // Moderators pin as they pin products.
    apply(
        &store,
        &moderator(),
        pin("Tặng ấm chén đơn từ 500k"),
        clock.at(2),
    )
    .await
    .unwrap();
    let [_, second] = <[serde_json::Value; 2]>::try_from(events.take(ROOM, 2).await).unwrap();
    assert_eq!(second["note"]["by"], "Minh");
    let view = snapshot(&store, &viewer()).await;
    assert_eq!(
        view.pinned_note.map(|note| note.text),
        Some("Tặng ấm chén đơn từ 500k".to_owned())
    );
    apply(&store, &seller(), RoomCommand::UnpinNote, clock.at(3))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": s + 3, "type": "note_unpinned"})
    );
    // Unpinning nothing announces nothing: the next event is the next pin.
    apply(&store, &seller(), RoomCommand::UnpinNote, clock.at(4))
        .await
        .unwrap();
    assert_eq!(snapshot(&store, &viewer()).await.pinned_note, None);
    apply(&store, &seller(), pin("Mốc"), clock.at(5))
        .await
        .unwrap();
    let next = events.next(ROOM).await;
    assert_eq!(
        (next["seq"].as_u64(), &next["type"]),
        (Some(s + 4), &json!("note_pinned"))
    );
}

async fn note_text_is_checked_before_anything_changes<S: RoomStore>(store: S) {
    let (events, s) = open(&store).await;
    let clock = Clock::new();
    for blank in ["", "   ", "\u{200B} \u{3164}"] {
        assert_eq!(
            apply(&store, &seller(), pin(blank), clock.at(1)).await,
            Err(RoomError::InvalidValue("the note is empty".into()))
        );
    }
    let longest = "ệ".repeat(chophien::room::note::MAX_NOTE_CHARS);
    assert_eq!(
        apply(&store, &seller(), pin(&format!("{longest}ệ")), clock.at(2)).await,
        Err(RoomError::InvalidValue(
            "a note is at most 200 characters".into()
        ))
    );
    assert_eq!(snapshot(&store, &viewer()).await.pinned_note, None);
    apply(&store, &seller(), pin(&longest), clock.at(3))
        .await
        .unwrap();
    let next = events.next(ROOM).await;
    assert_eq!(
        next["seq"].as_u64(),
        Some(s + 1),
        "a refused pin announced something"
    );
    assert_eq!(next["note"]["text"], json!(longest));
}

async fn a_banned_host_cannot_pin<S: RoomStore>(store: S) {
    let (_events, _) = open(&store).await;
    let clock = Clock::new();
    let minh = moderator();
    store.join(ROOM, &seller(), None).await.unwrap();
    store.join(ROOM, &minh, None).await.unwrap();
    let ban = RoomCommand::BanUser {
        user_id: minh.user_id.clone(),
    };
    apply(&store, &seller(), ban, clock.at(1)).await.unwrap();
    assert_eq!(
        apply(&store, &minh, pin("Freeship"), clock.at(2)).await,
        Err(RoomError::Banned)
    );
    assert_eq!(snapshot(&store, &seller()).await.pinned_note, None);
}
