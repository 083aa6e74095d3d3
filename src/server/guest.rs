//! Guest identities that survive a reload: `POST /api/guest/token`.
//!
//! A viewer of a public room has no account, but she must stay herself:
//! after a reload, in a second tab, under another display name, her holds,
//! her per-buyer limit and any ban of hers are the same. So the server gives
//! each browser a **device**: a random id in a long-lived, signed, HttpOnly
//! cookie (`chophien_device`, scoped to this endpoint's path), and the
//! identity of every viewer token it mints for that browser is derived from
//! it (`g-<device id>`). Scripts cannot read the cookie; a cookie that does
//! not verify is ignored and replaced, so a forged or stale one buys a new,
//! unrelated identity, never someone else's.
//!
//! The cookie is a JWT signed with `auth.secret` like access tokens, with its
//! own audience (`chophien-device`) and no room or role, so neither can pass
//! for the other. New devices are rate-limited per client address
//! (`auth.guests_per_minute`): a script cannot mint identities to dodge a ban
//! faster than that. A banned identity gets `403 banned` here, before it
//! reaches the room.
//!
//! Shops with their own accounts do not use this: they mint viewer tokens
//! with the signing secret (`chophien token`, or any JWT library), with
//! their own stable user ids.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{Claims, Role};
use crate::config::Config;
use crate::protocol::ErrorCode;
use crate::room::store::RoomStore;

use super::api::{display_name, ApiError};
use super::AppState;

/// The cookie's name and path: sent back only to the endpoint that reads it.
const COOKIE: &str = "chophien_device";
const COOKIE_PATH: &str = "/api/guest";
/// A device lives a year (each visit renews it).
const DEVICE_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// Past this many remembered client addresses, forget those whose quota
/// has refilled (the limiter's memory stays bounded by recent visitors).
const FORGET_ADDRESSES_PAST: usize = 10_000;
/// The device cookie's audience: no access token carries it.
const AUDIENCE: &str = "chophien-device";

/// What the device cookie holds.
#[derive(Debug, Serialize, Deserialize)]
struct DeviceClaims {
    /// The device id (hex).
    sub: String,
    aud: String,
    exp: u64,
}

/// Signs and checks device cookies, and limits new devices per address.
pub struct Guests {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// New devices per client address.
    new_devices: DefaultKeyedRateLimiter<IpAddr>,
    /// Take the client's address from `X-Forwarded-For` (behind a proxy).
    behind_proxy: bool,
    /// Mark the cookie `Secure` (the site is served over HTTPS).
    secure: bool,
}

impl Guests {
    pub fn new(config: &Config) -> Guests {
        let secret = config.auth.secret.as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        validation.leeway = 0;
        let per_minute = NonZeroU32::new(config.auth.guests_per_minute).unwrap_or(NonZeroU32::MIN);
        Guests {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            new_devices: RateLimiter::keyed(Quota::per_minute(per_minute)),
            behind_proxy: config.server.behind_proxy,
            secure: config.server.public_url.starts_with("https://"),
        }
    }

    /// The device id in a cookie that verifies.
    fn device(&self, jar: &CookieJar) -> Option<String> {
        let cookie = jar.get(COOKIE)?;
        let data =
            jsonwebtoken::decode::<DeviceClaims>(cookie.value(), &self.decoding, &self.validation)
                .ok()?;
        let id = data.claims.sub;
        (id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
    }

    /// A cookie for `device`, valid for [`DEVICE_TTL`] from now.
    fn cookie(&self, device: &str) -> Result<Cookie<'static>, ApiError> {
        let claims = DeviceClaims {
            sub: device.to_owned(),
            aud: AUDIENCE.to_owned(),
            exp: unix_secs() + DEVICE_TTL.as_secs(),
        };
        let value = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(internal)?;
        let max_age = time::Duration::seconds(DEVICE_TTL.as_secs().try_into().unwrap_or(i64::MAX));
        Ok(Cookie::build((COOKIE, value))
            .path(COOKIE_PATH)
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(max_age)
            .build())
    }

    /// The client's address: the peer's, or behind a proxy the last
    /// `X-Forwarded-For` entry — the one our proxy added; earlier entries
    /// are whatever the client sent, and would let it pick its address.
    pub(super) fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let forwarded = || {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()?
                .trim()
                .parse()
                .ok()
        };
        match self.behind_proxy {
            true => forwarded().unwrap_or(peer.ip()),
            false => peer.ip(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct GuestTokenRequest {
    room: String,
    name: String,
}

/// `POST /api/guest/token`: a viewer token for this browser's identity.
pub async fn guest_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<GuestTokenRequest>, JsonRejection>,
) -> Result<(CookieJar, Json<serde_json::Value>), ApiError> {
    if !state.config.auth.guest_tokens {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::BadRequest,
            "guest tokens are disabled: this shop mints its viewers' tokens",
        ));
    }
    let Json(body) = body?;
    let name = display_name(&body.name)?;
    state.rooms.info(&body.room).await?;
    let guests = &state.guests;
    let device = match guests.device(&jar) {
        Some(device) => device,
        None => {
            let client = guests.client(peer, &headers);
            if guests.new_devices.len() > FORGET_ADDRESSES_PAST {
                // Addresses whose quota is full again need no memory.
                guests.new_devices.retain_recent();
            }
            if guests.new_devices.check_key(&client).is_err() {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "too many new visitors from this address: try again in a minute",
                ));
            }
            uuid::Uuid::new_v4().simple().to_string()[..24].to_owned()
        }
    };
    let identity = format!("g-{device}");
    let banned = state
        .rooms
        .store()
        .is_banned(&body.room, &identity, Role::Viewer)
        .await?;
    if banned {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Banned,
            "this identity was banned from the room",
        ));
    }
    let ttl = state.config.token_ttl();
    let claims = Claims::new(&identity, name, &body.room, Role::Viewer, ttl);
    let token = state.keys.sign(&claims).map_err(internal)?;
    let jar = jar.add(guests.cookie(&device)?);
    let expires_at = (unix_secs() + ttl.as_secs()) * 1000;
    Ok((
        jar,
        Json(json!({
            "token": token, "identity": identity, "room": body.room, "role": "viewer",
            "expires_at": expires_at,
        })),
    ))
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        error.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guests(behind_proxy: bool) -> Guests {
        let mut config = Config::defaults();
        config.server.behind_proxy = behind_proxy;
        Guests::new(&config)
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    const PEER: &str = "10.0.0.2:51000";

    #[test]
    fn without_a_proxy_the_peer_is_the_client_whatever_the_headers_say() {
        let peer: SocketAddr = PEER.parse().unwrap();
        let client = guests(false).client(peer, &forwarded("203.0.113.9"));
        assert_eq!(client, peer.ip());
    }

    #[test]
    fn behind_a_proxy_the_address_it_added_last_is_the_client() {
        let peer: SocketAddr = PEER.parse().unwrap();
        let spoofed = forwarded("198.51.100.1, 203.0.113.9");
        assert_eq!(
            guests(true).client(peer, &spoofed),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn behind_a_proxy_a_missing_or_garbled_header_falls_back_to_the_peer() {
        let peer: SocketAddr = PEER.parse().unwrap();
        assert_eq!(guests(true).client(peer, &HeaderMap::new()), peer.ip());
        assert_eq!(
            guests(true).client(peer, &forwarded("not an address")),
            peer.ip()
        );
    }
}
