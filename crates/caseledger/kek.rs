//! The key-encryption key (KEK) file that wraps every per-case personal-data key at rest:
//! `--kek-file FILE`, or `<data-dir>/kek`, made at first start; `--previous-kek-file` during a
//! rotation.
//!
//! This module owns the file — 32 random bytes as standard base64 on one line, made 0600 from
//! its first moment, staged, synced and renamed into place like the signing key — and the
//! refusal to make a new one for a store whose keys another KEK already wrapped (a copy of the
//! data dir without its KEK must not quietly start and answer "erased"). It never puts the key
//! into a log line or an error; callers log the path and the KEK's public id. Wrapping itself
//! is `caseledger_app::personal_data`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use caseledger_app::personal_data::{Kek, Keyring};
use rand::RngCore as _;

use crate::data_dir::{self, KEK_FILE};

/// The keyring of a start, and where its current KEK came from.
#[derive(Debug)]
pub struct Loaded {
    /// The current and (during a rotation) the previous KEK.
    pub keyring: Keyring,
    /// The current KEK's file.
    pub path: PathBuf,
    /// Whether this start made that file.
    pub created: bool,
}

/// The KEKs to use: `given` or `<data_dir>/kek`, made when it does not exist and
/// `store_has_wrapped_keys` is false; `previous` must exist when given.
pub fn load_or_create(
    given: Option<&Path>,
    previous: Option<&Path>,
    data_dir: &Path,
    store_has_wrapped_keys: bool,
) -> anyhow::Result<Loaded> {
    let path = given
        .map(Path::to_owned)
        .unwrap_or_else(|| data_dir::kek_file(data_dir));
    let (current, created) = match std::fs::symlink_metadata(&path) {
        Ok(_) => (read_kek_file(&path)?, false),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if store_has_wrapped_keys {
                anyhow::bail!(
                    "the key-encryption key file {} does not exist, but the store's \
                     personal-data keys are wrapped by a KEK: give the file that wrapped them \
                     with --kek-file (a copy of a store or a backup without its KEK opens no \
                     personal data)",
                    path.display()
                );
            }
            let dir = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .unwrap_or(data_dir)
                .to_owned();
            (create_kek_file(&path, &dir)?, true)
        }
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    let previous = previous
        .map(|path| {
            read_kek_file(path)
                .context("cannot use the key-encryption key given with --previous-kek-file")
        })
        .transpose()?;
    Ok(Loaded {
        keyring: Keyring::new(current, previous),
        path,
        created,
    })
}

/// Reads a KEK file: 32 bytes as standard base64 on one line. Errors name the file, never its
/// content.
pub fn read_kek_file(path: &Path) -> anyhow::Result<Kek> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key-encryption key file {}", path.display()))?;
    let bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| {
            format!(
                "the key-encryption key file {} does not hold a key: expected 32 bytes as \
                 standard base64 (44 characters) on one line",
                path.display()
            )
        })?;
    crate::private_file::warn_if_open_to_others(path, "the key-encryption key file");
    Ok(Kek::from_bytes(&bytes))
}

/// Makes a new KEK from the OS's random source at `path` in `dir`: staged in `<path>.new`
/// (0600 from creation), synced, renamed into place, directory synced.
fn create_kek_file(path: &Path, dir: &Path) -> anyhow::Result<Kek> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .context("cannot read the operating system's random source to make a KEK")?;
    let kek = Kek::from_bytes(&bytes);
    let text = format!(
        "{}\n",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    bytes.fill(0);
    crate::private_file::write_private_file(path, dir, KEK_FILE, &text)?;
    Ok(kek)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn the_first_start_makes_a_private_kek_that_later_starts_reuse() {
        let directory = tempfile::tempdir().unwrap();
        let first = load_or_create(None, None, directory.path(), false).unwrap();
        assert!(first.created);
        let path = directory.path().join(KEK_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(None, None, directory.path(), true).unwrap();
        assert!(!again.created);
        assert_eq!(
            again.keyring.current().unwrap().id(),
            first.keyring.current().unwrap().id()
        );
    }

    #[test]
    fn no_new_kek_is_made_for_a_store_whose_keys_another_one_wrapped() {
        let directory = tempfile::tempdir().unwrap();
        let message = format!(
            "{:#}",
            load_or_create(None, None, directory.path(), true).unwrap_err()
        );
        assert!(message.contains("--kek-file"), "{message}");
        assert!(!directory.path().join(KEK_FILE).exists());
    }
}
