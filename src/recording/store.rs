//! The recordings directory: one folder per room, and in it each
//! recording's file and its metadata (`<id>.json` beside `<id>.webm` or
//! `<id>.mp4`), plus the room's replay setting (`replay.json`: published or
//! not, with the title and seller name the landing page shows). Plain files,
//! so a directory shared by several nodes (NFS, a mounted volume) is the
//! whole store: every node sees every recording and every setting.
//!
//! Names never come from a request unchecked: room ids are the registry's
//! `[a-z0-9-]{1,64}` and recording ids this module's own shape, checked
//! before either becomes part of a path. Metadata is written to a temporary
//! file and renamed, so a reader never sees half of one.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being written (or left open by a crash, until the next start-up).
    Recording,
    /// Finished and seekable.
    Complete,
    /// Stopped early (ffmpeg missing or dead, disk full, a write failed);
    /// `reason` says why. What was written before is kept and playable.
    Failed,
}

/// A recording's metadata (`<id>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingMeta {
    pub id: String,
    pub room_id: String,
    /// Unix ms of the first packet written: the replay page lines chat up
    /// with the video from it.
    pub started_at: UnixMillis,
    /// Unix ms the recording stopped; `None` while it runs.
    pub ended_at: Option<UnixMillis>,
    /// The file's media duration.
    pub duration_ms: u64,
    /// The file's size.
    pub bytes: u64,
    /// The file's `Content-Type` (`video/webm`, `video/mp4`).
    pub mime: String,
    /// The tracks' codecs, video first (`["vp8", "opus"]`).
    pub codecs: Vec<String>,
    pub status: Status,
    /// Why a recording failed, or how it was finished (after a crash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Packets the recorder missed because it fell behind the live.
    #[serde(default)]
    pub dropped_packets: u64,
    /// The media file's name in the room's folder.
    pub file: String,
}

/// A room's replay setting (`replay.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplaySetting {
    pub published: bool,
    /// Copied from the room when the setting was saved: rooms expire, replays
    /// outlive them.
    pub title: String,
    pub seller_name: String,
    pub updated_at: UnixMillis,
}

/// Whether `id` has the shape of a recording id (`r<digits>-<hex>`, made by
/// [`new_recording_id`]): nothing else may name a file.
pub fn is_recording_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix('r') else {
        return false;
    };
    let Some((millis, random)) = rest.split_once('-') else {
        return false;
    };
    (1..=16).contains(&millis.len())
        && millis.bytes().all(|b| b.is_ascii_digit())
        && (4..=32).contains(&random.len())
        && random.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A new recording id: its start time (so names sort by it) and 8 random
/// hex digits.
pub fn new_recording_id(now: UnixMillis) -> String {
    format!("r{now}-{:08x}", rand::random::<u32>())
}

/// The recordings directory.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    /// The room's folder; `None` for an id that is not a room id.
    pub fn room(&self, room_id: &str) -> Option<PathBuf> {
        crate::redis_link::is_room_id(room_id).then(|| self.root.join(room_id))
    }

    /// The metadata of `id` in the room's folder; `None` for a bad id.
    pub fn meta_path(&self, room_id: &str, id: &str) -> Option<PathBuf> {
        is_recording_id(id)
            .then(|| self.room(room_id))
            .flatten()
            .map(|dir| dir.join(format!("{id}.json")))
    }

    /// Every room folder's id.
    pub fn rooms(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| crate::redis_link::is_room_id(name))
            .collect()
    }

    /// The room's recordings, oldest first (by start time).
    pub fn recordings(&self, room_id: &str) -> Vec<RecordingMeta> {
        let Some(dir) = self.room(room_id) else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut found: Vec<RecordingMeta> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".json")?;
                is_recording_id(id).then(|| read_json(&e.path()).ok())?
            })
            .filter(|meta: &RecordingMeta| meta.room_id == room_id)
            .collect();
        found.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        found
    }

    /// One recording's metadata; `None` if unknown or the id is bad.
    pub fn recording(&self, room_id: &str, id: &str) -> Option<RecordingMeta> {
        let meta: RecordingMeta = read_json(&self.meta_path(room_id, id)?).ok()?;
        (meta.room_id == room_id && meta.id == id).then_some(meta)
    }

    /// Writes a recording's metadata (atomically: temporary file, rename).
    pub fn save(&self, meta: &RecordingMeta) -> io::Result<()> {
        let path = self
            .meta_path(&meta.room_id, &meta.id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad recording id"))?;
        write_json(&path, meta)
    }

    /// The room's replay setting, if it was ever saved.
    pub fn replay(&self, room_id: &str) -> Option<ReplaySetting> {
        read_json(&self.room(room_id)?.join("replay.json")).ok()
    }

    pub fn save_replay(&self, room_id: &str, setting: &ReplaySetting) -> io::Result<()> {
        let dir = self
            .room(room_id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad room id"))?;
        std::fs::create_dir_all(&dir)?;
        write_json(&dir.join("replay.json"), setting)
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> io::Result<T> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recorders_own_ids_name_files() {
        assert!(is_recording_id(&new_recording_id(1_798_000_000_000)));
        assert!(is_recording_id("r1-abcd"));
        for bad in [
            "",
            "r",
            "r-abcd",
            "r1-",
            "r1-ABCD",
            "x1-abcd",
            "r1-abcd/../x",
            "../r1-abcd",
            "r1-ab.cd",
            "r1-abcd\0",
            "r12345678901234567-abcd",
        ] {
            assert!(!is_recording_id(bad), "{bad:?}");
        }
        let layout = Layout {
            root: PathBuf::from("/rec"),
        };
        assert_eq!(layout.meta_path("../etc", "r1-abcd"), None);
        assert_eq!(
            layout.meta_path("room-1", "r1-abcd"),
            Some(PathBuf::from("/rec/room-1/r1-abcd.json"))
        );
    }
}
