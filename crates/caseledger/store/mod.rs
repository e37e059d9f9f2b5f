//! The whole-store commands: `caseledger store copy` ([`copy`]), `caseledger backup`
//! ([`backup`]) and `caseledger restore` ([`restore`]), which move the store crate's snapshot
//! records between a data dir, a PostgreSQL database and a backup directory.
//!
//! Each command has its file; what they share — opening a [`Location`], verifying a written
//! target, the summary lines — is in `opened`. Progress goes to stderr (`progress.rs`),
//! the summaries to stdout.

pub mod backup;
pub mod copy;
pub mod location;
mod opened;
pub mod restore;

pub use location::Location;
