//! Online backups: a consistent snapshot of the whole store, for admins only, read while the
//! service keeps writing.
//!
//! The snapshot is the store crate's ([`caseledger_store::snapshot`]): every keyspace, then the
//! log up to the head committed after them, so nothing in a keyspace refers past the log. The
//! case projection is left out ([`REBUILT_KEYSPACES`]): it is derived from the log, written
//! without a sync, and rebuilt from the log at the first start of a restored store, so copying
//! it would only carry its format and any bug along. Console sessions and recent sign-in
//! failures are left out too ([`TRANSIENT_KEYSPACES`]): a restored store starts with nobody
//! signed in, so a session ended after the backup is not alive again. The per-case keys are read last, after the
//! head and the erasure register, without the key of any case the register names
//! ([`crate::erasure::revocation`]): a backup never holds both an erasure and its key. This
//! module owns those choices ([`snapshot_reader`]), the role check and the encoding of an
//! online backup as NDJSON ([`BackupStream`]); the API sends its chunks and `caseledger backup`
//! writes them.

use caseledger_domain::Role;
use caseledger_store::snapshot::{SnapshotReader, SnapshotSource};
use caseledger_store::StoreError;

use crate::access::require_role;
use crate::{App, AppError, Caller};

/// The keyspaces a backup or copy leaves out because the service rebuilds them from the log.
pub const REBUILT_KEYSPACES: &[&str] = &["projection.cases", crate::storage::TREE_KEYSPACE];

/// The keyspaces a backup or copy leaves out because they only matter while the service runs:
/// console sessions (people sign in again) and recent sign-in failures (the lockout's window).
pub const TRANSIENT_KEYSPACES: &[&str] = &["sessions", "sign_in_failures"];

/// The reader of a backup or copy of `source`: without the rebuilt and the transient
/// keyspaces, without the key of any case in the erasure register, and with attached files'
/// bytes read after the head (they are stored before their event, so every event in the copy
/// finds its file; an upload's bytes whose event came later are left for the sweep), then the
/// uploads' records and the files' keys, each after what it owns or opens.
pub fn snapshot_reader(source: std::sync::Arc<dyn SnapshotSource>) -> SnapshotReader {
    let skipped: Vec<&str> = REBUILT_KEYSPACES
        .iter()
        .chain(TRANSIENT_KEYSPACES)
        .copied()
        .collect();
    SnapshotReader::new(source, &skipped)
        .revoking(crate::erasure::revocation())
        .after_head(&[
            crate::storage::ATTACHMENT_FILES_KEYSPACE,
            crate::storage::DOCUMENT_FILES_KEYSPACE,
            crate::storage::ATTACHMENT_UPLOADS_KEYSPACE,
            crate::storage::ATTACHMENT_KEYS_KEYSPACE,
        ])
}

impl App {
    /// An online backup of the whole store as NDJSON, one snapshot record a line, read a chunk
    /// at a time while the service keeps writing. Admins only.
    pub fn backup_stream(&self, caller: &Caller) -> Result<BackupStream, AppError> {
        require_role(caller, &[Role::Admin], "back up the store")?;
        Ok(BackupStream {
            reader: snapshot_reader(std::sync::Arc::clone(&self.storage.snapshot)),
        })
    }
}

/// An online backup being read: a consistent snapshot of the whole store, as NDJSON lines.
#[derive(Debug)]
pub struct BackupStream {
    reader: SnapshotReader,
}

/// Why an online backup stopped before its `end` record.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store could not be read, or its chain is broken.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record could not be encoded as JSON.
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
}

impl BackupStream {
    /// The next records, each a JSON line ending in `\n`; `None` after the `end` record.
    pub async fn next_lines(&mut self) -> Result<Option<Vec<u8>>, BackupError> {
        let Some(records) = self.reader.next_chunk().await? else {
            return Ok(None);
        };
        let mut lines = Vec::new();
        for record in &records {
            serde_json::to_writer(&mut lines, record)?;
            lines.push(b'\n');
        }
        Ok(Some(lines))
    }

    /// The log position the backup reads up to (0 until the keyspaces are read).
    pub fn head_position(&self) -> u64 {
        self.reader.head().position.0
    }
}
