//! The flash-sale ceiling: `redis-benchmark` calling the sale store's own
//! single-buy Redis function against the same `redis-server` the run used.
//!
//! Every call reserves one unit for a fresh random buyer with a fresh
//! idempotency key (`__rand_int__`, with `-r`), on a benchmark sale whose
//! stock and per-buyer limit never run out, so each call takes the full
//! reservation path: idempotency check, stock check, limit check, writes.
//! Our end-to-end buy answers per second divided by this is the ratio.
//! [`run_bag_add`] does the same for the shopping bag's add (the mixed
//! scenario's ceiling): a fresh buyer and key per call, one unit of a
//! product with stock that never runs out.
//!
//! **The one place to adjust when the sale library changes** is
//! [`BenchCall`]: the function names, key layout and argument order of
//! `src/sale/redis/chophien.lua` (library `chophien`), as of the room-tagged
//! layout (every key of room R under `{room:R}`, nine keys per call).

use std::process::Command;

use anyhow::{bail, Context};

/// The Redis function calls the baseline makes, mirroring the server's
/// sale store. Change here, nowhere else, if the library changes.
pub struct BenchCall {
    /// A room of its own for each run: one sale runs in a room at a time,
    /// so a fixed room would refuse the next run's sale for a day.
    pub room_id: String,
    /// The benchmark sale's id (its keys share its room's hash tag
    /// `{room:ID}`).
    pub sale_id: String,
}

impl BenchCall {
    const CREATE: &'static str = "chophien_create_sale";
    const BUY: &'static str = "chophien_buy";
    const BAG_ADD: &'static str = "chophien_bag_add";
    /// Stock and per-buyer limit large enough never to run out.
    const UNLIMITED: u64 = 2_000_000_000;

    pub fn new() -> BenchCall {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        BenchCall {
            room_id: format!("loadtest-bench-{}", &suffix[..12]),
            // Sale ids are hex.
            sale_id: suffix[12..24].to_owned(),
        }
    }

    fn keys(&self) -> Vec<String> {
        sale_keys(&self.room_id, &self.sale_id)
    }

    /// `FCALL chophien_create_sale 13 <keys> now product-stock field value
    /// …`: a sale live from the epoch until far in the future, of a product
    /// with as many units.
    pub fn create_command(&self, now_ms: u64) -> Vec<String> {
        let unlimited = Self::UNLIMITED.to_string();
        let fields: [(&str, String); 13] = [
            ("sale_id", self.sale_id.clone()),
            ("room_id", self.room_id.clone()),
            ("product_id", "p1".into()),
            ("product_name", "bench".into()),
            ("price_vnd", "199000".into()),
            ("stock_total", unlimited.clone()),
            ("remaining", unlimited.clone()),
            ("per_buyer_limit", unlimited),
            ("starts_at", "0".into()),
            ("ends_at", (now_ms + 86_400_000).to_string()),
            ("hold_secs", "300".into()),
            ("ended", "0".into()),
            ("created_at", now_ms.to_string()),
        ];
        let mut command = vec![
            "FCALL".to_owned(),
            Self::CREATE.to_owned(),
            KEY_COUNT.to_string(),
        ];
        command.extend(self.keys());
        command.push(now_ms.to_string());
        command.push(Self::UNLIMITED.to_string());
        for (name, value) in fields {
            command.push(name.to_owned());
            command.push(value);
        }
        command
    }

    /// The redis-benchmark command line for `requests` single-unit buys over
    /// `connections` connections:
    /// `redis-benchmark -p PORT -c CONNS -n N -r R --csv FCALL chophien_buy 13 <keys> now buyer name 1 idem hold`.
    pub fn benchmark_command(
        &self,
        port: u16,
        connections: usize,
        requests: u64,
        now_ms: u64,
    ) -> Vec<String> {
        let mut command = fcall_line(port, connections, requests, Self::BUY);
        command.extend(self.keys());
        command.extend([
            now_ms.to_string(),
            "b-__rand_int__".into(),
            "Khach".into(),
            "1".into(),
            "k-__rand_int__-__rand_int__".into(),
            "h-__rand_int__-__rand_int__".into(),
        ]);
        command
    }

    /// `redis-benchmark … FCALL chophien_bag_add 13 <the bag's keys> now
    /// buyer name 1 idem hold p1 bench 199000 0 <seed> 600`: the product's
    /// stock is seeded (first call) with more than the run can take.
    pub fn bag_add_command(
        &self,
        port: u16,
        connections: usize,
        requests: u64,
        now_ms: u64,
    ) -> Vec<String> {
        let mut command = fcall_line(port, connections, requests, Self::BAG_ADD);
        command.extend(sale_keys(&self.room_id, BAG));
        command.extend([
            now_ms.to_string(),
            "b-__rand_int__".into(),
            "Khach".into(),
            "1".into(),
            "k-__rand_int__-__rand_int__".into(),
            "bag-__rand_int__-__rand_int__".into(),
            "p1".into(),
            "bench".into(),
            "199000".into(),
            "0".into(),
            Self::UNLIMITED.to_string(),
            "600".into(),
        ]);
        command
    }
}

/// `redis-benchmark -p PORT -c CONNS -n N -r 1e9 --csv FCALL <function> 13`:
/// the keys and arguments follow.
fn fcall_line(port: u16, connections: usize, requests: u64, function: &str) -> Vec<String> {
    vec![
        "redis-benchmark".to_owned(),
        "-p".into(),
        port.to_string(),
        "-c".into(),
        connections.to_string(),
        "-n".into(),
        requests.to_string(),
        "-r".into(),
        "1000000000".into(),
        "--csv".into(),
        "FCALL".into(),
        function.into(),
        KEY_COUNT.to_string(),
    ]
}

/// The pseudo sale id of a room's shopping bag (its keys are a sale's).
const BAG: &str = "bag";

/// How many keys every sale function takes.
const KEY_COUNT: usize = 13;

/// The thirteen keys every sale function takes, in the library's order
/// (`src/sale/redis/chophien.lua`): the sale's seven
/// (`{room:R}:sale:S:<name>`; the first, `meta`, holds the sale's fields,
/// `remaining` among them), then its room's six.
pub fn sale_keys(room_id: &str, sale_id: &str) -> Vec<String> {
    let sale = [
        "meta",
        "buyers",
        "idem",
        "holds",
        "deadlines",
        "statuses",
        "orders",
    ]
    .iter()
    .map(|name| format!("{{room:{room_id}}}:sale:{sale_id}:{name}"));
    let room = [
        "current_sale",
        "sales",
        "order_index",
        "stock",
        "vouchers",
        "voucher_uses",
    ]
    .iter()
    .map(|name| format!("{{room:{room_id}}}:{name}"));
    sale.chain(room).collect()
}

/// A sale's `remaining` read straight from Redis (`HGET
/// {room:R}:sale:S:meta remaining`): the audit's cross-check of what the
/// server reports.
pub async fn read_remaining(
    port: u16,
    room_id: &str,
    sale_id: &str,
) -> anyhow::Result<Option<u64>> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let meta = sale_keys(room_id, sale_id).swap_remove(0);
    let remaining: Option<u64> = redis::cmd("HGET")
        .arg(meta)
        .arg("remaining")
        .query_async(&mut connection)
        .await?;
    Ok(remaining)
}

/// Products' stock read straight from Redis (`HMGET {room:R}:stock …`):
/// the store's count, for the mixed scenario's audit (absent: 0).
pub async fn read_stock(
    port: u16,
    room_id: &str,
    products: &[&str],
) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let stock = sale_keys(room_id, BAG).swap_remove(10);
    let counts: Vec<Option<u64>> = redis::cmd("HMGET")
        .arg(stock)
        .arg(products)
        .query_async(&mut connection)
        .await?;
    Ok(products
        .iter()
        .zip(counts)
        .map(|(product, count)| (product.to_string(), count.unwrap_or(0)))
        .collect())
}

/// A baseline measurement: calls per second and the command that made it.
pub struct BenchResult {
    pub per_second: f64,
    pub command: String,
}

/// Create the benchmark sale, run redis-benchmark (after `prefix`, e.g.
/// `taskset -c 0` with `--pin`), parse its rate.
pub async fn run(
    port: u16,
    connections: usize,
    requests: u64,
    now_ms: u64,
    prefix: &[String],
) -> anyhow::Result<BenchResult> {
    let call = BenchCall::new();
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let create = call.create_command(now_ms);
    let mut cmd = redis::cmd(&create[0]);
    for arg in &create[1..] {
        cmd.arg(arg);
    }
    let reply: Vec<String> = cmd
        .query_async(&mut connection)
        .await
        .context("creating the benchmark sale (is the chophien function library loaded?)")?;
    if reply.first().map(String::as_str) != Some("ok") {
        bail!("creating the benchmark sale answered {reply:?}");
    }
    let mut line = prefix.to_vec();
    line.extend(call.benchmark_command(port, connections, requests, now_ms));
    benchmark(connection, line, call.keys()).await
}

/// The bag's ceiling: `redis-benchmark` calling `chophien_bag_add` (one
/// unit of a product whose stock never runs out, a fresh buyer and key per
/// call) on a room of its own.
pub async fn run_bag_add(
    port: u16,
    connections: usize,
    requests: u64,
    now_ms: u64,
    prefix: &[String],
) -> anyhow::Result<BenchResult> {
    let call = BenchCall::new();
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let connection = client.get_multiplexed_async_connection().await?;
    let mut line = prefix.to_vec();
    line.extend(call.bag_add_command(port, connections, requests, now_ms));
    benchmark(connection, line, sale_keys(&call.room_id, BAG)).await
}

/// Run the redis-benchmark `line`, parse its rate, then delete `keys` (the
/// benchmark's room leaves nothing behind in the store's Redis).
async fn benchmark(
    mut connection: redis::aio::MultiplexedConnection,
    line: Vec<String>,
    keys: Vec<String>,
) -> anyhow::Result<BenchResult> {
    let output = tokio::task::spawn_blocking({
        let line = line.clone();
        move || Command::new(&line[0]).args(&line[1..]).output()
    })
    .await?
    .context("could not run redis-benchmark (is it installed?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "redis-benchmark failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let per_second = parse_csv_rps(&stdout)
        .with_context(|| format!("cannot read redis-benchmark output: {stdout}"))?;
    // Leave no benchmark data behind in the store's Redis (its room's keys
    // included).
    let mut del = redis::cmd("DEL");
    for key in keys {
        del.arg(key);
    }
    let _: Result<u64, _> = del.query_async(&mut connection).await;
    Ok(BenchResult {
        per_second,
        command: line.join(" "),
    })
}

/// The requests-per-second column of `redis-benchmark --csv` output
/// (`"test","rps",…` then one quoted row per test; the test name may hold
/// commas, so fields are split on `","`).
fn parse_csv_rps(output: &str) -> Option<f64> {
    output
        .lines()
        .filter(|line| !line.starts_with("\"test\""))
        .filter_map(|line| line.split("\",\"").nth(1))
        .filter_map(|field| field.trim_matches('"').parse::<f64>().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benchmark_line_names_the_buy_function_and_thirteen_room_tagged_keys() {
        let call = BenchCall {
            room_id: "r1".into(),
            sale_id: "s1".into(),
        };
        let line = call.benchmark_command(6390, 50, 1000, 42);
        let at = line.iter().position(|a| a == "FCALL").unwrap();
        assert_eq!(&line[at + 1..at + 3], ["chophien_buy", "13"]);
        assert_eq!(line[at + 3], "{room:r1}:sale:s1:meta");
        assert_eq!(line[at + 9], "{room:r1}:sale:s1:orders");
        assert_eq!(line[at + 10], "{room:r1}:current_sale");
        assert_eq!(line[at + 11], "{room:r1}:sales");
        assert_eq!(line[at + 12], "{room:r1}:order_index");
        assert_eq!(line[at + 13], "{room:r1}:stock");
        assert_eq!(line[at + 15], "{room:r1}:voucher_uses");
        assert_eq!(line[at + 16], "42");
        assert!(line.iter().any(|a| a.contains("__rand_int__")));
        assert!(line.windows(2).any(|w| w[0] == "-r"));
    }

    #[test]
    fn the_bag_benchmark_calls_the_bag_add_function_on_the_bags_keys() {
        let call = BenchCall {
            room_id: "r1".into(),
            sale_id: "s1".into(),
        };
        let line = call.bag_add_command(6390, 50, 1000, 42);
        let at = line.iter().position(|a| a == "FCALL").unwrap();
        assert_eq!(&line[at + 1..at + 3], ["chophien_bag_add", "13"]);
        assert_eq!(line[at + 3], "{room:r1}:sale:bag:meta");
        assert_eq!(line[at + 13], "{room:r1}:stock");
        assert_eq!(line.len(), at + 3 + 13 + 12, "now and eleven arguments");
    }

    #[test]
    fn csv_rates_are_parsed() {
        let out = "\"test\",\"rps\",\"avg_latency_ms\"\n\"FCALL chophien_buy 7 x\",\"41322.31\",\"1.1\"\n";
        assert_eq!(parse_csv_rps(out), Some(41322.31));
        assert_eq!(parse_csv_rps("garbage"), None);
    }
}
