//! Reading trainers' data files (personas, scenarios): TOML or JSON into
//! typed values, with an error that names the file and the field at fault,
//! so a trainer who mistypes one line is told which.

use serde::de::DeserializeOwned;

/// A data file that did not read: which file, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {field}: {message}")]
pub struct DataError {
    /// The file as the trainer knows it (a path, or `request body`).
    pub file: String,
    /// The field's path (`persona[2].chat_per_min`, `steps[0].texts`), or
    /// `.` for the document as a whole.
    pub field: String,
    pub message: String,
}

impl DataError {
    pub fn new(file: &str, field: impl Into<String>, message: impl Into<String>) -> DataError {
        DataError {
            file: file.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parse TOML `text` from `file`.
pub fn from_toml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, DataError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = path_of(error.path());
        // toml's message carries the line and a snippet: keep its first
        // and last lines (where, and what).
        let inner = error.into_inner();
        let message = inner.message().to_owned();
        let message = match inner.span() {
            Some(span) => format!("{message} (line {})", line_of(text, span.start)),
            None => message,
        };
        DataError::new(file, field, message)
    })
}

/// Parse JSON `text` from `file`.
pub fn from_json<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, DataError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = path_of(error.path());
        DataError::new(file, field, error.into_inner().to_string())
    })
}

fn path_of(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path.is_empty() {
        ".".to_owned()
    } else {
        path
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        rate: f64,
    }

    #[test]
    fn a_toml_error_names_the_file_the_field_and_the_line() {
        let text = "[[items]]\nrate = 1.0\n[[items]]\nrate = \"nhanh\"\n";
        let error = from_toml::<Doc>("vi.toml", text).unwrap_err();
        assert_eq!(error.file, "vi.toml");
        assert_eq!(error.field, "items[1].rate");
        assert!(error.message.contains("line 4"), "{error}");
    }

    #[test]
    fn a_json_error_names_the_field() {
        let error = from_json::<Doc>("body", r#"{"items":[{"rate":1},{"rat":2}]}"#).unwrap_err();
        assert_eq!(error.field, "items[1].rat");
        assert!(error.message.contains("rat"), "{error}");
    }
}
