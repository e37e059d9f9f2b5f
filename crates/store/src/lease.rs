//! Leases: which process, among every process on one store, does a piece of work that must
//! run in exactly one place at a time (webhook delivery, checkpoint signing).
//!
//! A [`Lease`] is held or not, and says so through a watch channel. On sled it is always held:
//! sled locks its directory, so one process is all there is. On PostgreSQL it is a session
//! advisory lock (`pg_try_advisory_lock`) on a dedicated connection: the database releases it
//! the moment that connection ends — the process exits or is killed, or the connection breaks
//! — and another instance, retrying every [`LEASE_RETRY`], takes it over. The holder checks its
//! connection every [`LEASE_RETRY`] and gives the lease up when a check fails or takes longer
//! than [`LEASE_CHECK_TIMEOUT`].
//!
//! **A lease cannot outlive its holder.** The session that holds the lock is ended by the
//! *server* once the holder falls silent: it runs with `idle_session_timeout` =
//! [`LEASE_IDLE_TIMEOUT`] (the holder's checks, every second, keep it alive; a holder that is
//! frozen, partitioned away or behind a stalled proxy sends none), with TCP keepalives and a
//! TCP user timeout on the server's side, and with keepalives and a TCP user timeout on the
//! client's side too. So a cut-off holder loses the lock within seconds, not after the hours
//! of the kernel's default TCP timeouts. The lease needs a session-mode connection: a
//! transaction-pooling PgBouncer would hand the advisory lock's session to someone else.
//!
//! **Fencing.** Every time an instance takes the lease it increments the lease's *epoch*, kept
//! in the database with it (keyspace `leases`), and holds that epoch while it holds the lease
//! ([`Lease::fence`]). Writes that only the holder may make go through a keyspace
//! [`fenced`](crate::Keyspace::fenced_by) by the lease: each checks, in its own transaction,
//! that the stored epoch is still its own, and is refused ([`StoreError::Fenced`]) otherwise —
//! so an old holder that has not yet noticed its loss cannot write over its successor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::migrations::pg_error;
use crate::StoreError;

/// How often a PostgreSQL lease is tried while another instance holds it, and how often its
/// holder checks the connection.
pub const LEASE_RETRY: Duration = Duration::from_secs(1);

/// How long the holder's connection check may take before the lease is given up.
pub const LEASE_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the server lets the lease's session sit idle before it ends it (and so releases
/// the lock): the holder checks every [`LEASE_RETRY`], so only a holder that fell silent meets
/// it.
pub const LEASE_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// TCP keepalive idle time and interval, and the TCP user timeout, of the lease's connection
/// on both ends: a dead peer is noticed within seconds.
const LEASE_KEEPALIVE_IDLE: Duration = Duration::from_secs(2);
const LEASE_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
const LEASE_KEEPALIVE_RETRIES: u32 = 3;
const LEASE_TCP_USER_TIMEOUT: Duration = Duration::from_secs(5);

/// The keyspace that holds every lease's epoch (a big-endian `u64` per lease name).
pub(crate) const EPOCH_SPACE: &str = "leases";

/// A lease as held at one epoch: what a fenced write carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease's name.
    pub lease: String,
    /// The epoch this process took the lease at.
    pub epoch: u64,
}

/// A named lease; see the module documentation. Cloning shares it.
#[derive(Clone)]
pub struct Lease {
    name: Arc<str>,
    held: watch::Receiver<bool>,
    /// The epoch of the current holding (0 while not held); set before `held` turns true.
    epoch: Arc<AtomicU64>,
    _keeper: Option<Arc<Keeper>>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("name", &self.name)
            .field("held", &*self.held.borrow())
            .finish()
    }
}

/// Ends the task that keeps a PostgreSQL lease when the last handle goes; dropping the task
/// drops its connection, which releases the lock.
struct Keeper(JoinHandle<()>);

impl Drop for Keeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Lease {
    /// A lease this process always holds (a store only one process can open).
    pub fn always_held(name: &str) -> Lease {
        let (sender, held) = watch::channel(true);
        // The receiver reports the last value after the sender is gone.
        drop(sender);
        Lease {
            name: name.into(),
            held,
            epoch: Arc::new(AtomicU64::new(1)),
            _keeper: None,
        }
    }

    /// The fence of the current holding — the lease's name and the epoch this process took it
    /// at — while this process holds the lease; `None` otherwise.
    pub fn fence(&self) -> Option<Fence> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        (self.is_held() && epoch > 0).then(|| Fence {
            lease: self.name.to_string(),
            epoch,
        })
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this process holds the lease now.
    pub fn is_held(&self) -> bool {
        *self.held.borrow()
    }

    /// A receiver that changes whenever the lease is taken or lost.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.held.clone()
    }

    /// Starts trying to hold the advisory-lock lease `name` on the database of `config`.
    pub(crate) fn postgres(
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
        Lease {
            name: name.into(),
            held,
            epoch,
            _keeper: Some(Arc::new(Keeper(task))),
        }
    }
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
                error = %crate::migrations::describe(&error),
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
