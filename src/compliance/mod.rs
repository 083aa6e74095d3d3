//! The compliance checker: what a live seller says and writes, held against
//! Vietnamese advertising, food-safety, consumer-protection and e-commerce
//! law, with the citation and a rewording for every hit.
//!
//! - `rules.rs`: the rules file as data (`config/compliance/vi.toml`,
//!   compiled in; `compliance.rules` may name another), each rule with its
//!   legal basis and its own examples.
//! - `text.rs`: Vietnamese text normalised for matching (NFC, lowercase,
//!   and without diacritics, all aligned character for character).
//! - `matcher.rs`: the compiled rules and [`Checker::check`], a pure
//!   function from a text to its hits.
//! - `live.rs`: which texts of a host's room request are checked, and what
//!   a hit becomes (a private `compliance_flag` frame and a journal record).
//!
//! It knows rooms, the journal and the protocol's plain data, but nothing of
//! HTTP or sockets: `server/compliance.rs` calls it after a request
//! succeeded and serves `POST /api/compliance/check`.

pub mod live;
pub mod matcher;
pub mod rules;
pub mod text;

use std::path::PathBuf;

use serde::Deserialize;

use crate::protocol::RoomInfo;

pub use matcher::{Checker, Context, Hit};
pub use rules::{RuleFile, RulesError, EMBEDDED_RULES};

/// `[compliance]` in the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ComplianceConfig {
    /// Also check hosts' texts in real rooms (practice rooms always are):
    /// a private warning to the seller, never shown to viewers.
    pub real_rooms: bool,
    /// A rules file that replaces the embedded `config/compliance/vi.toml`;
    /// empty: the embedded one.
    pub rules: PathBuf,
}

/// Does the live checker read the hosts' texts in this room?
///
/// Practice rooms always; real rooms when `compliance.real_rooms` is on.
pub fn checks_room(info: &RoomInfo, config: &ComplianceConfig) -> bool {
    info.practice || config.real_rooms
}

impl Checker {
    /// The rules `config` names: its file, or the embedded ones.
    pub fn load(config: &ComplianceConfig) -> Result<Checker, RulesError> {
        let file = if config.rules.as_os_str().is_empty() {
            RuleFile::parse(EMBEDDED_RULES)?
        } else {
            RuleFile::read(&config.rules)?
        };
        Checker::compile(file)
    }

    /// The rules `config` names; the embedded ones (with an error logged)
    /// if they cannot be had, which `Config::load` has already ruled out
    /// for a configuration read from files.
    pub fn for_config(config: &ComplianceConfig) -> Checker {
        Checker::load(config).unwrap_or_else(|error| {
            tracing::error!(%error, "compliance rules refused; using the embedded rules");
            Checker::embedded()
        })
    }

    /// The embedded rules (their validity is a unit test of this crate).
    pub fn embedded() -> Checker {
        RuleFile::parse(EMBEDDED_RULES)
            .and_then(Checker::compile)
            .unwrap_or_else(|e| panic!("config/compliance/vi.toml is invalid: {e}"))
    }
}

#[cfg(test)]
mod tests;
