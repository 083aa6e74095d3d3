//! The scenario library: the built-in scripts (`config/scenarios/*.toml`,
//! compiled in) and the ones trainers saved (`<data.dir>/practice/scenarios/
//! <id>.json`, read at start and kept in memory). A saved scenario may not
//! take a built-in's id, so the built-in lessons stay comparable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::RwLock;
use serde::Serialize;

use super::{parse, Scenario};
use crate::practice::audience::data::DataError;
use crate::practice::audience::persona::PersonaBook;
use crate::practice::audience::LessonError;

/// The built-in scenarios: (file name, TOML).
pub const BUILTIN_SCENARIOS: &[(&str, &str)] = &[
    (
        "dot-bien-nguoi-xem.toml",
        include_str!("../../../config/scenarios/dot-bien-nguoi-xem.toml"),
    ),
    (
        "khach-gian-giao-cham.toml",
        include_str!("../../../config/scenarios/khach-gian-giao-cham.toml"),
    ),
    (
        "hoi-gia-don-dap.toml",
        include_str!("../../../config/scenarios/hoi-gia-don-dap.toml"),
    ),
    (
        "ben-shopee-re-hon.toml",
        include_str!("../../../config/scenarios/ben-shopee-re-hon.toml"),
    ),
    (
        "het-hang-giua-sale.toml",
        include_str!("../../../config/scenarios/het-hang-giua-sale.toml"),
    ),
    (
        "sai-gia-tren-man-hinh.toml",
        include_str!("../../../config/scenarios/sai-gia-tren-man-hinh.toml"),
    ),
    (
        "troll-chu-de-nhay-cam.toml",
        include_str!("../../../config/scenarios/troll-chu-de-nhay-cam.toml"),
    ),
    (
        "canh-bao-nen-tang.toml",
        include_str!("../../../config/scenarios/canh-bao-nen-tang.toml"),
    ),
];

/// A scenario as the library lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub scenario: Scenario,
    /// Shipped with the server (not a trainer's).
    pub builtin: bool,
}

pub struct ScenarioLibrary {
    /// By id, in file order for listing.
    builtin: Vec<Scenario>,
    /// Trainers' scenarios by id. A lock held only to read or insert.
    saved: RwLock<BTreeMap<String, Scenario>>,
    /// Where saved scenarios go; `None`: kept in memory only.
    dir: Option<PathBuf>,
}

impl ScenarioLibrary {
    /// The built-in scenarios and those saved under `dir` (a file that no
    /// longer reads, say after a persona was removed, is skipped with a
    /// warning).
    pub fn open(dir: PathBuf, personas: &PersonaBook) -> ScenarioLibrary {
        let mut library = ScenarioLibrary::builtin_only(personas);
        let mut saved = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                match read_saved(&path, personas) {
                    Some(Ok(scenario)) => {
                        saved.insert(scenario.id.clone(), scenario);
                    }
                    Some(Err(error)) => tracing::warn!(%error, "a saved scenario does not read"),
                    None => {}
                }
            }
        }
        library.saved = RwLock::new(saved);
        library.dir = Some(dir);
        library
    }

    /// The built-in scenarios alone, nothing saved to disk.
    pub fn builtin_only(personas: &PersonaBook) -> ScenarioLibrary {
        let builtin = BUILTIN_SCENARIOS
            .iter()
            .filter_map(|(file, text)| {
                let file = format!("config/scenarios/{file}");
                parse(&file, text, false, personas)
                    .map_err(|error| tracing::error!(%error, "a built-in scenario does not read"))
                    .ok()
            })
            .collect();
        ScenarioLibrary {
            builtin,
            saved: RwLock::new(BTreeMap::new()),
            dir: None,
        }
    }

    pub fn get(&self, id: &str) -> Option<Scenario> {
        self.builtin
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .or_else(|| self.saved.read().get(id).cloned())
    }

    /// The built-in scenarios, then the saved ones by id.
    pub fn list(&self) -> Vec<Listed> {
        let builtin = self.builtin.iter().map(|s| Listed {
            scenario: s.clone(),
            builtin: true,
        });
        let saved = self.saved.read();
        let saved = saved.values().map(|s| Listed {
            scenario: s.clone(),
            builtin: false,
        });
        builtin.chain(saved).collect()
    }

    /// Save a trainer's scenario (already checked), replacing hers with the
    /// same id.
    pub fn save(&self, scenario: Scenario) -> Result<Scenario, LessonError> {
        if self.builtin.iter().any(|s| s.id == scenario.id) {
            return Err(LessonError::BuiltinScenario(scenario.id));
        }
        if let Some(dir) = &self.dir {
            write_atomically(dir, &scenario).map_err(|e| LessonError::Storage(e.to_string()))?;
        }
        self.saved
            .write()
            .insert(scenario.id.clone(), scenario.clone());
        Ok(scenario)
    }
}

/// A saved file's scenario; `None` for a file that is not one.
fn read_saved(path: &Path, personas: &PersonaBook) -> Option<Result<Scenario, DataError>> {
    let json = match path.extension().and_then(|x| x.to_str()) {
        Some("json") => true,
        Some("toml") => false,
        _ => return None,
    };
    let name = path.display().to_string();
    Some(
        std::fs::read_to_string(path)
            .map_err(|e| DataError::new(&name, ".", e.to_string()))
            .and_then(|text| parse(&name, &text, json, personas)),
    )
}

/// Write `<dir>/<id>.json` through a temporary file, so a crash never
/// leaves half a scenario.
fn write_atomically(dir: &Path, scenario: &Scenario) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_vec_pretty(scenario).map_err(std::io::Error::other)?;
    let temporary = dir.join(format!(".{}.json.tmp", scenario.id));
    std::fs::write(&temporary, json)?;
    std::fs::rename(temporary, dir.join(format!("{}.json", scenario.id)))
}
