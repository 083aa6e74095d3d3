//! Which configurations one invocation runs, and how their reports become
//! one.
//!
//! A plain run is one configuration: the `--url` nodes, or `--nodes N`
//! spawned nodes on `--store`. `--compare-nodes N` is three, in this order:
//! 1 node with the memory store, 1 node through Redis, N nodes through
//! Redis. Each configuration gets its own freshly spawned processes; the
//! combined report is the last run's, with every run's summary in `runs`
//! and, for a comparison, the ratios in `comparison`. `--compare-journal`
//! is two: the same configuration with the servers' session journal off,
//! then on (`journal_on_over_off`).

use anyhow::bail;

use crate::report::{ratio, Comparison, Ratio, Report, RunSummary};
use crate::target::StoreKind;

/// Where one configuration's nodes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Running servers at these loopback URLs.
    External(Vec<String>),
    /// `nodes` spawned servers on `store` (one shared Redis for `redis`).
    Spawn { nodes: usize, store: StoreKind },
}

/// One configuration of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    pub layout: Layout,
    /// `1 node, memory`, `3 nodes, redis`, `2 nodes (external)`.
    pub label: String,
    /// `CHOPHIEN_*` settings for spawned servers (name, value).
    pub server_env: Vec<(String, String)>,
}

impl Configuration {
    fn spawn(nodes: usize, store: StoreKind) -> Configuration {
        Configuration {
            label: format!("{}, {}", plural_nodes(nodes), store.as_str()),
            layout: Layout::Spawn { nodes, store },
            server_env: Vec::new(),
        }
    }
}

fn plural_nodes(n: usize) -> String {
    if n == 1 {
        "1 node".to_owned()
    } else {
        format!("{n} nodes")
    }
}

/// The target flags as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct TargetFlags {
    pub urls: Vec<String>,
    pub nodes: Option<usize>,
    pub store: Option<StoreKind>,
    pub compare_nodes: Option<usize>,
    pub compare_journal: bool,
}

/// The configurations to run, in order. `default_store` is the scenario's
/// (memory for chat and join, Redis for flash-sale); several spawned nodes
/// always use Redis, the only thing they can share.
pub fn plan(flags: &TargetFlags, default_store: StoreKind) -> anyhow::Result<Vec<Configuration>> {
    if flags.compare_journal {
        if flags.compare_nodes.is_some() || !flags.urls.is_empty() {
            bail!("--compare-journal spawns its own servers: it takes no --url or --compare-nodes");
        }
        let plain = TargetFlags {
            compare_journal: false,
            ..flags.clone()
        };
        let mut on = plan(&plain, default_store)?;
        let Some(mut off) = on.first().cloned() else {
            bail!("no configuration to compare");
        };
        off.label.push_str(", journal off");
        off.server_env
            .push(("CHOPHIEN_JOURNAL__ENABLED".into(), "false".into()));
        on[0].label.push_str(", journal on");
        return Ok(vec![off, on.remove(0)]);
    }
    if let Some(n) = flags.compare_nodes {
        if !flags.urls.is_empty() || flags.nodes.is_some() || flags.store.is_some() {
            bail!("--compare-nodes spawns its own nodes and stores: it takes no --url, --nodes or --store");
        }
        if n < 2 {
            bail!("--compare-nodes {n}: compare at least 2 nodes with 1");
        }
        return Ok(vec![
            Configuration::spawn(1, StoreKind::Memory),
            Configuration::spawn(1, StoreKind::Redis),
            Configuration::spawn(n, StoreKind::Redis),
        ]);
    }
    if !flags.urls.is_empty() {
        if flags.nodes.is_some() || flags.store.is_some() {
            bail!("--nodes and --store are for spawned nodes: with --url, give one --url per node");
        }
        return Ok(vec![Configuration {
            label: format!("{} (external)", plural_nodes(flags.urls.len())),
            layout: Layout::External(flags.urls.clone()),
            server_env: Vec::new(),
        }]);
    }
    let nodes = flags.nodes.unwrap_or(1);
    if nodes == 0 {
        bail!("--nodes 0: at least one node is needed");
    }
    let store = match flags.store {
        Some(StoreKind::Memory) if nodes > 1 => {
            bail!("--nodes {nodes} --store memory: nodes share rooms and sales only through Redis (use --store redis)")
        }
        Some(store) => store,
        None if nodes > 1 => StoreKind::Redis,
        None => default_store,
    };
    Ok(vec![Configuration::spawn(nodes, store)])
}

/// One report for the whole invocation: the last run's, with `runs` (one
/// summary per configuration) and, for the three runs of a comparison,
/// `comparison`.
pub fn combine(
    runs: Vec<(Configuration, Report)>,
    compare: bool,
    compare_journal: bool,
) -> anyhow::Result<Report> {
    let summaries: Vec<RunSummary> = runs
        .iter()
        .map(|(config, report)| RunSummary::of(report, config.label.clone()))
        .collect();
    let Some((_, mut report)) = runs.into_iter().last() else {
        bail!("no configuration was run");
    };
    if compare {
        let [memory, redis, many] = summaries.as_slice() else {
            bail!("a comparison needs three runs, got {}", summaries.len());
        };
        report.comparison = Some(Comparison::of(memory, redis, many));
        report
            .notes
            .extend(comparison_notes(&report.scenario, memory, redis, many));
    }
    if compare_journal {
        let [off, on] = summaries.as_slice() else {
            bail!(
                "a journal comparison needs two runs, got {}",
                summaries.len()
            );
        };
        let cost = Ratio {
            throughput: ratio(on.throughput_per_s, off.throughput_per_s),
            p99: ratio(on.latency_ms.p99, off.latency_ms.p99),
        };
        report.notes.push(format!(
            "Journal on ÷ off (the same load on freshly spawned servers, off first): {} ×{:.3}, p99 ×{:.3}. The aim is throughput ≥ 0.9.",
            report.throughput_unit, cost.throughput, cost.p99
        ));
        report.journal_on_over_off = Some(cost);
    }
    report.runs = summaries;
    Ok(report)
}

/// What a reader of a comparison must know before trusting its ratios.
fn comparison_notes(
    scenario: &str,
    memory: &RunSummary,
    redis: &RunSummary,
    many: &RunSummary,
) -> Vec<String> {
    let mut notes = vec![format!(
        "Comparison: the same {scenario} load on `{}`, `{}` and `{}`, each on freshly spawned processes, one after another on this machine; same-run baselines (if any) ran in the last only.",
        memory.label, redis.label, many.label
    )];
    if scenario != "flash-sale" {
        notes.push(
            "This scenario is open loop: below saturation every configuration delivers what is offered, so throughput ratios are ≈ 1 and the cost shows in p99. Raise --rate (or --viewers) until a configuration falls behind to compare capacity.".to_owned(),
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    notes.push(format!(
        "The {} of the last run, their Redis and this load generator all share this machine's {cores} cores: '{} ÷ 1 node' shows what spreading the clients over nodes costs here, not how far the server scales out (that needs a machine, or machines, with cores for every node).",
        plural_nodes(many.nodes),
        plural_nodes(many.nodes)
    ));
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{DeliveryAudit, TargetInfo};
    use crate::stats::LatencySummary;

    fn flags() -> TargetFlags {
        TargetFlags::default()
    }

    #[test]
    fn a_plain_run_uses_the_scenarios_store_on_one_node() {
        let plan = plan(&flags(), StoreKind::Memory).unwrap();
        assert_eq!(plan, vec![Configuration::spawn(1, StoreKind::Memory)]);
        assert_eq!(plan[0].label, "1 node, memory");
    }

    #[test]
    fn several_nodes_go_through_redis() {
        let f = TargetFlags {
            nodes: Some(3),
            ..flags()
        };
        let plan = plan(&f, StoreKind::Memory).unwrap();
        assert_eq!(
            plan[0].layout,
            Layout::Spawn {
                nodes: 3,
                store: StoreKind::Redis
            }
        );
        assert_eq!(plan[0].label, "3 nodes, redis");
        let memory = TargetFlags {
            store: Some(StoreKind::Memory),
            ..f
        };
        assert!(super::plan(&memory, StoreKind::Memory).is_err());
    }

    #[test]
    fn one_node_through_redis_is_asked_with_store() {
        let f = TargetFlags {
            nodes: Some(1),
            store: Some(StoreKind::Redis),
            ..flags()
        };
        assert_eq!(
            plan(&f, StoreKind::Memory).unwrap(),
            vec![Configuration::spawn(1, StoreKind::Redis)]
        );
    }

    #[test]
    fn a_comparison_is_memory_then_redis_then_n_nodes() {
        let f = TargetFlags {
            compare_nodes: Some(3),
            ..flags()
        };
        let labels: Vec<String> = plan(&f, StoreKind::Redis)
            .unwrap()
            .into_iter()
            .map(|c| c.label)
            .collect();
        assert_eq!(
            labels,
            ["1 node, memory", "1 node, redis", "3 nodes, redis"]
        );
        let one = TargetFlags {
            compare_nodes: Some(1),
            ..flags()
        };
        assert!(plan(&one, StoreKind::Redis).is_err());
        let with_url = TargetFlags {
            compare_nodes: Some(2),
            urls: vec!["http://127.0.0.1:1".into()],
            ..flags()
        };
        assert!(plan(&with_url, StoreKind::Redis).is_err());
    }

    #[test]
    fn a_journal_comparison_is_the_same_servers_with_the_journal_off_then_on() {
        let f = TargetFlags {
            compare_journal: true,
            ..TargetFlags::default()
        };
        let configs = plan(&f, StoreKind::Memory).unwrap();
        let labels: Vec<&str> = configs.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            ["1 node, memory, journal off", "1 node, memory, journal on"]
        );
        assert_eq!(
            configs[0].server_env,
            [("CHOPHIEN_JOURNAL__ENABLED".to_owned(), "false".to_owned())]
        );
        assert!(configs[1].server_env.is_empty());
        let with_url = TargetFlags {
            urls: vec!["127.0.0.1:8080".into()],
            ..f
        };
        assert!(plan(&with_url, StoreKind::Memory).is_err());
    }

    #[test]
    fn external_nodes_are_one_configuration() {
        let f = TargetFlags {
            urls: vec!["http://127.0.0.1:1".into(), "http://127.0.0.1:2".into()],
            ..flags()
        };
        let plan = plan(&f, StoreKind::Memory).unwrap();
        assert_eq!(plan[0].label, "2 nodes (external)");
        let with_nodes = TargetFlags {
            nodes: Some(2),
            ..f
        };
        assert!(super::plan(&with_nodes, StoreKind::Memory).is_err());
    }

    fn report(nodes: usize, store: StoreKind, throughput: f64, p99: f64) -> Report {
        Report {
            scenario: "chat".into(),
            target: TargetInfo {
                nodes: (0..nodes)
                    .map(|k| format!("http://127.0.0.1:{k}"))
                    .collect(),
                store: Some(store),
                ..TargetInfo::default()
            },
            throughput_per_s: throughput,
            latency_ms: LatencySummary {
                p99,
                ..LatencySummary::default()
            },
            delivery: Some(DeliveryAudit {
                ok: true,
                ..DeliveryAudit::default()
            }),
            ..Report::default()
        }
    }

    #[test]
    fn a_comparison_reports_both_ratios_and_keeps_the_last_run_on_top() {
        let f = TargetFlags {
            compare_nodes: Some(3),
            ..flags()
        };
        let configs = plan(&f, StoreKind::Memory).unwrap();
        let reports = vec![
            report(1, StoreKind::Memory, 1000.0, 10.0),
            report(1, StoreKind::Redis, 800.0, 20.0),
            report(3, StoreKind::Redis, 2000.0, 30.0),
        ];
        let combined = combine(configs.into_iter().zip(reports).collect(), true, false).unwrap();
        let c = combined.comparison.clone().unwrap();
        assert!((c.redis_over_memory.throughput - 0.8).abs() < 1e-9);
        assert!((c.redis_over_memory.p99 - 2.0).abs() < 1e-9);
        assert!((c.nodes_over_single.throughput - 2.5).abs() < 1e-9);
        assert!(c.meets_goal);
        assert_eq!(c.nodes, 3);
        assert_eq!(combined.runs.len(), 3);
        assert_eq!(combined.runs[2].label, "3 nodes, redis");
        assert_eq!(combined.throughput_per_s, 2000.0);
        assert!(combined.violations().is_empty());
        assert!(combined
            .notes
            .iter()
            .any(|n| n.contains("share this machine's")));
    }

    #[test]
    fn a_violation_in_any_run_is_reported_with_its_label() {
        let f = TargetFlags {
            compare_nodes: Some(2),
            ..flags()
        };
        let configs = plan(&f, StoreKind::Memory).unwrap();
        let mut bad = report(1, StoreKind::Memory, 1000.0, 10.0);
        bad.delivery = Some(DeliveryAudit {
            ok: false,
            duplicates: 1,
            violations: vec!["ORDER: viewer lt-v1 …".into()],
            ..DeliveryAudit::default()
        });
        let reports = vec![
            bad,
            report(1, StoreKind::Redis, 800.0, 20.0),
            report(2, StoreKind::Redis, 1600.0, 30.0),
        ];
        let combined = combine(configs.into_iter().zip(reports).collect(), true, false).unwrap();
        assert_eq!(
            combined.violations(),
            vec!["[1 node, memory] ORDER: viewer lt-v1 …".to_owned()]
        );
    }
}
