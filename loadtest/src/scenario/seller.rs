//! The seller of a scenario: one task owns her socket from connect to the
//! end of the run and reads it all along (pings answered, room events
//! dropped), so the server never closes it while thousands of clients
//! connect. Requests reach the socket through the task and come back with
//! the frame that settles them: by default the answer carrying their `id`.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::{self, Line};

/// How long the snapshot and each answer may take.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether a frame settles the request whose id is given.
pub type Settles = fn(&Value, &str) -> bool;

struct Request {
    frame: Value,
    settles: Settles,
    reply: oneshot::Sender<anyhow::Result<Value>>,
}

pub struct Seller {
    requests: mpsc::Sender<Request>,
    /// Ends when the requests close; why the socket ended, if it did.
    task: JoinHandle<Option<String>>,
}

impl Seller {
    /// Connect at `url` (her room URL with her token) and read past the
    /// snapshot.
    pub async fn connect(url: &str) -> anyhow::Result<Seller> {
        let mut line = Line::new(client::connect(url).await?);
        line.wait_for_any(&["snapshot"], Instant::now() + ANSWER_TIMEOUT)
            .await
            .context("the seller's join")?;
        let (requests, mut inbox) = mpsc::channel::<Request>(4);
        let task = tokio::spawn(async move {
            let mut next = 0u64;
            while let Some(request) = line.read_while(inbox.recv()).await {
                next += 1;
                let id = format!("seller-{next}");
                let Request {
                    mut frame,
                    settles,
                    reply,
                } = request;
                frame["id"] = json!(id);
                let _ = reply.send(answer(&mut line, frame, &id, settles).await);
            }
            line.ended().map(str::to_owned)
        });
        Ok(Seller { requests, task })
    }

    /// Send `frame`; its answer (`ack`, another reply, or an `error`).
    pub async fn request(&self, frame: Value) -> anyhow::Result<Value> {
        self.request_until(frame, |frame, id| frame["id"] == id)
            .await
    }

    /// Send `frame`; the first frame that `settles` it.
    pub async fn request_until(&self, frame: Value, settles: Settles) -> anyhow::Result<Value> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request {
                frame,
                settles,
                reply,
            })
            .await
            .ok()
            .context("the seller's task has ended")?;
        answer.await.context("the seller's task has ended")?
    }

    /// Send `frame` and fail unless it succeeds.
    pub async fn must(&self, frame: Value) -> anyhow::Result<Value> {
        let kind = frame["type"].clone();
        let answer = self.request(frame).await?;
        if answer["type"] == "error" {
            bail!("the seller's {kind} was refused: {answer}");
        }
        Ok(answer)
    }

    /// Close the seller's socket; why it had ended before, if it had.
    pub async fn finish(self) -> Option<String> {
        drop(self.requests);
        self.task.await.ok().flatten()
    }
}

async fn answer(
    line: &mut Line,
    frame: Value,
    id: &str,
    settles: Settles,
) -> anyhow::Result<Value> {
    if !line.send([frame.to_string()]).await {
        bail!("the seller's socket ended: {}", line.ended().unwrap_or("?"));
    }
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    loop {
        let Some(text) = line.next_text(deadline).await else {
            bail!(
                "no answer to the seller's request: {}",
                line.ended().unwrap_or("timed out")
            );
        };
        let frame: Value = serde_json::from_str(&text).context("server sent invalid JSON")?;
        if settles(&frame, id) {
            return Ok(frame);
        }
    }
}
