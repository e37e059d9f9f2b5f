//! The caseledger service as a Rust API, below HTTP: load → decide → append, the queries, the
//! roles, tokens and personal-data sealing.
//!
//! Central types: [`App`] (the service), [`Caller`] (an authenticated token), [`StoredEvent`]
//! (what the log holds for a case event: the domain event plus id, case, time and actor) and
//! [`AppError`]. This crate knows nothing of HTTP shapes; the API crate maps its results to
//! requests and responses.

pub mod audit;
pub mod backup;
mod case_cache;
pub mod clock;
pub mod erasure;
pub mod error;
mod history;
pub mod personal_data;
mod service;
pub mod storage;
pub mod tokens;
pub mod webhooks;
pub mod workers;

pub use audit::Verification;
pub use caseledger_domain::{ActorRecord, ActorRole, StoredEvent};
pub use caseledger_projections::{
    search_text_problem, CaseFilter, Cursor, Page, Period, Stats, MAX_SEARCH_TERMS,
    MAX_SEARCH_TERM_CHARS,
};
pub use caseledger_store::Recorded;
pub use clock::{Clock, SystemClock};
pub use error::AppError;
pub use history::{HistoryAccess, HistoryPage, ReplayCursor, HISTORY_PAGE};
pub use service::{
    App, AppOptions, CaseView, ChainPoint, CommandOutcome, ComplainantView, Idempotency, OpenCase,
    TimeTravel, DEFAULT_IDEMPOTENCY_TTL, DEFAULT_SEARCH_BUDGET, MIN_IDEMPOTENCY_TTL,
};
pub use storage::Storage;
pub use tokens::{Caller, IssuedToken, TokenRecord};
pub use workers::{spawn_workers, Workers, IDEMPOTENCY_SWEEP_EVERY};
