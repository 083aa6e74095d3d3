//! Buyer agents: child processes of this binary (`chophien-loadtest
//! buyer-agent`, not for people) that each hold part of the buyers when
//! one process may not open enough sockets for all of them.
//!
//! The coordinator talks to each agent over its stdin and stdout, one JSON
//! document per line: first an [`AgentSpec`] (the venue, the token secret,
//! its buyers), then the phases ([`ToAgent`]); the agent answers each step
//! ([`FromAgent`]) with what its buyers did and a journal of its tally,
//! which the coordinator replays into its own. The sale's start is a wall
//! clock instant, the same for every process. An agent's stderr is the
//! harness's; it exits when its stdin closes (the coordinator is gone).

use std::sync::Arc;

use anyhow::{bail, Context};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::target::cpu_ms;
use crate::tokens::Minter;

use super::crowd::{Joined, Local, SaleSpec, Venue, Who};
use super::lifecycle::{Bought, Settled};
use super::tally::{Event, Tally};

/// The subcommand that runs an agent.
pub const SUBCOMMAND: &str = "buyer-agent";

/// What an agent is given first.
#[derive(Debug, Serialize, Deserialize)]
pub struct AgentSpec {
    pub venue: Venue,
    pub secret: String,
    pub buyers: Vec<Who>,
}

/// The coordinator's word to an agent.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToAgent {
    Start(SaleSpec),
    Settle,
    End,
}

/// An agent's report of one step.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromAgent {
    Joined(Joined),
    Bought {
        buyers: Vec<Bought>,
        events: Vec<Event>,
    },
    Settled {
        buyers: Vec<Settled>,
        events: Vec<Event>,
    },
    Ended {
        disconnects: Vec<String>,
    },
}

/// The agent's side: run the buyers of the spec read from stdin through
/// the phases read after it. Runs inside the caller's Tokio runtime.
pub async fn serve() -> anyhow::Result<()> {
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    let mut output = tokio::io::stdout();
    let spec: AgentSpec = read(&mut input).await?;
    let minter = Arc::new(Minter::new(&spec.secret));
    let mut local = Local::spawn(&spec.venue, spec.buyers, minter);
    let hidden = ProgressBar::hidden();
    send(&mut output, &FromAgent::Joined(local.joined(&hidden).await)).await?;
    let ToAgent::Start(sale) = read(&mut input).await? else {
        bail!("expected the sale's start");
    };
    let tally = Arc::new(Tally::journaled(sale.start(), sale.stock, sale.nodes));
    local.start(&sale, tally.clone());
    let buyers = local.bought(&hidden).await;
    let events = tally.take_journal();
    send(&mut output, &FromAgent::Bought { buyers, events }).await?;
    let ToAgent::Settle = read(&mut input).await? else {
        bail!("expected the settle phase");
    };
    let buyers = local.settle().await;
    let events = tally.take_journal();
    send(&mut output, &FromAgent::Settled { buyers, events }).await?;
    // Whatever comes next (the end, or the coordinator gone), close.
    let _ = read::<ToAgent, _>(&mut input).await;
    let disconnects = local.end().await;
    send(&mut output, &FromAgent::Ended { disconnects }).await?;
    Ok(())
}

async fn read<T, R>(input: &mut Lines<R>) -> anyhow::Result<T>
where
    T: for<'de> Deserialize<'de>,
    R: tokio::io::AsyncBufRead + Unpin,
{
    let line = input
        .next_line()
        .await?
        .context("the other side closed the pipe")?;
    serde_json::from_str(&line).context("unreadable message between harness processes")
}

async fn send<T: Serialize, W: tokio::io::AsyncWrite + Unpin>(
    output: &mut W,
    message: &T,
) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(message)?;
    line.push(b'\n');
    output.write_all(&line).await?;
    output.flush().await?;
    Ok(())
}

/// One running agent, killed if dropped.
struct Agent {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// The coordinator's side: every agent of the run.
pub struct Agents {
    agents: Vec<Agent>,
}

impl Agents {
    /// Start `count` agents, buyer `i` in agent `i mod count`, and give
    /// each its part.
    pub async fn spawn(
        venue: &Venue,
        buyers: Vec<Who>,
        secret: &str,
        count: usize,
    ) -> anyhow::Result<Agents> {
        let exe = std::env::current_exe().context("where is this binary?")?;
        let mut parts: Vec<Vec<Who>> = vec![Vec::new(); count];
        for who in buyers {
            parts[who.i % count].push(who);
        }
        let mut agents = Vec::with_capacity(count);
        for part in parts {
            let mut child = Command::new(&exe)
                .arg(SUBCOMMAND)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .context("could not start a buyer agent")?;
            let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                bail!("a buyer agent has no pipes");
            };
            let spec = AgentSpec {
                venue: venue.clone(),
                secret: secret.to_owned(),
                buyers: part,
            };
            send(&mut stdin, &spec).await?;
            agents.push(Agent {
                child,
                stdin,
                stdout: BufReader::new(stdout).lines(),
            });
        }
        Ok(Agents { agents })
    }

    pub fn pids(&self) -> Vec<u32> {
        self.agents.iter().filter_map(|a| a.child.id()).collect()
    }

    async fn tell(&mut self, word: &ToAgent) -> anyhow::Result<()> {
        for agent in &mut self.agents {
            send(&mut agent.stdin, word).await?;
        }
        Ok(())
    }

    /// Every agent's next report.
    async fn hear(&mut self) -> anyhow::Result<Vec<FromAgent>> {
        let mut reports = Vec::with_capacity(self.agents.len());
        for (k, agent) in self.agents.iter_mut().enumerate() {
            let report = read(&mut agent.stdout)
                .await
                .with_context(|| format!("buyer agent {k} failed (its errors are above)"))?;
            reports.push(report);
        }
        Ok(reports)
    }

    pub async fn joined(&mut self) -> anyhow::Result<Vec<Joined>> {
        self.hear()
            .await?
            .into_iter()
            .map(|r| match r {
                FromAgent::Joined(joined) => Ok(joined),
                _ => bail!("a buyer agent skipped its connects"),
            })
            .collect()
    }

    pub async fn start(&mut self, sale: &SaleSpec) -> anyhow::Result<()> {
        self.tell(&ToAgent::Start(sale.clone())).await
    }

    pub async fn bought(&mut self) -> anyhow::Result<(Vec<Bought>, Vec<Event>)> {
        let mut all = (Vec::new(), Vec::new());
        for report in self.hear().await? {
            let FromAgent::Bought { buyers, events } = report else {
                bail!("a buyer agent skipped its buys");
            };
            all.0.extend(buyers);
            all.1.extend(events);
        }
        Ok(all)
    }

    pub async fn settle(&mut self) -> anyhow::Result<(Vec<Settled>, Vec<Event>)> {
        self.tell(&ToAgent::Settle).await?;
        let mut all = (Vec::new(), Vec::new());
        for report in self.hear().await? {
            let FromAgent::Settled { buyers, events } = report else {
                bail!("a buyer agent skipped its settle step");
            };
            all.0.extend(buyers);
            all.1.extend(events);
        }
        Ok(all)
    }

    /// Tell the agents the run is over; why sockets ended early, and the
    /// CPU the agents used in all (read once they have reported, before
    /// they are reaped).
    pub async fn end(mut self) -> anyhow::Result<(Vec<String>, u64)> {
        self.tell(&ToAgent::End).await?;
        let mut disconnects = Vec::new();
        for report in self.hear().await? {
            if let FromAgent::Ended { disconnects: more } = report {
                disconnects.extend(more);
            }
        }
        let cpu_ms = self.pids().into_iter().filter_map(cpu_ms).sum();
        for agent in &mut self.agents {
            let _ = agent.child.wait().await;
        }
        Ok((disconnects, cpu_ms))
    }
}
