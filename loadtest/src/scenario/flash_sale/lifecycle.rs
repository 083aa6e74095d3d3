//! A buyer's life: one task owns its socket from connect until the run
//! ends, and reads it all along (so the server's pings are answered while
//! the buyer waits for the other buyers, the sale, the settle phase and
//! the audit).
//!
//! The coordinator (`flash_sale::run`) announces the [`Phase`]s through a
//! `watch` channel; each buyer reports through the [`Inbox`] channels once
//! per step — joined (or why not), bought, settled — and returns, when its
//! task ends, why its socket ended early if it did. Every buyer reports
//! every step, also one that failed to connect, so the coordinator counts
//! to the number of buyers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;

use crate::client::{self, Line};
use crate::scenario::audit::BuyerSeen;
use crate::scenario::buyer::{self, Plan};
use crate::schedule::Schedule;
use crate::tokens::Minter;

use super::purchase;
use super::tally::{Counted, Tally};

/// Sockets being opened at once while buyers connect.
const CONNECT_CONCURRENCY: usize = 256;
/// How long one connect + snapshot may take before the buyer counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the coordinator tells every buyer, in this order.
#[derive(Clone)]
pub enum Phase {
    /// Connect, then wait.
    Connect,
    /// The sale is live: buy at the schedule's time.
    Buy(Arc<Sale>),
    /// Every buyer has bought: confirm, cancel or let the hold expire.
    Settle,
    /// The run is over: close.
    End,
}

/// The live sale, as the buyers need it.
pub struct Sale {
    pub sale_id: String,
    /// Buyer `i` sends its first buy at `schedule.at(i)`.
    pub schedule: Schedule,
    /// Units per buy request.
    pub quantity: u32,
    /// How long after its intended time a buy answered `busy` is retried.
    pub patience: Duration,
    pub tally: Arc<Tally>,
}

/// Who buyer `i` is and where it connects.
pub struct Buyer {
    pub i: usize,
    pub node: usize,
    /// The node's `ws://` base.
    pub ws_base: String,
    pub room: Arc<str>,
    /// The local address to connect from (`None`: the kernel's choice).
    pub source: Option<IpAddr>,
    pub plan: Plan,
}

/// A buyer's connect: when it finished, and the error if it failed.
pub struct Joined {
    pub at: Instant,
    pub error: Option<String>,
}

/// A buyer's buy phase, with everything it was told.
#[derive(Debug, Serialize, Deserialize)]
pub struct Bought {
    pub i: usize,
    pub seen: BuyerSeen,
}

/// A buyer's settle step: its history with what it settled, and the
/// class of the settle answer (`None`: nothing to settle).
#[derive(Debug, Serialize, Deserialize)]
pub struct Settled {
    pub i: usize,
    pub seen: BuyerSeen,
    pub class: Option<String>,
}

/// The buyers' side of the report channels.
#[derive(Clone)]
pub struct Outbox {
    joined: mpsc::UnboundedSender<Joined>,
    bought: mpsc::UnboundedSender<Bought>,
    settled: mpsc::UnboundedSender<Settled>,
}

/// The coordinator's side.
pub struct Inbox {
    pub joined: mpsc::UnboundedReceiver<Joined>,
    pub bought: mpsc::UnboundedReceiver<Bought>,
    pub settled: mpsc::UnboundedReceiver<Settled>,
}

/// The report channels (unbounded: one message per buyer and step).
pub fn channels() -> (Outbox, Inbox) {
    let (joined, joined_rx) = mpsc::unbounded_channel();
    let (bought, bought_rx) = mpsc::unbounded_channel();
    let (settled, settled_rx) = mpsc::unbounded_channel();
    (
        Outbox {
            joined,
            bought,
            settled,
        },
        Inbox {
            joined: joined_rx,
            bought: bought_rx,
            settled: settled_rx,
        },
    )
}

/// What every buyer task shares.
#[derive(Clone)]
pub struct Common {
    pub minter: Arc<Minter>,
    pub permits: Arc<Semaphore>,
    pub phase: watch::Receiver<Phase>,
    pub outbox: Outbox,
}

impl Common {
    pub fn new(minter: Arc<Minter>, phase: watch::Receiver<Phase>, outbox: Outbox) -> Common {
        Common {
            minter,
            permits: Arc::new(Semaphore::new(CONNECT_CONCURRENCY)),
            phase,
            outbox,
        }
    }
}

/// Buyer `buyer`'s whole life. Returns why its socket ended before the
/// run did (`"<stage>: <why>"`), if it did.
pub async fn live(buyer: Buyer, common: Common) -> Option<String> {
    let Common {
        minter,
        permits,
        mut phase,
        outbox,
    } = common;
    let i = buyer.i;
    let mut seen = BuyerSeen {
        buyer_id: buyer::buyer_id(i),
        node: buyer.node,
        ..BuyerSeen::default()
    };
    let joined = {
        let _permit = permits.acquire().await;
        tokio::time::timeout(CONNECT_TIMEOUT, join(&buyer, &minter))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("no snapshot within {CONNECT_TIMEOUT:?}")))
    };
    let _ = outbox.joined.send(Joined {
        at: Instant::now(),
        error: joined.as_ref().err().map(|e| format!("{e:#}")),
    });
    let Ok(mut line) = joined else {
        let _ = outbox.bought.send(Bought {
            i,
            seen: seen.clone(),
        });
        let _ = outbox.settled.send(Settled {
            i,
            seen,
            class: None,
        });
        return None;
    };
    let mut ended = None;

    let Some(Phase::Buy(sale)) = line.read_while(reach(&mut phase, Stage::Buy)).await else {
        return line.ended().map(str::to_owned);
    };
    note(&line, "before the sale", &mut ended);
    if line.is_open() {
        purchase::buy(i, &mut line, &mut seen, &sale, buyer.plan).await;
    }
    note(&line, "during the buy", &mut ended);
    let _ = outbox.bought.send(Bought {
        i,
        seen: seen.clone(),
    });

    if line
        .read_while(reach(&mut phase, Stage::Settle))
        .await
        .is_none()
    {
        return ended;
    }
    note(&line, "waiting to settle", &mut ended);
    let class = settle(i, &mut line, &mut seen, buyer.plan, &sale.tally).await;
    note(&line, "settling", &mut ended);
    let _ = outbox.settled.send(Settled { i, seen, class });

    line.read_while(reach(&mut phase, Stage::End)).await;
    note(&line, "during the audit", &mut ended);
    ended
}

/// Connect buyer `buyer` and read past its `snapshot`.
async fn join(buyer: &Buyer, minter: &Minter) -> anyhow::Result<Line> {
    let i = buyer.i;
    let token = minter.token(
        &buyer::buyer_id(i),
        &format!("Khách {i}"),
        &buyer.room,
        "viewer",
    )?;
    let url = client::room_url(&buyer.ws_base, &buyer.room, &token);
    let mut line = Line::new(client::connect_from(&url, buyer.source).await?);
    line.wait_for_any(&["snapshot"], Instant::now() + CONNECT_TIMEOUT)
        .await?;
    Ok(line)
}

/// Confirm or cancel the buyer's first hold, as planned; the answer's class.
async fn settle(
    i: usize,
    line: &mut Line,
    seen: &mut BuyerSeen,
    plan: Plan,
    tally: &Tally,
) -> Option<String> {
    let first_hold = seen
        .answers
        .iter()
        .find_map(|a| a.hold.as_ref().map(|h| h.hold_id.clone()))?;
    if !line.is_open() {
        return None;
    }
    let sent = Instant::now();
    let (name, phone) = (format!("Khách {i}"), buyer::phone_of(i));
    let class = buyer::settle(line, seen, &first_hold, plan.settle, &name, &phone).await?;
    tally.record(i, &class, sent.elapsed(), Counted::ClassOnly);
    Some(class)
}

/// The phases a buyer waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Buy,
    Settle,
    End,
}

/// Wait until the coordinator announces `stage` (its phase), or the run's
/// end, or the coordinator is gone; `None` unless `stage` came.
async fn reach(phase: &mut watch::Receiver<Phase>, stage: Stage) -> Option<Phase> {
    let is = |p: &Phase| match p {
        Phase::Connect => false,
        Phase::Buy(_) => stage == Stage::Buy,
        Phase::Settle => stage == Stage::Settle,
        Phase::End => true,
    };
    let now = phase.wait_for(is).await.ok()?.clone();
    match now {
        Phase::End if stage != Stage::End => None,
        now => Some(now),
    }
}

/// Remember the first stage at which the socket was found ended.
fn note(line: &Line, stage: &str, ended: &mut Option<String>) {
    if ended.is_none() {
        if let Some(why) = line.ended() {
            *ended = Some(format!("{stage}: {why}"));
        }
    }
}
