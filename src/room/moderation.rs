//! Who may speak in a room, and how often: mutes, bans, slow mode and the
//! banned-words list, and the rank rule that keeps moderation from being
//! turned against the people it protects.
//!
//! **The rank rule.** Roles rank admin > seller = trainer > moderator >
//! viewer ([`Role::rank`]). Nobody mutes, unmutes, bans or unbans themselves
//! or anyone of equal or higher rank, and a sanction holds only against a
//! lower rank than the one who placed it — so even a ban placed on an
//! identity the room has not seen yet (and so could not rank) never shuts
//! a seller out of her own room. Lifting a sanction takes at least the rank
//! that placed it.
//!
//! Pure bookkeeping: [`super::state::RoomState`] looks up the target's rank
//! and turns the results into events; nothing here does I/O, so the rules
//! are tested with a hand-moved clock.

use std::collections::HashMap;
use std::time::Duration;

use crate::auth::Role;
use crate::clock::{Now, UnixMillis};
use crate::protocol::{BannedUser, ChatSettings};

use super::actor::Actor;
use super::limits::RoomLimits;
use super::RoomError;

#[derive(Debug, Default)]
pub struct Moderation {
    /// The public part (slow mode), sent in snapshots.
    pub settings: ChatSettings,
    /// Lower-cased, so matching is case-insensitive.
    banned_words: Vec<String>,
    /// user id → the mute.
    muted: HashMap<String, Mute>,
    /// user id → the ban.
    banned: HashMap<String, Ban>,
    /// user id → when they last chatted, for slow mode. Monotonic clock, so
    /// a wall-clock jump never unlocks or blocks anyone.
    last_message_at: HashMap<String, tokio::time::Instant>,
}

#[derive(Debug, Clone)]
struct Ban {
    /// The rank of who banned; the ban holds only below it.
    by_rank: u8,
    /// The name the user was banned under, for the studio's list.
    name: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Mute {
    /// When the mute ends (wall clock, shown to clients).
    until: UnixMillis,
    /// The rank of who muted; the mute holds only below it.
    by_rank: u8,
}

impl Moderation {
    /// Is `user_id` banned, for someone holding `role`?
    pub fn is_banned(&self, user_id: &str, role: Role) -> bool {
        self.banned
            .get(user_id)
            .is_some_and(|ban| ban.by_rank > role.rank())
    }

    /// Everyone banned, in no particular order.
    pub fn banned(&self) -> Vec<BannedUser> {
        self.banned
            .iter()
            .map(|(user_id, ban)| BannedUser {
                user_id: user_id.clone(),
                name: ban.name.clone(),
            })
            .collect()
    }

    /// Mute `user_id` (who holds `role`) for `minutes`; when the mute ends.
    pub fn mute(
        &mut self,
        by: &Actor,
        user_id: &str,
        role: Role,
        minutes: u32,
        now: Now,
        limits: &RoomLimits,
    ) -> Result<UnixMillis, RoomError> {
        may_act_on(by, user_id, role)?;
        if minutes == 0 || minutes > limits.max_mute_minutes {
            return Err(RoomError::InvalidValue(format!(
                "minutes must be between 1 and {}",
                limits.max_mute_minutes
            )));
        }
        let until = now.wall + u64::from(minutes) * 60_000;
        let mute = Mute {
            until,
            by_rank: by.role.rank(),
        };
        self.muted.insert(user_id.to_owned(), mute);
        Ok(until)
    }

    /// Lift `user_id`'s mute, if any; `false` when there was none.
    pub fn unmute(&mut self, by: &Actor, user_id: &str, role: Role) -> Result<bool, RoomError> {
        may_act_on(by, user_id, role)?;
        match self.muted.get(user_id) {
            None => Ok(false),
            Some(mute) if mute.by_rank > by.role.rank() => Err(RoomError::Outranked),
            Some(_) => Ok(self.muted.remove(user_id).is_some()),
        }
    }

    /// Ban `user_id` (who holds `role`, known as `name`) for the life of the room.
    pub fn ban(
        &mut self,
        by: &Actor,
        user_id: &str,
        role: Role,
        name: Option<String>,
    ) -> Result<(), RoomError> {
        may_act_on(by, user_id, role)?;
        let ban = self.banned.entry(user_id.to_owned()).or_insert(Ban {
            by_rank: 0,
            name: None,
        });
        ban.by_rank = ban.by_rank.max(by.role.rank());
        if name.is_some() {
            ban.name = name;
        }
        Ok(())
    }

    /// Lift `user_id`'s ban; `false` when there was none.
    pub fn unban(&mut self, by: &Actor, user_id: &str, role: Role) -> Result<bool, RoomError> {
        may_act_on(by, user_id, role)?;
        match self.banned.get(user_id) {
            None => Ok(false),
            Some(ban) if ban.by_rank > by.role.rank() => Err(RoomError::Outranked),
            Some(_) => Ok(self.banned.remove(user_id).is_some()),
        }
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
        if let Some(mute) = self.muted.get(&actor.user_id) {
            if mute.until <= now.wall {
                self.muted.remove(&actor.user_id);
            } else if mute.by_rank > actor.role.rank() {
                return Err(RoomError::Muted { until: mute.until });
            }
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

/// The rank rule: nobody acts on themselves or on an equal or higher rank.
pub fn may_act_on(by: &Actor, user_id: &str, role: Role) -> Result<(), RoomError> {
    if user_id == by.user_id {
        return Err(RoomError::OwnIdentity);
    }
    if !by.outranks(role) {
        return Err(RoomError::Outranked);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, role: Role) -> Actor {
        Actor {
            user_id: id.into(),
            name: id.into(),
            role,
        }
    }

    fn viewer() -> Actor {
        person("lan", Role::Viewer)
    }

    fn moderator() -> Actor {
        person("mod", Role::Moderator)
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
        m.mute(
            &moderator(),
            "lan",
            Role::Viewer,
            2,
            now,
            &RoomLimits::default(),
        )
        .unwrap();
        let err = m.admit_message(&viewer(), "hi", at(now, 60)).unwrap_err();
        assert!(matches!(err, RoomError::Muted { .. }));
        m.admit_message(&viewer(), "hi", at(now, 121)).unwrap();
    }

    #[test]
    fn a_mute_must_last_between_one_minute_and_the_limit() {
        let mut m = Moderation::default();
        let limits = RoomLimits::default();
        let too_long = limits.max_mute_minutes + 1;
        let (by, now) = (moderator(), Now::current());
        assert!(m.mute(&by, "lan", Role::Viewer, 0, now, &limits).is_err());
        assert!(m
            .mute(&by, "lan", Role::Viewer, too_long, now, &limits)
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
    fn nobody_bans_or_mutes_themselves() {
        let mut m = Moderation::default();
        let by = moderator();
        assert_eq!(
            m.ban(&by, "mod", Role::Moderator, None),
            Err(RoomError::OwnIdentity)
        );
        let limits = RoomLimits::default();
        assert_eq!(
            m.mute(&by, "mod", Role::Moderator, 5, Now::current(), &limits),
            Err(RoomError::OwnIdentity)
        );
        m.ban(&by, "minh", Role::Viewer, None).unwrap();
        assert!(m.is_banned("minh", Role::Viewer));
    }

    #[test]
    fn nobody_acts_on_an_equal_or_higher_rank() {
        let mut m = Moderation::default();
        let by = moderator();
        for role in [Role::Moderator, Role::Seller, Role::Trainer, Role::Admin] {
            assert_eq!(
                m.ban(&by, "x", role, None),
                Err(RoomError::Outranked),
                "{role:?}"
            );
        }
        let seller = person("hoa", Role::Seller);
        assert_eq!(
            m.ban(&seller, "trainer", Role::Trainer, None),
            Err(RoomError::Outranked)
        );
        m.ban(&seller, "mod", Role::Moderator, None).unwrap();
        m.ban(&person("root", Role::Admin), "hoa2", Role::Seller, None)
            .unwrap();
    }

    #[test]
    fn a_ban_never_holds_against_a_rank_as_high_as_its_author() {
        let mut m = Moderation::default();
        // Placed before the room knew who "hoa" is: ranked as a viewer.
        m.ban(&moderator(), "hoa", Role::Viewer, None).unwrap();
        assert!(m.is_banned("hoa", Role::Viewer));
        assert!(!m.is_banned("hoa", Role::Moderator));
        assert!(!m.is_banned("hoa", Role::Seller));
    }

    #[test]
    fn a_mute_never_silences_a_rank_as_high_as_its_author() {
        let mut m = Moderation::default();
        let now = Now::current();
        let limits = RoomLimits::default();
        m.mute(&moderator(), "hoa", Role::Viewer, 5, now, &limits)
            .unwrap();
        let seller = person("hoa", Role::Seller);
        m.admit_message(&seller, "vẫn nói được", now).unwrap();
    }

    #[test]
    fn lifting_a_ban_takes_the_rank_that_placed_it() {
        let mut m = Moderation::default();
        let (seller, admin) = (person("hoa", Role::Seller), person("root", Role::Admin));
        m.ban(&admin, "lan", Role::Viewer, None).unwrap();
        assert_eq!(
            m.unban(&seller, "lan", Role::Viewer),
            Err(RoomError::Outranked)
        );
        assert_eq!(m.unban(&admin, "lan", Role::Viewer), Ok(true));
        assert!(!m.is_banned("lan", Role::Viewer));
        assert_eq!(m.unban(&seller, "lan", Role::Viewer), Ok(false));
    }
}
