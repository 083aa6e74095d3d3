//! Where photos live: plain files in one directory (`photos.dir`, which
//! several nodes share), named by content.
//!
//! Layout:
//! - `<id>.jpg` and `<id>-thumb.jpg`: our JPEGs. Written to a temporary
//!   file in the same directory and renamed, so a reader (any node) sees a
//!   whole file or none; the same id always has the same bytes, so two
//!   nodes writing it at once write the same thing.
//! - `rooms/<hash of the room id>`: the ids a room stored, one a line, for
//!   its quota. The room id is hashed so no room id reaches a path.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::encode::{is_photo_file_name, Prepared};
use super::PhotoError;

#[derive(Debug)]
pub struct PhotoStore {
    /// `photos.dir` (or `<data.dir>/photos`), created on first write.
    dir: PathBuf,
    /// Photos one room may store.
    per_room: usize,
    /// Serialises this node's quota updates (read the room's list, check,
    /// write it). A tokio mutex: file I/O is awaited while it is held.
    /// Nodes sharing the directory do not share it; the worst case is a
    /// room a photo or two over its quota when two nodes race.
    quota: tokio::sync::Mutex<()>,
}

impl PhotoStore {
    pub fn new(dir: PathBuf, per_room: usize) -> PhotoStore {
        PhotoStore {
            dir,
            per_room,
            quota: tokio::sync::Mutex::new(()),
        }
    }

    /// Store `photo` for `room_id`: refused with `QuotaReached` when the
    /// room has `per_room` other photos; a photo the room has already is
    /// stored again at no cost.
    pub async fn save(&self, room_id: &str, photo: &Prepared) -> Result<(), PhotoError> {
        let _guard = self.quota.lock().await;
        let list = self.room_list(room_id);
        let mut ids = read_ids(&list).await?;
        let new = !ids.contains(&photo.id);
        if new && ids.len() >= self.per_room {
            return Err(PhotoError::QuotaReached {
                limit: self.per_room,
            });
        }
        self.write_once(&format!("{}.jpg", photo.id), &photo.display)
            .await?;
        self.write_once(&format!("{}-thumb.jpg", photo.id), &photo.thumb)
            .await?;
        if new {
            ids.push(photo.id.clone());
            let mut text = ids.join("\n");
            text.push('\n');
            let rooms = self.dir.join("rooms");
            atomic_write(&rooms, &list, text.as_bytes()).await?;
        }
        Ok(())
    }

    /// The bytes of the stored file `name` (`<id>.jpg` or `<id>-thumb.jpg`);
    /// `None` for any other name or a file that is not there.
    pub async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, PhotoError> {
        if !is_photo_file_name(name) {
            return Ok(None);
        }
        match tokio::fs::read(self.dir.join(name)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading a photo", e)),
        }
    }

    fn room_list(&self, room_id: &str) -> PathBuf {
        let hash = hex::encode(Sha256::digest(room_id.as_bytes()));
        self.dir.join("rooms").join(&hash[..32])
    }

    /// Write `name` unless it is there (content-addressed: same name, same
    /// bytes).
    async fn write_once(&self, name: &str, bytes: &[u8]) -> Result<(), PhotoError> {
        let path = self.dir.join(name);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        atomic_write(&self.dir, &path, bytes).await
    }
}

/// The ids listed in `list` (none when it does not exist yet).
async fn read_ids(list: &Path) -> Result<Vec<String>, PhotoError> {
    let text = match tokio::fs::read_to_string(list).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("reading a room's photo list", e)),
    };
    let mut seen = HashSet::new();
    Ok(text
        .lines()
        .filter(|id| !id.is_empty() && seen.insert(*id))
        .map(str::to_owned)
        .collect())
}

/// Write `bytes` to `path` through a temporary file in `dir` (the same file
/// system) and a rename: readers see the whole file or none.
async fn atomic_write(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), PhotoError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io("creating the photos directory", e))?;
    let temp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    if let Err(e) = tokio::fs::write(&temp, bytes).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(io("writing a photo", e));
    }
    if let Err(e) = tokio::fs::rename(&temp, path).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(io("storing a photo", e));
    }
    Ok(())
}

fn io(what: &str, error: std::io::Error) -> PhotoError {
    PhotoError::Internal(format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(id: &str) -> Prepared {
        Prepared {
            id: id.to_owned(),
            display: b"display".to_vec(),
            thumb: b"thumb".to_vec(),
            width: 1,
            height: 1,
        }
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    #[tokio::test]
    async fn a_saved_photo_is_two_whole_files_and_no_temporary_one_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let store = PhotoStore::new(dir.path().to_path_buf(), 10);
        store.save("r1", &photo(A)).await.unwrap();
        let display = store.read(&format!("{A}.jpg")).await.unwrap();
        let thumb = store.read(&format!("{A}-thumb.jpg")).await.unwrap();
        assert_eq!(display.as_deref(), Some(&b"display"[..]));
        assert_eq!(thumb.as_deref(), Some(&b"thumb"[..]));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[tokio::test]
    async fn the_quota_counts_each_photo_of_a_room_once_and_rooms_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = PhotoStore::new(dir.path().to_path_buf(), 1);
        store.save("r1", &photo(A)).await.unwrap();
        store.save("r1", &photo(A)).await.unwrap();
        assert!(matches!(
            store.save("r1", &photo(B)).await,
            Err(PhotoError::QuotaReached { limit: 1 })
        ));
        store.save("r2", &photo(B)).await.unwrap();
    }

    #[tokio::test]
    async fn names_that_are_not_photo_names_are_never_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.jpg"), b"x").unwrap();
        let store = PhotoStore::new(dir.path().to_path_buf(), 1);
        assert_eq!(store.read("secret.jpg").await.unwrap(), None);
        assert_eq!(store.read("../secret.jpg").await.unwrap(), None);
        assert_eq!(store.read(&format!("{A}.jpg")).await.unwrap(), None);
    }
}
