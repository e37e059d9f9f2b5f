//! Leases: which process, among every process on one store, does a piece of work that must
//! run in exactly one place at a time (webhook delivery, checkpoint signing).
//!
//! A [`Lease`] is held or not, and says so through a watch channel. On sled it is always held:
//! sled locks its directory, so one process is all there is. On PostgreSQL it is a session
//! advisory lock (`pg_try_advisory_lock`) on a dedicated connection: the database releases it
//! the moment that connection ends — the process exits or is killed, or the connection breaks
//! — and another instance, retrying every [`LEASE_RETRY`], takes it over. The holder checks its
//! connection every [`LEASE_RETRY`] and gives the lease up when a check fails or takes longer
//! than [`LEASE_CHECK_TIMEOUT`]. Two holders at once are possible only in the window in which
//! a holder that lost its connection has not yet noticed: work run under a lease must
//! tolerate that (webhook delivery is at-least-once; checkpoints are idempotent per position).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::migrations::pg_error;

/// How often a PostgreSQL lease is tried while another instance holds it, and how often its
/// holder checks the connection.
pub const LEASE_RETRY: Duration = Duration::from_secs(1);

/// How long the holder's connection check may take before the lease is given up.
pub const LEASE_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// A named lease; see the module documentation. Cloning shares it.
#[derive(Clone)]
pub struct Lease {
    name: Arc<str>,
    held: watch::Receiver<bool>,
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
            _keeper: None,
        }
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
        let task = tokio::spawn(keep_postgres_lease(name.to_owned(), config, tls, sender));
        Lease {
            name: name.into(),
            held,
            _keeper: Some(Arc::new(Keeper(task))),
        }
    }
}

/// Tries, holds, checks and re-tries the lease until the last handle is dropped.
async fn keep_postgres_lease(
    name: String,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    held: watch::Sender<bool>,
) {
    let key = format!("caseledger/lease/{name}");
    loop {
        match hold_once(&key, &config, &tls, &held, &name).await {
            Ok(()) => {}
            Err(error) => tracing::warn!(lease = %name, %error, "the lease's connection failed"),
        }
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
) -> Result<(), crate::StoreError> {
    let (client, connection) = config.connect(tls.clone()).await.map_err(pg_error)?;
    let connection = tokio::spawn(connection);
    let outcome = async {
        let try_lock = client
            .prepare("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
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
                    if !held.send_replace(true) {
                        tracing::info!(lease = %name, "took the lease");
                    }
                }
                Ok(Ok(false)) => {}
                Ok(Err(error)) => return Err(pg_error(error)),
                Err(_) => {
                    return Err(crate::StoreError::Storage(format!(
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
