//! The Ed25519 key that signs audit checkpoints: read from `--signing-key FILE`, or kept in
//! `<data-dir>/signing-key` and made there at first start.
//!
//! This module owns the key file's format — the 32-byte Ed25519 seed as standard base64, alone
//! on one line — and how the file is made: 0600 from its first moment, written to a staging
//! file, renamed into place and the directory synced, so a crash never leaves half a key. It
//! never puts the key (or any part of the file) into a log line or an error message; callers
//! log the path and the public key. It does not sign anything: that is
//! `caseledger_store::checkpoint`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use rand::RngCore as _;

use crate::data_dir::{self, SIGNING_KEY_FILE};

/// Where the signing key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The file given with `--signing-key` (or `CASELEDGER_SIGNING_KEY`, or `signing_key`).
    Given(PathBuf),
    /// The data dir's key file, which existed already.
    DataDir(PathBuf),
    /// The data dir's key file, made by this start.
    Created(PathBuf),
}

impl KeySource {
    /// The key file's path.
    pub fn path(&self) -> &Path {
        match self {
            KeySource::Given(path) | KeySource::DataDir(path) | KeySource::Created(path) => path,
        }
    }
}

/// The signing key to use: the `given` file when there is one, else `<data_dir>/signing-key`,
/// which is made (from the OS's random source) when it does not exist yet.
pub fn load_or_create(
    given: Option<&Path>,
    data_dir: &Path,
) -> anyhow::Result<(SigningKey, KeySource)> {
    if let Some(path) = given {
        let key = read_key_file(path).context("cannot use the signing key given with --signing-key (CASELEDGER_SIGNING_KEY, config key signing_key)")?;
        return Ok((key, KeySource::Given(path.to_owned())));
    }
    let path = data_dir::signing_key_file(data_dir);
    match std::fs::symlink_metadata(&path) {
        Ok(_) => Ok((read_key_file(&path)?, KeySource::DataDir(path))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = create_key_file(&path, data_dir)?;
            Ok((key, KeySource::Created(path)))
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Reads a key file: the 32-byte seed as standard base64 on one line (surrounding whitespace
/// is ignored). Errors name the file and what is wrong, never its content.
pub fn read_key_file(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key file {}", path.display()))?;
    let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| {
            format!(
                "the signing key file {} does not hold an Ed25519 key: expected the 32-byte \
                 seed as standard base64 (44 characters) on one line",
                path.display()
            )
        })?;
    crate::private_file::warn_if_open_to_others(path, "the signing key file");
    Ok(SigningKey::from_bytes(&seed))
}

/// The text of a key file for `key`: its seed as base64 and a newline.
pub fn key_file_text(key: &SigningKey) -> String {
    format!(
        "{}\n",
        base64::engine::general_purpose::STANDARD.encode(key.to_bytes())
    )
}

/// Makes a new key from the OS's random source and writes it to `path` in `dir`: staged in
/// `<path>.new` (mode 0600 from creation), synced, renamed into place, directory synced.
fn create_key_file(path: &Path, dir: &Path) -> anyhow::Result<SigningKey> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .context("cannot read the operating system's random source to make a signing key")?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);

    crate::private_file::write_private_file(path, dir, SIGNING_KEY_FILE, &key_file_text(&key))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use std::os::unix::fs::PermissionsExt as _;

    use caseledger_store::checkpoint::public_key_base64;

    use super::*;

    #[test]
    fn the_first_start_makes_a_private_key_that_later_starts_reuse() {
        let directory = tempfile::tempdir().unwrap();
        let (key, source) = load_or_create(None, directory.path()).unwrap();
        let path = directory.path().join(SIGNING_KEY_FILE);
        assert_eq!(source, KeySource::Created(path.clone()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 45, "44 base64 characters and a newline");
        assert!(!directory.path().join("signing-key.new").exists());

        let (again, source) = load_or_create(None, directory.path()).unwrap();
        assert_eq!(source, KeySource::DataDir(path));
        assert_eq!(public_key_base64(&again), public_key_base64(&key));

        // Another data dir, another key.
        let other = tempfile::tempdir().unwrap();
        let (other_key, _) = load_or_create(None, other.path()).unwrap();
        assert_ne!(public_key_base64(&other_key), public_key_base64(&key));
    }

    #[test]
    fn a_given_key_file_wins_and_is_not_copied() {
        let directory = tempfile::tempdir().unwrap();
        let given = directory.path().join("my-key");
        let key = SigningKey::from_bytes(&[9; 32]);
        std::fs::write(&given, format!("  {}", key_file_text(&key))).unwrap();
        let data_dir = directory.path().join("data");
        std::fs::create_dir(&data_dir).unwrap();
        let (loaded, source) = load_or_create(Some(&given), &data_dir).unwrap();
        assert_eq!(source, KeySource::Given(given));
        assert_eq!(loaded.to_bytes(), key.to_bytes());
        assert!(!data_dir.join(SIGNING_KEY_FILE).exists());
    }

    #[test]
    fn a_bad_key_file_is_refused_without_showing_its_content() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("key");
        for content in ["c2VjcmV0LXNob3J0\n", "not base64 at all secret\n", ""] {
            std::fs::write(&path, content).unwrap();
            let error = load_or_create(Some(&path), directory.path()).unwrap_err();
            let message = format!("{error:#}");
            assert!(
                message.contains("does not hold an Ed25519 key"),
                "{message}"
            );
            assert!(
                !message.contains("secret") && !message.contains("c2Vj"),
                "{message}"
            );
        }
        let missing = directory.path().join("missing");
        let message = format!(
            "{:#}",
            load_or_create(Some(&missing), directory.path()).unwrap_err()
        );
        assert!(
            message.contains("cannot read the signing key file"),
            "{message}"
        );
    }
}
