//! The seller: one task owns its socket from connect to the end of the run
//! and reads it all along (pings answered, room events dropped), so the
//! server never closes it while thousands of buyers connect. Commands —
//! go live and start the sale — reach the socket through the task.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::{self, Line};

use super::args::FlashSaleArgs;

/// How long the snapshot, the go-live and the sale's start may take.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the seller is asked to do.
enum Command {
    /// Go live and start a sale; answers its id.
    StartSale {
        frame: Value,
        reply: oneshot::Sender<anyhow::Result<String>>,
    },
}

/// The seller's task and how to reach it.
pub struct Seller {
    commands: mpsc::Sender<Command>,
    /// Ends when the commands close; why the socket ended, if it did.
    task: JoinHandle<Option<String>>,
}

impl Seller {
    /// Connect at `url` (the seller's room URL with its token), read past
    /// the snapshot, and keep reading from then on.
    pub async fn connect(url: &str) -> anyhow::Result<Seller> {
        let mut line = Line::new(client::connect(url).await?);
        line.wait_for_any(&["snapshot"], Instant::now() + ANSWER_TIMEOUT)
            .await
            .context("the seller's join")?;
        let (commands, mut inbox) = mpsc::channel(4);
        let task = tokio::spawn(async move {
            while let Some(command) = line.read_while(inbox.recv()).await {
                match command {
                    Command::StartSale { frame, reply } => {
                        let _ = reply.send(start_sale(&mut line, frame).await);
                    }
                }
            }
            line.ended().map(str::to_owned)
        });
        Ok(Seller { commands, task })
    }

    /// Go live and start a live sale of product `p1` as `args` say; its id.
    pub async fn start_sale(&self, args: &FlashSaleArgs) -> anyhow::Result<String> {
        let frame = json!({
            "id": "start", "type": "start_sale", "product_id": "p1", "stock": args.stock,
            "price_vnd": 199000, "per_buyer_limit": args.per_buyer_limit, "starts_in_secs": 0,
            "duration_secs": 3600, "hold_secs": args.hold_secs,
        });
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::StartSale { frame, reply })
            .await
            .ok()
            .context("the seller's task has ended")?;
        answer.await.context("the seller's task has ended")?
    }

    /// Close the seller's socket; why it had ended before, if it had.
    pub async fn finish(self) -> Option<String> {
        drop(self.commands);
        self.task.await.ok().flatten()
    }
}

/// Go live (an error only means the room is live already), then send the
/// `start_sale` frame and wait for the sale to be live; its id.
async fn start_sale(line: &mut Line, frame: Value) -> anyhow::Result<String> {
    let go_live = json!({ "id": "live", "type": "go_live" }).to_string();
    if !line.send([go_live]).await {
        bail!("the seller's socket ended: {}", line.ended().unwrap_or("?"));
    }
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    line.wait_for_any(&["ack", "error"], deadline).await?;
    if !line.send([frame.to_string()]).await {
        bail!("the seller's socket ended: {}", line.ended().unwrap_or("?"));
    }
    loop {
        let event = line
            .wait_for_any(&["sale_updated", "error"], deadline)
            .await
            .context("starting the sale (does this server support flash sales yet?)")?;
        if event.get("type").and_then(Value::as_str) == Some("error") {
            bail!("start_sale was refused: {event}");
        }
        let sale = &event["sale"];
        if sale.get("state").and_then(Value::as_str) == Some("live") {
            return sale
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .context("sale_updated without an id");
        }
    }
}
