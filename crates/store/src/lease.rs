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
//! that the stored epoch is still its own, and is refused
//! ([`StoreError::Fenced`](crate::StoreError::Fenced)) otherwise — so an old holder that has
//! not yet noticed its loss cannot write over its successor.
//!
//! This module owns the lease as the rest of the crate and its users see it; the PostgreSQL
//! session that holds one is `postgres::lease`'s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often a PostgreSQL lease is tried while another instance holds it, and how often its
/// holder checks the connection.
pub const LEASE_RETRY: Duration = Duration::from_secs(1);

/// How long the holder's connection check may take before the lease is given up.
pub const LEASE_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the server lets the lease's session sit idle before it ends it (and so releases
/// the lock): the holder checks every [`LEASE_RETRY`], so only a holder that fell silent meets
/// it.
pub const LEASE_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

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

    /// A lease whose holding `task` keeps: it sets `epoch` before it turns `held` true, and is
    /// aborted when the last handle goes.
    pub(crate) fn kept_by(
        name: &str,
        held: watch::Receiver<bool>,
        epoch: Arc<AtomicU64>,
        task: JoinHandle<()>,
    ) -> Lease {
        Lease {
            name: name.into(),
            held,
            epoch,
            _keeper: Some(Arc::new(Keeper(task))),
        }
    }
}
