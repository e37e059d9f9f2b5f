//! The log's vocabulary: positions, versions, streams, chain hashes, envelopes and append
//! outcomes.
//!
//! Nothing here does I/O; these are the values that cross the store's boundary.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A global position in the log. Positions start at 1 and have no gaps; 0 means "before the
/// first event".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(pub u64);

impl Position {
    /// Before the first event.
    pub const ZERO: Position = Position(0);

    /// The position right after this one.
    pub fn next(self) -> Position {
        Position(self.0 + 1)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The version of a stream: the number of events in it. The first event has version 1.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Version(pub u64);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The identity of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(pub Uuid);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The stream version an append requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be at exactly this version.
    Exact(Version),
}

impl ExpectedVersion {
    /// The expectation of a caller that has seen `version`: `Exact`, except that version 0
    /// (a stream with no events) means [`ExpectedVersion::NoStream`].
    pub fn after(version: Version) -> ExpectedVersion {
        if version.0 == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version)
        }
    }

    /// Whether a stream currently at `actual` satisfies this expectation.
    pub fn admits(self, actual: Option<Version>) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.is_none(),
            ExpectedVersion::Exact(version) => actual == Some(version),
        }
    }
}

/// A SHA-256 digest in the chain, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev_hash` of the first event: 64 zeros.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<ChainHash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(ChainHash(bytes))
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl Serialize for ChainHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ChainHash::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("expected 64 lowercase hex digits"))
    }
}

impl Default for ChainHash {
    fn default() -> Self {
        ChainHash::GENESIS
    }
}

/// An idempotency key, already scoped by the caller (for example to one API token), with a
/// fingerprint of the request it was first used with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The scoped key.
    pub key: String,
    /// A digest of the request; the same key with another fingerprint is refused.
    pub fingerprint: String,
}

/// What the log remembers of an idempotent append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The fingerprint of the first request.
    pub fingerprint: String,
    /// What the first append committed.
    pub committed: Committed,
    /// Unix seconds when the key was first used.
    pub recorded_at_unix: i64,
}

/// The outcome of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// The stream appended to.
    pub stream: StreamId,
    /// The version of the first event written.
    pub first_version: Version,
    /// The version of the last event written: the stream's version after the append.
    pub last_version: Version,
    /// The global position of the first event written.
    pub first_position: Position,
    /// The global position of the last event written.
    pub last_position: Position,
    /// True when this is the answer remembered for an idempotency key, not a new append.
    #[serde(default)]
    pub replayed: bool,
}

/// The expected reasons an append does not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppendRejected {
    /// The stream was not at the expected version.
    #[error("stream is at version {actual:?}, expected {expected:?}")]
    VersionConflict {
        /// What the caller required.
        expected: ExpectedVersion,
        /// The stream's version when the append was tried.
        actual: Option<Version>,
    },
    /// The idempotency key was first used with a different request.
    #[error("the idempotency key was used before with a different request")]
    IdempotencyKeyReused,
}

/// The durable head of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The last position written, 0 for an empty log.
    pub position: Position,
    /// The hash of that event, 64 zeros for an empty log.
    pub hash: ChainHash,
}

impl Head {
    /// The head of an empty log.
    pub const EMPTY: Head = Head {
        position: Position::ZERO,
        hash: ChainHash::GENESIS,
    };
}

/// An event as the log holds it: the caller's event with its place in the log and the chain.
///
/// Serialised, the caller's event fields sit at the top level of the envelope beside
/// `position`, `version`, `prev_hash` and `hash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded<E> {
    /// The global position.
    pub position: Position,
    /// The version of the event's stream after this event.
    pub version: Version,
    /// The caller's event.
    #[serde(flatten)]
    pub event: E,
    /// The hash of the previous envelope in the log.
    pub prev_hash: ChainHash,
    /// The hash of this envelope.
    pub hash: ChainHash,
}

/// Fail-stop errors: the store cannot do what was asked for reasons outside the caller's
/// control. Callers report them as internal errors; they never reflect bad input.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The underlying database failed.
    #[error("storage failure: {0}")]
    Storage(String),
    /// A stored envelope could not be decoded.
    #[error("stored event at position {position} cannot be decoded: {reason}")]
    Decode {
        /// Where.
        position: Position,
        /// Why.
        reason: String,
    },
    /// An event could not be encoded as an envelope (it did not serialise to a JSON object).
    #[error("event cannot be encoded: {0}")]
    Encode(String),
    /// The log on disk is broken; the store refuses to run on it.
    #[error("the log is corrupt at position {position}: {reason}")]
    Corrupt {
        /// The first bad position.
        position: Position,
        /// What is wrong there.
        reason: String,
    },
    /// An earlier flush failed, so what is in memory may not be on disk; the process must be
    /// restarted to recover from the durable state.
    #[error("the store stopped after a failed write and must be restarted: {0}")]
    Poisoned(String),
    /// The data directory's filesystem has less free space than the configured reserve; the
    /// append was refused before anything was written, and appends resume by themselves once
    /// space is freed.
    #[error(
        "the data directory's filesystem has {free_bytes} bytes free, below the reserve of \
         {reserve_bytes} bytes"
    )]
    InsufficientSpace {
        /// Bytes free when the append was refused.
        free_bytes: u64,
        /// The configured reserve.
        reserve_bytes: u64,
    },
    /// The store cannot be reached now, or is starting up or shutting down (PostgreSQL down,
    /// restarting or out of connections; a connection lost mid-statement). Nothing is wrong
    /// with the request: the same request may succeed once the store is back, and a commit
    /// whose answer was lost this way may or may not have happened (retry with the same
    /// idempotency key).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A write that only the holder of a lease may make was refused: this process does not
    /// hold the lease, or another process took it since (its epoch moved on).
    #[error("refused: this instance no longer holds the lease {lease}")]
    Fenced {
        /// The lease's name.
        lease: String,
    },
    /// Another process has the store open: the embedded store's directory is locked, and
    /// sled allows one process at a time (a running `caseledger serve`, most likely).
    #[error("the store in {} is locked by another process (could not acquire lock)", path.display())]
    Locked {
        /// The store's directory.
        path: PathBuf,
    },
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// An append carried no events.
    #[error("an append needs at least one event")]
    EmptyAppend,
}

impl StoreError {
    /// Whether the failure is one of reaching the store (or of a store that stopped), not of
    /// the request or the data: the answer to such a failure is "try again later" (`503`).
    ///
    /// ```
    /// use caseledger_store::StoreError;
    /// assert!(StoreError::Unavailable("connection refused".into()).is_unavailable());
    /// assert!(StoreError::Poisoned("fdatasync failed".into()).is_unavailable());
    /// assert!(!StoreError::Encode("not an object".into()).is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_)
                | StoreError::Poisoned(_)
                | StoreError::InsufficientSpace { .. }
                | StoreError::Closed
        )
    }
}
