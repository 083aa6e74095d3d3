//! Node tokens: how one node proves to another that it belongs to the
//! deployment when it asks for a relay.
//!
//! A node token is an HS256 JWT signed with the cluster's shared
//! `auth.secret`, like clients' tokens, but of another shape: its audience
//! (`aud`) is [`AUDIENCE`], its subject is the asking node's id, and it names
//! one room. The two never pass for each other: client tokens carry no `aud`,
//! which [`NodeTokens::verify`] requires, and client token checks refuse any
//! token that carries one (`jsonwebtoken` rejects an unexpected audience).
//! Node tokens live one minute; each request signs a fresh one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::AuthError;

/// The audience of node tokens, and only of node tokens.
pub const AUDIENCE: &str = "chophien-node";

/// How long a node token is valid: long enough for one request.
const TTL: Duration = Duration::from_secs(60);

/// What a node token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeClaims {
    /// The asking node's id.
    pub sub: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// The room the request is about.
    pub room: String,
    pub iat: u64,
    pub exp: u64,
}

/// Signs and verifies node tokens with the cluster's secret.
#[derive(Clone)]
pub struct NodeTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// HS256, `aud` = [`AUDIENCE`] required, expiry required, no leeway.
    validation: Validation,
}

impl NodeTokens {
    pub fn new(secret: &str) -> NodeTokens {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        NodeTokens {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// A token for `node` to act on `room`.
    pub fn sign(&self, node: &str, room: &str) -> Result<String, AuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = NodeClaims {
            sub: node.to_owned(),
            aud: AUDIENCE.to_owned(),
            room: room.to_owned(),
            iat: now,
            exp: now + TTL.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }

    /// The claims of a valid node token; client tokens are refused.
    pub fn verify(&self, token: &str) -> Result<NodeClaims, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let claims = jsonwebtoken::decode::<NodeClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                _ => AuthError::Malformed,
            })?
            .claims;
        if claims.sub.is_empty() {
            return Err(AuthError::NoIdentity);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Claims, Role, TokenKeys};

    const SECRET: &str = "a-secret-of-sixteen-bytes-or-more";

    #[test]
    fn a_node_token_verifies_as_a_node_token_only() {
        let nodes = NodeTokens::new(SECRET);
        let token = nodes.sign("n-edge", "tra").unwrap();
        let claims = nodes.verify(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.room.as_str()),
            ("n-edge", "tra")
        );
        // Presented to a client endpoint, it is refused.
        assert!(TokenKeys::new(SECRET).verify(&token).is_err());
    }

    #[test]
    fn client_tokens_are_not_node_tokens_whatever_their_role() {
        let keys = TokenKeys::new(SECRET);
        let nodes = NodeTokens::new(SECRET);
        for (room, role) in [
            ("tra", Role::Viewer),
            ("tra", Role::Seller),
            ("*", Role::Admin),
        ] {
            let claims = Claims::new("u1", "Lan", room, role, Duration::from_secs(60));
            let token = keys.sign(&claims).unwrap();
            assert!(nodes.verify(&token).is_err(), "{role:?}");
        }
    }

    #[test]
    fn a_node_token_signed_with_another_secret_is_refused() {
        let token = NodeTokens::new("another-secret-of-sixteen-bytes")
            .sign("n-edge", "tra")
            .unwrap();
        assert_eq!(
            NodeTokens::new(SECRET).verify(&token),
            Err(AuthError::BadSignature)
        );
    }
}
