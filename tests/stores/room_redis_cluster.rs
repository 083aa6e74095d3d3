//! What the Redis room store must do on a Redis Cluster beyond the
//! conformance suite: serve one room from two nodes in seq order, fill a
//! feed gap from the stream, publish and subscribe each room's events on
//! its own shard only, follow a room whose slot moves to another shard,
//! catch up after the room's primary restarts, list rooms of every shard,
//! and keep the function library on every primary.
//!
//! One three-primary cluster (`support::redis_cluster`) serves this
//! binary's tests, one at a time, emptied for each.

use crate::support;

use std::time::{Duration, Instant};

use chophien::room::store::RoomStore;
use chophien::room::RoomError;

use support::redis_cluster::{take_turn, RedisCluster, PRIMARIES};
use support::registry::{
    chat, chat_on_two_nodes_arrives_in_one_order, chats, say, the_feed_fills_a_gap, two_nodes,
};
use support::room::{record, redis_options, redis_store_with, seller, viewer, Clock, T0};

const ROOM: &str = "cho-phien";

/// A key of `ROOM` (every key of a room shares its slot, and so does its
/// shard channel).
fn room_key() -> String {
    format!("{{room:{ROOM}}}:room")
}

fn channel() -> String {
    format!("{{room:{ROOM}}}:feed")
}

/// `PUBSUB SHARDNUMSUB` of the room's channel, asked of one primary.
fn subscribers_on(cluster: &RedisCluster, shard: usize) -> i64 {
    let (_, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg(channel())
        .query(&mut cluster.node(shard))
        .unwrap();
    count
}

/// How many `SPUBLISH`es one primary ran since its stats were reset
/// (function calls included).
fn spublishes_on(cluster: &RedisCluster, shard: usize) -> u64 {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut cluster.node(shard))
        .unwrap();
    stats
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_spublish:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_on_one_node_sees_chat_from_another_in_seq_order() {
    let cluster = take_turn().await;
    let (a, b) = two_nodes(cluster.target(), ROOM).await;
    chat_on_two_nodes_arrives_in_one_order(&a, &b, ROOM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_fills_a_gap_from_the_stream() {
    let cluster = take_turn().await;
    let (a, b) = two_nodes(cluster.target(), ROOM).await;
    let mut primary = cluster.node(cluster.owner(&room_key()));
    the_feed_fills_a_gap(&a, &b, ROOM, &mut primary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_events_are_published_and_subscribed_on_its_own_shard_only() {
    let cluster = take_turn().await;
    let (a, b) = two_nodes(cluster.target(), ROOM).await;
    let mut lan = a.rooms.join(ROOM, &viewer(), None).await.unwrap();
    let hoa = b.rooms.join(ROOM, &seller(), None).await.unwrap();
    for shard in 0..PRIMARIES {
        let () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(&mut cluster.node(shard))
            .unwrap();
    }
    let texts: Vec<String> = (0..5).map(|i| format!("tin {i}")).collect();
    for text in &texts {
        say(&hoa, &seller(), text).await;
    }
    assert_eq!(chats(&mut lan, 5).await, texts);
    let owner = cluster.owner(&room_key());
    for shard in 0..PRIMARIES {
        let (subscribers, published) = (
            subscribers_on(&cluster, shard),
            spublishes_on(&cluster, shard),
        );
        if shard == owner {
            // Both nodes' feeds listen, on the room's shard.
            assert_eq!(subscribers, 2, "shard {shard} owns the room");
            assert!(published >= 5, "shard {shard} published {published}");
        } else {
            assert_eq!(
                (subscribers, published),
                (0, 0),
                "shard {shard} is not the room's"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_keeps_its_feed_when_its_slot_moves_to_another_shard() {
    let cluster = take_turn().await;
    let (a, b) = two_nodes(cluster.target(), ROOM).await;
    let mut lan = a.rooms.join(ROOM, &viewer(), None).await.unwrap();
    let hoa = b.rooms.join(ROOM, &seller(), None).await.unwrap();
    say(&hoa, &seller(), "trước").await;
    assert_eq!(chats(&mut lan, 1).await, ["trước"]);
    let from = cluster.owner(&room_key());
    let to = (from + 1) % PRIMARIES;
    cluster.move_slot_of(&room_key(), to);
    // The old shard dropped the subscriptions; both feeds make them again
    // on the new one while the room goes on.
    let texts: Vec<String> = (0..5).map(|i| format!("sau {i}")).collect();
    for text in &texts {
        say(&hoa, &seller(), text).await;
    }
    assert_eq!(chats(&mut lan, 5).await, texts);
    assert_eq!(subscribers_on(&cluster, from), 0);
    assert_eq!(subscribers_on(&cluster, to), 2);
}

/// Retries while the room's primary is down or still loading (a hang guard).
async fn until_available<T>(mut attempt: impl AsyncFnMut() -> Result<T, RoomError>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match attempt().await {
            Err(RoomError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other.unwrap(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_catches_up_after_the_rooms_primary_restarts() {
    let cluster = take_turn().await;
    let (a, b) = two_nodes(cluster.target(), ROOM).await;
    let mut lan = a.rooms.join(ROOM, &viewer(), None).await.unwrap();
    let hoa = b.rooms.join(ROOM, &seller(), None).await.unwrap();
    say(&hoa, &seller(), "trước").await;
    assert_eq!(chats(&mut lan, 1).await, ["trước"]);
    cluster.crash_and_restart(cluster.owner(&room_key()));
    let room = hoa.room().clone();
    until_available(async || room.request(&seller(), &chat("sau")).await).await;
    for i in 0..3 {
        say(&hoa, &seller(), &format!("sau {i}")).await;
    }
    assert_eq!(chats(&mut lan, 4).await, ["sau", "sau 0", "sau 1", "sau 2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_on_every_shard_are_listed() {
    let cluster = take_turn().await;
    let store = redis_store_with(cluster.target(), Duration::from_secs(5), redis_options()).await;
    let mut shards = [false; PRIMARIES];
    let mut ids = Vec::new();
    for i in 0.. {
        if shards.iter().all(|&held| held) {
            break;
        }
        let id = format!("phien-{i}");
        store.create(record(&id, T0 + i)).await.unwrap();
        shards[cluster.owner(&format!("{{room:{id}}}:room"))] = true;
        ids.push(id);
    }
    let listed: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.reverse();
    assert_eq!(listed, ids, "newest first, from every shard");
}

/// Does this primary hold the library `chophien`?
fn has_library(cluster: &RedisCluster, shard: usize) -> bool {
    let libraries: Vec<redis::Value> = redis::cmd("FUNCTION")
        .arg("LIST")
        .arg("LIBRARYNAME")
        .arg("chophien")
        .query(&mut cluster.node(shard))
        .unwrap();
    libraries.len() == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_is_on_every_primary_and_comes_back_after_a_flush_on_one() {
    let cluster = take_turn().await;
    let store = redis_store_with(cluster.target(), Duration::from_secs(5), redis_options()).await;
    assert!((0..PRIMARIES).all(|shard| has_library(&cluster, shard)));
    store.create(record(ROOM, T0)).await.unwrap();
    let owner = cluster.owner(&room_key());
    let flush = |shard: usize| {
        let () = redis::cmd("FUNCTION")
            .arg("FLUSH")
            .query(&mut cluster.node(shard))
            .unwrap();
    };
    // The room's primary lost it: the call that meets that reloads it.
    flush(owner);
    store
        .apply(ROOM, &seller(), &chat("vẫn chạy"), Clock::new().at(0))
        .await
        .unwrap();
    assert!(has_library(&cluster, owner));
    // Another primary lost it: the health check asks every primary.
    let other = (owner + 1) % PRIMARIES;
    flush(other);
    assert_eq!(store.health().await, Ok(()));
    assert!(has_library(&cluster, other));
}
