//! Signed checkpoints: the log's head at a moment, signed with the service's Ed25519 key, so
//! that anyone holding the public key can tell whether an export agrees with what the service
//! once attested — and partner departments, receiving each checkpoint, hold witnesses of the
//! log that the service cannot take back.
//!
//! The signed bytes are the RFC 8785 canonical JSON of `{"at","hash","position"}`; the signature
//! and the public key are standard base64 (Ed25519, RFC 8032). `at` is kept as the exact text
//! that was signed. This module does no I/O.

use base64::Engine as _;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::types::{ChainHash, Head, Position};

/// A signed statement that the log's event at `position` has hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The position attested.
    pub position: Position,
    /// The hash of the event at that position.
    pub hash: ChainHash,
    /// When the checkpoint was signed (RFC 3339, UTC).
    pub at: String,
    /// Base64 Ed25519 signature over [`Checkpoint::signed_bytes`].
    pub signature: String,
}

#[derive(Serialize)]
struct SignedPart<'a> {
    at: &'a str,
    hash: &'a ChainHash,
    position: Position,
}

/// Why a checkpoint does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The public key is not a base64 Ed25519 key.
    #[error("the public key is not a base64 Ed25519 public key")]
    BadPublicKey,
    /// The signature is not base64 of 64 bytes.
    #[error("the signature of checkpoint {0} is malformed")]
    MalformedSignature(Position),
    /// The signature does not match.
    #[error("the signature of checkpoint {0} is not valid for this public key")]
    BadSignature(Position),
}

impl Checkpoint {
    /// The bytes the signature covers: canonical JSON of `{"at","hash","position"}`.
    pub fn signed_bytes(position: Position, hash: &ChainHash, at: &str) -> Vec<u8> {
        serde_jcs::to_vec(&SignedPart { at, hash, position }).unwrap_or_default()
    }

    /// Signs `head` at `at` with `key`.
    pub fn sign(key: &SigningKey, head: Head, at: String) -> Checkpoint {
        let signature = key.sign(&Self::signed_bytes(head.position, &head.hash, &at));
        Checkpoint {
            position: head.position,
            hash: head.hash,
            at,
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
        }
    }

    /// Checks the signature against a base64 public key, strictly (`verify_strict`): a weak
    /// (small-order) public key or a malleable signature is refused, so no key can be picked
    /// that makes one signature pass for any checkpoint.
    ///
    /// ```
    /// use caseledger_store::checkpoint::{public_key_base64, Checkpoint, CheckpointError};
    /// use caseledger_store::{ChainHash, Head, Position};
    ///
    /// let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    /// let head = Head { position: Position(1000), hash: ChainHash([1; 32]) };
    /// let checkpoint = Checkpoint::sign(&key, head, "2026-11-29T08:00:00Z".into());
    /// let public_key = public_key_base64(&key);
    /// assert_eq!(checkpoint.verify(&public_key), Ok(()));
    ///
    /// let forged = Checkpoint { position: Position(999), ..checkpoint };
    /// assert_eq!(forged.verify(&public_key), Err(CheckpointError::BadSignature(Position(999))));
    /// ```
    pub fn verify(&self, public_key: &str) -> Result<(), CheckpointError> {
        let key = parse_public_key(public_key)?;
        let bytes: [u8; 64] = base64::engine::general_purpose::STANDARD
            .decode(self.signature.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(CheckpointError::MalformedSignature(self.position))?;
        key.verify_strict(
            &Self::signed_bytes(self.position, &self.hash, &self.at),
            &Signature::from_bytes(&bytes),
        )
        .map_err(|_| CheckpointError::BadSignature(self.position))
    }
}

/// The public half of `key`, base64.
pub fn public_key_base64(key: &SigningKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes())
}

fn parse_public_key(text: &str) -> Result<VerifyingKey, CheckpointError> {
    let bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(CheckpointError::BadPublicKey)?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| CheckpointError::BadPublicKey)?;
    if key.is_weak() {
        return Err(CheckpointError::BadPublicKey);
    }
    Ok(key)
}

/// Whether `bytes` are an Ed25519 public key that can verify checkpoints: a point on the curve
/// that is not of small order (a weak key would let one signature pass for many messages).
pub fn is_usable_public_key(bytes: &[u8; 32]) -> bool {
    VerifyingKey::from_bytes(bytes).is_ok_and(|key| !key.is_weak())
}

#[cfg(test)]
mod strict_tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use crate::{ChainHash, Head, Position};
    use ed25519_dalek::Verifier as _;

    /// The identity point as a public key, with the signature (R = identity, s = 0) that a
    /// cofactored, non-strict check accepts for every message.
    fn identity_forgery(position: u64) -> (String, Checkpoint) {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut signature = [0u8; 64];
        signature[0] = 1;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        (
            encode(&identity),
            Checkpoint {
                position: Position(position),
                hash: ChainHash([9; 32]),
                at: "2026-12-04T00:00:00Z".into(),
                signature: encode(&signature),
            },
        )
    }

    #[test]
    fn a_weak_public_key_with_a_universal_signature_is_refused() {
        let (key, forged) = identity_forgery(42);
        let mut identity = [0u8; 32];
        identity[0] = 1;
        // The non-strict check is fooled; the checkpoint's own check is not.
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        let signature = Signature::from_bytes(
            &base64::engine::general_purpose::STANDARD
                .decode(&forged.signature)
                .unwrap()
                .try_into()
                .unwrap(),
        );
        assert!(weak
            .verify(
                &Checkpoint::signed_bytes(forged.position, &forged.hash, &forged.at),
                &signature
            )
            .is_ok());
        assert_eq!(forged.verify(&key), Err(CheckpointError::BadPublicKey));
        assert!(!is_usable_public_key(&identity));
    }

    #[test]
    fn a_signature_with_a_non_canonical_s_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let head = Head {
            position: Position(5),
            hash: ChainHash([3; 32]),
        };
        let checkpoint = Checkpoint::sign(&key, head, "2026-12-04T00:00:00Z".into());
        let public_key = public_key_base64(&key);
        assert_eq!(checkpoint.verify(&public_key), Ok(()));
        assert!(is_usable_public_key(&key.verifying_key().to_bytes()));
        // s + ℓ (the group order) is the same scalar mod ℓ: a malleated signature.
        let mut bytes: [u8; 64] = base64::engine::general_purpose::STANDARD
            .decode(&checkpoint.signature)
            .unwrap()
            .try_into()
            .unwrap();
        const ORDER: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for index in 0..32 {
            let sum = u16::from(bytes[32 + index]) + u16::from(ORDER[index]) + carry;
            bytes[32 + index] = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        let malleated = Checkpoint {
            signature: base64::engine::general_purpose::STANDARD.encode(bytes),
            ..checkpoint
        };
        assert_eq!(
            malleated.verify(&public_key),
            Err(CheckpointError::BadSignature(Position(5)))
        );
    }
}
