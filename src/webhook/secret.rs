//! A room's webhook secret: the key both sides hold for the signature.
//!
//! The server makes one when the seller gives none: `whsec_` and 32 random
//! bytes in hex, from a cryptographically secure generator. A seller may bring
//! their own (to keep one across rooms); it must be long enough to resist
//! guessing and printable, so it can be pasted into the shop's settings.

use rand::RngCore;

use super::WebhookError;

/// The prefix of secrets the server makes.
pub const PREFIX: &str = "whsec_";
const MIN_CHARS: usize = 24;
const MAX_CHARS: usize = 128;

/// A fresh secret: `whsec_` and 64 hex digits.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    // ThreadRng: a cryptographically secure generator seeded by the OS.
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// Checks a seller's own secret: 24–128 visible ASCII characters.
pub fn check(secret: &str) -> Result<(), WebhookError> {
    let ok = (MIN_CHARS..=MAX_CHARS).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(WebhookError::InvalidSecret(format!(
            "secret must be {MIN_CHARS} to {MAX_CHARS} visible ASCII characters (no spaces); omit it to have one made"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_whsec_and_64_hex_digits_and_never_repeats() {
        let secret = generate();
        assert!(secret.starts_with(PREFIX));
        let digits = &secret[PREFIX.len()..];
        assert_eq!(digits.len(), 64);
        assert!(digits.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(generate(), secret);
        assert_eq!(check(&secret), Ok(()));
    }

    #[test]
    fn short_or_blank_or_unprintable_secrets_are_refused() {
        for bad in [
            "",
            "short",
            "with a space in it 0123456789",
            "tab\tseparated-0123456789abc",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        assert!(check(&"x".repeat(MAX_CHARS + 1)).is_err());
        assert!(check("my-own-shop-secret-0123456789").is_ok());
    }
}
