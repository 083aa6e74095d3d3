//! The compiled rules and the one pure function that applies them:
//! [`Checker::check`] (text, where it came from, the product's price) →
//! every hit, in reading order.
//!
//! Each pattern is compiled twice: over the lowercase NFC form of the text
//! (diacritics count: "chữa" is not "chưa"), and, for patterns of two words
//! or more, over the folded form, where a match counts only if the words
//! were typed entirely without diacritics ("chua khoi"). A match must start
//! and end on word boundaries; it is dropped when an exclusion of its rule
//! (matched in the same form) contains it, and when a longer or earlier
//! match of the same rule overlaps it.

use regex::{Captures, Regex};
use serde::Serialize;

use crate::money::Vnd;
use crate::protocol::{ComplianceCitation, ComplianceSeverity, ComplianceSource};

use super::rules::{RuleFile, RuleKind, RuleSpec, RulesError};
use super::text::{fold, is_word_char, Form, Normalized};

/// An amount of money as sellers type it: "500k", "500.000đ", "1,2 triệu",
/// "1tr2", "350 nghìn" (`{amount}` in a pattern).
const AMOUNT: &str = r"\d{1,3}(?:[.,]\d{3})*(?:[.,]\d{1,2})?(?:\s*(?:k|nghìn|ngàn|tr|triệu|củ)(?:\d{1,3})?)?(?:\s*(?:đ|đồng|vnđ|vnd))?";

/// What is known about a text beyond its words.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub source: ComplianceSource,
    /// The price of the product the text describes, when it describes one.
    pub price_vnd: Option<Vnd>,
}

impl Context {
    pub fn new(source: ComplianceSource) -> Context {
        Context {
            source,
            price_vnd: None,
        }
    }
}

/// One finding: a rule, where it matched, and what to do about it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    pub rule_id: String,
    pub title: String,
    pub severity: ComplianceSeverity,
    /// The words that matched, as written (NFC).
    pub excerpt: String,
    /// Where the excerpt starts: line and column from 1, columns counted in
    /// characters of the NFC text.
    pub line: u32,
    pub column: u32,
    pub citation: ComplianceCitation,
    pub suggestion: String,
}

/// Every rule of a rules file, compiled; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Checker {
    /// The rules file's version.
    pub version: u32,
    rules: Vec<Compiled>,
}

/// One pattern (or exclusion, or required phrase) in both forms.
#[derive(Debug)]
struct Pattern {
    lower: Regex,
    /// `None` when the pattern is not matched without diacritics.
    folded: Option<Regex>,
}

#[derive(Debug)]
struct Compiled {
    spec: RuleSpec,
    patterns: Vec<Pattern>,
    exclusions: Vec<Pattern>,
    required: Vec<Pattern>,
}

/// A match of a rule's pattern, in characters of the text.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Checker {
    /// Compile a rules file, refusing it if a rule is malformed or does not
    /// keep its own examples.
    pub fn compile(file: RuleFile) -> Result<Checker, RulesError> {
        file.check()?;
        let mut rules = Vec::with_capacity(file.rules.len());
        for spec in file.rules {
            // Patterns are matched without diacritics from two words on;
            // exclusions and required phrases are looked for in the same
            // form as the match, whatever their length.
            let compile_all = |sources: &[String], words_only: bool| {
                sources
                    .iter()
                    .map(|source| {
                        let several_words = source.trim().contains(' ');
                        let fold = spec.fold && (several_words || !words_only);
                        compile(&spec.id, source, fold)
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            let patterns = compile_all(&spec.patterns, true)?;
            let exclusions = compile_all(&spec.exclusions, false)?;
            let required = compile_all(&spec.required, false)?;
            rules.push(Compiled {
                spec,
                patterns,
                exclusions,
                required,
            });
        }
        let checker = Checker {
            version: file.version,
            rules,
        };
        checker.check_examples()?;
        Ok(checker)
    }

    /// Every hit in `text`, in reading order (then by rule, as listed).
    pub fn check(&self, text: &str, context: Context) -> Vec<Hit> {
        let text = Normalized::new(text);
        let mut hits: Vec<(usize, Hit)> = Vec::new();
        for rule in &self.rules {
            if !rule.spec.sources.contains(&context.source) {
                continue;
            }
            for span in rule.spans(&text, context) {
                let (line, column) = text.line_column(span.start);
                let hit = Hit {
                    rule_id: rule.spec.id.clone(),
                    title: rule.spec.title.clone(),
                    severity: rule.spec.severity,
                    excerpt: text.excerpt(span.start, span.end).to_owned(),
                    line,
                    column,
                    citation: rule.spec.basis.clone(),
                    suggestion: rule.spec.suggestion.clone(),
                };
                hits.push((span.start, hit));
            }
        }
        hits.sort_by_key(|(start, _)| *start);
        hits.into_iter().map(|(_, hit)| hit).collect()
    }

    /// Each rule flags its `flagged` examples and leaves its `allowed` ones
    /// alone (checked as a script, the widest source).
    fn check_examples(&self) -> Result<(), RulesError> {
        for rule in &self.rules {
            let source = *rule
                .spec
                .sources
                .first()
                .unwrap_or(&ComplianceSource::Script);
            let context = Context::new(source);
            let flags = |text: &str| {
                let text = Normalized::new(text);
                !rule.spans(&text, context).is_empty()
            };
            let failing = |text: &String, expected: &'static str| RulesError::Example {
                rule: rule.spec.id.clone(),
                expected,
                text: text.clone(),
            };
            if let Some(text) = rule.spec.examples.flagged.iter().find(|t| !flags(t)) {
                return Err(failing(text, "flagged"));
            }
            if let Some(text) = rule.spec.examples.allowed.iter().find(|t| flags(t)) {
                return Err(failing(text, "allowed"));
            }
        }
        Ok(())
    }
}

impl Compiled {
    /// This rule's hits in `text`, as spans.
    fn spans(&self, text: &Normalized, context: Context) -> Vec<Span> {
        let mut found: Vec<Span> = Vec::new();
        for form in [Form::Lower, Form::Folded] {
            // Looked for only once a pattern matched: most texts match none.
            let mut exclusions: Option<Vec<Span>> = None;
            for pattern in &self.patterns {
                let Some(regex) = pattern.get(form) else {
                    continue;
                };
                for (span, captures) in find(text, form, regex) {
                    if form == Form::Folded && !text.excerpt(span.start, span.end).is_ascii() {
                        continue; // typed with diacritics: the lowercase pass judged it
                    }
                    let excluded = exclusions
                        .get_or_insert_with(|| matches(text, form, &self.exclusions))
                        .iter()
                        .any(|x| x.start <= span.start && x.end >= span.end);
                    if !excluded && self.judge(&captures, context) {
                        found.push(span);
                    }
                }
            }
        }
        // Earlier first, then longer first; drop what overlaps a kept match.
        found.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
        let mut kept: Vec<Span> = Vec::new();
        for span in found {
            if kept
                .iter()
                .all(|k| span.start >= k.end || span.end <= k.start)
            {
                kept.push(span);
            }
        }
        if self.spec.kind == RuleKind::Requires {
            let satisfied = [Form::Lower, Form::Folded]
                .into_iter()
                .any(|form| !matches(text, form, &self.required).is_empty());
            if satisfied {
                return Vec::new();
            }
            kept.truncate(1);
        }
        kept
    }

    /// Whether a match of this rule's pattern is a hit.
    fn judge(&self, captures: &Option<Vec<(String, String)>>, context: Context) -> bool {
        let group = |name: &str| {
            captures
                .as_ref()
                .and_then(|c| c.iter().find(|(n, _)| n == name))
                .map(|(_, value)| value.as_str())
        };
        let max = u64::from(self.spec.max_percent.unwrap_or(100));
        match self.spec.kind {
            RuleKind::Phrase | RuleKind::Requires => true,
            RuleKind::Discount => group("pct")
                .and_then(|p| p.parse::<u64>().ok())
                .is_some_and(|pct| pct > max),
            RuleKind::OriginalPrice => {
                let Some(original) = group("original").and_then(parse_amount) else {
                    return false;
                };
                let price = group("price").and_then(parse_amount).or(context.price_vnd);
                match price {
                    None => false,
                    Some(price) if original <= price => true,
                    Some(price) => (original - price).saturating_mul(100) > max * original,
                }
            }
        }
    }
}

impl Pattern {
    fn get(&self, form: Form) -> Option<&Regex> {
        match form {
            Form::Lower => Some(&self.lower),
            Form::Folded => self.folded.as_ref(),
        }
    }
}

/// Compile one pattern: spaces match any whitespace, `{amount}` an amount;
/// also folded (non-ASCII characters without diacritics) when `fold`.
fn compile(rule: &str, source: &str, fold: bool) -> Result<Pattern, RulesError> {
    // Case-insensitive as well as run on lowercase text: a pattern written
    // "Zalo" still matches.
    let expanded = format!(
        "(?i){}",
        source.replace("{amount}", AMOUNT).replace(' ', r"\s+")
    );
    let build = |pattern: &str| {
        Regex::new(pattern).map_err(|e| RulesError::Invalid {
            rule: rule.to_owned(),
            reason: format!("pattern {source:?}: {e}"),
        })
    };
    let lower = build(&expanded)?;
    let folded = if fold {
        let folded: String = expanded.chars().map(super::text::fold).collect();
        Some(build(&folded)?)
    } else {
        None
    };
    Ok(Pattern { lower, folded })
}

/// Every match of `regex` in `form` that starts and ends on word
/// boundaries, with its named groups when it has some.
#[allow(clippy::type_complexity)]
fn find(
    text: &Normalized,
    form: Form,
    regex: &Regex,
) -> Vec<(Span, Option<Vec<(String, String)>>)> {
    let haystack = text.form(form);
    let names: Vec<&str> = regex.capture_names().flatten().collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at <= haystack.len() {
        let Some(captures) = regex.captures_at(haystack, at) else {
            break;
        };
        let whole = captures.get(0).map_or(at..at, |m| m.range());
        if whole.is_empty() {
            at = next_char(haystack, whole.start);
            continue;
        }
        if on_boundaries(haystack, whole.clone()) {
            let span = Span {
                start: text.char_index(form, whole.start),
                end: text.char_index(form, whole.end),
            };
            out.push((span, named(&captures, &names)));
            at = whole.end;
        } else {
            at = next_char(haystack, whole.start);
        }
    }
    out
}

/// The spans of every phrase in `phrases` (exclusions, required phrases).
fn matches(text: &Normalized, form: Form, phrases: &[Pattern]) -> Vec<Span> {
    phrases
        .iter()
        .filter_map(|p| p.get(form))
        .flat_map(|regex| find(text, form, regex))
        .map(|(span, _)| span)
        .collect()
}

fn named(captures: &Captures<'_>, names: &[&str]) -> Option<Vec<(String, String)>> {
    if names.is_empty() {
        return None;
    }
    let values = names
        .iter()
        .filter_map(|&n| {
            captures
                .name(n)
                .map(|m| (n.to_owned(), m.as_str().to_owned()))
        })
        .collect();
    Some(values)
}

/// A match may not start or end inside a word: "nhất" is not in "nhấtt".
fn on_boundaries(haystack: &str, range: std::ops::Range<usize>) -> bool {
    let first = haystack[range.clone()].chars().next();
    let last = haystack[range.clone()].chars().next_back();
    let before = haystack[..range.start].chars().next_back();
    let after = haystack[range.end..].chars().next();
    let clean = |edge: Option<char>, neighbour: Option<char>| match (edge, neighbour) {
        (Some(e), Some(n)) => !(is_word_char(e) && is_word_char(n)),
        _ => true,
    };
    clean(first, before) && clean(last, after)
}

fn next_char(haystack: &str, at: usize) -> usize {
    haystack[at..]
        .chars()
        .next()
        .map_or(haystack.len() + 1, |c| at + c.len_utf8())
}

/// An amount of money in đồng, as `AMOUNT` matches it (lowercase, with or
/// without diacritics). A bare number under 1,000 is in thousands ("giá
/// gốc 350" means 350.000đ in a live); separators of three digits are
/// thousands, others a decimal point ("1,5 triệu").
pub fn parse_amount(written: &str) -> Option<Vnd> {
    let folded: String = written.chars().map(fold).collect();
    let s = folded.trim();
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let (number, rest) = s.split_at(digits_end);
    let rest = rest.trim_start();
    let groups: Vec<&str> = number.split(['.', ',']).collect();
    let thousands = groups.len() > 1 && groups[1..].iter().all(|g| g.len() == 3);
    let (whole, fraction) = if thousands {
        (groups.concat(), String::new())
    } else if groups.len() == 2 {
        (groups[0].to_owned(), groups[1].to_owned())
    } else {
        (groups.concat(), String::new())
    };
    let whole: u64 = whole.parse().ok()?;
    let unit_word = rest
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .len();
    let unit = &rest[..rest.len() - unit_word];
    let multiplier: u64 = match unit {
        "k" | "nghin" | "ngan" => 1_000,
        "tr" | "trieu" | "cu" => 1_000_000,
        _ if whole < 1_000 && fraction.is_empty() => 1_000,
        _ => 1,
    };
    // "1tr2" = 1.200.000; "1,5 triệu" = 1.500.000.
    let tail: String = rest[unit.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let decimals = if fraction.is_empty() { tail } else { fraction };
    let mut amount = whole.checked_mul(multiplier)?;
    if !decimals.is_empty() && multiplier > 1 {
        let places = u32::try_from(decimals.len()).ok()?;
        let scale = 10u64.checked_pow(places)?;
        let part: u64 = decimals.parse().ok()?;
        amount = amount.checked_add(part.checked_mul(multiplier)? / scale)?;
    }
    Some(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_sellers_write_them() {
        assert_eq!(parse_amount("500k"), Some(500_000));
        assert_eq!(parse_amount("500.000đ"), Some(500_000));
        assert_eq!(parse_amount("1.250.000 đồng"), Some(1_250_000));
        assert_eq!(parse_amount("1,5 triệu"), Some(1_500_000));
        assert_eq!(parse_amount("1tr2"), Some(1_200_000));
        assert_eq!(parse_amount("350 nghìn"), Some(350_000));
        assert_eq!(parse_amount("350"), Some(350_000));
        assert_eq!(parse_amount("2 trieu"), Some(2_000_000));
    }

    #[test]
    fn matches_stop_at_word_boundaries() {
        let s = "nhấtt nhất";
        assert!(!on_boundaries(s, 0.."nhất".len()));
        let at = s.rfind("nhất").unwrap();
        assert!(on_boundaries(s, at..s.len()));
        assert!(on_boundaries("giảm 90%!", 0.."giảm 90%".len()));
    }
}
