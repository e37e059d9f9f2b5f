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
//! - [`Checkpoint`], a signed statement of the log's head;
//! - [`Keyspace`], durable key-value maps beside the log, and [`Lease`], which of several
//!   processes on one store does the work that must run in one place;
//! - [`import`], whole-store snapshots and imports, for copies between backends and backups.
//!
//! Errors follow sled's nested style: the outer `Result` carries fail-stop [`StoreError`]s, the
//! inner one the expected outcomes of an append ([`AppendRejected`]).
#![warn(missing_docs)]

mod batch;
pub mod chain;
pub mod checkpoint;
pub mod conformance;
mod disk_space;
pub mod import;
mod keyspace;
pub mod lease;
mod migrations;
mod postgres_keyspace;
mod postgres_log;
mod postgres_tls;
mod sled_log;
mod types;

pub use chain::{ChainError, ChainVerifier};
pub use checkpoint::Checkpoint;
pub use disk_space::{Shortage, SpaceGuard};
pub use keyspace::{Keyspace, KeyspaceChange};
pub use lease::{Fence, Lease};
pub use postgres_log::{PostgresLog, PostgresLogOptions, NOTIFY_CHANNEL};
pub use postgres_tls::postgres_sslmode_warning;
pub use sled_log::{
    SledLog, SledLogOptions, DEFAULT_MIN_FREE_SPACE_BYTES, DEFAULT_SLED_CACHE_BYTES,
};
pub use types::{
    AppendRejected, ChainHash, Committed, ExpectedVersion, Head, IdempotencyKey, IdempotencyRecord,
    Position, Recorded, StoreError, StreamId, Version,
};

use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};

/// What an event type must be to live in the log: a JSON object when serialised, cloneable and
/// shareable across threads.
pub trait LogEvent: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> LogEvent for T {}

/// An append-only event log of streams, ordered globally by a gapless position and chained by
/// hashes. Every backend passes the suite in [`conformance`].
#[async_trait]
pub trait EventLog<E: LogEvent>: Send + Sync {
    /// Appends `events` to `stream` if the stream is at the `expected` version, durably: the
    /// call returns only once the events are on disk (or in the database's committed state).
    ///
    /// With an `idempotency` key that was used before, nothing is appended: the first append's
    /// [`Committed`] comes back with `replayed: true`, or [`AppendRejected::IdempotencyKeyReused`]
    /// when the fingerprint differs.
    async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<E>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Result<Committed, AppendRejected>, StoreError>;

    /// Reads up to `limit` events of `stream` with a version of at least `from`, oldest first.
    async fn read_stream(
        &self,
        stream: StreamId,
        from: Version,
        limit: usize,
    ) -> Result<Vec<Recorded<E>>, StoreError>;

    /// Reads up to `limit` events of the whole log with a position after `after`, in order.
    async fn read_all(&self, after: Position, limit: usize)
        -> Result<Vec<Recorded<E>>, StoreError>;

    /// Reads up to `limit` envelopes after `after` as the exact bytes the chain was computed
    /// over plus the hash: what an export writes, one line each.
    async fn read_all_raw(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<(Position, Vec<u8>)>, StoreError>;

    /// The current version of `stream`, `None` when it has no events.
    async fn stream_version(&self, stream: StreamId) -> Result<Option<Version>, StoreError>;

    /// Looks up an idempotency record without appending anything.
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Removes every idempotency record first used before `recorded_before_unix` (Unix
    /// seconds) and returns how many; their keys then start fresh appends. A record written
    /// again under the same key meanwhile is kept. The space goes back to the backend (sled
    /// reuses its segments; PostgreSQL's autovacuum the table's pages).
    async fn expire_idempotency_records(
        &self,
        recorded_before_unix: i64,
    ) -> Result<u64, StoreError>;

    /// The last durable position and its hash.
    fn head(&self) -> Head;

    /// A receiver that changes whenever the durable head moves; readers wait on it instead of
    /// polling.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<Head>;

    /// Whether the store can serve now: `Err` — [`StoreError::is_unavailable`] — while the
    /// database cannot be reached (checked with a round trip, answered within
    /// [`AVAILABILITY_CHECK_TIMEOUT`]) or after a failed write stopped the store. For readiness
    /// probes; the default has nothing to check.
    async fn check_available(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How long [`EventLog::check_available`] waits for the database before calling it
/// unavailable.
pub const AVAILABILITY_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs blocking storage work off the async executor, as every sled call should.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StoreError::Storage(format!("a storage task failed: {error}")))?
}
