//! The feed's task: one push connection, a cursor per attached room, and
//! what each push from Redis means for them (see the parent module).

use std::collections::HashMap;
use std::time::Duration;

use redis::{PushInfo, PushKind, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::bus::Frame;
use crate::redis_link::{PushConnection, RedisLink};

use super::super::keys::{channel, room_of_channel, RoomKeys};
use super::super::reply::{frame, text};
use super::{Command, SinkCell};

/// How often an idle feed checks its connection (a frozen Redis sends no
/// disconnect).
const PING_EVERY: Duration = Duration::from_secs(2);
/// The first pause before connecting or subscribing again after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// The longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// One attached room.
struct Cursor {
    /// The seq of the last event delivered; `None` until first subscribed.
    last: Option<u64>,
    ready: watch::Sender<bool>,
    /// Its subscription is to be made (again): the room is new here, the
    /// attempt failed, its shard dropped it, or its connection was lost.
    pending: bool,
}

/// Why a session with Redis ended.
enum End {
    /// The store was dropped.
    Stopped,
    /// The connection failed; connect again.
    Lost(String),
}

pub(super) struct Task {
    /// Opens the push connections, to wherever the store's link goes.
    link: RedisLink,
    sink: SinkCell,
    commands: mpsc::UnboundedReceiver<Command>,
    rooms: HashMap<String, Cursor>,
    /// The `CLIENT SETNAME` of every connection the task opens.
    name: String,
    /// When to try the pending subscriptions again.
    retry_at: Instant,
    /// The pause after the next failed attempt; doubles up to `MAX_BACKOFF`.
    retry_pause: Duration,
}

impl Task {
    pub(super) fn new(
        link: RedisLink,
        sink: SinkCell,
        commands: mpsc::UnboundedReceiver<Command>,
        name: String,
    ) -> Task {
        Task {
            link,
            sink,
            commands,
            rooms: HashMap::new(),
            name,
            retry_at: Instant::now(),
            retry_pause: MIN_BACKOFF,
        }
    }

    pub(super) async fn run(mut self) {
        let mut pause = MIN_BACKOFF;
        loop {
            match self.session(&mut pause).await {
                End::Stopped => return,
                End::Lost(reason) => {
                    tracing::warn!(feed = %self.name, %reason, "room feed lost Redis; reconnecting");
                    for cursor in self.rooms.values_mut() {
                        cursor.pending = true;
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
        let deadline = Instant::now() + pause;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return true,
                command = self.commands.recv() => match command {
                    None => return false,
                    Some(Command::Attach { room_id, ready }) => {
                        self.rooms.insert(room_id, Cursor { last: None, ready, pending: true });
                    }
                    Some(Command::Detach { room_id }) => {
                        self.rooms.remove(&room_id);
                    }
                },
            }
        }
    }

    /// One connection's life: connect, subscribe every room, then deliver
    /// until the connection fails (on one server) or the store is dropped.
    async fn session(&mut self, pause: &mut Duration) -> End {
        let (mut conn, mut pushes) = match self.link.push_connection().await {
            Ok(connected) => connected,
            Err(error) => return End::Lost(error.to_string()),
        };
        let mut name = redis::cmd("CLIENT");
        name.arg("SETNAME").arg(&self.name);
        if let Err(reason) = self.query::<Value>(&mut conn, &name).await {
            return End::Lost(reason);
        }
        *pause = MIN_BACKOFF;
        self.resubscribe(None, Instant::now());
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            let pending = self.rooms.values().any(|cursor| cursor.pending);
            let result = tokio::select! {
                command = self.commands.recv() => match command {
                    None => return End::Stopped,
                    Some(Command::Attach { room_id, ready }) => {
                        self.rooms.insert(room_id, Cursor { last: None, ready, pending: true });
                        self.subscribe_pending(&conn).await
                    }
                    Some(Command::Detach { room_id }) => {
                        self.rooms.remove(&room_id);
                        let unsubscribed = self.within_deadline(conn.sunsubscribe(&channel(&room_id))).await;
                        unsubscribed.or_else(|reason| self.trouble(&conn, None, reason))
                    }
                },
                push = pushes.recv() => match push {
                    None => Err("the push channel closed".to_owned()),
                    Some(push) => self.on_push(&mut conn, push).await,
                },
                _ = ping.tick() => match self.query::<Value>(&mut conn, &redis::cmd("PING")).await {
                    Ok(_) => Ok(()),
                    Err(reason) => self.trouble(&conn, None, reason),
                },
                _ = tokio::time::sleep_until(self.retry_at), if pending => {
                    self.subscribe_pending(&conn).await
                }
            };
            if let Err(reason) = result {
                return End::Lost(reason);
            }
        }
    }

    /// `cmd` under the link's deadline.
    async fn query<T: redis::FromRedisValue>(
        &self,
        conn: &mut PushConnection,
        cmd: &redis::Cmd,
    ) -> Result<T, String> {
        self.within_deadline(conn.query(cmd)).await
    }

    async fn within_deadline<T>(
        &self,
        work: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, String> {
        within(self.link.op_timeout(), work).await
    }

    /// Something failed. On one server the connection is gone: `Err` ends
    /// the session. On a Cluster the connection repairs itself: `room` (or
    /// every room) is subscribed again after a pause.
    fn trouble(
        &mut self,
        conn: &PushConnection,
        room_id: Option<&str>,
        reason: String,
    ) -> Result<(), String> {
        if !conn.heals_itself() {
            return Err(reason);
        }
        tracing::warn!(feed = %self.name, room = room_id.unwrap_or("*"), %reason, "room feed trouble; subscribing again");
        let at = Instant::now() + self.retry_pause;
        self.retry_pause = (self.retry_pause * 2).min(MAX_BACKOFF);
        self.resubscribe(room_id, at);
        Ok(())
    }

    /// `room`'s (or every room's) subscription is to be made again at
    /// `at`. Readiness stays as it is until that attempt answers: a room
    /// whose shard is healthy never stops taking joins, and a room that
    /// lost events meanwhile catches up on the confirmation.
    fn resubscribe(&mut self, room_id: Option<&str>, at: Instant) {
        match room_id {
            Some(room_id) => {
                if let Some(cursor) = self.rooms.get_mut(room_id) {
                    cursor.pending = true;
                }
            }
            None => self
                .rooms
                .values_mut()
                .for_each(|cursor| cursor.pending = true),
        }
        self.retry_at = at;
    }

    /// Subscribes every pending room at once (each on its own shard), sets
    /// the cursor of rooms new here, and marks them ready. Rooms seen
    /// before catch up when the confirmation arrives (`on_push`).
    async fn subscribe_pending(&mut self, conn: &PushConnection) -> Result<(), String> {
        let rooms: Vec<(String, bool)> = self
            .rooms
            .iter()
            .filter(|(_, cursor)| cursor.pending)
            .map(|(room_id, cursor)| (room_id.clone(), cursor.last.is_none()))
            .collect();
        let op_timeout = self.link.op_timeout();
        let attempts = rooms.into_iter().map(|(room_id, new_here)| {
            let mut conn = conn.clone();
            async move {
                let subscribed = async {
                    conn.ssubscribe(&channel(&room_id)).await?;
                    if !new_here {
                        return Ok(None);
                    }
                    // After the subscription stands: whatever commits later
                    // reaches this node, so this seq is where it starts.
                    let mut read = redis::cmd("HGET");
                    read.arg(RoomKeys::new(&room_id).room()).arg("seq");
                    conn.query::<Option<u64>>(&read).await.map(Some)
                };
                let result = within(op_timeout, subscribed).await;
                (room_id, result)
            }
        });
        let results = futures_util::future::join_all(attempts).await;
        let mut failed = None;
        for (room_id, result) in results {
            match result {
                Ok(seq) => {
                    if let Some(cursor) = self.rooms.get_mut(&room_id) {
                        if let Some(seq) = seq {
                            cursor.last = Some(seq.unwrap_or(0));
                        }
                        cursor.pending = false;
                        cursor.ready.send_replace(true);
                    }
                }
                Err(reason) => failed = Some(reason),
            }
        }
        match failed {
            None => {
                self.retry_pause = MIN_BACKOFF;
                Ok(())
            }
            Some(reason) if conn.heals_itself() => {
                // The rooms that failed are still pending (and not ready).
                tracing::warn!(feed = %self.name, %reason, "room feed subscriptions failed; retrying");
                for cursor in self.rooms.values().filter(|cursor| cursor.pending) {
                    cursor.ready.send_replace(false);
                }
                self.retry_at = Instant::now() + self.retry_pause;
                self.retry_pause = (self.retry_pause * 2).min(MAX_BACKOFF);
                Ok(())
            }
            Some(reason) => Err(reason),
        }
    }

    async fn on_push(&mut self, conn: &mut PushConnection, push: PushInfo) -> Result<(), String> {
        match push.kind {
            PushKind::SMessage => self.on_message(conn, push.data).await,
            // The subscription stands (again): catch up with the stream.
            PushKind::SSubscribe => match room_named(push.data) {
                Some(room_id) => self.catch_up(conn, &room_id).await,
                None => Ok(()),
            },
            // Our own unsubscribe, or the shard gave the room's slot away.
            PushKind::SUnsubscribe => {
                if let Some(room_id) = room_named(push.data) {
                    if self.rooms.contains_key(&room_id) {
                        self.resubscribe(Some(&room_id), Instant::now());
                    }
                }
                Ok(())
            }
            PushKind::Disconnection if conn.heals_itself() => {
                tracing::warn!(feed = %self.name, "a Redis node dropped the room feed; subscribing again");
                self.resubscribe(None, Instant::now());
                Ok(())
            }
            PushKind::Disconnection => Err("disconnected".to_owned()),
            _ => Ok(()),
        }
    }

    async fn on_message(
        &mut self,
        conn: &mut PushConnection,
        data: Vec<Value>,
    ) -> Result<(), String> {
        let mut data = data.into_iter();
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
            if let Err(reason) = self.fill(conn, &room_id, last, Some(frame.seq - 1)).await {
                return self.trouble(conn, Some(&room_id), reason);
            }
        }
        self.deliver(&room_id, frame);
        Ok(())
    }

    /// Delivers whatever the room recorded after its cursor.
    async fn catch_up(&mut self, conn: &mut PushConnection, room_id: &str) -> Result<(), String> {
        let Some(last) = self.rooms.get(room_id).and_then(|c| c.last) else {
            return Ok(());
        };
        match self.fill(conn, room_id, last, None).await {
            Ok(()) => Ok(()),
            Err(reason) => self.trouble(conn, Some(room_id), reason),
        }
    }

    /// Delivers the room's recorded events after `last` (through `to`, or
    /// all of them).
    async fn fill(
        &mut self,
        conn: &mut PushConnection,
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
        if let Some(sink) = self.sink.get().and_then(std::sync::Weak::upgrade) {
            sink.deliver(room_id, frame);
        }
    }
}

/// The room of a subscription push (`[channel, count]`).
fn room_named(data: Vec<Value>) -> Option<String> {
    let channel = text(data.into_iter().next()?).ok()?;
    room_of_channel(&channel).map(str::to_owned)
}

/// `work` under the deadline, its error as text.
async fn within<T>(
    deadline: Duration,
    work: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(deadline, work).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("no answer from Redis".to_owned()),
    }
}
