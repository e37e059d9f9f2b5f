//! Standard Webhooks signing: endpoint secrets (`whsec_…`) and the `v1,` HMAC-SHA256 signature of
//! `id.timestamp.body`.
//!
//! This module owns the secret type and the pure signing functions; it does no I/O and knows
//! nothing of endpoints or HTTP. A [`Secret`] never shows its bytes in `Debug` output, so a
//! secret cannot reach a log by accident; it is serialised (for the endpoint store) as its
//! `whsec_` text, which is the only way to get it out.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// How many random bytes a generated secret has (the specification allows 24 to 64).
const GENERATED_SECRET_BYTES: usize = 32;

/// The fewest and most bytes a secret may have.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// An endpoint's signing secret: the raw key bytes, shown as `whsec_<base64>`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A secret's text that is not `whsec_` followed by standard base64 of 24 to 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a secret is `whsec_` followed by the standard base64 of 24 to 64 bytes")]
pub struct InvalidSecret;

impl Secret {
    /// A new random secret of 32 bytes from the operating system's generator.
    pub fn generate() -> Secret {
        let mut bytes = vec![0u8; GENERATED_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Secret(bytes)
    }

    /// Parses `whsec_<base64>`.
    ///
    /// ```
    /// use caseledger_webhooks::Secret;
    /// let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    /// assert_eq!(secret.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    /// assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Secret, InvalidSecret> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(InvalidSecret)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| InvalidSecret)?;
        if SECRET_BYTES.contains(&bytes.len()) {
            Ok(Secret(bytes))
        } else {
            Err(InvalidSecret)
        }
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The `whsec_` text: for the endpoint's owner, at creation and rotation only.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }
}

impl TryFrom<String> for Secret {
    type Error = InvalidSecret;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Secret::parse(&text)
    }
}

impl From<Secret> for String {
    fn from(secret: Secret) -> Self {
        secret.expose()
    }
}

/// The Standard Webhooks signature of one message: `v1,` + base64(HMAC-SHA256(key,
/// `{msg_id}.{timestamp}.{body}`)).
///
/// ```
/// use caseledger_webhooks::{sign, Secret};
/// let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// assert_eq!(
///     sign(secret.bytes(), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#),
///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/// );
/// ```
pub fn sign(secret: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail; the fallback only keeps the
    // function total without a panic path.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per valid secret, space-separated (during a
/// rotation both the new and the old secret sign).
pub fn signature_header<'s>(
    secrets: impl IntoIterator<Item = &'s Secret>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .map(|secret| sign(secret.bytes(), msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn the_specifications_published_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                secret.bytes(),
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn the_vector_checked_with_the_python_library() {
        let secret = Secret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX").unwrap();
        assert_eq!(secret.bytes(), (0u8..0x18).collect::<Vec<_>>());
        let body =
            br#"{"type":"case.opened","timestamp":"2023-11-14T22:13:20Z","data":{"case_id":"HR-2023-0001"}}"#;
        assert_eq!(
            sign(secret.bytes(), "evt_000001", 1700000000, body),
            "v1,acASL5oB83dl27wBvgPV4mYFYEhqXMFZ5tAgEIqNaYg="
        );
    }

    #[test]
    fn every_valid_secret_signs_during_a_rotation() {
        let old = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let new = Secret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX").unwrap();
        let header = signature_header([&new, &old], "id", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(new.bytes(), "id", 1, b"{}"));
        assert_eq!(parts[1], sign(old.bytes(), "id", 1, b"{}"));
    }

    #[test]
    fn generated_secrets_round_trip_and_never_show_in_debug() {
        let secret = Secret::generate();
        let text = secret.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text).unwrap(), secret);
        assert_eq!(secret.bytes().len(), 32);
        assert!(!format!("{secret:?}").contains(&text[6..]));
        assert_ne!(Secret::generate(), secret);
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in [
            "",
            "whsec_",
            "whsec_AAEC",
            "whsec_not base64!",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            // URL-safe base64 is not what receivers decode.
            "whsec_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_",
        ] {
            assert_eq!(Secret::parse(bad), Err(InvalidSecret), "{bad:?}");
        }
    }
}
