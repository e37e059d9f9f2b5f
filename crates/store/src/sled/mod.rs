//! The embedded backend, in sled 0.34: one process, one directory.
//!
//! - `log`: [`SledLog`], the event log's trees, its single writer and syncer, and opening the
//!   store (sled's file lock included);
//! - `durability`: flush and `fdatasync` per batch, the store's poison after a failed sync, the
//!   free-space reserve;
//! - `keyspace`: keyspaces as trees beside the log's;
//! - `files`: blob spaces as files in the store's directory;
//! - `snapshot`: the sled side of whole-store copies ([`crate::snapshot`]).
//!
//! Only the log's handle and options leave this folder; everything else stays inside the crate.

mod durability;
mod files;
mod keyspace;
mod log;
mod snapshot;

pub use self::log::{
    SledLog, SledLogOptions, DEFAULT_MIN_FREE_SPACE_BYTES, DEFAULT_SLED_CACHE_BYTES,
};
