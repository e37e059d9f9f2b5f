//! The PostgreSQL side of a [`Lease`]: a session advisory lock (`pg_try_advisory_lock`) held on
//! a connection of its own, outside the pool, whose epoch moves on each time it is taken.
//!
//! The session is bounded on both ends so that it cannot outlive a holder that fell silent:
//! `idle_session_timeout`, TCP keepalives and a TCP user timeout on the server's side, and
//! keepalives and a TCP user timeout on the client's. What a lease means and the timings its
//! users rely on are [`crate::lease`]'s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::pool::{describe, pg_error};
use crate::lease::{Lease, EPOCH_SPACE, LEASE_CHECK_TIMEOUT, LEASE_IDLE_TIMEOUT, LEASE_RETRY};
use crate::types::StoreError;

/// TCP keepalive idle time and interval, and the TCP user timeout, of the lease's connection
/// on both ends: a dead peer is noticed within seconds.
const LEASE_KEEPALIVE_IDLE: Duration = Duration::from_secs(2);
const LEASE_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
const LEASE_KEEPALIVE_RETRIES: u32 = 3;
const LEASE_TCP_USER_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts trying to hold the advisory-lock lease `name` on the database of `config`.
pub(super) fn postgres_lease(
    name: &str,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
) -> Lease {
    let (sender, held) = watch::channel(false);
    let epoch = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(keep_postgres_lease(
        name.to_owned(),
        lease_connection_config(config),
        tls,
        sender,
        Arc::clone(&epoch),
    ));
    Lease::kept_by(name, held, epoch, task)
}

/// The lease connection's settings: TCP keepalives and a TCP user timeout on the client's
/// side, so that the holder notices a dead network within seconds too.
fn lease_connection_config(mut config: tokio_postgres::Config) -> tokio_postgres::Config {
    config
        .keepalives(true)
        .keepalives_idle(LEASE_KEEPALIVE_IDLE)
        .keepalives_interval(LEASE_KEEPALIVE_INTERVAL)
        .keepalives_retries(LEASE_KEEPALIVE_RETRIES)
        .tcp_user_timeout(LEASE_TCP_USER_TIMEOUT)
        .connect_timeout(LEASE_CHECK_TIMEOUT);
    config
}

/// The server's side of the same: the session ends when the holder falls silent
/// (`idle_session_timeout`, PostgreSQL 14 and later), and the server's TCP keepalives and user
/// timeout notice a dead network. A setting the server does not know (an older PostgreSQL) is
/// skipped with a warning; the others still apply.
async fn bound_the_session(client: &tokio_postgres::Client, name: &str) {
    let idle = LEASE_IDLE_TIMEOUT.as_millis();
    let user_timeout = LEASE_TCP_USER_TIMEOUT.as_millis();
    for setting in [
        format!("SET idle_session_timeout = {idle}"),
        format!(
            "SET tcp_keepalives_idle = {}",
            LEASE_KEEPALIVE_IDLE.as_secs()
        ),
        format!(
            "SET tcp_keepalives_interval = {}",
            LEASE_KEEPALIVE_INTERVAL.as_secs()
        ),
        format!("SET tcp_keepalives_count = {LEASE_KEEPALIVE_RETRIES}"),
        format!("SET tcp_user_timeout = {user_timeout}"),
    ] {
        if let Err(error) = client.batch_execute(&setting).await {
            tracing::warn!(
                lease = %name,
                setting = %setting,
                error = %describe(&error),
                "the database refused a setting of the lease's session"
            );
        }
    }
}

/// Tries, holds, checks and re-tries the lease until the last handle is dropped.
async fn keep_postgres_lease(
    name: String,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    held: watch::Sender<bool>,
    epoch: Arc<AtomicU64>,
) {
    let key = format!("caseledger/lease/{name}");
    loop {
        match hold_once(&key, &config, &tls, &held, &name, &epoch).await {
            Ok(()) => {}
            Err(error) => tracing::warn!(lease = %name, %error, "the lease's connection failed"),
        }
        epoch.store(0, Ordering::SeqCst);
        if held.send_replace(false) {
            tracing::warn!(lease = %name, "gave up the lease");
        }
        if held.is_closed() {
            return;
        }
        tokio::time::sleep(LEASE_RETRY).await;
    }
}

/// One connection's life: try the lock until it is ours, then check the connection until it
/// fails. Returns when the connection is no longer trustworthy.
async fn hold_once(
    key: &str,
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    held: &watch::Sender<bool>,
    name: &str,
    epoch: &AtomicU64,
) -> Result<(), StoreError> {
    let connect = tokio::time::timeout(LEASE_CHECK_TIMEOUT, config.connect(tls.clone()));
    let (client, connection) = connect
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!(
                "the lease's connection took longer than {LEASE_CHECK_TIMEOUT:?}"
            ))
        })?
        .map_err(pg_error)?;
    let connection = tokio::spawn(connection);
    let outcome = async {
        bound_the_session(&client, name).await;
        let try_lock = client
            .prepare("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .await
            .map_err(pg_error)?;
        // Taking the lease moves its epoch on (on this same connection, while the lock is
        // held), so every write fenced by an older holding is refused from here on.
        let next_epoch = client
            .prepare(&format!(
                "INSERT INTO keyspace_entries AS entry (space, key, value) \
                 VALUES ('{EPOCH_SPACE}', $1, int8send(1::bigint)) \
                 ON CONFLICT (space, key) DO UPDATE SET value = int8send( \
                     CASE WHEN length(entry.value) = 8 \
                          THEN ('x' || encode(entry.value, 'hex'))::bit(64)::bigint + 1 \
                          ELSE 1 END) \
                 RETURNING value"
            ))
            .await
            .map_err(pg_error)?;
        loop {
            let checked = tokio::time::timeout(LEASE_CHECK_TIMEOUT, async {
                if *held.borrow() {
                    client.simple_query("SELECT 1").await.map(|_| true)
                } else {
                    client
                        .query_one(&try_lock, &[&key])
                        .await
                        .map(|row| row.get::<_, bool>(0))
                }
            })
            .await;
            match checked {
                Ok(Ok(true)) => {
                    if !*held.borrow() {
                        let taken = tokio::time::timeout(
                            LEASE_CHECK_TIMEOUT,
                            client.query_one(&next_epoch, &[&name.as_bytes()]),
                        )
                        .await
                        .map_err(|_| {
                            StoreError::Unavailable("moving the lease's epoch timed out".into())
                        })?
                        .map_err(pg_error)?;
                        let bytes: Vec<u8> = taken.get(0);
                        let taken_at = <[u8; 8]>::try_from(bytes.as_slice())
                            .map(u64::from_be_bytes)
                            .map_err(|_| {
                                StoreError::Storage("a lease epoch is not 8 bytes".into())
                            })?;
                        epoch.store(taken_at, Ordering::SeqCst);
                        held.send_replace(true);
                        tracing::info!(lease = %name, epoch = taken_at, "took the lease");
                    }
                }
                Ok(Ok(false)) => {}
                Ok(Err(error)) => return Err(pg_error(error)),
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "the lease check took longer than {LEASE_CHECK_TIMEOUT:?}"
                    )))
                }
            }
            if held.is_closed() {
                return Ok(());
            }
            tokio::time::sleep(LEASE_RETRY).await;
        }
    }
    .await;
    // Dropping the client closes the connection, and the database releases the lock.
    drop(client);
    connection.abort();
    outcome
}
