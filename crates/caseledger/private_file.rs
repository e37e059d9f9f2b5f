//! Writing a secret to a file of its own, safely: the one way the binary makes its key files
//! (the checkpoint signing key, the key-encryption key), and the warning when one of them can
//! be read by other users.
//!
//! The file is staged as `<name>.new`, private (mode 0600) from its first moment, synced,
//! renamed into place, and its directory synced, so a crash leaves either no key file or a
//! whole one — never a partial or world-readable one.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use anyhow::Context as _;

/// Writes `contents` to `path` in `dir` as described in the module docs. `default_name` names
/// the staging file when `path` has no file name. A staging file left by an interrupted
/// earlier attempt is removed first: it was never used.
pub(crate) fn write_private_file(
    path: &Path,
    dir: &Path,
    default_name: &str,
    contents: &str,
) -> anyhow::Result<()> {
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| default_name.to_owned());
    let staging = dir.join(format!("{file_name}.new"));
    match std::fs::remove_file(&staging) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot remove {}", staging.display()))
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", staging.display()))?;
    drop(file);
    std::fs::rename(&staging, path)
        .with_context(|| format!("cannot rename {} to {}", staging.display(), path.display()))?;
    std::fs::File::open(dir)
        .and_then(|directory| directory.sync_all())
        .with_context(|| format!("cannot sync the directory {}", dir.display()))?;
    Ok(())
}

/// Logs a warning when the file at `path` (`what`, e.g. "the signing key file") can be read or
/// written by users other than its owner.
pub(crate) fn warn_if_open_to_others(path: &Path, what: &str) {
    if let Ok(metadata) = std::fs::metadata(path) {
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "{what} can be read by other users; `chmod 600` it"
            );
        }
    }
}
