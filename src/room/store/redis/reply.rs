//! What the room functions answer, read back into the room's own types:
//! refusal words into [`RoomError`]s (with the memory store's exact
//! messages), published events into [`Frame`]s, a join's reply into a
//! [`RoomView`]. Pure functions, no I/O.
//!
//! An event is parsed once with serde into a [`RoomEvent`] and serialized
//! once as the protocol's [`SequencedEvent`], so clients see byte for byte
//! what the memory store would have sent, whatever JSON Lua wrote.

use std::time::Duration;

use redis::{FromRedisValue, Value};
use serde::Deserialize;

use crate::bus::Frame;
use crate::clock::UnixMillis;
use crate::protocol::{
    to_json, BannedUser, ChatMessage, ChatSettings, Product, RoomEvent, RoomInfo, RoomStatus,
    SaleInfo, SequencedEvent,
};

use super::super::super::{RoomError, RoomLimits};
use super::super::memory::control_of;
use super::super::{Joined, RoomView};

pub(super) fn internal(what: impl std::fmt::Display) -> RoomError {
    RoomError::Internal(what.to_string())
}

/// A reply's outcome word and the rest of it.
pub(super) fn split(reply: Value) -> Result<(String, Vec<Value>), RoomError> {
    let mut parts = Vec::<Value>::from_redis_value(reply).map_err(internal)?;
    if parts.is_empty() {
        return Err(internal("empty function reply"));
    }
    let outcome = text(parts.remove(0))?;
    Ok((outcome, parts))
}

pub(super) fn text(value: Value) -> Result<String, RoomError> {
    String::from_redis_value(value).map_err(internal)
}

pub(super) fn texts(value: Value) -> Result<Vec<String>, RoomError> {
    Vec::<String>::from_redis_value(value).map_err(internal)
}

fn number<T: std::str::FromStr>(value: Value) -> Result<T, RoomError> {
    let raw = text(value)?;
    raw.parse()
        .map_err(|_| internal(format!("not a number: {raw:?}")))
}

pub(super) fn parse<T: for<'de> Deserialize<'de>>(json: &str) -> Result<T, RoomError> {
    serde_json::from_str(json).map_err(|e| internal(format!("{e}: {json}")))
}

/// The error a function's refusal word (and its payload) stands for.
pub(super) fn refusal(word: &str, payload: Vec<Value>, limits: &RoomLimits) -> RoomError {
    let first = payload.into_iter().next();
    match word {
        "room_not_found" => RoomError::RoomNotFound,
        "ended" => RoomError::Ended,
        "banned" => RoomError::Banned,
        "own_identity" => RoomError::OwnIdentity,
        "outranked" => RoomError::Outranked,
        "product_not_found" => RoomError::ProductNotFound,
        "message_not_found" => RoomError::MessageNotFound,
        "already_exists" => RoomError::AlreadyExists,
        "banned_word" => RoomError::BannedWord,
        "already_live" => RoomError::InvalidState("the room is already live".into()),
        "not_banned" => RoomError::InvalidState("this user is not banned from the room".into()),
        "too_many_products" => RoomError::InvalidValue(format!(
            "a room has at most {} products",
            limits.max_products
        )),
        "bad_minutes" => RoomError::InvalidValue(format!(
            "minutes must be between 1 and {}",
            limits.max_mute_minutes
        )),
        "bad_slow_mode" => RoomError::InvalidValue(format!(
            "slow mode is at most {} seconds",
            limits.max_slow_mode_seconds
        )),
        "too_many_words" => {
            RoomError::InvalidValue(format!("at most {} banned words", limits.max_banned_words))
        }
        "muted" => match first.map(number) {
            Some(Ok(until)) => RoomError::Muted { until },
            _ => internal("a mute without its end"),
        },
        "slow_mode" => match first.map(number) {
            Some(Ok(ms)) => RoomError::SlowMode {
                retry_after: Duration::from_millis(ms),
            },
            _ => internal("slow mode without a wait"),
        },
        other => internal(format!("unexpected function reply {other:?}")),
    }
}

/// An event as the functions publish and record it: the protocol's
/// `SequencedEvent` plus what only nodes need.
#[derive(Deserialize)]
struct Published {
    seq: u64,
    /// For `user_banned`: the rank of who banned.
    #[serde(default)]
    by_rank: u8,
    #[serde(flatten)]
    event: RoomEvent,
}

/// A published or recorded event as this node's frame.
pub(super) fn frame(json: &str) -> Result<Frame, RoomError> {
    let Published {
        seq,
        by_rank,
        event,
    } = parse(json)?;
    let control = control_of(&event, by_rank);
    Ok(Frame {
        seq,
        json: to_json(&SequencedEvent { seq, event }),
        control,
    })
}

/// A join's reply after its outcome word (`resumed` or `snapshot`).
pub(super) fn joined(
    outcome: &str,
    parts: Vec<Value>,
    room_id: &str,
    last_seq: Option<u64>,
) -> Result<Joined, RoomError> {
    let mut parts = parts.into_iter();
    let mut next = || parts.next().ok_or_else(|| internal("short join reply"));
    let seq: u64 = number(next()?)?;
    match outcome {
        "resumed" => {
            let frames = texts(next()?)?
                .iter()
                .map(|json| frame(json))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Joined::Resumed {
                from_seq: last_seq.unwrap_or(seq) + 1,
                to_seq: seq,
                frames,
            })
        }
        "snapshot" => {
            let [title, seller_name, status, created_at, pinned, viewers, slow, hearts, stream, sale] =
                [(); 10].map(|()| next().and_then(text));
            let status = match status?.as_str() {
                "scheduled" => RoomStatus::Scheduled,
                "live" => RoomStatus::Live,
                other => return Err(internal(format!("room status {other:?}"))),
            };
            let pinned = Some(pinned?).filter(|id| !id.is_empty());
            let products: Vec<Product> = texts(next()?)?
                .iter()
                .map(|json| parse(json))
                .collect::<Result<_, _>>()?;
            let chat: Vec<ChatMessage> = texts(next()?)?
                .iter()
                .map(|json| parse(json))
                .collect::<Result<_, _>>()?;
            let banned = banned(texts(next()?)?)?;
            // Rooms created before practice rooms existed have no flag.
            let practice = next().and_then(text).is_ok_and(|flag| flag == "1");
            // Rooms created before scheduling existed have neither field.
            let starts_at = optional(next().and_then(text).ok())?;
            let cover_url = next().and_then(text).ok().filter(|url| !url.is_empty());
            // Rooms from before pinned notes have no `note` field either.
            let pinned_note = match next().and_then(text) {
                Ok(json) if !json.is_empty() => Some(parse(&json)?),
                _ => None,
            };
            let sale = sale?;
            let info = RoomInfo {
                id: room_id.to_owned(),
                title: title?,
                seller_name: seller_name?,
                status,
                viewer_count: parse(&viewers?)?,
                pinned_product_id: pinned.clone(),
                created_at: parse(&created_at?)?,
                practice,
                starts_at,
                cover_url,
            };
            let pinned_product =
                pinned.and_then(|id| products.iter().find(|p| p.id == id).cloned());
            Ok(Joined::Snapshot(Box::new(RoomView {
                seq,
                info,
                products,
                pinned_product,
                chat,
                settings: ChatSettings {
                    slow_mode_seconds: parse(&slow?)?,
                },
                hearts_total: parse(&hearts?)?,
                sale: sale_of(&sale)?,
                stream_live: stream? == "1",
                banned,
                pinned_note,
            })))
        }
        other => Err(internal(format!("unexpected join reply {other:?}"))),
    }
}

/// The room's sale as last announced (`""` when none).
pub(super) fn sale_of(json: &str) -> Result<Option<SaleInfo>, RoomError> {
    if json.is_empty() {
        return Ok(None);
    }
    parse(json).map(Some)
}

#[derive(Deserialize)]
struct Ban {
    name: Option<String>,
}

/// `HGETALL` of the bans (user, ban JSON, ...), sorted by user id as the
/// memory store sorts them.
fn banned(flat: Vec<String>) -> Result<Vec<BannedUser>, RoomError> {
    let mut banned = flat
        .chunks(2)
        .map(|pair| match pair {
            [user_id, json] => Ok(BannedUser {
                user_id: user_id.clone(),
                name: parse::<Ban>(json)?.name,
            }),
            _ => Err(internal("odd ban list")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    banned.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    Ok(banned)
}

/// A number field that may be absent or `""` (an unset planned start).
fn optional(field: Option<String>) -> Result<Option<UnixMillis>, RoomError> {
    match field.as_deref() {
        None | Some("") => Ok(None),
        Some(number) => parse(number).map(Some),
    }
}

/// The room info fields `HMGET` read (title, seller name, status, viewers,
/// pinned id, created_at, practice flag, planned start, cover); `None` for
/// an unknown room.
pub(super) fn info(
    room_id: &str,
    fields: Vec<Option<String>>,
) -> Result<Option<RoomInfo>, RoomError> {
    let [title, seller_name, status, viewers, pinned, created_at, practice, starts_at, cover]: [Option<String>; 9] =
        fields.try_into().map_err(|_| internal("short room info"))?;
    let (Some(title), Some(seller_name), Some(status)) = (title, seller_name, status) else {
        return Ok(None);
    };
    let status = match status.as_str() {
        "scheduled" => RoomStatus::Scheduled,
        "live" => RoomStatus::Live,
        "ended" => RoomStatus::Ended,
        other => return Err(internal(format!("room status {other:?}"))),
    };
    Ok(Some(RoomInfo {
        id: room_id.to_owned(),
        title,
        seller_name,
        status,
        viewer_count: parse(viewers.as_deref().unwrap_or("0"))?,
        pinned_product_id: pinned.filter(|id| !id.is_empty()),
        created_at: parse(created_at.as_deref().unwrap_or("0"))?,
        practice: practice.as_deref() == Some("1"),
        starts_at: optional(starts_at)?,
        cover_url: cover.filter(|url| !url.is_empty()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Control;

    #[test]
    fn a_published_event_becomes_the_protocols_bytes() {
        // As cjson writes it: any key order, escaped slashes, extra fields.
        let json = r#"{"seq":7,"type":"chat","message":{"role":"viewer","name":"Lan","rank":0,"id":1,"text":"a\/b","sent_at":1700000000000,"user_id":"lan"}}"#;
        let frame = frame(json).unwrap();
        assert_eq!(frame.seq, 7);
        assert_eq!(
            frame.json.as_str(),
            r#"{"seq":7,"type":"chat","message":{"id":1,"user_id":"lan","name":"Lan","role":"viewer","text":"a/b","sent_at":1700000000000}}"#
        );
        assert_eq!(frame.control, None);
    }

    #[test]
    fn a_ban_carries_the_banning_rank_to_the_nodes_only() {
        let frame =
            frame(r#"{"seq":3,"by_rank":2,"type":"user_banned","name":null,"user_id":"lan"}"#)
                .unwrap();
        assert_eq!(
            frame.control,
            Some(Control::UserBanned {
                user_id: "lan".into(),
                by_rank: 2
            })
        );
        assert_eq!(
            frame.json.as_str(),
            r#"{"seq":3,"type":"user_banned","user_id":"lan","name":null}"#
        );
    }

    #[test]
    fn refusals_carry_the_memory_stores_messages() {
        let limits = RoomLimits::default();
        assert_eq!(
            refusal("bad_minutes", vec![], &limits),
            RoomError::InvalidValue("minutes must be between 1 and 1440".into())
        );
        assert_eq!(
            refusal("muted", vec![Value::BulkString(b"42".to_vec())], &limits),
            RoomError::Muted { until: 42 }
        );
        assert!(matches!(
            refusal("what", vec![], &limits),
            RoomError::Internal(_)
        ));
    }
}
