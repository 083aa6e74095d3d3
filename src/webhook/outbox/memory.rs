//! The outbox in this process: one mutex around maps, for a single node
//! (the embedded default). Lost on restart, like the memory stores.
//!
//! An entry is kept while it is pending or among its room's latest
//! `log_size` deliveries.

use std::collections::{BTreeSet, HashMap, VecDeque};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::clock::UnixMillis;
use crate::sale::JournalEntry;
use crate::webhook::event::{Delivery, DeliveryState, DueRef};
use crate::webhook::{WebhookConfig, WebhookError};

use super::Outbox;

pub struct MemoryOutbox {
    /// Deliveries listed per room.
    log_size: usize,
    /// A `parking_lot` mutex, not a tokio one: no await happens while it is
    /// held, and every operation is a few map updates.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    configs: HashMap<String, WebhookConfig>,
    entries: HashMap<DueRef, Delivery>,
    /// Per room, event ids newest first, at most `log_size`.
    logs: HashMap<String, VecDeque<String>>,
    /// The due index, soonest first: (due or lease end, entry).
    due: BTreeSet<(UnixMillis, DueRef)>,
    /// Each indexed entry's time in `due`, to move or remove it.
    due_at: HashMap<DueRef, UnixMillis>,
}

impl State {
    fn index(&mut self, due: &DueRef, at: UnixMillis) {
        self.unindex(due);
        self.due.insert((at, due.clone()));
        self.due_at.insert(due.clone(), at);
    }

    fn unindex(&mut self, due: &DueRef) {
        if let Some(at) = self.due_at.remove(due) {
            self.due.remove(&(at, due.clone()));
        }
    }

    fn in_log(&self, due: &DueRef) -> bool {
        self.logs
            .get(&due.room_id)
            .is_some_and(|log| log.contains(&due.event_id))
    }

    /// Drops a settled entry that is no longer listed.
    fn drop_if_unlisted(&mut self, due: &DueRef) {
        let settled = self
            .entries
            .get(due)
            .is_some_and(|entry| entry.state != DeliveryState::Pending);
        if settled && !self.in_log(due) {
            self.entries.remove(due);
        }
    }
}

impl MemoryOutbox {
    pub fn new(log_size: usize) -> MemoryOutbox {
        MemoryOutbox {
            log_size: log_size.max(1),
            state: Mutex::new(State::default()),
        }
    }
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn set_config(
        &self,
        room_id: &str,
        config: Option<&WebhookConfig>,
    ) -> Result<(), WebhookError> {
        let mut state = self.state.lock();
        match config {
            Some(config) => state.configs.insert(room_id.to_owned(), config.clone()),
            None => state.configs.remove(room_id),
        };
        Ok(())
    }

    async fn config(&self, room_id: &str) -> Result<Option<WebhookConfig>, WebhookError> {
        Ok(self.state.lock().configs.get(room_id).cloned())
    }

    /// One process: nothing is written until [`staged`](Outbox::staged).
    async fn stage(&self, delivery: &Delivery) -> Result<JournalEntry, WebhookError> {
        let due = delivery.due_ref();
        Ok(JournalEntry {
            id: due.event_id,
            key: String::new(),
            fields: delivery.fields(),
            list_key: String::new(),
            list_cap: self.log_size,
        })
    }

    async fn staged(&self, room_id: &str, entry: &JournalEntry) -> Result<(), WebhookError> {
        self.enqueue(&Delivery::from_journal(room_id, entry)?).await
    }

    async fn enqueue(&self, delivery: &Delivery) -> Result<(), WebhookError> {
        let due = delivery.due_ref();
        let mut state = self.state.lock();
        if state.entries.contains_key(&due) {
            return Ok(());
        }
        state.entries.insert(due.clone(), delivery.clone());
        let log = state.logs.entry(due.room_id.clone()).or_default();
        log.push_front(due.event_id.clone());
        let dropped: Vec<String> = log.drain(self.log_size.min(log.len())..).collect();
        for event_id in dropped {
            state.drop_if_unlisted(&DueRef {
                room_id: due.room_id.clone(),
                event_id,
            });
        }
        state.index(
            &due,
            delivery.next_attempt_at.unwrap_or(delivery.created_at),
        );
        Ok(())
    }

    async fn claim(
        &self,
        now: UnixMillis,
        lease_until: UnixMillis,
        limit: usize,
    ) -> Result<Vec<DueRef>, WebhookError> {
        let mut state = self.state.lock();
        let claimed: Vec<DueRef> = state
            .due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|(_, due)| due.clone())
            .collect();
        for due in &claimed {
            state.index(due, lease_until);
        }
        Ok(claimed)
    }

    async fn get(&self, due: &DueRef) -> Result<Option<Delivery>, WebhookError> {
        Ok(self.state.lock().entries.get(due).cloned())
    }

    async fn record(
        &self,
        delivery: &Delivery,
        attempts_before: u32,
    ) -> Result<bool, WebhookError> {
        let due = delivery.due_ref();
        let mut state = self.state.lock();
        match state.entries.get_mut(&due) {
            None => {
                state.unindex(&due);
                return Ok(false);
            }
            Some(entry) if entry.attempts != attempts_before => return Ok(false),
            Some(entry) => *entry = delivery.clone(),
        }
        match (delivery.state, delivery.next_attempt_at) {
            (DeliveryState::Pending, Some(at)) => state.index(&due, at),
            _ => {
                state.unindex(&due);
                state.drop_if_unlisted(&due);
            }
        }
        Ok(true)
    }

    async fn forget(&self, due: &DueRef) -> Result<(), WebhookError> {
        self.state.lock().unindex(due);
        Ok(())
    }

    async fn log(&self, room_id: &str) -> Result<Vec<Delivery>, WebhookError> {
        let state = self.state.lock();
        let Some(log) = state.logs.get(room_id) else {
            return Ok(Vec::new());
        };
        Ok(log
            .iter()
            .filter_map(|event_id| {
                state.entries.get(&DueRef {
                    room_id: room_id.to_owned(),
                    event_id: event_id.clone(),
                })
            })
            .cloned()
            .collect())
    }

    async fn retry(&self, due: &DueRef, now: UnixMillis) -> Result<Option<Delivery>, WebhookError> {
        let mut state = self.state.lock();
        let Some(entry) = state.entries.get_mut(due) else {
            return Ok(None);
        };
        entry.state = DeliveryState::Pending;
        entry.next_attempt_at = Some(now);
        let entry = entry.clone();
        state.index(due, now);
        Ok(Some(entry))
    }
}
