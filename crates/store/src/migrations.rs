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

use crate::types::StoreError;

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, in order. Append only; an applied migration is never edited.
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "event_log",
    sql: include_str!("../migrations/0001_event_log.sql"),
}];

/// The key of the advisory lock that serialises migrations ("caseledger" in ASCII, folded).
const MIGRATION_LOCK: i64 = 0x6361_7365_6c65_6467;

/// Applies every pending migration and returns the schema version the database is now at.
pub(crate) async fn migrate(client: &mut Client) -> Result<i64, StoreError> {
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

/// A PostgreSQL error as a fail-stop store error, with the server's message when there is one:
/// [`StoreError::Unavailable`] when the database could not be reached or is restarting
/// ([`is_unavailable`]), [`StoreError::Storage`] otherwise.
pub(crate) fn pg_error(error: tokio_postgres::Error) -> StoreError {
    let text = format!("PostgreSQL: {}", describe(&error));
    if is_unavailable(&error) {
        StoreError::Unavailable(text)
    } else {
        StoreError::Storage(text)
    }
}

/// Whether a PostgreSQL error says the database cannot be reached now rather than that the
/// statement was wrong: a closed connection, an I/O error or timeout on the way, a failed
/// connect or TLS handshake, or one of the server's SQLSTATEs for that — class 08 (connection
/// exceptions), 57P01/57P02/57P03 (the server is shutting down, crashed, or starting up),
/// 57P05 (an idle session was ended), class 53 (out of disk, memory or connections) and class
/// 58 (the server's own I/O failed).
pub(crate) fn is_unavailable(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    if let Some(code) = error.code() {
        let code = code.code();
        return code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("58")
            || matches!(code, "57P01" | "57P02" | "57P03" | "57P05");
    }
    // No SQLSTATE: the server never answered this statement. An I/O error anywhere in the
    // chain, or tokio-postgres's own words for a connect, handshake or timeout failure.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    let text = error.to_string();
    [
        "error connecting to server",
        "error communicating with the server",
        "error performing TLS handshake",
        "timeout waiting for server",
        "connection closed",
    ]
    .iter()
    .any(|phrase| text.starts_with(phrase))
}

/// The most useful text of a PostgreSQL error: the server's message and detail when the
/// server answered, the client's reason and its causes otherwise (a TLS handshake's failure
/// says why only in its source: an unknown issuer, a name mismatch).
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => with_causes(error),
    }
}

/// An error and its chain of sources, `: `-separated.
pub(crate) fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
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
