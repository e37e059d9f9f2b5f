//! Whole-store copies of a sled store: the log as a [`SnapshotSource`] (keyspace trees,
//! idempotency tree, and the events with their streams), and [`Importer::sled`], which writes a
//! snapshot into `<dir>.importing` and moves it to `<dir>` only once everything is written and
//! synced, so a failed or interrupted import never leaves a store that looks whole.
//!
//! The snapshot's format and checks are [`crate::snapshot`]'s; this module owns only the raw
//! access to sled's trees that a copy needs. The log's hot path is untouched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use uuid::Uuid;

use super::durability::{blocking, sync_directory, Durability};
use super::files::{blob_spaces, FileBlobs};
use super::keyspace::{keyspace_tree_name, KEYSPACE_TREE_PREFIX};
use super::log::{
    decode_position, stream_index_key, SledLog, EVENTS_TREE, IDEMPOTENCY_TREE, STREAM_HEADS_TREE,
    STREAM_INDEX_TREE,
};
use crate::blobs::BLOB_SPACE_PREFIX;
use crate::snapshot::{
    CheckedRecords, EnvelopeVersion, ImportError, ImportTarget, Importer, LogRow, LogRows,
    RawEntry, SnapshotSource,
};
use crate::types::{Head, IdempotencyRecord, Position, StoreError, StreamId, Version};

#[async_trait]
impl SnapshotSource for SledLog {
    async fn committed_head(&self) -> Result<Head, StoreError> {
        Ok(SledLog::head(self))
    }

    async fn keyspace_names(&self) -> Result<Vec<String>, StoreError> {
        let db = self.shared.db.clone();
        let dir = self.shared.dir.clone();
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
            names.extend(blob_spaces(&dir)?);
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
        if space.starts_with(BLOB_SPACE_PREFIX) {
            let files = FileBlobs::new(&self.shared.dir, space, None);
            return blocking(move || files.page(after, limit)).await;
        }
        let tree = self.shared.db.open_tree(keyspace_tree_name(space))?;
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
        Ok(Importer::new(Box::new(SledTarget {
            dir: dir.to_owned(),
            staging,
            db,
        })))
    }
}

/// A sled store being imported: written in `staging`, moved to `dir` at the end.
struct SledTarget {
    dir: PathBuf,
    staging: PathBuf,
    db: sled::Db,
}

#[async_trait]
impl ImportTarget for SledTarget {
    async fn write(&mut self, records: CheckedRecords) -> Result<(), StoreError> {
        let db = self.db.clone();
        let staging = self.staging.clone();
        blocking(move || sled_write(&db, &staging, records)).await
    }

    async fn finish(
        self: Box<Self>,
        _head: Head,
        stream_heads: Vec<(StreamId, Version)>,
    ) -> Result<(), StoreError> {
        // sled's head is its last event: only the stream heads are left to write.
        let SledTarget { dir, staging, db } = *self;
        blocking(move || sled_finish(db, &staging, &dir, stream_heads)).await
    }

    async fn abort(self: Box<Self>) {
        let SledTarget { staging, db, .. } = *self;
        drop(db);
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(staging)).await;
    }
}

fn sled_write(db: &sled::Db, staging: &Path, records: CheckedRecords) -> Result<(), StoreError> {
    let CheckedRecords {
        entries,
        idempotency,
        rows,
    } = records;
    let mut by_space: HashMap<String, sled::Batch> = HashMap::new();
    for (space, key, value) in entries {
        if space.starts_with(BLOB_SPACE_PREFIX) {
            FileBlobs::new(staging, &space, None).import(&key, &value)?;
            continue;
        }
        by_space.entry(space).or_default().insert(key, value);
    }
    for (space, batch) in by_space {
        db.open_tree(keyspace_tree_name(&space))?
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
    for space in blob_spaces(staging)? {
        FileBlobs::new(staging, &space, None).sync_all()?;
    }
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
