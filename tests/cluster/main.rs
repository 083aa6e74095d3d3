//! Several real `chophien` nodes on one Redis or a Redis Cluster: rooms, sales
//! and streams served by any node, behind a real HAProxy.
//!
//! One test binary for many files: each is a module (one link instead of
//! several, and far less disk).

#[path = "../support/mod.rs"]
mod support;

mod behind_haproxy;
mod cluster_rooms;
mod cluster_sales;
mod media_directory;
mod nodes_on_redis_cluster;
