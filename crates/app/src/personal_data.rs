//! Complainants' personal data: sealed with a key per case, so erasing the key erases the data
//! everywhere while the log — which holds only the sealed form — still verifies.
//!
//! The cipher is XChaCha20-Poly1305 with a random 192-bit nonce; the case id is bound in as
//! associated data so a sealed value cannot be moved to another case. The sealed form is
//! `base64(nonce ‖ ciphertext)`. Keys live in their own keyspace, never in the log.

use base64::Engine as _;
use caseledger_domain::{CaseId, ComplainantInput, SealedPersonalData};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

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

    fn cipher(&self) -> Result<XChaCha20Poly1305, AppError> {
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
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()?
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
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

    /// Opens what [`CaseKey::seal`] sealed for `case`.
    pub fn open(
        &self,
        case: CaseId,
        sealed: &SealedPersonalData,
    ) -> Result<ComplainantInput, AppError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&sealed.sealed)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("sealed data is not base64")))?;
        if bytes.len() < NONCE_BYTES {
            return Err(AppError::Internal(anyhow::anyhow!(
                "sealed data is too short"
            )));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plaintext = self
            .cipher()?
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: case.0.as_bytes(),
                },
            )
            .map_err(|_| AppError::Internal(anyhow::anyhow!("sealed data does not open")))?;
        serde_json::from_slice(&plaintext).map_err(|error| AppError::Internal(error.into()))
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
}
