//! The rights-protection case as a pure decider, with no I/O.
//!
//! Central types: [`Case`] (the state, rebuilt by [`Case::evolve`]), [`Command`] (what a caller
//! asks), [`CaseEvent`] (what happened: the stored format, forever) and [`decide()`], which turns a
//! command on a case into events or a [`Rejection`]. The national ID checks live in [`checks`],
//! the working-day calendar and the counting of deadlines on it in [`calendar`].
//!
//! This crate knows nothing of storage, HTTP or async runtimes, and never reads a clock: time,
//! ids, letter numbers and configuration ([`Policy`]) are arguments. The [`Clock`] trait the
//! services take lives here only because this is the lowest crate they all share.

#![warn(missing_docs)]

pub mod calendar;
pub mod case;
pub mod checks;
pub mod clock;
pub mod command;
pub mod decide;
pub mod envelope;
pub mod error;
pub mod event;
pub mod ids;
pub mod limits;
pub mod policy;
pub mod vocab;

pub use calendar::{
    Calendar, CalendarError, CalendarYear, DeadlineRule, LastDay, OfficeDays, PeriodOutOfRange,
    PeriodStart, PeriodUnit,
};
pub use case::{
    Attachment, AttachmentWithdrawal, Case, ComplainantRecord, DraftReturned, Escalation, Feedback,
    Finding, FollowUp, Letter, LetterAnswer, LetterDraft, LetterService, Note, Referral, Urgency,
    DUE_SOON,
};
pub use checks::{
    check_credit_code, check_resident_id, normalize_credit_code, CreditCodeError, ResidentIdError,
};
pub use clock::{Clock, SystemClock};
pub use command::{
    Actor, Command, ComplainantInput, Context, EmployerInput, FileName, SealedPersonalData,
};
pub use decide::{authorize, decide};
pub use envelope::{ActorRecord, ActorRole, StoredEvent};
pub use error::{FieldError, Rejection, Rule};
pub use event::{CaseEvent, Employer, ADDED_FIELDS, EVENT_TYPES, INTERNAL_EVENT_TYPES};
pub use ids::{AttachmentId, CaseId, LetterId};
pub use policy::{
    Department, DepartmentError, LetterApproval, NumberTemplate, Policy, PolicyError,
};
pub use vocab::{
    CaseStatus, Category, LetterKind, Outcome, Role, ServiceMethod, Source, Tier, UnknownValueError,
};
