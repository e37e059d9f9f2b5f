//! Whole-store copies, exact and backend-neutral: a store read out as a stream of
//! [`SnapshotRecord`]s ([`SnapshotReader`] over a [`SnapshotSource`]) and such a stream written
//! into an empty store of either backend ([`Importer`]).
//!
//! A snapshot holds every keyspace the store has (raw bytes, whatever they mean to the caller),
//! the idempotency records and every event row — position, stream, version and the exact
//! envelope bytes the chain covers — so the copy stores byte-identical envelopes at the same
//! positions with the same hashes. The order makes an online snapshot consistent: keyspaces
//! first, then the committed head is read, then the idempotency records and the log up to that
//! head. Nothing a keyspace holds can refer past the log it travels with, and no idempotency
//! record names an event the snapshot lacks. A [`Revocation`] reads one keyspace (data keys)
//! after that head, leaving out every key that a register keyspace names: a register entry
//! written before an event means the snapshot never holds both that event and the key.
//!
//! Both sides verify: the reader walks the chain as it reads (a broken source stops the copy at
//! the first bad position), and the importer checks positions, stream versions and the chain
//! again as it writes, and the final record's head and counts. An importer refuses a target
//! that holds anything. The sled importer writes into `<dir>.importing` and renames it to
//! `<dir>` only when everything is written and synced, so a failed or interrupted import never
//! leaves a store that looks whole; the PostgreSQL importer writes in one transaction.
//!
//! This module knows nothing of what the keyspaces or events mean; it owns the snapshot format
//! and the raw access to each backend's tables and trees that a copy needs. The backends' hot
//! paths (`sled_log`, `postgres_log`) are untouched: only their handles are reached from here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use deadpool_postgres::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::chain::ChainVerifier;
use crate::migrations::pg_error;
use crate::postgres_log::{decode_record, from_sql_int, pooled, read_committed_head, to_sql_int};
use crate::sled_log::{
    decode_position, stream_index_key, sync_directory, Durability, EVENTS_TREE, IDEMPOTENCY_TREE,
    STREAM_HEADS_TREE, STREAM_INDEX_TREE,
};
use crate::types::{Head, IdempotencyRecord, Position, StoreError, StreamId, Version};
use crate::{blocking, PostgresLog, PostgresLogOptions, SledLog};

/// The snapshot format this build writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// How many records one step of a reader or one page of a source reads at most.
pub const SNAPSHOT_PAGE: usize = 1_000;

/// The prefix of the sled trees that hold keyspaces.
const KEYSPACE_TREE_PREFIX: &str = "kv.";

/// A keyspace entry as stored: key and value bytes.
pub type RawEntry = (Vec<u8>, Vec<u8>);

/// One event as a store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// Its global position.
    pub position: Position,
    /// Its stream.
    pub stream: StreamId,
    /// The stream's version after it.
    pub version: Version,
    /// The stored envelope: the canonical JSON the chain covers, hash included.
    pub envelope: Vec<u8>,
}

/// One line of a snapshot. Serialised as one JSON object with a `kind`; keys and values of
/// keyspaces in standard base64, envelopes as the JSON string of their exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SnapshotRecord {
    /// The first record.
    Begin {
        /// [`SNAPSHOT_FORMAT`].
        format: u32,
    },
    /// One entry of a keyspace.
    Keyspace {
        /// The keyspace's name.
        space: String,
        /// The key, base64.
        #[serde(with = "base64_bytes")]
        key: Vec<u8>,
        /// The stored value, base64.
        #[serde(with = "base64_bytes")]
        value: Vec<u8>,
    },
    /// One idempotency record.
    Idempotency {
        /// The scoped key.
        key: String,
        /// What the first append committed.
        record: IdempotencyRecord,
    },
    /// One event.
    Event {
        /// Its position.
        position: Position,
        /// Its stream.
        stream: StreamId,
        /// The stream's version after it.
        version: Version,
        /// The exact envelope bytes (canonical JSON, always UTF-8).
        envelope: String,
    },
    /// The last record: what the snapshot holds, so a truncated one is noticed.
    End {
        /// The head of the log in the snapshot.
        head: Head,
        /// How many events.
        events: u64,
        /// How many keyspace entries.
        keyspace_entries: u64,
        /// How many idempotency records.
        idempotency_records: u64,
    },
}

mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// What a copy counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SnapshotCounts {
    /// Events.
    pub events: u64,
    /// Keyspace entries.
    pub keyspace_entries: u64,
    /// Idempotency records.
    pub idempotency_records: u64,
}

/// A store that can be read out whole, while it runs.
#[async_trait]
pub trait SnapshotSource: Send + Sync {
    /// The head that is committed and durable now (for PostgreSQL: in the database, whichever
    /// instance wrote it).
    async fn committed_head(&self) -> Result<Head, StoreError>;
    /// The names of the keyspaces that hold at least one entry, sorted.
    async fn keyspace_names(&self) -> Result<Vec<String>, StoreError>;
    /// Up to `limit` raw entries of `space` whose key sorts after `after`, in key order.
    async fn keyspace_page(
        &self,
        space: &str,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<RawEntry>, StoreError>;
    /// Up to `limit` idempotency records whose key sorts after `after`, in key order.
    async fn idempotency_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(String, IdempotencyRecord)>, StoreError>;
    /// A reader of the event rows from position 1 up to `until`.
    async fn log_rows(&self, until: Position) -> Result<Box<dyn LogRows>, StoreError>;
}

/// Event rows in position order, page by page.
#[async_trait]
pub trait LogRows: Send {
    /// The next up to `limit` rows; empty at the end.
    async fn next_page(&mut self, limit: usize) -> Result<Vec<LogRow>, StoreError>;
}

/// A keyspace whose entries a snapshot leaves out when a register keyspace names them: the
/// keys of `keys` whose key is the rest of a `register` key after `register_prefix`.
///
/// The reader reads `keys` last, after the committed head and after the register, so when the
/// caller writes a register entry durably before the event that revokes a key, a snapshot
/// that holds the event never holds the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The keyspace of revocable entries.
    pub keys: String,
    /// The keyspace that names revoked ones.
    pub register: String,
    /// The prefix of the register keys that name a revoked key.
    pub register_prefix: Vec<u8>,
}

/// Reads a whole store as snapshot records, verifying the chain on the way.
pub struct SnapshotReader {
    source: std::sync::Arc<dyn SnapshotSource>,
    skip: Vec<String>,
    revocation: Option<Revocation>,
    stage: Stage,
    verifier: ChainVerifier,
    counts: SnapshotCounts,
    head: Head,
}

enum Stage {
    Begin,
    Keyspaces {
        names: Vec<String>,
        index: usize,
        after: Option<Vec<u8>>,
    },
    Revocable {
        revoked: std::collections::HashSet<Vec<u8>>,
        after: Option<Vec<u8>>,
    },
    Idempotency {
        after: Option<String>,
    },
    Log(Box<dyn LogRows>),
    Done,
}

impl std::fmt::Debug for SnapshotReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotReader")
            .field("skip", &self.skip)
            .field("counts", &self.counts)
            .field("verified", &self.verifier.head())
            .finish_non_exhaustive()
    }
}

/// The envelope's `version` field, to check a row against.
#[derive(Deserialize)]
struct EnvelopeVersion {
    version: u64,
}

impl SnapshotReader {
    /// A reader of `source` that leaves out the keyspaces named in `skip` (rebuildable ones).
    pub fn new(source: std::sync::Arc<dyn SnapshotSource>, skip: &[&str]) -> SnapshotReader {
        SnapshotReader {
            source,
            skip: skip.iter().map(|name| (*name).to_owned()).collect(),
            revocation: None,
            stage: Stage::Begin,
            verifier: ChainVerifier::new(),
            counts: SnapshotCounts::default(),
            head: Head::EMPTY,
        }
    }

    /// This reader, reading `revocation.keys` after the head and without the keys its
    /// register names.
    pub fn revoking(mut self, revocation: Revocation) -> SnapshotReader {
        self.revocation = Some(revocation);
        self
    }

    /// The head the log is read up to, once the keyspaces are read ([`Head::EMPTY`] before).
    pub fn head(&self) -> Head {
        self.head
    }

    /// What was read so far.
    pub fn counts(&self) -> SnapshotCounts {
        self.counts
    }

    /// The next records, `None` after the [`SnapshotRecord::End`] record. A source whose chain
    /// is broken fails with [`StoreError::Corrupt`] at the first bad position.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<SnapshotRecord>>, StoreError> {
        loop {
            match &mut self.stage {
                Stage::Begin => {
                    let names = self
                        .source
                        .keyspace_names()
                        .await?
                        .into_iter()
                        .filter(|name| !self.skip.contains(name))
                        .filter(|name| {
                            self.revocation
                                .as_ref()
                                .is_none_or(|revocation| &revocation.keys != name)
                        })
                        .collect();
                    self.stage = Stage::Keyspaces {
                        names,
                        index: 0,
                        after: None,
                    };
                    return Ok(Some(vec![SnapshotRecord::Begin {
                        format: SNAPSHOT_FORMAT,
                    }]));
                }
                Stage::Keyspaces {
                    names,
                    index,
                    after,
                } => {
                    let Some(space) = names.get(*index).cloned() else {
                        // Every keyspace is read: the log is copied up to the head that is
                        // committed now, so nothing read so far refers past it.
                        self.head = self.source.committed_head().await?;
                        self.stage = match self.revocation.clone() {
                            // The register after the head, the revocable keys after the
                            // register: what the log up to the head revoked is left out.
                            Some(revocation) => Stage::Revocable {
                                revoked: revoked_keys(
                                    std::sync::Arc::clone(&self.source),
                                    &revocation,
                                )
                                .await?,
                                after: None,
                            },
                            None => Stage::Idempotency { after: None },
                        };
                        continue;
                    };
                    let page = self
                        .source
                        .keyspace_page(&space, after.take(), SNAPSHOT_PAGE)
                        .await?;
                    if page.len() < SNAPSHOT_PAGE {
                        *index += 1;
                    } else {
                        *after = page.last().map(|(key, _)| key.clone());
                    }
                    if page.is_empty() {
                        continue;
                    }
                    self.counts.keyspace_entries += page.len() as u64;
                    return Ok(Some(
                        page.into_iter()
                            .map(|(key, value)| SnapshotRecord::Keyspace {
                                space: space.clone(),
                                key,
                                value,
                            })
                            .collect(),
                    ));
                }
                Stage::Revocable { revoked, after } => {
                    let Some(revocation) = self.revocation.clone() else {
                        self.stage = Stage::Idempotency { after: None };
                        continue;
                    };
                    let page = self
                        .source
                        .keyspace_page(&revocation.keys, after.take(), SNAPSHOT_PAGE)
                        .await?;
                    let done = page.len() < SNAPSHOT_PAGE;
                    *after = page.last().map(|(key, _)| key.clone());
                    let records: Vec<SnapshotRecord> = page
                        .into_iter()
                        .filter(|(key, _)| !revoked.contains(key))
                        .map(|(key, value)| SnapshotRecord::Keyspace {
                            space: revocation.keys.clone(),
                            key,
                            value,
                        })
                        .collect();
                    if done {
                        self.stage = Stage::Idempotency { after: None };
                    }
                    if records.is_empty() {
                        continue;
                    }
                    self.counts.keyspace_entries += records.len() as u64;
                    return Ok(Some(records));
                }
                Stage::Idempotency { after } => {
                    let page = self
                        .source
                        .idempotency_page(after.take(), SNAPSHOT_PAGE)
                        .await?;
                    if page.len() < SNAPSHOT_PAGE {
                        let rows = self.source.log_rows(self.head.position).await?;
                        self.stage = Stage::Log(rows);
                    } else {
                        *after = page.last().map(|(key, _)| key.clone());
                    }
                    let head = self.head.position;
                    let records: Vec<SnapshotRecord> = page
                        .into_iter()
                        // A record of an append after the head stays behind with its events.
                        .filter(|(_, record)| record.committed.last_position <= head)
                        .map(|(key, record)| SnapshotRecord::Idempotency { key, record })
                        .collect();
                    if records.is_empty() {
                        continue;
                    }
                    self.counts.idempotency_records += records.len() as u64;
                    return Ok(Some(records));
                }
                Stage::Log(rows) => {
                    let page = rows.next_page(SNAPSHOT_PAGE).await?;
                    if page.is_empty() {
                        if self.verifier.head() != self.head {
                            return Err(StoreError::Corrupt {
                                position: self.verifier.head().position.next(),
                                reason: format!(
                                    "the log ends before its committed head {}",
                                    self.head.position
                                ),
                            });
                        }
                        self.stage = Stage::Done;
                        return Ok(Some(vec![SnapshotRecord::End {
                            head: self.head,
                            events: self.counts.events,
                            keyspace_entries: self.counts.keyspace_entries,
                            idempotency_records: self.counts.idempotency_records,
                        }]));
                    }
                    let mut records = Vec::with_capacity(page.len());
                    for row in page {
                        records.push(self.check_row(row)?);
                    }
                    return Ok(Some(records));
                }
                Stage::Done => return Ok(None),
            }
        }
    }

    fn check_row(&mut self, row: LogRow) -> Result<SnapshotRecord, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            position: row.position,
            reason,
        };
        if row.position > self.head.position {
            return Err(corrupt("a row beyond the head was read".into()));
        }
        self.verifier
            .verify(&row.envelope)
            .map_err(|error| StoreError::Corrupt {
                position: error.position,
                reason: error.fault.to_string(),
            })?;
        let version: EnvelopeVersion = serde_json::from_slice(&row.envelope)
            .map_err(|error| corrupt(format!("the envelope has no version: {error}")))?;
        if version.version != row.version.0 {
            return Err(corrupt(format!(
                "the envelope says version {} but the store indexes it as version {}",
                version.version, row.version
            )));
        }
        let envelope = String::from_utf8(row.envelope)
            .map_err(|_| corrupt("the envelope is not UTF-8".into()))?;
        self.counts.events += 1;
        Ok(SnapshotRecord::Event {
            position: row.position,
            stream: row.stream,
            version: row.version,
            envelope,
        })
    }
}

/// The keys the register of `revocation` names, read whole.
async fn revoked_keys(
    source: std::sync::Arc<dyn SnapshotSource>,
    revocation: &Revocation,
) -> Result<std::collections::HashSet<Vec<u8>>, StoreError> {
    let mut revoked = std::collections::HashSet::new();
    let mut after = None;
    loop {
        let page = source
            .keyspace_page(&revocation.register, after.take(), SNAPSHOT_PAGE)
            .await?;
        let full = page.len() == SNAPSHOT_PAGE;
        after = page.last().map(|(key, _)| key.clone());
        revoked.extend(page.into_iter().filter_map(|(key, _)| {
            key.strip_prefix(revocation.register_prefix.as_slice())
                .map(<[u8]>::to_vec)
        }));
        if !full {
            return Ok(revoked);
        }
    }
}

// ---- sled as a source -------------------------------------------------------------------

#[async_trait]
impl SnapshotSource for SledLog {
    async fn committed_head(&self) -> Result<Head, StoreError> {
        Ok(SledLog::head(self))
    }

    async fn keyspace_names(&self) -> Result<Vec<String>, StoreError> {
        let db = self.shared.db.clone();
        blocking(move || {
            let mut names = Vec::new();
            for name in db.tree_names() {
                let Some(space) = std::str::from_utf8(&name)
                    .ok()
                    .and_then(|name| name.strip_prefix(KEYSPACE_TREE_PREFIX))
                else {
                    continue;
                };
                if !db.open_tree(&name)?.is_empty() {
                    names.push(space.to_owned());
                }
            }
            names.sort();
            Ok(names)
        })
        .await
    }

    async fn keyspace_page(
        &self,
        space: &str,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<RawEntry>, StoreError> {
        let tree = self
            .shared
            .db
            .open_tree(format!("{KEYSPACE_TREE_PREFIX}{space}"))?;
        blocking(move || tree_page(&tree, after, limit)).await
    }

    async fn idempotency_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(String, IdempotencyRecord)>, StoreError> {
        let tree = self.shared.trees.idempotency.clone();
        blocking(move || {
            tree_page(&tree, after.map(String::into_bytes), limit)?
                .into_iter()
                .map(|(key, bytes)| {
                    let key = String::from_utf8(key).map_err(|_| {
                        StoreError::Storage("an idempotency key is not UTF-8".into())
                    })?;
                    let record = serde_json::from_slice(&bytes).map_err(|error| {
                        StoreError::Storage(format!("bad idempotency record: {error}"))
                    })?;
                    Ok((key, record))
                })
                .collect()
        })
        .await
    }

    async fn log_rows(&self, until: Position) -> Result<Box<dyn LogRows>, StoreError> {
        let trees = self.shared.trees.clone();
        let directory =
            blocking(move || StreamDirectory::build(&trees.stream_index, until)).await?;
        Ok(Box::new(SledRows {
            events: self.shared.trees.events.clone(),
            directory: std::sync::Arc::new(directory),
            after: Position::ZERO,
            until,
        }))
    }
}

fn tree_page(
    tree: &sled::Tree,
    after: Option<Vec<u8>>,
    limit: usize,
) -> Result<Vec<RawEntry>, StoreError> {
    let range = match after {
        Some(after) => tree.range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
        None => tree.range::<Vec<u8>, _>(..),
    };
    range
        .take(limit)
        .map(|entry| {
            let (key, value) = entry?;
            Ok((key.to_vec(), value.to_vec()))
        })
        .collect()
}

/// Which stream every position of a sled log belongs to: sled indexes events by stream, not
/// streams by position, so a copy inverts the index once (4 bytes an event).
struct StreamDirectory {
    streams: Vec<StreamId>,
    by_position: Vec<u32>,
}

impl StreamDirectory {
    fn build(index: &sled::Tree, until: Position) -> Result<StreamDirectory, StoreError> {
        let length = usize::try_from(until.0)
            .map_err(|_| StoreError::Storage("the log is too long for this machine".into()))?;
        let mut directory = StreamDirectory {
            streams: Vec::new(),
            by_position: vec![u32::MAX; length],
        };
        let mut numbers: HashMap<Uuid, u32> = HashMap::new();
        for entry in index.iter() {
            let (key, position) = entry?;
            let position = decode_position(&position)?;
            if position > until || position == Position::ZERO {
                continue;
            }
            let stream = Uuid::from_slice(&key[..16.min(key.len())])
                .map_err(|_| StoreError::Storage("a bad stream index key".into()))?;
            let next = u32::try_from(directory.streams.len())
                .map_err(|_| StoreError::Storage("more than 2^32 streams".into()))?;
            let number = *numbers.entry(stream).or_insert_with(|| {
                directory.streams.push(StreamId(stream));
                next
            });
            directory.by_position[(position.0 - 1) as usize] = number;
        }
        Ok(directory)
    }

    fn stream_at(&self, position: Position) -> Result<StreamId, StoreError> {
        self.by_position
            .get((position.0.max(1) - 1) as usize)
            .and_then(|number| self.streams.get(*number as usize))
            .copied()
            .ok_or_else(|| StoreError::Corrupt {
                position,
                reason: "the event is in no stream's index".into(),
            })
    }
}

struct SledRows {
    events: sled::Tree,
    directory: std::sync::Arc<StreamDirectory>,
    after: Position,
    until: Position,
}

#[async_trait]
impl LogRows for SledRows {
    async fn next_page(&mut self, limit: usize) -> Result<Vec<LogRow>, StoreError> {
        if self.after >= self.until {
            return Ok(Vec::new());
        }
        let events = self.events.clone();
        let directory = std::sync::Arc::clone(&self.directory);
        let (after, until) = (self.after, self.until);
        let rows = blocking(move || {
            events
                .range(after.next().0.to_be_bytes()..=until.0.to_be_bytes())
                .take(limit)
                .map(|entry| {
                    let (key, envelope) = entry?;
                    let position = decode_position(&key)?;
                    let version = serde_json::from_slice::<EnvelopeVersion>(&envelope)
                        .map_err(|error| StoreError::Decode {
                            position,
                            reason: error.to_string(),
                        })?
                        .version;
                    Ok(LogRow {
                        position,
                        stream: directory.stream_at(position)?,
                        version: Version(version),
                        envelope: envelope.to_vec(),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await?;
        if let Some(last) = rows.last() {
            self.after = last.position;
        }
        Ok(rows)
    }
}

// ---- PostgreSQL as a source -------------------------------------------------------------

#[async_trait]
impl SnapshotSource for PostgresLog {
    async fn committed_head(&self) -> Result<Head, StoreError> {
        let client = pooled(&self.shared.pool).await?;
        read_committed_head(&client).await
    }

    async fn keyspace_names(&self) -> Result<Vec<String>, StoreError> {
        let client = pooled(&self.shared.pool).await?;
        let rows = client
            .query(
                "SELECT DISTINCT space FROM keyspace_entries ORDER BY space",
                &[],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    async fn keyspace_page(
        &self,
        space: &str,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<RawEntry>, StoreError> {
        let client = pooled(&self.shared.pool).await?;
        let limit = to_sql_int(limit as u64)?;
        let rows =
            match after {
                Some(after) => client
                    .query(
                        "SELECT key, value FROM keyspace_entries WHERE space = $1 AND key > $2 \
                         ORDER BY key LIMIT $3",
                        &[&space, &after, &limit],
                    )
                    .await,
                None => {
                    client
                        .query(
                            "SELECT key, value FROM keyspace_entries WHERE space = $1 \
                         ORDER BY key LIMIT $2",
                            &[&space, &limit],
                        )
                        .await
                }
            }
            .map_err(pg_error)?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    async fn idempotency_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<(String, IdempotencyRecord)>, StoreError> {
        let client = pooled(&self.shared.pool).await?;
        // Keys compare bytewise (`COLLATE "C"`), as sled orders them.
        let rows = client
            .query(
                "SELECT key, fingerprint, stream, first_version, last_version, first_position, \
                 last_position, recorded_at_unix FROM idempotency_records \
                 WHERE $1::text IS NULL OR key COLLATE \"C\" > $1::text COLLATE \"C\" \
                 ORDER BY key COLLATE \"C\" LIMIT $2",
                &[&after, &to_sql_int(limit as u64)?],
            )
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| Ok((row.get(0), decode_record(row, 1)?)))
            .collect()
    }

    async fn log_rows(&self, until: Position) -> Result<Box<dyn LogRows>, StoreError> {
        Ok(Box::new(PostgresRows {
            log: self.clone(),
            after: Position::ZERO,
            until,
        }))
    }
}

struct PostgresRows {
    log: PostgresLog,
    after: Position,
    until: Position,
}

#[async_trait]
impl LogRows for PostgresRows {
    async fn next_page(&mut self, limit: usize) -> Result<Vec<LogRow>, StoreError> {
        if self.after >= self.until {
            return Ok(Vec::new());
        }
        let client = pooled(&self.log.shared.pool).await?;
        let rows = client
            .query(
                "SELECT position, stream, version, envelope FROM events \
                 WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3",
                &[
                    &to_sql_int(self.after.0)?,
                    &to_sql_int(self.until.0)?,
                    &to_sql_int(limit as u64)?,
                ],
            )
            .await
            .map_err(pg_error)?;
        let rows = rows
            .iter()
            .map(|row| {
                Ok(LogRow {
                    position: Position(from_sql_int(row.get(0))?),
                    stream: StreamId(row.get(1)),
                    version: Version(from_sql_int(row.get(2))?),
                    envelope: row.get(3),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if let Some(last) = rows.last() {
            self.after = last.position;
        }
        Ok(rows)
    }
}

// ---- importing ---------------------------------------------------------------------------

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The target already holds something; an import only ever fills an empty store.
    #[error("{target} is not empty ({what}); a copy or restore only fills an empty store")]
    TargetNotEmpty {
        /// The target, without any password: `the directory …` or `the PostgreSQL database`.
        target: String,
        /// What it holds.
        what: String,
    },
    /// The snapshot is not one this build can import, or it contradicts itself.
    #[error("the snapshot is not valid: {0}")]
    BadSnapshot(String),
    /// The source or target store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// The head of the written log.
    pub head: Head,
    /// What was written.
    pub counts: SnapshotCounts,
}

/// Writes a snapshot into an empty store, record by record, then seals it with
/// [`Importer::finish`] (or throws it away with [`Importer::abort`]).
pub struct Importer {
    target: Target,
    verifier: ChainVerifier,
    stream_versions: HashMap<StreamId, Version>,
    counts: SnapshotCounts,
    begun: bool,
    end: Option<(Head, SnapshotCounts)>,
}

impl std::fmt::Debug for Importer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer")
            .field("counts", &self.counts)
            .field("verified", &self.verifier.head())
            .finish_non_exhaustive()
    }
}

enum Target {
    Sled {
        dir: PathBuf,
        staging: PathBuf,
        db: sled::Db,
    },
    Postgres {
        // Kept for its pool: the connection below belongs to it.
        _log: PostgresLog,
        client: Object,
    },
}

/// True when `dir` is missing or an empty directory.
fn is_empty_dir(dir: &Path) -> Result<bool, StoreError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(error) => Err(StoreError::Storage(format!(
            "cannot read {}: {error}",
            dir.display()
        ))),
    }
}

impl Importer {
    /// An importer into a new sled store at `dir`, which must be missing or an empty
    /// directory. Writes into `<dir>.importing` until [`Importer::finish`].
    pub async fn sled(dir: &Path) -> Result<Importer, ImportError> {
        if !is_empty_dir(dir)? {
            return Err(ImportError::TargetNotEmpty {
                target: format!("the directory {}", dir.display()),
                what: "it holds files".into(),
            });
        }
        let mut staging = dir.as_os_str().to_owned();
        staging.push(".importing");
        let staging = PathBuf::from(staging);
        if staging.exists() {
            return Err(ImportError::TargetNotEmpty {
                target: format!("the directory {}", staging.display()),
                what: "an earlier import was interrupted there; remove it".into(),
            });
        }
        let path = staging.clone();
        let db = blocking(move || {
            std::fs::create_dir_all(&path).map_err(|error| {
                StoreError::Storage(format!("cannot create {}: {error}", path.display()))
            })?;
            Ok(sled::Config::new()
                .path(&path)
                .flush_every_ms(None)
                .open()?)
        })
        .await?;
        Ok(Importer::new(Target::Sled {
            dir: dir.to_owned(),
            staging,
            db,
        }))
    }

    /// An importer into the PostgreSQL database at `url` (schema migrations applied first),
    /// which must hold no event, stream, idempotency record or keyspace entry. Everything is
    /// written in one transaction that holds the log's tables locked against writers.
    pub async fn postgres(url: &str) -> Result<Importer, ImportError> {
        let log = PostgresLog::open(url, PostgresLogOptions::default()).await?;
        let client = pooled(&log.shared.pool).await?;
        client
            .batch_execute(
                "BEGIN; LOCK TABLE log_head, events, stream_heads, idempotency_records, \
                 keyspace_entries IN EXCLUSIVE MODE",
            )
            .await
            .map_err(pg_error)?;
        let row = client
            .query_one(
                "SELECT (SELECT position FROM log_head), EXISTS (SELECT 1 FROM events), \
                 EXISTS (SELECT 1 FROM stream_heads), EXISTS (SELECT 1 FROM idempotency_records), \
                 (SELECT min(space) FROM keyspace_entries)",
                &[],
            )
            .await
            .map_err(pg_error)?;
        let head: i64 = row.get(0);
        let space: Option<String> = row.get(4);
        let what = if head != 0 || row.get::<_, bool>(1) {
            Some("the event log has events".to_owned())
        } else if row.get::<_, bool>(2) || row.get::<_, bool>(3) {
            Some("the log has stream heads or idempotency records".to_owned())
        } else {
            space.map(|space| format!("the keyspace {space} has entries"))
        };
        if let Some(what) = what {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(ImportError::TargetNotEmpty {
                target: "the PostgreSQL database".into(),
                what,
            });
        }
        Ok(Importer::new(Target::Postgres { _log: log, client }))
    }

    fn new(target: Target) -> Importer {
        Importer {
            target,
            verifier: ChainVerifier::new(),
            stream_versions: HashMap::new(),
            counts: SnapshotCounts::default(),
            begun: false,
            end: None,
        }
    }

    /// What was written so far.
    pub fn counts(&self) -> SnapshotCounts {
        self.counts
    }

    /// Checks and writes the next records of a snapshot, in the order a reader gave them.
    pub async fn apply(&mut self, records: Vec<SnapshotRecord>) -> Result<(), ImportError> {
        let mut entries: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
        let mut idempotency: Vec<(String, IdempotencyRecord)> = Vec::new();
        let mut rows: Vec<LogRow> = Vec::new();
        for record in records {
            let bad = |reason: &str| Err(ImportError::BadSnapshot(reason.to_owned()));
            if self.end.is_some() {
                return bad("records follow the end record");
            }
            match record {
                SnapshotRecord::Begin { format } => {
                    if self.begun {
                        return bad("a second begin record");
                    }
                    if format != SNAPSHOT_FORMAT {
                        return Err(ImportError::BadSnapshot(format!(
                            "format {format}; this build reads format {SNAPSHOT_FORMAT}"
                        )));
                    }
                    self.begun = true;
                }
                _ if !self.begun => return bad("the first record is not the begin record"),
                SnapshotRecord::Keyspace { space, key, value } => {
                    if self.counts.events > 0 || self.counts.idempotency_records > 0 {
                        return bad("a keyspace entry after the log");
                    }
                    entries.push((space, key, value));
                }
                SnapshotRecord::Idempotency { key, record } => {
                    if self.counts.events > 0 {
                        return bad("an idempotency record after the events");
                    }
                    idempotency.push((key, record));
                }
                SnapshotRecord::Event {
                    position,
                    stream,
                    version,
                    envelope,
                } => {
                    let row = LogRow {
                        position,
                        stream,
                        version,
                        envelope: envelope.into_bytes(),
                    };
                    self.check_row(&row)?;
                    rows.push(row);
                }
                SnapshotRecord::End {
                    head,
                    events,
                    keyspace_entries,
                    idempotency_records,
                } => {
                    self.end = Some((
                        head,
                        SnapshotCounts {
                            events,
                            keyspace_entries,
                            idempotency_records,
                        },
                    ));
                }
            }
        }
        self.counts.keyspace_entries += entries.len() as u64;
        self.counts.idempotency_records += idempotency.len() as u64;
        self.write(entries, idempotency, rows).await
    }

    fn check_row(&mut self, row: &LogRow) -> Result<(), ImportError> {
        let expected = self.verifier.head().position.next();
        if row.position != expected {
            return Err(ImportError::BadSnapshot(format!(
                "event at position {} where {expected} was expected",
                row.position
            )));
        }
        self.verifier.verify(&row.envelope).map_err(|error| {
            ImportError::BadSnapshot(format!(
                "the chain breaks at position {}: {}",
                error.position, error.fault
            ))
        })?;
        let previous = self
            .stream_versions
            .get(&row.stream)
            .copied()
            .unwrap_or_default();
        if row.version.0 != previous.0 + 1 {
            return Err(ImportError::BadSnapshot(format!(
                "event at position {} has version {} after version {previous} of its stream",
                row.position, row.version
            )));
        }
        self.stream_versions.insert(row.stream, row.version);
        self.counts.events += 1;
        Ok(())
    }

    async fn write(
        &mut self,
        entries: Vec<(String, Vec<u8>, Vec<u8>)>,
        idempotency: Vec<(String, IdempotencyRecord)>,
        rows: Vec<LogRow>,
    ) -> Result<(), ImportError> {
        if entries.is_empty() && idempotency.is_empty() && rows.is_empty() {
            return Ok(());
        }
        match &self.target {
            Target::Sled { db, .. } => {
                let db = db.clone();
                blocking(move || sled_write(&db, entries, idempotency, rows)).await?;
            }
            Target::Postgres { client, .. } => {
                postgres_write(client, entries, idempotency, rows).await?;
            }
        }
        Ok(())
    }

    /// Checks that the end record was seen and agrees with what was written, writes the stream
    /// heads and the log's head, and makes everything durable: the sled store is synced and
    /// moved into place, the PostgreSQL transaction commits. Nothing is visible before.
    pub async fn finish(self) -> Result<Imported, ImportError> {
        let head = self.verifier.head();
        let Some((end_head, end_counts)) = self.end else {
            self.abort().await;
            return Err(ImportError::BadSnapshot(
                "the snapshot ends without its end record (truncated?)".into(),
            ));
        };
        if end_head != head || end_counts != self.counts {
            let reason = format!(
                "the end record says head {} {} with {:?}, but the snapshot held head {} {} \
                 with {:?}",
                end_head.position, end_head.hash, end_counts, head.position, head.hash, self.counts
            );
            self.abort().await;
            return Err(ImportError::BadSnapshot(reason));
        }
        let heads: Vec<(StreamId, Version)> = self.stream_versions.into_iter().collect();
        match self.target {
            Target::Sled { dir, staging, db } => {
                blocking(move || sled_finish(db, &staging, &dir, heads)).await?;
            }
            Target::Postgres { client, _log } => {
                postgres_finish(&client, head, heads).await?;
            }
        }
        Ok(Imported {
            head,
            counts: self.counts,
        })
    }

    /// Throws away what was written: removes the sled staging directory, or rolls the
    /// PostgreSQL transaction back.
    pub async fn abort(self) {
        match self.target {
            Target::Sled { staging, db, .. } => {
                drop(db);
                let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(staging)).await;
            }
            Target::Postgres { client, _log } => {
                let _ = client.batch_execute("ROLLBACK").await;
            }
        }
    }
}

fn sled_write(
    db: &sled::Db,
    entries: Vec<(String, Vec<u8>, Vec<u8>)>,
    idempotency: Vec<(String, IdempotencyRecord)>,
    rows: Vec<LogRow>,
) -> Result<(), StoreError> {
    let mut by_space: HashMap<String, sled::Batch> = HashMap::new();
    for (space, key, value) in entries {
        by_space.entry(space).or_default().insert(key, value);
    }
    for (space, batch) in by_space {
        db.open_tree(format!("{KEYSPACE_TREE_PREFIX}{space}"))?
            .apply_batch(batch)?;
    }
    if !idempotency.is_empty() {
        let mut batch = sled::Batch::default();
        for (key, record) in idempotency {
            let bytes = serde_json::to_vec(&record)
                .map_err(|error| StoreError::Encode(error.to_string()))?;
            batch.insert(key.as_bytes(), bytes);
        }
        db.open_tree(IDEMPOTENCY_TREE)?.apply_batch(batch)?;
    }
    if !rows.is_empty() {
        let mut events = sled::Batch::default();
        let mut index = sled::Batch::default();
        for row in rows {
            let position = row.position.0.to_be_bytes();
            events.insert(&position, row.envelope);
            index.insert(&stream_index_key(row.stream, row.version), &position);
        }
        db.open_tree(EVENTS_TREE)?.apply_batch(events)?;
        db.open_tree(STREAM_INDEX_TREE)?.apply_batch(index)?;
    }
    Ok(())
}

fn sled_finish(
    db: sled::Db,
    staging: &Path,
    dir: &Path,
    heads: Vec<(StreamId, Version)>,
) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for (stream, version) in heads {
        batch.insert(stream.0.as_bytes(), &version.0.to_be_bytes());
    }
    db.open_tree(STREAM_HEADS_TREE)?.apply_batch(batch)?;
    Durability::open(db.clone(), staging)?.make_durable()?;
    drop(db);
    // Renaming the directory is atomic: `dir` is the whole store or stays as it was.
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(|error| {
            StoreError::Storage(format!(
                "cannot replace the empty {}: {error}",
                dir.display()
            ))
        })?;
    }
    std::fs::rename(staging, dir).map_err(|error| {
        StoreError::Storage(format!(
            "cannot move {} to {}: {error}",
            staging.display(),
            dir.display()
        ))
    })?;
    if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        sync_directory(parent)?;
    }
    Ok(())
}

async fn postgres_write(
    client: &Object,
    entries: Vec<(String, Vec<u8>, Vec<u8>)>,
    idempotency: Vec<(String, IdempotencyRecord)>,
    rows: Vec<LogRow>,
) -> Result<(), StoreError> {
    if !entries.is_empty() {
        let mut spaces = Vec::with_capacity(entries.len());
        let mut keys = Vec::with_capacity(entries.len());
        let mut values = Vec::with_capacity(entries.len());
        for (space, key, value) in entries {
            spaces.push(space);
            keys.push(key);
            values.push(value);
        }
        client
            .execute(
                "INSERT INTO keyspace_entries (space, key, value) \
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])",
                &[&spaces, &keys, &values],
            )
            .await
            .map_err(pg_error)?;
    }
    if !idempotency.is_empty() {
        let mut keys = Vec::new();
        let mut fingerprints = Vec::new();
        let mut streams = Vec::new();
        let mut numbers: [Vec<i64>; 5] = Default::default();
        for (key, record) in &idempotency {
            let committed = &record.committed;
            keys.push(key.as_str());
            fingerprints.push(record.fingerprint.as_str());
            streams.push(committed.stream.0);
            numbers[0].push(to_sql_int(committed.first_version.0)?);
            numbers[1].push(to_sql_int(committed.last_version.0)?);
            numbers[2].push(to_sql_int(committed.first_position.0)?);
            numbers[3].push(to_sql_int(committed.last_position.0)?);
            numbers[4].push(record.recorded_at_unix);
        }
        client
            .execute(
                "INSERT INTO idempotency_records (key, fingerprint, stream, first_version, \
                 last_version, first_position, last_position, recorded_at_unix) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::bigint[], \
                 $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])",
                &[
                    &keys,
                    &fingerprints,
                    &streams,
                    &numbers[0],
                    &numbers[1],
                    &numbers[2],
                    &numbers[3],
                    &numbers[4],
                ],
            )
            .await
            .map_err(pg_error)?;
    }
    if !rows.is_empty() {
        let mut positions = Vec::with_capacity(rows.len());
        let mut streams = Vec::with_capacity(rows.len());
        let mut versions = Vec::with_capacity(rows.len());
        let mut envelopes = Vec::with_capacity(rows.len());
        for row in rows {
            positions.push(to_sql_int(row.position.0)?);
            streams.push(row.stream.0);
            versions.push(to_sql_int(row.version.0)?);
            envelopes.push(row.envelope);
        }
        client
            .execute(
                "INSERT INTO events (position, stream, version, envelope) \
                 SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::bytea[])",
                &[&positions, &streams, &versions, &envelopes],
            )
            .await
            .map_err(pg_error)?;
    }
    Ok(())
}

async fn postgres_finish(
    client: &Object,
    head: Head,
    heads: Vec<(StreamId, Version)>,
) -> Result<(), StoreError> {
    let mut streams = Vec::with_capacity(heads.len());
    let mut versions = Vec::with_capacity(heads.len());
    for (stream, version) in heads {
        streams.push(stream.0);
        versions.push(to_sql_int(version.0)?);
    }
    if !streams.is_empty() {
        client
            .execute(
                "INSERT INTO stream_heads (stream, version) \
                 SELECT * FROM unnest($1::uuid[], $2::bigint[])",
                &[&streams, &versions],
            )
            .await
            .map_err(pg_error)?;
    }
    let hash: &[u8] = &head.hash.0;
    client
        .execute(
            "UPDATE log_head SET position = $1, hash = $2",
            &[&to_sql_int(head.position.0)?, &hash],
        )
        .await
        .map_err(pg_error)?;
    client.batch_execute("COMMIT").await.map_err(pg_error)
}
