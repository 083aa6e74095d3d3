//! What counts as a question in chat (`docs/metrics.md`, "Questions"): the
//! one rule the metrics and the web client (`web-client/js/question.js`)
//! share.

/// Phrases that make a message a question even without a question mark,
/// as viewers type them (lower-case; matched case-insensitively).
pub const QUESTION_PHRASES: &[&str] = &[
    "bao nhiêu",
    "bn tiền",
    "giá sao",
    "ib",
    "còn không",
    "còn ko",
    "có không",
    "được không",
    "ship",
    "khi nào",
    "ở đâu",
    "sao",
];

/// Does `text` ask something? A question mark (`?` or `？`) anywhere, or
/// one of [`QUESTION_PHRASES`] as a whole word or words.
pub fn is_question(text: &str) -> bool {
    if text.contains('?') || text.contains('？') {
        return true;
    }
    let lower = text.to_lowercase();
    QUESTION_PHRASES
        .iter()
        .any(|phrase| contains_words(&lower, phrase))
}

/// `phrase` in `text` with no letter or digit right before or after it
/// ("ib" in "ib giá", not in "tribe").
fn contains_words(text: &str, phrase: &str) -> bool {
    let mut from = 0;
    while let Some(found) = text[from..].find(phrase) {
        let start = from + found;
        let end = start + phrase.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let bounded = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if bounded(before) && bounded(after) {
            return true;
        }
        from = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::is_question;

    #[test]
    fn a_question_mark_makes_a_question() {
        assert!(is_question("Trà này pha mấy lần được?"));
        assert!(is_question("còn hàng không？"));
    }

    #[test]
    fn viewers_questions_without_a_mark_count() {
        assert!(is_question("ib giá shop ơi"));
        assert!(is_question("Giá bao nhiêu vậy"));
        assert!(is_question("có ship Hà Giang được không"));
    }

    #[test]
    fn a_phrase_inside_a_word_does_not() {
        assert!(!is_question("tribe"));
        assert!(!is_question("Trà ngon quá"));
        assert!(!is_question("saoke"));
    }
}
