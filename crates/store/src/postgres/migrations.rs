//! The PostgreSQL schema, versioned: embedded SQL migrations applied in order at start.
//!
//! Each migration is a file `crates/store/migrations/NNNN_name.sql`, embedded in the binary.
//! At start every migration not yet recorded in `schema_migrations(version, name, applied_at)`
//! runs in its own transaction together with the row that records it, so a migration is
//! applied entirely or not at all. Every transaction first takes a transaction-scoped advisory
//! lock, so several instances starting together on one database apply each migration once. A
//! database that records a version this build does not know (a newer caseledger migrated it)
//! is refused rather than guessed at. This module owns the schema's history, not its use.

use tokio_postgres::Client;

use super::pool::{describe, pg_error};
use crate::types::StoreError;

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub(super) struct Migration {
    pub(super) version: i64,
    pub(super) name: &'static str,
    pub(super) sql: &'static str,
}

/// Every migration, in order. Append only; an applied migration is never edited.
pub(super) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "event_log",
    sql: include_str!("../../migrations/0001_event_log.sql"),
}];

/// The key of the advisory lock that serialises migrations ("caseledger" in ASCII, folded).
const MIGRATION_LOCK: i64 = 0x6361_7365_6c65_6467;

/// Applies every pending migration and returns the schema version the database is now at.
pub(super) async fn migrate(client: &mut Client) -> Result<i64, StoreError> {
    let newest_known = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
    let mut current = 0;
    for migration in MIGRATIONS {
        let transaction = client.transaction().await.map_err(pg_error)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg_error)?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version bigint PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(pg_error)?;
        let newest_applied: i64 = transaction
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(pg_error)?
            .get(0);
        if newest_applied > newest_known {
            return Err(StoreError::Storage(format!(
                "the database's schema is at version {newest_applied}, newer than this build of \
                 caseledger knows (version {newest_known}); run a caseledger at least as new as \
                 the one that migrated it"
            )));
        }
        let applied = transaction
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[&migration.version],
            )
            .await
            .map_err(pg_error)?
            .is_some();
        if !applied {
            transaction
                .batch_execute(migration.sql)
                .await
                .map_err(|error| {
                    StoreError::Storage(format!(
                        "migration {:04}_{} failed: {}",
                        migration.version,
                        migration.name,
                        describe(&error)
                    ))
                })?;
            transaction
                .execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    &[&migration.version, &migration.name],
                )
                .await
                .map_err(pg_error)?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "applied a schema migration"
            );
        }
        transaction.commit().await.map_err(pg_error)?;
        current = migration.version;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1);
            assert!(!migration.sql.trim().is_empty());
        }
    }
}
