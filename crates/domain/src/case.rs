//! The state of a case, rebuilt from its events: [`Case`] and [`Case::evolve`].
//!
//! This module owns the fold and the questions asked of the state (status, open letters,
//! deadline, overdue, sharing). `evolve` is total: it never panics and applies any event in any
//! state as best it can, because the log is the truth and a fold must always finish. It does not
//! check rules (that is [`crate::decide()`]) and it never decrypts personal data.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{DeadlineRule, LastDay};
use crate::command::{FileName, SealedPersonalData};
use crate::event::{CaseEvent, Employer};
use crate::ids::{AttachmentId, CaseId, LetterId};
use crate::policy::Department;
use crate::vocab::{CaseStatus, Category, LetterKind, Outcome, ServiceMethod, Source, Tier};

/// What the case holds of the complainant's personal data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ComplainantRecord {
    /// No complainant details were given.
    #[default]
    None,
    /// Sealed details, readable by whoever holds the case's key.
    Sealed(SealedPersonalData),
    /// The details were erased (the key destroyed).
    Erased,
}

/// A finding of the investigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What was found.
    pub summary: String,
    /// The hazard involved, if any.
    pub hazard: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The answer to a letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterAnswer {
    /// Whether the violation was corrected.
    pub rectified: bool,
    /// The answer's text.
    pub content: String,
    /// When the answer was recorded.
    pub answered_at: DateTime<Utc>,
}

/// How a letter was served (送达).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterService {
    /// How.
    pub method: ServiceMethod,
    /// When.
    pub served_at: DateTime<Utc>,
    /// Who received it.
    pub received_by: Option<String>,
    /// Whether the recipient refused it.
    pub refused: bool,
    /// The postal tracking number.
    pub tracking_number: Option<String>,
    /// The attachment holding the receipt of service, when one is attached.
    #[serde(default)]
    pub receipt_attachment_id: Option<AttachmentId>,
}

/// A follow-up visit (回访) on a letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// When the visit took place.
    pub visited_at: DateTime<Utc>,
    /// What it found.
    pub findings: String,
    /// Whether the violation was found corrected.
    pub rectified: bool,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// A letter drafted for a supervisor's sign-off (contract §9), until it is approved (then a
/// [`Letter`]) or returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterDraft {
    /// The id the letter keeps once approved.
    pub letter_id: LetterId,
    /// Opinion or recommendation.
    pub kind: LetterKind,
    /// To whom it is to go.
    pub recipient: String,
    /// Its text.
    pub content: String,
    /// An explicit deadline asked for.
    pub deadline: Option<DateTime<Utc>>,
    /// The department a recommendation letter is to go to.
    pub department: Option<Department>,
    /// When it was drafted.
    pub drafted_at: DateTime<Utc>,
    /// Why and when a supervisor sent it back, if one did.
    pub returned: Option<DraftReturned>,
}

/// A draft sent back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftReturned {
    /// Why.
    pub reason: String,
    /// When.
    pub returned_at: DateTime<Utc>,
}

/// A supervision letter of the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    /// The letter's id.
    pub letter_id: LetterId,
    /// Its number, such as `绵工监意〔2026〕3号` (`MY-2026-0042` before contract §9).
    pub number: String,
    /// Reminder, opinion or recommendation.
    pub kind: LetterKind,
    /// To whom it went.
    pub recipient: String,
    /// Its text.
    pub content: String,
    /// The department a recommendation letter went to.
    pub department: Option<Department>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When the answer is due, if ever.
    pub deadline: Option<DateTime<Utc>>,
    /// The answer, once recorded.
    pub answered: Option<LetterAnswer>,
    /// Whether the deadline was recorded as missed.
    pub deadline_missed: bool,
    /// The rule of a deadline counted from service, until the service counts it.
    #[serde(default)]
    pub deadline_rule: Option<DeadlineRule>,
    /// The deadline's last day, on which calendar (none for an explicit deadline or for
    /// letters issued before contract §9).
    #[serde(default)]
    pub last_day: Option<LastDay>,
    /// The SHA-256 of the letter's PDF (none for letters issued before contract §9).
    #[serde(default)]
    pub document_sha256: Option<String>,
    /// Its service, once recorded.
    #[serde(default)]
    pub served: Option<LetterService>,
    /// Its follow-up visits, oldest first.
    #[serde(default)]
    pub follow_ups: Vec<FollowUp>,
}

impl Letter {
    /// Whether the letter awaits its answer: an opinion or recommendation letter not yet
    /// answered. Reminders need no answer and are never open.
    pub fn is_open(&self) -> bool {
        self.kind != LetterKind::Reminder && self.answered.is_none()
    }

    /// Whether this is an opinion letter the employer did not heed: answered without
    /// rectification, or with its deadline missed.
    pub fn is_unheeded_opinion(&self) -> bool {
        self.kind == LetterKind::Opinion
            && (self.deadline_missed
                || self
                    .answered
                    .as_ref()
                    .is_some_and(|answer| !answer.rectified))
    }
}

/// The current escalation in the joint mechanism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// The tier reached.
    pub tier: Tier,
    /// The participating departments.
    pub departments: Vec<Department>,
    /// Why.
    pub reason: String,
    /// When.
    pub escalated_at: DateTime<Utc>,
}

/// A referral to a partner department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// The department.
    pub department: Department,
    /// Why.
    pub reason: String,
    /// When.
    pub referred_at: DateTime<Utc>,
}

/// Feedback from a partner department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// The reporting department.
    pub department: Department,
    /// The feedback.
    pub content: String,
    /// The department's outcome, in its own words.
    pub outcome: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// A note on the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// The note.
    pub text: String,
    /// When it was added.
    pub added_at: DateTime<Utc>,
}

/// A file attached to the case as evidence (its bytes are kept by the app, encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Its id.
    pub attachment_id: AttachmentId,
    /// Its name as uploaded (sealed when personal).
    pub filename: FileName,
    /// The media type detected from its bytes.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
    /// Whether it holds personal data.
    pub personal: bool,
    /// Whether partner departments may read it (when not personal).
    pub shared: bool,
    /// When it was attached.
    pub added_at: DateTime<Utc>,
    /// Its withdrawal, once marked not relevant.
    pub withdrawn: Option<AttachmentWithdrawal>,
}

impl Attachment {
    /// Whether a partner department the case is shared with may see it.
    pub fn is_partner_visible(&self) -> bool {
        self.shared && !self.personal
    }
}

/// Why and when an attachment was marked not relevant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentWithdrawal {
    /// Why.
    pub reason: String,
    /// When.
    pub withdrawn_at: DateTime<Utc>,
}

/// How long before its deadline an open letter counts as due soon: three days, the warning an
/// officer's work queue gives.
pub const DUE_SOON: chrono::Duration = chrono::Duration::days(3);

/// How urgent a case is, by its open letters' deadlines; ordered most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// An open letter's deadline passed (recorded as missed, or passed before the watcher's
    /// next scan).
    Overdue,
    /// An open letter is due within [`DUE_SOON`].
    DueSoon,
    /// Open letters are due later.
    Waiting,
    /// No open letter has a deadline.
    NoDeadline,
}

/// A case as its events left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The case's id.
    pub id: CaseId,
    /// How many events were applied.
    pub version: u64,
    /// Whether `CaseOpened` was applied.
    pub opened: bool,
    /// Short title.
    pub title: String,
    /// What the case is about (`None` until opened).
    pub category: Option<Category>,
    /// Full description.
    pub description: String,
    /// How the case reached the union (`None` until opened).
    pub source: Option<Source>,
    /// The employer concerned.
    pub employer: Employer,
    /// Administrative region.
    pub region: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// How many workers are affected.
    pub workers_affected: Option<u32>,
    /// The complainant's personal data, sealed or erased.
    pub complainant: ComplainantRecord,
    /// When the case was opened.
    pub opened_at: Option<DateTime<Utc>>,
    /// When the last event was applied.
    pub updated_at: Option<DateTime<Utc>>,
    /// The assigned officer.
    pub assignee: Option<String>,
    /// Findings, oldest first.
    pub findings: Vec<Finding>,
    /// Letters, in the order issued.
    pub letters: Vec<Letter>,
    /// Letters drafted for sign-off and not approved (awaiting, or returned), oldest first.
    #[serde(default)]
    pub drafts: Vec<LetterDraft>,
    /// The current escalation.
    pub escalation: Option<Escalation>,
    /// Departments the case is shared with (recommendation letters, escalations, referrals).
    pub shared_with: BTreeSet<Department>,
    /// Referrals, oldest first.
    pub referrals: Vec<Referral>,
    /// Department feedback, oldest first.
    pub feedback: Vec<Feedback>,
    /// Notes, oldest first.
    pub notes: Vec<Note>,
    /// Attached files, oldest first (withdrawn ones included).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// When the case was closed; `None` while open (and again after a reopening).
    pub closed_at: Option<DateTime<Utc>>,
    /// How the case ended, while closed.
    pub outcome: Option<Outcome>,
    /// The closing summary, while closed.
    pub closing_summary: Option<String>,
    /// How many times the case was reopened.
    pub reopened_count: u32,
}

impl Case {
    /// The state before any event: not opened, version 0.
    pub fn new(id: CaseId) -> Self {
        Self {
            id,
            version: 0,
            opened: false,
            title: String::new(),
            category: None,
            description: String::new(),
            source: None,
            employer: Employer::default(),
            region: None,
            industry: None,
            workers_affected: None,
            complainant: ComplainantRecord::None,
            opened_at: None,
            updated_at: None,
            assignee: None,
            findings: Vec::new(),
            letters: Vec::new(),
            drafts: Vec::new(),
            escalation: None,
            shared_with: BTreeSet::new(),
            referrals: Vec::new(),
            feedback: Vec::new(),
            notes: Vec::new(),
            attachments: Vec::new(),
            closed_at: None,
            outcome: None,
            closing_summary: None,
            reopened_count: 0,
        }
    }

    /// The attachment with this id.
    pub fn attachment(&self, attachment_id: AttachmentId) -> Option<&Attachment> {
        self.attachments
            .iter()
            .find(|attachment| attachment.attachment_id == attachment_id)
    }

    /// Rebuilds a case from its events and their times, oldest first.
    pub fn fold<'e>(
        id: CaseId,
        events: impl IntoIterator<Item = (&'e CaseEvent, DateTime<Utc>)>,
    ) -> Self {
        let mut case = Self::new(id);
        for (event, at) in events {
            case.evolve(event, at);
        }
        case
    }

    /// Applies one event that happened at `at`: increments the version and sets `updated_at`.
    ///
    /// Total: an event that makes no sense in the current state (say, an answer to an unknown
    /// letter) changes nothing but the version and `updated_at`, and never panics.
    pub fn evolve(&mut self, event: &CaseEvent, at: DateTime<Utc>) {
        self.version = self.version.saturating_add(1);
        self.updated_at = Some(at);
        for department in event.shares_with() {
            self.shared_with.insert(department.clone());
        }
        match event {
            CaseEvent::CaseOpened {
                title,
                category,
                description,
                source,
                employer,
                region,
                industry,
                workers_affected,
                complainant,
            } => {
                self.opened = true;
                self.opened_at.get_or_insert(at);
                self.title.clone_from(title);
                self.category = Some(*category);
                self.description.clone_from(description);
                self.source = Some(*source);
                self.employer.clone_from(employer);
                self.region.clone_from(region);
                self.industry.clone_from(industry);
                self.workers_affected = *workers_affected;
                // Erasure is final: a replayed opening must not bring sealed data back.
                if self.complainant != ComplainantRecord::Erased {
                    self.complainant = complainant
                        .clone()
                        .map_or(ComplainantRecord::None, ComplainantRecord::Sealed);
                }
            }
            CaseEvent::OfficerAssigned { officer, .. } => {
                self.assignee = Some(officer.clone());
            }
            CaseEvent::FindingRecorded { summary, hazard } => self.findings.push(Finding {
                summary: summary.clone(),
                hazard: hazard.clone(),
                recorded_at: at,
            }),
            CaseEvent::SupervisionLetterIssued {
                letter_id,
                number,
                kind,
                recipient,
                content,
                deadline,
                department,
                deadline_rule,
                last_day,
                document_sha256,
            } => {
                // A duplicate id replaces nothing: the first letter with an id is the letter.
                if self.letter(*letter_id).is_none() {
                    self.letters.push(Letter {
                        letter_id: *letter_id,
                        number: number.clone(),
                        kind: *kind,
                        recipient: recipient.clone(),
                        content: content.clone(),
                        department: department.clone(),
                        issued_at: at,
                        deadline: *deadline,
                        answered: None,
                        deadline_missed: false,
                        deadline_rule: *deadline_rule,
                        last_day: last_day.clone(),
                        document_sha256: document_sha256.clone(),
                        served: None,
                        follow_ups: Vec::new(),
                    });
                }
            }
            CaseEvent::LetterServed {
                letter_id,
                method,
                served_at,
                received_by,
                refused,
                tracking_number,
                deadline,
                last_day,
                receipt_attachment_id,
            } => {
                if let Some(letter) = self.letter_mut(*letter_id) {
                    letter.served = Some(LetterService {
                        method: *method,
                        served_at: *served_at,
                        received_by: received_by.clone(),
                        refused: *refused,
                        tracking_number: tracking_number.clone(),
                        receipt_attachment_id: *receipt_attachment_id,
                    });
                    if deadline.is_some() {
                        letter.deadline = *deadline;
                        letter.last_day = last_day.clone();
                        letter.deadline_rule = None;
                    }
                }
            }
            CaseEvent::LetterDrafted {
                letter_id,
                kind,
                recipient,
                content,
                deadline,
                department,
            } => {
                if self.letter(*letter_id).is_none() && self.draft(*letter_id).is_none() {
                    self.drafts.push(LetterDraft {
                        letter_id: *letter_id,
                        kind: *kind,
                        recipient: recipient.clone(),
                        content: content.clone(),
                        deadline: *deadline,
                        department: department.clone(),
                        drafted_at: at,
                        returned: None,
                    });
                }
            }
            CaseEvent::LetterReturned { letter_id, reason } => {
                if let Some(draft) = self
                    .drafts
                    .iter_mut()
                    .find(|draft| draft.letter_id == *letter_id)
                {
                    draft.returned = Some(DraftReturned {
                        reason: reason.clone(),
                        returned_at: at,
                    });
                }
            }
            CaseEvent::LetterApproved {
                letter_id,
                number,
                kind,
                department,
                deadline,
                deadline_rule,
                last_day,
                document_sha256,
            } => {
                let drafted = self
                    .drafts
                    .iter()
                    .position(|draft| draft.letter_id == *letter_id);
                if let (Some(index), None) = (drafted, self.letter(*letter_id)) {
                    let draft = self.drafts.remove(index);
                    self.letters.push(Letter {
                        letter_id: *letter_id,
                        number: number.clone(),
                        kind: *kind,
                        recipient: draft.recipient,
                        content: draft.content,
                        department: department.clone(),
                        issued_at: at,
                        deadline: *deadline,
                        answered: None,
                        deadline_missed: false,
                        deadline_rule: *deadline_rule,
                        last_day: last_day.clone(),
                        document_sha256: document_sha256.clone(),
                        served: None,
                        follow_ups: Vec::new(),
                    });
                }
            }
            CaseEvent::FollowUpRecorded {
                letter_id,
                visited_at,
                findings,
                rectified,
            } => {
                if let Some(letter) = self.letter_mut(*letter_id) {
                    letter.follow_ups.push(FollowUp {
                        visited_at: *visited_at,
                        findings: findings.clone(),
                        rectified: *rectified,
                        recorded_at: at,
                    });
                }
            }
            CaseEvent::LetterAnswered {
                letter_id,
                rectified,
                content,
            } => {
                if let Some(letter) = self.letter_mut(*letter_id) {
                    letter.answered = Some(LetterAnswer {
                        rectified: *rectified,
                        content: content.clone(),
                        answered_at: at,
                    });
                }
            }
            CaseEvent::LetterDeadlineMissed { letter_id, .. } => {
                if let Some(letter) = self.letter_mut(*letter_id) {
                    letter.deadline_missed = true;
                }
            }
            CaseEvent::EscalatedToJointMechanism {
                tier,
                departments,
                reason,
                ..
            } => {
                self.escalation = Some(Escalation {
                    tier: *tier,
                    departments: departments.clone(),
                    reason: reason.clone(),
                    escalated_at: at,
                });
            }
            CaseEvent::ReferredToDepartment { department, reason } => {
                self.referrals.push(Referral {
                    department: department.clone(),
                    reason: reason.clone(),
                    referred_at: at,
                });
            }
            CaseEvent::DepartmentFeedbackRecorded {
                department,
                content,
                outcome,
            } => self.feedback.push(Feedback {
                department: department.clone(),
                content: content.clone(),
                outcome: outcome.clone(),
                recorded_at: at,
            }),
            CaseEvent::NoteAdded { text } => self.notes.push(Note {
                text: text.clone(),
                added_at: at,
            }),
            CaseEvent::AttachmentAdded {
                attachment_id,
                filename,
                content_type,
                size,
                sha256,
                personal,
                shared,
            } => {
                if self.attachment(*attachment_id).is_none() {
                    self.attachments.push(Attachment {
                        attachment_id: *attachment_id,
                        filename: filename.clone(),
                        content_type: content_type.clone(),
                        size: *size,
                        sha256: sha256.clone(),
                        personal: *personal,
                        shared: *shared,
                        added_at: at,
                        withdrawn: None,
                    });
                }
            }
            CaseEvent::AttachmentWithdrawn {
                attachment_id,
                reason,
                ..
            } => {
                if let Some(attachment) = self
                    .attachments
                    .iter_mut()
                    .find(|attachment| attachment.attachment_id == *attachment_id)
                {
                    attachment.withdrawn.get_or_insert(AttachmentWithdrawal {
                        reason: reason.clone(),
                        withdrawn_at: at,
                    });
                }
            }
            CaseEvent::CaseClosed { outcome, summary } => {
                self.closed_at = Some(at);
                self.outcome = Some(*outcome);
                self.closing_summary = Some(summary.clone());
            }
            CaseEvent::CaseReopened { .. } => {
                self.closed_at = None;
                self.outcome = None;
                self.closing_summary = None;
                self.reopened_count = self.reopened_count.saturating_add(1);
            }
            CaseEvent::PersonalDataErased {} => {
                self.complainant = ComplainantRecord::Erased;
            }
        }
    }

    /// Where the case stands: closed if closed; else escalated if escalated; else awaiting
    /// reply while a letter is open; else investigating once assigned or with findings; else
    /// open.
    pub fn status(&self) -> CaseStatus {
        if self.is_closed() {
            CaseStatus::Closed
        } else if self.escalation.is_some() {
            CaseStatus::Escalated
        } else if self.open_letters().next().is_some() {
            CaseStatus::AwaitingReply
        } else if self.assignee.is_some() || !self.findings.is_empty() {
            CaseStatus::Investigating
        } else {
            CaseStatus::Open
        }
    }

    /// Whether the case is closed.
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }

    /// A copy of the case without its notes, the one part of a case that grows without a
    /// rule's limit on what kind of event adds to it: what a view that shows the notes from the
    /// original (by reference) copies, such as each step of a replay.
    pub fn clone_without_notes(&self) -> Case {
        Case {
            id: self.id,
            version: self.version,
            opened: self.opened,
            title: self.title.clone(),
            category: self.category,
            description: self.description.clone(),
            source: self.source,
            employer: self.employer.clone(),
            region: self.region.clone(),
            industry: self.industry.clone(),
            workers_affected: self.workers_affected,
            complainant: self.complainant.clone(),
            opened_at: self.opened_at,
            updated_at: self.updated_at,
            assignee: self.assignee.clone(),
            findings: self.findings.clone(),
            letters: self.letters.clone(),
            drafts: self.drafts.clone(),
            escalation: self.escalation.clone(),
            shared_with: self.shared_with.clone(),
            referrals: self.referrals.clone(),
            feedback: self.feedback.clone(),
            notes: Vec::new(),
            attachments: self.attachments.clone(),
            closed_at: self.closed_at,
            outcome: self.outcome,
            closing_summary: self.closing_summary.clone(),
            reopened_count: self.reopened_count,
        }
    }

    /// Whether the case is shared with `department`.
    pub fn is_shared_with(&self, department: &Department) -> bool {
        self.shared_with.contains(department)
    }

    /// The letter with this id.
    pub fn letter(&self, letter_id: LetterId) -> Option<&Letter> {
        self.letters
            .iter()
            .find(|letter| letter.letter_id == letter_id)
    }

    /// The draft with this id, awaiting sign-off or returned.
    pub fn draft(&self, letter_id: LetterId) -> Option<&LetterDraft> {
        self.drafts
            .iter()
            .find(|draft| draft.letter_id == letter_id)
    }

    fn letter_mut(&mut self, letter_id: LetterId) -> Option<&mut Letter> {
        self.letters
            .iter_mut()
            .find(|letter| letter.letter_id == letter_id)
    }

    /// Letters awaiting their answer (see [`Letter::is_open`]), in the order issued.
    pub fn open_letters(&self) -> impl Iterator<Item = &Letter> + '_ {
        self.letters.iter().filter(|letter| letter.is_open())
    }

    /// The earliest deadline among open letters.
    pub fn deadline(&self) -> Option<DateTime<Utc>> {
        self.open_letters()
            .filter_map(|letter| letter.deadline)
            .min()
    }

    /// Whether an open letter's deadline was recorded as missed.
    pub fn overdue(&self) -> bool {
        self.open_letters().any(|letter| letter.deadline_missed)
    }

    /// The letters the deadline watcher should mark missed at `now`: open letters whose deadline
    /// has passed and is not yet recorded as missed, on a case that is not closed. Each is a
    /// valid `MarkDeadlineMissed` at `now`.
    pub fn deadlines_to_mark(&self, now: DateTime<Utc>) -> Vec<LetterId> {
        self.pending_deadlines()
            .filter(|(_, deadline)| *deadline <= now)
            .map(|(letter_id, _)| letter_id)
            .collect()
    }

    /// The deadlines the watcher will have to mark once they pass: every open letter's
    /// deadline not yet recorded as missed, on a case that is not closed, passed or not.
    pub fn pending_deadlines(&self) -> impl Iterator<Item = (LetterId, DateTime<Utc>)> + '_ {
        let watched = self.opened && !self.is_closed();
        self.open_letters()
            .filter(move |letter| watched && !letter.deadline_missed)
            .filter_map(|letter| Some((letter.letter_id, letter.deadline?)))
    }

    /// How urgent the case's open letters make it at `now` (see [`Urgency`]).
    pub fn urgency(&self, now: DateTime<Utc>) -> Urgency {
        match self.deadline() {
            _ if self.overdue() => Urgency::Overdue,
            Some(deadline) if deadline <= now => Urgency::Overdue,
            Some(deadline) if deadline - now <= DUE_SOON => Urgency::DueSoon,
            Some(_) => Urgency::Waiting,
            None => Urgency::NoDeadline,
        }
    }

    /// Whether an opinion letter was answered without rectification or left past its deadline;
    /// a recommendation letter may follow only then.
    pub fn has_unheeded_opinion(&self) -> bool {
        self.letters.iter().any(Letter::is_unheeded_opinion)
    }
}
