//! Read models of caseledger, built from the event log and disposable.
//!
//! Central types: [`CaseProjection`] (every case's current state, in a keyspace with its
//! checkpoint so a restart does not replay the log, and what queries need of it in memory,
//! bounded), [`CaseFilter`] and
//! [`Page`] (lists and search), [`Stats`] (the figures unions report upward) and
//! [`Outcome`] (what one step of the catch-up worker did).
//!
//! A projection reads the log from its checkpoint and applies events in position order; it
//! stores the changed views and the new checkpoint in one atomic write. Reset the checkpoint
//! and it rebuilds. It knows nothing of HTTP or webhooks.
#![warn(missing_docs)]

mod cases;
mod details;
mod query;
mod summary;

pub use cases::{
    CaseProjection, Outcome, ProjectionError, DEFAULT_RECENT_CASES_BYTES, PERSIST_INTERVAL,
    PROJECTION_VERSION,
};
pub use query::{
    search_text_problem, CaseFilter, Cursor, Page, Period, Stats, MAX_SEARCH_TERMS,
    MAX_SEARCH_TERM_CHARS, SCAN_SLICE,
};
