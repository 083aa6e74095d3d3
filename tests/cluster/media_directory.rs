//! Where rooms' streams come from, as every node sees it: the media
//! directory's contract on both implementations (one process's map, and
//! Redis: one server and a Cluster), an ended room's media keys expiring with it, and the origin
//! claim of a node that died being cleared by a node that serves the room,
//! whose viewers are told the stream stopped — while a live node's claim is
//! never touched.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use chophien::auth::Role;
use chophien::config::{Config, StoreKind};
use chophien::media::{MediaDirectory, MemoryDirectory, NodeAddr, RedisDirectory};
use chophien::redis_link::{RedisLink, RedisTarget};
use chophien::room::RoomFact;
use redis::Commands;

use support::client::WAIT;
use support::redis::RedisServer;
use support::server::{test_config, TestServer};

const ROOM: &str = "phien-video";

fn node(id: &str) -> NodeAddr {
    NodeAddr {
        id: id.into(),
        url: format!("http://{id}.invalid"),
    }
}

async fn redis_directory(redis: &RedisServer) -> Arc<dyn MediaDirectory> {
    directory_on(redis.url().into()).await
}

async fn directory_on(target: RedisTarget) -> Arc<dyn MediaDirectory> {
    let link = RedisLink::connect(target, Duration::from_secs(2))
        .await
        .expect("connect to redis");
    Arc::new(RedisDirectory::new(link))
}

async fn the_newest_claim_wins_and_epochs_only_grow(directory: Arc<dyn MediaDirectory>) {
    assert_eq!(directory.origin("r").await.unwrap(), None);
    let first = directory.set_origin("r", &node("a")).await.unwrap();
    let second = directory.set_origin("r", &node("b")).await.unwrap();
    assert!(second > first);
    let origin = directory.origin("r").await.unwrap().unwrap();
    assert_eq!(origin.node, node("b"));
    assert_eq!(origin.epoch, second);

    // A cleared room's next claim still has a greater epoch.
    assert!(directory.clear_origin("r", "b", second).await.unwrap());
    assert_eq!(directory.origin("r").await.unwrap(), None);
    assert!(directory.set_origin("r", &node("a")).await.unwrap() > second);
}

async fn only_the_current_claim_can_be_cleared(directory: Arc<dyn MediaDirectory>) {
    let old = directory.set_origin("r", &node("a")).await.unwrap();
    let new = directory.set_origin("r", &node("b")).await.unwrap();
    // The node whose seller left clears nothing: another node took over.
    assert!(!directory.clear_origin("r", "a", old).await.unwrap());
    // Nor does a stale epoch of the current node.
    assert!(!directory.clear_origin("r", "b", old).await.unwrap());
    assert_eq!(directory.origin("r").await.unwrap().unwrap().epoch, new);
}

async fn rooms_do_not_share_origins(directory: Arc<dyn MediaDirectory>) {
    directory.set_origin("r1", &node("a")).await.unwrap();
    assert_eq!(directory.origin("r2").await.unwrap(), None);
}

/// Each contract test once on the memory directory, once on Redis, once
/// on a Redis Cluster.
macro_rules! on_both_directories {
    ($($test:ident),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(std::sync::Arc::new(super::MemoryDirectory::default())).await;
                }
            )*
        }
        mod in_redis {
            $(
                #[tokio::test]
                async fn $test() {
                    let redis = super::RedisServer::start();
                    super::$test(super::redis_directory(&redis).await).await;
                }
            )*
        }
        mod in_redis_cluster {
            $(
                #[tokio::test]
                async fn $test() {
                    let cluster = crate::support::redis_cluster::take_turn().await;
                    super::$test(super::directory_on(cluster.target()).await).await;
                }
            )*
        }
    };
}

on_both_directories!(
    the_newest_claim_wins_and_epochs_only_grow,
    only_the_current_claim_can_be_cleared,
    rooms_do_not_share_origins,
);

/// A node on `redis` with the Redis store, quick heartbeats and a short
/// node TTL, so a dead node is noticed within a second or two.
fn redis_node_config(redis: &RedisServer, node_id: &str) -> Config {
    let mut config = test_config();
    config.store.kind = StoreKind::Redis;
    config.store.redis_url = redis.url();
    config.cluster.node_id = node_id.into();
    config.cluster.heartbeat_ms = 100;
    config.cluster.node_ttl_ms = 500;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_rooms_media_keys_expire_with_it() {
    let redis = RedisServer::start();
    let server = TestServer::with_config(redis_node_config(&redis, "node-1")).await;
    server.room(ROOM).await;
    let directory = redis_directory(&redis).await;
    directory.set_origin(ROOM, &node("node-1")).await.unwrap();

    server.state.rooms.close(ROOM, "bye").await.unwrap();

    let mut conn = redis.client();
    for key in chophien::media::room_media_keys(ROOM) {
        let ttl: i64 = conn.ttl(&key).unwrap();
        assert!(ttl > 0, "{key} has TTL {ttl} after the room ended");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_claim_is_cleared_and_viewers_are_told_the_stream_stopped() {
    let redis = RedisServer::start();
    let server = TestServer::with_config(redis_node_config(&redis, "node-1")).await;
    server.room(ROOM).await;
    let (mut viewer, _) = server.join(ROOM, Role::Viewer, "lan").await;
    // "node-gone" published the room, then died without a word: its claim
    // stays, and it never beats again.
    let directory = redis_directory(&redis).await;
    directory
        .set_origin(ROOM, &node("node-gone"))
        .await
        .unwrap();
    let room = server
        .state
        .rooms
        .get_active(ROOM)
        .expect("the viewer's room");
    room.observe(RoomFact::StreamLive(true)).await.unwrap();
    assert_eq!(viewer.next_of("stream_state").await["live"], true);

    let stopped = tokio::time::timeout(WAIT, viewer.next_of("stream_state"))
        .await
        .expect("the viewer is told the stream stopped");
    assert_eq!(stopped["live"], false);
    assert_eq!(directory.origin(ROOM).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_nodes_claim_is_never_cleared() {
    let redis = RedisServer::start();
    let server = TestServer::with_config(redis_node_config(&redis, "node-1")).await;
    let other = TestServer::with_config(redis_node_config(&redis, "node-2")).await;
    server.room(ROOM).await;
    let (_viewer, _) = server.join(ROOM, Role::Viewer, "lan").await;
    let directory = redis_directory(&redis).await;
    let epoch = directory.set_origin(ROOM, &node("node-2")).await.unwrap();

    // Many sweeps (every 100 ms) and node TTLs (500 ms) later:
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let origin = directory
        .origin(ROOM)
        .await
        .unwrap()
        .expect("still claimed");
    assert_eq!((origin.node.id.as_str(), origin.epoch), ("node-2", epoch));
    drop(other);
}
