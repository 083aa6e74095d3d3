//! The `flash-sale` command line: the sale, the buyers' behaviour, the
//! baselines, and the small `--quick` variant.

use serde::Serialize;

#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct FlashSaleArgs {
    /// Buyers, each on its own connection.
    #[arg(long, default_value_t = 10_000)]
    pub buyers: usize,
    /// Units for sale.
    #[arg(long, default_value_t = 1_000)]
    pub stock: u32,
    #[arg(long, default_value_t = 1)]
    pub per_buyer_limit: u32,
    /// Units per buy request.
    #[arg(long, default_value_t = 1)]
    pub quantity: u32,
    /// Buy requests per second (open loop); absent: all at once at sale start.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Fraction of buyers that send their buy twice with the same key.
    #[arg(long, default_value_t = 0.1)]
    pub retry_fraction: f64,
    /// Fraction of reserving buyers that buy again with a new key.
    #[arg(long, default_value_t = 0.05)]
    pub greedy_fraction: f64,
    /// Fraction of holders that confirm their order.
    #[arg(long, default_value_t = 0.5)]
    pub confirm_fraction: f64,
    /// Fraction of holders that cancel (the rest let the hold expire).
    #[arg(long, default_value_t = 0.2)]
    pub cancel_fraction: f64,
    /// Hold lifetime, seconds (the run waits for it to pass).
    #[arg(long, default_value_t = 30)]
    pub hold_secs: u32,
    /// Same-run baselines, comma-separated: `redis` (redis-benchmark on the
    /// buy function), `postgres` (pgbench on a hot stock row), or `none`.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BaselineKind::Redis])]
    pub baseline: Vec<BaselineKind>,
    /// How long the postgres baseline runs, seconds.
    #[arg(long, default_value_t = 10)]
    pub pgbench_secs: u64,
    /// Calls the redis-benchmark baseline makes.
    #[arg(long, default_value_t = 200_000)]
    pub bench_requests: u64,
    /// redis-benchmark connections (default: the buyer count, at most 2,000).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench_connections: Option<usize>,
    /// With --url: the port of the server's Redis, for the baseline and the
    /// direct stock check.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_port: Option<u16>,
    /// Run a CPU hog (`stress-ng --cpu 1`) on the server's CPU (1, also
    /// when not pinned) for the whole buy phase.
    #[arg(long)]
    pub hog: bool,
    /// How long a buyer keeps retrying a buy answered `busy` (with the
    /// same key, after the `retry_after_ms` it names) before giving up,
    /// seconds from the buy's intended time.
    #[arg(long, default_value_t = 60)]
    pub busy_patience_secs: u64,
    /// Spread the buyers over this many buyer agents (child processes);
    /// 0 keeps them in this process. Default: as many as the open-file
    /// limit asks for (one process holds ~18,000 sockets at a limit of
    /// 20,000).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineKind {
    Redis,
    Postgres,
    None,
}

impl FlashSaleArgs {
    /// The same sale without same-run baselines (for the configurations of
    /// `--compare-nodes` other than the last).
    pub fn without_baselines(mut self) -> FlashSaleArgs {
        self.baseline = vec![BaselineKind::None];
        self
    }

    pub fn quick(mut self) -> FlashSaleArgs {
        self.buyers = self.buyers.min(300);
        self.stock = self.stock.min(100);
        self.hold_secs = self.hold_secs.min(4);
        self.bench_requests = self.bench_requests.min(20_000);
        self.pgbench_secs = self.pgbench_secs.min(3);
        self
    }
}
