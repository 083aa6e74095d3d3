//! The recordings directory's upkeep, at start-up and then every minute:
//! finish recordings a crash left open, and delete recordings whose live
//! ended more than `recording.retention_days` ago.
//!
//! A recording is "left open" when its metadata still says `recording` and
//! its file has not changed for [`ABANDONED_AFTER`]: a running `ffmpeg`
//! writes a cluster every second, so on a directory shared by several nodes
//! this never touches another node's live recording. Finishing is a remux
//! (`-c copy`) into a seekable file, the same step a recording that ends
//! normally takes for H.264.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::clock::{unix_millis, UnixMillis};

use super::recorder::{remux, Settings};
use super::store::Status;

/// How long a file must be untouched before its recording counts as abandoned.
pub(crate) const ABANDONED_AFTER: Duration = Duration::from_secs(20);

/// One pass: finish what was left open, delete what is too old.
pub(crate) async fn pass(settings: &Settings, retention: Duration) {
    let now = unix_millis();
    for room in settings.layout.rooms() {
        let Some(dir) = settings.layout.room(&room) else {
            continue;
        };
        for mut meta in settings.layout.recordings(&room) {
            let live = if meta.mime == "video/mp4" {
                dir.join(format!("{}.mkv", meta.id))
            } else {
                dir.join(&meta.file)
            };
            let target = dir.join(&meta.file);
            if meta.status == Status::Recording {
                let Some(modified) = modified_ms(&live) else {
                    // Never written: nothing to finish.
                    if now.saturating_sub(meta.started_at) > ABANDONED_AFTER.as_millis() as u64 {
                        meta.status = Status::Failed;
                        meta.ended_at = Some(meta.started_at);
                        meta.reason = Some("the server stopped before anything was written".into());
                        let _ = settings.layout.save(&meta);
                    }
                    continue;
                };
                if now.saturating_sub(modified) < ABANDONED_AFTER.as_millis() as u64 {
                    continue;
                }
                tracing::info!(room = %room, recording = %meta.id, "finishing a recording left open");
                match remux(&settings.ffmpeg, &live, &target).await {
                    Ok(duration_ms) => {
                        meta.status = Status::Complete;
                        meta.duration_ms = duration_ms;
                        meta.reason = Some(
                            "finished at start-up: the server stopped while recording".into(),
                        );
                    }
                    Err(reason) => {
                        meta.status = Status::Failed;
                        meta.reason = Some(format!("left open by a crash, not recoverable: {reason}"));
                    }
                }
                meta.ended_at = Some(modified);
                meta.bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
                if let Err(error) = settings.layout.save(&meta) {
                    tracing::warn!(recording = %meta.id, %error, "could not write the recording's metadata");
                }
                continue;
            }
            let ended = meta.ended_at.unwrap_or(meta.started_at);
            if now.saturating_sub(ended) > retention.as_millis() as u64 {
                tracing::info!(room = %room, recording = %meta.id, "recording past its retention: deleted");
                let _ = std::fs::remove_file(&target);
                let _ = std::fs::remove_file(&live);
                if let Some(path) = settings.layout.meta_path(&room, &meta.id) {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

fn modified_ms(path: &Path) -> Option<UnixMillis> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let since = modified.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    Some(since.as_millis() as UnixMillis)
}
