//! The event log of caseledger: append-only, gapless, hash-chained, and durable in groups.
//!
//! This crate owns the log and nothing else. It knows streams (identified by a UUID), stream
//! versions, global positions and the hash chain; it knows nothing of cases, letters or HTTP.
//! Events are any `serde` type that serialises to a JSON object; the log wraps each one into an
//! envelope with `position`, `version`, `prev_hash` and `hash` and chains the envelopes in
//! position order.
//!
//! The central types:
//! - [`EventLog`], the backend-neutral trait every store implements;
//! - [`SledLog`], the embedded backend: one writer thread, group commit, `fdatasync` per batch;
//! - [`PostgresLog`], the shared backend: one writer task per process, group commit in one
//!   transaction under the `log_head` row lock, so any number of instances share one log;
//! - [`Recorded`], an event as the log holds it;
//! - [`chain`], the hash chain and its verification, shared with offline verifiers;
//! - [`Checkpoint`], a signed statement of the log's head, and [`note`], the same head as a C2SP
//!   tlog checkpoint with its witnesses' cosignatures;
//! - [`tree`], the log as a Merkle tree (RFC 9162): proofs and their verification, and
//!   [`MerkleTree`], the tree's perfect subtrees kept in a keyspace as the log grows;
//! - [`Keyspace`], durable key-value maps beside the log, [`Blobs`], files kept as chunks
//!   (sled: files in its directory; PostgreSQL: rows), and [`Lease`], which of several
//!   processes on one store does the work that must run in one place;
//! - [`snapshot`], whole-store snapshots and imports, for copies between backends and backups.
//!
//! Where things live: the backend-neutral parts at the top (`types`, `log`, [`chain`], `batch`
//! — the group commit both backends stage with —, `keyspace`, `blobs`, [`lease`], [`checkpoint`],
//! [`note`], `disk_space`, [`snapshot`]); each backend in a folder of its own, one file per job:
//! `sled/{log,keyspace,files,durability,snapshot}.rs` and
//! `postgres/{log,keyspace,pool,lease,tls,migrations,snapshot}.rs`.
//!
//! Errors follow sled's nested style: the outer `Result` carries fail-stop [`StoreError`]s, the
//! inner one the expected outcomes of an append ([`AppendRejected`]).
//!
//! The cargo feature `testing` adds `conformance`: the suite every backend passes, and
//! scratch PostgreSQL databases for tests. It is not part of the shipped library; crates whose
//! tests use it enable it in their `[dev-dependencies]`.
#![warn(missing_docs)]

mod batch;
mod blobs;
mod canonical;
pub mod chain;
pub mod checkpoint;
#[cfg(feature = "testing")]
pub mod conformance;
mod disk_space;
pub mod encoding;
mod keyspace;
pub mod lease;
mod log;
mod merkle;
pub mod note;
mod postgres;
mod sled;
pub mod snapshot;
pub mod tree;
mod types;

pub use blobs::{Blobs, BLOB_SPACE_PREFIX};
pub use chain::{ChainError, ChainVerifier};
pub use checkpoint::Checkpoint;
pub use disk_space::{Shortage, SpaceGuard};
pub use keyspace::{Keyspace, KeyspaceChange};
pub use lease::{Fence, Lease};
pub use log::{EventLog, LogEvent, AVAILABILITY_CHECK_TIMEOUT};
pub use merkle::MerkleTree;
pub use postgres::{postgres_sslmode_warning, PostgresLog, PostgresLogOptions, NOTIFY_CHANNEL};
pub use sled::{SledLog, SledLogOptions, DEFAULT_MIN_FREE_SPACE_BYTES, DEFAULT_SLED_CACHE_BYTES};
pub use types::{
    AppendRejected, ChainHash, Committed, ExpectedVersion, Head, IdempotencyKey, IdempotencyRecord,
    Position, Recorded, StoreError, StreamId, Version,
};
