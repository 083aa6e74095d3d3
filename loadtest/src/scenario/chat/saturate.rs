//! `--saturate`: drive one server to its capacity, step by step.
//!
//! Below saturation every server delivers what is offered and the ratio of
//! two is ≈ 1, which says nothing. So each server (ours, then each peer, on
//! the same machine one after the other) runs the same fan-out at `--rate`,
//! then at `--rate × --saturate-step`, and so on, until one of:
//! - deliveries/s did not rise by 5 % over the best step before: the server
//!   delivers no more however much is offered (it is saturated);
//! - p99 passed `--p99-bound-ms`: it still delivers, but late;
//! - a viewer was disconnected (slow consumer or broken off) or failed to
//!   connect: past this point the figures describe fewer viewers;
//! - `--saturate-max-steps` ran.
//!
//! The best step's deliveries/s is the server's capacity at saturation; the
//! report keeps every step. Without `--saturate` it is one step at `--rate`.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;

use super::super::Ctx;
use super::{fanout, ChatArgs, Fanout, Transport};

/// What must be gained over the best step before, for the rate to rise
/// again.
const STILL_RISING: f64 = 1.05;

/// One step, as reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Messages per second offered (all senders together).
    pub rate: f64,
    pub deliveries_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_us_per_delivery: Option<f64>,
    pub harness_cpu_ms: Option<u64>,
    /// Viewers dropped (slow, broken off) or never connected.
    pub disconnects: u64,
    pub lost: u64,
}

impl Step {
    fn of(rate: f64, fanout: &Fanout) -> Step {
        Step {
            rate,
            deliveries_per_s: fanout.deliveries_per_s,
            p50_ms: fanout.latency.p50,
            p99_ms: fanout.latency.p99,
            cpu_us_per_delivery: fanout.cpu_us_per_delivery(),
            harness_cpu_ms: fanout.harness_cpu_ms,
            disconnects: fanout.slow_disconnects
                + fanout.other_disconnects
                + fanout.connect_failures,
            lost: fanout.delivery.messages_lost,
        }
    }
}

/// One server's steps and its best one.
pub struct Measured {
    /// The step with the most deliveries/s, whose delivery audit also
    /// carries every other step's violations (prefixed with its rate).
    pub best: Fanout,
    /// The rate of the best step.
    pub best_rate: f64,
    pub steps: Vec<Step>,
    /// Whether steps were taken (`--saturate`).
    pub saturating: bool,
}

impl Measured {
    /// Report lines for `name`, and its counters (`<key>_…`) into `counts`.
    pub fn describe(
        &self,
        name: &str,
        counts: &mut BTreeMap<String, u64>,
        key: &str,
    ) -> Vec<String> {
        counts.insert(
            format!("{key}_deliveries_per_s"),
            self.best.deliveries_per_s.round() as u64,
        );
        if let Some(us) = self.best.cpu_us_per_delivery() {
            counts.insert(
                format!("{key}_cpu_ns_per_delivery"),
                (us * 1000.0).round() as u64,
            );
        }
        let mut lines = Vec::new();
        if self.saturating {
            counts.insert(
                format!("{key}_saturation_rate"),
                self.best_rate.round() as u64,
            );
            lines.push(format!(
                "{name} at saturation: {:.0} deliveries/s at {:.0} msg/s ({} steps).",
                self.best.deliveries_per_s,
                self.best_rate,
                self.steps.len()
            ));
        }
        for step in &self.steps {
            lines.push(format!(
                "{name} at {:.0} msg/s: {:.0} deliveries/s, p50 {:.1} ms, p99 {:.1} ms, server CPU {} per delivery, harness CPU {} ms, {} viewers dropped, {} lost.",
                step.rate,
                step.deliveries_per_s,
                step.p50_ms,
                step.p99_ms,
                step.cpu_us_per_delivery
                    .map_or("?".to_owned(), |us| format!("{us:.2} µs")),
                step.harness_cpu_ms.map_or("?".to_owned(), |ms| ms.to_string()),
                step.disconnects,
                step.lost
            ));
        }
        lines
    }
}

/// Run the fan-out against `transport` once, or step by step to saturation.
pub async fn measure(
    ctx: &Ctx,
    transport: Arc<Transport>,
    args: &ChatArgs,
    label: &str,
    cpu_pids: &[u32],
) -> anyhow::Result<Measured> {
    let mut rate = args.rate;
    let mut steps = Vec::new();
    let mut violations = Vec::new();
    let mut best: Option<(f64, Fanout)> = None;
    loop {
        let step_args = ChatArgs {
            rate,
            ..args.clone()
        };
        let name = if args.saturate {
            format!("{label} {rate:.0}/s")
        } else {
            label.to_owned()
        };
        let run = fanout(ctx, transport.clone(), &step_args, &name, cpu_pids).await?;
        steps.push(Step::of(rate, &run));
        violations.extend(
            run.delivery
                .violations
                .iter()
                .map(|v| format!("at {rate:.0} msg/s: {v}")),
        );
        if best
            .as_ref()
            .is_none_or(|(_, b)| run.deliveries_per_s > b.deliveries_per_s)
        {
            best = Some((rate, run));
        }
        if !args.saturate {
            break;
        }
        match next_rate(&steps, args) {
            Some(next) => rate = next,
            None => break,
        }
    }
    let (best_rate, mut best) = best.context("no fan-out step ran")?;
    if args.saturate {
        best.delivery.ok = violations.is_empty();
        best.delivery.violations = violations;
    }
    Ok(Measured {
        best,
        best_rate,
        steps,
        saturating: args.saturate,
    })
}

/// The next step's rate, or `None` when the steps so far show saturation
/// (see the module's rules).
fn next_rate(steps: &[Step], args: &ChatArgs) -> Option<f64> {
    let (last, before) = steps.split_last()?;
    if steps.len() >= args.saturate_max_steps
        || last.p99_ms > args.p99_bound_ms
        || last.disconnects > 0
    {
        return None;
    }
    let best_before = before
        .iter()
        .map(|s| s.deliveries_per_s)
        .fold(None, |best: Option<f64>, d| {
            Some(best.map_or(d, |b| b.max(d)))
        });
    if best_before.is_some_and(|best| last.deliveries_per_s < best * STILL_RISING) {
        return None;
    }
    Some(last.rate * args.saturate_step.max(1.01))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        chat: ChatArgs,
    }

    fn args(extra: &[&str]) -> ChatArgs {
        let mut argv = vec!["chat", "--saturate"];
        argv.extend(extra);
        Cli::parse_from(argv).chat
    }

    fn step(rate: f64, deliveries_per_s: f64, p99_ms: f64) -> Step {
        Step {
            rate,
            deliveries_per_s,
            p50_ms: p99_ms / 2.0,
            p99_ms,
            cpu_us_per_delivery: None,
            harness_cpu_ms: None,
            disconnects: 0,
            lost: 0,
        }
    }

    #[test]
    fn the_rate_rises_by_the_step_while_deliveries_rise() {
        let args = args(&["--saturate-step", "2"]);
        let steps = [step(50.0, 100_000.0, 20.0), step(100.0, 200_000.0, 30.0)];
        assert_eq!(next_rate(&steps, &args), Some(200.0));
        assert_eq!(next_rate(&steps[..1], &args), Some(100.0));
    }

    #[test]
    fn deliveries_that_stop_rising_end_the_steps() {
        let args = args(&[]);
        let steps = [step(100.0, 200_000.0, 30.0), step(150.0, 205_000.0, 80.0)];
        assert_eq!(next_rate(&steps, &args), None);
    }

    #[test]
    fn a_p99_past_the_bound_ends_the_steps() {
        let args = args(&["--p99-bound-ms", "500"]);
        let steps = [step(100.0, 200_000.0, 30.0), step(150.0, 300_000.0, 501.0)];
        assert_eq!(next_rate(&steps, &args), None);
    }

    #[test]
    fn a_dropped_viewer_ends_the_steps() {
        let args = args(&[]);
        let mut dropped = step(100.0, 200_000.0, 30.0);
        dropped.disconnects = 1;
        assert_eq!(next_rate(&[dropped], &args), None);
    }

    #[test]
    fn the_step_count_is_bounded() {
        let args = args(&["--saturate-max-steps", "2", "--saturate-step", "2"]);
        let steps = [step(10.0, 20_000.0, 5.0), step(20.0, 40_000.0, 5.0)];
        assert_eq!(next_rate(&steps, &args), None);
    }
}
