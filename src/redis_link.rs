//! The one way into Redis that the Redis sale store and the Redis room store
//! share: a multiplexed connection, the operation deadline, the function
//! library `chophien`, and what Redis' errors mean.
//!
//! **One library.** The sale functions (`sale/redis/chophien.lua`) and the
//! room functions (`room/store/redis/room.lua`, then `moderation.lua` and
//! `facts.lua`, which use its keys and helpers) and the media functions
//! (`media/directory.lua`) are concatenated into one
//! library named `chophien` ([`LIBRARY`]). Whichever store connects loads it
//! with `FUNCTION LOAD REPLACE`, and any call that answers "Function not
//! found" (a `FUNCTION FLUSH`, a server that lost its data) reloads it and
//! is retried once. Loading the same source twice is harmless, so two
//! stores (or two nodes) may race to load it.
//!
//! **Deadline.** Every command runs under `op_timeout`, reconnecting and
//! queueing included: when Redis is down or frozen a caller gets
//! [`LinkError::Unavailable`] promptly instead of hanging, and the
//! [`ConnectionManager`] reconnects by itself once Redis is back.
//!
//! Knows nothing of rooms or sales: it carries keys and arguments.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, FromRedisValue, RedisError, ServerErrorKind, ToRedisArgs};

/// The function library `chophien`: the sale functions, the room functions,
/// then the media functions, loaded as one source (its first line names the library). One
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

/// A connection to Redis with a deadline. Cheap to clone; clones share one
/// multiplexed socket.
#[derive(Clone)]
pub struct RedisLink {
    /// Multiplexed: concurrent calls pipeline over one socket instead of
    /// waiting for a pooled connection. Reconnects on its own after errors.
    conn: ConnectionManager,
    /// For connections of another kind (the room store's pub/sub feed).
    client: redis::Client,
    op_timeout: Duration,
}

impl RedisLink {
    /// A link to `url` that loads the function library. Fails with
    /// `Unavailable` if Redis does not answer within `op_timeout`.
    pub async fn connect(url: &str, op_timeout: Duration) -> Result<RedisLink, LinkError> {
        let client = redis::Client::open(url)
            .map_err(|e| LinkError::Internal(format!("bad Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(op_timeout))
            .set_response_timeout(Some(op_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = client
            .get_connection_manager_lazy(config)
            .map_err(classify)?;
        let link = RedisLink {
            conn,
            client,
            op_timeout,
        };
        link.load_library().await?;
        Ok(link)
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    pub fn op_timeout(&self) -> Duration {
        self.op_timeout
    }

    /// Runs one command under the deadline.
    pub async fn run<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, LinkError> {
        self.try_run(cmd).await?.map_err(classify)
    }

    /// Like [`run`](Self::run) but hands Redis' own errors back for inspection.
    pub async fn try_run<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<Result<T, RedisError>, LinkError> {
        let mut conn = self.conn.clone();
        self.within_deadline(async move { cmd.query_async(&mut conn).await })
            .await
    }

    /// Runs a pipeline (one round trip, not atomic) under the deadline.
    pub async fn run_pipe<T: FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, LinkError> {
        let mut conn = self.conn.clone();
        self.within_deadline(async move { pipe.query_async(&mut conn).await })
            .await?
            .map_err(classify)
    }

    /// `work`, or `Unavailable` once the deadline has passed.
    pub async fn within_deadline<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, LinkError> {
        tokio::time::timeout(self.op_timeout, work)
            .await
            .map_err(|_| {
                LinkError::Unavailable(format!("no answer from Redis in {:?}", self.op_timeout))
            })
    }

    async fn load_library(&self) -> Result<(), LinkError> {
        let mut load = redis::cmd("FUNCTION");
        load.arg("LOAD").arg("REPLACE").arg(LIBRARY);
        self.run::<String>(&load).await.map(drop)
    }

    /// `FCALL function <keys> <args>`, reloading the library once if Redis
    /// has lost it.
    pub async fn fcall<T: FromRedisValue>(
        &self,
        function: &str,
        keys: &[String],
        args: impl ToRedisArgs,
    ) -> Result<T, LinkError> {
        self.call("FCALL", function, keys, args).await
    }

    /// `FCALL_RO`: a function registered with the `no-writes` flag.
    pub async fn fcall_ro<T: FromRedisValue>(
        &self,
        function: &str,
        keys: &[String],
        args: impl ToRedisArgs,
    ) -> Result<T, LinkError> {
        self.call("FCALL_RO", function, keys, args).await
    }

    async fn call<T: FromRedisValue>(
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
    pub async fn health(&self) -> Result<(), LinkError> {
        let none: [&str; 0] = [];
        self.fcall_ro::<Vec<String>>("chophien_ping", &[], &none[..])
            .await
            .map(drop)
    }
}

/// Unreachable, timed out or busy is `Unavailable`; anything else is a bug.
pub fn classify(err: RedisError) -> LinkError {
    match err.kind() {
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly,
        )
        | ErrorKind::Io
        | ErrorKind::Client => LinkError::Unavailable(err.to_string()),
        _ if err.is_timeout() || err.is_connection_dropped() || err.is_connection_refusal() => {
            LinkError::Unavailable(err.to_string())
        }
        _ => LinkError::Internal(err.to_string()),
    }
}

fn function_missing(err: &RedisError) -> bool {
    err.to_string().contains("Function not found")
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
    }
}
