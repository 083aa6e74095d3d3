//! # Recordings of sellers' streams, for replays
//!
//! Every stream start of a seller publishing to this node
//! ([`Sfu::seller_streams`](crate::media::Sfu::seller_streams)) becomes one
//! recording: a WebM (VP8 + Opus) or MP4 (H.264 + Opus) file that Chromium
//! plays and seeks, written by a Debian `ffmpeg` child while the live runs
//! (see `recorder`), with its metadata beside it. A seller who stops and
//! starts her camera again makes a second recording. Recording never slows
//! the live: it reads the room's fan-out like a viewer and skips what it
//! cannot keep up with; when it fails (no `ffmpeg`, disk full, a write
//! error) it stops with its reason in the metadata, and the live goes on.
//!
//! Each room also has a replay setting (published or hidden), which the
//! seller changes; published replays are listed for the landing page.
//! Everything lives as plain files in `recording.dir` (see `store`), which
//! several nodes share: a recording is written by the node the seller
//! streams to, and read by any.
//!
//! This module knows nothing of HTTP or tokens: `server/replay.rs` decides
//! who may see what.
//!
//! ## Layout
//! - `rtp`: keyframe detection and the SDP `ffmpeg` reads (pure).
//! - `store`: the directory's layout, ids, metadata and replay settings.
//! - `recorder`: one recording (the `ffmpeg` child and the copy to it).
//! - `upkeep`: finishing recordings a crash left open, and retention.

mod recorder;
pub mod rtp;
pub mod store;
mod upkeep;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{unix_millis, UnixMillis};
use crate::config::Config;
use crate::media::{SellerStream, Sfu};

pub use store::{is_recording_id, RecordingMeta, ReplaySetting, Status};

use recorder::Settings;
use store::Layout;

/// How often the upkeep runs after the one at start-up.
const UPKEEP_EVERY: Duration = Duration::from_secs(60);

/// Why a replay setting could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("not a room id")]
    InvalidRoom,
    #[error("the recordings directory cannot be written: {0}")]
    Storage(#[from] std::io::Error),
}

/// A published replay, as the landing page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedReplay {
    pub room_id: String,
    pub title: String,
    pub seller_name: String,
    /// When the room's first playable recording started (unix ms).
    pub started_at: UnixMillis,
    /// The room's playable recordings end to end.
    pub duration_ms: u64,
    /// How many playable recordings (segments) the replay has.
    pub recordings: usize,
}

/// The node's recordings: the recorder's loop and every read of the
/// directory. Cheap to clone.
#[derive(Clone)]
pub struct Recordings {
    inner: Arc<Inner>,
}

struct Inner {
    /// Shared with every recorder task.
    settings: Arc<Settings>,
    /// `recording.enabled`: when off, nothing is recorded (replays already
    /// on disk are still served).
    enabled: bool,
    /// `recording.retention_days`.
    retention: Duration,
    /// The SFU's queue of stream starts, until [`Recordings::start`] takes it.
    streams: parking_lot::Mutex<Option<mpsc::Receiver<SellerStream>>>,
    /// The recorder tasks, so shutdown can wait for files to be finished.
    tasks: TaskTracker,
}

impl Recordings {
    /// The recordings of `config` (`[recording]`); takes the SFU's stream
    /// starts when recording is enabled. Call [`Recordings::start`] to begin.
    pub fn new(config: &Config, sfu: &Sfu) -> Recordings {
        let enabled = config.recording.enabled;
        let streams = if enabled { sfu.seller_streams() } else { None };
        Recordings {
            inner: Arc::new(Inner {
                settings: Arc::new(Settings {
                    layout: Layout {
                        root: config.recording_dir(),
                    },
                    ffmpeg: config.recording.ffmpeg.clone(),
                }),
                enabled,
                retention: Duration::from_secs(u64::from(config.recording.retention_days) * 86_400),
                streams: parking_lot::Mutex::new(streams),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// Starts recording every stream start, and the upkeep (at once, then
    /// every minute) until `shutdown`. Recordings running at shutdown are
    /// finished; [`Recordings::finished`] waits for them.
    pub fn start(&self, shutdown: CancellationToken) {
        let settings = Arc::clone(&self.inner.settings);
        let retention = self.inner.retention;
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = every.tick() => upkeep::pass(&settings, retention).await,
                }
            }
        });
        let Some(mut streams) = self.inner.streams.lock().take() else {
            return;
        };
        if !self.inner.enabled {
            return;
        }
        let settings = Arc::clone(&self.inner.settings);
        let tasks = self.inner.tasks.clone();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    stream = streams.recv() => stream,
                };
                let Some(stream) = stream else { return };
                tasks.spawn(recorder::record(
                    Arc::clone(&settings),
                    stream,
                    shutdown.clone(),
                ));
            }
        });
    }

    /// Waits (at most `patience`) until every recording has stopped and its
    /// file is finished; for shutdown, after the live ended.
    pub async fn finished(&self, patience: Duration) {
        self.inner.tasks.close();
        if tokio::time::timeout(patience, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("recordings were not finished in time; the next start-up finishes them");
        }
    }

    /// Recordings running now on this node.
    pub fn running(&self) -> usize {
        self.inner.tasks.len()
    }

    /// The room's recordings, oldest first (any status).
    pub fn list(&self, room_id: &str) -> Vec<RecordingMeta> {
        self.inner.settings.layout.recordings(room_id)
    }

    /// One recording of the room, if it exists (a bad id is unknown).
    pub fn get(&self, room_id: &str, recording_id: &str) -> Option<RecordingMeta> {
        self.inner.settings.layout.recording(room_id, recording_id)
    }

    /// Where a recording's file is (for serving it); `None` if unknown or
    /// while it is not written yet.
    pub fn file(&self, meta: &RecordingMeta) -> Option<PathBuf> {
        let path = self
            .inner
            .settings
            .layout
            .room(&meta.room_id)?
            .join(&meta.file);
        path.is_file().then_some(path)
    }

    /// Whether the room's seller published its replay: viewers may then
    /// watch its recordings (and its session timeline).
    pub fn is_published(&self, room_id: &str) -> bool {
        self.replay(room_id).is_some_and(|r| r.published)
    }

    /// The room's replay setting, if ever saved.
    pub fn replay(&self, room_id: &str) -> Option<ReplaySetting> {
        self.inner.settings.layout.replay(room_id)
    }

    /// Whether the directory knows the room (a recording or a setting).
    pub fn knows_room(&self, room_id: &str) -> bool {
        self.inner
            .settings
            .layout
            .room(room_id)
            .is_some_and(|dir| dir.is_dir())
    }

    /// Publishes or hides the room's replay; `title` and `seller_name` are
    /// kept for the landing page (the room itself may expire before its
    /// replay).
    pub fn set_published(
        &self,
        room_id: &str,
        published: bool,
        title: &str,
        seller_name: &str,
    ) -> Result<ReplaySetting, RecordingError> {
        if !crate::redis_link::is_room_id(room_id) {
            return Err(RecordingError::InvalidRoom);
        }
        let setting = ReplaySetting {
            published,
            title: title.to_owned(),
            seller_name: seller_name.to_owned(),
            updated_at: unix_millis(),
        };
        self.inner.settings.layout.save_replay(room_id, &setting)?;
        Ok(setting)
    }

    /// Published replays with at least one playable recording, newest first.
    pub fn published(&self) -> Vec<PublishedReplay> {
        let layout = &self.inner.settings.layout;
        let mut replays: Vec<PublishedReplay> = layout
            .rooms()
            .into_iter()
            .filter_map(|room_id| {
                let setting = layout.replay(&room_id).filter(|s| s.published)?;
                let playable: Vec<RecordingMeta> = layout
                    .recordings(&room_id)
                    .into_iter()
                    .filter(|m| m.status != Status::Recording && m.bytes > 0)
                    .collect();
                let first = playable.first()?;
                Some(PublishedReplay {
                    started_at: first.started_at,
                    duration_ms: playable.iter().map(|m| m.duration_ms).sum(),
                    recordings: playable.len(),
                    room_id,
                    title: setting.title,
                    seller_name: setting.seller_name,
                })
            })
            .collect();
        replays.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        replays
    }
}
