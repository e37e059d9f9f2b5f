//! How an attached file's chunks are sealed at rest: XChaCha20-Poly1305 under a case key (the
//! case's personal-data key for a personal file, its content key otherwise), each chunk with a
//! fresh random nonce and, as associated data, the case, the attachment, the chunk's index and
//! whether it is the last — so no chunk can be moved to another file or place, and a file cut
//! short or lengthened does not open. A stored chunk is `nonce (24 bytes) ‖ ciphertext`.

use caseledger_domain::{AttachmentId, CaseId};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::personal_data::CaseKey;
use crate::AppError;

/// How many bytes of a file one chunk holds (the last one holds the rest).
pub const CHUNK_BYTES: usize = 256 * 1024;

const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

/// How many chunks a file of `size` bytes has: at least one (an empty file is one empty
/// chunk, so that its end is sealed too).
pub fn chunk_count(size: u64) -> u32 {
    let chunks = size.div_ceil(CHUNK_BYTES as u64).max(1);
    u32::try_from(chunks).unwrap_or(u32::MAX)
}

/// Seals and opens the chunks of one file.
pub struct FileSealer {
    cipher: XChaCha20Poly1305,
    case: CaseId,
    attachment: AttachmentId,
}

impl std::fmt::Debug for FileSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSealer")
            .field("case", &self.case)
            .field("attachment", &self.attachment)
            .finish_non_exhaustive()
    }
}

impl FileSealer {
    /// The sealer of `attachment` of `case`, under `key`.
    pub fn new(
        key: &CaseKey,
        case: CaseId,
        attachment: AttachmentId,
    ) -> Result<FileSealer, AppError> {
        Ok(FileSealer {
            cipher: key.cipher()?,
            case,
            attachment,
        })
    }

    fn associated_data(&self, index: u32, last: bool) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64);
        aad.extend_from_slice(b"caseledger attachment chunk v1\n");
        aad.extend_from_slice(self.case.0.as_bytes());
        aad.extend_from_slice(self.attachment.0.as_bytes());
        aad.extend_from_slice(&index.to_be_bytes());
        aad.push(u8::from(last));
        aad
    }

    /// Chunk `index` sealed, `last` when no chunk follows: `nonce ‖ ciphertext ‖ tag`, sealed
    /// in place in the buffer it is returned in (one copy of the chunk, no more).
    pub fn seal(&self, index: u32, last: bool, plaintext: &[u8]) -> Result<Vec<u8>, AppError> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = self.associated_data(index, last);
        let mut sealed = Vec::with_capacity(NONCE_BYTES + plaintext.len() + TAG_BYTES);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut sealed[NONCE_BYTES..])
            .map_err(|_| AppError::Internal(anyhow::anyhow!("sealing a file's chunk failed")))?;
        sealed.extend_from_slice(&tag);
        Ok(sealed)
    }

    /// Opens chunk `index` as sealed, `last` when no chunk follows, in the buffer it came in.
    pub fn open(&self, index: u32, last: bool, mut sealed: Vec<u8>) -> Result<Vec<u8>, AppError> {
        let broken = || {
            AppError::Internal(anyhow::anyhow!(
                "chunk {index} of attachment {} does not open: its bytes were changed, moved or \
                 cut",
                self.attachment
            ))
        };
        if sealed.len() < NONCE_BYTES + TAG_BYTES {
            return Err(broken());
        }
        let tag = sealed.split_off(sealed.len() - TAG_BYTES);
        let mut nonce = [0u8; NONCE_BYTES];
        nonce.copy_from_slice(&sealed[..NONCE_BYTES]);
        let aad = self.associated_data(index, last);
        self.cipher
            .decrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                &aad,
                &mut sealed[NONCE_BYTES..],
                Tag::from_slice(&tag),
            )
            .map_err(|_| broken())?;
        sealed.drain(..NONCE_BYTES);
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn a_chunk_opens_only_in_its_place() {
        let key = CaseKey::generate();
        let case = CaseId(uuid::Uuid::now_v7());
        let attachment = AttachmentId(uuid::Uuid::now_v7());
        let sealer = FileSealer::new(&key, case, attachment).unwrap();
        let sealed = sealer.seal(3, false, b"payroll").unwrap();
        assert!(!sealed.windows(7).any(|window| window == b"payroll"));
        assert_eq!(sealer.open(3, false, sealed.clone()).unwrap(), b"payroll");
        assert!(
            sealer.open(4, false, sealed.clone()).is_err(),
            "another index"
        );
        assert!(
            sealer.open(3, true, sealed.clone()).is_err(),
            "cut to end there"
        );
        let other = FileSealer::new(&key, case, AttachmentId(uuid::Uuid::now_v7())).unwrap();
        assert!(
            other.open(3, false, sealed.clone()).is_err(),
            "another file"
        );
        let stranger = FileSealer::new(&CaseKey::generate(), case, attachment).unwrap();
        assert!(
            stranger.open(3, false, sealed.clone()).is_err(),
            "another key"
        );
    }

    #[test]
    fn chunks_cover_the_file() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64 + 1), 2);
        assert_eq!(chunk_count(20 * 1024 * 1024), 80);
    }
}
