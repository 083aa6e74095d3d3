//! The journal in Redis: one stream per room, `{room:R}:journal` (field `j`,
//! the entry's JSON), in the room's hash slot. The room's functions append
//! its events there themselves (`room.lua`, `publish`); this node's writer
//! task appends what the node saw, one pipeline per room per batch, and
//! sets the stream to expire `journal.retention_days` after its last batch.
//! A session's opening also lists the room under its seller,
//! `chophien:journal:seller:<name>` (a sorted set by opening time; untagged,
//! since it spans rooms), which reports read to compare sessions.
//!
//! While Redis is unreachable the writer keeps its batch and tries again;
//! past [`MAX_PENDING`] lines the oldest are dropped (and counted in the log)
//! rather than let memory grow without bound.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{days_ms, Job, JournalError, Line, SessionRef};
use crate::redis_link::{room_tag, RedisLink};

/// Lines kept while Redis cannot take them.
const MAX_PENDING: usize = 200_000;
/// Entries read per `XRANGE`.
const PAGE: usize = 5_000;
/// The wait before writing again after a failure.
const RETRY: Duration = Duration::from_millis(500);

/// The stream of a room's journal.
pub fn journal_key(room_id: &str) -> String {
    format!("{}:journal", room_tag(room_id))
}

fn seller_key(seller_name: &str) -> String {
    format!("chophien:journal:seller:{seller_name}")
}

#[derive(Clone)]
pub struct RedisJournal {
    link: RedisLink,
    retention_ms: u64,
}

impl RedisJournal {
    pub fn new(link: RedisLink, retention_days: u32) -> RedisJournal {
        RedisJournal {
            link,
            retention_ms: days_ms(retention_days),
        }
    }

    pub(super) fn spawn_writer(&self, mut queue: mpsc::UnboundedReceiver<Job>) {
        let journal = self.clone();
        tokio::spawn(async move {
            let mut pending: VecDeque<Line> = VecDeque::new();
            let mut flushes = Vec::new();
            loop {
                if pending.is_empty() && flushes.is_empty() {
                    match queue.recv().await {
                        Some(job) => take(job, &mut pending, &mut flushes),
                        None => return,
                    }
                }
                while let Ok(job) = queue.try_recv() {
                    take(job, &mut pending, &mut flushes);
                }
                let dropped = pending.len().saturating_sub(MAX_PENDING);
                if dropped > 0 {
                    pending.drain(..dropped);
                    tracing::warn!(
                        dropped,
                        "journal lines dropped: Redis took none for too long"
                    );
                }
                let batch: Vec<Line> = pending.drain(..).collect();
                if let Err((error, unwritten)) = journal.write(batch).await {
                    tracing::warn!(%error, "journal lines not written yet; retrying");
                    pending.extend(unwritten);
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
                for done in flushes.drain(..) {
                    let _ = done.send(());
                }
            }
        });
    }

    /// Append `batch`: one pipeline per room (a room's keys share a slot),
    /// all at once. On failure, the lines of the rooms not written.
    async fn write(&self, batch: Vec<Line>) -> Result<(), (JournalError, Vec<Line>)> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut by_room: BTreeMap<String, Vec<Line>> = BTreeMap::new();
        for line in batch {
            by_room.entry(line.room_id.clone()).or_default().push(line);
        }
        let writes = by_room.iter().map(|(room_id, lines)| {
            let key = journal_key(room_id);
            let mut pipe = redis::pipe();
            for line in lines {
                pipe.cmd("XADD")
                    .arg(&key)
                    .arg("*")
                    .arg("j")
                    .arg(&line.json)
                    .ignore();
            }
            pipe.cmd("PEXPIRE")
                .arg(&key)
                .arg(self.retention_ms)
                .ignore();
            async move { self.link.run_pipe::<()>(&pipe).await }
        });
        let written = futures_util::future::join_all(writes).await;
        let mut unwritten = Vec::new();
        let mut first_error = None;
        let mut openings = Vec::new();
        for ((_, lines), result) in by_room.into_iter().zip(written) {
            match result {
                Ok(()) => openings.extend(lines.into_iter().filter(|l| l.opens.is_some())),
                Err(error) => {
                    first_error.get_or_insert(JournalError::from(error));
                    unwritten.extend(lines);
                }
            }
        }
        for line in openings {
            if let Some(opened) = &line.opens {
                let key = seller_key(&opened.seller_name);
                let mut pipe = redis::pipe();
                pipe.cmd("ZADD")
                    .arg(&key)
                    .arg(opened.at)
                    .arg(&line.room_id)
                    .ignore();
                pipe.cmd("PEXPIRE")
                    .arg(&key)
                    .arg(self.retention_ms)
                    .ignore();
                if let Err(error) = self.link.run_pipe::<()>(&pipe).await {
                    tracing::warn!(%error, "a session could not be listed under its seller");
                }
            }
        }
        match first_error {
            None => Ok(()),
            Some(error) => Err((error, unwritten)),
        }
    }

    pub(super) async fn read(&self, room_id: &str) -> Result<Vec<String>, JournalError> {
        let key = journal_key(room_id);
        let mut lines = Vec::new();
        let mut from = "-".to_owned();
        loop {
            let page: Vec<(String, Vec<(String, String)>)> = self
                .link
                .run(
                    redis::cmd("XRANGE")
                        .arg(&key)
                        .arg(&from)
                        .arg("+")
                        .arg("COUNT")
                        .arg(PAGE),
                )
                .await?;
            let full = page.len() == PAGE;
            let last = page.last().map(|(id, _)| id.clone());
            lines.extend(
                page.into_iter()
                    .filter_map(|(_, fields)| fields.into_iter().find(|(f, _)| f == "j"))
                    .map(|(_, json)| json),
            );
            match last {
                Some(id) if full => from = format!("({id}"),
                _ => break,
            }
        }
        if lines.is_empty() {
            return Err(JournalError::NotFound);
        }
        Ok(lines)
    }

    pub(super) async fn sessions_of(
        &self,
        seller_name: &str,
    ) -> Result<Vec<SessionRef>, JournalError> {
        let listed: Vec<(String, f64)> = self
            .link
            .run(
                redis::cmd("ZREVRANGE")
                    .arg(seller_key(seller_name))
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES"),
            )
            .await?;
        Ok(listed
            .into_iter()
            .map(|(room_id, opened_at)| SessionRef {
                room_id,
                opened_at: opened_at as u64,
            })
            .collect())
    }
}

fn take(
    job: Job,
    pending: &mut VecDeque<Line>,
    flushes: &mut Vec<tokio::sync::oneshot::Sender<()>>,
) {
    match job {
        Job::Append(line) => pending.push_back(line),
        Job::Flush(done) => flushes.push(done),
    }
}
