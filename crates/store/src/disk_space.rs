//! The free-space reserve of the embedded store: before the writer stages a batch it asks
//! [`SpaceGuard::check`] whether the data directory's filesystem still has more free space than
//! the configured reserve, and refuses the batch with [`StoreError::InsufficientSpace`] when it
//! has not.
//!
//! The point is to stop *before* sled meets `ENOSPC`: a write or sync that fails half-way
//! cannot be trusted, so the log poisons itself on one and needs a restart, whereas a refusal
//! here harms nothing and lifts by itself as soon as space is freed. The reading (one
//! `statvfs`) is cached for [`SpaceGuard::CACHE_FOR`] while free space is comfortably above the
//! reserve, and taken afresh for every batch once it comes within twice the reserve.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::types::StoreError;

/// Checks the free space of one directory's filesystem against a reserve.
#[derive(Debug)]
pub struct SpaceGuard {
    dir: PathBuf,
    reserve_bytes: u64,
    /// The last reading: when it was taken and how many bytes were free.
    last: Mutex<Option<(Instant, u64)>>,
}

impl SpaceGuard {
    /// How long a reading well above the reserve is trusted before the next `statvfs`.
    pub const CACHE_FOR: Duration = Duration::from_millis(250);

    /// A guard over the filesystem holding `dir` that keeps `reserve_bytes` free (0 disables
    /// it).
    pub fn new(dir: &Path, reserve_bytes: u64) -> SpaceGuard {
        SpaceGuard {
            dir: dir.to_owned(),
            reserve_bytes,
            last: Mutex::new(None),
        }
    }

    /// Bytes available to this (unprivileged) process on the filesystem of `dir`.
    pub fn available_bytes(dir: &Path) -> Result<u64, StoreError> {
        let stats = rustix::fs::statvfs(dir).map_err(|error| {
            StoreError::Storage(format!(
                "cannot read the free space of {}: {error}",
                dir.display()
            ))
        })?;
        Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
    }

    /// `Ok` while at least the reserve is free; the [`Shortage`] otherwise. A failing
    /// `statvfs` is not taken as a full disk: the write goes ahead, and a real failure of the
    /// write still poisons the log.
    pub fn check(&self) -> Result<(), Shortage> {
        if self.reserve_bytes == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let free = match *last {
            Some((taken, free))
                if now.duration_since(taken) < Self::CACHE_FOR
                    && free >= self.reserve_bytes.saturating_mul(2) =>
            {
                free
            }
            _ => match Self::available_bytes(&self.dir) {
                Ok(free) => {
                    *last = Some((now, free));
                    free
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the free space; writing anyway");
                    return Ok(());
                }
            },
        };
        if free < self.reserve_bytes {
            Err(Shortage {
                free_bytes: free,
                reserve_bytes: self.reserve_bytes,
            })
        } else {
            Ok(())
        }
    }
}

/// Less space is free than the reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortage {
    /// Bytes free at the last reading.
    pub free_bytes: u64,
    /// The configured reserve.
    pub reserve_bytes: u64,
}

impl From<Shortage> for StoreError {
    fn from(shortage: Shortage) -> Self {
        StoreError::InsufficientSpace {
            free_bytes: shortage.free_bytes,
            reserve_bytes: shortage.reserve_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn a_reserve_below_the_free_space_lets_writes_through() {
        let dir = tempfile::tempdir().unwrap();
        let free = SpaceGuard::available_bytes(dir.path()).unwrap();
        assert!(free > 0);
        SpaceGuard::new(dir.path(), 1).check().unwrap();
        SpaceGuard::new(dir.path(), 0).check().unwrap();
    }

    #[test]
    fn a_reserve_above_the_free_space_refuses_with_both_figures() {
        let dir = tempfile::tempdir().unwrap();
        let guard = SpaceGuard::new(dir.path(), u64::MAX);
        let shortage = guard.check().unwrap_err();
        assert_eq!(shortage.reserve_bytes, u64::MAX);
        assert!(shortage.free_bytes < u64::MAX);
        // Near the reserve every check reads afresh; the answer stays the same.
        assert!(guard.check().is_err());
        let error = StoreError::from(shortage);
        assert!(error.to_string().contains("below the reserve"), "{error}");
    }

    #[test]
    fn a_missing_directory_does_not_block_writes() {
        let dir = tempfile::tempdir().unwrap();
        let guard = SpaceGuard::new(&dir.path().join("gone"), 1);
        guard.check().unwrap();
    }
}
