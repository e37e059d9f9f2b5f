//! The caseledger service as a Rust API, below HTTP: load → decide → append, the queries, the
//! roles, tokens and personal-data sealing.
//!
//! Central types: [`App`] (the service, built with [`AppSetup`]), [`Caller`] (an authenticated
//! token), [`StoredEvent`] (what the log holds for a case event: the domain event plus id, case,
//! time and actor) and [`AppError`]. This crate knows nothing of HTTP shapes; the API crate maps its results to
//! requests and responses.

mod access;
pub mod accounts;
mod app;
pub mod attachments;
pub mod audit;
pub mod audit_browse;
pub mod backup;
pub mod calendar;
mod case_cache;
mod commands;
pub mod erasure;
pub mod error;
mod history;
pub mod letter_documents;
pub mod letter_numbers;
mod links;
pub mod personal_data;
pub mod proofs;
mod reads;
pub mod storage;
pub mod tokens;
pub mod verification_run;
mod webhook_parts;
pub mod webhooks;
mod work_queue;
pub mod workers;

pub use accounts::{
    form_token, form_token_matches, NewSession, NewUser, SessionCaller, SessionLimits, UserStatus,
    UserView, UserWithSetup,
};
pub use app::{
    App, AppOptions, AppSetup, DEFAULT_IDEMPOTENCY_TTL, DEFAULT_SEARCH_BUDGET, MIN_IDEMPOTENCY_TTL,
};
pub use attachments::kinds::AttachmentLimits;
pub use attachments::{AddedAttachment, AttachmentFile, AttachmentView, NewAttachment};
pub use audit::Verification;
pub use audit_browse::{CheckedCheckpoint, EventFilter, LogPage, LogWindow};
pub use caseledger_domain::{ActorRecord, ActorRole, Clock, StoredEvent, SystemClock};
pub use caseledger_projections::{
    search_text_problem, CaseFilter, Cursor, Page, Period, Stats, MAX_SEARCH_TERMS,
    MAX_SEARCH_TERM_CHARS,
};
pub use caseledger_store::Recorded;
pub use commands::{request_fingerprint, CommandOutcome, Idempotency, OpenCase};
pub use error::{AppError, UploadRefusal};
pub use history::{HistoryAccess, HistoryPage, ReplayCursor, HISTORY_PAGE};
pub use letter_documents::{LetterPdf, LetterPrinting, Letterhead};
pub use links::{is_plain_host, public_base};
pub use reads::{
    letter_document_readable, CaseView, ChainPoint, ComplainantView, StatsScope, TimeTravel,
    STATS_ROLES,
};
pub use storage::Storage;
pub use tokens::{Caller, CallerId, IssuedToken, TokenRecord};
pub use verification_run::{RunOutcome, VerificationRuns, VerificationStatus};
pub use work_queue::{QueuedCase, WORK_QUEUE_LIMIT};
pub use workers::{spawn_workers, Workers, IDEMPOTENCY_SWEEP_EVERY};
