//! Where each room's bank account is kept: in this process (the memory
//! stores) or in Redis beside the room's other keys (`store.kind = "redis"`).
//!
//! Redis: one hash per room, `{room:ID}:payment` (fields `bin`,
//! `account_number`, `account_name`), tagged like every key of the room so
//! it lives in the room's Cluster slot. Setting writes all three fields in
//! one `HSET` (so a reader never sees half of two accounts); removing is a
//! `DEL`. The key expires with the room: the room store gives it the
//! room's TTL when the room ends (`room_payment_key`, used by
//! `room/store/redis/keys.rs`), so a room id that is used again after its
//! records expired never inherits someone else's account. Calls go through
//! the one [`RedisLink`] (its deadline, its error classification).
//!
//! Values read back are checked again by [`BankAccount::new`]: a record
//! that breaks the rules is `Internal`, never shown to a buyer.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::redis_link::{room_tag, LinkError, RedisLink};

use super::{BankAccount, PaymentError};

/// The hash holding a room's account.
pub fn room_payment_key(room_id: &str) -> String {
    format!("{}:payment", room_tag(room_id))
}

/// Each room's bank account. Cheap to clone (shared state).
#[derive(Clone)]
pub enum PaymentStore {
    /// A std mutex: no `.await` happens while it is held.
    Memory(Arc<Mutex<HashMap<String, BankAccount>>>),
    Redis(RedisLink),
}

impl PaymentStore {
    pub fn memory() -> PaymentStore {
        PaymentStore::Memory(Arc::default())
    }

    pub fn redis(link: RedisLink) -> PaymentStore {
        PaymentStore::Redis(link)
    }

    /// Sets the room's account, or removes it with `None` (removing none
    /// is harmless).
    pub async fn set_account(
        &self,
        room_id: &str,
        account: Option<&BankAccount>,
    ) -> Result<(), PaymentError> {
        check_room_id(room_id)?;
        match self {
            PaymentStore::Memory(rooms) => {
                let mut rooms = rooms.lock();
                match account {
                    Some(account) => rooms.insert(room_id.to_owned(), account.clone()),
                    None => rooms.remove(room_id),
                };
                Ok(())
            }
            PaymentStore::Redis(link) => {
                let key = room_payment_key(room_id);
                let cmd = match account {
                    Some(account) => {
                        let mut cmd = redis::cmd("HSET");
                        cmd.arg(&key)
                            .arg("bin")
                            .arg(account.bin())
                            .arg("account_number")
                            .arg(account.account_number())
                            .arg("account_name")
                            .arg(account.account_name());
                        cmd
                    }
                    None => {
                        let mut cmd = redis::cmd("DEL");
                        cmd.arg(&key);
                        cmd
                    }
                };
                link.run::<redis::Value>(&cmd)
                    .await
                    .map(drop)
                    .map_err(link_error)
            }
        }
    }

    /// The room's account, if its seller set one.
    pub async fn account(&self, room_id: &str) -> Result<Option<BankAccount>, PaymentError> {
        check_room_id(room_id)?;
        match self {
            PaymentStore::Memory(rooms) => Ok(rooms.lock().get(room_id).cloned()),
            PaymentStore::Redis(link) => {
                let mut cmd = redis::cmd("HGETALL");
                cmd.arg(room_payment_key(room_id));
                let fields: HashMap<String, String> = link.run(&cmd).await.map_err(link_error)?;
                if fields.is_empty() {
                    return Ok(None);
                }
                let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
                BankAccount::new(field("bin"), field("account_number"), field("account_name"))
                    .map(Some)
                    .map_err(|e| {
                        PaymentError::Internal(format!("the stored account is unreadable: {e}"))
                    })
            }
        }
    }
}

/// Room ids are what the room registry accepts (`[a-z0-9-]{1,64}`), checked
/// before one becomes part of a key.
fn check_room_id(room_id: &str) -> Result<(), PaymentError> {
    crate::sale::validate::room_id(room_id).map_err(|_| PaymentError::InvalidValue {
        field: "room_id",
        reason: "must have 1 to 64 lower-case letters, digits or dashes".into(),
    })
}

fn link_error(error: LinkError) -> PaymentError {
    match error {
        LinkError::Unavailable(e) => PaymentError::Unavailable(e),
        LinkError::Internal(e) => PaymentError::Internal(e),
    }
}
