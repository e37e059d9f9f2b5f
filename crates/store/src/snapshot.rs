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
//! record names an event the snapshot lacks. Keyspaces named by [`SnapshotReader::after_head`]
//! are read after that head, in their order — what is written before the event that names it
//! (files), and what owns or opens those — so every event up to the head finds them. A
//! [`Revocation`] reads one keyspace (data keys) after all of those, leaving out every key that
//! a register keyspace names: a register entry written before an event means the snapshot
//! never holds both that event and the key.
//!
//! Both sides verify: the reader walks the chain as it reads (a broken source stops the copy at
//! the first bad position), and the importer checks positions, stream versions and the chain
//! again as it writes, and the final record's head and counts. An importer refuses a target
//! that holds anything. The sled importer writes into `<dir>.importing` and renames it to
//! `<dir>` only when everything is written and synced, so a failed or interrupted import never
//! leaves a store that looks whole; the PostgreSQL importer writes in one transaction.
//!
//! This module knows nothing of what the keyspaces or events mean, and nothing of either
//! backend: it owns the snapshot format, the reader and the importer's checks. Each backend
//! implements the two sides in its own `snapshot` module — [`SnapshotSource`] for its log, and
//! the [`Importer`]'s constructor and writes for its storage (`Importer::sled`,
//! `Importer::postgres`).

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::chain::ChainVerifier;
use crate::types::{Head, IdempotencyRecord, Position, StoreError, StreamId, Version};

/// The snapshot format this build writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// How many records one step of a reader or one page of a source reads at most.
pub const SNAPSHOT_PAGE: usize = 1_000;

/// How many entries one step reads at most of a keyspace read after the head
/// ([`SnapshotReader::after_head`]): those hold large values (chunks of files).
pub const SNAPSHOT_LARGE_PAGE: usize = 16;

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
    after_head: Vec<String>,
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
    AfterHead {
        index: usize,
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
pub(crate) struct EnvelopeVersion {
    pub(crate) version: u64,
}

impl SnapshotReader {
    /// A reader of `source` that leaves out the keyspaces named in `skip` (rebuildable ones).
    pub fn new(source: std::sync::Arc<dyn SnapshotSource>, skip: &[&str]) -> SnapshotReader {
        SnapshotReader {
            source,
            skip: skip.iter().map(|name| (*name).to_owned()).collect(),
            revocation: None,
            after_head: Vec::new(),
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

    /// This reader, reading the keyspaces `names` after the head, in this order and before the
    /// revocable keys, [`SNAPSHOT_LARGE_PAGE`] entries at a time: for what is written before
    /// the event that refers to it (a file's chunks before its event), so every event up to the
    /// head finds it in the copy, and for what must be read after such entries (the keys that
    /// open them, the records that own them). What was written for an event after the head
    /// comes along too; its owner tells such leftovers from the rest.
    pub fn after_head(mut self, names: &[&str]) -> SnapshotReader {
        self.after_head = names.iter().map(|name| (*name).to_owned()).collect();
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
                        .filter(|name| !self.after_head.contains(name))
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
                        self.stage = Stage::AfterHead {
                            index: 0,
                            after: None,
                        };
                        continue;
                    };
                    let records =
                        keyspace_step(&*self.source, &space, index, after, SNAPSHOT_PAGE).await?;
                    if records.is_empty() {
                        continue;
                    }
                    self.counts.keyspace_entries += records.len() as u64;
                    return Ok(Some(records));
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
                Stage::AfterHead { index, after } => {
                    let Some(space) = self.after_head.get(*index).cloned() else {
                        self.stage = match self.revocation.clone() {
                            // The register after the head, the revocable keys after the
                            // register (and after every keyspace read after the head, whose
                            // entries such a key may open): what the log up to the head
                            // revoked is left out.
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
                    let records =
                        keyspace_step(&*self.source, &space, index, after, SNAPSHOT_LARGE_PAGE)
                            .await?;
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

/// One page of at most `limit` entries of the keyspace `space`, as records: `after` moves past
/// the page, or, once the keyspace is read to its end, `index` moves on to the next keyspace.
/// Empty when the page is.
async fn keyspace_step(
    source: &dyn SnapshotSource,
    space: &str,
    index: &mut usize,
    after: &mut Option<Vec<u8>>,
    limit: usize,
) -> Result<Vec<SnapshotRecord>, StoreError> {
    let page = source.keyspace_page(space, after.take(), limit).await?;
    if page.len() < limit {
        *index += 1;
    } else {
        *after = page.last().map(|(key, _)| key.clone());
    }
    Ok(page
        .into_iter()
        .map(|(key, value)| SnapshotRecord::Keyspace {
            space: space.to_owned(),
            key,
            value,
        })
        .collect())
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
    target: Box<dyn ImportTarget>,
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

/// A store an [`Importer`] fills: each backend writes the checked records its own way, and
/// nothing it writes is visible before [`ImportTarget::finish`].
#[async_trait]
pub(crate) trait ImportTarget: Send {
    /// Writes the next checked records.
    async fn write(&mut self, records: CheckedRecords) -> Result<(), StoreError>;
    /// Writes the stream heads and the log's `head`, and makes everything durable and visible.
    async fn finish(
        self: Box<Self>,
        head: Head,
        stream_heads: Vec<(StreamId, Version)>,
    ) -> Result<(), StoreError>;
    /// Throws away what was written.
    async fn abort(self: Box<Self>);
}

/// Records of a snapshot the importer has checked, grouped for the target to write.
pub(crate) struct CheckedRecords {
    /// Keyspace entries: space, key, value.
    pub(crate) entries: Vec<(String, Vec<u8>, Vec<u8>)>,
    /// Idempotency records by key.
    pub(crate) idempotency: Vec<(String, IdempotencyRecord)>,
    /// Event rows, in position order.
    pub(crate) rows: Vec<LogRow>,
}

impl Importer {
    /// An importer into `target`, which a backend's constructor found empty.
    pub(crate) fn new(target: Box<dyn ImportTarget>) -> Importer {
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
        self.target
            .write(CheckedRecords {
                entries,
                idempotency,
                rows,
            })
            .await?;
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
        self.target.finish(head, heads).await?;
        Ok(Imported {
            head,
            counts: self.counts,
        })
    }

    /// Throws away what was written: removes the sled staging directory, or rolls the
    /// PostgreSQL transaction back.
    pub async fn abort(self) {
        self.target.abort().await;
    }
}
