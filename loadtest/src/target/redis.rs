//! The `redis-server` of a run: started on a free loopback port in a
//! temporary directory (over `config/redis.conf`, with `--redis-set`
//! settings), and what the harness asks it — keys naming a room, and the
//! time Redis spent per command (`INFO commandstats`).

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{free_port, workspace_root, Spawned};
use crate::pinning::Pinning;

/// Start `redis-server` on a free port in a temporary directory, with
/// `config/redis.conf` when the workspace has one, and `settings` (`NAME
/// VALUE`, e.g. `appendfsync everysec`) over it; on the servers' CPUs
/// with `--pin`.
pub async fn spawn_redis(
    settings: &[(String, String)],
    pin: Option<&Pinning>,
) -> anyhow::Result<Spawned> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let log = std::fs::File::create(dir.path().join("redis-server.log"))?;
    let mut command = match pin {
        Some(pin) => pin.server_command("redis-server"),
        None => Command::new("redis-server"),
    };
    let conf = workspace_root().join("config/redis.conf");
    if conf.is_file() {
        command.arg(&conf);
    }
    command
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "no",
        ])
        .arg("--dir")
        .arg(dir.path());
    for (name, value) in settings {
        command.arg(format!("--{name}")).arg(value);
    }
    command
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log));
    let child = command
        .spawn()
        .context("could not start redis-server (is it installed?)")?;
    let spawned = Spawned {
        child,
        port,
        dir,
        name: "redis-server",
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if redis_ping(port).await {
            return Ok(spawned);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "redis-server did not answer PING within 10 s:\n{}",
        spawned.log_tail()
    )
}

async fn redis_ping(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut reply = [0u8; 16];
    matches!(stream.read(&mut reply).await, Ok(n) if reply[..n].starts_with(b"+PONG"))
}

/// How many keys of the Redis on `port` have `needle` in their name (SCAN,
/// so a large database is walked without blocking it). The harness asks it
/// for a fresh room's id right after creating the room: keys mean the
/// node keeps its rooms in Redis.
pub async fn redis_keys_naming(port: u16, needle: &str) -> anyhow::Result<u64> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let pattern = format!("*{}*", glob_escape(needle));
    let mut cursor: u64 = 0;
    let mut found = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await?;
        found += keys.len() as u64;
        if next == 0 {
            return Ok(found);
        }
        cursor = next;
    }
}

/// Calls and microseconds Redis spent per command so far (`INFO
/// commandstats`): (command, calls, usec), e.g. `("fcall", 40, 35000)`.
pub async fn redis_command_stats(port: u16) -> anyhow::Result<Vec<(String, u64, u64)>> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut connection)
        .await?;
    Ok(parse_command_stats(&info))
}

/// The `cmdstat_NAME:calls=N,usec=M,…` lines of `INFO commandstats`.
fn parse_command_stats(info: &str) -> Vec<(String, u64, u64)> {
    info.lines()
        .filter_map(|line| {
            let (name, fields) = line.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |key: &str| {
                fields
                    .split(',')
                    .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            Some((name.replace('|', "_"), field("calls")?, field("usec")?))
        })
        .collect()
}

/// `text` with Redis glob characters escaped, for a MATCH pattern.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `NAME=VALUE` of `--redis-set` as a Redis setting.
pub fn redis_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!(
            "expected NAME=VALUE (e.g. appendfsync=everysec), got {text:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_settings_are_name_value_pairs() {
        assert_eq!(
            redis_setting("appendfsync=everysec").unwrap(),
            ("appendfsync".to_owned(), "everysec".to_owned())
        );
        assert!(redis_setting("appendfsync").is_err());
        assert!(redis_setting("=x").is_err());
    }

    #[test]
    fn command_stats_are_read_from_info() {
        let info = "# Commandstats\r\ncmdstat_fcall:calls=40,usec=35000,usec_per_call=875.00,rejected_calls=0,failed_calls=0\r\ncmdstat_client|setname:calls=2,usec=3,usec_per_call=1.50\r\n";
        assert_eq!(
            parse_command_stats(info),
            vec![
                ("fcall".to_owned(), 40, 35000),
                ("client_setname".to_owned(), 2, 3)
            ]
        );
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("lt-chat-1a2b"), "lt-chat-1a2b");
        assert_eq!(glob_escape("a*b?[c]"), "a\\*b\\?\\[c\\]");
    }
}
