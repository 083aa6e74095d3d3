//! `--pin`: the load generator on one CPU, the system under test on
//! another, so that neither steals the other's cycles and a figure says
//! what one CPU of server does.
//!
//! - The harness pins itself to CPU 0 with `sched_setaffinity` at start,
//!   before the Tokio runtime exists: threads inherit their creator's
//!   mask, so every worker thread is born on CPU 0 (and Tokio, which sizes
//!   its pool by the CPUs it may use, starts one).
//! - `redis-server` and every `chophien` node start under `taskset -c 1`
//!   (which sets the mask and execs the program: the pid is the server's).
//! - `redis-benchmark`, the baseline, is a load generator: `taskset -c 0`.
//!
//! Other helpers the harness starts (PostgreSQL and pgbench, the Socket.IO
//! peer) inherit the harness's CPU 0. Unpinned — the default — everything
//! runs wherever the kernel puts it.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The CPU the harness (and redis-benchmark) runs on.
pub const HARNESS_CPU: usize = 0;
/// The CPU spawned servers and their Redis run on.
pub const SERVER_CPU: usize = 1;

/// Where each process of a pinned run ran, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pinning {
    /// The harness's CPUs (`taskset -c` list syntax).
    pub harness_cpus: String,
    /// The spawned servers' and Redis's CPUs.
    pub server_cpus: String,
    /// Which command ran on which CPUs, for people.
    pub commands: Vec<String>,
}

impl Pinning {
    /// The standard split: the harness on CPU 0, servers on CPU 1.
    pub fn standard() -> Pinning {
        let (h, s) = (HARNESS_CPU.to_string(), SERVER_CPU.to_string());
        Pinning {
            commands: vec![
                format!("chophien-loadtest (this harness): CPU {h} (sched_setaffinity at start)"),
                format!("redis-server: taskset -c {s}"),
                format!("chophien (every node): taskset -c {s}"),
                format!("redis-benchmark (baseline): taskset -c {h}"),
                format!("PostgreSQL, pgbench, the Socket.IO peer: CPU {h} (inherited)"),
            ],
            harness_cpus: h,
            server_cpus: s,
        }
    }

    /// A command that starts `program` on the servers' CPUs.
    pub fn server_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(&self.server_cpus).arg(program);
        command
    }

    /// The words that put a load generator's command line on the
    /// harness's CPUs: `taskset -c 0`.
    pub fn harness_prefix(&self) -> Vec<String> {
        vec!["taskset".into(), "-c".into(), self.harness_cpus.clone()]
    }
}

/// Pin this process to [`HARNESS_CPU`]: call before any thread is started
/// (before the Tokio runtime). Fails on a machine with fewer than two
/// CPUs, or without `taskset` for the servers.
pub fn pin_harness() -> anyhow::Result<Pinning> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus <= SERVER_CPU {
        bail!("--pin puts the harness on CPU {HARNESS_CPU} and the servers on CPU {SERVER_CPU}: this machine lets us use {cpus} CPU(s)");
    }
    let taskset = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !taskset.is_ok_and(|s| s.success()) {
        bail!("--pin starts the servers under `taskset`, which is not installed (util-linux)");
    }
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes one bit
    // of it; sched_setaffinity reads the set we pass for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(HARNESS_CPU, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error())
                .context(format!("pinning the harness to CPU {HARNESS_CPU}"));
        }
    }
    Ok(Pinning::standard())
}

/// The CPUs this thread may run on, e.g. `[0]` once pinned.
#[cfg(test)]
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: sched_getaffinity fills the set we pass; CPU_ISSET reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_start_under_taskset_on_their_cpu() {
        let pinning = Pinning::standard();
        let command = pinning.server_command("redis-server");
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(command.get_program(), "taskset");
        assert_eq!(args, ["-c", "1", "redis-server"]);
        assert_eq!(pinning.harness_prefix(), ["taskset", "-c", "0"]);
    }

    #[test]
    fn the_report_says_which_command_ran_where() {
        let pinning = Pinning::standard();
        assert!(pinning
            .commands
            .iter()
            .any(|c| c == "redis-server: taskset -c 1"));
        assert!(pinning
            .commands
            .iter()
            .any(|c| c.starts_with("chophien-loadtest") && c.contains("CPU 0")));
    }

    #[test]
    fn pinning_a_thread_keeps_it_and_its_children_on_the_harness_cpu() {
        // On a thread of its own: the test process's other threads keep
        // their CPUs.
        let pinned = std::thread::spawn(|| {
            if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
                return None;
            }
            pin_harness().ok()?;
            let child = std::thread::spawn(allowed_cpus).join().ok()?;
            Some((allowed_cpus(), child))
        })
        .join()
        .ok()
        .flatten();
        if let Some((mine, child)) = pinned {
            assert_eq!(mine, [HARNESS_CPU]);
            assert_eq!(child, [HARNESS_CPU], "threads inherit the mask");
        }
    }
}
