//! The one way into Redis that the Redis sale store and the Redis room store
//! share: a multiplexed connection, the operation deadline, the function
//! library `chophien`, and what Redis' errors mean.
//!
//! **One server or a Cluster.** [`RedisTarget`] names either one
//! `redis-server` or the seed nodes of a Redis Cluster; the link hides which.
//! On a Cluster, redis-rs' own cluster connection routes every command by
//! its first key's slot (an `FCALL` by its first key, and every key of a
//! call shares the room's hash tag, so one call runs on one shard),
//! follows `MOVED`/`ASK` redirections, refreshes the slot map after
//! resharding or failover and sends `FUNCTION LOAD` to every primary. What
//! the link cannot hide: a pipeline must stay within one slot (use
//! [`RedisLink::run_each`] for commands on several rooms), and keys used
//! together must share a hash tag.
//!
//! **One library.** The sale functions (`sale/redis/chophien.lua`) and the
//! room functions (`room/store/redis/room.lua`, then `moderation.lua` and
//! `facts.lua`, which use its keys and helpers), the media functions
//! (`media/directory.lua`) and the webhook outbox's
//! (`webhook/outbox/outbox.lua`) are concatenated into one
//! library named `chophien` ([`LIBRARY`]). Whichever store connects loads it
//! with `FUNCTION LOAD REPLACE` (on a Cluster: on every primary), and any
//! call that answers "Function not found" (a `FUNCTION FLUSH`, a server
//! that lost its data, a primary that joined without it) reloads it on
//! every primary and is retried once. Loading the same source twice is
//! harmless, so two stores (or two nodes) may race to load it.
//!
//! **Deadline.** Every command runs under `op_timeout`, reconnecting
//! included: when Redis is down or frozen a caller gets
//! [`LinkError::Unavailable`] promptly instead of hanging, and the
//! connection reconnects by itself once Redis is back.
//!
//! **A thread of its own.** Every command, and the connections' own driver
//! tasks, run on one small runtime in a thread of its own (`redis-io`), and
//! the deadline is judged there. A node whose main runtime is saturated
//! (tens of thousands of connections sending at once) still reads Redis'
//! replies as they arrive: a missed deadline means Redis was late, never
//! that this node was too busy to look. [`spawn_on_io`] puts other work
//! that must keep pace with Redis there too.
//!
//! **Push connections.** The room store's feed needs a connection of
//! another kind (RESP3, sharded pub/sub): [`RedisLink::push_connection`]
//! opens one to the same target (`push.rs`).
//!
//! Knows nothing of rooms or sales: it carries keys and arguments.

mod push;

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{
    Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, RedisFuture, ServerErrorKind,
    ToRedisArgs, Value,
};

pub use push::{PushConnection, Pushes};

/// The function library `chophien`: the sale functions, the room functions,
/// the media functions, then the webhook outbox's, loaded as one source (its first line names the library). One
/// Lua chunk: each part's top-level locals are visible to the parts after it.
pub const LIBRARY: &str = concat!(
    include_str!("sale/redis/chophien.lua"),
    "\n",
    include_str!("room/store/redis/room.lua"),
    "\n",
    include_str!("room/store/redis/moderation.lua"),
    "\n",
    include_str!("room/store/redis/facts.lua"),
    "\n",
    include_str!("media/directory.lua"),
    "\n",
    include_str!("webhook/outbox/outbox.lua"),
);

/// Why a Redis call failed, before a store gives it its own meaning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Unreachable, timed out or busy: the outcome is unknown; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Redis answered something the caller cannot use (a bug, bad data).
    #[error("{0}")]
    Internal(String),
}

/// Where Redis is (`store.redis_url`, or `store.redis_cluster_urls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server: `redis://host:port/db`.
    Server(String),
    /// A Redis Cluster, found through these seed nodes (any of its nodes;
    /// the rest of the cluster is discovered from them). Database 0 only.
    Cluster(Vec<String>),
}

impl From<&str> for RedisTarget {
    fn from(url: &str) -> RedisTarget {
        RedisTarget::Server(url.to_owned())
    }
}

impl From<&String> for RedisTarget {
    fn from(url: &String) -> RedisTarget {
        RedisTarget::Server(url.clone())
    }
}

impl From<String> for RedisTarget {
    fn from(url: String) -> RedisTarget {
        RedisTarget::Server(url)
    }
}

impl RedisTarget {
    /// A client for the cluster's seed nodes, with the link's timeouts.
    fn cluster_builder(seeds: &[String], op_timeout: Duration) -> ClusterClientBuilder {
        ClusterClientBuilder::new(seeds.iter().map(String::as_str))
            .connection_timeout(op_timeout)
            .response_timeout(op_timeout)
            // Redirections and reconnections count against one deadline
            // (ours, around every call), not one per attempt.
            .overall_response_timeout(Some(op_timeout))
    }
}

/// The connection every command of the link goes through.
#[derive(Clone)]
enum Conn {
    /// Reconnects by itself after errors.
    Server(ConnectionManager),
    /// One multiplexed connection per node of the cluster behind one
    /// handle; routes by slot, reconnects nodes and refreshes the slot map
    /// by itself.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Server(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Server(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Server(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// A connection to Redis (one server or a Cluster) with a deadline. Cheap
/// to clone; clones share one multiplexed socket per Redis node.
#[derive(Clone)]
pub struct RedisLink {
    /// Multiplexed: concurrent calls pipeline over one socket (per node)
    /// instead of waiting for a pooled connection. Reconnects on its own.
    conn: Conn,
    /// Where the connection goes; push connections (the room store's
    /// feed) are opened to the same place.
    target: RedisTarget,
    op_timeout: Duration,
}

impl RedisLink {
    /// A link to `target` that loads the function library. Fails with
    /// `Unavailable` if Redis does not answer within `op_timeout`.
    pub async fn connect(
        target: impl Into<RedisTarget>,
        op_timeout: Duration,
    ) -> Result<RedisLink, LinkError> {
        let target = target.into();
        let conn = match &target {
            RedisTarget::Server(_) => Self::open_lazily(&target, op_timeout, 2)?,
            RedisTarget::Cluster(seeds) => {
                let client = RedisTarget::cluster_builder(seeds, op_timeout)
                    .build()
                    .map_err(bad_target)?;
                // Connected on the `redis-io` thread, so its driver tasks
                // live there.
                let connecting = async move { client.get_async_connection().await };
                let conn = on_io(op_timeout, connecting).await?.map_err(classify)?;
                Conn::Cluster(conn)
            }
        };
        let link = RedisLink {
            conn,
            target,
            op_timeout,
        };
        link.load_library().await?;
        Ok(link)
    }

    /// A link that connects on first use and loads no library (for data
    /// outside the functions, like the node directory): an unreachable
    /// Redis shows up as failed calls, not as a failed start.
    pub fn lazy(
        target: impl Into<RedisTarget>,
        op_timeout: Duration,
    ) -> Result<RedisLink, LinkError> {
        let target = target.into();
        let conn = Self::open_lazily(&target, op_timeout, 1)?;
        Ok(RedisLink {
            conn,
            target,
            op_timeout,
        })
    }

    fn open_lazily(
        target: &RedisTarget,
        op_timeout: Duration,
        retries: usize,
    ) -> Result<Conn, LinkError> {
        // redis-rs keeps the runtime current at creation for the
        // connection's tasks (reconnects included): make it `redis-io`'s.
        let _io = io_runtime().map(tokio::runtime::Handle::enter);
        match target {
            RedisTarget::Server(url) => {
                let client = redis::Client::open(url.as_str()).map_err(bad_target)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(op_timeout))
                    .set_response_timeout(Some(op_timeout))
                    .set_number_of_retries(retries)
                    .set_max_delay(Duration::from_millis(500));
                let conn = client
                    .get_connection_manager_lazy(config)
                    .map_err(classify)?;
                Ok(Conn::Server(conn))
            }
            RedisTarget::Cluster(seeds) => {
                let client = RedisTarget::cluster_builder(seeds, op_timeout)
                    .build()
                    .map_err(bad_target)?;
                let config = redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(op_timeout)
                    .set_response_timeout(op_timeout);
                Ok(Conn::Cluster(
                    client.get_pending_async_connection_with_config(config),
                ))
            }
        }
    }

    /// Where this link goes.
    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    pub fn op_timeout(&self) -> Duration {
        self.op_timeout
    }

    /// Runs one command under the deadline.
    pub async fn run<T: FromRedisValue + Send + 'static>(&self, cmd: &Cmd) -> Result<T, LinkError> {
        self.try_run(cmd).await?.map_err(classify)
    }

    /// Like [`run`](Self::run) but hands Redis' own errors back for inspection.
    pub async fn try_run<T: FromRedisValue + Send + 'static>(
        &self,
        cmd: &Cmd,
    ) -> Result<Result<T, RedisError>, LinkError> {
        let (mut conn, cmd) = (self.conn.clone(), cmd.clone());
        self.on_io(async move { cmd.query_async(&mut conn).await })
            .await
    }

    /// Runs a pipeline (one round trip, not atomic) under the deadline. On
    /// a Cluster every command must touch the same slot (one hash tag).
    pub async fn run_pipe<T: FromRedisValue + Send + 'static>(
        &self,
        pipe: &Pipeline,
    ) -> Result<T, LinkError> {
        let (mut conn, pipe) = (self.conn.clone(), pipe.clone());
        self.on_io(async move { pipe.query_async(&mut conn).await })
            .await?
            .map_err(classify)
    }

    /// Runs independent commands at once, under one deadline, and answers
    /// their replies in order: for commands on keys of different hash
    /// tags, which one pipeline cannot carry on a Cluster. They still share
    /// each node's socket, so on one server this costs about one round trip.
    pub async fn run_each<T: FromRedisValue + Send + 'static>(
        &self,
        cmds: &[Cmd],
    ) -> Result<Vec<T>, LinkError> {
        let calls = cmds.iter().map(|cmd| {
            let (mut conn, cmd) = (self.conn.clone(), cmd.clone());
            async move { cmd.query_async::<T>(&mut conn).await }
        });
        let calls: Vec<_> = calls.collect();
        self.on_io(futures_util::future::join_all(calls))
            .await?
            .into_iter()
            .map(|reply| reply.map_err(classify))
            .collect()
    }

    /// `work` run on the `redis-io` thread, or `Unavailable` once the
    /// deadline has passed there.
    async fn on_io<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, LinkError> {
        on_io(self.op_timeout, work).await
    }

    /// `FUNCTION LOAD REPLACE`: on one server, or on every primary of a
    /// Cluster (redis-rs routes it there and wants every one to succeed).
    /// Redis compiles the whole library (rooms, sales, webhooks) in this
    /// call, so it gets [`LIBRARY_LOAD_TIMEOUT`] rather than the per-request
    /// deadline: a busy Redis (or a node starting on a busy machine) must not
    /// turn a slow compile into a node that cannot start.
    async fn load_library(&self) -> Result<(), LinkError> {
        let mut load = redis::cmd("FUNCTION");
        load.arg("LOAD").arg("REPLACE").arg(LIBRARY);
        let conn = self.conn.clone();
        let timeout = self.op_timeout.max(LIBRARY_LOAD_TIMEOUT);
        on_io(timeout, async move {
            let mut conn = conn;
            load.query_async::<String>(&mut conn).await
        })
        .await?
        .map(drop)
        .map_err(classify)
    }

    /// `FCALL function <keys> <args>`, reloading the library once if Redis
    /// has lost it.
    pub async fn fcall<T: FromRedisValue + Send + 'static>(
        &self,
        function: &str,
        keys: &[String],
        args: impl ToRedisArgs,
    ) -> Result<T, LinkError> {
        self.call("FCALL", function, keys, args).await
    }

    /// `FCALL_RO`: a function registered with the `no-writes` flag.
    pub async fn fcall_ro<T: FromRedisValue + Send + 'static>(
        &self,
        function: &str,
        keys: &[String],
        args: impl ToRedisArgs,
    ) -> Result<T, LinkError> {
        self.call("FCALL_RO", function, keys, args).await
    }

    async fn call<T: FromRedisValue + Send + 'static>(
        &self,
        command: &str,
        function: &str,
        keys: &[String],
        args: impl ToRedisArgs,
    ) -> Result<T, LinkError> {
        let mut fcall = redis::cmd(command);
        fcall.arg(function).arg(keys.len()).arg(keys).arg(args);
        match self.try_run(&fcall).await? {
            Err(err) if function_missing(&err) => {
                tracing::warn!("Redis lost the chophien functions; reloading");
                self.load_library().await?;
                self.run(&fcall).await
            }
            result => result.map_err(classify),
        }
    }

    /// Calls a function of the library (reloading it if missing), which
    /// proves more than a PING: the functions are there to serve requests.
    /// On a Cluster every primary is asked, and given the library again if
    /// it lost it; the link is healthy while any primary answers: a shard
    /// that is down makes its own rooms unavailable, and taking every node
    /// out of service would not serve them either.
    pub async fn health(&self) -> Result<(), LinkError> {
        let mut ping = redis::cmd("FCALL_RO");
        ping.arg("chophien_ping").arg(0);
        let answers: Vec<Result<Value, RedisError>> = match &self.conn {
            Conn::Server(_) => vec![self.try_run::<Value>(&ping).await?],
            Conn::Cluster(conn) => {
                let mut conn = conn.clone();
                // No aggregation: one answer per primary, errors included.
                let every_primary =
                    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let answers = self
                    .on_io(async move { conn.route_command(ping, every_primary).await })
                    .await?
                    .map_err(classify)?;
                let Value::Map(answers) = answers else {
                    return Err(LinkError::Internal(format!(
                        "unexpected answer from every primary: {answers:?}"
                    )));
                };
                answers
                    .into_iter()
                    .map(|(_, answer)| match answer {
                        Value::ServerError(error) => Err(error.into()),
                        answer => Ok(answer),
                    })
                    .collect()
            }
        };
        let (mut missing, mut answered, mut failure) = (false, false, None);
        for answer in answers {
            match answer {
                Err(err) if function_missing(&err) => missing = true,
                Err(err) => failure = Some(classify(err)),
                Ok(_) => answered = true,
            }
        }
        if missing {
            tracing::warn!("Redis lost the chophien functions; reloading");
            self.load_library().await?;
            answered = true;
        }
        match failure {
            Some(failure) if !answered => Err(failure),
            Some(failure) => {
                tracing::warn!(%failure, "a Redis Cluster primary does not answer");
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// A RESP3 connection to the same Redis whose pub/sub messages and
    /// server pushes arrive on the returned [`Pushes`].
    pub async fn push_connection(&self) -> Result<(PushConnection, Pushes), LinkError> {
        push::connect(&self.target, self.op_timeout).await
    }
}

/// The runtime of the `redis-io` thread, started on first use. Should the
/// thread fail to start, commands run on the caller's runtime instead (as
/// they did before it existed), which is slower to notice replies, not
/// wrong.
fn io_runtime() -> Option<&'static tokio::runtime::Handle> {
    static IO: OnceLock<Option<tokio::runtime::Handle>> = OnceLock::new();
    IO.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("redis-io")
            .build()
            .map_err(|error| tracing::error!(%error, "no redis-io runtime"))
            .ok()?;
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("redis-io".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .map_err(|error| tracing::error!(%error, "no redis-io thread"))
            .ok()?;
        Some(handle)
    })
    .as_ref()
}

/// Runs `task` on the `redis-io` thread (or, without it, the caller's
/// runtime): for work that must keep pace with Redis however busy the main
/// runtime is, like the sale store's group-commit lanes.
pub fn spawn_on_io<F>(task: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match io_runtime() {
        Some(io) => io.spawn(task),
        None => tokio::spawn(task),
    }
}

/// `work` under `op_timeout`, both on the `redis-io` thread.
/// The longest loading the function library may take (see
/// `RedisLink::load_library`).
const LIBRARY_LOAD_TIMEOUT: Duration = Duration::from_secs(5);

async fn on_io<T: Send + 'static>(
    op_timeout: Duration,
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, LinkError> {
    let deadline = tokio::time::timeout(op_timeout, work);
    let outcome = match io_runtime() {
        Some(io) => io
            .spawn(deadline)
            .await
            .map_err(|error| LinkError::Internal(format!("Redis call task: {error}")))?,
        None => deadline.await,
    };
    outcome.map_err(|_| unanswered(op_timeout))
}

fn unanswered(op_timeout: Duration) -> LinkError {
    LinkError::Unavailable(format!("no answer from Redis in {op_timeout:?}"))
}

fn bad_target(err: RedisError) -> LinkError {
    LinkError::Internal(format!("bad Redis URL: {err}"))
}

/// Unreachable, timed out or busy is `Unavailable` (on a Cluster also: a
/// shard without a primary, a slot still moving after the redirections
/// ran out, no connection to the node owning a slot); anything else is a
/// bug.
pub fn classify(err: RedisError) -> LinkError {
    match err.kind() {
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask,
        )
        | ErrorKind::Io
        | ErrorKind::Client
        | ErrorKind::ClusterConnectionNotFound => LinkError::Unavailable(err.to_string()),
        _ if err.is_timeout() || err.is_connection_dropped() || err.is_connection_refusal() => {
            LinkError::Unavailable(err.to_string())
        }
        _ => LinkError::Internal(err.to_string()),
    }
}

fn function_missing(err: &RedisError) -> bool {
    err.to_string().contains("Function not found")
}

/// Whether `id` is a room id: 1–64 lower-case letters, digits or dashes.
/// The one rule: the room registry refuses any other id (ids appear in
/// URLs), and every store checks again before it splices one into a key
/// name, where such an id cannot close a hash tag or reach another key.
pub fn is_room_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The hash tag every key of one room shares, its sales' included, so a
/// room lives in one Cluster slot and one function may touch all of it.
/// Room ids are `[a-z0-9-]`, so they cannot close the tag early.
pub fn room_tag(room_id: &str) -> String {
    format!("{{room:{room_id}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_one_source_named_chophien() {
        assert!(LIBRARY.starts_with("#!lua name=chophien\n"));
        assert_eq!(LIBRARY.matches("#!lua").count(), 1);
        assert!(LIBRARY.contains("'chophien_buy'"));
        assert!(LIBRARY.contains("'chophien_room_chat'"));
        assert!(LIBRARY.contains("'chophien_webhook_claim'"));
    }
}
