//! A room's schedule: its title, the planned start of its live and its
//! cover, and the one check of those fields.
//!
//! A seller opens a room days before she goes live, then plans it: a title,
//! a date and time, a poster. Those three are what a shared link, the
//! landing page's "Sắp diễn ra" and the room page's countdown show, and what
//! she may change afterwards (`PATCH /api/rooms/{id}`, which becomes
//! [`RoomCommand::UpdateRoom`](super::RoomCommand::UpdateRoom)).
//!
//! Everything here needs no room data, so it runs before the store is
//! called (like the product checks): [`check`] turns what was asked into
//! [`CheckedChanges`], the only form a store accepts, so no unchecked value
//! reaches a room whichever store holds it. A pure leaf: no state, no I/O.

use crate::clock::UnixMillis;

use super::text;

/// The longest title, in Unicode scalar values (as `text::length` counts).
pub const MAX_TITLE_CHARS: usize = 200;

/// How far ahead a live may be planned: a year (366 days, so "the same day
/// next year" passes in a leap year too).
pub const MAX_AHEAD_MS: u64 = 366 * 24 * 60 * 60 * 1000;

/// How far in the past a planned start may lie and still pass: the studio's
/// time input has minutes only, so "now" typed at 10:05:40 reads 10:05:00.
pub const PAST_GRACE_MS: u64 = 2 * 60 * 1000;

/// The longest cover address (what a browser and a share preview accept).
pub const MAX_COVER_URL_CHARS: usize = 2048;

/// What a seller asked to change; `None` leaves a field as it is.
/// `Some(None)` clears a planned start or a cover.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomChanges {
    pub title: Option<String>,
    pub starts_at: Option<Option<UnixMillis>>,
    pub cover_url: Option<Option<String>>,
}

/// Changes that passed [`check`]: trimmed, in range. Only `check` makes
/// one, so a store never sees a value nobody checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedChanges(RoomChanges);

impl CheckedChanges {
    pub fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }

    pub fn starts_at(&self) -> Option<Option<UnixMillis>> {
        self.0.starts_at
    }

    pub fn cover_url(&self) -> Option<Option<&str>> {
        self.0.cover_url.as_ref().map(Option::as_deref)
    }
}

/// Why a schedule field was refused; each names its field, so a form can
/// mark the right input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("a title has 1 to {MAX_TITLE_CHARS} characters")]
    Title,
    #[error("the planned start is in the past")]
    StartsInPast,
    #[error("the planned start is more than a year ahead")]
    StartsTooFar,
    #[error("a cover is an https:// address or one of this server's /photos/ paths")]
    CoverUrl,
}

impl ScheduleError {
    /// The request body field this error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ScheduleError::Title => "title",
            ScheduleError::StartsInPast | ScheduleError::StartsTooFar => "starts_at",
            ScheduleError::CoverUrl => "cover_url",
        }
    }
}

impl From<ScheduleError> for super::RoomError {
    fn from(error: ScheduleError) -> super::RoomError {
        super::RoomError::InvalidValue(format!("{}: {error}", error.field()))
    }
}

/// Check `changes` as of `now`: the title trimmed and 1 to 200 characters
/// (not blank), the start between now (less [`PAST_GRACE_MS`]) and a year
/// ahead, the cover an `https://` address or a `/photos/…` path.
pub fn check(changes: RoomChanges, now: UnixMillis) -> Result<CheckedChanges, ScheduleError> {
    let title = changes.title.as_deref().map(title).transpose()?;
    if let Some(Some(at)) = changes.starts_at {
        starts_at(at, now)?;
    }
    let cover_url = match changes.cover_url {
        Some(Some(url)) => Some(Some(cover_url(&url)?)),
        other => other,
    };
    Ok(CheckedChanges(RoomChanges {
        title,
        starts_at: changes.starts_at,
        cover_url,
    }))
}

/// A room title, trimmed: 1 to [`MAX_TITLE_CHARS`], not blank.
pub fn title(title: &str) -> Result<String, ScheduleError> {
    let title = title.trim();
    if text::is_blank(title) || text::length(title) > MAX_TITLE_CHARS {
        return Err(ScheduleError::Title);
    }
    Ok(title.to_owned())
}

/// A planned start: not in the past, at most a year ahead of `now`.
pub fn starts_at(at: UnixMillis, now: UnixMillis) -> Result<UnixMillis, ScheduleError> {
    if at.saturating_add(PAST_GRACE_MS) < now {
        return Err(ScheduleError::StartsInPast);
    }
    if at > now.saturating_add(MAX_AHEAD_MS) {
        return Err(ScheduleError::StartsTooFar);
    }
    Ok(at)
}

/// A cover address, trimmed: `https://` with a host, or `/photos/<file>`
/// (a photo this server stores), nothing else (no `javascript:`, no
/// `http:` that a phone on HTTPS would block, no path out of `/photos/`).
pub fn cover_url(url: &str) -> Result<String, ScheduleError> {
    let url = url.trim();
    if url.is_empty()
        || text::length(url) > MAX_COVER_URL_CHARS
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ScheduleError::CoverUrl);
    }
    if let Some(file) = url.strip_prefix("/photos/") {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if file.is_empty() || file.starts_with('.') || !file.chars().all(plain) {
            return Err(ScheduleError::CoverUrl);
        }
        return Ok(url.to_owned());
    }
    match url::Url::parse(url) {
        Ok(parsed)
            if parsed.scheme() == "https"
                && parsed.host_str().is_some_and(|h| !h.is_empty())
                && parsed.username().is_empty()
                && parsed.password().is_none() =>
        {
            Ok(url.to_owned())
        }
        _ => Err(ScheduleError::CoverUrl),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = 1_800_000_000_000;
    const HOUR: u64 = 60 * 60 * 1000;

    #[test]
    fn a_start_in_the_next_year_passes_and_one_beyond_is_refused() {
        assert_eq!(starts_at(NOW + HOUR, NOW), Ok(NOW + HOUR));
        assert_eq!(starts_at(NOW + MAX_AHEAD_MS, NOW), Ok(NOW + MAX_AHEAD_MS));
        assert_eq!(
            starts_at(NOW + MAX_AHEAD_MS + 1, NOW),
            Err(ScheduleError::StartsTooFar)
        );
    }

    #[test]
    fn a_start_in_the_past_is_refused_beyond_the_minute_inputs_grace() {
        assert_eq!(starts_at(NOW - 60_000, NOW), Ok(NOW - 60_000));
        assert_eq!(starts_at(NOW - HOUR, NOW), Err(ScheduleError::StartsInPast));
    }

    #[test]
    fn a_cover_is_https_or_one_of_our_photo_paths() {
        assert!(cover_url("https://cdn.example.vn/a.jpg").is_ok());
        assert!(cover_url("/photos/0f3a9c-thumb.jpg").is_ok());
        for bad in [
            "http://example.vn/a.jpg",
            "javascript:alert(1)",
            "/photos/../secret",
            "/photos/",
            "/etc/passwd",
            "https://user:pw@example.vn/a.jpg",
            "https://exa mple.vn/a.jpg",
            "",
        ] {
            assert_eq!(cover_url(bad), Err(ScheduleError::CoverUrl), "{bad}");
        }
    }

    #[test]
    fn a_blank_or_too_long_title_is_refused() {
        assert_eq!(title("  Chợ cá  "), Ok("Chợ cá".to_owned()));
        assert_eq!(title(" \u{200b} "), Err(ScheduleError::Title));
        assert_eq!(title(&"á".repeat(201)), Err(ScheduleError::Title));
    }

    #[test]
    fn unchanged_fields_stay_unchanged_and_a_cleared_start_clears() {
        let checked = check(
            RoomChanges {
                starts_at: Some(None),
                ..RoomChanges::default()
            },
            NOW,
        )
        .unwrap();
        assert_eq!(checked.title(), None);
        assert_eq!(checked.starts_at(), Some(None));
        assert_eq!(checked.cover_url(), None);
    }
}
