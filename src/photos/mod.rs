//! # Product photos
//!
//! A seller photographs a product with her phone (or picks one from the
//! gallery) and the studio uploads it; the product's `image_url` then
//! points at our copy. What is stored and served is never the uploaded
//! file: [`encode`] sniffs the real format from the bytes, decodes only
//! JPEG, PNG and WebP within fixed limits (a decompression bomb is refused
//! from its header) and writes our own JPEGs, a display image and a
//! thumbnail, named by the hash of their content, which [`store`] keeps as
//! plain files in `photos.dir` (shared by the nodes, like recordings).
//!
//! This module knows nothing of HTTP or tokens: `server/photos.rs` decides
//! who may upload and how files are served.
//!
//! ## Layout
//! - `encode`: the checks, the decoding limits, the JPEGs, the ids (pure).
//! - `store`: the directory's layout, atomic writes, each room's quota.

pub mod encode;
pub mod store;

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::Config;
pub use encode::{accepted_content_type, is_photo_file_name, Prepared};
pub use store::PhotoStore;

/// Why a photo was refused or could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("the photo is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("only JPEG, PNG and WebP photos are accepted")]
    Unsupported,
    #[error("the image has too many pixels to be decoded")]
    TooManyPixels,
    #[error("the image is damaged or incomplete and cannot be decoded")]
    Invalid,
    #[error("the room already has {limit} photos")]
    QuotaReached { limit: usize },
    #[error("internal error: {0}")]
    Internal(String),
}

/// A stored photo, as the uploader is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPhoto {
    pub id: String,
    /// The display image's size.
    pub width: u32,
    pub height: u32,
}

/// Decoding CPU-heavy images at once: the machine's other work (rooms,
/// sales) must keep its cores, and each decode may hold up to
/// [`encode::MAX_DECODE_BYTES`].
const CONCURRENT_DECODES: usize = 2;

/// This node's door to photos: checks, encodes and stores uploads.
#[derive(Debug, Clone)]
pub struct Photos {
    /// Shared by every handler (and, inside, one quota lock per node).
    store: Arc<PhotoStore>,
    /// Bounds concurrent decodes to [`CONCURRENT_DECODES`]; later uploads
    /// wait their turn.
    decoding: Arc<Semaphore>,
    /// `photos.max_bytes`, which the service layer enforces while reading.
    pub max_bytes: usize,
}

impl Photos {
    pub fn new(config: &Config) -> Photos {
        Photos {
            store: Arc::new(PhotoStore::new(config.photos_dir(), config.photos.per_room)),
            decoding: Arc::new(Semaphore::new(CONCURRENT_DECODES)),
            max_bytes: config.photos.max_bytes,
        }
    }

    /// Check, re-encode and store `bytes` as one of `room_id`'s photos.
    pub async fn upload(&self, room_id: &str, bytes: Vec<u8>) -> Result<StoredPhoto, PhotoError> {
        if bytes.len() > self.max_bytes {
            return Err(PhotoError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let prepared = {
            let _permit = self
                .decoding
                .acquire()
                .await
                .map_err(|_| PhotoError::Internal("the decoder is closed".into()))?;
            tokio::task::spawn_blocking(move || encode::prepare(&bytes))
                .await
                .map_err(|e| PhotoError::Internal(format!("the decoder failed: {e}")))??
        };
        self.store.save(room_id, &prepared).await?;
        Ok(StoredPhoto {
            id: prepared.id,
            width: prepared.width,
            height: prepared.height,
        })
    }

    /// The stored file `name` (`<id>.jpg`, `<id>-thumb.jpg`), if it is one.
    pub async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, PhotoError> {
        self.store.read(name).await
    }
}
