//! `chophien-loadtest`: load tests for the Chợ Phiên server, with baselines
//! measured in the same run.
//!
//! Layout:
//! - `target`: the system under test — spawn one or more `chophien` nodes
//!   (and the `redis-server` they share) on free loopback ports, or point at
//!   running loopback servers.
//! - `plan`: which configurations one invocation runs (one, or three for
//!   `--compare-nodes`) and how their reports combine.
//! - `tokens`: HS256 tokens minted with the server's secret.
//! - `client`: small-buffer WebSocket clients and the few HTTP calls.
//! - `schedule`: open-loop send times; `stats`: HdrHistogram latencies
//!   (coordinated-omission corrected) and throughput over time.
//! - `scenario`: `flash-sale` (with its invariant `audit`), `chat`, `join`,
//!   `mixed` (flash sale + bag + voucher, with its own audit), `practice`,
//!   `video` (a WebRTC publisher and N viewers: the SFU's cost per viewer).
//! - `baseline`: `redis-benchmark` on the sale function; the Node peers
//!   for chat (Socket.IO, `ws`).
//! - `pinning` (`--pin`: harness and servers on separate CPUs), `hog`
//!   (`--hog`: a CPU hog beside the server), `server_metrics` (the
//!   server's own counters from `/metrics`).
//! - `report` (JSON + Markdown) and `chart` (SVG).
//!
//! Exit status: 0 on success, 1 when an audit (the flash-sale invariants,
//! the chat delivery) found a violation in any run, 2 when a run failed.

mod baseline;
mod chart;
mod client;
mod hog;
mod pinning;
mod plan;
mod report;
mod scenario;
mod schedule;
mod server_metrics;
mod stats;
mod target;
mod tokens;

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use pinning::Pinning;
use plan::{Configuration, Layout, TargetFlags};
use report::Report;
use scenario::Ctx;
use target::{StoreKind, Target};

/// Load tests for Chợ Phiên: flash-sale bursts, chat fan-out, join storms.
#[derive(Debug, Parser)]
#[command(name = "chophien-loadtest", version, about)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Args)]
struct Common {
    /// Test a running server at this loopback URL (http://127.0.0.1:PORT)
    /// instead of spawning one; give it once per node to spread the clients
    /// over several.
    #[arg(long, global = true, conflicts_with = "spawn", value_name = "URL")]
    url: Vec<String>,
    /// Spawn the chophien nodes (and redis-server) for the run (the default).
    #[arg(long, global = true)]
    spawn: bool,
    /// Spawn N chophien nodes on one redis-server and spread the clients
    /// over them round-robin (the seller on node 0). More than one node
    /// implies --store redis.
    #[arg(long, global = true, value_name = "N")]
    nodes: Option<usize>,
    /// Where spawned nodes keep rooms and sales (default: memory for chat
    /// and join, redis for flash-sale; redis with several nodes).
    #[arg(long, global = true, value_enum)]
    store: Option<StoreKind>,
    /// Run the scenario three times — 1 node with the memory store, 1 node
    /// through Redis, N nodes through Redis — and compare them.
    #[arg(
        long,
        global = true,
        value_name = "N",
        num_args = 0..=1,
        default_missing_value = "3"
    )]
    compare_nodes: Option<usize>,
    /// Run the scenario twice on spawned servers, with their session
    /// journal off and then on, and report on ÷ off.
    #[arg(long, global = true)]
    compare_journal: bool,
    /// A setting for the spawned redis-server over config/redis.conf, as
    /// NAME=VALUE (e.g. appendfsync=everysec); repeat for several.
    #[arg(long, global = true, value_name = "NAME=VALUE", value_parser = target::redis_setting)]
    redis_set: Vec<(String, String)>,
    /// The chophien binary to spawn (default: target/release/chophien,
    /// then target/debug/chophien).
    #[arg(long, global = true, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// The server's token secret (spawned servers are given it).
    #[arg(long, global = true, default_value = tokens::DEV_SECRET)]
    secret: String,
    /// Write the JSON report here (and the Markdown and SVG beside it,
    /// as .md and .svg, unless --markdown / --svg say otherwise).
    #[arg(long, global = true, value_name = "PATH")]
    json: Option<PathBuf>,
    #[arg(long, global = true, value_name = "PATH")]
    markdown: Option<PathBuf>,
    #[arg(long, global = true, value_name = "PATH")]
    svg: Option<PathBuf>,
    /// A small version of the scenario that runs in well under a minute.
    #[arg(long, global = true)]
    quick: bool,
    /// No progress bars.
    #[arg(long, global = true)]
    no_progress: bool,
    /// Pin the harness to CPU 0 and start redis-server and the nodes under
    /// `taskset -c 1` (redis-benchmark under `taskset -c 0`), so the load
    /// generator and the server do not share a core.
    #[arg(long, global = true)]
    pin: bool,
}

#[derive(Debug, Clone, Subcommand)]
enum Scenario {
    /// Buyers race for a flash sale's stock; audits the invariants after.
    FlashSale(scenario::flash_sale::FlashSaleArgs),
    /// Viewers in one room, a few senders: chat fan-out.
    Chat(scenario::chat::ChatArgs),
    /// A storm of viewers joining one room; server memory per viewer.
    Join(scenario::join::JoinArgs),
    /// The flash sale, the shopping bag and a voucher at once; audits every
    /// unit after.
    Mixed(scenario::mixed::MixedArgs),
    /// Practice rooms with simulated audiences (the server's bots) for a
    /// while: errors, server memory and CPU over time.
    Practice(scenario::practice::PracticeArgs),
    /// A WebRTC publisher and N viewers: the SFU's CPU, memory, losses and
    /// forward delay per viewer.
    Video(scenario::video::VideoArgs),
}

impl Scenario {
    /// How many connections the scenario opens at most (its clients).
    fn clients(&self) -> usize {
        match self {
            Scenario::FlashSale(args) => args.buyers + 1,
            Scenario::Chat(args) => args.viewers + args.senders,
            Scenario::Join(args) => args.viewers,
            Scenario::Mixed(args) => args.shoppers + 3,
            Scenario::Practice(args) => args.rooms,
            Scenario::Video(args) => args.max_viewers() + 1,
        }
    }

    /// Where spawned nodes keep their state unless told otherwise.
    fn default_store(&self) -> StoreKind {
        match self {
            Scenario::FlashSale(_) | Scenario::Mixed(_) => StoreKind::Redis,
            Scenario::Chat(_) | Scenario::Join(_) | Scenario::Practice(_) | Scenario::Video(_) => {
                StoreKind::Memory
            }
        }
    }

    /// The same load without same-run baselines.
    fn without_baselines(self) -> Scenario {
        match self {
            Scenario::FlashSale(args) => Scenario::FlashSale(args.without_baselines()),
            Scenario::Chat(args) => Scenario::Chat(args.without_peer()),
            join @ Scenario::Join(_) => join,
            Scenario::Mixed(args) => Scenario::Mixed(args.without_baseline()),
            practice @ Scenario::Practice(_) => practice,
            video @ Scenario::Video(_) => video,
        }
    }

    async fn run(self, ctx: &Ctx) -> anyhow::Result<Report> {
        match self {
            Scenario::FlashSale(args) => scenario::flash_sale::run(ctx, args).await,
            Scenario::Chat(args) => scenario::chat::run(ctx, args).await,
            Scenario::Join(args) => scenario::join::run(ctx, args).await,
            Scenario::Mixed(args) => scenario::mixed::run(ctx, args).await,
            Scenario::Practice(args) => scenario::practice::run(ctx, args).await,
            Scenario::Video(args) => scenario::video::run(ctx, args).await,
        }
    }

    /// Settings spawned servers need for this scenario (`CHOPHIEN_*`).
    fn server_env(&self) -> Vec<(String, String)> {
        match self {
            Scenario::Video(_) => scenario::video::VideoArgs::server_env(),
            _ => Vec::new(),
        }
    }
}

fn main() -> ExitCode {
    // A buyer agent: part of a flash sale's buyers, for a coordinating
    // harness (see scenario::flash_sale::agent), not for people.
    if std::env::args().nth(1).as_deref() == Some(scenario::flash_sale::AGENT_SUBCOMMAND) {
        return buyer_agent();
    }
    let cli = Cli::parse();
    // Before the runtime: its threads inherit the harness's CPU mask.
    let pinning = if cli.common.pin {
        match pinning::pin_harness() {
            Ok(pinning) => Some(pinning),
            Err(e) => {
                eprintln!("chophien-loadtest: {e:#}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chophien-loadtest: cannot start Tokio: {e}");
            return ExitCode::from(2);
        }
    };
    // On Ctrl-C the run is dropped, and with it the spawned processes.
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run(cli, pinning) => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    match outcome {
        Ok(report) => {
            let mut violations = report.violations();
            // The video scenario's failures: no keyframe, high loss.
            if let Some(video) = &report.video {
                violations.extend(video.violations.iter().cloned());
            }
            if violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!("!!!!! INVARIANT VIOLATED: {}", violations.join("; "));
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("chophien-loadtest: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn buyer_agent() -> ExitCode {
    let outcome = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(scenario::flash_sale::serve_agent()));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chophien-loadtest buyer agent: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli, pinning: Option<Pinning>) -> anyhow::Result<Report> {
    // Each client is a socket here and one in the server (which inherits
    // the limit), plus margin for Redis, logs and HTTP.
    let clients = cli.scenario.clients() as u64;
    let limit = target::raise_nofile_limit(2 * clients + 1_000)?;
    if limit < clients + 1_000 {
        eprintln!("warning: open-file limit is {limit}, below the ~{} one process of this run needs; it could not be raised (that takes CAP_SYS_RESOURCE): flash-sale spreads its buyers over agent processes, but each server node is one process with this limit", clients + 1_000);
    }
    let common = &cli.common;
    let flags = TargetFlags {
        urls: common.url.clone(),
        nodes: common.nodes,
        store: common.store,
        compare_nodes: common.compare_nodes,
        compare_journal: common.compare_journal,
    };
    let mut configurations = plan::plan(&flags, cli.scenario.default_store())?;
    for configuration in &mut configurations {
        configuration.server_env.extend(cli.scenario.server_env());
    }
    let spawns = configurations
        .iter()
        .any(|c| matches!(c.layout, Layout::Spawn { .. }));
    let binary = if spawns {
        Some(target::locate_server(common.server_bin.as_deref())?)
    } else {
        None
    };
    let several = configurations.len() > 1;
    let mut runs = Vec::with_capacity(configurations.len());
    for (k, configuration) in configurations.iter().enumerate() {
        let last = k + 1 == configurations.len();
        if several {
            eprintln!(
                "== run {}/{}: {}",
                k + 1,
                configurations.len(),
                configuration.label
            );
        }
        let scenario = if last {
            cli.scenario.clone()
        } else {
            cli.scenario.clone().without_baselines()
        };
        let report = run_one(
            configuration,
            binary.as_deref(),
            common,
            pinning.as_ref(),
            scenario,
        )
        .await?;
        runs.push((configuration.clone(), report));
    }
    let report = plan::combine(runs, common.compare_nodes.is_some(), common.compare_journal)?;
    write_outputs(&report, common)?;
    Ok(report)
}

/// Start (or reach) one configuration's nodes, run the scenario on them,
/// and stop what was started.
async fn run_one(
    configuration: &Configuration,
    binary: Option<&Path>,
    common: &Common,
    pinning: Option<&Pinning>,
    scenario: Scenario,
) -> anyhow::Result<Report> {
    let target = match (&configuration.layout, binary) {
        (Layout::External(urls), _) => Target::external(urls)?,
        (Layout::Spawn { nodes, store }, Some(binary)) => {
            Target::spawn(
                binary,
                &common.secret,
                *nodes,
                *store,
                &common.redis_set,
                &configuration.server_env,
                pinning,
            )
            .await?
        }
        (Layout::Spawn { .. }, None) => anyhow::bail!("no chophien binary to spawn"),
    };
    let ctx = Ctx {
        target,
        minter: Arc::new(tokens::Minter::new(&common.secret)),
        secret: common.secret.clone(),
        http: reqwest::Client::new(),
        quick: common.quick,
        show_progress: !common.no_progress && std::io::stderr().is_terminal(),
        server_binary: binary.map(|b| b.display().to_string()),
        pinning: pinning.cloned(),
    };
    let before = ctx.target.cpu_use();
    let mut report = scenario.run(&ctx).await?;
    report
        .counts
        .extend(ctx.target.cpu_use().counts_since(&before));
    // Where Redis spent its time, per command (the run's own Redis only).
    if let Some(redis) = &ctx.target.redis {
        for (command, calls, usec) in target::redis_command_stats(redis.port).await? {
            if matches!(command.as_str(), "fcall" | "fcall_ro" | "xrange" | "hget") {
                report
                    .counts
                    .insert(format!("redis_{command}_calls"), calls);
                report.counts.insert(format!("redis_{command}_usec"), usec);
            }
        }
    }
    Ok(report)
}

/// Write the report files, then print the Markdown (files first: a closed
/// stdout, as with `| head`, must not cost the report).
fn write_outputs(report: &Report, common: &Common) -> anyhow::Result<()> {
    let markdown = report.markdown();
    let beside = |ext: &str| common.json.as_deref().map(|p: &Path| p.with_extension(ext));
    if let Some(path) = &common.json {
        std::fs::write(path, serde_json::to_string_pretty(report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = common.markdown.clone().or_else(|| beside("md")) {
        std::fs::write(&path, &markdown).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = common.svg.clone().or_else(|| beside("svg")) {
        chart::write_svg(report, &path)?;
    }
    let _ = writeln!(std::io::stdout(), "{markdown}");
    Ok(())
}
