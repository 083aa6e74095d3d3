//! Who may speak in a room, and how often: mutes, bans, slow mode and the
//! banned-words list.
//!
//! Pure bookkeeping: [`super::state::RoomState`] authorises the moderator and
//! turns the results into events; nothing here does I/O, so the rules are
//! tested with a hand-moved clock.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::auth::Role;
use crate::protocol::{ChatSettings, UnixMillis};

use super::state::{Actor, Now, RoomLimits};
use super::RoomError;

#[derive(Debug, Default)]
pub struct Moderation {
    /// The public part (slow mode), sent in snapshots.
    pub settings: ChatSettings,
    /// Lower-cased, so matching is case-insensitive.
    banned_words: Vec<String>,
    /// user id → when the mute ends (wall clock, shown to clients).
    muted: HashMap<String, UnixMillis>,
    banned: HashSet<String>,
    /// user id → when they last chatted, for slow mode. Monotonic clock, so
    /// a wall-clock jump never unlocks or blocks anyone.
    last_message_at: HashMap<String, tokio::time::Instant>,
}

impl Moderation {
    pub fn is_banned(&self, user_id: &str) -> bool {
        self.banned.contains(user_id)
    }

    /// Mute `user_id` for `minutes`; when the mute ends.
    pub fn mute(
        &mut self,
        user_id: &str,
        minutes: u32,
        now: Now,
        limits: &RoomLimits,
    ) -> Result<UnixMillis, RoomError> {
        if minutes == 0 || minutes > limits.max_mute_minutes {
            return Err(RoomError::InvalidValue(format!(
                "minutes must be between 1 and {}",
                limits.max_mute_minutes
            )));
        }
        let until = now.wall + u64::from(minutes) * 60_000;
        self.muted.insert(user_id.to_owned(), until);
        Ok(until)
    }

    pub fn unmute(&mut self, user_id: &str) {
        self.muted.remove(user_id);
    }

    /// Ban `user_id` for the life of the room.
    pub fn ban(&mut self, by: &Actor, user_id: &str) -> Result<(), RoomError> {
        if user_id == by.user_id {
            return Err(RoomError::InvalidValue("you cannot ban yourself".into()));
        }
        self.banned.insert(user_id.to_owned());
        Ok(())
    }

    pub fn set_slow_mode(&mut self, seconds: u32, limits: &RoomLimits) -> Result<(), RoomError> {
        if seconds > limits.max_slow_mode_seconds {
            return Err(RoomError::InvalidValue(format!(
                "slow mode is at most {} seconds",
                limits.max_slow_mode_seconds
            )));
        }
        self.settings.slow_mode_seconds = seconds;
        Ok(())
    }

    pub fn set_banned_words(
        &mut self,
        words: &[String],
        limits: &RoomLimits,
    ) -> Result<(), RoomError> {
        if words.len() > limits.max_banned_words {
            return Err(RoomError::InvalidValue(format!(
                "at most {} banned words",
                limits.max_banned_words
            )));
        }
        self.banned_words = words
            .iter()
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        Ok(())
    }

    /// May `actor` post `text` now? Checks the mute (forgetting one that
    /// ended), slow mode (viewers only: hosts and moderators must be able to
    /// answer) and the banned words. On success the message is counted for
    /// slow mode.
    pub fn admit_message(&mut self, actor: &Actor, text: &str, now: Now) -> Result<(), RoomError> {
        if let Some(&until) = self.muted.get(&actor.user_id) {
            if until > now.wall {
                return Err(RoomError::Muted { until });
            }
            self.muted.remove(&actor.user_id);
        }
        let slow = Duration::from_secs(u64::from(self.settings.slow_mode_seconds));
        if actor.role == Role::Viewer && !slow.is_zero() {
            if let Some(last) = self.last_message_at.get(&actor.user_id) {
                let next_allowed = *last + slow;
                if next_allowed > now.mono {
                    return Err(RoomError::SlowMode {
                        retry_after: next_allowed - now.mono,
                    });
                }
            }
        }
        let lower = text.to_lowercase();
        if self.banned_words.iter().any(|w| lower.contains(w.as_str())) {
            return Err(RoomError::BannedWord);
        }
        self.last_message_at.insert(actor.user_id.clone(), now.mono);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer() -> Actor {
        Actor {
            user_id: "lan".into(),
            name: "Lan".into(),
            role: Role::Viewer,
        }
    }

    fn at(now: Now, secs: u64) -> Now {
        Now {
            wall: now.wall + secs * 1000,
            mono: now.mono + Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_muted_user_may_not_post_until_the_mute_ends() {
        let mut m = Moderation::default();
        let now = Now::current();
        m.mute("lan", 2, now, &RoomLimits::default()).unwrap();
        let err = m.admit_message(&viewer(), "hi", at(now, 60)).unwrap_err();
        assert!(matches!(err, RoomError::Muted { .. }));
        m.admit_message(&viewer(), "hi", at(now, 121)).unwrap();
    }

    #[test]
    fn a_mute_must_last_between_one_minute_and_the_limit() {
        let mut m = Moderation::default();
        let limits = RoomLimits::default();
        assert!(m.mute("lan", 0, Now::current(), &limits).is_err());
        assert!(m
            .mute("lan", limits.max_mute_minutes + 1, Now::current(), &limits)
            .is_err());
    }

    #[test]
    fn slow_mode_spaces_a_viewers_messages_but_not_the_sellers() {
        let mut m = Moderation::default();
        let now = Now::current();
        m.set_slow_mode(10, &RoomLimits::default()).unwrap();
        m.admit_message(&viewer(), "1", now).unwrap();
        let err = m.admit_message(&viewer(), "2", at(now, 4)).unwrap_err();
        assert_eq!(
            err,
            RoomError::SlowMode {
                retry_after: Duration::from_secs(6)
            }
        );
        m.admit_message(&viewer(), "3", at(now, 10)).unwrap();
        let seller = Actor {
            role: Role::Seller,
            ..viewer()
        };
        m.admit_message(&seller, "a", at(now, 10)).unwrap();
        m.admit_message(&seller, "b", at(now, 10)).unwrap();
    }

    #[test]
    fn banned_words_match_case_insensitively() {
        let mut m = Moderation::default();
        m.set_banned_words(&["Lừa Đảo".into()], &RoomLimits::default())
            .unwrap();
        let err = m.admit_message(&viewer(), "shop LỪA ĐẢO quá", Now::current());
        assert_eq!(err.unwrap_err(), RoomError::BannedWord);
    }

    #[test]
    fn nobody_bans_themselves() {
        let mut m = Moderation::default();
        assert!(m.ban(&viewer(), "lan").is_err());
        m.ban(&viewer(), "minh").unwrap();
        assert!(m.is_banned("minh"));
    }
}
