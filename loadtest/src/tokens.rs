//! Access tokens the harness mints for itself.
//!
//! The same HS256 JWT claims as the server's `src/auth.rs` (`sub`, `name`,
//! `room`, `role`, `exp`, `iat`), signed with the server's secret, so the
//! harness needs no dev endpoint and can hold seller and admin tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// The development secret of `config/default.toml`; spawned servers get the
/// harness's `--secret` explicitly.
pub const DEV_SECRET: &str = "chophien-dev-secret-change-me";

/// How long minted tokens live: longer than any run.
const TTL_SECS: u64 = 6 * 3600;

/// The claims of `src/auth.rs`, field for field.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    sub: &'a str,
    name: &'a str,
    room: &'a str,
    role: &'a str,
    exp: u64,
    iat: u64,
}

/// Signs tokens with one secret.
pub struct Minter {
    key: EncodingKey,
}

impl Minter {
    pub fn new(secret: &str) -> Minter {
        Minter {
            key: EncodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// A token for `sub` in `room` with `role` (`viewer`, `seller`, `admin`, …).
    pub fn token(&self, sub: &str, name: &str, room: &str, role: &str) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = Claims {
            sub,
            name,
            room,
            role,
            exp: now + TTL_SECS,
            iat: now,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.key,
        )?)
    }

    /// An admin token for every room (`room: "*"`).
    pub fn admin(&self) -> anyhow::Result<String> {
        self.token("loadtest-admin", "Load test", "*", "admin")
    }
}
