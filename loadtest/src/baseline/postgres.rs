//! The optional relational baseline for `flash-sale --baseline postgres`:
//! `pgbench` decrementing one hot stock row with a guarded `UPDATE` — the
//! classic way a shop sells the last units, serialised on one row lock.
//!
//! The harness creates a throw-away cluster (`initdb` in a temporary
//! directory, `postgres` on a free loopback port; run as `nobody` when the
//! harness is root, which PostgreSQL refuses) with `synchronous_commit=off`,
//! the durability closest to Redis' `appendfsync everysec`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use super::redis_bench::BenchResult;
use crate::target::{free_port, Spawned};

/// The transaction pgbench repeats: take one unit if any is left.
const HOT_ROW_UPDATE: &str =
    "UPDATE stock SET remaining = remaining - 1 WHERE id = 1 AND remaining >= 1;\n";
/// The unprivileged user PostgreSQL runs as when the harness is root.
const NOBODY: u32 = 65534;

/// A PostgreSQL program: on PATH, else in the newest /usr/lib/postgresql/*/bin.
fn pg_bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.is_file());
    versions.sort();
    versions.pop().unwrap_or_else(|| PathBuf::from(name))
}

/// `program` run as `nobody` when we are root (PostgreSQL refuses root).
fn as_server_user(program: &Path) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut command = Command::new("setpriv");
        command.args([
            format!("--reuid={NOBODY}"),
            format!("--regid={NOBODY}"),
            "--clear-groups".into(),
        ]);
        command.arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Start a cluster, create the stock row, run pgbench for `secs` over
/// `connections`, and return its transactions per second.
pub async fn run(connections: usize, secs: u64) -> anyhow::Result<BenchResult> {
    tokio::task::spawn_blocking(move || run_blocking(connections.clamp(1, 200), secs)).await?
}

fn run_blocking(connections: usize, secs: u64) -> anyhow::Result<BenchResult> {
    let dir = tempfile::tempdir()?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY))?;
    }
    let data = dir.path().join("data");
    let init = as_server_user(&pg_bin("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("could not run initdb (is PostgreSQL installed?)")?;
    if !init.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&init.stderr));
    }
    let port = free_port()?;
    let log = std::fs::File::create(dir.path().join("postgres.log"))?;
    let child = as_server_user(&pg_bin("postgres"))
        .arg("-D")
        .arg(&data)
        .args([
            "-p",
            &port.to_string(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "synchronous_commit=off",
        ])
        .args(["-c", &format!("max_connections={}", connections + 10)])
        .arg("-k")
        .arg(dir.path())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .context("could not start postgres")?;
    let server = Spawned {
        child,
        port,
        dir,
        name: "postgres",
    };
    let psql = |sql: &str| {
        Command::new(pg_bin("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                sql,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !psql("SELECT 1") {
        if std::time::Instant::now() > deadline {
            bail!("postgres did not start:\n{}", server.log_tail());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !psql("CREATE TABLE stock (id int PRIMARY KEY, remaining bigint NOT NULL); INSERT INTO stock VALUES (1, 2000000000);") {
        bail!("could not create the stock table");
    }
    let script = server.dir.path().join("hot-row.sql");
    std::fs::write(&script, HOT_ROW_UPDATE)?;
    let mut command = Command::new(pg_bin("pgbench"));
    command
        .args([
            "-n",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
        ])
        .args([
            "-c",
            &connections.to_string(),
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            "-f",
        ])
        .arg(&script)
        .arg("postgres");
    let line = format!("{command:?}").replace('"', "");
    let output = command.output().context("could not run pgbench")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let per_second =
        parse_tps(&stdout).with_context(|| format!("cannot read pgbench output: {stdout}"))?;
    Ok(BenchResult {
        per_second,
        command: format!("{line} ({HOT_ROW_UPDATE:?}, synchronous_commit=off)"),
    })
}

/// `tps = 1234.5 (without initial connection time)` → 1234.5.
fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find(|l| l.starts_with("tps = "))?
        .trim_start_matches("tps = ")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_tps_is_parsed() {
        let out = "latency average = 1.2 ms\ninitial connection time = 3.1 ms\ntps = 8123.456789 (without initial connection time)\n";
        assert_eq!(parse_tps(out), Some(8123.456789));
        assert_eq!(parse_tps("nothing"), None);
    }
}
