//! The senders of a chat fan-out: each sends its share of the open-loop
//! schedule on its own socket and notes the server's answer to every message
//! (ours answers each with an `ack` or an `error` naming it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::Socket;
use crate::schedule::Schedule;

use super::{Shared, Transport};

/// The server's answers to one sender's messages (each is answered with
/// an ack or an error naming its number).
#[derive(Debug, Default)]
pub(super) struct Answers {
    /// Message numbers answered, either way.
    pub(super) answered: BTreeSet<u64>,
    /// Refused for good: expected by nobody.
    pub(super) refused: u64,
    /// Answered `unavailable` or `internal`: the store's outcome is unknown.
    pub(super) unknown: Vec<u64>,
    /// Error answers by code.
    pub(super) by_code: BTreeMap<String, u64>,
}

impl Answers {
    pub(super) fn record(&mut self, n: Option<u64>, error: Option<String>) {
        if let Some(n) = n {
            self.answered.insert(n);
        }
        let Some(code) = error else { return };
        match (n, code.as_str()) {
            (Some(n), "unavailable" | "internal") => self.unknown.push(n),
            _ => self.refused += 1,
        }
        *self.by_code.entry(code).or_default() += 1;
    }

    /// Messages `0..sent` never answered count as of unknown outcome.
    pub(super) fn close(&mut self, sent: u64) {
        let unanswered: Vec<u64> = (0..sent).filter(|n| !self.answered.contains(n)).collect();
        if !unanswered.is_empty() {
            *self.by_code.entry("no_answer".to_owned()).or_default() += unanswered.len() as u64;
            self.unknown.extend(unanswered);
        }
    }
}

/// The text of message `n` of `sender`, meant to go out at `intended_us`.
pub(super) fn marker(sender: usize, n: u64, intended_us: u64) -> String {
    format!("lt|{sender}|{n}|{intended_us}|")
}

/// One sender: messages `j, j+k, j+2k, …` of the schedule until `end`.
/// Returns how many it sent, and the tasks that keep its socket open (and
/// its pings answered) until the viewers have drained.
#[allow(clippy::too_many_arguments)]
pub(super) async fn send_chat(
    j: usize,
    k: u64,
    socket: Socket,
    transport: &Arc<Transport>,
    shared: &Shared,
    schedule: Schedule,
    end: Instant,
    answers: &Arc<Mutex<Answers>>,
    bar: &indicatif::ProgressBar,
) -> (u64, [tokio::task::JoinHandle<()>; 2]) {
    let (mut sink, mut stream) = socket.split();
    let (answers_tx, mut answers_rx) = mpsc::channel::<Message>(16);
    let reader = {
        let (transport, answers) = (transport.clone(), answers.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    if let Some((n, error)) = transport.answer_to(&text) {
                        let mut answers = answers.lock().unwrap_or_else(|e| e.into_inner());
                        answers.record(n, error);
                    } else if let Some(answer) = transport.answer(&text) {
                        let _ = answers_tx.send(answer).await;
                    }
                }
            }
        })
    };
    let mut sent = 0;
    for n in 0.. {
        let at = schedule.at(n * k + j as u64);
        if at >= end {
            break;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => break,
                Some(answer) = answers_rx.recv() => { let _ = sink.send(answer).await; }
            }
        }
        let intended_us = (at - shared.epoch).as_micros() as u64;
        if sink
            .send(transport.chat_frame(n, &marker(j, n, intended_us)))
            .await
            .is_err()
        {
            break;
        }
        sent += 1;
        bar.inc(1);
    }
    // Keep answering pings while the viewers drain.
    let keeper = tokio::spawn(async move {
        while let Some(answer) = answers_rx.recv().await {
            if sink.send(answer).await.is_err() {
                break;
            }
        }
    });
    (sent, [reader, keeper])
}
