//! The feed: how one node receives, in `seq` order, the events that any
//! node's room functions commit.
//!
//! One task per node owns one RESP3 connection (named
//! `chophien-feed-<id>` in `CLIENT LIST`) and `SSUBSCRIBE`s the shard
//! channel of every room this node has `attach`ed (`SUNSUBSCRIBE` on
//! `detach`). It keeps the last seq it delivered per room and hands each
//! event to the node's [`FrameSink`]:
//! - a repeat (seq at or before the last) is skipped;
//! - a gap (a message lost, or published while this node was not yet
//!   listening) is filled from the room's stream with `XRANGE` first;
//! - after a reconnect it subscribes every attached room again and catches
//!   up from the stream before reading live messages. Events the stream no
//!   longer holds (an outage longer than the replay buffer) are skipped:
//!   the connections see a gap, lag, and resume on their own.
//!
//! A room is *ready* once its subscription stands and its cursor is set;
//! `join` waits for that, so a joiner's snapshot is never older than where
//! the feed starts, and snapshot and live stream meet exactly. Redis being
//! down makes rooms not ready (joins answer `unavailable`) and the task
//! retries with a growing pause, taking attach/detach requests meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, Value};
use tokio::sync::{mpsc, watch};

use crate::bus::{Frame, FrameSink};
use crate::redis_link::RedisLink;

use super::super::super::RoomError;
use super::keys::{channel, room_of_channel, RoomKeys};
use super::reply::{frame, text};

/// How often an idle feed checks its connection (a frozen Redis sends no
/// disconnect).
const PING_EVERY: Duration = Duration::from_secs(2);
/// The longest pause between two attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Where the store hands its node's events; set once, when the node starts.
pub(super) type SinkCell = Arc<OnceLock<Weak<dyn FrameSink>>>;

/// The store's handle on its feed task. Dropping it stops the task.
pub(super) struct Feed {
    commands: mpsc::UnboundedSender<Command>,
    /// Attached rooms and whether each is ready; a std-style mutex (no await
    /// while held), read by joins, written by attach and detach.
    ready: Mutex<HashMap<String, watch::Receiver<bool>>>,
    /// The feed connection's client name.
    name: String,
    op_timeout: Duration,
}

enum Command {
    Attach {
        room_id: String,
        ready: watch::Sender<bool>,
    },
    Detach {
        room_id: String,
    },
}

impl Feed {
    /// Starts the feed task (needs a Tokio runtime).
    pub(super) fn start(link: &RedisLink, sink: SinkCell) -> Feed {
        let name = format!(
            "chophien-feed-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let (commands, receiver) = mpsc::unbounded_channel();
        let task = Task {
            client: resp3(link.client()),
            op_timeout: link.op_timeout(),
            sink,
            commands: receiver,
            rooms: HashMap::new(),
            name: name.clone(),
        };
        tokio::spawn(task.run());
        Feed {
            commands,
            ready: Mutex::new(HashMap::new()),
            name,
            op_timeout: link.op_timeout(),
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn attach(&self, room_id: &str) {
        let (ready, receiver) = watch::channel(false);
        self.ready.lock().insert(room_id.to_owned(), receiver);
        let _ = self.commands.send(Command::Attach {
            room_id: room_id.to_owned(),
            ready,
        });
    }

    pub(super) fn detach(&self, room_id: &str) {
        self.ready.lock().remove(room_id);
        let _ = self.commands.send(Command::Detach {
            room_id: room_id.to_owned(),
        });
    }

    /// Waits (at most the operation deadline) until `room_id`'s events
    /// reach this node; at once for a room not attached here.
    pub(super) async fn ready(&self, room_id: &str) -> Result<(), RoomError> {
        let receiver = self.ready.lock().get(room_id).cloned();
        let Some(mut receiver) = receiver else {
            return Ok(());
        };
        let waited = tokio::time::timeout(self.op_timeout, receiver.wait_for(|ready| *ready)).await;
        match waited {
            Ok(_) => Ok(()),
            Err(_) => Err(RoomError::Unavailable(
                "the room's event feed is not connected".into(),
            )),
        }
    }
}

/// The same server as `client`, spoken to in RESP3 (which carries pub/sub
/// messages and replies on one connection).
fn resp3(client: &redis::Client) -> Result<redis::Client, String> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings)).map_err(|e| e.to_string())
}

/// One attached room.
struct Cursor {
    /// The seq of the last event delivered; `None` until first subscribed.
    last: Option<u64>,
    ready: watch::Sender<bool>,
}

struct Task {
    client: Result<redis::Client, String>,
    op_timeout: Duration,
    sink: SinkCell,
    commands: mpsc::UnboundedReceiver<Command>,
    rooms: HashMap<String, Cursor>,
    name: String,
}

/// Why a session with Redis ended.
enum End {
    /// The store was dropped.
    Stopped,
    /// The connection failed; connect again.
    Lost(String),
}

type Pushes = mpsc::UnboundedReceiver<PushInfo>;

impl Task {
    async fn run(mut self) {
        let mut pause = Duration::from_millis(50);
        loop {
            match self.session(&mut pause).await {
                End::Stopped => return,
                End::Lost(reason) => {
                    tracing::warn!(feed = %self.name, %reason, "room feed lost Redis; reconnecting");
                    for cursor in self.rooms.values() {
                        cursor.ready.send_replace(false);
                    }
                }
            }
            if !self.wait(pause).await {
                return;
            }
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }

    /// Waits `pause`, still taking attach and detach requests; `false`
    /// once the store is gone.
    async fn wait(&mut self, pause: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + pause;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return true,
                command = self.commands.recv() => match command {
                    None => return false,
                    Some(Command::Attach { room_id, ready }) => {
                        self.rooms.insert(room_id, Cursor { last: None, ready });
                    }
                    Some(Command::Detach { room_id }) => {
                        self.rooms.remove(&room_id);
                    }
                },
            }
        }
    }

    /// One connection's life: connect, subscribe and catch up every room,
    /// then deliver until something fails.
    async fn session(&mut self, pause: &mut Duration) -> End {
        let (mut conn, mut pushes) = match self.connect().await {
            Ok(connected) => connected,
            Err(reason) => return End::Lost(reason),
        };
        *pause = Duration::from_millis(50);
        let rooms: Vec<String> = self.rooms.keys().cloned().collect();
        for room_id in rooms {
            if let Err(reason) = self.subscribe(&mut conn, &room_id).await {
                return End::Lost(reason);
            }
        }
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            let result = tokio::select! {
                command = self.commands.recv() => match command {
                    None => return End::Stopped,
                    Some(Command::Attach { room_id, ready }) => {
                        self.rooms.insert(room_id.clone(), Cursor { last: None, ready });
                        self.subscribe(&mut conn, &room_id).await
                    }
                    Some(Command::Detach { room_id }) => {
                        self.rooms.remove(&room_id);
                        let mut unsubscribe = redis::cmd("SUNSUBSCRIBE");
                        unsubscribe.arg(channel(&room_id));
                        self.query::<Value>(&mut conn, &unsubscribe).await.map(drop)
                    }
                },
                push = pushes.recv() => match push {
                    None => Err("the push channel closed".to_owned()),
                    Some(push) => self.on_push(&mut conn, push).await,
                },
                _ = ping.tick() => self.query::<Value>(&mut conn, &redis::cmd("PING")).await.map(drop),
            };
            if let Err(reason) = result {
                return End::Lost(reason);
            }
        }
    }

    async fn connect(&self) -> Result<(MultiplexedConnection, Pushes), String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let (sender, pushes) = mpsc::unbounded_channel();
        let config = AsyncConnectionConfig::new()
            .set_push_sender(sender)
            .set_connection_timeout(Some(self.op_timeout))
            .set_response_timeout(Some(self.op_timeout));
        let connecting = client.get_multiplexed_async_connection_with_config(&config);
        let mut conn = tokio::time::timeout(self.op_timeout, connecting)
            .await
            .map_err(|_| "no answer from Redis".to_owned())?
            .map_err(|e| e.to_string())?;
        let mut name = redis::cmd("CLIENT");
        name.arg("SETNAME").arg(&self.name);
        self.query::<Value>(&mut conn, &name).await?;
        Ok((conn, pushes))
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        conn: &mut MultiplexedConnection,
        cmd: &redis::Cmd,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.op_timeout, cmd.query_async(conn)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err("no answer from Redis".to_owned()),
        }
    }

    /// Subscribes to one room, then sets its cursor (a room new here) or
    /// catches up from the stream (after a reconnect), and marks it ready.
    async fn subscribe(
        &mut self,
        conn: &mut MultiplexedConnection,
        room_id: &str,
    ) -> Result<(), String> {
        let mut subscribe = redis::cmd("SSUBSCRIBE");
        subscribe.arg(channel(room_id));
        self.query::<Value>(conn, &subscribe).await?;
        let Some(last) = self.rooms.get(room_id).map(|c| c.last) else {
            return Ok(());
        };
        match last {
            None => {
                let keys = RoomKeys::new(room_id);
                let mut read = redis::cmd("HGET");
                read.arg(keys.room()).arg("seq");
                let seq: Option<u64> = self.query(conn, &read).await?;
                if let Some(cursor) = self.rooms.get_mut(room_id) {
                    cursor.last = Some(seq.unwrap_or(0));
                }
            }
            Some(last) => self.fill(conn, room_id, last, None).await?,
        }
        if let Some(cursor) = self.rooms.get(room_id) {
            cursor.ready.send_replace(true);
        }
        Ok(())
    }

    async fn on_push(
        &mut self,
        conn: &mut MultiplexedConnection,
        push: PushInfo,
    ) -> Result<(), String> {
        match push.kind {
            PushKind::SMessage => {}
            PushKind::Disconnection => return Err("disconnected".to_owned()),
            _ => return Ok(()),
        }
        let mut data = push.data.into_iter();
        let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
            return Ok(());
        };
        let (Ok(channel), Ok(payload)) = (text(channel), text(payload)) else {
            return Ok(());
        };
        let Some(room_id) = room_of_channel(&channel) else {
            return Ok(());
        };
        let frame = match frame(&payload) {
            Ok(frame) => frame,
            Err(error) => {
                tracing::error!(room = %room_id, %error, "unreadable room event");
                return Ok(());
            }
        };
        let Some(last) = self.rooms.get(room_id).and_then(|c| c.last) else {
            return Ok(());
        };
        if frame.seq <= last {
            return Ok(());
        }
        let room_id = room_id.to_owned();
        if frame.seq > last + 1 {
            self.fill(conn, &room_id, last, Some(frame.seq - 1)).await?;
        }
        self.deliver(&room_id, frame);
        Ok(())
    }

    /// Delivers the room's recorded events after `last` (through `to`, or
    /// all of them).
    async fn fill(
        &mut self,
        conn: &mut MultiplexedConnection,
        room_id: &str,
        last: u64,
        to: Option<u64>,
    ) -> Result<(), String> {
        let keys = RoomKeys::new(room_id);
        let mut range = redis::cmd("XRANGE");
        range
            .arg(keys.events())
            .arg(format!("{}-0", last + 1))
            .arg(to.map_or("+".to_owned(), |to| format!("{to}-0")));
        let entries: Vec<(String, Vec<String>)> = self.query(conn, &range).await?;
        for (_, fields) in entries {
            let Some(json) = fields.get(1) else { continue };
            match frame(json) {
                Ok(frame) => self.deliver(room_id, frame),
                Err(error) => tracing::error!(room = %room_id, %error, "unreadable recorded event"),
            }
        }
        Ok(())
    }

    /// Hands `frame` to the node if it follows the room's cursor.
    fn deliver(&mut self, room_id: &str, frame: Frame) {
        let Some(cursor) = self.rooms.get_mut(room_id) else {
            return;
        };
        let last = cursor.last.unwrap_or(0);
        if frame.seq <= last {
            return;
        }
        if frame.seq != last + 1 {
            tracing::warn!(room = %room_id, after = last, next = frame.seq, "room events lost from the stream; connections will resume");
        }
        cursor.last = Some(frame.seq);
        if let Some(sink) = self.sink.get().and_then(Weak::upgrade) {
            sink.deliver(room_id, frame);
        }
    }
}
