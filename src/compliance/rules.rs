//! The rules file (`config/compliance/vi.toml`) as data: what each rule
//! looks for, what it excludes, its legal basis, its rewording and its own
//! examples. The format is documented at the top of the embedded file and
//! in `docs/compliance.md`; compiling it is `matcher.rs`'s business.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::protocol::{ComplianceCitation, ComplianceSeverity, ComplianceSource};

/// The embedded rules: the default when `compliance.rules` names no file.
pub const EMBEDDED_RULES: &str = include_str!("../../config/compliance/vi.toml");

/// Fewest examples of each kind a rule must carry: its tests.
pub const MIN_EXAMPLES: usize = 2;

/// A whole rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Bumped whenever a rule changes meaning; answered with every check so
    /// a saved result says which rules judged it.
    pub version: u32,
    #[serde(rename = "rule")]
    pub rules: Vec<RuleSpec>,
}

/// One rule as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable identifier (`a-z`, `0-9`, `_`): scorecards and the journal
    /// refer to it.
    pub id: String,
    /// A short Vietnamese name for people.
    pub title: String,
    pub severity: ComplianceSeverity,
    #[serde(default)]
    pub kind: RuleKind,
    /// Regular expressions over lowercase NFC text; a space matches any run
    /// of whitespace, `{amount}` an amount of money, and each match must
    /// start and end on word boundaries.
    pub patterns: Vec<String>,
    /// Phrases (same syntax) that, when they contain a match, make it
    /// innocent: "nhất định" is not a superiority claim.
    #[serde(default)]
    pub exclusions: Vec<String>,
    /// For `requires`: phrases of which one must appear somewhere in the
    /// text for the patterns to be allowed.
    #[serde(default)]
    pub required: Vec<String>,
    /// For `discount` and `original_price`: the largest discount (percent)
    /// that is not flagged.
    #[serde(default)]
    pub max_percent: Option<u32>,
    /// Where the rule applies; all sources when absent.
    #[serde(default = "all_sources")]
    pub sources: Vec<ComplianceSource>,
    /// Also match patterns of two words or more in text typed without
    /// diacritics ("chua khoi"). One-word patterns never are: "nhat" may be
    /// "nhất", "nhạt" or "nhặt".
    #[serde(default = "yes")]
    pub fold: bool,
    /// A rewording that keeps the message and obeys the rule.
    pub suggestion: String,
    pub basis: ComplianceCitation,
    /// The rule's own tests, checked whenever a rules file is loaded.
    pub examples: Examples,
}

/// What a rule must and must not flag.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    /// Texts the rule flags (at least [`MIN_EXAMPLES`]).
    pub flagged: Vec<String>,
    /// Texts the rule leaves alone, however close (at least [`MIN_EXAMPLES`]).
    pub allowed: Vec<String>,
}

/// How a rule's matches become hits.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Every match not inside an exclusion is a hit.
    #[default]
    Phrase,
    /// A match is a hit when its `pct` group exceeds `max_percent`.
    Discount,
    /// A match is a hit when its `original` amount is not above the price
    /// (its `price` group, or the product's price) or implies a discount
    /// above `max_percent`.
    OriginalPrice,
    /// The first match is a hit unless one of `required` appears in the
    /// text (a supplement sold without its disclaimer).
    Requires,
}

fn all_sources() -> Vec<ComplianceSource> {
    vec![
        ComplianceSource::Chat,
        ComplianceSource::Product,
        ComplianceSource::PinnedNote,
        ComplianceSource::Script,
    ]
}

fn yes() -> bool {
    true
}

/// Why a rules file was refused.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read the compliance rules {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the compliance rules are not valid TOML for their format: {0}")]
    Parse(String),
    #[error("compliance rule {rule}: {reason}")]
    Invalid { rule: String, reason: String },
    #[error("compliance rule {rule} does not keep its own example ({expected}): {text:?}")]
    Example {
        rule: String,
        expected: &'static str,
        text: String,
    },
}

impl RuleFile {
    /// Parse a rules file's text (not yet compiled nor checked).
    pub fn parse(text: &str) -> Result<RuleFile, RulesError> {
        toml::from_str(text).map_err(|e| RulesError::Parse(e.to_string()))
    }

    /// Read and parse the file at `path`.
    pub fn read(path: &Path) -> Result<RuleFile, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.to_owned(),
            source,
        })?;
        RuleFile::parse(&text)
    }

    /// The shape checks that need no compiling: ids, kinds' fields, examples.
    pub fn check(&self) -> Result<(), RulesError> {
        let mut seen = std::collections::HashSet::new();
        for rule in &self.rules {
            let invalid = |reason: &str| RulesError::Invalid {
                rule: rule.id.clone(),
                reason: reason.to_owned(),
            };
            let id_ok = !rule.id.is_empty()
                && rule
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !id_ok {
                return Err(invalid("the id must be a-z, 0-9 and _"));
            }
            if !seen.insert(rule.id.as_str()) {
                return Err(invalid("the id is used twice"));
            }
            if rule.patterns.is_empty() {
                return Err(invalid("a rule needs patterns"));
            }
            if rule.sources.is_empty() {
                return Err(invalid("a rule needs at least one source"));
            }
            let needs_percent = matches!(rule.kind, RuleKind::Discount | RuleKind::OriginalPrice);
            if needs_percent != rule.max_percent.is_some() {
                return Err(invalid(
                    "max_percent is for discount and original_price rules, which need it",
                ));
            }
            if (rule.kind == RuleKind::Requires) == rule.required.is_empty() {
                return Err(invalid(
                    "required is for requires rules, which need at least one",
                ));
            }
            if rule.examples.flagged.len() < MIN_EXAMPLES
                || rule.examples.allowed.len() < MIN_EXAMPLES
            {
                return Err(invalid(
                    "a rule needs at least two flagged and two allowed examples",
                ));
            }
        }
        Ok(())
    }
}
