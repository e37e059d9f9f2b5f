//! The PostgreSQL backend: the event log in tables of one database, with group commit, shared
//! by any number of service instances.
//!
//! **Positions.** A global position is assigned only inside the transaction that commits it:
//! the writer first locks the single row of `log_head` (`SELECT … FOR UPDATE`), so every
//! writer, in this process or in another instance on the same database, waits for the one
//! before it to commit, starts from the head that one left, and commits in position order.
//! There is no sequence: a sequence hands out numbers that commit out of order or not at all,
//! and readers then see gaps — the classic bug of SQL event stores.
//!
//! **Group commit.** As in sled, one writer task per process takes every append queued while
//! the previous batch committed, and in one `READ COMMITTED` transaction locks the head, reads
//! the stream heads and idempotency records the batch needs, stages the batch with the code
//! sled uses (so envelopes are byte-identical: [`crate::chain::seal_object`]), inserts events,
//! stream heads and idempotency records, moves the head, `NOTIFY caseledger_log, '<position>'`,
//! and commits; only then are the callers answered. Commit is durable when PostgreSQL says so
//! (`synchronous_commit = on`, `fsync = on`: see `docs/reliability.md`). A failed commit needs
//! no poisoning here: the next batch starts again from the head row the database holds.
//!
//! **Readers** see only committed rows: PostgreSQL shows nothing else, and commits happen in
//! position order. Reads of the whole log are bounded by the head this process knows; the head
//! moves with its own commits, with every `NOTIFY` from other instances (a `LISTEN`
//! connection), and by polling `log_head` every second in case a notification was missed.
//! Reads of one stream see every committed event, so a command through any instance decides on
//! the case's latest version.
//!
//! Connections: a `deadpool-postgres` pool over `tokio-postgres` (`pool`), with TLS as the URL's
//! `sslmode` and `sslrootcert` ask (libpq's meanings; see `tls`). This module owns the log's
//! tables; keyspaces are in `keyspace`, leases in `lease`, the schema in `migrations`,
//! whole-store copies in `snapshot`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Object, Pool};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, IsolationLevel};
use tokio_postgres_rustls::MakeRustlsConnect;
use uuid::Uuid;

use super::keyspace::PostgresKeyspace;
use super::lease::postgres_lease;
use super::migrations::migrate;
use super::pool::{
    build_pool, check_reachable, describe, from_sql_int, is_unavailable, parse_config, pg_error,
    pooled, to_sql_int,
};
use crate::batch::{
    decode_recorded, encode_events, envelope_hash, stage_batch, AppendOutcome, AppendRequest,
    Lookups, StagedBatch,
};
use crate::blobs::{Blobs, KeyspaceBlobs};
use crate::chain::{ChainError, ChainVerifier};
use crate::keyspace::Keyspace;
use crate::lease::Lease;
use crate::log::{EventLog, LogEvent};
use crate::types::{
    AppendRejected, ChainHash, Committed, ExpectedVersion, Head, IdempotencyKey, IdempotencyRecord,
    Position, Recorded, StoreError, StreamId, Version,
};

/// The channel the writer notifies after each commit, with the new head position as payload.
pub const NOTIFY_CHANNEL: &str = "caseledger_log";

/// Tuning of the PostgreSQL log.
#[derive(Debug, Clone)]
pub struct PostgresLogOptions {
    /// How many appends the writer gathers into one transaction at most.
    pub max_batch_appends: usize,
    /// How many appends may wait for the writer before callers wait to enqueue.
    pub queue_depth: usize,
    /// How many events at the end of the log are re-verified when the store opens.
    pub tail_check_events: u64,
    /// The most connections the pool opens (the `LISTEN` connection comes on top).
    pub max_connections: usize,
    /// How often the committed head is polled, in case a notification was missed.
    pub poll_interval: Duration,
}

impl Default for PostgresLogOptions {
    fn default() -> Self {
        PostgresLogOptions {
            max_batch_appends: 512,
            queue_depth: 4096,
            tail_check_events: 1024,
            max_connections: 16,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// The PostgreSQL-backed [`EventLog`].
///
/// Cloning is cheap; all clones share one pool and one writer task. The writer and the
/// head follower stop when the last clone is dropped.
///
/// ```no_run
/// # async fn example() -> Result<(), caseledger_store::StoreError> {
/// use caseledger_store::{AppendRejected, EventLog, ExpectedVersion, PostgresLog, StreamId};
/// let log = PostgresLog::open("postgres://caseledger@127.0.0.1/caseledger", Default::default())
///     .await?;
/// let stream = StreamId(uuid::Uuid::now_v7());
/// let event = serde_json::json!({"type": "Opened"});
/// let first = log.append(stream, ExpectedVersion::NoStream, vec![event.clone()], None).await?;
/// assert!(first.is_ok());
/// // A stale expectation is an expected outcome, not an error.
/// let stale = log.append(stream, ExpectedVersion::NoStream, vec![event], None).await?;
/// assert!(matches!(stale, Err(AppendRejected::VersionConflict { .. })));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresLog {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) pool: Pool,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    head: watch::Receiver<Head>,
    sender: mpsc::Sender<AppendRequest>,
    follower: JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The writer stops by itself once the queue's sender (dropped with this) is gone and
        // the queued appends are written; the follower only waits, so it is stopped here.
        self.follower.abort();
    }
}

impl std::fmt::Debug for PostgresLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresLog")
            .field("head", &*self.shared.head.borrow())
            .finish_non_exhaustive()
    }
}

/// Moves the published head forward to `head`, never back.
fn publish(sender: &watch::Sender<Head>, head: Head) {
    sender.send_if_modified(|current| {
        if head.position > current.position {
            *current = head;
            true
        } else {
            false
        }
    });
}

fn decode_head(position: i64, hash: &[u8]) -> Result<Head, StoreError> {
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| StoreError::Storage("log_head.hash is not 32 bytes".into()))?;
    Ok(Head {
        position: Position(from_sql_int(position)?),
        hash: ChainHash(hash),
    })
}

/// The committed head as the database holds it (no lock).
pub(super) async fn read_committed_head(client: &Object) -> Result<Head, StoreError> {
    let statement = client
        .prepare_cached("SELECT position, hash FROM log_head")
        .await
        .map_err(pg_error)?;
    let row = client.query_one(&statement, &[]).await.map_err(pg_error)?;
    decode_head(row.get(0), row.get::<_, &[u8]>(1))
}

impl PostgresLog {
    /// Connects to the database at `url`, applies pending schema migrations, re-verifies the
    /// tail of the chain, and starts the writer and the head follower. Refuses to open a log
    /// whose tail is broken, naming the first bad position.
    pub async fn open(url: &str, options: PostgresLogOptions) -> Result<PostgresLog, StoreError> {
        let (config, tls) = parse_config(url)?;
        let pool = build_pool(&config, &tls, options.max_connections)?;
        let mut client = pooled(&pool).await?;
        let schema_version = migrate(&mut client).await?;
        let head = check_tail(&client, options.tail_check_events).await?;
        drop(client);

        let (head_sender, head_receiver) = watch::channel(head);
        let head_sender = Arc::new(head_sender);
        let (sender, receiver) = mpsc::channel(options.queue_depth.max(1));
        let writer = Writer {
            pool: pool.clone(),
            head: Arc::clone(&head_sender),
            max_batch: options.max_batch_appends.max(1),
        };
        tokio::spawn(writer.run(receiver));
        let follower = tokio::spawn(follow_head(
            config.clone(),
            tls.clone(),
            pool.clone(),
            Arc::clone(&head_sender),
            options.poll_interval,
        ));
        tracing::info!(
            head = head.position.0,
            schema_version,
            "event log opened on PostgreSQL"
        );
        Ok(PostgresLog {
            shared: Arc::new(Shared {
                pool,
                config,
                tls,
                head: head_receiver,
                sender,
                follower,
            }),
        })
    }

    /// A typed keyspace for derived state (tokens, projections, cursors) in the same database,
    /// shared by every instance on it. Its writes are committed durably when they return.
    pub fn keyspace(&self, name: &str) -> Keyspace {
        Keyspace::new(
            name,
            Arc::new(PostgresKeyspace::new(self.shared.pool.clone(), name)),
        )
    }

    /// The blob space `name` (which starts with [`crate::BLOB_SPACE_PREFIX`]): one row a chunk,
    /// in the database every instance reads.
    pub fn blobs(&self, name: &str) -> Blobs {
        Blobs::new(name, Arc::new(KeyspaceBlobs::new(self.keyspace(name))))
    }

    /// The lease `name` among every instance on this database (an advisory lock on a
    /// connection of its own); see [`Lease`].
    pub fn lease(&self, name: &str) -> Lease {
        postgres_lease(name, self.shared.config.clone(), self.shared.tls.clone())
    }

    /// The committed head this process knows (also available through [`EventLog::head`]).
    pub fn head(&self) -> Head {
        *self.shared.head.borrow()
    }

    /// Verifies the whole chain from position 1 up to the known head, calling `progress` every
    /// 10,000 events.
    pub async fn verify_chain(
        &self,
        mut progress: impl FnMut(Head) + Send + 'static,
    ) -> Result<Result<Head, ChainError>, StoreError> {
        let head = self.head();
        let mut verifier = ChainVerifier::new();
        while verifier.head().position < head.position {
            let page = self
                .raw_page(verifier.head().position, head.position, 1000)
                .await?;
            if page.is_empty() {
                return Err(StoreError::Corrupt {
                    position: verifier.head().position.next(),
                    reason: "the event is missing".into(),
                });
            }
            for (_, bytes) in page {
                if let Err(error) = verifier.verify(&bytes) {
                    return Ok(Err(error));
                }
                if verifier.head().position.0.is_multiple_of(10_000) {
                    progress(verifier.head());
                }
            }
        }
        Ok(Ok(verifier.head()))
    }

    /// Up to `limit` stored envelopes after `after`, up to `until`, in position order.
    async fn raw_page(
        &self,
        after: Position,
        until: Position,
        limit: usize,
    ) -> Result<Vec<(Position, Vec<u8>)>, StoreError> {
        if after >= until || limit == 0 {
            return Ok(Vec::new());
        }
        let client = pooled(&self.shared.pool).await?;
        let statement = client
            .prepare_cached(
                "SELECT position, envelope FROM events WHERE position > $1 AND position <= $2 \
                 ORDER BY position LIMIT $3",
            )
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(
                &statement,
                &[
                    &to_sql_int(after.0)?,
                    &to_sql_int(until.0)?,
                    &to_sql_int(limit as u64)?,
                ],
            )
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| Ok((Position(from_sql_int(row.get(0))?), row.get(1))))
            .collect()
    }
}

/// Reads the chain's tail, checks it against `log_head`, and returns the committed head.
async fn check_tail(client: &Object, tail_events: u64) -> Result<Head, StoreError> {
    let recorded = read_committed_head(client).await?;
    let beyond = client
        .query_opt(
            "SELECT position FROM events WHERE position > $1 ORDER BY position LIMIT 1",
            &[&to_sql_int(recorded.position.0)?],
        )
        .await
        .map_err(pg_error)?;
    if let Some(row) = beyond {
        return Err(StoreError::Corrupt {
            position: recorded.position.next(),
            reason: format!(
                "an event is stored at position {} beyond the committed head {}",
                row.get::<_, i64>(0),
                recorded.position
            ),
        });
    }
    if recorded.position == Position::ZERO {
        return Ok(Head::EMPTY);
    }
    let last = recorded.position.0;
    let start = last.saturating_sub(tail_events.max(1)).max(1);
    let start_hash = if start == 1 {
        ChainHash::GENESIS
    } else {
        let previous = Position(start - 1);
        let row = client
            .query_opt(
                "SELECT envelope FROM events WHERE position = $1",
                &[&to_sql_int(previous.0)?],
            )
            .await
            .map_err(pg_error)?
            .ok_or_else(|| StoreError::Corrupt {
                position: previous,
                reason: "the event is missing".into(),
            })?;
        envelope_hash(previous, row.get::<_, &[u8]>(0))?
    };
    let mut verifier = ChainVerifier::resume(Head {
        position: Position(start - 1),
        hash: start_hash,
    });
    let rows = client
        .query(
            "SELECT position, envelope FROM events WHERE position >= $1 AND position <= $2 \
             ORDER BY position",
            &[&to_sql_int(start)?, &to_sql_int(last)?],
        )
        .await
        .map_err(pg_error)?;
    for row in &rows {
        let position = Position(from_sql_int(row.get(0))?);
        let expected = verifier.head().position.next();
        if position != expected {
            return Err(StoreError::Corrupt {
                position: expected,
                reason: format!("the event is missing (the next stored position is {position})"),
            });
        }
        verifier
            .verify(row.get::<_, &[u8]>(1))
            .map_err(|error| StoreError::Corrupt {
                position: error.position,
                reason: error.fault.to_string(),
            })?;
    }
    let verified = verifier.head();
    if verified.position != recorded.position {
        return Err(StoreError::Corrupt {
            position: verified.position.next(),
            reason: format!(
                "the event is missing (the committed head is {})",
                recorded.position
            ),
        });
    }
    if verified.hash != recorded.hash {
        return Err(StoreError::Corrupt {
            position: recorded.position,
            reason: "the committed head's hash differs from the last event's".into(),
        });
    }
    Ok(verified)
}

/// Keeps the published head up with commits made by other instances: every notification on
/// [`NOTIFY_CHANNEL`] past the known head, and every `poll_interval` in case one was missed,
/// reads `log_head`. A lost `LISTEN` connection is made again at the next poll.
async fn follow_head(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    pool: Pool,
    head: Arc<watch::Sender<Head>>,
    poll_interval: Duration,
) {
    let mut listener: Option<Listener> = None;
    let mut ticks = tokio::time::interval(poll_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let refresh = match &mut listener {
            Some(active) => tokio::select! {
                notified = active.notifications.recv() => match notified {
                    Some(mut newest) => {
                        // Take every notification already queued; one read serves them all.
                        while let Ok(position) = active.notifications.try_recv() {
                            newest = newest.max(position);
                        }
                        newest > head.borrow().position.0
                    }
                    None => {
                        tracing::warn!("lost the PostgreSQL LISTEN connection; polling until it is back");
                        listener = None;
                        true
                    }
                },
                _ = ticks.tick() => true,
            },
            None => {
                ticks.tick().await;
                match Listener::connect(&config, &tls).await {
                    Ok(active) => listener = Some(active),
                    Err(error) => tracing::warn!(
                        error = %error,
                        "cannot LISTEN for new events; polling the head instead"
                    ),
                }
                true
            }
        };
        if refresh {
            match pooled(&pool).await {
                Ok(client) => match read_committed_head(&client).await {
                    Ok(committed) => publish(&head, committed),
                    Err(error) => tracing::warn!(error = %error, "cannot read the log's head"),
                },
                Err(error) => tracing::warn!(error = %error, "cannot read the log's head"),
            }
        }
    }
}

/// A dedicated connection that `LISTEN`s on [`NOTIFY_CHANNEL`] and forwards each payload.
struct Listener {
    notifications: mpsc::UnboundedReceiver<u64>,
    // Dropping the client closes the connection and ends its task.
    _client: tokio_postgres::Client,
}

impl Listener {
    async fn connect(
        config: &tokio_postgres::Config,
        tls: &MakeRustlsConnect,
    ) -> Result<Listener, StoreError> {
        let (client, mut connection) = config.connect(tls.clone()).await.map_err(pg_error)?;
        let (sender, notifications) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|context| connection.poll_message(context)).await {
                    Some(Ok(AsyncMessage::Notification(notification))) => {
                        // A payload that is not a position still says "something moved".
                        let position = notification.payload().parse().unwrap_or(u64::MAX);
                        if sender.send(position).is_err() {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        tracing::debug!(error = %describe(&error), "the LISTEN connection ended");
                        break;
                    }
                    None => break,
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
            .await
            .map_err(pg_error)?;
        Ok(Listener {
            notifications,
            _client: client,
        })
    }
}

/// The single writer of this process: gathers appends into batches and commits each batch in
/// one transaction under the head-row lock.
struct Writer {
    pool: Pool,
    head: Arc<watch::Sender<Head>>,
    max_batch: usize,
}

/// What the batch's transaction read before staging.
#[derive(Default)]
struct Prefetched {
    stream_versions: HashMap<StreamId, Version>,
    idempotency: HashMap<String, IdempotencyRecord>,
}

impl Lookups for Prefetched {
    fn stream_version(&mut self, stream: StreamId) -> Result<Option<Version>, StoreError> {
        Ok(self.stream_versions.get(&stream).copied())
    }

    fn idempotency_record(&mut self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.idempotency.get(key).cloned())
    }
}

impl Writer {
    async fn run(self, mut receiver: mpsc::Receiver<AppendRequest>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = receiver.recv().await {
            batch.push(first);
            while batch.len() < self.max_batch {
                match receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.commit_batch(std::mem::take(&mut batch)).await;
        }
        tracing::debug!("event log writer stopped");
    }

    async fn commit_batch(&self, requests: Vec<AppendRequest>) {
        let mut client = match pooled(&self.pool).await {
            Ok(client) => client,
            Err(error) => return fail_all(requests, &error),
        };
        let transaction = match client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
        {
            Ok(transaction) => transaction,
            Err(error) => return fail_all(requests, &pg_error(error)),
        };
        let (head, mut prefetched) = match read_for_batch(&transaction, &requests).await {
            Ok(read) => read,
            Err(error) => return fail_all(requests, &error),
        };
        // The locked head is committed: whatever another instance wrote is known from here on.
        publish(&self.head, head);
        let staged = stage_batch(head, requests, &mut prefetched);
        let written = if staged.accepted.is_empty() {
            // Nothing to write (conflicts, replays): release the lock at once.
            let _ = transaction.rollback().await;
            Ok(())
        } else {
            match write_batch(&transaction, &staged).await {
                Ok(()) => transaction.commit().await.map_err(|error| {
                    // The commit may or may not have happened; the next batch reads the head
                    // the database holds, and a client retries with its idempotency key.
                    let reason = format!("the commit's outcome is unknown: {}", describe(&error));
                    if is_unavailable(&error) {
                        StoreError::Unavailable(reason)
                    } else {
                        StoreError::Storage(reason)
                    }
                }),
                // Dropping the transaction rolls it back.
                Err(error) => Err(error),
            }
        };
        let StagedBatch {
            accepted,
            answered,
            head,
        } = staged;
        let mut replies = answered;
        match written {
            Ok(()) => {
                publish(&self.head, head);
                replies.extend(
                    accepted
                        .into_iter()
                        .map(|(reply, staged)| (reply, Ok(Ok(staged.committed)))),
                );
            }
            Err(error) => {
                tracing::error!(error = %error, "committing a batch of appends failed");
                replies.extend(
                    accepted
                        .into_iter()
                        .map(|(reply, _)| (reply, Err(same_error(&error)))),
                );
            }
        }
        send_all(replies);
    }
}

fn send_all(replies: Vec<(oneshot::Sender<AppendOutcome>, AppendOutcome)>) {
    for (reply, outcome) in replies {
        // A caller that went away no longer needs its answer.
        let _ = reply.send(outcome);
    }
}

fn fail_all(requests: Vec<AppendRequest>, error: &StoreError) {
    tracing::error!(error = %error, "a batch of appends could not be written");
    for request in requests {
        let _ = request.reply.send(Err(same_error(error)));
    }
}

/// The same failure again, for every append of a failed batch: unavailable stays unavailable.
fn same_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(reason) => StoreError::Unavailable(reason.clone()),
        other => StoreError::Storage(other.to_string()),
    }
}

/// Locks the head row, then reads the stream heads and idempotency records the batch needs.
/// The three statements are pipelined; PostgreSQL runs them in order, and each later statement
/// of a `READ COMMITTED` transaction sees everything committed before the lock was granted.
async fn read_for_batch(
    transaction: &deadpool_postgres::Transaction<'_>,
    requests: &[AppendRequest],
) -> Result<(Head, Prefetched), StoreError> {
    let streams: Vec<Uuid> = requests
        .iter()
        .map(|request| request.stream.0)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let keys: Vec<String> = requests
        .iter()
        .filter_map(|request| request.idempotency.as_ref().map(|key| key.key.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let (lock, heads, records) = tokio::try_join!(
        transaction.prepare_cached("SELECT position, hash FROM log_head FOR UPDATE"),
        transaction
            .prepare_cached("SELECT stream, version FROM stream_heads WHERE stream = ANY($1)"),
        transaction.prepare_cached(
            "SELECT key, fingerprint, stream, first_version, last_version, first_position, \
             last_position, recorded_at_unix FROM idempotency_records WHERE key = ANY($1)"
        ),
    )
    .map_err(pg_error)?;
    let (head_row, head_rows, record_rows) = tokio::try_join!(
        transaction.query_one(&lock, &[]),
        async { transaction.query(&heads, &[&streams]).await },
        async {
            if keys.is_empty() {
                Ok(Vec::new())
            } else {
                transaction.query(&records, &[&keys]).await
            }
        },
    )
    .map_err(pg_error)?;
    let head = decode_head(head_row.get(0), head_row.get::<_, &[u8]>(1))?;
    let mut prefetched = Prefetched::default();
    for row in head_rows {
        prefetched
            .stream_versions
            .insert(StreamId(row.get(0)), Version(from_sql_int(row.get(1))?));
    }
    for row in record_rows {
        prefetched
            .idempotency
            .insert(row.get(0), decode_record(&row, 1)?);
    }
    Ok((head, prefetched))
}

/// An idempotency record from the columns `fingerprint, stream, first_version, last_version,
/// first_position, last_position, recorded_at_unix`, starting at column `first`.
pub(super) fn decode_record(
    row: &tokio_postgres::Row,
    first: usize,
) -> Result<IdempotencyRecord, StoreError> {
    let int = |offset: usize| from_sql_int(row.get(first + offset));
    Ok(IdempotencyRecord {
        fingerprint: row.get(first),
        committed: Committed {
            stream: StreamId(row.get(first + 1)),
            first_version: Version(int(2)?),
            last_version: Version(int(3)?),
            first_position: Position(int(4)?),
            last_position: Position(int(5)?),
            replayed: false,
        },
        recorded_at_unix: row.get(first + 6),
    })
}

/// Inserts the staged rows, stream heads and idempotency records, moves the head and notifies,
/// all in the batch's transaction (pipelined: one round trip for the lot).
async fn write_batch(
    transaction: &deadpool_postgres::Transaction<'_>,
    staged: &StagedBatch,
) -> Result<(), StoreError> {
    let mut positions: Vec<i64> = Vec::new();
    let mut streams: Vec<Uuid> = Vec::new();
    let mut versions: Vec<i64> = Vec::new();
    let mut envelopes: Vec<&[u8]> = Vec::new();
    let mut keys: Vec<&str> = Vec::new();
    let mut records: [Vec<i64>; 5] = Default::default();
    let mut fingerprints: Vec<&str> = Vec::new();
    let mut record_streams: Vec<Uuid> = Vec::new();
    for (_, accepted) in &staged.accepted {
        let committed = &accepted.committed;
        for (offset, (position, bytes)) in accepted.rows.iter().enumerate() {
            positions.push(to_sql_int(position.0)?);
            streams.push(committed.stream.0);
            versions.push(to_sql_int(committed.first_version.0 + offset as u64)?);
            envelopes.push(bytes);
        }
        if let Some((key, record)) = &accepted.idempotency {
            keys.push(key);
            fingerprints.push(&record.fingerprint);
            record_streams.push(record.committed.stream.0);
            records[0].push(to_sql_int(record.committed.first_version.0)?);
            records[1].push(to_sql_int(record.committed.last_version.0)?);
            records[2].push(to_sql_int(record.committed.first_position.0)?);
            records[3].push(to_sql_int(record.committed.last_position.0)?);
            records[4].push(record.recorded_at_unix);
        }
    }
    let mut head_streams: Vec<Uuid> = Vec::new();
    let mut head_versions: Vec<i64> = Vec::new();
    for (stream, version) in staged.stream_heads() {
        head_streams.push(stream.0);
        head_versions.push(to_sql_int(version.0)?);
    }
    let head_position = to_sql_int(staged.head.position.0)?;
    let head_hash: &[u8] = &staged.head.hash.0;
    let payload = staged.head.position.0.to_string();

    let (insert_events, upsert_heads, insert_records, move_head, notify) = tokio::try_join!(
        transaction.prepare_cached(
            "INSERT INTO events (position, stream, version, envelope) \
             SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::bytea[])"
        ),
        transaction.prepare_cached(
            "INSERT INTO stream_heads (stream, version) \
             SELECT * FROM unnest($1::uuid[], $2::bigint[]) \
             ON CONFLICT (stream) DO UPDATE SET version = EXCLUDED.version"
        ),
        transaction.prepare_cached(
            "INSERT INTO idempotency_records (key, fingerprint, stream, first_version, \
             last_version, first_position, last_position, recorded_at_unix) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::bigint[], \
             $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])"
        ),
        transaction.prepare_cached("UPDATE log_head SET position = $1, hash = $2"),
        transaction.prepare_cached("SELECT pg_notify($1, $2)"),
    )
    .map_err(pg_error)?;
    tokio::try_join!(
        async {
            transaction
                .execute(
                    &insert_events,
                    &[&positions, &streams, &versions, &envelopes],
                )
                .await
        },
        async {
            transaction
                .execute(&upsert_heads, &[&head_streams, &head_versions])
                .await
        },
        async {
            if keys.is_empty() {
                Ok(0)
            } else {
                transaction
                    .execute(
                        &insert_records,
                        &[
                            &keys,
                            &fingerprints,
                            &record_streams,
                            &records[0],
                            &records[1],
                            &records[2],
                            &records[3],
                            &records[4],
                        ],
                    )
                    .await
            }
        },
        async {
            transaction
                .execute(&move_head, &[&head_position, &head_hash])
                .await
        },
        async {
            transaction
                .execute(&notify, &[&NOTIFY_CHANNEL, &payload])
                .await
        },
    )
    .map_err(pg_error)?;
    Ok(())
}

#[async_trait]
impl<E: LogEvent> EventLog<E> for PostgresLog {
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
        self.shared
            .sender
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
        let client = pooled(&self.shared.pool).await?;
        let statement = client
            .prepare_cached(
                "SELECT position, envelope FROM events WHERE stream = $1 AND version >= $2 \
                 ORDER BY version LIMIT $3",
            )
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(
                &statement,
                &[&stream.0, &to_sql_int(from.0)?, &to_sql_int(limit as u64)?],
            )
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                let position = Position(from_sql_int(row.get(0))?);
                decode_recorded(position, row.get::<_, &[u8]>(1))
            })
            .collect()
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<Recorded<E>>, StoreError> {
        self.raw_page(after, self.head().position, limit)
            .await?
            .into_iter()
            .map(|(position, bytes)| decode_recorded(position, &bytes))
            .collect()
    }

    async fn read_all_raw(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<(Position, Vec<u8>)>, StoreError> {
        self.raw_page(after, self.head().position, limit).await
    }

    async fn stream_version(&self, stream: StreamId) -> Result<Option<Version>, StoreError> {
        let client = pooled(&self.shared.pool).await?;
        let statement = client
            .prepare_cached("SELECT version FROM stream_heads WHERE stream = $1")
            .await
            .map_err(pg_error)?;
        client
            .query_opt(&statement, &[&stream.0])
            .await
            .map_err(pg_error)?
            .map(|row| Ok(Version(from_sql_int(row.get(0))?)))
            .transpose()
    }

    async fn expire_idempotency_records(
        &self,
        recorded_before_unix: i64,
    ) -> Result<u64, StoreError> {
        let client = pooled(&self.shared.pool).await?;
        client
            .execute(
                "DELETE FROM idempotency_records WHERE recorded_at_unix < $1",
                &[&recorded_before_unix],
            )
            .await
            .map_err(pg_error)
    }

    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let client = pooled(&self.shared.pool).await?;
        let statement = client
            .prepare_cached(
                "SELECT fingerprint, stream, first_version, last_version, first_position, \
                 last_position, recorded_at_unix FROM idempotency_records WHERE key = $1",
            )
            .await
            .map_err(pg_error)?;
        client
            .query_opt(&statement, &[&key])
            .await
            .map_err(pg_error)?
            .map(|row| decode_record(&row, 0))
            .transpose()
    }

    fn head(&self) -> Head {
        *self.shared.head.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<Head> {
        self.shared.head.clone()
    }

    async fn check_available(&self) -> Result<(), StoreError> {
        check_reachable(&self.shared.pool).await
    }
}
