//! The text forms of the log's 32-byte values: tree hashes and Ed25519 public keys, as standard
//! base64 (RFC 4648 §4, with padding) — the one place that reads them, for the service, the
//! offline audit tools and the witness alike. No I/O.

use base64::Engine as _;
use ed25519_dalek::VerifyingKey;

/// Standard base64 of exactly 32 bytes (a tree hash, a root, a proof hash), or `None`.
pub fn decode_base64_32(text: &str) -> Option<[u8; 32]> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
}

/// 32 bytes in standard base64.
pub fn encode_base64_32(bytes: &[u8; 32]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Why a text is not a usable Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    /// Not standard base64, or not 32 bytes once decoded.
    #[error("not standard base64 of 32 bytes")]
    NotBase64Of32,
    /// 32 bytes that are not a point on the curve.
    #[error("not an Ed25519 public key (not a point on the curve)")]
    NotOnCurve,
    /// A small-order key, which would verify forged signatures.
    #[error("a weak (small-order) Ed25519 key, which would verify forged signatures")]
    Weak,
}

/// An Ed25519 public key from its standard base64 (surrounding whitespace ignored): 32 bytes, a
/// point on the curve, not of small order (a weak key would let one signature pass for many
/// messages).
pub fn parse_ed25519_public_key(text: &str) -> Result<VerifyingKey, PublicKeyError> {
    let bytes = decode_base64_32(text.trim()).ok_or(PublicKeyError::NotBase64Of32)?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| PublicKeyError::NotOnCurve)?;
    if key.is_weak() {
        return Err(PublicKeyError::Weak);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn thirty_two_bytes_go_there_and_back() {
        let bytes = [7u8; 32];
        assert_eq!(decode_base64_32(&encode_base64_32(&bytes)), Some(bytes));
    }

    #[test]
    fn other_lengths_and_alphabets_are_refused() {
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 31]);
        let long = base64::engine::general_purpose::STANDARD.encode([1u8; 33]);
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode([0xfbu8; 32]);
        assert_eq!(decode_base64_32(&short), None);
        assert_eq!(decode_base64_32(&long), None);
        assert_eq!(decode_base64_32(&url_safe), None);
        assert_eq!(decode_base64_32("not base64!"), None);
    }

    #[test]
    fn a_real_key_parses_with_whitespace_around_it() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).verifying_key();
        let text = format!("  {}\n", encode_base64_32(key.as_bytes()));
        assert_eq!(parse_ed25519_public_key(&text), Ok(key));
    }

    #[test]
    fn bad_keys_say_why() {
        assert_eq!(
            parse_ed25519_public_key("AAAA"),
            Err(PublicKeyError::NotBase64Of32)
        );
        // The identity point: on the curve, of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            parse_ed25519_public_key(&encode_base64_32(&identity)),
            Err(PublicKeyError::Weak)
        );
        // About half of all y have no x on the curve; take the first such.
        let off_curve = (2u8..=255)
            .map(|y| {
                let mut bytes = [0u8; 32];
                bytes[0] = y;
                bytes
            })
            .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
            .unwrap();
        assert_eq!(
            parse_ed25519_public_key(&encode_base64_32(&off_curve)),
            Err(PublicKeyError::NotOnCurve)
        );
    }
}
