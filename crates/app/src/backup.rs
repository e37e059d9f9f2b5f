//! Online backups: a consistent snapshot of the whole store, for admins only, read while the
//! service keeps writing.
//!
//! The snapshot is the store crate's ([`caseledger_store::import`]): every keyspace, then the
//! log up to the head committed after them, so nothing in a keyspace refers past the log. The
//! case projection is left out ([`REBUILT_KEYSPACES`]): it is derived from the log, written
//! without a sync, and rebuilt from the log at the first start of a restored store, so copying
//! it would only carry its format and any bug along. The per-case keys are read last, after the
//! head and the erasure register, without the key of any case the register names
//! ([`crate::erasure::revocation`]): a backup never holds both an erasure and its key. This
//! module owns those choices ([`snapshot_reader`]) and the role check; the API streams the
//! records and `caseledger backup` writes them.

use caseledger_domain::Role;
use caseledger_store::import::{SnapshotReader, SnapshotSource};

use crate::access::require_role;
use crate::{App, AppError, Caller};

/// The keyspaces a backup or copy leaves out because the service rebuilds them from the log.
pub const REBUILT_KEYSPACES: &[&str] = &["projection.cases"];

/// The reader of a backup or copy of `source`: without the rebuilt keyspaces, and without the
/// key of any case in the erasure register.
pub fn snapshot_reader(source: std::sync::Arc<dyn SnapshotSource>) -> SnapshotReader {
    SnapshotReader::new(source, REBUILT_KEYSPACES).revoking(crate::erasure::revocation())
}

impl App {
    /// A reader of a consistent snapshot of the whole store. Admins only.
    pub fn backup_snapshot(&self, caller: &Caller) -> Result<SnapshotReader, AppError> {
        require_role(caller, &[Role::Admin], "back up the store")?;
        Ok(snapshot_reader(std::sync::Arc::clone(
            &self.storage.snapshot,
        )))
    }
}
