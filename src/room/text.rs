//! Rules for text people type: chat messages, display names, product names.
//!
//! A leaf module of pure functions (no room, no state), used by the room's
//! rules, the product checks and the token checks in `auth`.
//!
//! **Length is counted in Unicode scalar values** (Rust `chars().count()`,
//! Python `len(s)`, JavaScript `[...s].length`, Go
//! `utf8.RuneCountInString`): every client can count it the same way without
//! a library, unlike grapheme clusters (whose rules change with Unicode
//! versions) or UTF-16 units (what JavaScript's `s.length` gives, which counts
//! an emoji as two). Vietnamese typed on phones and in browsers arrives
//! precomposed (NFC), so each letter, tone mark included (`ệ`), is one
//! scalar value (a decomposed `ệ` is three, so such text meets a limit
//! sooner).
//!
//! **Blank text** is text made only of whitespace and characters that draw
//! nothing (zero-width spaces and joiners, the byte-order mark, soft hyphens,
//! Hangul fillers, the braille blank, variation selectors, direction marks,
//! control characters, …). It reads as empty, so it is refused as empty.

/// The length of `text` as the protocol counts it: Unicode scalar values.
pub fn length(text: &str) -> usize {
    text.chars().count()
}

/// True when `text` has nothing a reader could see: it is empty, or every
/// character is whitespace or [invisible](is_invisible).
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

/// Characters that take no visible space of their own: controls, format
/// characters (Unicode's default-ignorable code points) and the letters and
/// symbols that fonts draw as blank (Hangul fillers, braille blank).
///
/// Whitespace is not listed: [`is_blank`] checks it with
/// [`char::is_whitespace`] (the Unicode `White_Space` property).
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                  // soft hyphen
            | '\u{034F}'                // combining grapheme joiner
            | '\u{061C}'                // Arabic letter mark
            | '\u{115F}' | '\u{1160}'   // Hangul choseong / jungseong fillers
            | '\u{17B4}' | '\u{17B5}'   // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}'   // Mongolian variation selectors, vowel separator
            | '\u{200B}'..='\u{200F}'   // zero-width space, (non-)joiner, LRM, RLM
            | '\u{202A}'..='\u{202E}'   // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, isolates
            | '\u{2800}'                // braille pattern blank
            | '\u{3164}'                // Hangul filler
            | '\u{FE00}'..='\u{FE0F}'   // variation selectors
            | '\u{FEFF}'                // zero-width no-break space (byte-order mark)
            | '\u{FFA0}'                // halfwidth Hangul filler
            | '\u{FFF0}'..='\u{FFF8}'   // reserved default-ignorable
            | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
            | '\u{1D173}'..='\u{1D17A}' // musical symbol format controls
            | '\u{E0000}'..='\u{E0FFF}' // tags, variation selectors supplement
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_scalar_values_not_bytes_or_utf16_units() {
        assert_eq!(length("Chào shop"), 9);
        assert_eq!("Chào shop".len(), 10);
        // Precomposed Vietnamese: one scalar per letter.
        assert_eq!(length("Nguyễn Thị Lan"), 14);
        // An emoji outside the BMP is one scalar (two UTF-16 units).
        assert_eq!(length("🍵"), 1);
        // A decomposed letter counts each of its scalars.
        assert_eq!(length("e\u{0302}\u{0323}"), 3);
    }

    #[test]
    fn whitespace_and_invisible_characters_are_blank() {
        for text in [
            "",
            "   ",
            "\t\n\r",
            "\u{00A0}\u{3000}\u{2028}",
            "\u{200B}",
            "\u{200C}\u{200D}",
            "\u{2060}",
            "\u{FEFF}",
            "\u{00AD}",
            "\u{115F}\u{1160}",
            "\u{3164}",
            "\u{FFA0}",
            "\u{2800}",
            "\u{034F}",
            "\u{FE0F}",
            "\u{E0041}",
            "\u{0000}\u{001B}",
            " \u{200B} \u{3164} ",
        ] {
            assert!(is_blank(text), "{text:?} should be blank");
        }
    }

    #[test]
    fn text_with_anything_visible_is_not_blank() {
        for text in [
            "a",
            " ệ ",
            "\u{200B}hi",
            "🍵",
            ".",
            "\u{200D}❤\u{FE0F}",
            "ㅋ",
        ] {
            assert!(!is_blank(text), "{text:?} should not be blank");
        }
    }
}
