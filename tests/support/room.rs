//! Room-store fixtures: a sink that collects what a store delivers to its
//! node, a hand-moved clock, the people of a room, and store constructors.

use std::sync::{Arc, Weak};
use std::time::Duration;

use chophien::auth::Role;
use chophien::bus::{Frame, FrameSink};
use chophien::clock::Now;
use chophien::protocol::Product;
use chophien::redis_link::{RedisLink, RedisTarget};
use chophien::room::store::{
    MemoryRoomStore, RedisRoomOptions, RedisRoomStore, RoomRecord, RoomStore,
};
use chophien::room::{Actor, RoomLimits};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

use super::client::WAIT;

pub const T0: u64 = 1_700_000_000_000;

/// The limits the conformance suite runs with: small, so caps are reached.
pub fn limits() -> RoomLimits {
    RoomLimits {
        chat_history: 3,
        max_products: 4,
        ..RoomLimits::default()
    }
}

pub const REPLAY: usize = 8;

pub fn memory_store() -> MemoryRoomStore {
    MemoryRoomStore::new(limits(), REPLAY)
}

pub fn redis_options() -> RedisRoomOptions {
    RedisRoomOptions {
        limits: limits(),
        replay_capacity: REPLAY,
        ended_ttl: Duration::from_secs(7 * 24 * 3600),
        journal: Some(Duration::from_secs(30 * 24 * 3600)),
    }
}

/// A Redis room store on `target` (a server's URL, or a Redis Cluster)
/// whose deadline is `op_timeout`.
pub async fn redis_store_with(
    target: impl Into<RedisTarget>,
    op_timeout: Duration,
    options: RedisRoomOptions,
) -> RedisRoomStore {
    let link = RedisLink::connect(target, op_timeout).await.unwrap();
    RedisRoomStore::new(link, options)
}

/// The Redis room store the conformance suites run on: `target` (a
/// server's URL, or a Redis Cluster), a 10 s deadline, the suites' options.
pub async fn conformance_redis_store(target: impl Into<RedisTarget>) -> RedisRoomStore {
    redis_store_with(target, Duration::from_secs(10), redis_options()).await
}

/// Instantiates each generic `async fn behaviour<S: RoomStore>(store: S)`
/// three times: on the memory store, on a Redis store with its own real
/// `redis-server`, and on a real three-primary Redis Cluster (shared by the
/// binary's tests, one at a time, emptied for each).
#[macro_export]
macro_rules! on_every_room_store {
    ($($behaviour:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    super::$behaviour($crate::support::room::memory_store()).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let server = $crate::support::redis::RedisServer::start();
                    let store = $crate::support::room::conformance_redis_store(server.url().as_str()).await;
                    super::$behaviour(store).await;
                }
            )*
        }
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let cluster = $crate::support::redis_cluster::take_turn().await;
                    let store = $crate::support::room::conformance_redis_store(cluster.target()).await;
                    super::$behaviour(store).await;
                }
            )*
        }
    };
}

/// A room record with the two demo products `p1` and `p2`.
pub fn record(id: &str, created_at: u64) -> RoomRecord {
    RoomRecord {
        id: id.into(),
        title: "Phiên chợ chè".into(),
        seller_name: "Chị Hoa".into(),
        products: chophien::demo::products().into_iter().take(2).collect(),
        created_at,
        practice: false,
        starts_at: None,
        cover_url: None,
    }
}

pub fn product(id: &str) -> Product {
    chophien::demo::products()
        .into_iter()
        .find(|p| p.id == id)
        .unwrap()
}

pub fn person(id: &str, name: &str, role: Role) -> Actor {
    Actor {
        user_id: id.into(),
        name: name.into(),
        role,
    }
}

pub fn seller() -> Actor {
    person("hoa", "Chị Hoa", Role::Seller)
}
pub fn viewer() -> Actor {
    person("lan", "Lan", Role::Viewer)
}
pub fn moderator() -> Actor {
    person("mod", "Minh", Role::Moderator)
}
pub fn admin() -> Actor {
    person("root", "Quản trị", Role::Admin)
}

/// A clock moved by hand: wall time from `T0`, monotonic time alongside.
#[derive(Clone, Copy)]
pub struct Clock {
    mono: tokio::time::Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            mono: tokio::time::Instant::now(),
        }
    }

    /// `ms` milliseconds after `T0`.
    pub fn at(&self, ms: u64) -> Now {
        Now {
            wall: T0 + ms,
            mono: self.mono + Duration::from_millis(ms),
        }
    }
}

/// What a store delivered to this node, per room, in order.
#[derive(Default)]
pub struct Collector {
    frames: Mutex<Vec<(String, Frame)>>,
    /// How many of each room's frames the test has taken.
    taken: Mutex<Vec<(String, usize)>>,
    arrived: Notify,
}

impl FrameSink for Collector {
    fn deliver(&self, room_id: &str, frame: Frame) {
        self.frames.lock().push((room_id.to_owned(), frame));
        self.arrived.notify_waiters();
    }
}

/// Opens `room_id` (created at `T0`) and watches it on this node: attached,
/// with a viewer joined (which, on Redis, waits until the feed delivers).
/// The collector, and the seq of the last event before the test's first.
pub async fn open_watched<S: RoomStore>(store: &S, room_id: &str) -> (Arc<Collector>, u64) {
    let events = Collector::connect(store);
    store.create(record(room_id, T0)).await.unwrap();
    store.attach(room_id);
    let joined = store
        .join(room_id, &person("watcher", "Người xem", Role::Viewer), None)
        .await
        .unwrap();
    (events, joined.seq())
}

impl Collector {
    /// A collector connected to `store` as its node's sink.
    pub fn connect<S: RoomStore>(store: &S) -> Arc<Collector> {
        let collector = Arc::new(Collector::default());
        let sink: Weak<dyn FrameSink> = Arc::downgrade(&collector) as Weak<dyn FrameSink>;
        store.connect_sink(sink);
        collector
    }

    fn room_frames(&self, room_id: &str) -> Vec<Frame> {
        self.frames
            .lock()
            .iter()
            .filter(|(room, _)| room == room_id)
            .map(|(_, frame)| frame.clone())
            .collect()
    }

    fn taken(&self, room_id: &str) -> usize {
        let taken = self.taken.lock();
        taken
            .iter()
            .find(|(room, _)| room == room_id)
            .map_or(0, |(_, n)| *n)
    }

    /// The next `n` frames of `room_id` (waiting for them: the Redis store
    /// delivers through its feed), checked to be in seq order.
    pub async fn take_frames(&self, room_id: &str, n: usize) -> Vec<Frame> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let arrived = self.arrived.notified();
            let frames = self.room_frames(room_id);
            let start = self.taken(room_id);
            if frames.len() >= start + n {
                let taken: Vec<Frame> = frames[start..start + n].to_vec();
                let mut all = self.taken.lock();
                match all.iter_mut().find(|(room, _)| room == room_id) {
                    Some((_, count)) => *count += n,
                    None => all.push((room_id.to_owned(), n)),
                }
                for pair in frames[..start + n].windows(2) {
                    assert_eq!(pair[1].seq, pair[0].seq + 1, "frames out of order");
                }
                return taken;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err()
                && self.room_frames(room_id).len() < start + n
            {
                panic!(
                    "waited for {n} frames of {room_id}; have {:?}",
                    frames[start..]
                        .iter()
                        .map(|f| f.json.as_str().to_owned())
                        .collect::<Vec<_>>()
                );
            }
        }
    }

    /// The next `n` events of `room_id`, as parsed JSON.
    pub async fn take(&self, room_id: &str, n: usize) -> Vec<Value> {
        self.take_frames(room_id, n)
            .await
            .iter()
            .map(|f| serde_json::from_str(f.json.as_str()).unwrap())
            .collect()
    }

    /// The next event of `room_id`.
    pub async fn next(&self, room_id: &str) -> Value {
        self.take(room_id, 1).await.remove(0)
    }

    /// Frames of `room_id` delivered but not taken.
    pub fn pending(&self, room_id: &str) -> usize {
        self.room_frames(room_id).len() - self.taken(room_id)
    }
}
