//! Keyspaces in PostgreSQL: every keyspace is the rows of `keyspace_entries` with its name in
//! `space`, in the same database as the log, so every service instance on that database shares
//! them.
//!
//! Keys are `bytea`, which PostgreSQL orders bytewise like sled, so prefix scans are key ranges
//! on the primary key. `apply` writes all its changes in one transaction; a change that need
//! not be durable (rebuildable projections) commits with `synchronous_commit = off`, the
//! PostgreSQL counterpart of skipping sled's sync. `increment` is one atomic
//! `INSERT … ON CONFLICT … DO UPDATE … RETURNING`, so instances never hand out a number twice.
//! This module owns the SQL of keyspaces; [`crate::Keyspace`] owns their typed API.

use std::collections::BTreeMap;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

use super::pool::{pg_error, pooled};
use crate::keyspace::{guard_value, Entry, KeyspaceBackend, KeyspaceChange};
use crate::lease::{Fence, EPOCH_SPACE};
use crate::types::StoreError;

/// One keyspace: a `space` name over the shared pool.
pub(super) struct PostgresKeyspace {
    pool: Pool,
    space: String,
}

impl PostgresKeyspace {
    pub(super) fn new(pool: Pool, space: &str) -> PostgresKeyspace {
        PostgresKeyspace {
            pool,
            space: space.to_owned(),
        }
    }

    /// Writes `changes` in one transaction, first checking `guard` (a key whose JSON `u64`
    /// must be absent or at most the bound) when there is one; whether it wrote.
    async fn write(
        &self,
        guard: Option<(Vec<u8>, u64)>,
        changes: Vec<KeyspaceChange>,
        durable: bool,
        fence: Option<Fence>,
    ) -> Result<bool, StoreError> {
        if changes.is_empty() && guard.is_none() && fence.is_none() {
            return Ok(true);
        }
        // A later change of the same key wins, as in a sled batch.
        let mut last_change: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for (key, value) in changes {
            last_change.insert(key, value);
        }
        let mut removed: Vec<Vec<u8>> = Vec::new();
        let mut put_keys: Vec<Vec<u8>> = Vec::new();
        let mut put_values: Vec<Vec<u8>> = Vec::new();
        for (key, value) in last_change {
            match value {
                Some(value) => {
                    put_keys.push(key);
                    put_values.push(value);
                }
                None => removed.push(key),
            }
        }
        let mut client = pooled(&self.pool).await?;
        let transaction = client.transaction().await.map_err(pg_error)?;
        if !durable {
            transaction
                .batch_execute("SET LOCAL synchronous_commit TO off")
                .await
                .map_err(pg_error)?;
        }
        if let Some(fence) = &fence {
            check_fence(&transaction, fence).await?;
        }
        if let Some((guard, at_most)) = guard {
            // One writer at a time per guard key, even before the key's row exists (a row lock
            // would lock nothing then); the lock ends with the transaction.
            let statement = transaction
                .prepare_cached(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || encode($2, 'hex'), 0))",
                )
                .await
                .map_err(pg_error)?;
            transaction
                .execute(&statement, &[&self.space, &guard])
                .await
                .map_err(pg_error)?;
            let statement = transaction
                .prepare_cached("SELECT value FROM keyspace_entries WHERE space = $1 AND key = $2")
                .await
                .map_err(pg_error)?;
            let stored = transaction
                .query_opt(&statement, &[&self.space, &guard])
                .await
                .map_err(pg_error)?;
            if let Some(row) = stored {
                let bytes: Vec<u8> = row.get(0);
                if guard_value(&guard, &bytes)? > at_most {
                    return Ok(false);
                }
            }
        }
        if !removed.is_empty() {
            let statement = transaction
                .prepare_cached("DELETE FROM keyspace_entries WHERE space = $1 AND key = ANY($2)")
                .await
                .map_err(pg_error)?;
            transaction
                .execute(&statement, &[&self.space, &removed])
                .await
                .map_err(pg_error)?;
        }
        if !put_keys.is_empty() {
            let statement = transaction
                .prepare_cached(
                    "INSERT INTO keyspace_entries (space, key, value) \
                     SELECT $1, key, value FROM unnest($2::bytea[], $3::bytea[]) AS t(key, value) \
                     ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value",
                )
                .await
                .map_err(pg_error)?;
            transaction
                .execute(&statement, &[&self.space, &put_keys, &put_values])
                .await
                .map_err(pg_error)?;
        }
        transaction.commit().await.map_err(pg_error)?;
        Ok(true)
    }
}

/// Refuses ([`StoreError::Fenced`]) unless the stored epoch of the fence's lease is the
/// fence's. The row is read `FOR SHARE`, so a new holder's move of the epoch (an `UPDATE` of
/// that row) waits for this transaction, or this read waits for it and sees the new epoch:
/// either the write lands before the lease changed hands, or it is refused.
async fn check_fence(
    transaction: &deadpool_postgres::Transaction<'_>,
    fence: &Fence,
) -> Result<(), StoreError> {
    let statement = transaction
        .prepare_cached(
            "SELECT value FROM keyspace_entries WHERE space = $1 AND key = $2 FOR SHARE",
        )
        .await
        .map_err(pg_error)?;
    let stored = transaction
        .query_opt(&statement, &[&EPOCH_SPACE, &fence.lease.as_bytes()])
        .await
        .map_err(pg_error)?
        .and_then(|row| <[u8; 8]>::try_from(row.get::<_, &[u8]>(0)).ok())
        .map(u64::from_be_bytes);
    if stored == Some(fence.epoch) {
        Ok(())
    } else {
        Err(StoreError::Fenced {
            lease: fence.lease.clone(),
        })
    }
}

/// The first key after every key that starts with `prefix`, or `None` when no such key exists
/// (an empty prefix, or one of only `0xff` bytes).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A limit as PostgreSQL's `bigint`.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl KeyspaceBackend for PostgresKeyspace {
    async fn get(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>, StoreError> {
        let client = pooled(&self.pool).await?;
        let statement = client
            .prepare_cached("SELECT value FROM keyspace_entries WHERE space = $1 AND key = $2")
            .await
            .map_err(pg_error)?;
        let row = client
            .query_opt(&statement, &[&self.space, &key])
            .await
            .map_err(pg_error)?;
        Ok(row.map(|row| row.get(0)))
    }

    async fn get_many(&self, keys: Vec<Vec<u8>>) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let client = pooled(&self.pool).await?;
        let statement = client
            .prepare_cached(
                "SELECT key, value FROM keyspace_entries WHERE space = $1 AND key = ANY($2)",
            )
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(&statement, &[&self.space, &keys])
            .await
            .map_err(pg_error)?;
        let found: std::collections::HashMap<Vec<u8>, Vec<u8>> = rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    async fn scan(
        &self,
        prefix: Vec<u8>,
        after: Option<Vec<u8>>,
        limit: Option<usize>,
    ) -> Result<Vec<Entry>, StoreError> {
        let end = prefix_end(&prefix);
        let limit = limit.map(sql_limit);
        let mut sql =
            String::from("SELECT key, value FROM keyspace_entries WHERE space = $1 AND key >= $2");
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&self.space, &prefix];
        if let Some(end) = &end {
            params.push(end);
            sql.push_str(&format!(" AND key < ${}", params.len()));
        }
        if let Some(after) = &after {
            params.push(after);
            sql.push_str(&format!(" AND key > ${}", params.len()));
        }
        sql.push_str(" ORDER BY key");
        if let Some(limit) = &limit {
            params.push(limit);
            sql.push_str(&format!(" LIMIT ${}", params.len()));
        }
        let client = pooled(&self.pool).await?;
        let statement = client.prepare_cached(&sql).await.map_err(pg_error)?;
        let rows = client.query(&statement, &params).await.map_err(pg_error)?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    async fn last(&self, prefix: Vec<u8>) -> Result<Option<Entry>, StoreError> {
        let end = prefix_end(&prefix);
        let client = pooled(&self.pool).await?;
        let row = match &end {
            Some(end) => {
                let statement = client
                    .prepare_cached(
                        "SELECT key, value FROM keyspace_entries WHERE space = $1 AND key >= $2 \
                         AND key < $3 ORDER BY key DESC LIMIT 1",
                    )
                    .await
                    .map_err(pg_error)?;
                client
                    .query_opt(&statement, &[&self.space, &prefix, end])
                    .await
            }
            None => {
                let statement = client
                    .prepare_cached(
                        "SELECT key, value FROM keyspace_entries WHERE space = $1 AND key >= $2 \
                         ORDER BY key DESC LIMIT 1",
                    )
                    .await
                    .map_err(pg_error)?;
                client.query_opt(&statement, &[&self.space, &prefix]).await
            }
        }
        .map_err(pg_error)?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
    }

    async fn apply(
        &self,
        changes: Vec<KeyspaceChange>,
        durable: bool,
        fence: Option<Fence>,
    ) -> Result<(), StoreError> {
        self.write(None, changes, durable, fence).await.map(|_| ())
    }

    async fn apply_guarded(
        &self,
        guard: Vec<u8>,
        at_most: u64,
        changes: Vec<KeyspaceChange>,
        durable: bool,
        fence: Option<Fence>,
    ) -> Result<bool, StoreError> {
        self.write(Some((guard, at_most)), changes, durable, fence)
            .await
    }

    async fn insert_new(
        &self,
        key: Vec<u8>,
        value: Vec<u8>,
        fence: Option<Fence>,
    ) -> Result<bool, StoreError> {
        let mut client = pooled(&self.pool).await?;
        let transaction = client.transaction().await.map_err(pg_error)?;
        if let Some(fence) = &fence {
            check_fence(&transaction, fence).await?;
        }
        let statement = transaction
            .prepare_cached(
                "INSERT INTO keyspace_entries (space, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (space, key) DO NOTHING",
            )
            .await
            .map_err(pg_error)?;
        let inserted = transaction
            .execute(&statement, &[&self.space, &key, &value])
            .await
            .map_err(pg_error)?;
        transaction.commit().await.map_err(pg_error)?;
        Ok(inserted == 1)
    }

    async fn remove_prefix(
        &self,
        prefix: Vec<u8>,
        fence: Option<Fence>,
    ) -> Result<u64, StoreError> {
        let mut client = pooled(&self.pool).await?;
        let transaction = client.transaction().await.map_err(pg_error)?;
        if let Some(fence) = &fence {
            check_fence(&transaction, fence).await?;
        }
        // Keys that start with the prefix: from the prefix up to (not including) the prefix
        // with its last byte that is not 0xff increased; unbounded when all of it is 0xff.
        let mut upper = prefix.clone();
        while upper.last() == Some(&0xff) {
            upper.pop();
        }
        let upper = upper.last_mut().map(|last| *last += 1).map(|()| upper);
        let statement = transaction
            .prepare_cached(
                "WITH removed AS (DELETE FROM keyspace_entries WHERE space = $1 AND key >= $2 \
                 AND ($3::bytea IS NULL OR key < $3) RETURNING octet_length(value) AS bytes) \
                 SELECT coalesce(sum(bytes), 0)::int8 FROM removed",
            )
            .await
            .map_err(pg_error)?;
        let row = transaction
            .query_one(&statement, &[&self.space, &prefix, &upper])
            .await
            .map_err(pg_error)?;
        transaction.commit().await.map_err(pg_error)?;
        let removed: i64 = row.get(0);
        Ok(u64::try_from(removed).unwrap_or(0))
    }

    async fn clear(&self, fence: Option<Fence>) -> Result<(), StoreError> {
        let mut client = pooled(&self.pool).await?;
        let transaction = client.transaction().await.map_err(pg_error)?;
        transaction
            .batch_execute("SET LOCAL synchronous_commit TO off")
            .await
            .map_err(pg_error)?;
        if let Some(fence) = &fence {
            check_fence(&transaction, fence).await?;
        }
        transaction
            .execute(
                "DELETE FROM keyspace_entries WHERE space = $1",
                &[&self.space],
            )
            .await
            .map_err(pg_error)?;
        transaction.commit().await.map_err(pg_error)
    }

    async fn increment(&self, key: Vec<u8>, fence: Option<Fence>) -> Result<u64, StoreError> {
        let mut client = pooled(&self.pool).await?;
        // Counters are big-endian u64s, as in sled: `int8send` writes that form, and the
        // bit-string cast reads it back. A value that is not 8 bytes counts as 0, as in sled.
        let statement = client
            .prepare_cached(
                "INSERT INTO keyspace_entries AS entry (space, key, value) \
                 VALUES ($1, $2, int8send(1::bigint)) \
                 ON CONFLICT (space, key) DO UPDATE SET value = int8send( \
                     CASE WHEN length(entry.value) = 8 \
                          THEN ('x' || encode(entry.value, 'hex'))::bit(64)::bigint + 1 \
                          ELSE 1 END) \
                 RETURNING value",
            )
            .await
            .map_err(pg_error)?;
        let row = match &fence {
            None => client
                .query_one(&statement, &[&self.space, &key])
                .await
                .map_err(pg_error)?,
            Some(fence) => {
                let transaction = client.transaction().await.map_err(pg_error)?;
                check_fence(&transaction, fence).await?;
                let row = transaction
                    .query_one(&statement, &[&self.space, &key])
                    .await
                    .map_err(pg_error)?;
                transaction.commit().await.map_err(pg_error)?;
                row
            }
        };
        let bytes: Vec<u8> = row.get(0);
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| StoreError::Storage("a counter is not 8 bytes".into()))?;
        Ok(u64::from_be_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
