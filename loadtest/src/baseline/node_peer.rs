//! Node.js peers (`loadtest/peers/<name>/`): installed with `npm ci` on first
//! use, started on a free loopback port, their process id known so their CPU
//! can be read like the server's.
//!
//! Each peer's `server.js` listens on `127.0.0.1:$PORT` and prints
//! `listening <port>` once it accepts connections.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::target::{free_port, workspace_root, Spawned};

/// A peer's directory (package.json, package-lock.json, server.js).
pub fn dir(name: &str) -> PathBuf {
    workspace_root().join("loadtest/peers").join(name)
}

/// Start peer `name` on a free port, installing its packages first (`npm
/// ci`) when `node_modules/<package>` is missing.
pub async fn spawn(name: &'static str, package: &str) -> anyhow::Result<Spawned> {
    let dir = dir(name);
    if !dir.join("node_modules").join(package).is_dir() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .context("could not run npm (is Node.js installed?)")?;
        if !status.success() {
            bail!("npm ci failed in {}", dir.display());
        }
    }
    let logs = tempfile::tempdir()?;
    let port = free_port()?;
    let log = std::fs::File::create(logs.path().join(format!("{name}.log")))?;
    let child = Command::new("node")
        .arg("server.js")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .context("could not start node")?;
    let spawned = Spawned {
        child,
        port,
        dir: logs,
        name,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if std::fs::read_to_string(spawned.log_path()).is_ok_and(|l| l.contains("listening")) {
            return Ok(spawned);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the {name} peer did not start:\n{}", spawned.log_tail())
}
