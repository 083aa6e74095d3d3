//! Access tokens and what each role may do.
//!
//! Tokens work like LiveKit's access tokens: an HS256 JWT signed with the
//! server's secret, naming one room, one role, the holder's identity and
//! display name, and an expiry. The server checks the token before upgrading
//! a WebSocket and checks the role on every action ([`Role::may`]); a client
//! never gets to claim more than its token says.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Who someone is in a room. `Admin` is not a room role: an admin token
/// (room `*`) may manage every room over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Seller,
    Viewer,
    Moderator,
    Trainer,
    Admin,
}

/// Something a role may or may not do; checked server-side on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send chat messages and hearts.
    Chat,
    /// Go live, end the live session.
    HostLive,
    /// Add, edit and remove products.
    ManageProducts,
    /// Pin and unpin a product.
    PinProduct,
    /// Delete messages, mute, ban, slow mode, banned words.
    Moderate,
    /// Lift a ban (a moderator may ban, but undoing is the host's call).
    Unban,
    /// Start and end flash sales.
    RunSales,
    /// Buy during a flash sale.
    Buy,
    /// Watch the seller's video.
    Watch,
}

impl Role {
    /// The one place that says which role may do what.
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        use Role::*;
        match action {
            Chat | Buy | Watch => true,
            HostLive | ManageProducts | Unban => matches!(self, Seller | Trainer | Admin),
            PinProduct | Moderate | RunSales => {
                matches!(self, Seller | Moderator | Trainer | Admin)
            }
        }
    }

    /// Who may moderate whom: admin > seller = trainer > moderator > viewer.
    /// Nobody mutes, bans or deletes the messages of an equal or higher rank.
    pub fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Moderator => 1,
            Role::Seller | Role::Trainer => 2,
            Role::Admin => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Seller => "seller",
            Role::Viewer => "viewer",
            Role::Moderator => "moderator",
            Role::Trainer => "trainer",
            Role::Admin => "admin",
        }
    }
}

/// The room claim that admin tokens carry: every room.
pub const ANY_ROOM: &str = "*";

/// What a token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Stable identity of the holder; bans and mutes apply to it.
    pub sub: String,
    /// Display name shown next to chat messages.
    pub name: String,
    /// The room this token admits to, or `*` for an admin.
    pub room: String,
    pub role: Role,
    /// Expiry, seconds since the Unix epoch (checked by `jsonwebtoken`).
    pub exp: u64,
    pub iat: u64,
}

impl Claims {
    /// Claims valid for `ttl` from now.
    pub fn new(sub: &str, name: &str, room: &str, role: Role, ttl: Duration) -> Claims {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Claims {
            sub: sub.to_owned(),
            name: name.to_owned(),
            room: room.to_owned(),
            role,
            exp: now + ttl.as_secs(),
            iat: now,
        }
    }

    /// Does this token admit its holder to `room`?
    pub fn admits_to(&self, room: &str) -> bool {
        self.room == room || (self.role == Role::Admin && self.room == ANY_ROOM)
    }

    /// May this token manage `room` over HTTP (close it, read its orders)?
    pub fn manages(&self, room: &str) -> bool {
        self.role == Role::Admin && self.admits_to(room)
            || self.role == Role::Seller && self.room == room
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no access token was given")]
    Missing,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid: {0}")]
    Invalid(String),
    #[error("could not sign the token: {0}")]
    Signing(String),
}

/// Signs and verifies tokens with the server's secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// HS256 only, expiry required, no leeway: a token is valid until `exp`,
    /// not a minute longer.
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &str) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(AuthError::Expired),
            Err(e) => Err(AuthError::Invalid(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new("test-secret")
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims() {
        let claims = Claims::new("u1", "Chị Hoa", "r1", Role::Seller, Duration::from_secs(60));
        let token = keys().sign(&claims).unwrap();
        assert_eq!(keys().verify(&token).unwrap(), claims);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_invalid() {
        let claims = Claims::new("u1", "A", "r1", Role::Viewer, Duration::from_secs(60));
        let token = TokenKeys::new("other").sign(&claims).unwrap();
        assert!(matches!(keys().verify(&token), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn an_expired_token_is_rejected_as_expired() {
        let mut claims = Claims::new("u1", "A", "r1", Role::Viewer, Duration::from_secs(60));
        claims.exp = claims.iat - 10;
        let token = keys().sign(&claims).unwrap();
        assert!(matches!(keys().verify(&token), Err(AuthError::Expired)));
    }

    #[test]
    fn viewers_chat_but_do_not_moderate_or_sell() {
        assert!(Role::Viewer.may(Action::Chat));
        assert!(!Role::Viewer.may(Action::Moderate));
        assert!(!Role::Viewer.may(Action::PinProduct));
        assert!(!Role::Viewer.may(Action::ManageProducts));
        assert!(Role::Moderator.may(Action::PinProduct));
        assert!(!Role::Moderator.may(Action::ManageProducts));
        assert!(Role::Seller.may(Action::HostLive));
        assert!(Role::Moderator.may(Action::RunSales));
        assert!(!Role::Viewer.may(Action::RunSales));
        assert!(Role::Viewer.may(Action::Buy));
        assert!(!Role::Moderator.may(Action::Unban));
        assert!(Role::Seller.may(Action::Unban));
    }

    #[test]
    fn ranks_put_admins_over_hosts_over_moderators_over_viewers() {
        assert!(Role::Admin.rank() > Role::Seller.rank());
        assert_eq!(Role::Seller.rank(), Role::Trainer.rank());
        assert!(Role::Trainer.rank() > Role::Moderator.rank());
        assert!(Role::Moderator.rank() > Role::Viewer.rank());
    }

    #[test]
    fn only_admins_and_the_rooms_seller_manage_it() {
        let t = |role, room| Claims::new("u", "n", room, role, Duration::from_secs(60));
        assert!(t(Role::Admin, ANY_ROOM).manages("r1"));
        assert!(t(Role::Seller, "r1").manages("r1"));
        assert!(!t(Role::Seller, "r2").manages("r1"));
        assert!(!t(Role::Moderator, "r1").manages("r1"));
        assert!(!t(Role::Viewer, ANY_ROOM).admits_to("r1"));
    }
}
