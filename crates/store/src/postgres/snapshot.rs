//! Whole-store copies of a PostgreSQL store: the log as a [`SnapshotSource`] (rows of
//! `keyspace_entries`, `idempotency_records` and `events`, read by any instance while others
//! write), and [`Importer::postgres`], which writes a snapshot in one transaction that holds the
//! log's tables locked against writers, so nothing is visible before it commits.
//!
//! The snapshot's format and checks are [`crate::snapshot`]'s; this module owns only the SQL a
//! copy needs. The log's hot path is untouched.

use async_trait::async_trait;
use deadpool_postgres::Object;

use super::log::{decode_record, read_committed_head, PostgresLog, PostgresLogOptions};
use super::pool::{from_sql_int, pg_error, pooled, to_sql_int};
use crate::snapshot::{
    CheckedRecords, ImportError, ImportTarget, Importer, LogRow, LogRows, RawEntry, SnapshotSource,
};
use crate::types::{Head, IdempotencyRecord, Position, StoreError, StreamId, Version};

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

impl Importer {
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
        Ok(Importer::new(Box::new(PostgresTarget {
            _log: log,
            client,
        })))
    }
}

/// A PostgreSQL database being imported, inside one open transaction.
struct PostgresTarget {
    // Kept for its pool: the connection below belongs to it.
    _log: PostgresLog,
    client: Object,
}

#[async_trait]
impl ImportTarget for PostgresTarget {
    async fn write(&mut self, records: CheckedRecords) -> Result<(), StoreError> {
        postgres_write(&self.client, records).await
    }

    async fn finish(
        self: Box<Self>,
        head: Head,
        stream_heads: Vec<(StreamId, Version)>,
    ) -> Result<(), StoreError> {
        postgres_finish(&self.client, head, stream_heads).await
    }

    async fn abort(self: Box<Self>) {
        let _ = self.client.batch_execute("ROLLBACK").await;
    }
}

async fn postgres_write(client: &Object, records: CheckedRecords) -> Result<(), StoreError> {
    let CheckedRecords {
        entries,
        idempotency,
        rows,
    } = records;
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
