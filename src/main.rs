//! The `chophien` binary: `serve` (the default) and `token`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use chophien::auth::{Claims, Role, TokenKeys};
use chophien::config::Config;
use chophien::demo;
use chophien::server::Server;

/// mimalloc instead of glibc's malloc: a flash-sale burst allocates and
/// frees small buffers on every connection at once, and glibc's allocator
/// took a fifth of the server's CPU doing it (issue 10's profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: the option's place in `mi_option_e` of the
/// mimalloc (v3) that `libmimalloc-sys` builds; the Rust binding does not
/// name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// That option's default in this mimalloc, read back before setting it to
/// make sure option 15 is the purge delay.
const MI_DEFAULT_PURGE_DELAY_MS: std::os::raw::c_long = 1000;

/// Keep freed memory `delay_ms` before giving it back to the system
/// (`server.allocator_purge_delay_ms`). Left alone when
/// `MIMALLOC_PURGE_DELAY` is set (the operator's word wins) or when option
/// 15 does not read as the purge delay's default (another mimalloc: better
/// its default than a wrong option).
fn set_allocator_purge_delay(delay_ms: i64) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: reading and setting a mimalloc option is thread-safe and has
    // no preconditions; mimalloc ignores an option number out of range.
    let current = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    if current != MI_DEFAULT_PURGE_DELAY_MS {
        tracing::warn!(
            current,
            "allocator purge delay left alone: mimalloc's option 15 is not its purge delay here"
        );
        return;
    }
    let delay = std::os::raw::c_long::try_from(delay_ms).unwrap_or(-1);
    // SAFETY: as above.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay) };
}

/// Chợ Phiên: livestream-commerce session server.
///
/// Configuration comes from the embedded defaults (config/default.toml),
/// then --config FILE, then CHOPHIEN_<SECTION>__<KEY> environment variables
/// (e.g. CHOPHIEN_SERVER__LISTEN=0.0.0.0:8080). Logs: RUST_LOG (default info).
#[derive(Debug, Parser)]
#[command(name = "chophien", version, about, long_about)]
struct Cli {
    /// A TOML file overriding any subset of the default configuration.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve {
        /// Listen address, overriding server.listen (e.g. 0.0.0.0:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Log as JSON lines instead of human-readable text.
        #[arg(long)]
        json_logs: bool,
    },
    /// Mint an access token signed with the configured secret.
    Token {
        /// The room the token admits to (`*` for an admin token).
        #[arg(long)]
        room: String,
        /// What the holder may do in the room.
        #[arg(long, value_enum)]
        role: Role,
        /// Display name shown in chat: 1 to 40 characters, not blank.
        #[arg(long)]
        name: String,
        /// Stable identity (bans and mutes apply to it): at most 128 bytes,
        /// no spaces. Derived from the role and a random suffix when absent.
        #[arg(long)]
        identity: Option<String>,
        /// Lifetime in seconds (default: auth.token_ttl_secs).
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve {
        listen: None,
        json_logs: false,
    }) {
        Command::Token {
            room,
            role,
            name,
            identity,
            ttl_secs,
        } => {
            let identity = identity.unwrap_or_else(|| {
                format!(
                    "{}-{}",
                    role.as_str(),
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                )
            });
            let ttl = ttl_secs
                .map(Duration::from_secs)
                .unwrap_or(config.token_ttl());
            let claims = Claims::new(&identity, name.trim(), &room, role, ttl);
            // `sign` refuses claims the server would refuse (a blank or long
            // name, an empty or unprintable identity): no useless tokens.
            let token = TokenKeys::new(&config.auth.secret)
                .sign(&claims)
                .context("cannot mint this token")?;
            println!("{token}");
            Ok(())
        }
        Command::Serve { listen, json_logs } => {
            init_tracing(json_logs);
            set_allocator_purge_delay(config.server.allocator_purge_delay_ms);
            let mut config = config;
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            tokio::runtime::Runtime::new()
                .context("could not start the Tokio runtime")?
                .block_on(serve(config))
        }
    }
}

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let server = Server::bind(config).await?;
    let addr = server.local_addr();
    let state = server.state().clone();
    let base = if state.config.server.public_url.is_empty() {
        format!("http://{addr}")
    } else {
        state
            .config
            .server
            .public_url
            .trim_end_matches('/')
            .to_owned()
    };
    tracing::info!(%addr, "listening");
    if state.config.demo.enabled {
        let room = demo::create(&state.rooms)
            .await
            .context("could not create the demo room")?;
        let seller = demo::seller_token(&state.keys, state.config.token_ttl())?;
        let ws_base = base.replacen("http", "ws", 1);
        println!();
        println!("  Chợ Phiên is running — demo room \"{}\"", room.title);
        println!();
        println!(
            "  Seller studio: {base}/seller.html?room={}#token={seller}",
            room.id
        );
        println!("  Viewer page:   {base}/viewer.html?room={}", room.id);
        println!(
            "  Report:        {base}/report.html?room={}#token={seller}",
            room.id
        );
        let trainer = demo::trainer_token(&state.keys, state.config.token_ttl())?;
        println!("  Trainer:       {base}/trainer.html#token={trainer}");
        println!("  Rooms (JSON):  {base}/api/rooms");
        println!(
            "  WebSocket:     {ws_base}/ws/rooms/{}?token=<token>",
            room.id
        );
        println!("                 (viewer token: curl -s -XPOST {base}/api/dev/token -H 'content-type: application/json' -d '{{\"room\":\"{}\",\"name\":\"Lan\"}}')", room.id);
        println!();
    }
    server.run(shutdown_signal()).await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Option 15 is the purge delay in the mimalloc this binary links: it
    /// reads as the purge delay's default, and what is set reads back.
    /// Fails if a mimalloc update moves the option or its default.
    #[test]
    fn mimallocs_option_15_is_its_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reading a mimalloc option has no preconditions.
        let current = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(current, MI_DEFAULT_PURGE_DELAY_MS);
        set_allocator_purge_delay(10_000);
        // SAFETY: as above.
        let set = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(set, 10_000);
    }
}
