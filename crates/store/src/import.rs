//! The snapshot's earlier path: every item here is [`crate::snapshot`]'s, re-exported so that
//! `caseledger_store::import::…` keeps resolving. New code names [`crate::snapshot`].

pub use crate::snapshot::{
    ImportError, Imported, Importer, LogRow, LogRows, RawEntry, Revocation, SnapshotCounts,
    SnapshotReader, SnapshotRecord, SnapshotSource, SNAPSHOT_FORMAT, SNAPSHOT_PAGE,
};
