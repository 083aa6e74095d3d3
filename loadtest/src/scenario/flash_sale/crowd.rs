//! All the buyers of a run, as the coordinator sees them: a [`Crowd`] is
//! told the phases and answers with what its buyers did.
//!
//! A process can hold only as many sockets as its open-file limit allows
//! (20,000 on the development VM, whose hard limit even root cannot raise
//! there: the sandbox withholds `CAP_SYS_RESOURCE`). Up to that, the
//! buyers live in this process ([`Local`]); beyond it they are spread over
//! buyer agents, child processes of this binary (see [`super::agent`]),
//! each holding a [`Local`] of its own.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::scenario::buyer::Plan;
use crate::schedule::Schedule;
use crate::tokens::Minter;

use super::agent::Agents;
use super::lifecycle::{self, Bought, Buyer, Common, Inbox, Phase, Sale, Settled};
use super::tally::Tally;

/// Connect errors kept verbatim in the report.
const FIRST_ERRORS: usize = 5;

/// Who a buyer is, where it connects from and what it will do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Who {
    pub i: usize,
    pub node: usize,
    pub source: Option<IpAddr>,
    pub plan: Plan,
}

/// Where the buyers go.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Venue {
    pub room: String,
    /// Each node's `ws://` base, node 0 first.
    pub ws_bases: Vec<String>,
}

/// How (part of) the crowd connected.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Joined {
    pub connected: u64,
    pub failures: u64,
    pub first_errors: Vec<String>,
    /// When the last connect ended, µs since the Unix epoch.
    pub last_unix_us: u64,
}

impl Joined {
    fn add(&mut self, other: Joined) {
        self.connected += other.connected;
        self.failures += other.failures;
        let room = FIRST_ERRORS.saturating_sub(self.first_errors.len());
        self.first_errors
            .extend(other.first_errors.into_iter().take(room));
        self.last_unix_us = self.last_unix_us.max(other.last_unix_us);
    }
}

/// The sale as it is announced to every buyer, in every process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SaleSpec {
    pub sale_id: String,
    /// The first intended buy, µs since the Unix epoch.
    pub start_unix_us: u64,
    /// Buys per second (open loop); `None`: all at once.
    pub rate: Option<f64>,
    pub quantity: u32,
    pub patience_ms: u64,
    pub stock: u64,
    pub nodes: usize,
}

impl SaleSpec {
    /// Its start as an instant of this process's clock.
    pub fn start(&self) -> Instant {
        let now = Instant::now();
        let now_us = unix_us();
        if self.start_unix_us >= now_us {
            now + Duration::from_micros(self.start_unix_us - now_us)
        } else {
            now.checked_sub(Duration::from_micros(now_us - self.start_unix_us))
                .unwrap_or(now)
        }
    }
}

/// Microseconds since the Unix epoch, now.
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The buyers of one process: a task each, told the phases through a
/// `watch`, reporting through the lifecycle channels.
pub struct Local {
    phase: watch::Sender<Phase>,
    inbox: Inbox,
    tasks: JoinSet<Option<String>>,
    count: usize,
}

impl Local {
    /// Start every buyer's task: each connects at once (a few hundred at a
    /// time) and reads its socket from then on.
    pub fn spawn(venue: &Venue, buyers: Vec<Who>, minter: Arc<Minter>) -> Local {
        let (phase, phase_rx) = watch::channel(Phase::Connect);
        let (outbox, inbox) = lifecycle::channels();
        let common = Common::new(minter, phase_rx, outbox);
        let room: Arc<str> = venue.room.as_str().into();
        let count = buyers.len();
        let mut tasks = JoinSet::new();
        for who in buyers {
            let buyer = Buyer {
                i: who.i,
                node: who.node,
                ws_base: venue.ws_bases[who.node % venue.ws_bases.len()].clone(),
                room: room.clone(),
                source: who.source,
                plan: who.plan,
            };
            tasks.spawn(lifecycle::live(buyer, common.clone()));
        }
        Local {
            phase,
            inbox,
            tasks,
            count,
        }
    }

    /// Wait for every buyer's connect.
    pub async fn joined(&mut self, bar: &ProgressBar) -> Joined {
        let mut joined = Joined::default();
        let mut last = None;
        for _ in 0..self.count {
            let Some(one) = self.inbox.joined.recv().await else {
                break;
            };
            bar.inc(1);
            last = Some(last.map_or(one.at, |l: Instant| l.max(one.at)));
            match one.error {
                None => joined.connected += 1,
                Some(error) => {
                    joined.failures += 1;
                    if joined.first_errors.len() < FIRST_ERRORS {
                        joined.first_errors.push(error);
                    }
                }
            }
        }
        let ago = last.map_or(Duration::ZERO, |l| l.elapsed());
        joined.last_unix_us = unix_us().saturating_sub(ago.as_micros() as u64);
        joined
    }

    /// Announce the sale; the buyers record into `tally`.
    pub fn start(&self, spec: &SaleSpec, tally: Arc<Tally>) {
        let _ = self.phase.send(Phase::Buy(Arc::new(Sale {
            sale_id: spec.sale_id.clone(),
            schedule: Schedule::new(spec.start(), spec.rate),
            quantity: spec.quantity,
            patience: Duration::from_millis(spec.patience_ms),
            tally,
        })));
    }

    /// Wait for every buyer's buy phase.
    pub async fn bought(&mut self, bar: &ProgressBar) -> Vec<Bought> {
        let mut all = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            let Some(bought) = self.inbox.bought.recv().await else {
                break;
            };
            bar.inc(1);
            all.push(bought);
        }
        all
    }

    /// Announce the settle phase and wait for every buyer's settle step.
    pub async fn settle(&mut self) -> Vec<Settled> {
        let _ = self.phase.send(Phase::Settle);
        let mut all = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            let Some(settled) = self.inbox.settled.recv().await else {
                break;
            };
            all.push(settled);
        }
        all
    }

    /// Announce the end; the buyers close. Why sockets ended early.
    pub async fn end(mut self) -> Vec<String> {
        let _ = self.phase.send(Phase::End);
        let mut disconnects = Vec::new();
        while let Some(done) = self.tasks.join_next().await {
            if let Ok(Some(why)) = done {
                disconnects.push(why);
            }
        }
        disconnects
    }
}

/// Every buyer of the run, here or in agents.
pub enum Crowd {
    Here(Local),
    Agents(Agents),
}

impl Crowd {
    /// The buyers, in this process when `agents` is 0, else spread over
    /// that many agent processes (buyer `i` to agent `i mod agents`).
    pub async fn gather(
        venue: &Venue,
        buyers: Vec<Who>,
        minter: Arc<Minter>,
        secret: &str,
        agents: usize,
    ) -> anyhow::Result<Crowd> {
        if agents == 0 {
            return Ok(Crowd::Here(Local::spawn(venue, buyers, minter)));
        }
        Ok(Crowd::Agents(
            Agents::spawn(venue, buyers, secret, agents).await?,
        ))
    }

    /// The agents' process ids (their CPU and memory are the harness's).
    pub fn pids(&self) -> Vec<u32> {
        match self {
            Crowd::Here(_) => Vec::new(),
            Crowd::Agents(agents) => agents.pids(),
        }
    }

    pub async fn joined(&mut self, bar: &ProgressBar) -> anyhow::Result<Joined> {
        match self {
            Crowd::Here(local) => Ok(local.joined(bar).await),
            Crowd::Agents(agents) => {
                let mut all = Joined::default();
                for part in agents.joined().await? {
                    bar.inc(part.connected + part.failures);
                    all.add(part);
                }
                Ok(all)
            }
        }
    }

    pub async fn start(&mut self, spec: &SaleSpec, tally: &Arc<Tally>) -> anyhow::Result<()> {
        match self {
            Crowd::Here(local) => {
                local.start(spec, tally.clone());
                Ok(())
            }
            Crowd::Agents(agents) => agents.start(spec).await,
        }
    }

    /// Every buyer's buy phase; an agent's answers go into `tally`.
    pub async fn bought(
        &mut self,
        bar: &ProgressBar,
        tally: &Tally,
    ) -> anyhow::Result<Vec<Bought>> {
        match self {
            Crowd::Here(local) => Ok(local.bought(bar).await),
            Crowd::Agents(agents) => {
                let (bought, events) = agents.bought().await?;
                bar.inc(bought.len() as u64);
                tally.replay(events);
                Ok(bought)
            }
        }
    }

    pub async fn settle(&mut self, tally: &Tally) -> anyhow::Result<Vec<Settled>> {
        match self {
            Crowd::Here(local) => Ok(local.settle().await),
            Crowd::Agents(agents) => {
                let (settled, events) = agents.settle().await?;
                tally.replay(events);
                Ok(settled)
            }
        }
    }

    /// Let every buyer go: why sockets ended early, and the agents' CPU
    /// over their whole life, ms (`None` without agents).
    pub async fn end(self) -> anyhow::Result<(Vec<String>, Option<u64>)> {
        match self {
            Crowd::Here(local) => Ok((local.end().await, None)),
            Crowd::Agents(agents) => {
                let (disconnects, cpu_ms) = agents.end().await?;
                Ok((disconnects, Some(cpu_ms)))
            }
        }
    }
}

/// Distinct source addresses of `buyers` (empty: the kernel's choice).
pub fn sources(buyers: &[Who]) -> Vec<String> {
    let set: BTreeSet<IpAddr> = buyers.iter().filter_map(|b| b.source).collect();
    set.iter().map(ToString::to_string).collect()
}
