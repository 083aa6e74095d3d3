//! Where the buy phase's time goes. A [`Probe`] reads, at the start and at
//! the end of the phase, the CPU each process has used (`/proc/PID/stat`:
//! spawned nodes, their Redis, this harness), Redis's own time per command
//! (`INFO commandstats`) and the servers' counters (`GET /metrics`: group-
//! commit batches and their buys, `busy` answers). The growth between the
//! two, divided by the store's decisions in the phase, says what one
//! decision cost each of them — and buys ÷ batches the mean batch size.
//!
//! The connection ramp is over before the first probe, so none of this
//! counts it.

use tokio::time::Instant;

use crate::hog::HogRun;
use crate::report::CostPerDecision;
use crate::scenario::Ctx;
use crate::server_metrics::{self, ServerCounters};
use crate::target::{self, CpuUse};

/// The commands whose Redis time counts as the sale's.
const SALE_COMMANDS: &[&str] = &["fcall", "fcall_ro"];

/// Everything measured at one moment.
pub struct Probe {
    at: Instant,
    cpu: CpuUse,
    /// (command, calls, usec) so far, when the harness started the Redis.
    redis: Option<Vec<(String, u64, u64)>>,
    /// Each node's counters (`None`: its /metrics was unreadable).
    servers: Vec<Option<ServerCounters>>,
}

impl Probe {
    /// Read everything now; `agents` are the buyer agents' pids, whose CPU
    /// is the harness's.
    pub async fn take(ctx: &Ctx, agents: &[u32]) -> Probe {
        let redis = match &ctx.target.redis {
            Some(redis) => target::redis_command_stats(redis.port).await.ok(),
            None => None,
        };
        let mut cpu = ctx.target.cpu_use();
        cpu.harness += agents
            .iter()
            .filter_map(|pid| target::cpu_ms(*pid))
            .sum::<u64>();
        Probe {
            at: Instant::now(),
            cpu,
            redis,
            servers: server_metrics::scrape_all(&ctx.http, &ctx.target).await,
        }
    }
}

/// What the phase used, before dividing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhaseUse {
    pub wall_s: f64,
    /// CPU of the spawned nodes together, ms (`None` with `--url`).
    pub server_cpu_ms: Option<u64>,
    pub redis_cpu_ms: Option<u64>,
    /// Redis's time in the sale's commands, µs.
    pub fcall_usec: Option<u64>,
    pub harness_cpu_ms: u64,
    /// Growth of the servers' counters, all nodes.
    pub server: ServerCounters,
    pub hog_cpu_ms: Option<u64>,
}

impl PhaseUse {
    /// What was used between `before` and `after`.
    pub fn between(before: &Probe, after: &Probe, hog: Option<&HogRun>) -> PhaseUse {
        let grew = |a: u64, b: u64| a.saturating_sub(b);
        let fcall_usec = match (&before.redis, &after.redis) {
            (Some(b), Some(a)) => Some(
                SALE_COMMANDS
                    .iter()
                    .map(|c| grew(usec_of(a, c), usec_of(b, c)))
                    .sum(),
            ),
            _ => None,
        };
        PhaseUse {
            wall_s: after.at.duration_since(before.at).as_secs_f64(),
            server_cpu_ms: (!after.cpu.nodes.is_empty())
                .then(|| grew(after.cpu.nodes.iter().sum(), before.cpu.nodes.iter().sum())),
            redis_cpu_ms: after
                .cpu
                .redis
                .zip(before.cpu.redis)
                .map(|(a, b)| grew(a, b)),
            fcall_usec,
            harness_cpu_ms: grew(after.cpu.harness, before.cpu.harness),
            server: server_metrics::growth(&before.servers, &after.servers),
            hog_cpu_ms: hog.map(|h| h.cpu_ms),
        }
    }

    /// Divided by the store's `decisions`.
    pub fn per_decision(&self, decisions: u64) -> CostPerDecision {
        let per = |micros: u64| (decisions > 0).then(|| micros as f64 / decisions as f64);
        CostPerDecision {
            decisions,
            buy_phase_s: self.wall_s,
            server_cpu_us: self.server_cpu_ms.and_then(|ms| per(ms * 1000)),
            redis_cpu_us: self.redis_cpu_ms.and_then(|ms| per(ms * 1000)),
            redis_fcall_us: self.fcall_usec.and_then(per),
            harness_cpu_us: per(self.harness_cpu_ms * 1000).unwrap_or(0.0),
            mean_batch_size: match (self.server.buy_batch_buys, self.server.buy_batches) {
                (Some(buys), Some(batches)) if batches > 0 => Some(buys as f64 / batches as f64),
                _ => None,
            },
            server_busy_answers: self.server.busy_answers,
            frames_out: self.server.frames_out.and_then(per),
            hog_cpu_ms: self.hog_cpu_ms,
        }
    }

    /// The raw figures as report counters (`buy_phase_…`).
    pub fn counts(&self, before: &Probe, after: &Probe) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = after
            .cpu
            .counts_since(&before.cpu)
            .into_iter()
            .map(|(name, ms)| (format!("buy_phase_{name}"), ms))
            .collect();
        if let (Some(b), Some(a)) = (&before.redis, &after.redis) {
            for command in SALE_COMMANDS {
                let calls = calls_of(a, command).saturating_sub(calls_of(b, command));
                if calls > 0 {
                    counts.push((format!("buy_phase_redis_{command}_calls"), calls));
                    counts.push((
                        format!("buy_phase_redis_{command}_usec"),
                        usec_of(a, command).saturating_sub(usec_of(b, command)),
                    ));
                }
            }
        }
        let server = &self.server;
        for (name, value) in [
            ("buy_phase_batches", server.buy_batches),
            ("buy_phase_batch_buys", server.buy_batch_buys),
            ("buy_phase_server_busy", server.busy_answers),
            ("buy_phase_frames_out", server.frames_out),
            ("buy_phase_hog_cpu_ms", self.hog_cpu_ms),
        ] {
            if let Some(value) = value {
                counts.push((name.to_owned(), value));
            }
        }
        counts
    }
}

fn calls_of(stats: &[(String, u64, u64)], command: &str) -> u64 {
    stats
        .iter()
        .find(|(c, _, _)| c == command)
        .map_or(0, |(_, calls, _)| *calls)
}

fn usec_of(stats: &[(String, u64, u64)], command: &str) -> u64 {
    stats
        .iter()
        .find(|(c, _, _)| c == command)
        .map_or(0, |(_, _, usec)| *usec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used() -> PhaseUse {
        PhaseUse {
            wall_s: 2.0,
            server_cpu_ms: Some(1_500),
            redis_cpu_ms: Some(300),
            fcall_usec: Some(250_000),
            harness_cpu_ms: 900,
            server: ServerCounters {
                buy_batches: Some(200),
                buy_batch_buys: Some(10_600),
                busy_answers: Some(4_000),
                connections: None,
                frames_out: None,
            },
            hog_cpu_ms: None,
        }
    }

    #[test]
    fn each_process_s_time_is_divided_by_the_decisions() {
        let cost = used().per_decision(10_000);
        assert_eq!(cost.decisions, 10_000);
        assert_eq!(cost.server_cpu_us, Some(150.0));
        assert_eq!(cost.redis_cpu_us, Some(30.0));
        assert_eq!(cost.redis_fcall_us, Some(25.0));
        assert_eq!(cost.harness_cpu_us, 90.0);
        assert_eq!(cost.mean_batch_size, Some(53.0));
        assert_eq!(cost.server_busy_answers, Some(4_000));
    }

    #[test]
    fn what_was_not_measured_is_left_out() {
        let mut u = used();
        u.server_cpu_ms = None;
        u.server.buy_batches = None;
        let cost = u.per_decision(10);
        assert_eq!(cost.server_cpu_us, None);
        assert_eq!(cost.mean_batch_size, None, "no batch counter, no mean");
        let none = used().per_decision(0);
        assert_eq!(none.server_cpu_us, None, "no decision, nothing to divide");
        assert_eq!(none.harness_cpu_us, 0.0);
    }

    #[test]
    fn no_batch_means_no_mean_batch_size() {
        let mut u = used();
        u.server.buy_batches = Some(0);
        u.server.buy_batch_buys = Some(0);
        assert_eq!(u.per_decision(5).mean_batch_size, None);
    }
}
