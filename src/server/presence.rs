//! This node's heartbeat: its report to the node directory, and its watch on
//! the link to Redis.
//!
//! Every `cluster.heartbeat_ms` the node writes a [`NodeReport`] (address,
//! version, readiness, connections, the rooms it has connections in). With
//! the Redis store, a beat that fails means Redis is out of reach; once it
//! has been so for `cluster.partition_grace_ms`, the node stops serving: it
//! clears [`Shared::serving`](super::Shared) (`/readyz` answers 503 and joins
//! are refused, so a load balancer sends clients elsewhere) and ends every
//! connection with `server_shutdown` (close 1001), so its clients reconnect
//! to a node that still sees the rooms change. The first beat that succeeds
//! again makes it serve again. On a graceful stop it leaves the directory.
//!
//! **Dead origins.** After each beat with the Redis store, the node looks at
//! the media origin of every room it serves: an origin on a node that has
//! been missing from the directory for two sweeps in a row (its heartbeat
//! expired, `cluster.node_ttl_ms`) is cleared (compare-and-delete) and the
//! room told the stream stopped, so viewers on every node see "not live"
//! instead of a frozen picture until the seller publishes again, anywhere.
//! Two sweeps, not one: a node that has just started may claim an origin a
//! moment before its first beat lands.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::clock::unix_millis;
use crate::config::StoreKind;
use crate::node::{NodeReport, RoomPresence, VERSION};
use crate::room::RoomFact;

use super::AppState;

/// Beat until the server stops, then leave the directory.
pub fn spawn_heartbeat(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let cluster = &state.config.cluster;
        let every = Duration::from_millis(cluster.heartbeat_ms);
        let ttl = Duration::from_millis(cluster.node_ttl_ms);
        let grace = Duration::from_millis(cluster.partition_grace_ms);
        let watches_redis = state.config.store.kind == StoreKind::Redis;
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut unreachable_since: Option<Instant> = None;
        // Origin nodes missing from the directory at the last sweep.
        let mut suspects = HashSet::new();
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            match state.nodes.beat(&report(&state), ttl).await {
                Ok(()) => {
                    unreachable_since = None;
                    if !state.serving.swap(true, Ordering::AcqRel) {
                        tracing::warn!("Redis is back: this node serves again");
                    }
                    if watches_redis {
                        suspects = clear_dead_origins(&state, ttl, &suspects).await;
                    }
                }
                Err(error) if watches_redis => {
                    let since = *unreachable_since.get_or_insert_with(Instant::now);
                    tracing::warn!(%error, "heartbeat failed");
                    if since.elapsed() >= grace && state.serving.swap(false, Ordering::AcqRel) {
                        tracing::error!(
                            "Redis unreachable for {grace:?}: this node stops serving and sends its clients elsewhere"
                        );
                        state.rooms.evict_all();
                    }
                }
                Err(error) => tracing::warn!(%error, "heartbeat failed"),
            }
        }
        if let Err(error) = state.nodes.leave(&state.node.id).await {
            tracing::debug!(%error, "could not leave the node directory");
        }
    })
}

/// Clears the media origins, in the rooms this node serves, of nodes that
/// are missing from the directory now and were at the last sweep
/// (`suspects`); announces each such stream stopped. Answers the origin
/// nodes missing now, the next sweep's suspects.
async fn clear_dead_origins(
    state: &AppState,
    ttl: Duration,
    suspects: &HashSet<String>,
) -> HashSet<String> {
    let live: HashSet<String> = match state.nodes.nodes(unix_millis(), ttl).await {
        Ok(nodes) => nodes.into_iter().map(|node| node.id).collect(),
        Err(error) => {
            tracing::debug!(%error, "could not list nodes; no origin sweep this time");
            return suspects.clone();
        }
    };
    let mut missing = HashSet::new();
    for room in state.rooms.active() {
        let cleared = state
            .sfu
            .clear_dead_origin(&room.id, |node| {
                if live.contains(node) {
                    return false;
                }
                missing.insert(node.to_owned());
                suspects.contains(node)
            })
            .await;
        match cleared {
            Ok(true) => {
                tracing::warn!(room = %room.id, "the room's origin node died: its stream stopped");
                if let Err(error) = room.observe(RoomFact::StreamLive(false)).await {
                    tracing::warn!(room = %room.id, %error, "could not announce the stream stopped");
                }
            }
            Ok(false) => {}
            Err(error) => tracing::debug!(room = %room.id, %error, "origin sweep skipped"),
        }
    }
    missing
}

/// What this node says about itself now.
fn report(state: &AppState) -> NodeReport {
    let mut rooms: Vec<RoomPresence> = state
        .rooms
        .active()
        .iter()
        .map(|room| {
            let (members, viewers) = room.presence();
            RoomPresence {
                room_id: room.id.clone(),
                members,
                viewers,
            }
        })
        .collect();
    rooms.sort_by(|a, b| a.room_id.cmp(&b.room_id));
    NodeReport {
        id: state.node.id.clone(),
        url: state.node.url.clone(),
        version: VERSION.to_owned(),
        started_at: state.node.started_at,
        heartbeat_at: unix_millis(),
        ready: state.serving.load(Ordering::Acquire) && !state.shutdown.is_cancelled(),
        connections: state.metrics.connections.get().max(0) as u64,
        rooms,
    }
}
