//! The feed: how one node receives, in `seq` order, the events that any
//! node's room functions commit.
//!
//! One task per node owns one RESP3 push connection (named
//! `chophien-feed-<id>` in `CLIENT LIST`) and `SSUBSCRIBE`s the shard
//! channel of every room this node has `attach`ed (`SUNSUBSCRIBE` on
//! `detach`). On one server that is one socket; on a Redis Cluster it is
//! redis-rs' cluster connection, which sends each subscription to the
//! shard owning the room's slot, so a room's events travel only between
//! its shard and the nodes serving it. The task keeps the last seq it
//! delivered per room and hands each event to the node's [`FrameSink`]:
//! - a repeat (seq at or before the last) is skipped;
//! - a gap (a message lost, or published while this node was not yet
//!   listening) is filled from the room's stream with `XRANGE` first;
//! - every confirmation that a room's subscription stands (ours, or one
//!   redis-rs made again after reconnecting a node or refreshing its slot
//!   map) is followed by a catch-up from the stream. Events the stream no
//!   longer holds (an outage longer than the replay buffer) are skipped:
//!   the connections see a gap, lag, and resume on their own.
//!
//! A room is *ready* once its subscription stands and its cursor is set;
//! `join` waits for that, so a joiner's snapshot is never older than where
//! the feed starts, and snapshot and live stream meet exactly. A room whose
//! subscription is lost is not ready until it is made again:
//! - on one server, a lost connection (or a PING unanswered) ends the
//!   session: every room waits, and the task connects again with a growing
//!   pause and subscribes every room, taking attach/detach meanwhile;
//! - on a Cluster the connection repairs itself; a node's disconnection or
//!   an unanswered PING makes the task subscribe every room again, and a
//!   shard that gives a room's slot away (`sunsubscribe` push, after
//!   resharding) makes it subscribe that room again, which reaches the
//!   slot's new owner. Only a room whose attempt fails stops being ready
//!   (it retries with a growing pause): rooms on healthy shards keep taking
//!   joins while another shard is down.

mod task;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use crate::bus::FrameSink;
use crate::redis_link::RedisLink;

use super::super::super::RoomError;
use task::Task;

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

/// What the handle asks of the task.
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
        tokio::spawn(Task::new(link.clone(), sink, receiver, name.clone()).run());
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
