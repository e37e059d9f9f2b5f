//! The log as every backend offers it: the [`EventLog`] trait and what an event must be to live
//! in it ([`LogEvent`]).
//!
//! This module knows no backend; `sled::log` and `postgres::log` implement the trait, and the conformance
//! suite (the `testing` feature) checks that they agree.

use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};

use crate::types::{
    AppendRejected, Committed, ExpectedVersion, Head, IdempotencyKey, IdempotencyRecord, Position,
    Recorded, StoreError, StreamId, Version,
};

/// What an event type must be to live in the log: a JSON object when serialised, cloneable and
/// shareable across threads.
pub trait LogEvent: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> LogEvent for T {}

/// An append-only event log of streams, ordered globally by a gapless position and chained by
/// hashes. Every backend passes the same conformance suite (the `testing` feature's
/// `conformance` module).
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
