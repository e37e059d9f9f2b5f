//! The layout of the data dir (`--data-dir`, default `./caseledger-data`): which file and
//! directory in it holds what, and how the offline commands open the embedded store in it.
//!
//! ```text
//! <data-dir>/
//!   sled/                  the embedded event log and every keyspace (store `sled`)
//!   initial-admin-token    the first admin token, written once at the first start (0600)
//!   initial-admin-setup-url  the first admin account's one-time setup link, likewise (0600)
//!   signing-key            the checkpoint signing key, unless --signing-key names another
//!   kek                    the key-encryption key, unless --kek-file names another
//!   demo-tokens            the demo office's tokens, written by `caseledger demo` (0600)
//! ```
//!
//! This module owns those names and the opening of a stopped service's store from outside
//! (refusing a data dir without one instead of creating it, and explaining a lock held by a
//! running service). What goes into each file is owned elsewhere: the key files by
//! [`crate::signing_key`] and [`crate::kek`], the token files by [`crate::serve`] and
//! [`crate::demo`].

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use caseledger_app::Storage;
use caseledger_store::{SledLog, SledLogOptions, StoreError};

/// The directory inside the data dir that holds the embedded sled log.
pub const SLED_DIR: &str = "sled";

/// The file in the data dir that receives the first admin token.
pub const INITIAL_ADMIN_TOKEN_FILE: &str = "initial-admin-token";

/// The file in the data dir that receives the first admin account's setup link.
pub const INITIAL_ADMIN_SETUP_URL_FILE: &str = "initial-admin-setup-url";

/// The file in the data dir that holds the signing key when `--signing-key` is not given.
pub const SIGNING_KEY_FILE: &str = "signing-key";

/// The file in the data dir that holds the KEK when `--kek-file` is not given.
pub const KEK_FILE: &str = "kek";

/// The file in the data dir that receives the demo people's tokens.
pub const DEMO_TOKENS_FILE: &str = "demo-tokens";

/// `<data_dir>/sled`: the embedded store.
pub fn sled_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(SLED_DIR)
}

/// `<data_dir>/initial-admin-token`.
pub fn initial_admin_token_file(data_dir: &Path) -> PathBuf {
    data_dir.join(INITIAL_ADMIN_TOKEN_FILE)
}

/// `<data_dir>/signing-key`.
pub fn signing_key_file(data_dir: &Path) -> PathBuf {
    data_dir.join(SIGNING_KEY_FILE)
}

/// `<data_dir>/kek`.
pub fn kek_file(data_dir: &Path) -> PathBuf {
    data_dir.join(KEK_FILE)
}

/// `<data_dir>/demo-tokens`.
pub fn demo_tokens_file(data_dir: &Path) -> PathBuf {
    data_dir.join(DEMO_TOKENS_FILE)
}

/// The sled directory of `data_dir`, which must exist: an offline command never creates a
/// store.
fn existing_sled_dir(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let sled_dir = sled_dir(data_dir);
    if !sled_dir.is_dir() {
        anyhow::bail!(
            "{} holds no event log (there is no {}); give the --data-dir of the service",
            data_dir.display(),
            sled_dir.display()
        );
    }
    Ok(sled_dir)
}

/// Explains a locked store ([`StoreError::Locked`]): a running service holds the data dir.
fn explain_open_error(error: anyhow::Error, data_dir: &Path) -> anyhow::Error {
    if matches!(
        error.downcast_ref::<StoreError>(),
        Some(StoreError::Locked { .. })
    ) {
        error.context(format!(
            "the data dir {} is in use, most likely by a running `caseledger serve`: stop the \
             service first (the embedded store allows one process at a time), or export from \
             the running service with GET /v1/audit/export",
            data_dir.display()
        ))
    } else {
        error.context(format!(
            "cannot open the event log in {}",
            data_dir.display()
        ))
    }
}

/// Opens the event log of a stopped service's data dir.
pub fn open_log(data_dir: &Path) -> anyhow::Result<SledLog> {
    let sled_dir = existing_sled_dir(data_dir)?;
    SledLog::open(&sled_dir, SledLogOptions::default())
        .map_err(|error| explain_open_error(error.into(), data_dir))
}

/// Opens the whole store (log and keyspaces) of a stopped service's data dir, off the async
/// executor.
pub async fn open_storage(data_dir: &Path) -> anyhow::Result<Storage> {
    let sled_dir = existing_sled_dir(data_dir)?;
    let data_dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || Storage::open_sled(&sled_dir))
        .await
        .context("opening the store stopped unexpectedly")?
        .map_err(|error| explain_open_error(error, &data_dir))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use crate::testing::data_dir_with_events;

    #[tokio::test]
    async fn a_data_dir_in_use_or_missing_is_explained() {
        let data_dir = data_dir_with_events().await;
        let running = open_log(data_dir.path()).unwrap();
        let error = open_log(data_dir.path()).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("is in use"), "{message}");
        assert!(message.contains("stop the service first"), "{message}");
        tokio::task::spawn_blocking(move || drop(running))
            .await
            .unwrap();

        let empty = tempfile::tempdir().unwrap();
        let message = format!("{:#}", open_log(empty.path()).unwrap_err());
        assert!(message.contains("holds no event log"), "{message}");
        assert!(!empty.path().join(SLED_DIR).exists(), "nothing was created");
    }
}
