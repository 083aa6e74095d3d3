//! Personas: the kinds of Vietnamese viewer a practice audience is made of
//! (bargain hunter, sceptic, practical questions, southern buyer, impatient
//! buyer, troll, loyal customer, silent lurker, and the angry customer that
//! scenarios bring in).
//!
//! They are data, not code: `config/personas/vi.toml` is compiled in as the
//! default book, and a trainer's directory (`practice.personas_dir`) adds
//! personas or replaces them by id. Everything a bot says comes from its
//! persona's phrase pools.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::data::{self, DataError};

/// The default personas, compiled in.
pub const BUILTIN_PERSONAS: &str = include_str!("../../../config/personas/vi.toml");

/// One kind of viewer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    /// Stable id (`san_gia`); scenarios and a trainer's files name it.
    pub id: String,
    /// What the trainer's page shows (Vietnamese).
    pub label: String,
    /// Share of an ordinary audience; 0: scenarios only.
    pub weight: u32,
    /// Display names; a bot takes one (with a number when taken).
    pub names: Vec<String>,
    /// Chat messages a minute (lesson time) at full interest.
    pub chat_per_min: f64,
    /// Heart taps a minute at full interest.
    pub hearts_per_min: f64,
    /// 0–1: how much a discount moves this viewer to buy.
    pub price_sensitivity: f64,
    /// 0–1: how likely this viewer buys at all.
    pub buying_propensity: f64,
    /// Lesson seconds a question waits before the viewer complains.
    pub patience_secs: u32,
    pub phrases: Phrases,
}

/// What a persona says, by situation. `{product}` is replaced by a
/// product's name.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Phrases {
    pub greeting: Vec<String>,
    /// Asked and then waited on: the trainee should answer (a reply).
    pub question: Vec<String>,
    /// After the trainee's reply (not quoting it).
    pub follow_up: Vec<String>,
    pub thanks: Vec<String>,
    /// When a question waited past `patience_secs`.
    pub complaint: Vec<String>,
    pub on_pin: Vec<String>,
    pub on_sale: Vec<String>,
}

/// What a persona file holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonaFile {
    persona: Vec<Persona>,
}

/// The personas an audience draws from, by id (sorted, so a seeded draw
/// does not depend on the order files were read in).
#[derive(Debug, Clone)]
pub struct PersonaBook {
    personas: Vec<Persona>,
}

impl PersonaBook {
    /// The compiled-in personas.
    pub fn builtin() -> PersonaBook {
        let mut book = PersonaBook {
            personas: Vec::new(),
        };
        // The embedded file is covered by a unit test; an error here is a
        // build mistake, and an audience without personas still runs (empty).
        match parse("config/personas/vi.toml", BUILTIN_PERSONAS) {
            Ok(personas) => book.merge(personas),
            Err(error) => tracing::error!(%error, "the built-in personas do not read"),
        }
        book
    }

    /// The built-in personas, with every `*.toml` of `dir` added (a persona
    /// with a known id replaces it). A missing directory adds nothing.
    pub fn with_dir(dir: &Path) -> Result<PersonaBook, DataError> {
        let mut book = PersonaBook::builtin();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(book);
        };
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(&file)
                .map_err(|e| DataError::new(&name, ".", e.to_string()))?;
            book.merge(parse(&name, &text)?);
        }
        Ok(book)
    }

    fn merge(&mut self, personas: Vec<Persona>) {
        let mut by_id: BTreeMap<String, Persona> = std::mem::take(&mut self.personas)
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        for persona in personas {
            by_id.insert(persona.id.clone(), persona);
        }
        self.personas = by_id.into_values().collect();
    }

    pub fn all(&self) -> &[Persona] {
        &self.personas
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.personas.iter().position(|p| p.id == id)
    }

    pub fn get(&self, index: usize) -> &Persona {
        &self.personas[index.min(self.personas.len().saturating_sub(1))]
    }

    /// The personas of an ordinary audience, by index, and their weights.
    pub fn mix(&self) -> Vec<(usize, u32)> {
        self.personas
            .iter()
            .enumerate()
            .filter(|(_, p)| p.weight > 0)
            .map(|(i, p)| (i, p.weight))
            .collect()
    }
}

/// Parse and check one persona file.
pub fn parse(file: &str, text: &str) -> Result<Vec<Persona>, DataError> {
    let parsed: PersonaFile = data::from_toml(file, text)?;
    for (index, persona) in parsed.persona.iter().enumerate() {
        check(persona).map_err(|(field, message)| {
            DataError::new(file, format!("persona[{index}].{field}"), message)
        })?;
    }
    Ok(parsed.persona)
}

/// The rules a persona meets beyond its types: the field at fault and why.
fn check(p: &Persona) -> Result<(), (&'static str, String)> {
    let valid_id = !p.id.is_empty()
        && p.id.len() <= 40
        && p.id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid_id {
        return Err(("id", "1–40 of a–z, 0–9, _ and -".into()));
    }
    if p.label.trim().is_empty() {
        return Err(("label", "must not be empty".into()));
    }
    if p.names.is_empty()
        || p.names
            .iter()
            .any(|n| !crate::auth::is_valid_name(n.trim()))
    {
        return Err(("names", "1 or more names of 1–40 characters".into()));
    }
    for (field, rate) in [
        ("chat_per_min", p.chat_per_min),
        ("hearts_per_min", p.hearts_per_min),
    ] {
        if !(0.0..=60.0).contains(&rate) {
            return Err((field, "between 0 and 60".into()));
        }
    }
    for (field, share) in [
        ("price_sensitivity", p.price_sensitivity),
        ("buying_propensity", p.buying_propensity),
    ] {
        if !(0.0..=1.0).contains(&share) {
            return Err((field, "between 0 and 1".into()));
        }
    }
    let f = &p.phrases;
    for (field, pool) in [
        ("phrases.greeting", &f.greeting),
        ("phrases.question", &f.question),
        ("phrases.follow_up", &f.follow_up),
        ("phrases.thanks", &f.thanks),
        ("phrases.complaint", &f.complaint),
        ("phrases.on_pin", &f.on_pin),
        ("phrases.on_sale", &f.on_sale),
    ] {
        if pool.is_empty() || pool.iter().any(|t| t.trim().is_empty() || t.len() > 300) {
            return Err((field, "1 or more phrases of 1–300 bytes".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_personas_read_and_cover_every_kind_of_viewer() {
        let personas = parse("vi.toml", BUILTIN_PERSONAS).unwrap();
        let ids: Vec<&str> = personas.iter().map(|p| p.id.as_str()).collect();
        for id in [
            "san_gia",
            "hoai_nghi",
            "hoi_thuc_te",
            "giong_nam",
            "chot_don",
            "troll",
            "khach_quen",
            "xem_im",
            "khach_gian",
        ] {
            assert!(ids.contains(&id), "{id} missing");
        }
        assert!(PersonaBook::builtin().mix().len() >= 8);
    }

    #[test]
    fn a_bad_persona_names_the_file_and_the_field() {
        let text = BUILTIN_PERSONAS.replacen("buying_propensity = 0.5", "buying_propensity = 5", 1);
        let error = parse("mine.toml", &text).unwrap_err();
        assert_eq!(error.file, "mine.toml");
        assert_eq!(error.field, "persona[0].buying_propensity");
    }

    #[test]
    fn a_mistyped_key_is_named() {
        let text = BUILTIN_PERSONAS.replacen("chat_per_min = 3.0", "chat_per_minute = 3.0", 1);
        let error = parse("mine.toml", &text).unwrap_err();
        assert!(error.field.starts_with("persona[0]"), "{error}");
        assert!(error.message.contains("chat_per_minute"), "{error}");
    }

    #[test]
    fn a_trainers_directory_adds_and_replaces_personas() {
        let dir = tempfile::tempdir().unwrap();
        let mine = BUILTIN_PERSONAS
            .split("\n[[persona]]\n")
            .nth(1)
            .unwrap()
            .replace("label = \"Săn giá rẻ\"", "label = \"Săn sale\"");
        std::fs::write(
            dir.path().join("lop-a.toml"),
            format!("[[persona]]\n{mine}"),
        )
        .unwrap();
        let book = PersonaBook::with_dir(dir.path()).unwrap();
        let index = book.index_of("san_gia").unwrap();
        assert_eq!(book.get(index).label, "Săn sale");
        assert_eq!(book.all().len(), PersonaBook::builtin().all().len());
    }
}
