//! The mixed scenario's seller: one task owns her socket from connect to
//! the end of the run and reads it all along (pings answered, room events
//! dropped); requests reach the socket through the task and come back with
//! the answer that carries their `id`.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::{self, Line};

/// How long the snapshot and each answer may take.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

struct Request {
    frame: Value,
    reply: oneshot::Sender<anyhow::Result<Value>>,
}

pub struct Seller {
    requests: mpsc::Sender<Request>,
    task: JoinHandle<()>,
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
            while let Some(Request { mut frame, reply }) = line.read_while(inbox.recv()).await {
                next += 1;
                let id = format!("seller-{next}");
                frame["id"] = json!(id);
                let _ = reply.send(answer(&mut line, frame, &id).await);
            }
        });
        Ok(Seller { requests, task })
    }

    /// Send `frame`; its answer (`ack`, another reply, or an `error`).
    pub async fn request(&self, frame: Value) -> anyhow::Result<Value> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { frame, reply })
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

    pub async fn finish(self) {
        drop(self.requests);
        let _ = self.task.await;
    }
}

async fn answer(line: &mut Line, frame: Value, id: &str) -> anyhow::Result<Value> {
    if !line.send([frame.to_string()]).await {
        bail!("the seller's socket closed");
    }
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    loop {
        let kinds = ["ack", "error", "order_updated"];
        let answer = line.wait_for_any(&kinds, deadline).await?;
        if answer["id"] == id {
            return Ok(answer);
        }
    }
}
