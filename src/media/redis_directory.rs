//! The media directory of a deployment: rooms' origins in Redis, shared by
//! every node, through the `chophien_media_*` functions of the library
//! (`directory.lua`).
//!
//! Each room has two keys under its tag ([`room_media_keys`]): the epoch
//! counter and the origin record. A claim increments the counter and writes
//! the record in one function call, so epochs only grow and the newest
//! claim wins; a release deletes the record only if it still holds the
//! releasing node's claim. The room store expires both keys with the rest of
//! the room when it ends.

use async_trait::async_trait;

use crate::redis_link::{room_tag, LinkError, RedisLink};

use super::directory::{DirectoryError, MediaDirectory, NodeAddr, Origin};

/// The room's media keys, in the order the functions take them: the epoch
/// counter, then the origin record.
pub fn room_media_keys(room_id: &str) -> [String; 2] {
    let tag = room_tag(room_id);
    [format!("{tag}:media:epoch"), format!("{tag}:media:origin")]
}

/// Origins in Redis. Cheap to clone (the link is shared).
#[derive(Clone)]
pub struct RedisDirectory {
    /// The link the stores use: one socket, one function library.
    link: RedisLink,
}

impl RedisDirectory {
    pub fn new(link: RedisLink) -> RedisDirectory {
        RedisDirectory { link }
    }
}

fn unavailable(error: LinkError) -> DirectoryError {
    DirectoryError::Unavailable(error.to_string())
}

#[async_trait]
impl MediaDirectory for RedisDirectory {
    async fn origin(&self, room_id: &str) -> Result<Option<Origin>, DirectoryError> {
        let none: [&str; 0] = [];
        let record: Vec<Option<String>> = self
            .link
            .fcall_ro(
                "chophien_media_origin",
                &room_media_keys(room_id),
                &none[..],
            )
            .await
            .map_err(unavailable)?;
        match record.as_slice() {
            [Some(id), Some(url), Some(epoch)] => {
                let epoch = epoch.parse().map_err(|_| {
                    DirectoryError::Unavailable(format!("bad origin epoch {epoch:?}"))
                })?;
                Ok(Some(Origin {
                    node: NodeAddr {
                        id: id.clone(),
                        url: url.clone(),
                    },
                    epoch,
                }))
            }
            _ => Ok(None),
        }
    }

    async fn set_origin(&self, room_id: &str, node: &NodeAddr) -> Result<u64, DirectoryError> {
        self.link
            .fcall(
                "chophien_media_claim",
                &room_media_keys(room_id),
                (&node.id, &node.url),
            )
            .await
            .map_err(unavailable)
    }

    async fn clear_origin(
        &self,
        room_id: &str,
        node_id: &str,
        epoch: u64,
    ) -> Result<bool, DirectoryError> {
        let cleared: u8 = self
            .link
            .fcall(
                "chophien_media_release",
                &room_media_keys(room_id),
                (node_id, epoch),
            )
            .await
            .map_err(unavailable)?;
        Ok(cleared == 1)
    }
}
