//! # Chợ Phiên — a livestream-commerce session server
//!
//! Sellers go live, viewers watch, chat, tap hearts and buy during flash
//! sales. This crate is the server; `web-client/` is the browser client and
//! `loadtest/` the load-test harness.
//!
//! ## Layout
//!
//! - [`protocol`]: every WebSocket message and event (plain data, serde).
//! - [`auth`]: signed access tokens (room, role, identity) and role permissions.
//! - [`room`]: the live-session domain: state, rules, and the `RoomStore`
//!   seam where rooms live (in memory, or in Redis across nodes). Knows
//!   nothing of sockets.
//! - [`sale`]: flash sales (stock, holds, orders) behind the `SaleStore` seam,
//!   in memory or in Redis.
//! - [`bus`]: the seam room events flow through to connections (local today,
//!   Redis pub/sub when rooms span nodes).
//! - [`server`]: HTTP API, WebSocket connections, static files, life cycle.
//! - [`media`]: the WebRTC SFU (seller → viewers), socket-agnostic.
//! - [`node`]: this node among others: identity, heartbeat, node directory.
//! - [`money`]: whole đồng and the one price ceiling for products and sales.
//! - [`payment`]: the seller's bank account per room and the VietQR code a
//!   buyer scans to pay an order by bank transfer.
//! - [`redis_link`]: the Redis connection, deadline and function library
//!   (`chophien`) that the Redis sale and room stores share.
//! - [`recording`]: sellers' streams recorded (through Debian's `ffmpeg`)
//!   into files Chromium plays and seeks, for replays; retention and the
//!   published/hidden setting. Knows nothing of HTTP.
//! - [`photos`]: product photos sellers upload: checked, re-encoded to JPEG
//!   and thumbnailed, stored as content-addressed files. Knows nothing of HTTP.
//! - [`webhook`]: signed webhooks to a shop's own system, from a durable
//!   outbox (in memory, or in Redis across nodes).
//! - [`config`], [`metrics`], [`demo`], [`clock`]: the supporting cast.
//!
//! `ARCHITECTURE.md` at the repository root has the code map and the invariants.

pub mod analytics;
pub mod auth;
pub mod bus;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod demo;
pub mod journal;
pub mod media;
pub mod metrics;
pub mod money;
pub mod node;
pub mod payment;
pub mod photos;
pub mod practice;
pub mod protocol;
pub mod recording;
pub mod redis_link;
pub mod room;
pub mod sale;
pub mod server;
pub mod webhook;
