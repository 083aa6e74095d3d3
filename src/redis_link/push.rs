//! Push connections: RESP3 connections whose pub/sub messages and server
//! pushes arrive on a channel, for sharded pub/sub (the room store's feed).
//!
//! A shard channel lives on the shard that owns its slot. On one server
//! that is the server; on a Cluster, redis-rs' cluster connection sends
//! each `SSUBSCRIBE` to the primary owning the channel's slot, follows
//! `MOVED`, reconnects lost nodes and subscribes again after a reconnect or
//! a refresh of the slot map. What it does not do (and the feed does): a
//! shard that gives a slot away tells its subscribers with a `sunsubscribe`
//! push, which redis-rs takes as final; the subscriber must `SSUBSCRIBE`
//! again, which then reaches the slot's new owner.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Cmd, FromRedisValue, ProtocolVersion, PushInfo, RedisResult};
use tokio::sync::mpsc;

use super::{bad_target, classify, unanswered, LinkError, RedisTarget};

/// Where a push connection's messages and pushes arrive (including
/// `Disconnection`, which the library sends when a connection drops).
pub type Pushes = mpsc::UnboundedReceiver<PushInfo>;

/// A RESP3 connection to the link's target. Cheap to clone; clones share
/// the socket(s).
#[derive(Clone)]
pub enum PushConnection {
    /// One connection to one server. It does not reconnect: when it fails,
    /// its owner opens another and subscribes again.
    Server(MultiplexedConnection),
    /// One connection per node behind one handle, which reconnects nodes
    /// and re-subscribes by itself; its owner keeps it for good.
    Cluster(ClusterConnection),
}

impl PushConnection {
    /// Does this connection recover from a lost node by itself (a Cluster),
    /// or must its owner replace it (one server)?
    pub fn heals_itself(&self) -> bool {
        matches!(self, PushConnection::Cluster(_))
    }

    /// `SSUBSCRIBE channel`, on the shard that owns the channel's slot.
    pub async fn ssubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            PushConnection::Server(conn) => {
                redis::cmd("SSUBSCRIBE")
                    .arg(channel)
                    .query_async::<redis::Value>(conn)
                    .await?;
                Ok(())
            }
            PushConnection::Cluster(conn) => conn.ssubscribe(channel).await,
        }
    }

    /// `SUNSUBSCRIBE channel`.
    pub async fn sunsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            PushConnection::Server(conn) => {
                redis::cmd("SUNSUBSCRIBE")
                    .arg(channel)
                    .query_async::<redis::Value>(conn)
                    .await?;
                Ok(())
            }
            PushConnection::Cluster(conn) => conn.sunsubscribe(channel).await,
        }
    }

    /// Any other command (routed by its first key on a Cluster; `PING` and
    /// `CLIENT SETNAME` go to every node).
    pub async fn query<T: FromRedisValue>(&mut self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            PushConnection::Server(conn) => cmd.query_async(conn).await,
            PushConnection::Cluster(conn) => cmd.query_async(conn).await,
        }
    }
}

/// Opens a push connection to `target`; fails with `Unavailable` if Redis
/// does not answer within `op_timeout`.
pub(super) async fn connect(
    target: &RedisTarget,
    op_timeout: Duration,
) -> Result<(PushConnection, Pushes), LinkError> {
    let (sender, pushes) = mpsc::unbounded_channel();
    let connection = match target {
        RedisTarget::Server(url) => {
            let info = redis::IntoConnectionInfo::into_connection_info(url.as_str())
                .map_err(bad_target)?;
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            let client =
                redis::Client::open(info.set_redis_settings(settings)).map_err(bad_target)?;
            let config = AsyncConnectionConfig::new()
                .set_push_sender(sender)
                .set_connection_timeout(Some(op_timeout))
                .set_response_timeout(Some(op_timeout));
            let connecting = client.get_multiplexed_async_connection_with_config(&config);
            let conn = tokio::time::timeout(op_timeout, connecting)
                .await
                .map_err(|_| unanswered(op_timeout))?
                .map_err(classify)?;
            PushConnection::Server(conn)
        }
        RedisTarget::Cluster(seeds) => {
            let client = RedisTarget::cluster_builder(seeds, op_timeout)
                .use_protocol(ProtocolVersion::RESP3)
                .push_sender(sender)
                .build()
                .map_err(bad_target)?;
            let conn = tokio::time::timeout(op_timeout, client.get_async_connection())
                .await
                .map_err(|_| unanswered(op_timeout))?
                .map_err(classify)?;
            PushConnection::Cluster(conn)
        }
    };
    Ok((connection, pushes))
}
