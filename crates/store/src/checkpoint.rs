//! Signed checkpoints: the log's head at a moment, signed with the service's Ed25519 key, so
//! that anyone holding the public key can tell whether an export agrees with what the service
//! once attested — and partner departments, receiving each checkpoint, hold witnesses of the
//! log that the service cannot take back.
//!
//! The signed bytes are the RFC 8785 canonical JSON of `{"at","hash","position"}` — with
//! `"root_hash","tree_size"` besides, for checkpoints made since the log is also a Merkle tree
//! (contract §11); the signature and the public key are standard base64 (Ed25519, RFC 8032).
//! `at` is kept as the exact text that was signed. Such a checkpoint also carries the same tree
//! head as a C2SP `tlog-checkpoint` signed note ([`crate::note`]), signed with the same key
//! under the log's origin, the form witnesses co-sign. This module does no I/O.

use base64::Engine as _;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::note::{sign_note, CheckpointBody, SignedNote, VerifierKey};
use crate::tree::TreeHash;
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
    /// The Merkle tree's size: the position (absent from checkpoints made before the tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    /// The tree's root hash at that size, standard base64 (absent before the tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_hash: Option<String>,
    /// The same tree head as a C2SP `tlog-checkpoint` signed note, with the service's
    /// signature line (absent before the tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Serialize)]
struct SignedPart<'a> {
    at: &'a str,
    hash: &'a ChainHash,
    position: Position,
    #[serde(skip_serializing_if = "Option::is_none")]
    root_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tree_size: Option<u64>,
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
    /// The checkpoint's signed note does not state its tree head, or is not signed by the key.
    #[error("the signed note of checkpoint {0} does not state its tree head under this key")]
    BadNote(Position),
}

impl Checkpoint {
    /// The bytes the signature covers: canonical JSON of `{"at","hash","position"}`.
    pub fn signed_bytes(position: Position, hash: &ChainHash, at: &str) -> Vec<u8> {
        serde_jcs::to_vec(&SignedPart {
            at,
            hash,
            position,
            root_hash: None,
            tree_size: None,
        })
        .unwrap_or_default()
    }

    /// The bytes this checkpoint's signature covers: [`Checkpoint::signed_bytes`], with the
    /// tree's size and root when it carries them.
    pub fn own_signed_bytes(&self) -> Vec<u8> {
        serde_jcs::to_vec(&SignedPart {
            at: &self.at,
            hash: &self.hash,
            position: self.position,
            root_hash: self.root_hash.as_deref(),
            tree_size: self.tree_size,
        })
        .unwrap_or_default()
    }

    /// Signs `head` at `at` with `key` (the form made before the log was a Merkle tree).
    pub fn sign(key: &SigningKey, head: Head, at: String) -> Checkpoint {
        let signature = key.sign(&Self::signed_bytes(head.position, &head.hash, &at));
        Checkpoint {
            position: head.position,
            hash: head.hash,
            at,
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
            tree_size: None,
            root_hash: None,
            note: None,
        }
    }

    /// Signs `head` at `at` with `key`, with the Merkle tree's `root` at the head's size: the
    /// JSON checkpoint and the `tlog-checkpoint` note of the log named `origin`.
    pub fn sign_tree(
        key: &SigningKey,
        origin: &str,
        head: Head,
        root: &TreeHash,
        at: String,
    ) -> Checkpoint {
        let root_hash = base64::engine::general_purpose::STANDARD.encode(root);
        let mut checkpoint = Checkpoint {
            position: head.position,
            hash: head.hash,
            at,
            signature: String::new(),
            tree_size: Some(head.position.0),
            root_hash: Some(root_hash),
            note: None,
        };
        let signature = key.sign(&checkpoint.own_signed_bytes());
        checkpoint.signature =
            base64::engine::general_purpose::STANDARD.encode(signature.to_bytes());
        let body = CheckpointBody {
            origin: origin.to_owned(),
            tree_size: head.position.0,
            root_hash: *root,
            extensions: Vec::new(),
        }
        .to_text();
        let line = sign_note(&body, origin, key);
        checkpoint.note = Some(
            SignedNote {
                text: body,
                signatures: vec![line],
            }
            .to_text(),
        );
        checkpoint
    }

    /// The tree's root hash, decoded (`None` for a checkpoint made before the tree, or one
    /// whose root is not 32 bytes of base64).
    pub fn root(&self) -> Option<TreeHash> {
        base64::engine::general_purpose::STANDARD
            .decode(self.root_hash.as_deref()?)
            .ok()?
            .try_into()
            .ok()
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
        key.verify_strict(&self.own_signed_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| CheckpointError::BadSignature(self.position))?;
        self.verify_note(&key)
    }

    /// Checks that the note, when there is one, states this checkpoint's tree head and is
    /// signed by `key` under the origin it names.
    fn verify_note(&self, key: &VerifyingKey) -> Result<(), CheckpointError> {
        let (Some(note), Some(tree_size), Some(root)) = (&self.note, self.tree_size, self.root())
        else {
            return match (&self.note, self.tree_size, &self.root_hash) {
                (None, None, None) => Ok(()),
                _ => Err(CheckpointError::BadNote(self.position)),
            };
        };
        let bad = || CheckpointError::BadNote(self.position);
        let note = SignedNote::parse(note).map_err(|_| bad())?;
        let body = CheckpointBody::parse(&note.text).map_err(|_| bad())?;
        if body.tree_size != tree_size || body.root_hash != root || tree_size != self.position.0 {
            return Err(bad());
        }
        note.verify(&VerifierKey::ed25519(&body.origin, *key))
            .map_err(|_| bad())?;
        Ok(())
    }
}

/// The public half of `key`, base64.
pub fn public_key_base64(key: &SigningKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes())
}

fn parse_public_key(text: &str) -> Result<VerifyingKey, CheckpointError> {
    crate::encoding::parse_ed25519_public_key(text).map_err(|_| CheckpointError::BadPublicKey)
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
                tree_size: None,
                root_hash: None,
                note: None,
            },
        )
    }

    #[test]
    fn a_tree_checkpoint_signs_its_root_as_json_and_as_a_note() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let public_key = public_key_base64(&key);
        let head = Head {
            position: Position(1000),
            hash: ChainHash([1; 32]),
        };
        let root = [5u8; 32];
        let checkpoint = Checkpoint::sign_tree(
            &key,
            "caseledger/test",
            head,
            &root,
            "2026-12-06T00:00:00Z".into(),
        );
        assert_eq!(checkpoint.verify(&public_key), Ok(()));
        assert_eq!(checkpoint.root(), Some(root));
        let note = checkpoint.note.clone().unwrap();
        assert!(note.starts_with("caseledger/test\n1000\nBQUF"), "{note}");

        // The root is under the JSON signature: another root is a bad signature.
        let other_root = Checkpoint {
            root_hash: Some(base64::engine::general_purpose::STANDARD.encode([6u8; 32])),
            ..checkpoint.clone()
        };
        assert_eq!(
            other_root.verify(&public_key),
            Err(CheckpointError::BadSignature(Position(1000)))
        );
        // A note of another tree head, or signed by another key, is refused.
        let stranger = SigningKey::from_bytes(&[4; 32]);
        let foreign = Checkpoint::sign_tree(&stranger, "caseledger/test", head, &root, "x".into());
        let swapped = Checkpoint {
            note: foreign.note,
            ..checkpoint.clone()
        };
        assert_eq!(
            swapped.verify(&public_key),
            Err(CheckpointError::BadNote(Position(1000)))
        );
        // An old checkpoint, without the tree, still verifies as it always did.
        let old = Checkpoint::sign(&key, head, "2026-12-06T00:00:00Z".into());
        assert_eq!(old.verify(&public_key), Ok(()));
        assert_eq!(
            Checkpoint::signed_bytes(head.position, &head.hash, &old.at),
            old.own_signed_bytes()
        );
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
