//! `chophien-loadtest`: load tests for the Chợ Phiên server, with baselines
//! measured in the same run.
//!
//! Layout:
//! - `target`: the system under test — spawn `chophien` (and `redis-server`)
//!   on free loopback ports, or point at a running loopback server.
//! - `tokens`: HS256 tokens minted with the server's secret.
//! - `client`: small-buffer WebSocket clients and the few HTTP calls.
//! - `schedule`: open-loop send times; `stats`: HdrHistogram latencies
//!   (coordinated-omission corrected) and throughput over time.
//! - `scenario`: `flash-sale` (with its invariant `audit`), `chat`, `join`.
//! - `baseline`: `redis-benchmark` on the sale function; the Socket.IO peer.
//! - `report` (JSON + Markdown) and `chart` (SVG).
//!
//! Exit status: 0 on success, 1 when the flash-sale audit found a violated
//! invariant, 2 when the run itself failed.

mod baseline;
mod chart;
mod client;
mod report;
mod scenario;
mod schedule;
mod stats;
mod target;
mod tokens;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use report::Report;
use scenario::Ctx;
use target::{ServerOptions, Target};

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
    /// instead of spawning one.
    #[arg(long, global = true, conflicts_with = "spawn")]
    url: Option<String>,
    /// Spawn a chophien server (and redis-server) for the run (the default).
    #[arg(long, global = true)]
    spawn: bool,
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
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Buyers race for a flash sale's stock; audits the invariants after.
    FlashSale(scenario::flash_sale::FlashSaleArgs),
    /// Viewers in one room, a few senders: chat fan-out.
    Chat(scenario::chat::ChatArgs),
    /// A storm of viewers joining one room; server memory per viewer.
    Join(scenario::join::JoinArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            outcome = run(cli) => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    match outcome {
        Ok(report) => match report.invariants.as_ref() {
            Some(invariants) if !invariants.ok => {
                eprintln!(
                    "!!!!! INVARIANT VIOLATED: {}",
                    invariants.violations.join("; ")
                );
                ExitCode::from(1)
            }
            _ => ExitCode::SUCCESS,
        },
        Err(e) => {
            eprintln!("chophien-loadtest: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<Report> {
    let limit = target::raise_nofile_limit()?;
    if limit < 20_000 {
        eprintln!("warning: open-file limit is {limit}; large runs may fail to connect");
    }
    let common = &cli.common;
    let needs_redis = matches!(cli.scenario, Scenario::FlashSale(_));
    let (target, server_binary) = match &common.url {
        Some(url) => {
            let (http_base, ws_base) = target::loopback_bases(url)?;
            (
                Target {
                    http_base,
                    ws_base,
                    server: None,
                    redis: None,
                },
                None,
            )
        }
        None => {
            let redis = if needs_redis {
                Some(target::spawn_redis().await?)
            } else {
                None
            };
            let binary = target::locate_server(common.server_bin.as_deref())?;
            let server = target::spawn_server(ServerOptions {
                binary: Some(&binary),
                secret: &common.secret,
                redis_port: redis.as_ref().map(|r| r.port),
                extra_env: Vec::new(),
            })
            .await?;
            let base = format!("127.0.0.1:{}", server.port);
            let target = Target {
                http_base: format!("http://{base}"),
                ws_base: format!("ws://{base}"),
                server: Some(server),
                redis,
            };
            (target, Some(binary.display().to_string()))
        }
    };
    let ctx = Ctx {
        target,
        minter: Arc::new(tokens::Minter::new(&common.secret)),
        http: reqwest::Client::new(),
        quick: common.quick,
        show_progress: !common.no_progress && std::io::stderr().is_terminal(),
        server_binary,
    };
    let report = match cli.scenario {
        Scenario::FlashSale(args) => scenario::flash_sale::run(&ctx, args).await?,
        Scenario::Chat(args) => scenario::chat::run(&ctx, args).await?,
        Scenario::Join(args) => scenario::join::run(&ctx, args).await?,
    };
    write_outputs(&report, common)?;
    Ok(report)
}

fn write_outputs(report: &Report, common: &Common) -> anyhow::Result<()> {
    let markdown = report.markdown();
    println!("{markdown}");
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
    Ok(())
}
