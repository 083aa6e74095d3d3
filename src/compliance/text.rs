//! Vietnamese text as the matcher reads it: one text in three aligned forms.
//!
//! Vietnamese can be typed precomposed ("ữ" as one character) or with
//! combining marks ("u" + horn + tilde, what some keyboards and macOS
//! produce), in any case, or without diacritics at all ("chua khoi").
//! [`Normalized`] holds the text in NFC as written (for excerpts), its
//! lowercase form (the rules' patterns are lowercase NFC) and its folded
//! form (lowercase with every diacritic removed and `đ` as `d`). The three
//! have the same number of characters, character for character, so a match
//! in any of them maps back to the words as written.

use unicode_normalization::UnicodeNormalization;

/// One text in its three aligned forms.
#[derive(Debug)]
pub struct Normalized {
    /// NFC, otherwise as written: excerpts are cut from it.
    pub text: String,
    /// Lowercase, one character per character of `text`.
    pub lower: String,
    /// `lower` without diacritics, one character per character of `text`.
    pub folded: String,
    /// Byte offset in `text` of each character, plus its length at the end.
    text_offsets: Vec<usize>,
    /// Byte offset in `lower` of each character, plus its length.
    lower_offsets: Vec<usize>,
    /// Byte offset in `folded` of each character, plus its length.
    folded_offsets: Vec<usize>,
    /// The character index where each line starts (the first is 0), so a
    /// hit's line and column cost a binary search, not a scan.
    line_starts: Vec<usize>,
}

/// Which aligned form a byte range is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Lower,
    Folded,
}

impl Normalized {
    pub fn new(input: &str) -> Normalized {
        let text: String = input.nfc().collect();
        let (mut lower, mut folded) = (String::new(), String::new());
        let (mut text_offsets, mut lower_offsets, mut folded_offsets) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut line_starts = vec![0];
        for (index, (at, c)) in text.char_indices().enumerate() {
            if c == '\n' {
                line_starts.push(index + 1);
            }
            text_offsets.push(at);
            lower_offsets.push(lower.len());
            folded_offsets.push(folded.len());
            let low = lowercase(c);
            lower.push(low);
            folded.push(fold(low));
        }
        text_offsets.push(text.len());
        lower_offsets.push(lower.len());
        folded_offsets.push(folded.len());
        Normalized {
            text,
            lower,
            folded,
            text_offsets,
            lower_offsets,
            folded_offsets,
            line_starts,
        }
    }

    /// The form's string.
    pub fn form(&self, form: Form) -> &str {
        match form {
            Form::Lower => &self.lower,
            Form::Folded => &self.folded,
        }
    }

    /// The character index of a byte offset in `form` (a char boundary).
    pub fn char_index(&self, form: Form, byte: usize) -> usize {
        let offsets = match form {
            Form::Lower => &self.lower_offsets,
            Form::Folded => &self.folded_offsets,
        };
        offsets.partition_point(|&o| o < byte)
    }

    /// The characters `start..end` (character indices) as written.
    pub fn excerpt(&self, start: usize, end: usize) -> &str {
        let end = end.min(self.text_offsets.len() - 1);
        let start = start.min(end);
        &self.text[self.text_offsets[start]..self.text_offsets[end]]
    }

    /// Line and column (both from 1, columns in characters) of character
    /// `index`.
    pub fn line_column(&self, index: usize) -> (u32, u32) {
        let line = self.line_starts.partition_point(|&start| start <= index);
        let start = self.line_starts[line.saturating_sub(1)];
        (line as u32, (index - start + 1) as u32)
    }
}

/// `c` in lowercase when that is one character (nearly always), else `c`.
fn lowercase(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// `c` without its diacritics when it is a Latin letter carrying some
/// (`ữ` → `u`, `đ` → `d`), else `c` itself.
pub fn fold(c: char) -> char {
    if c.is_ascii() {
        return c;
    }
    match c {
        'đ' => return 'd',
        'Đ' => return 'D',
        _ => {}
    }
    let mut parts = std::iter::once(c).nfd();
    match parts.next() {
        Some(base) if base.is_ascii_alphabetic() => base,
        _ => c,
    }
}

/// Is `c` part of a word (a letter, a digit or a combining mark)?
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_input_reads_as_precomposed() {
        // "chữa" typed as u + combining horn + combining tilde.
        let t = Normalized::new("Trà CHU\u{31B}\u{303}A khỏi");
        assert_eq!(t.text, "Trà CHỮA khỏi");
        assert_eq!(t.lower, "trà chữa khỏi");
        assert_eq!(t.folded, "tra chua khoi");
    }

    #[test]
    fn the_three_forms_stay_aligned_character_for_character() {
        let t = Normalized::new("Đặc TRỊ İ ✓ số 1");
        let n = t.text.chars().count();
        assert_eq!(t.lower.chars().count(), n);
        assert_eq!(t.folded.chars().count(), n);
        assert_eq!(t.folded, "dac tri I ✓ so 1");
        let start = t.folded.find("tri").unwrap();
        let i = t.char_index(Form::Folded, start);
        assert_eq!(t.excerpt(i, i + 3), "TRỊ");
    }

    #[test]
    fn lines_and_columns_count_characters_from_one() {
        let t = Normalized::new("Chào cả nhà\nTrà ngon nhất");
        let at = t.char_index(Form::Lower, t.lower.find("nhất").unwrap());
        assert_eq!(t.line_column(at), (2, 10));
        assert_eq!(t.line_column(0), (1, 1));
    }
}
