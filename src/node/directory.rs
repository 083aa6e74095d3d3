//! Where nodes find each other: in Redis for a deployment of several nodes,
//! in this process for a single one.
//!
//! In Redis (one server or a Cluster) the directory is the index
//! `chophien:{nodes}` and one report per node, `chophien:{nodes}:<id>`: all
//! under the hash tag `{nodes}`, so a beat or a listing is one pipeline on
//! one Cluster slot.

use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::UnixMillis;
use crate::redis_link::{LinkError, RedisLink, RedisTarget};

use super::NodeReport;

/// The index of nodes by last beat (score: unix ms).
const NODES: &str = "chophien:{nodes}";

/// A node's last report, expiring with its beats.
fn node_key(id: &str) -> String {
    format!("chophien:{{nodes}}:{id}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// Redis did not answer in time or is down.
    #[error("the node directory is unavailable: {0}")]
    Unavailable(String),
    #[error("bad node directory configuration: {0}")]
    Config(String),
}

/// The live nodes of a deployment.
pub enum NodeDirectory {
    /// One node: the directory is its own last report.
    Single(Mutex<Option<NodeReport>>),
    Redis(RedisNodes),
}

pub struct RedisNodes {
    /// Its own link (not the stores'): lazy, so an unreachable Redis shows
    /// up as failed beats, not as a failed start, and with its own deadline
    /// (the most one directory call may take). Loads no functions.
    link: RedisLink,
}

impl NodeDirectory {
    pub fn single() -> NodeDirectory {
        NodeDirectory::Single(Mutex::new(None))
    }

    /// A directory in the Redis at `target` (one server or a Cluster).
    /// Connects lazily: an unreachable Redis shows up as failed beats, not
    /// as a failed start.
    pub fn redis(
        target: impl Into<RedisTarget>,
        timeout: Duration,
    ) -> Result<NodeDirectory, NodeError> {
        let link =
            RedisLink::lazy(target, timeout).map_err(|e| NodeError::Config(e.to_string()))?;
        Ok(NodeDirectory::Redis(RedisNodes { link }))
    }

    /// Record `report`; it counts until `ttl` after its beat.
    pub async fn beat(&self, report: &NodeReport, ttl: Duration) -> Result<(), NodeError> {
        match self {
            NodeDirectory::Single(last) => {
                *last.lock() = Some(report.clone());
                Ok(())
            }
            NodeDirectory::Redis(nodes) => nodes.beat(report, ttl).await,
        }
    }

    /// Every node that beat within `ttl` of `now`, by id.
    pub async fn nodes(
        &self,
        now: UnixMillis,
        ttl: Duration,
    ) -> Result<Vec<NodeReport>, NodeError> {
        match self {
            NodeDirectory::Single(last) => Ok(last.lock().iter().cloned().collect()),
            NodeDirectory::Redis(nodes) => nodes.nodes(now, ttl).await,
        }
    }

    /// Leave the directory at once (a graceful stop), rather than by expiry.
    pub async fn leave(&self, id: &str) -> Result<(), NodeError> {
        match self {
            NodeDirectory::Single(last) => {
                last.lock().take();
                Ok(())
            }
            NodeDirectory::Redis(nodes) => nodes.leave(id).await,
        }
    }
}

impl RedisNodes {
    async fn run<T: redis::FromRedisValue + Send + 'static>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, NodeError> {
        self.link.run_pipe(pipe).await.map_err(|error| match error {
            LinkError::Unavailable(reason) | LinkError::Internal(reason) => {
                NodeError::Unavailable(reason)
            }
        })
    }

    async fn beat(&self, report: &NodeReport, ttl: Duration) -> Result<(), NodeError> {
        let json = serde_json::to_string(report).map_err(|e| NodeError::Config(e.to_string()))?;
        let ttl_ms = ttl.as_millis() as u64;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(node_key(&report.id))
            .arg(json)
            .arg("PX")
            .arg(ttl_ms.max(1))
            .ignore()
            .zadd(NODES, &report.id, report.heartbeat_at)
            .ignore()
            // Forget nodes long gone, so the index stays small.
            .cmd("ZREMRANGEBYSCORE")
            .arg(NODES)
            .arg("-inf")
            .arg(report.heartbeat_at.saturating_sub(10 * ttl_ms))
            .ignore();
        self.run(&pipe).await
    }

    async fn nodes(&self, now: UnixMillis, ttl: Duration) -> Result<Vec<NodeReport>, NodeError> {
        let since = now.saturating_sub(ttl.as_millis() as u64);
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGEBYSCORE").arg(NODES).arg(since).arg("+inf");
        let (ids,): (Vec<String>,) = self.run(&pipe).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.get(node_key(id));
        }
        let reports: Vec<Option<String>> = self.run(&pipe).await?;
        let mut nodes: Vec<NodeReport> = reports
            .into_iter()
            .flatten()
            .filter_map(|json| serde_json::from_str(&json).ok())
            .collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(nodes)
    }

    async fn leave(&self, id: &str) -> Result<(), NodeError> {
        let mut pipe = redis::pipe();
        pipe.del(node_key(id)).ignore().zrem(NODES, id).ignore();
        self.run(&pipe).await
    }
}
