//! The server's own counters, read from its Prometheus endpoint (`GET
//! /metrics`, text format, parsed with `prometheus-parse`) before and
//! after a phase: group-commit batches and the buys in them (mean batch
//! size = buys ÷ batches), `busy` answers, open connections.
//!
//! A server that does not expose a counter (one that predates it) simply
//! leaves it out: the report then omits what depends on it.

use anyhow::Context;
use prometheus_parse::{Scrape, Value};

use crate::target::Target;

/// Group-commit calls the node sent to Redis.
const BATCHES: &str = "chophien_buy_batches_total";
/// Buys those calls carried.
const BATCH_BUYS: &str = "chophien_buy_batch_buys_total";
/// Answers to `buy`, by `outcome` label.
const BUY_OUTCOMES: &str = "chophien_buy_outcomes_total";
/// Open WebSocket connections.
const CONNECTIONS: &str = "chophien_connections";
/// Frames written to clients (replies and room events).
const FRAMES_OUT: &str = "chophien_messages_out_total";

/// One node's counters at one moment (`None`: not exposed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerCounters {
    pub buy_batches: Option<u64>,
    pub buy_batch_buys: Option<u64>,
    pub busy_answers: Option<u64>,
    pub connections: Option<u64>,
    pub frames_out: Option<u64>,
}

impl ServerCounters {
    /// Read from a scrape in the text format.
    pub fn parse(text: &str) -> anyhow::Result<ServerCounters> {
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .context("the /metrics body is not the Prometheus text format")?;
        let find = |name: &str, label: Option<(&str, &str)>| {
            scrape
                .samples
                .iter()
                .filter(|s| s.metric == name)
                .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
                .find_map(|s| match s.value {
                    Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) if v >= 0.0 => {
                        Some(v as u64)
                    }
                    _ => None,
                })
        };
        Ok(ServerCounters {
            buy_batches: find(BATCHES, None),
            buy_batch_buys: find(BATCH_BUYS, None),
            // A labelled counter shows no sample until its first count: a
            // server that exposes any buy outcome, or the batch counters
            // (which came with `busy`), has said `busy` zero times.
            busy_answers: find(BUY_OUTCOMES, Some(("outcome", "busy"))).or_else(|| {
                scrape
                    .samples
                    .iter()
                    .any(|s| s.metric == BUY_OUTCOMES || s.metric == BATCHES)
                    .then_some(0)
            }),
            connections: find(CONNECTIONS, None),
            frames_out: find(FRAMES_OUT, None),
        })
    }
}

/// Every node's counters now, node 0 first; `None` for a node whose
/// `/metrics` could not be read.
pub async fn scrape_all(http: &reqwest::Client, target: &Target) -> Vec<Option<ServerCounters>> {
    let mut all = Vec::with_capacity(target.nodes.len());
    for node in &target.nodes {
        all.push(scrape(http, &node.http_base).await.ok());
    }
    all
}

async fn scrape(http: &reqwest::Client, base: &str) -> anyhow::Result<ServerCounters> {
    let response = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .error_for_status()?;
    ServerCounters::parse(&response.text().await?)
}

/// How much each counter grew between two scrapes of every node, summed
/// over the nodes; `None` for a counter some node lacked either time.
pub fn growth(
    before: &[Option<ServerCounters>],
    after: &[Option<ServerCounters>],
) -> ServerCounters {
    let sum = |field: fn(&ServerCounters) -> Option<u64>| -> Option<u64> {
        if before.len() != after.len() || before.is_empty() {
            return None;
        }
        before.iter().zip(after).try_fold(0u64, |total, (b, a)| {
            let (b, a) = (field(b.as_ref()?)?, field(a.as_ref()?)?);
            Some(total + a.saturating_sub(b))
        })
    };
    ServerCounters {
        buy_batches: sum(|c| c.buy_batches),
        buy_batch_buys: sum(|c| c.buy_batch_buys),
        busy_answers: sum(|c| c.busy_answers),
        connections: None,
        frames_out: sum(|c| c.frames_out),
    }
}

/// Connections open on every node together now (`None`: unreadable).
pub fn total_connections(counters: &[Option<ServerCounters>]) -> Option<u64> {
    counters
        .iter()
        .try_fold(0u64, |total, c| Some(total + c.as_ref()?.connections?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = "\
# HELP chophien_buy_batch_buys_total Buys carried by group-commit calls to Redis
# TYPE chophien_buy_batch_buys_total counter
chophien_buy_batch_buys_total 5300
# HELP chophien_buy_batches_total Group-commit calls sent to Redis
# TYPE chophien_buy_batches_total counter
chophien_buy_batches_total 100
# HELP chophien_buy_outcomes_total Answers to buy, by outcome
# TYPE chophien_buy_outcomes_total counter
chophien_buy_outcomes_total{outcome=\"busy\"} 42
chophien_buy_outcomes_total{outcome=\"reserved\"} 1000
# HELP chophien_connections Open WebSocket connections
# TYPE chophien_connections gauge
chophien_connections 10001
";

    #[test]
    fn batches_busy_answers_and_connections_are_read_from_the_text_format() {
        let c = ServerCounters::parse(SCRAPE).unwrap();
        assert_eq!(c.buy_batches, Some(100));
        assert_eq!(c.buy_batch_buys, Some(5300));
        assert_eq!(c.busy_answers, Some(42));
        assert_eq!(c.connections, Some(10001));
    }

    #[test]
    fn a_server_without_the_batch_counters_leaves_them_out() {
        let c = ServerCounters::parse(
            "# TYPE chophien_buy_outcomes_total counter\nchophien_buy_outcomes_total{outcome=\"reserved\"} 3\n",
        )
        .unwrap();
        assert_eq!(c.buy_batches, None);
        assert_eq!(c.buy_batch_buys, None);
        assert_eq!(c.busy_answers, Some(0), "no busy sample yet means none");
        assert_eq!(ServerCounters::parse("").unwrap().busy_answers, None);
        let fresh = ServerCounters::parse(
            "# TYPE chophien_buy_batches_total counter\nchophien_buy_batches_total 0\n",
        )
        .unwrap();
        assert_eq!(
            fresh.busy_answers,
            Some(0),
            "a fresh server has said busy zero times"
        );
    }

    #[test]
    fn growth_is_summed_over_nodes() {
        let at = |batches, buys, busy| {
            Some(ServerCounters {
                buy_batches: Some(batches),
                buy_batch_buys: Some(buys),
                busy_answers: Some(busy),
                connections: Some(1),
                frames_out: None,
            })
        };
        let before = [at(10, 100, 0), at(5, 50, 1)];
        let after = [at(30, 1100, 7), at(15, 550, 4)];
        let g = growth(&before, &after);
        assert_eq!(g.buy_batches, Some(30));
        assert_eq!(g.buy_batch_buys, Some(1500));
        assert_eq!(g.busy_answers, Some(10));
        assert_eq!(total_connections(&after), Some(2));
    }

    #[test]
    fn a_node_that_could_not_be_read_leaves_the_sum_out() {
        let c = Some(ServerCounters {
            buy_batches: Some(1),
            ..ServerCounters::default()
        });
        let g = growth(&[c.clone(), None], &[c.clone(), c]);
        assert_eq!(g.buy_batches, None);
    }
}
