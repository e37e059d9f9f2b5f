//! The embedded backend: the event log in sled 0.34, with group commit.
//!
//! One writer thread owns every write to the log. Concurrent appends queue on a channel; the
//! writer takes whatever has queued (up to a bound), checks each against the stream heads,
//! seals the accepted events into the hash chain and writes them in one sled transaction over
//! the four log trees. A syncer thread then makes the batch durable — sled's `flush` *and* an
//! `fdatasync` of sled's data file, because sled 0.34's flush ends in `sync_file_range`, which
//! survives neither a power cut nor a disk write cache — and only then answers the callers. One
//! sync covers every batch written while the previous sync ran, and the writer stages the next
//! batch meanwhile: that is what makes many concurrent appends cheap.
//!
//! Readers never see an event before it is durable: every read is bounded by the durable head,
//! which the writer publishes after the sync.
//!
//! This module owns the sled layout of the log (its four trees and their keys) and opening the
//! store; making writes durable is [`Durability`]'s (`durability`), derived state is in
//! keyspaces (`keyspace`), whole-store copies in `snapshot`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{Transactional, Tree};
use tokio::sync::{mpsc, oneshot, watch};

use super::durability::{blocking, Durability};
use super::keyspace::{keyspace_tree_name, SledKeyspace};
use crate::batch::{
    decode_recorded, encode_events, envelope_hash, stage_batch, AppendOutcome, AppendRequest,
    Lookups, Staged,
};
use crate::blobs::Blobs;
use crate::chain::{ChainError, ChainVerifier};
use crate::keyspace::Keyspace;
use crate::log::{EventLog, LogEvent};
use crate::types::{
    AppendRejected, ChainHash, Committed, ExpectedVersion, Head, IdempotencyKey, IdempotencyRecord,
    Position, Recorded, StoreError, StreamId, Version,
};

pub(super) const EVENTS_TREE: &str = "log.events";
pub(super) const STREAM_INDEX_TREE: &str = "log.stream_index";
pub(super) const STREAM_HEADS_TREE: &str = "log.stream_heads";
pub(super) const IDEMPOTENCY_TREE: &str = "log.idempotency";

/// Tuning of the sled log.
#[derive(Debug, Clone)]
pub struct SledLogOptions {
    /// How many appends the writer gathers into one batch at most.
    pub max_batch_appends: usize,
    /// How many appends may wait for the writer before callers wait to enqueue.
    pub queue_depth: usize,
    /// How many events at the end of the log are re-verified when the store opens.
    pub tail_check_events: u64,
    /// sled's page cache size in bytes (sled's own estimate of what it holds: the memory it
    /// takes is somewhat more).
    pub cache_capacity_bytes: u64,
    /// Appends are refused ([`StoreError::InsufficientSpace`]) while the data directory's
    /// filesystem has less than this many bytes free; 0 turns the check off.
    pub min_free_space_bytes: u64,
}

impl Default for SledLogOptions {
    fn default() -> Self {
        SledLogOptions {
            max_batch_appends: 512,
            queue_depth: 4096,
            tail_check_events: 1024,
            cache_capacity_bytes: DEFAULT_SLED_CACHE_BYTES,
            min_free_space_bytes: DEFAULT_MIN_FREE_SPACE_BYTES,
        }
    }
}

/// The default size of sled's page cache: 64 MiB.
pub const DEFAULT_SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The default free-space reserve: 64 MiB.
pub const DEFAULT_MIN_FREE_SPACE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
pub(super) struct LogTrees {
    pub(super) events: Tree,
    pub(super) stream_index: Tree,
    pub(super) stream_heads: Tree,
    pub(super) idempotency: Tree,
}

pub(super) struct Shared {
    pub(super) db: sled::Db,
    /// The store's directory (blob spaces live in files inside it).
    pub(super) dir: std::path::PathBuf,
    pub(super) trees: LogTrees,
    head: watch::Receiver<Head>,
    durability: Arc<Durability>,
}

/// The sled-backed [`EventLog`].
///
/// Cloning is cheap; all clones share one writer. The writer stops, and sled is closed, when
/// the last clone is dropped.
///
/// ```
/// # tokio_test_block_on(async {
/// use caseledger_store::{EventLog, ExpectedVersion, AppendRejected, SledLog, StreamId, Version};
/// let dir = tempfile::tempdir().unwrap();
/// let log = SledLog::open(dir.path(), Default::default()).unwrap();
/// let stream = StreamId(uuid::Uuid::now_v7());
/// let event = serde_json::json!({"type": "Opened"});
///
/// let first = log.append(stream, ExpectedVersion::NoStream, vec![event.clone()], None).await;
/// assert_eq!(first.unwrap().unwrap().last_version, Version(1));
///
/// // A stale expectation is an expected outcome, not an error.
/// let stale = log.append(stream, ExpectedVersion::NoStream, vec![event], None).await;
/// assert!(matches!(stale.unwrap(), Err(AppendRejected::VersionConflict { .. })));
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(future: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
/// # }
/// ```
pub struct SledLog {
    pub(super) shared: Arc<Shared>,
    sender: Arc<WriterHandle>,
}

impl Clone for SledLog {
    fn clone(&self) -> Self {
        SledLog {
            shared: Arc::clone(&self.shared),
            sender: Arc::clone(&self.sender),
        }
    }
}

impl std::fmt::Debug for SledLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledLog")
            .field("head", &*self.shared.head.borrow())
            .finish_non_exhaustive()
    }
}

/// The sending side of the writer; dropping it stops the writer thread and waits for it, so
/// that sled's file lock is released when the last log handle goes.
struct WriterHandle {
    sender: Mutex<Option<mpsc::Sender<AppendRequest>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl WriterHandle {
    fn sender(&self) -> Result<mpsc::Sender<AppendRequest>, StoreError> {
        self.sender
            .lock()
            .map_err(|_| StoreError::Closed)?
            .clone()
            .ok_or(StoreError::Closed)
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        if let Ok(mut thread) = self.thread.lock() {
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl SledLog {
    /// Opens (or creates) the log in `dir`, re-verifies the tail of its chain, and starts the
    /// writer. Refuses to open a log whose tail is broken, naming the first bad position.
    pub fn open(dir: &Path, options: SledLogOptions) -> Result<SledLog, StoreError> {
        std::fs::create_dir_all(dir).map_err(|error| {
            StoreError::Storage(format!("cannot create {}: {error}", dir.display()))
        })?;
        let db = open_db(dir, &options)?;
        let trees = LogTrees {
            events: db.open_tree(EVENTS_TREE)?,
            stream_index: db.open_tree(STREAM_INDEX_TREE)?,
            stream_heads: db.open_tree(STREAM_HEADS_TREE)?,
            idempotency: db.open_tree(IDEMPOTENCY_TREE)?,
        };
        let head = check_tail(&trees.events, options.tail_check_events)?;
        let durability = Arc::new(Durability::open_with_reserve(
            db.clone(),
            dir,
            options.min_free_space_bytes,
        )?);
        let (head_sender, head_receiver) = watch::channel(head);
        let (sender, receiver) = mpsc::channel(options.queue_depth);
        let writer = Writer {
            trees: trees.clone(),
            durability: Arc::clone(&durability),
            head,
            head_sender,
            max_batch: options.max_batch_appends.max(1),
        };
        let thread = std::thread::Builder::new()
            .name("caseledger-log-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|error| StoreError::Storage(format!("cannot start the writer: {error}")))?;
        tracing::info!(head = head.position.0, "event log opened");
        Ok(SledLog {
            shared: Arc::new(Shared {
                db,
                dir: dir.to_owned(),
                trees,
                head: head_receiver,
                durability,
            }),
            sender: Arc::new(WriterHandle {
                sender: Mutex::new(Some(sender)),
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// A typed keyspace for derived state (tokens, projections, cursors) in the same database.
    /// Its writes are durable when they return.
    pub fn keyspace(&self, name: &str) -> Result<Keyspace, StoreError> {
        let tree = self.shared.db.open_tree(keyspace_tree_name(name))?;
        let backend = SledKeyspace::new(tree, Arc::clone(&self.shared.durability));
        Ok(Keyspace::new(name, Arc::new(backend)))
    }

    /// The blob space `name` (which starts with [`crate::BLOB_SPACE_PREFIX`]): files in the
    /// store's directory, checked against the store's durability like every write.
    pub fn blobs(&self, name: &str) -> Blobs {
        let files = super::files::FileBlobs::new(
            &self.shared.dir,
            name,
            Some(Arc::clone(&self.shared.durability)),
        );
        Blobs::new(name, Arc::new(files))
    }

    /// Fault injection, for tests of the fail-stop path: the next `count` syncs of this store
    /// (the log's or any keyspace's) fail as a failed `fdatasync` would, and so stop the store
    /// until it is reopened. Never called by the service itself.
    #[doc(hidden)]
    pub fn inject_sync_failures(&self, count: u32) {
        self.shared.durability.inject_failures(count);
    }

    /// Why the store stopped accepting writes, if a write or sync failed (`None` while it is
    /// healthy).
    pub fn stopped(&self) -> Option<String> {
        self.shared.durability.poisoned()
    }

    /// Verifies the whole chain from position 1, calling `progress` every 10,000 events.
    pub async fn verify_chain(
        &self,
        mut progress: impl FnMut(Head) + Send + 'static,
    ) -> Result<Result<Head, ChainError>, StoreError> {
        let events = self.shared.trees.events.clone();
        let head = self.head();
        blocking(move || {
            let mut verifier = ChainVerifier::new();
            for entry in events.range(..=head.position.0.to_be_bytes()) {
                let (_, bytes) = entry?;
                if let Err(error) = verifier.verify(&bytes) {
                    return Ok(Err(error));
                }
                if verifier.head().position.0.is_multiple_of(10_000) {
                    progress(verifier.head());
                }
            }
            Ok(Ok(verifier.head()))
        })
        .await
    }
}

/// How long [`open_db`] waits for a file lock that this process may still be releasing.
const LOCK_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens sled in `dir`. sled holds its file lock until the last reference to its file goes,
/// and its background I/O threads (segment truncation with `sync_all`, buffer writes) keep
/// such references for a while after the last `SledLog` is dropped — long on a busy machine.
/// So a reopen in the same process (a restart in tests, `serve` after an offline command) that
/// finds the lock taken waits that moment out instead of failing; a lock that another process
/// holds is still refused, a few seconds later.
fn open_db(dir: &Path, options: &SledLogOptions) -> Result<sled::Db, StoreError> {
    let started = std::time::Instant::now();
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .cache_capacity(options.cache_capacity_bytes)
            // We flush once per batch ourselves; sled's timer would only add flushes.
            .flush_every_ms(None)
            .open();
        match opened {
            Err(error) if is_lock_held(&error) && started.elapsed() < LOCK_RELEASE_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            opened => return opened.map_err(|error| StoreError::from_sled_open(error, dir)),
        }
    }
}

/// Whether opening sled failed because its directory's file lock is held.
fn is_lock_held(error: &sled::Error) -> bool {
    // sled reports a held lock as an `Other` I/O error with this text, and nothing else marks
    // it: this is the one place that reads it.
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

impl StoreError {
    /// The error of opening sled in `dir`: [`StoreError::Locked`] when another process holds
    /// the directory's lock, [`StoreError::Storage`] otherwise. [`SledLog::open`] answers with
    /// it; tools and tests that open a sled directory themselves classify their error with it.
    ///
    /// ```
    /// use caseledger_store::StoreError;
    /// let dir = tempfile::tempdir().unwrap();
    /// let _held = sled::open(dir.path()).unwrap();
    /// let again = sled::open(dir.path()).unwrap_err();
    /// assert!(matches!(
    ///     StoreError::from_sled_open(again, dir.path()),
    ///     StoreError::Locked { .. }
    /// ));
    /// ```
    pub fn from_sled_open(error: sled::Error, dir: &Path) -> StoreError {
        if is_lock_held(&error) {
            StoreError::Locked {
                path: dir.to_owned(),
            }
        } else {
            error.into()
        }
    }
}

/// Reads the chain's tail, checks it, and returns the durable head.
fn check_tail(events: &Tree, tail_events: u64) -> Result<Head, StoreError> {
    let Some((last_key, _)) = events.last()? else {
        return Ok(Head::EMPTY);
    };
    let last = decode_position(&last_key)?;
    let start = last.0.saturating_sub(tail_events.max(1)).max(1);
    let start_hash = if start == 1 {
        ChainHash::GENESIS
    } else {
        let previous = events
            .get(Position(start - 1).0.to_be_bytes())?
            .ok_or_else(|| StoreError::Corrupt {
                position: Position(start - 1),
                reason: "the event is missing".into(),
            })?;
        envelope_hash(Position(start - 1), &previous)?
    };
    let mut verifier = ChainVerifier::resume(Head {
        position: Position(start - 1),
        hash: start_hash,
    });
    for entry in events.range(start.to_be_bytes()..) {
        let (key, bytes) = entry?;
        let position = decode_position(&key)?;
        let expected = verifier.head().position.next();
        if position != expected {
            return Err(StoreError::Corrupt {
                position: expected,
                reason: format!("the event is missing (the next stored position is {position})"),
            });
        }
        verifier
            .verify(&bytes)
            .map_err(|error| StoreError::Corrupt {
                position: error.position,
                reason: error.fault.to_string(),
            })?;
    }
    Ok(verifier.head())
}

pub(super) fn decode_position(key: &[u8]) -> Result<Position, StoreError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| StoreError::Storage(format!("bad position key of {} bytes", key.len())))?;
    Ok(Position(u64::from_be_bytes(bytes)))
}

pub(super) fn decode_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Storage(format!("bad integer of {} bytes", bytes.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

pub(super) fn stream_index_key(stream: StreamId, version: Version) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(stream.0.as_bytes());
    key[16..].copy_from_slice(&version.0.to_be_bytes());
    key
}

/// The single writer: gathers appends into batches, stages and writes each batch, and hands it
/// to the [`Syncer`], which makes it durable and answers. Writing the next batch overlaps the
/// sync of the previous one; answers still wait for the sync that covers them.
struct Writer {
    trees: LogTrees,
    durability: Arc<Durability>,
    head: Head,
    head_sender: watch::Sender<Head>,
    max_batch: usize,
}

/// How many written batches may wait for their sync before the writer waits.
const BATCHES_AWAITING_SYNC: usize = 2;

/// A batch written to sled, with its answers, waiting for the sync that makes it durable.
struct Written {
    head: Head,
    replies: Vec<(oneshot::Sender<AppendOutcome>, AppendOutcome)>,
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<AppendRequest>) {
        let (written, to_sync) = std::sync::mpsc::sync_channel(BATCHES_AWAITING_SYNC);
        let syncer = Syncer {
            durability: Arc::clone(&self.durability),
            durable: self.head,
            head_sender: self.head_sender.clone(),
        };
        let syncer = std::thread::Builder::new()
            .name("caseledger-log-syncer".into())
            .spawn(move || syncer.run(to_sync));
        let syncer = match syncer {
            Ok(syncer) => syncer,
            Err(error) => {
                tracing::error!(%error, "cannot start the log's syncer; the log refuses writes");
                self.poison(format!("cannot start the syncer: {error}"));
                // Without a syncer every append is answered by `commit_batch` as poisoned.
                while let Some(request) = receiver.blocking_recv() {
                    let _ = request.reply.send(Err(StoreError::Poisoned(
                        "the log's syncer did not start".into(),
                    )));
                }
                return;
            }
        };
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = receiver.blocking_recv() {
            batch.push(first);
            while batch.len() < self.max_batch {
                match receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let batch_written = self.write_batch(&mut batch);
            if written.send(batch_written).is_err() {
                break;
            }
        }
        drop(written);
        let _ = syncer.join();
        tracing::debug!("event log writer stopped");
    }

    /// Stops the store after a failed write (see [`Durability`]): sled's memory may then hold
    /// what the disk does not, so no further write is accepted until the process restarts.
    fn poison(&self, reason: String) -> String {
        self.durability.poison(reason)
    }

    /// Stages and writes one batch; the answers travel with it to the syncer, since even a
    /// refusal or an idempotent replay may rest on an earlier batch that is not yet durable.
    fn write_batch(&mut self, batch: &mut Vec<AppendRequest>) -> Written {
        // A failed sync anywhere in the store — the log's or a keyspace's — stops the log, and
        // a nearly full disk refuses the batch before a byte is written.
        if let Err(refusal) = self.durability.check_writable() {
            return Written {
                head: self.head,
                replies: batch
                    .drain(..)
                    .map(|request| (request.reply, Err(same_refusal(&refusal))))
                    .collect(),
            };
        }
        // Nothing else writes these trees, so the writer reads them directly while staging.
        let mut lookups = TreeLookups { trees: &self.trees };
        let staged = stage_batch(self.head, batch.drain(..), &mut lookups);
        let mut replies = staged.answered;
        if !staged.accepted.is_empty() {
            match self.write(&staged.accepted) {
                Ok(()) => {
                    self.head = staged.head;
                    for (reply, accepted) in staged.accepted {
                        replies.push((reply, Ok(Ok(accepted.committed))));
                    }
                }
                Err(error) => {
                    let reason = error.to_string();
                    tracing::error!(%reason, "writing a batch failed; the log stops accepting writes");
                    let reason = self.poison(reason);
                    for (reply, _) in staged.accepted {
                        replies.push((reply, Err(StoreError::Poisoned(reason.clone()))));
                    }
                }
            }
        }
        Written {
            head: self.head,
            replies,
        }
    }

    /// Writes the staged appends in one transaction (not yet durable: see [`Syncer`]).
    fn write(&self, staged: &[(oneshot::Sender<AppendOutcome>, Staged)]) -> Result<(), StoreError> {
        let trees = &self.trees;
        let idempotency_rows: Vec<(String, Vec<u8>)> = staged
            .iter()
            .filter_map(|(_, accepted)| accepted.idempotency.as_ref())
            .map(|(key, record)| {
                serde_json::to_vec(record)
                    .map(|bytes| (key.clone(), bytes))
                    .map_err(|error| StoreError::Encode(error.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let result: Result<(), TransactionError<StoreError>> = (
            &trees.events,
            &trees.stream_index,
            &trees.stream_heads,
            &trees.idempotency,
        )
            .transaction(|(events, stream_index, stream_heads, idempotency)| {
                for (_, accepted) in staged {
                    let committed = &accepted.committed;
                    for (offset, (position, bytes)) in accepted.rows.iter().enumerate() {
                        let version = Version(committed.first_version.0 + offset as u64);
                        events.insert(&position.0.to_be_bytes(), bytes.as_slice())?;
                        stream_index.insert(
                            &stream_index_key(committed.stream, version),
                            &position.0.to_be_bytes(),
                        )?;
                    }
                    stream_heads.insert(
                        committed.stream.0.as_bytes(),
                        &committed.last_version.0.to_be_bytes(),
                    )?;
                }
                for (key, bytes) in &idempotency_rows {
                    idempotency.insert(key.as_bytes(), bytes.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            });
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(error)) => return Err(error),
            Err(TransactionError::Storage(error)) => return Err(error.into()),
        }
        Ok(())
    }
}

/// Makes written batches durable — one sled flush and `fdatasync` for every batch that queued
/// while the previous sync ran — then publishes the durable head and answers their callers.
struct Syncer {
    durability: Arc<Durability>,
    durable: Head,
    head_sender: watch::Sender<Head>,
}

impl Syncer {
    fn run(mut self, to_sync: std::sync::mpsc::Receiver<Written>) {
        while let Ok(first) = to_sync.recv() {
            let mut batches = vec![first];
            while let Ok(next) = to_sync.try_recv() {
                batches.push(next);
            }
            let head = batches
                .last()
                .map(|batch| batch.head)
                .unwrap_or(self.durable);
            // After a failure — here or in a keyspace's write — nothing is synced again: a later
            // sync could succeed over data the failed one lost, and acknowledge events that
            // follow a gap. `make_durable` refuses once the store is poisoned.
            let synced = match self.durability.poisoned() {
                Some(reason) => Err(StoreError::Poisoned(reason)),
                None if head == self.durable => Ok(()),
                None => self.durability.make_durable(),
            };
            let failure = match synced {
                Ok(()) => {
                    self.durable = head;
                    self.head_sender.send_replace(head);
                    None
                }
                Err(error) => {
                    let reason = error.to_string();
                    tracing::error!(%reason, "syncing the log failed; the log stops accepting writes");
                    Some(self.durability.poison(reason))
                }
            };
            for batch in batches {
                for (reply, outcome) in batch.replies {
                    let outcome = match &failure {
                        Some(reason) => Err(StoreError::Poisoned(reason.clone())),
                        None => outcome,
                    };
                    // A caller that went away no longer needs its answer.
                    let _ = reply.send(outcome);
                }
            }
        }
    }
}

/// The same refusal again, for every append of a refused batch.
fn same_refusal(refusal: &StoreError) -> StoreError {
    match refusal {
        StoreError::Poisoned(reason) => StoreError::Poisoned(reason.clone()),
        StoreError::InsufficientSpace {
            free_bytes,
            reserve_bytes,
        } => StoreError::InsufficientSpace {
            free_bytes: *free_bytes,
            reserve_bytes: *reserve_bytes,
        },
        other => StoreError::Storage(other.to_string()),
    }
}

/// The writer's view of the log trees while it stages a batch.
struct TreeLookups<'a> {
    trees: &'a LogTrees,
}

impl Lookups for TreeLookups<'_> {
    fn stream_version(&mut self, stream: StreamId) -> Result<Option<Version>, StoreError> {
        self.trees
            .stream_heads
            .get(stream.0.as_bytes())?
            .map(|bytes| decode_u64(&bytes).map(Version))
            .transpose()
    }

    fn idempotency_record(&mut self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        read_idempotency(&self.trees.idempotency, key)
    }
}

fn read_idempotency(tree: &Tree, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
    tree.get(key.as_bytes())?
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|error| {
                StoreError::Storage(format!("bad idempotency record for a key: {error}"))
            })
        })
        .transpose()
}

#[async_trait]
impl<E: LogEvent> EventLog<E> for SledLog {
    async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<E>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Result<Committed, AppendRejected>, StoreError> {
        // Encoding happens on the caller's task, so the writer only seals and writes.
        let events = encode_events(&events)?;
        let (reply, answer) = oneshot::channel();
        let request = AppendRequest {
            stream,
            expected,
            events,
            idempotency,
            reply,
        };
        self.sender
            .sender()?
            .send(request)
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        from: Version,
        limit: usize,
    ) -> Result<Vec<Recorded<E>>, StoreError> {
        let trees = self.shared.trees.clone();
        let head = self.head();
        blocking(move || {
            let start = stream_index_key(stream, from);
            let end = stream_index_key(stream, Version(u64::MAX));
            let mut recorded = Vec::new();
            for entry in trees.stream_index.range(start..=end) {
                if recorded.len() >= limit {
                    break;
                }
                let (_, position_bytes) = entry?;
                let position = Position(decode_u64(&position_bytes)?);
                if position > head.position {
                    break;
                }
                let bytes = trees.events.get(position.0.to_be_bytes())?.ok_or_else(|| {
                    StoreError::Corrupt {
                        position,
                        reason: "indexed event is missing".into(),
                    }
                })?;
                recorded.push(decode_recorded(position, &bytes)?);
            }
            Ok(recorded)
        })
        .await
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<Recorded<E>>, StoreError> {
        let raw = EventLog::<E>::read_all_raw(self, after, limit).await?;
        raw.into_iter()
            .map(|(position, bytes)| decode_recorded(position, &bytes))
            .collect()
    }

    async fn read_all_raw(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<(Position, Vec<u8>)>, StoreError> {
        let events = self.shared.trees.events.clone();
        let head = self.head();
        if after >= head.position {
            return Ok(Vec::new());
        }
        blocking(move || {
            let start = after.next().0.to_be_bytes();
            let end = head.position.0.to_be_bytes();
            events
                .range(start..=end)
                .take(limit)
                .map(|entry| {
                    let (key, bytes) = entry?;
                    Ok((decode_position(&key)?, bytes.to_vec()))
                })
                .collect()
        })
        .await
    }

    async fn stream_version(&self, stream: StreamId) -> Result<Option<Version>, StoreError> {
        let trees = self.shared.trees.clone();
        let head = self.head();
        blocking(move || {
            // The newest version whose event is durable; a batch being written is not yet.
            let start = stream_index_key(stream, Version(0));
            let end = stream_index_key(stream, Version(u64::MAX));
            for entry in trees.stream_index.range(start..=end).rev() {
                let (key, position_bytes) = entry?;
                if Position(decode_u64(&position_bytes)?) <= head.position {
                    return Ok(Some(Version(decode_u64(&key[16..])?)));
                }
            }
            Ok(None)
        })
        .await
    }

    async fn expire_idempotency_records(
        &self,
        recorded_before_unix: i64,
    ) -> Result<u64, StoreError> {
        let tree = self.shared.trees.idempotency.clone();
        blocking(move || {
            let mut removed = 0;
            for entry in tree.iter() {
                let (key, bytes) = entry?;
                let Ok(record) = serde_json::from_slice::<IdempotencyRecord>(&bytes) else {
                    continue;
                };
                if record.recorded_at_unix >= recorded_before_unix {
                    continue;
                }
                // Only the record read: one written again under the key meanwhile stays.
                if tree
                    .compare_and_swap(&key, Some(&bytes), None::<&[u8]>)?
                    .is_ok()
                {
                    removed += 1;
                }
            }
            if removed > 0 {
                tree.flush()?;
            }
            Ok(removed)
        })
        .await
    }

    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let tree = self.shared.trees.idempotency.clone();
        let head = self.head();
        let key = key.to_owned();
        blocking(move || {
            Ok(read_idempotency(&tree, &key)?
                .filter(|record| record.committed.last_position <= head.position))
        })
        .await
    }

    fn head(&self) -> Head {
        *self.shared.head.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<Head> {
        self.shared.head.clone()
    }

    async fn check_available(&self) -> Result<(), StoreError> {
        match self.stopped() {
            Some(reason) => Err(StoreError::Poisoned(reason)),
            None => Ok(()),
        }
    }
}

impl SledLog {
    /// The durable head (also available through [`EventLog::head`]).
    pub fn head(&self) -> Head {
        *self.shared.head.borrow()
    }
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        StoreError::Storage(error.to_string())
    }
}
