//! `--hog`: a CPU hog on the server's CPU for the whole buy phase —
//! `stress-ng --cpu 1 --taskset N` — to see how the sale behaves when it
//! must share its core with something that never yields (a noisy
//! neighbour, a build, a backup).
//!
//! stress-ng runs its workers as child processes: the hog is started in a
//! process group of its own and the whole group is killed when it stops
//! (or when the handle drops, also on failure), so no worker is left
//! spinning. Its CPU use is the sum over the group's processes.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

use crate::target::cpu_ms;

/// A safety bound: the hog stops by itself after this long, whatever
/// happens to the harness.
const HOG_TIMEOUT_SECS: u64 = 3600;

/// Fail clearly when stress-ng is missing (before any load is made).
pub fn check() -> anyhow::Result<()> {
    let status = Command::new("stress-ng")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        bail!("--hog runs `stress-ng --cpu 1`, which is not installed (apt-get install stress-ng)");
    }
    Ok(())
}

/// A running hog; killed with its workers on [`Hog::stop`] or drop.
pub struct Hog {
    child: Child,
    /// The command line, for the report.
    pub command: String,
}

/// What a stopped hog did.
#[derive(Debug, Clone)]
pub struct HogRun {
    pub command: String,
    /// CPU its processes used, ms.
    pub cpu_ms: u64,
    /// Whether it had already ended before it was stopped (then it did not
    /// hog the whole phase).
    pub ended_early: bool,
}

/// The command line of a hog on `cpu`.
fn command_line(cpu: usize) -> Vec<String> {
    [
        "stress-ng",
        "--cpu",
        "1",
        "--taskset",
        &cpu.to_string(),
        "--timeout",
        &format!("{HOG_TIMEOUT_SECS}s"),
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl Hog {
    /// Start `stress-ng --cpu 1 --taskset CPU` in a process group of its own.
    pub fn start(cpu: usize) -> anyhow::Result<Hog> {
        let line = command_line(cpu);
        let child = Command::new(&line[0])
            .args(&line[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("could not start stress-ng for --hog")?;
        Ok(Hog {
            child,
            command: line.join(" "),
        })
    }

    /// CPU used so far by every process of the hog's group, ms.
    pub fn cpu_ms(&self) -> u64 {
        group_pids(self.child.id())
            .into_iter()
            .filter_map(cpu_ms)
            .sum()
    }

    /// Kill the hog and its workers; what it did.
    pub fn stop(mut self) -> HogRun {
        let cpu_ms = self.cpu_ms();
        let ended_early = matches!(self.child.try_wait(), Ok(Some(_)));
        self.kill();
        HogRun {
            command: self.command.clone(),
            cpu_ms,
            ended_early,
        }
    }

    /// Kill the group, reap the leader, and wait (briefly) until no worker
    /// is left running: a killed process takes a moment to die.
    fn kill(&mut self) {
        let group = self.child.id();
        // SAFETY: kill only sends a signal; a negative pid names the
        // process group the hog leads (its pid, by `process_group(0)`).
        unsafe {
            libc::kill(-(group as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.child.wait();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while !group_pids(group).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Live processes (not zombies) whose process group is `pgid`.
fn group_pids(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| process_group(&stat))
                == Some(pgid)
        })
        .collect()
}

/// The process group of a `/proc/<pid>/stat` line (field 5), unless the
/// process is a zombie (state `Z`: it uses no CPU and only waits to be
/// reaped).
fn process_group(stat: &str) -> Option<u32> {
    // The command name may hold spaces: the fields start after its ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hog_is_one_cpu_worker_on_the_cpu_asked_for() {
        let line = command_line(1);
        assert_eq!(&line[..5], ["stress-ng", "--cpu", "1", "--taskset", "1"]);
        assert!(line.iter().any(|a| a == "--timeout"), "it stops by itself");
    }

    #[test]
    fn the_process_group_is_read_after_the_command_name() {
        let stat = "4242 (stress-ng cpu) R 4240 4240 4240 0 -1 4194560 0 0 0 0 55 3 0 0";
        assert_eq!(process_group(stat), Some(4240));
        let zombie = "4242 (stress-ng) Z 1 4240 4240 0 -1 4194560 0 0 0 0 55 3 0 0";
        assert_eq!(process_group(zombie), None);
    }

    #[test]
    fn a_hog_is_stopped_with_its_workers() {
        if check().is_err() {
            return;
        }
        let hog = Hog::start(0).unwrap();
        let leader = hog.child.id();
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!group_pids(leader).is_empty());
        let run = hog.stop();
        assert!(!run.ended_early);
        assert!(group_pids(leader).is_empty(), "no worker is left");
    }
}
