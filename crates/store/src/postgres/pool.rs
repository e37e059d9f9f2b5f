//! Connections to PostgreSQL: the `deadpool-postgres` pool the log and keyspaces share, the
//! connection settings parsed from the URL (TLS as `sslmode` asks: `tls`), the health check
//! behind readiness, and what a failed connection or statement means for the caller
//! ([`pg_error`]: unavailable — try again later — or a storage failure).
//!
//! Dedicated connections outside the pool — the log's `LISTEN` and a lease's session — take
//! their settings from [`parse_config`] too.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::log::AVAILABILITY_CHECK_TIMEOUT;
use crate::types::StoreError;

/// The pool of connections to the database of `config`, at most `max_connections` (and at
/// least 2) of them.
pub(super) fn build_pool(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    max_connections: usize,
) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config.clone(),
        tls.clone(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_connections.max(2))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(30)))
        .create_timeout(Some(Duration::from_secs(15)))
        .build()
        .map_err(|error| StoreError::Storage(format!("cannot build the pool: {error}")))
}

/// A pooled connection, or [`StoreError::Unavailable`] saying why there is none (the database
/// refused or did not answer a new connection, or every connection stayed busy for the pool's
/// wait timeout).
pub(super) async fn pooled(pool: &Pool) -> Result<Object, StoreError> {
    pool.get().await.map_err(|error| {
        StoreError::Unavailable(format!(
            "no PostgreSQL connection available: {}",
            with_causes(&error)
        ))
    })
}

/// Parses a `postgres://` URL (or key=value string) without ever echoing it, since it may hold
/// a password; with the TLS connector its `sslmode` and `sslrootcert` ask for.
pub(super) fn parse_config(
    url: &str,
) -> Result<(tokio_postgres::Config, MakeRustlsConnect), StoreError> {
    let (mut config, tls) = super::tls::parse(url)?;
    if config.get_application_name().is_none() {
        config.application_name("caseledger");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    Ok((config, tls))
}

/// Whether the database answers a round trip within [`AVAILABILITY_CHECK_TIMEOUT`]:
/// [`StoreError::Unavailable`] otherwise, whatever the failure.
pub(super) async fn check_reachable(pool: &Pool) -> Result<(), StoreError> {
    let round_trip = async {
        let client = pooled(pool).await?;
        client.simple_query("SELECT 1").await.map_err(pg_error)?;
        Ok(())
    };
    match tokio::time::timeout(AVAILABILITY_CHECK_TIMEOUT, round_trip).await {
        Ok(checked) => checked.map_err(|error: StoreError| {
            if error.is_unavailable() {
                error
            } else {
                StoreError::Unavailable(error.to_string())
            }
        }),
        Err(_) => Err(StoreError::Unavailable(format!(
            "PostgreSQL did not answer within {:?}",
            AVAILABILITY_CHECK_TIMEOUT
        ))),
    }
}

/// A count or position as PostgreSQL's `bigint`.
pub(super) fn to_sql_int(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Storage(format!("{value} does not fit PostgreSQL's bigint")))
}

/// A `bigint` of the log's tables as a count or position; a negative one is a storage failure.
pub(super) fn from_sql_int(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::Storage(format!("a negative number ({value}) in the log tables")))
}

/// A PostgreSQL error as a fail-stop store error, with the server's message when there is one:
/// [`StoreError::Unavailable`] when the database could not be reached or is restarting
/// ([`is_unavailable`]), [`StoreError::Storage`] otherwise.
pub(super) fn pg_error(error: tokio_postgres::Error) -> StoreError {
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
pub(super) fn is_unavailable(error: &tokio_postgres::Error) -> bool {
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
pub(super) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => with_causes(error),
    }
}

/// An error and its chain of sources, `: `-separated.
pub(super) fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
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
