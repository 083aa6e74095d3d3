//! The SFU, relaying between nodes and recording, with real WebRTC peers
//! (webrtc-rs and headless Chromium) and Debian's `ffmpeg`.
//!
//! One test binary for many files: each is a module (one link instead of
//! several, and far less disk).

#[path = "../media_support/mod.rs"]
mod media_support;
#[path = "../support/mod.rs"]
mod support;

mod media_chromium;
mod media_nack;
mod media_relay;
mod media_relay_chromium;
mod media_relay_measure;
mod media_sfu;
mod recording;
mod recording_measure;
