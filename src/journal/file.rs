//! The embedded mode's journal: one JSON-lines file per session,
//! `<data.dir>/journal/<room id>/<opened at>.jsonl`, appended by a thread of
//! its own, so a restart keeps every session (the demo room, re-created at
//! each start, gets a new file beside the old ones).
//!
//! The writer thread owns the open files; readers open them by path. Each
//! batch is flushed before the next is taken, so a crash loses at most one
//! batch, and a reader that flushed the queue first sees every line.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::{days_ms, Job, JournalError, Line, SessionRef};
use crate::clock::unix_millis;
use crate::redis_link::is_room_id;

/// Files kept open at once; past it, all are closed (reopened on demand).
const OPEN_FILES: usize = 256;
/// How often the writer deletes sessions past their retention.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct FileJournal {
    dir: PathBuf,
    retention_days: u32,
}

impl FileJournal {
    pub fn new(dir: PathBuf, retention_days: u32) -> FileJournal {
        FileJournal {
            dir,
            retention_days,
        }
    }

    /// Start the writer thread; it ends when every [`super::Journal`] is gone.
    pub(super) fn spawn_writer(&self, mut queue: mpsc::UnboundedReceiver<Job>) {
        let mut writer = Writer {
            journal: self.clone(),
            open: HashMap::new(),
        };
        let spawned = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || {
                writer.prune();
                let mut pruned_at = std::time::Instant::now();
                while let Some(first) = queue.blocking_recv() {
                    let mut batch = vec![first];
                    while let Ok(job) = queue.try_recv() {
                        batch.push(job);
                    }
                    writer.write(batch);
                    if pruned_at.elapsed() >= PRUNE_EVERY {
                        writer.prune();
                        pruned_at = std::time::Instant::now();
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "the journal writer thread could not start");
        }
    }

    fn room_dir(&self, room_id: &str) -> Option<PathBuf> {
        // Room ids are checked by the registry; a journal read names one
        // from a URL, so it is checked again before it becomes a path.
        is_room_id(room_id).then(|| self.dir.join(room_id))
    }

    /// The sessions of `room_id`'s directory, oldest first.
    fn sessions_in(dir: &Path) -> Vec<(u64, PathBuf)> {
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut sessions: Vec<(u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let path = e.path();
                let opened = path
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".jsonl")?
                    .parse()
                    .ok()?;
                Some((opened, path))
            })
            .collect();
        sessions.sort();
        sessions
    }

    pub(super) async fn read_latest(&self, room_id: &str) -> Result<Vec<String>, JournalError> {
        let dir = self.room_dir(room_id).ok_or(JournalError::NotFound)?;
        blocking(move || {
            let (_, path) = FileJournal::sessions_in(&dir)
                .pop()
                .ok_or(JournalError::NotFound)?;
            read_file(&path)
        })
        .await
    }

    pub(super) async fn read_session(
        &self,
        session: &SessionRef,
    ) -> Result<Vec<String>, JournalError> {
        let dir = self
            .room_dir(&session.room_id)
            .ok_or(JournalError::NotFound)?;
        let path = dir.join(format!("{}.jsonl", session.opened_at));
        blocking(move || read_file(&path)).await
    }

    pub(super) async fn sessions_of(
        &self,
        seller_name: &str,
    ) -> Result<Vec<SessionRef>, JournalError> {
        let root = self.dir.clone();
        let seller_name = seller_name.to_owned();
        blocking(move || {
            let mut found = Vec::new();
            let Ok(rooms) = fs::read_dir(&root) else {
                return Ok(found);
            };
            for room in rooms.filter_map(|e| e.ok()) {
                let Some(room_id) = room.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                for (opened_at, path) in FileJournal::sessions_in(&room.path()) {
                    if first_seller(&path).as_deref() == Some(seller_name.as_str()) {
                        found.push(SessionRef {
                            room_id: room_id.clone(),
                            opened_at,
                        });
                    }
                }
            }
            found.sort_by_key(|s| std::cmp::Reverse(s.opened_at));
            Ok(found)
        })
        .await
    }
}

/// The seller named by a session file's first line (`session_opened`).
fn first_seller(path: &Path) -> Option<String> {
    let mut first = String::new();
    BufReader::new(File::open(path).ok()?)
        .read_line(&mut first)
        .ok()?;
    let entry: super::JournalEntry = serde_json::from_str(&first).ok()?;
    match entry.record {
        super::Record::SessionOpened { seller_name, .. } => Some(seller_name),
        _ => None,
    }
}

fn read_file(path: &Path) -> Result<Vec<String>, JournalError> {
    let file = File::open(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => JournalError::NotFound,
        _ => JournalError::Unavailable(error.to_string()),
    })?;
    Ok(BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|line| !line.trim().is_empty())
        .collect())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, JournalError> + Send + 'static,
) -> Result<T, JournalError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| JournalError::Unavailable(e.to_string()))?
}

/// The writer thread's state: the session file each room appends to.
struct Writer {
    journal: FileJournal,
    open: HashMap<String, BufWriter<File>>,
}

impl Writer {
    fn write(&mut self, batch: Vec<Job>) {
        let mut flushes = Vec::new();
        for job in batch {
            match job {
                Job::Append(line) => self.append(line),
                Job::Flush(done) => flushes.push(done),
            }
        }
        for (room_id, file) in &mut self.open {
            if let Err(error) = file.flush() {
                tracing::warn!(room = %room_id, %error, "journal lines could not be written");
            }
        }
        if self.open.len() > OPEN_FILES {
            self.open.clear();
        }
        for done in flushes {
            let _ = done.send(());
        }
    }

    fn append(&mut self, line: Line) {
        if line.opens.is_some() {
            // A new session: its own file from here on.
            self.open.remove(&line.room_id);
        }
        if !self.open.contains_key(&line.room_id) {
            let opened_at = line.opens.as_ref().map(|o| o.at);
            match self.open_file(&line.room_id, opened_at) {
                Ok(file) => {
                    self.open.insert(line.room_id.clone(), file);
                }
                Err(error) => {
                    tracing::warn!(room = %line.room_id, %error, "a journal file could not be opened");
                    return;
                }
            }
        }
        if let Some(file) = self.open.get_mut(&line.room_id) {
            let written = file
                .write_all(line.json.as_bytes())
                .and_then(|()| file.write_all(b"\n"));
            if let Err(error) = written {
                tracing::warn!(room = %line.room_id, %error, "a journal line could not be written");
            }
        }
    }

    /// The session file to append to: a new one for a session that opens
    /// now, else the room's latest (one is started if there is none).
    fn open_file(&self, room_id: &str, opened_at: Option<u64>) -> std::io::Result<BufWriter<File>> {
        let dir = self
            .journal
            .room_dir(room_id)
            .ok_or_else(|| std::io::Error::other("not a room id"))?;
        fs::create_dir_all(&dir)?;
        let path = match opened_at {
            Some(at) => dir.join(format!("{at}.jsonl")),
            None => match FileJournal::sessions_in(&dir).pop() {
                Some((_, path)) => path,
                None => dir.join(format!("{}.jsonl", unix_millis())),
            },
        };
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(BufWriter::new(file))
    }

    /// Delete the sessions whose last entry is older than the retention.
    fn prune(&mut self) {
        let keep = Duration::from_millis(days_ms(self.journal.retention_days));
        let Ok(rooms) = fs::read_dir(&self.journal.dir) else {
            return;
        };
        for room in rooms.filter_map(|e| e.ok()) {
            for (_, path) in FileJournal::sessions_in(&room.path()) {
                let modified = fs::metadata(&path).and_then(|m| m.modified());
                let old = modified
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .is_some_and(|age| age > keep);
                if old && fs::remove_file(&path).is_ok() {
                    tracing::info!(path = %path.display(), "journal past its retention deleted");
                }
            }
            let _ = fs::remove_dir(room.path()); // only if now empty
        }
        self.open.clear();
    }
}
