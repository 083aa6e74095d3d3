//! Nodes in one process: each a `RoomRegistry` over its own Redis room
//! store (its own link and feed) on one shared Redis — a server or a
//! Cluster — and what tests do with the members they join.

use std::sync::Arc;
use std::time::Duration;

use chophien::redis_link::RedisTarget;
use chophien::room::store::{AnyRoomStore, RedisRoomStore};
use chophien::room::{Actor, Membership, NewRoom, RoomCommand, RoomRegistry, RoomSettings};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::client::WAIT;
use super::room::{redis_options, redis_store_with, seller, viewer};

/// One node: a registry over its own Redis room store.
pub struct Node {
    pub rooms: RoomRegistry,
    pub store: Arc<RedisRoomStore>,
}

pub async fn node(target: impl Into<RedisTarget>, name: &str, op_timeout: Duration) -> Node {
    let store = Arc::new(redis_store_with(target, op_timeout, redis_options()).await);
    let rooms = RoomRegistry::new(
        AnyRoomStore::Redis(Arc::clone(&store)),
        RoomSettings::default(),
        name.into(),
        CancellationToken::new(),
        chophien::journal::Journal::disabled(),
    );
    Node { rooms, store }
}

/// Two nodes with a generous deadline (a hang guard) and `room` open.
pub async fn two_nodes(target: impl Into<RedisTarget>, room: &str) -> (Node, Node) {
    let target = target.into();
    let a = node(target.clone(), "node-a", Duration::from_secs(5)).await;
    let b = node(target, "node-b", Duration::from_secs(5)).await;
    a.rooms
        .create(NewRoom {
            id: Some(room.into()),
            title: "Chợ phiên".into(),
            seller_name: "Chị Hoa".into(),
            products: chophien::demo::products().into_iter().take(2).collect(),
            starts_at: None,
            cover_url: None,
        })
        .await
        .unwrap();
    (a, b)
}

pub fn chat(text: &str) -> RoomCommand {
    RoomCommand::Chat {
        text: text.into(),
        reply_to: None,
    }
}

pub async fn say(member: &Membership, who: &Actor, text: &str) {
    member.room().request(who, &chat(text)).await.unwrap();
}

/// The next room event of this member (a subscription yields them in seq
/// order without gaps, or fails).
pub async fn next_event(member: &mut Membership) -> Value {
    let frame = tokio::time::timeout(WAIT, member.events.recv())
        .await
        .expect("no event in time")
        .expect("the member lagged or the room closed");
    serde_json::from_str(frame.json.as_str()).unwrap()
}

/// The texts of the next `n` chat events (other events skipped).
pub async fn chats(member: &mut Membership, n: usize) -> Vec<String> {
    let mut texts = Vec::new();
    while texts.len() < n {
        let event = next_event(member).await;
        if event["type"] == "chat" {
            texts.push(event["message"]["text"].as_str().unwrap().to_owned());
        }
    }
    texts
}

/// A viewer joined on node `a` and the seller on node `b` take turns
/// chatting in `room`: both receive every message, in one order.
pub async fn chat_on_two_nodes_arrives_in_one_order(a: &Node, b: &Node, room: &str) {
    let mut lan = a.rooms.join(room, &viewer(), None).await.unwrap();
    let mut hoa = b.rooms.join(room, &seller(), None).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..15 {
        say(&hoa, &seller(), &format!("hoa {i}")).await;
        say(&lan, &viewer(), &format!("lan {i}")).await;
        expected.extend([format!("hoa {i}"), format!("lan {i}")]);
    }
    assert_eq!(chats(&mut lan, 30).await, expected);
    assert_eq!(chats(&mut hoa, 30).await, expected);
}

/// An event of `room` is recorded in its stream but never published (run
/// on `primary`, the Redis holding the room): a viewer on node `a` sees the
/// seller's next message on node `b` skip a seq, and its feed must read the
/// missing event from the stream before it.
pub async fn the_feed_fills_a_gap(
    a: &Node,
    b: &Node,
    room: &str,
    primary: &mut dyn redis::ConnectionLike,
) {
    let mut lan = a.rooms.join(room, &viewer(), None).await.unwrap();
    let hoa = b.rooms.join(room, &seller(), None).await.unwrap();
    let lost = redis::Script::new(
        r#"local n = redis.call('HINCRBY', KEYS[1], 'seq', 1)
           redis.call('XADD', KEYS[2], n .. '-0', 'e', '{"seq":' .. n .. ',"type":"stream_state","live":true}')
           return n"#,
    );
    let seq: u64 = lost
        .key(format!("{{room:{room}}}:room"))
        .key(format!("{{room:{room}}}:events"))
        .invoke(primary)
        .unwrap();
    say(&hoa, &seller(), "sau khoảng trống").await;
    loop {
        let event = next_event(&mut lan).await;
        if event["type"] == "stream_state" {
            assert_eq!(event["seq"], seq);
            break;
        }
        assert!(event["seq"].as_u64().unwrap() < seq, "{event}");
    }
    let next = next_event(&mut lan).await;
    assert_eq!(
        (&next["seq"], &next["message"]["text"]),
        (&Value::from(seq + 1), &Value::from("sau khoảng trống"))
    );
}

/// What the member received on joining, as JSON.
pub fn initial(member: &Membership) -> Vec<Value> {
    member
        .initial
        .iter()
        .map(|json| serde_json::from_str(json.as_str()).unwrap())
        .collect()
}
