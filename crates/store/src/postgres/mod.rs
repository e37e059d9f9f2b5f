//! The shared backend, in PostgreSQL: any number of service instances on one database.
//!
//! - `log`: [`PostgresLog`], the event log's tables, its writer task (group commit under the
//!   `log_head` row lock) and the head follower (`LISTEN` plus polling);
//! - `keyspace`: keyspaces as rows of `keyspace_entries`;
//! - `pool`: the connection pool, the health check, and what a PostgreSQL error means;
//! - `lease`: a lease as a session advisory lock on a connection of its own;
//! - `tls`: libpq's `sslmode` and `sslrootcert` over rustls;
//! - `migrations`: the schema, versioned;
//! - `snapshot`: the PostgreSQL side of whole-store copies ([`crate::snapshot`]).
//!
//! Only the log's handle and options, its notification channel and the URL check leave this
//! folder; everything else stays inside the crate.

mod keyspace;
mod lease;
mod log;
mod migrations;
mod pool;
mod snapshot;
mod tls;

pub use self::log::{PostgresLog, PostgresLogOptions, NOTIFY_CHANNEL};
pub use self::tls::postgres_sslmode_warning;
