//! Durability of the sled store: what makes a written batch survive a power cut (sled's flush,
//! then `fdatasync` of its data file and of the blob files it wrote), the store's *poison* once
//! a sync failed, the free-space reserve every write checks first, and running sled's blocking
//! calls off the async executor.
//!
//! One [`Durability`] serves the log (`log`) and every keyspace (`keyspace`) of a store. This
//! module knows nothing of the log's trees or of what a keyspace holds.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::disk_space::SpaceGuard;
use crate::types::StoreError;

/// Makes a written batch durable: sled's flush, then `fdatasync` of the data file and of any
/// blob files sled wrote for large items (sled writes those without syncing them).
///
/// One `Durability` serves the log and every keyspace of a store, and it owns the store's
/// *poison*: after any failed flush or sync — the log's or a keyspace's — sled's memory may
/// hold what the disk does not (and Linux may report the next `fsync` as successful after it
/// dropped the pages the failed one held), so every later write and sync of the store is
/// refused with [`StoreError::Poisoned`] until the process restarts and recovers from what is
/// durable. It also owns the free-space reserve, which every write checks before it starts.
pub(super) struct Durability {
    db: sled::Db,
    data_file: File,
    blob_dir: PathBuf,
    synced_blobs: Mutex<HashSet<std::ffi::OsString>>,
    /// Why the store stopped, once a write or sync failed.
    poisoned: Mutex<Option<String>>,
    /// Refuses writes while the disk is nearly full, before sled could meet `ENOSPC`.
    space: SpaceGuard,
    /// How many of the next syncs fail on purpose (fault injection for tests).
    injected_failures: AtomicU32,
}

impl Durability {
    pub(super) fn open(db: sled::Db, dir: &Path) -> Result<Durability, StoreError> {
        Durability::open_with_reserve(db, dir, 0)
    }

    pub(super) fn open_with_reserve(
        db: sled::Db,
        dir: &Path,
        min_free_space_bytes: u64,
    ) -> Result<Durability, StoreError> {
        let data_file = File::open(dir.join("db")).map_err(|error| {
            StoreError::Storage(format!("cannot open sled's data file: {error}"))
        })?;
        // The directory entries of a new store must survive a power cut too.
        sync_directory(dir)?;
        Ok(Durability {
            db,
            data_file,
            blob_dir: dir.join("blobs"),
            synced_blobs: Mutex::new(HashSet::new()),
            poisoned: Mutex::new(None),
            space: SpaceGuard::new(dir, min_free_space_bytes),
            injected_failures: AtomicU32::new(0),
        })
    }

    /// Flushes and syncs everything written so far. A failure poisons the store: this and
    /// every later call, and every later write, answer [`StoreError::Poisoned`].
    pub(super) fn make_durable(&self) -> Result<(), StoreError> {
        if let Some(reason) = self.poisoned() {
            return Err(StoreError::Poisoned(reason));
        }
        match self.sync_everything() {
            Ok(()) => Ok(()),
            Err(error) => {
                let reason = error.to_string();
                tracing::error!(%reason, "a sync failed; the store stops accepting writes until it restarts");
                Err(StoreError::Poisoned(self.poison(reason)))
            }
        }
    }

    fn sync_everything(&self) -> Result<(), StoreError> {
        if self
            .injected_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok()
        {
            return Err(StoreError::Storage(
                "fdatasync failed: injected failure (fault injection)".into(),
            ));
        }
        self.db.flush()?;
        self.data_file
            .sync_data()
            .map_err(|error| StoreError::Storage(format!("fdatasync failed: {error}")))?;
        self.sync_new_blobs()
    }

    /// Whether a write may start: not after a failed sync, and not below the free-space
    /// reserve.
    pub(super) fn check_writable(&self) -> Result<(), StoreError> {
        if let Some(reason) = self.poisoned() {
            return Err(StoreError::Poisoned(reason));
        }
        self.space.check().map_err(|shortage| {
            tracing::warn!(
                free_bytes = shortage.free_bytes,
                reserve_bytes = shortage.reserve_bytes,
                "the disk is nearly full; refusing writes until space is freed"
            );
            shortage.into()
        })
    }

    /// Stops the store; returns the reason it stopped for (the first one, if it already had).
    pub(super) fn poison(&self, reason: String) -> String {
        let mut poisoned = self
            .poisoned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        poisoned.get_or_insert(reason).clone()
    }

    /// Makes the next `count` syncs fail as a failed `fdatasync` would (fault injection for
    /// tests of the fail-stop path).
    pub(super) fn inject_failures(&self, count: u32) {
        self.injected_failures.store(count, Ordering::SeqCst);
    }

    /// Why the store stopped, if it did.
    pub(super) fn poisoned(&self) -> Option<String> {
        self.poisoned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn sync_new_blobs(&self) -> Result<(), StoreError> {
        let mut synced = self
            .synced_blobs
            .lock()
            .map_err(|_| StoreError::Storage("blob sync state poisoned".into()))?;
        sync_blob_files(&self.blob_dir, &mut synced)
    }
}

/// Syncs the blob files in `blob_dir` that are not in `synced` (then the directory, when any
/// was new), and leaves `synced` naming the blobs present now. sled deletes a blob once the
/// node it held has been written again, and it may do so between the listing and the sync: a
/// blob gone by then holds nothing the store still needs, so it is skipped, not an error (an
/// error here would stop the log).
fn sync_blob_files(
    blob_dir: &Path,
    synced: &mut HashSet<std::ffi::OsString>,
) -> Result<(), StoreError> {
    let entries = match std::fs::read_dir(blob_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(StoreError::Storage(error.to_string())),
    };
    let mut present = HashSet::new();
    let mut any_new = false;
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(StoreError::Storage(error.to_string())),
        };
        let name = entry.file_name();
        if !synced.contains(&name) {
            match File::open(entry.path()).and_then(|file| file.sync_data()) {
                Ok(()) => any_new = true,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => {
                    return Err(StoreError::Storage(format!("blob sync failed: {error}")))
                }
            }
        }
        present.insert(name);
    }
    if any_new {
        sync_directory(blob_dir)?;
    }
    *synced = present;
    Ok(())
}

pub(super) fn sync_directory(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(|error| StoreError::Storage(format!("cannot sync {}: {error}", dir.display())))
}

/// Runs blocking storage work off the async executor, as every sled call should.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StoreError::Storage(format!("a storage task failed: {error}")))?
}

#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_sync_remembers_what_it_synced_and_skips_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs");
        let mut synced = HashSet::new();
        // No blob directory yet: nothing to do.
        sync_blob_files(&blobs, &mut synced).unwrap();
        assert!(synced.is_empty());
        std::fs::create_dir(&blobs).unwrap();
        std::fs::write(blobs.join("1"), b"blob one").unwrap();
        std::fs::write(blobs.join("2"), b"blob two").unwrap();
        sync_blob_files(&blobs, &mut synced).unwrap();
        assert_eq!(synced.len(), 2);
        // sled deleted one blob after writing its node again: it is forgotten, not an error.
        std::fs::remove_file(blobs.join("1")).unwrap();
        std::fs::write(blobs.join("3"), b"blob three").unwrap();
        sync_blob_files(&blobs, &mut synced).unwrap();
        let mut names: Vec<_> = synced.iter().cloned().collect();
        names.sort();
        assert_eq!(names, vec![std::ffi::OsString::from("2"), "3".into()]);
    }
}
