//! What the harness reads about processes: CPU time and resident memory
//! from `/proc`, and the open-file limit it raises for many sockets.

use anyhow::{bail, Context};

use super::Target;

/// CPU time a process has used so far, user + system, in milliseconds
/// (`utime` and `stime` of /proc/<pid>/stat); `None` when unreadable.
pub fn cpu_ms(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields start after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks * 1000 / per_second as u64)
}

/// CPU used so far by every process of a run the harness can see.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    /// Per spawned node, node 0 first (empty with `--url`).
    pub nodes: Vec<u64>,
    /// The spawned Redis, if any.
    pub redis: Option<u64>,
    /// This process: the load generator.
    pub harness: u64,
}

impl Target {
    /// CPU used so far by the spawned nodes, their Redis and the harness.
    pub fn cpu_use(&self) -> CpuUse {
        CpuUse {
            nodes: self
                .server_pids()
                .into_iter()
                .map(|pid| cpu_ms(pid).unwrap_or(0))
                .collect(),
            redis: self.redis.as_ref().and_then(|r| cpu_ms(r.pid())),
            harness: cpu_ms(std::process::id()).unwrap_or(0),
        }
    }
}

impl CpuUse {
    /// Counters for the CPU used between `before` and `self`, in ms:
    /// `cpu_ms_nodes` (and `node<k>_cpu_ms` with several), `cpu_ms_redis`,
    /// `cpu_ms_harness`.
    pub fn counts_since(&self, before: &CpuUse) -> Vec<(String, u64)> {
        let mut counts = Vec::new();
        let used: Vec<u64> = self
            .nodes
            .iter()
            .zip(&before.nodes)
            .map(|(after, before)| after.saturating_sub(*before))
            .collect();
        if !used.is_empty() {
            counts.push(("cpu_ms_nodes".to_owned(), used.iter().sum()));
        }
        if used.len() > 1 {
            for (k, ms) in used.iter().enumerate() {
                counts.push((format!("node{k}_cpu_ms"), *ms));
            }
        }
        if let (Some(after), Some(before)) = (self.redis, before.redis) {
            counts.push(("cpu_ms_redis".to_owned(), after.saturating_sub(before)));
        }
        counts.push((
            "cpu_ms_harness".to_owned(),
            self.harness.saturating_sub(before.harness),
        ));
        counts
    }
}

/// Resident memory of a process in bytes (`VmRSS` of /proc/<pid>/status).
pub fn vm_rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line in /proc status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmRSS line")?
        .parse()
        .context("malformed VmRSS value")?;
    Ok(kib * 1024)
}

/// The open-file limit in force: (soft, hard).
pub fn nofile_limit() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return (0, 0);
    }
    (limit.rlim_cur, limit.rlim_max)
}

/// Raise the open-file limit (soft and hard) to at least `needed`, and
/// the soft limit to at least the hard one: ten thousand sockets need more
/// than the usual 1024, fifty thousand more than a hard limit of 20,000.
/// Raising the hard limit takes root (up to `fs.nr_open`); without it the
/// soft limit goes as far as the hard one. Spawned servers inherit the
/// result. Returns the soft limit now in force.
pub fn raise_nofile_limit(needed: u64) -> anyhow::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            bail!("getrlimit failed: {}", std::io::Error::last_os_error());
        }
        let wanted = libc::rlimit {
            rlim_cur: limit.rlim_max.max(needed as libc::rlim_t),
            rlim_max: limit.rlim_max.max(needed as libc::rlim_t),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
            return Ok(wanted.rlim_cur);
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            bail!("setrlimit failed: {}", std::io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_use_is_counted_per_process() {
        let mine = cpu_ms(std::process::id());
        assert!(mine.is_some());
        let before = CpuUse {
            nodes: vec![100, 200],
            redis: Some(50),
            harness: 10,
        };
        let after = CpuUse {
            nodes: vec![150, 260],
            redis: Some(80),
            harness: 40,
        };
        let counts = after.counts_since(&before);
        let get = |name: &str| counts.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(get("cpu_ms_nodes"), Some(110));
        assert_eq!(get("node1_cpu_ms"), Some(60));
        assert_eq!(get("cpu_ms_redis"), Some(30));
        assert_eq!(get("cpu_ms_harness"), Some(30));
    }

    #[test]
    fn the_open_file_limit_is_never_lowered() {
        let now = raise_nofile_limit(0).unwrap();
        assert!(raise_nofile_limit(64).unwrap() >= now);
    }

    #[test]
    fn own_memory_is_readable() {
        assert!(vm_rss_bytes(std::process::id()).unwrap() > 0);
    }
}
