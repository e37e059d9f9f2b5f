//! What happened to a case: [`CaseEvent`], the stored format of the event log, forever.
//!
//! This module owns the event shapes and their JSON form: `{"type": "<EventType>", "data":
//! {...}}`, with every optional field present (as `null` when absent) so each type has one
//! fixed shape, and no floats (the log is hashed over RFC 8785 canonical JSON). Golden files in
//! `tests/golden/` pin the format; change a shape only by adding a new event type — or, where
//! the contract names a field added to a type, by a field that is left out when absent, so that
//! every event recorded before it keeps its exact bytes ([`ADDED_FIELDS`]).
//!
//! It does not own the envelope (id, position, time, actor, hashes), which the store and the app
//! add, nor the effect of an event on a case (that is [`crate::case::Case::evolve`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{DeadlineRule, LastDay};
use crate::command::{FileName, SealedPersonalData};
use crate::ids::{AttachmentId, LetterId};
use crate::policy::Department;
use crate::vocab::{Category, LetterKind, Outcome, ServiceMethod, Source, Tier};

/// The employer of a case, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Employer {
    /// The employer's name.
    pub name: String,
    /// Its unified social credit code, normalised, if known.
    pub credit_code: Option<String>,
    /// True when the code failed its check and a supervisor or admin kept it anyway.
    pub credit_code_unverified: bool,
}

/// Every event type name, in declaration order.
pub const EVENT_TYPES: &[&str] = &[
    "CaseOpened",
    "OfficerAssigned",
    "FindingRecorded",
    "SupervisionLetterIssued",
    "LetterAnswered",
    "LetterDeadlineMissed",
    "EscalatedToJointMechanism",
    "ReferredToDepartment",
    "DepartmentFeedbackRecorded",
    "NoteAdded",
    "CaseClosed",
    "CaseReopened",
    "PersonalDataErased",
    "LetterServed",
    "FollowUpRecorded",
    "LetterDrafted",
    "LetterApproved",
    "LetterReturned",
    "AttachmentAdded",
    "AttachmentWithdrawn",
];

/// Fields added to an event type after events of it were recorded: left out of the JSON when
/// absent (never `null`), so the events recorded before keep their bytes and their hashes.
pub const ADDED_FIELDS: &[(&str, &[&str])] = &[
    (
        "SupervisionLetterIssued",
        &["deadline_rule", "last_day", "document_sha256"],
    ),
    ("LetterServed", &["receipt_attachment_id"]),
];

/// An event of a case's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CaseEvent {
    /// The case was opened.
    CaseOpened {
        /// Short title.
        title: String,
        /// What the case is about.
        category: Category,
        /// Full description.
        description: String,
        /// How the case reached the union.
        source: Source,
        /// The employer concerned.
        employer: Employer,
        /// Administrative region.
        region: Option<String>,
        /// Industry.
        industry: Option<String>,
        /// How many workers are affected.
        workers_affected: Option<u32>,
        /// The complainant's details, sealed.
        complainant: Option<SealedPersonalData>,
    },
    /// The case was assigned to an officer.
    OfficerAssigned {
        /// The new assignee.
        officer: String,
        /// The previous assignee, if any.
        previous: Option<String>,
    },
    /// A finding of the investigation was recorded.
    FindingRecorded {
        /// What was found.
        summary: String,
        /// The hazard involved, if any.
        hazard: Option<String>,
    },
    /// A supervision letter was issued.
    SupervisionLetterIssued {
        /// The letter's id.
        letter_id: LetterId,
        /// Its number, such as `MY-2026-0042`.
        number: String,
        /// Reminder, opinion or recommendation.
        kind: LetterKind,
        /// To whom it went.
        recipient: String,
        /// Its text.
        content: String,
        /// When the answer is due, if ever: the end of `last_day` in the office's time zone,
        /// or the explicit deadline given.
        deadline: Option<DateTime<Utc>>,
        /// The department a recommendation letter went to; the case is shared with it.
        department: Option<Department>,
        /// The rule of a deadline counted from service: the letter has no deadline until it is
        /// served ([`CaseEvent::LetterServed`] then records it). Added by contract §9.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline_rule: Option<DeadlineRule>,
        /// The last day of a deadline counted from issue, on which calendar. Added by §9.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_day: Option<LastDay>,
        /// The SHA-256 (lowercase hex) of the letter's PDF as issued. Added by §9.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document_sha256: Option<String>,
    },
    /// A letter was answered.
    LetterAnswered {
        /// Which letter.
        letter_id: LetterId,
        /// Whether the violation was corrected.
        rectified: bool,
        /// The answer's text.
        content: String,
    },
    /// An open letter's deadline passed unanswered.
    LetterDeadlineMissed {
        /// Which letter.
        letter_id: LetterId,
        /// The deadline that passed.
        deadline: DateTime<Utc>,
    },
    /// The case was escalated to a tier of the joint mechanism and shared with its departments.
    EscalatedToJointMechanism {
        /// The new tier.
        tier: Tier,
        /// The participating departments.
        departments: Vec<Department>,
        /// Why.
        reason: String,
        /// The tier before, if any.
        previous_tier: Option<Tier>,
    },
    /// The case was referred to a department and shared with it.
    ReferredToDepartment {
        /// The department.
        department: Department,
        /// Why.
        reason: String,
    },
    /// A partner department reported back.
    DepartmentFeedbackRecorded {
        /// The reporting department.
        department: Department,
        /// The feedback.
        content: String,
        /// The department's outcome, in its own words.
        outcome: Option<String>,
    },
    /// A note was added.
    NoteAdded {
        /// The note.
        text: String,
    },
    /// The case was closed.
    CaseClosed {
        /// How it ended.
        outcome: Outcome,
        /// Closing summary.
        summary: String,
    },
    /// The case was reopened.
    CaseReopened {
        /// Why.
        reason: String,
    },
    /// The complainant's personal data was erased (its key destroyed); the sealed form stays in
    /// the log and reads as erased.
    PersonalDataErased {},
    /// A letter was served (送达); a deadline counted from service starts.
    LetterServed {
        /// Which letter.
        letter_id: LetterId,
        /// How.
        method: ServiceMethod,
        /// When.
        served_at: DateTime<Utc>,
        /// Who received it, as the receipt says.
        received_by: Option<String>,
        /// Whether the recipient refused it (service still counts).
        refused: bool,
        /// The postal tracking number.
        tracking_number: Option<String>,
        /// The deadline this service started: the end of `last_day` in the office's zone.
        deadline: Option<DateTime<Utc>>,
        /// Its last day, on which calendar.
        last_day: Option<LastDay>,
        /// The attachment holding the receipt of service (送达回证), when one is attached.
        /// Added by §10.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt_attachment_id: Option<AttachmentId>,
    },
    /// A follow-up visit (回访) checked whether a letter's demands were met.
    FollowUpRecorded {
        /// Which letter.
        letter_id: LetterId,
        /// When the visit took place.
        visited_at: DateTime<Utc>,
        /// What the visit found.
        findings: String,
        /// Whether the violation was found corrected.
        rectified: bool,
    },
    /// An opinion or recommendation letter was drafted for a supervisor's sign-off
    /// (`letters.approval = "supervisor"`): no number, no document, no deadline yet.
    LetterDrafted {
        /// The letter's id, which it keeps once approved.
        letter_id: LetterId,
        /// Opinion or recommendation.
        kind: LetterKind,
        /// To whom it is to go.
        recipient: String,
        /// Its text.
        content: String,
        /// An explicit deadline asked for, if any (else the kind's rule applies on approval).
        deadline: Option<DateTime<Utc>>,
        /// The department a recommendation letter is to go to.
        department: Option<Department>,
    },
    /// A supervisor approved a drafted letter: it is issued now, with its number, deadline and
    /// document, as `SupervisionLetterIssued` would have issued it.
    LetterApproved {
        /// Which draft.
        letter_id: LetterId,
        /// Its number, taken on approval.
        number: String,
        /// Its kind (the draft's), so the event tells whom it concerns on its own.
        kind: LetterKind,
        /// The department a recommendation letter goes to (the draft's); the case is shared
        /// with it.
        department: Option<Department>,
        /// When the answer is due, if it is known on approval.
        deadline: Option<DateTime<Utc>>,
        /// The rule of a deadline counted from service.
        deadline_rule: Option<DeadlineRule>,
        /// The last day of a deadline counted from approval, on which calendar.
        last_day: Option<LastDay>,
        /// The SHA-256 (lowercase hex) of the letter's PDF as approved.
        document_sha256: Option<String>,
    },
    /// A supervisor sent a drafted letter back; it stays listed, returned, and is never issued.
    LetterReturned {
        /// Which draft.
        letter_id: LetterId,
        /// Why, for the officer who drafted it.
        reason: String,
    },
    /// A file was attached to the case as evidence; its bytes were stored, encrypted, before
    /// this event was recorded, and the SHA-256 here is what an auditor checks a copy against.
    AttachmentAdded {
        /// The attachment's id, which also names its stored bytes.
        attachment_id: AttachmentId,
        /// The file's name as uploaded (sealed when `personal`).
        filename: FileName,
        /// The media type detected from the bytes (never the uploader's claim).
        content_type: String,
        /// The size in bytes.
        size: u64,
        /// The SHA-256 of the bytes, lowercase hex.
        sha256: String,
        /// Whether the file holds personal data: sealed with the case's personal-data key, so
        /// erasure makes it unreadable; never shown to partners, nor its bytes to auditors.
        personal: bool,
        /// Whether partner departments the case is shared with may read it (when not
        /// `personal`).
        shared: bool,
    },
    /// An attachment was marked not relevant; it stays listed, withdrawn, and its bytes stay.
    AttachmentWithdrawn {
        /// Which attachment.
        attachment_id: AttachmentId,
        /// Why.
        reason: String,
        /// The attachment's `personal` flag, so the event tells on its own who may see it.
        personal: bool,
        /// The attachment's `shared` flag, likewise.
        shared: bool,
    },
}

/// Event types internal to the union: they never reach a partner department (their history,
/// case views and feeds leave them out).
pub const INTERNAL_EVENT_TYPES: &[&str] = &["NoteAdded", "LetterDrafted", "LetterReturned"];

impl CaseEvent {
    /// Whether this event stays inside the union: the types of [`INTERNAL_EVENT_TYPES`], and
    /// attachments' events unless the file is shared and not personal.
    pub fn is_internal(&self) -> bool {
        match self {
            Self::AttachmentAdded {
                personal, shared, ..
            }
            | Self::AttachmentWithdrawn {
                personal, shared, ..
            } => *personal || !*shared,
            _ => INTERNAL_EVENT_TYPES.contains(&self.event_type()),
        }
    }

    /// The event's type name, as in the `type` field of its JSON and in [`EVENT_TYPES`].
    pub const fn event_type(&self) -> &'static str {
        match self {
            Self::CaseOpened { .. } => "CaseOpened",
            Self::OfficerAssigned { .. } => "OfficerAssigned",
            Self::FindingRecorded { .. } => "FindingRecorded",
            Self::SupervisionLetterIssued { .. } => "SupervisionLetterIssued",
            Self::LetterAnswered { .. } => "LetterAnswered",
            Self::LetterDeadlineMissed { .. } => "LetterDeadlineMissed",
            Self::EscalatedToJointMechanism { .. } => "EscalatedToJointMechanism",
            Self::ReferredToDepartment { .. } => "ReferredToDepartment",
            Self::DepartmentFeedbackRecorded { .. } => "DepartmentFeedbackRecorded",
            Self::NoteAdded { .. } => "NoteAdded",
            Self::CaseClosed { .. } => "CaseClosed",
            Self::CaseReopened { .. } => "CaseReopened",
            Self::PersonalDataErased {} => "PersonalDataErased",
            Self::LetterServed { .. } => "LetterServed",
            Self::FollowUpRecorded { .. } => "FollowUpRecorded",
            Self::LetterDrafted { .. } => "LetterDrafted",
            Self::LetterApproved { .. } => "LetterApproved",
            Self::LetterReturned { .. } => "LetterReturned",
            Self::AttachmentAdded { .. } => "AttachmentAdded",
            Self::AttachmentWithdrawn { .. } => "AttachmentWithdrawn",
        }
    }

    /// The departments this event shares the case with (recommendation letters, escalations,
    /// referrals); empty for every other event.
    pub fn shares_with(&self) -> Vec<&Department> {
        match self {
            Self::SupervisionLetterIssued {
                kind: LetterKind::Recommendation,
                department: Some(department),
                ..
            }
            | Self::LetterApproved {
                kind: LetterKind::Recommendation,
                department: Some(department),
                ..
            }
            | Self::ReferredToDepartment { department, .. } => vec![department],
            Self::EscalatedToJointMechanism { departments, .. } => departments.iter().collect(),
            _ => Vec::new(),
        }
    }
}
