//! Complainants' personal data: sealed with a key per case, so erasing the key erases the data
//! everywhere while the log — which holds only the sealed form — still verifies.
//!
//! The cipher is XChaCha20-Poly1305 with a random 192-bit nonce; the case id is bound in as
//! associated data so a sealed value cannot be moved to another case. The sealed form is
//! `base64(nonce ‖ ciphertext)`. Keys live in their own keyspace, never in the log.
//!
//! At rest a case key is wrapped ([`StoredCaseKey::Wrapped`]) by a key-encryption key
//! ([`Kek`]) that the binary keeps in a file outside the store, so a copy of the database or of
//! a backup alone opens nothing. A [`Keyring`] holds the current KEK and, during a rotation,
//! the previous one; stores from before wrapping hold [`StoredCaseKey::Plain`] keys, which the
//! service rewraps at start.

use base64::Engine as _;
use caseledger_domain::{CaseId, ComplainantInput, SealedPersonalData};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::AppError;

const NONCE_BYTES: usize = 24;

/// A per-case data key as stored in the key keyspace.
#[derive(Clone, Serialize, Deserialize)]
pub struct CaseKey {
    /// The 256-bit key, base64.
    key: String,
}

impl std::fmt::Debug for CaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaseKey(<redacted>)")
    }
}

impl CaseKey {
    /// A fresh random key.
    pub fn generate() -> CaseKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        CaseKey {
            key: base64::engine::general_purpose::STANDARD.encode(key),
        }
    }

    /// The cipher of this key (for the chunks of attached files, `crate::attachments`).
    pub(crate) fn cipher(&self) -> Result<XChaCha20Poly1305, AppError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.key)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a case key is not base64")))?;
        XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a case key has the wrong length")))
    }

    /// Seals the complainant's details for `case`.
    pub fn seal(
        &self,
        case: CaseId,
        complainant: &ComplainantInput,
    ) -> Result<SealedPersonalData, AppError> {
        let plaintext =
            serde_json::to_vec(complainant).map_err(|error| AppError::Internal(error.into()))?;
        self.seal_bytes(case, &plaintext)
    }

    /// Opens what [`CaseKey::seal`] sealed for `case`.
    pub fn open(
        &self,
        case: CaseId,
        sealed: &SealedPersonalData,
    ) -> Result<ComplainantInput, AppError> {
        let plaintext = self.open_bytes(case, sealed)?;
        serde_json::from_slice(&plaintext).map_err(|error| AppError::Internal(error.into()))
    }

    /// Seals a text for `case` (a personal file's name).
    pub fn seal_text(&self, case: CaseId, text: &str) -> Result<SealedPersonalData, AppError> {
        self.seal_bytes(case, text.as_bytes())
    }

    /// Opens what [`CaseKey::seal_text`] sealed for `case`.
    pub fn open_text(&self, case: CaseId, sealed: &SealedPersonalData) -> Result<String, AppError> {
        String::from_utf8(self.open_bytes(case, sealed)?)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a sealed text is not UTF-8")))
    }

    fn seal_bytes(&self, case: CaseId, plaintext: &[u8]) -> Result<SealedPersonalData, AppError> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()?
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: case.0.as_bytes(),
                },
            )
            .map_err(|_| AppError::Internal(anyhow::anyhow!("sealing personal data failed")))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(SealedPersonalData {
            sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
        })
    }

    fn open_bytes(&self, case: CaseId, sealed: &SealedPersonalData) -> Result<Vec<u8>, AppError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&sealed.sealed)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("sealed data is not base64")))?;
        if bytes.len() < NONCE_BYTES {
            return Err(AppError::Internal(anyhow::anyhow!(
                "sealed data is too short"
            )));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        self.cipher()?
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: case.0.as_bytes(),
                },
            )
            .map_err(|_| AppError::Internal(anyhow::anyhow!("sealed data does not open")))
    }
}

/// A key-encryption key: wraps the per-case keys at rest.
#[derive(Clone)]
pub struct Kek {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek({})", self.id)
    }
}

impl Kek {
    /// The KEK of these 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Kek {
        let digest = Sha256::new()
            .chain_update(b"caseledger key-encryption key id\n")
            .chain_update(bytes)
            .finalize();
        Kek {
            // A public name of the key (16 hex digits of a hash), to tell which KEK wrapped a
            // stored key; it says nothing of the key itself.
            id: hex::encode(&digest[..8]),
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }

    /// The key's public name.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn wrap(&self, case: CaseId, key: &CaseKey) -> Result<StoredCaseKey, AppError> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key.key.as_bytes(),
                    aad: case.0.as_bytes(),
                },
            )
            .map_err(|_| AppError::Internal(anyhow::anyhow!("wrapping a case key failed")))?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&ciphertext);
        Ok(StoredCaseKey::Wrapped {
            kek: self.id.clone(),
            wrapped: base64::engine::general_purpose::STANDARD.encode(wrapped),
        })
    }

    fn unwrap(&self, case: CaseId, wrapped: &str) -> Result<CaseKey, AppError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(wrapped)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a wrapped key is not base64")))?;
        if bytes.len() < NONCE_BYTES {
            return Err(AppError::Internal(anyhow::anyhow!(
                "a wrapped key is too short"
            )));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let key = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: case.0.as_bytes(),
                },
            )
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a wrapped key does not open")))?;
        let key = String::from_utf8(key)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a wrapped key is not text")))?;
        Ok(CaseKey { key })
    }
}

/// A case key as the key keyspace stores it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredCaseKey {
    /// Wrapped by the KEK named `kek`: `base64(nonce ‖ ciphertext)`, the case id bound in.
    Wrapped {
        /// The [`Kek::id`] of the KEK that wrapped it.
        kek: String,
        /// The wrapped key.
        wrapped: String,
    },
    /// A key in clear, as stores before key wrapping (and services without a KEK) hold them.
    Plain(CaseKey),
}

impl std::fmt::Debug for StoredCaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredCaseKey::Wrapped { kek, .. } => write!(f, "Wrapped(kek {kek})"),
            StoredCaseKey::Plain(_) => f.write_str("Plain(<redacted>)"),
        }
    }
}

/// The KEKs a service holds: the current one wraps, the previous one (during a rotation) only
/// unwraps. Without a current KEK, keys are stored in clear (the library's default; `serve`
/// always has one).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    current: Option<Kek>,
    previous: Option<Kek>,
}

/// What a stored key needs at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrap {
    /// It is stored as it should be.
    No,
    /// It is in clear or under the previous KEK: wrap it under the current one.
    Yes,
}

impl Keyring {
    /// A keyring wrapping with `current` and still opening what `previous` wrapped.
    pub fn new(current: Kek, previous: Option<Kek>) -> Keyring {
        Keyring {
            current: Some(current),
            previous,
        }
    }

    /// The current KEK, when there is one.
    pub fn current(&self) -> Option<&Kek> {
        self.current.as_ref()
    }

    /// `key` as it is stored for `case`.
    pub fn store(&self, case: CaseId, key: &CaseKey) -> Result<StoredCaseKey, AppError> {
        match &self.current {
            Some(kek) => kek.wrap(case, key),
            None => Ok(StoredCaseKey::Plain(key.clone())),
        }
    }

    /// The key of `case` from its stored form; an error names the KEK it needs when this
    /// keyring does not hold it.
    pub fn open(&self, case: CaseId, stored: &StoredCaseKey) -> Result<CaseKey, AppError> {
        match stored {
            StoredCaseKey::Plain(key) => Ok(key.clone()),
            StoredCaseKey::Wrapped { kek, wrapped } => self
                .by_id(kek)
                .ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!(
                        "a case key is wrapped by the key-encryption key {kek}, which this \
                         service does not hold (--kek-file, --previous-kek-file)"
                    ))
                })?
                .unwrap(case, wrapped),
        }
    }

    /// Whether a stored key must be wrapped again under the current KEK; an error when no
    /// KEK of this keyring wrapped it.
    pub fn rewrap(&self, stored: &StoredCaseKey) -> Result<Rewrap, AppError> {
        let Some(current) = &self.current else {
            return Ok(Rewrap::No);
        };
        match stored {
            StoredCaseKey::Plain(_) => Ok(Rewrap::Yes),
            StoredCaseKey::Wrapped { kek, .. } if *kek == current.id => Ok(Rewrap::No),
            StoredCaseKey::Wrapped { kek, .. } if self.by_id(kek).is_some() => Ok(Rewrap::Yes),
            StoredCaseKey::Wrapped { kek, .. } => Err(AppError::Internal(anyhow::anyhow!(
                "the store's personal-data keys are wrapped by the key-encryption key {kek}, \
                 but this service holds {}{}: start it with the KEK file that wrapped them \
                 (--kek-file), or with that one as --previous-kek-file to rotate",
                current.id,
                self.previous
                    .as_ref()
                    .map(|previous| format!(" and {}", previous.id))
                    .unwrap_or_default()
            ))),
        }
    }

    fn by_id(&self, id: &str) -> Option<&Kek> {
        [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .find(|kek| kek.id == id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    fn complainant() -> ComplainantInput {
        ComplainantInput {
            name: "张三".into(),
            phone: Some("13800000000".into()),
            id_number: Some("11010519491231002X".into()),
        }
    }

    #[test]
    fn sealed_data_opens_only_with_its_key_and_case() {
        let key = CaseKey::generate();
        let case = CaseId(uuid::Uuid::now_v7());
        let sealed = key.seal(case, &complainant()).unwrap();
        assert!(!sealed.sealed.contains("张三"));
        assert_eq!(key.open(case, &sealed).unwrap(), complainant());
        assert!(CaseKey::generate().open(case, &sealed).is_err());
        assert!(key.open(CaseId(uuid::Uuid::now_v7()), &sealed).is_err());
    }

    #[test]
    fn a_wrapped_key_opens_only_with_its_kek_and_case_and_rotates() {
        let case = CaseId(uuid::Uuid::now_v7());
        let key = CaseKey::generate();
        let sealed = key.seal(case, &complainant()).unwrap();
        let old = Kek::from_bytes(&[1; 32]);
        let new = Kek::from_bytes(&[2; 32]);
        let before = Keyring::new(old.clone(), None);
        let stored = before.store(case, &key).unwrap();
        let text = serde_json::to_string(&stored).unwrap();
        assert!(!text.contains(&key.key), "the key is not stored in clear");
        let stored: StoredCaseKey = serde_json::from_str(&text).unwrap();
        let opened = before.open(case, &stored).unwrap();
        assert_eq!(opened.open(case, &sealed).unwrap(), complainant());
        assert!(before.open(CaseId(uuid::Uuid::now_v7()), &stored).is_err());
        assert_eq!(before.rewrap(&stored).unwrap(), Rewrap::No);
        // Another KEK alone neither opens it nor accepts the store.
        let stranger = Keyring::new(new.clone(), None);
        assert!(stranger.open(case, &stored).is_err());
        assert!(stranger.rewrap(&stored).is_err());
        // A rotation: the previous KEK opens, the current one rewraps.
        let rotating = Keyring::new(new.clone(), Some(old));
        assert_eq!(rotating.rewrap(&stored).unwrap(), Rewrap::Yes);
        let rewrapped = rotating
            .store(case, &rotating.open(case, &stored).unwrap())
            .unwrap();
        assert_eq!(stranger.rewrap(&rewrapped).unwrap(), Rewrap::No);
        assert_eq!(
            stranger
                .open(case, &rewrapped)
                .unwrap()
                .open(case, &sealed)
                .unwrap(),
            complainant()
        );
        // Keys stored in clear by older versions still read, and are rewrapped.
        let plain: StoredCaseKey =
            serde_json::from_str(&serde_json::to_string(&key).unwrap()).unwrap();
        assert!(matches!(plain, StoredCaseKey::Plain(_)));
        assert_eq!(stranger.rewrap(&plain).unwrap(), Rewrap::Yes);
        assert_eq!(Keyring::default().rewrap(&plain).unwrap(), Rewrap::No);
    }
}
