//! A room's schedule (planned start, cover, title) in every room store:
//! stored at creation, changed by `UpdateRoom` and announced as
//! `room_updated` with the room as it now is, shown in info, list and
//! snapshots alike. Run on memory, Redis and a Redis Cluster, like
//! `room_conformance.rs`.

use crate::support;

use chophien::room::schedule::{self, RoomChanges};
use chophien::room::store::{Joined, RoomRecord, RoomStore};
use chophien::room::{RoomCommand, RoomError};
use serde_json::json;

use support::room::{admin, record, seller, viewer, Clock, Collector, T0};

const ROOM: &str = "phien-che-sap-toi";
const DAY: u64 = 24 * 60 * 60 * 1000;
const COVER: &str = "/photos/3f9a0c1b.jpg";

crate::on_every_room_store!(
    a_planned_start_and_cover_given_at_creation_are_in_info_list_and_snapshot,
    an_update_changes_only_the_fields_it_names_and_announces_the_room,
    a_cleared_start_and_cover_leave_the_room_unplanned,
    an_ended_room_takes_no_update,
);

fn planned() -> RoomRecord {
    RoomRecord {
        starts_at: Some(T0 + DAY),
        cover_url: Some(COVER.into()),
        ..record(ROOM, T0)
    }
}

fn changes(changes: RoomChanges) -> RoomCommand {
    RoomCommand::UpdateRoom {
        changes: schedule::check(changes, T0).unwrap(),
    }
}

async fn snapshot<S: RoomStore>(store: &S) -> chophien::room::store::RoomView {
    match store.join(ROOM, &viewer(), None).await.unwrap() {
        Joined::Snapshot(view) => *view,
        Joined::Resumed { .. } => panic!("a join without last_seq resumed"),
    }
}

async fn a_planned_start_and_cover_given_at_creation_are_in_info_list_and_snapshot<S: RoomStore>(
    store: S,
) {
    let created = store.create(planned()).await.unwrap();
    assert_eq!(created.starts_at, Some(T0 + DAY));
    assert_eq!(created.cover_url.as_deref(), Some(COVER));
    let info = store.info(ROOM).await.unwrap();
    assert_eq!(
        (info.starts_at, info.cover_url.as_deref()),
        (Some(T0 + DAY), Some(COVER))
    );
    let listed = store.list().await.unwrap();
    assert_eq!(listed[0].starts_at, Some(T0 + DAY));
    assert_eq!(listed[0].cover_url.as_deref(), Some(COVER));
    store.attach(ROOM);
    let view = snapshot(&store).await;
    assert_eq!(
        (view.info.starts_at, view.info.cover_url.as_deref()),
        (Some(T0 + DAY), Some(COVER))
    );
}

async fn an_update_changes_only_the_fields_it_names_and_announces_the_room<S: RoomStore>(store: S) {
    let events = Collector::connect(&store);
    store.create(planned()).await.unwrap();
    store.attach(ROOM);
    let seq = store.join(ROOM, &viewer(), None).await.unwrap().seq();
    let update = changes(RoomChanges {
        title: Some("  Chè mới hái, sáng thứ Bảy  ".into()),
        starts_at: Some(Some(T0 + 2 * DAY)),
        ..RoomChanges::default()
    });
    store
        .apply(ROOM, &seller(), &update, Clock::new().at(0))
        .await
        .unwrap();
    assert_eq!(
        events.next(ROOM).await,
        json!({"seq": seq + 1, "type": "room_updated", "room": {
            "id": ROOM, "title": "Chè mới hái, sáng thứ Bảy", "seller_name": "Chị Hoa",
            "status": "scheduled", "viewer_count": 0, "pinned_product_id": null,
            "created_at": T0, "practice": false, "starts_at": T0 + 2 * DAY,
            "cover_url": COVER}})
    );
    let info = store.info(ROOM).await.unwrap();
    assert_eq!(info.title, "Chè mới hái, sáng thứ Bảy");
    assert_eq!(info.starts_at, Some(T0 + 2 * DAY));
    assert_eq!(
        info.cover_url.as_deref(),
        Some(COVER),
        "the cover was not named"
    );
}

async fn a_cleared_start_and_cover_leave_the_room_unplanned<S: RoomStore>(store: S) {
    let events = Collector::connect(&store);
    store.create(planned()).await.unwrap();
    store.attach(ROOM);
    store.join(ROOM, &viewer(), None).await.unwrap();
    let clear = changes(RoomChanges {
        starts_at: Some(None),
        cover_url: Some(None),
        ..RoomChanges::default()
    });
    store
        .apply(ROOM, &admin(), &clear, Clock::new().at(0))
        .await
        .unwrap();
    let room = &events.next(ROOM).await["room"];
    assert!(
        room.get("starts_at").is_none() && room.get("cover_url").is_none(),
        "{room}"
    );
    let info = store.info(ROOM).await.unwrap();
    assert_eq!((info.starts_at, info.cover_url), (None, None));
    assert_eq!(snapshot(&store).await.info.starts_at, None);
}

async fn an_ended_room_takes_no_update<S: RoomStore>(store: S) {
    store.create(planned()).await.unwrap();
    store.close(ROOM, "xong").await.unwrap();
    let update = changes(RoomChanges {
        title: Some("Phiên khác".into()),
        ..RoomChanges::default()
    });
    assert_eq!(
        store
            .apply(ROOM, &seller(), &update, Clock::new().at(0))
            .await,
        Err(RoomError::Ended)
    );
    assert_eq!(store.info(ROOM).await.unwrap().title, "Phiên chợ chè");
}
