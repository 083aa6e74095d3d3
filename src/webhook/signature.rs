//! How a shop knows a webhook came from us and was not replayed: the
//! `Chophien-Signature` header, Stripe's scheme.
//!
//! ```text
//! Chophien-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//! ```
//!
//! The key is the room's webhook secret exactly as the seller sees it
//! (`whsec_` prefix included), the message the timestamp, a dot and the
//! request body's raw bytes. The timestamp is signed with the body, so a
//! receiver that refuses timestamps older than a few minutes ([`verify`]'s
//! `tolerance`; we document 5 minutes) refuses replays of captured requests.
//! Each attempt is signed anew (a new `t`), over the same body.
//!
//! [`verify`] is what a receiver runs; the tests use it, and
//! `docs/protocol.md` spells it out for shops.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "Chophien-Signature";
/// The event id header (the envelope's `id`): the same on every attempt.
pub const EVENT_ID_HEADER: &str = "Chophien-Event-Id";
/// The event type header (the envelope's `type`).
pub const EVENT_TYPE_HEADER: &str = "Chophien-Event-Type";
/// The tolerance we recommend to receivers for [`verify`].
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature header is not `t=<seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// The `Chophien-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

/// Checks a `Chophien-Signature` header against the raw body: its timestamp
/// within `tolerance` of `now` (unix seconds), and one of its `v1`
/// signatures the HMAC of `"<t>.<body>"` under `secret` (compared in
/// constant time). Unknown items (a future `v2`) are ignored.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: u64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", value)) => {
                timestamp = Some(value.parse::<u64>().map_err(|_| VerifyError::Malformed)?)
            }
            Some(("v1", value)) => signatures.push(value),
            Some(_) => {}
            None => return Err(VerifyError::Malformed),
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(VerifyError::Malformed);
    };
    if signatures.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if now.abs_diff(timestamp) > tolerance.as_secs() {
        return Err(VerifyError::Stale);
    }
    let expected = keyed(secret, timestamp, body);
    let matches = signatures.iter().any(|signature| {
        hex::decode(signature)
            .map(|bytes| expected.clone().verify_slice(&bytes).is_ok())
            .unwrap_or(false)
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn mac(secret: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    keyed(secret, timestamp, body)
        .finalize()
        .into_bytes()
        .to_vec()
}

/// The HMAC state after `"<t>.<body>"`.
fn keyed(secret: &str, timestamp: u64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this never fails.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"id":"e1","type":"ping"}"#;

    #[test]
    fn a_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently, with Python's hmac module:
        // hmac.new(b"whsec_test", b'1700000000.{"id":"e1","type":"ping"}', sha256)
        assert_eq!(
            sign(SECRET, 1_700_000_000, BODY),
            "t=1700000000,v1=0d7f29c442e994b76c9163904aacfae80dae69fb454d6ac294faf86e90470181"
        );
    }

    #[test]
    fn a_fresh_signature_verifies() {
        let header = sign(SECRET, 1_700_000_000, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, 1_700_000_100, DEFAULT_TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn a_wrong_secret_or_a_changed_body_does_not_verify() {
        let header = sign(SECRET, 1_700_000_000, BODY);
        let now = 1_700_000_000;
        assert_eq!(
            verify("whsec_other", &header, BODY, now, DEFAULT_TOLERANCE),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, b"{}", now, DEFAULT_TOLERANCE),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn a_signature_older_or_newer_than_the_tolerance_is_stale() {
        let header = sign(SECRET, 1_700_000_000, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, 1_700_000_301, DEFAULT_TOLERANCE),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(SECRET, &header, BODY, 1_699_999_699, DEFAULT_TOLERANCE),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(SECRET, &header, BODY, 1_700_000_300, DEFAULT_TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn a_changed_timestamp_does_not_verify() {
        let header = sign(SECRET, 1_700_000_000, BODY).replace("t=1700000000", "t=1700000001");
        assert_eq!(
            verify(SECRET, &header, BODY, 1_700_000_000, DEFAULT_TOLERANCE),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn any_one_of_several_v1_signatures_may_match() {
        let good = sign(SECRET, 1_700_000_000, BODY);
        let header = format!("t=1700000000,v1={},v1={}", "00".repeat(32), &good[16..]);
        assert_eq!(
            verify(SECRET, &header, BODY, 1_700_000_000, DEFAULT_TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in ["", "t=abc,v1=00", "v1=00", "t=1700000000", "garbage"] {
            assert_eq!(
                verify(SECRET, header, BODY, 1_700_000_000, DEFAULT_TOLERANCE),
                Err(VerifyError::Malformed),
                "{header:?}"
            );
        }
        let not_hex = "t=1700000000,v1=zz";
        assert_eq!(
            verify(SECRET, not_hex, BODY, 1_700_000_000, DEFAULT_TOLERANCE),
            Err(VerifyError::Mismatch)
        );
    }
}
