//! The public schema of webhook messages: what a partner department receives, in the webhook
//! body and in the pull feed alike.
//!
//! A message is `{"type","timestamp","data"}` (contract §7). Case events are `case.<EventType>`
//! with `data = {"case_id","position","version","event"}`, where `event` is the log's envelope
//! (contract §5) with every sealed value of personal data replaced by `null`; the event that
//! shares a case with a department also carries `data.case`, the case as it then stood, without
//! complainant data and without internal notes. Audit checkpoints are `audit.checkpoint` with
//! `data = {"position","hash","at","signature","public_key"}`.
//!
//! This module builds bodies from domain values; it does not decide who receives them (that is
//! [`crate::feed`]) and does no I/O.

use caseledger_domain::{
    Case, CaseEvent, CaseStatus, Category, Department, LetterKind, Outcome, Source, StoredEvent,
    Tier, EVENT_TYPES,
};
use caseledger_store::Recorded;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The type of audit checkpoint messages.
pub const CHECKPOINT_TYPE: &str = "audit.checkpoint";

/// The prefix of case event message types.
pub const CASE_TYPE_PREFIX: &str = "case.";

/// Event types that never reach a partner department (the domain's rule).
pub use caseledger_domain::INTERNAL_EVENT_TYPES;

/// Every message type an endpoint may subscribe to: `case.<EventType>` for each event type
/// partners receive, and `audit.checkpoint`.
pub fn message_types() -> Vec<String> {
    EVENT_TYPES
        .iter()
        .filter(|name| !INTERNAL_EVENT_TYPES.contains(name))
        .map(|name| format!("{CASE_TYPE_PREFIX}{name}"))
        .chain([CHECKPOINT_TYPE.to_owned()])
        .collect()
}

/// A message body: the JSON that is signed and sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageBody<D> {
    /// `case.<EventType>` or `audit.checkpoint`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event happened (the envelope's `at`), or when the checkpoint was signed (its
    /// `at`), RFC 3339 in UTC.
    pub timestamp: String,
    /// The type's data.
    pub data: D,
}

/// The `data` of a case event message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEventData {
    /// The case.
    pub case_id: Uuid,
    /// The event's global log position.
    pub position: u64,
    /// The case's version after the event.
    pub version: u64,
    /// The envelope of contract §5, with sealed personal data replaced by `null`. Its `hash` is
    /// the log's, computed over the sealed form.
    pub event: serde_json::Value,
    /// The case as it stood right after this event; only in the message of the event that
    /// shared the case with the receiving department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseSnapshot>,
    /// The PDF of a letter addressed to a department (contract §9), or a shared file attached
    /// to the case (§10): where the department reads it with its token. Only in
    /// `case.SupervisionLetterIssued` and `case.LetterApproved` messages of letters that name
    /// a department and have a document, and in `case.AttachmentAdded` messages (which reach
    /// departments only for shared files not marked personal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentLink>,
}

/// Where a letter's PDF is read, and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentLink {
    /// The path on the service: `/v1/cases/{id}/letters/{letter_id}/document`, or
    /// `/v1/cases/{id}/attachments/{attachment_id}`.
    pub path: String,
    /// Its media type (`application/pdf` for a letter).
    pub media_type: String,
    /// The SHA-256 of its bytes, as the event records it.
    pub sha256: String,
}

impl DocumentLink {
    /// The link of the document `event` issues to a department, or of the file it attaches
    /// for departments, if it does.
    pub fn of(case_id: Uuid, event: &CaseEvent) -> Option<DocumentLink> {
        if let CaseEvent::AttachmentAdded {
            attachment_id,
            content_type,
            sha256,
            personal: false,
            shared: true,
            ..
        } = event
        {
            return Some(DocumentLink {
                path: format!("/v1/cases/{case_id}/attachments/{}", attachment_id.0),
                media_type: content_type.clone(),
                sha256: sha256.clone(),
            });
        }
        let (CaseEvent::SupervisionLetterIssued {
            letter_id,
            department: Some(_),
            document_sha256: Some(sha256),
            ..
        }
        | CaseEvent::LetterApproved {
            letter_id,
            department: Some(_),
            document_sha256: Some(sha256),
            ..
        }) = event
        else {
            return None;
        };
        Some(DocumentLink {
            path: format!("/v1/cases/{case_id}/letters/{}/document", letter_id.0),
            media_type: "application/pdf".to_owned(),
            sha256: sha256.clone(),
        })
    }
}

/// A signed audit checkpoint of the log (contract §6), as the audit worker hands it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    /// The log position the checkpoint covers.
    pub position: u64,
    /// The hash of the event at that position (64 hex digits).
    pub hash: String,
    /// When the checkpoint was signed (RFC 3339), exactly the text that was signed.
    pub at: String,
    /// The Ed25519 signature over `{"position","hash","at"}`.
    pub signature: String,
    /// The service's public key that verifies it.
    pub public_key: String,
}

/// The body of a case event message; `case_after` (given for the event that shares the case
/// with the receiving department) adds the case view.
pub fn case_event_body(recorded: &Recorded<StoredEvent>, case_after: Option<&Case>) -> String {
    let stored = &recorded.event;
    let body = MessageBody {
        kind: format!("{CASE_TYPE_PREFIX}{}", stored.event.event_type()),
        // The envelope's own rendering of `at`, so the two always read the same.
        timestamp: stored.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        data: CaseEventData {
            case_id: stored.case_id.0,
            position: recorded.position.0,
            version: recorded.version.0,
            event: minimised_envelope(recorded),
            case: case_after.map(CaseSnapshot::of),
            document: DocumentLink::of(stored.case_id.0, &stored.event),
        },
    };
    // A struct of strings, numbers and JSON values always serialises.
    serde_json::to_string(&body).unwrap_or_default()
}

/// The body of an `audit.checkpoint` message.
pub fn checkpoint_body(checkpoint: &AuditCheckpoint) -> String {
    let body = MessageBody {
        kind: CHECKPOINT_TYPE.to_owned(),
        timestamp: checkpoint.at.clone(),
        data: checkpoint,
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The envelope of an event with every sealed value replaced by `null`.
pub fn minimised_envelope(recorded: &Recorded<StoredEvent>) -> serde_json::Value {
    let mut envelope = serde_json::to_value(recorded).unwrap_or_default();
    if let Some(data) = envelope.get_mut("data") {
        strip_sealed(data);
    }
    envelope
}

/// Replaces every `{"sealed": …}` object (the only form personal data takes in an event) with
/// `null`, however deep; whether the case names a complainant is not disclosed either.
fn strip_sealed(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            if object.contains_key("sealed") {
                *value = serde_json::Value::Null;
                return;
            }
            for (name, field) in object.iter_mut() {
                if name == "complainant" {
                    *field = serde_json::Value::Null;
                } else {
                    strip_sealed(field);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_sealed),
        _ => {}
    }
}

/// Whether a case event goes to partner departments at all.
pub fn is_partner_visible(event: &CaseEvent) -> bool {
    !event.is_internal()
}

/// A case as a partner department may see it: the case view of `GET /v1/cases/{id}` for a
/// partner token (no complainant, no internal notes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSnapshot {
    /// The case id.
    pub id: Uuid,
    /// Short title.
    pub title: String,
    /// Category.
    pub category: Option<Category>,
    /// Description.
    pub description: String,
    /// Source.
    pub source: Option<Source>,
    /// Status: open, investigating, awaiting_reply, escalated or closed.
    pub status: CaseStatus,
    /// The case's version.
    pub version: u64,
    /// When opened.
    pub opened_at: Option<DateTime<Utc>>,
    /// When last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// The employer.
    pub employer: EmployerSnapshot,
    /// Region.
    pub region: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Workers affected.
    pub workers_affected: Option<u32>,
    /// The assigned officer.
    pub assignee: Option<String>,
    /// Findings, oldest first.
    pub findings: Vec<FindingSnapshot>,
    /// Letters, in the order issued.
    pub letters: Vec<LetterSnapshot>,
    /// Escalation to the joint mechanism.
    pub escalation: Option<EscalationSnapshot>,
    /// Departments the case is shared with.
    pub shared_with: Vec<Department>,
    /// Referrals, oldest first.
    pub referrals: Vec<ReferralSnapshot>,
    /// Departments' feedback, oldest first.
    pub feedback: Vec<FeedbackSnapshot>,
    /// The earliest deadline of an open letter.
    pub deadline: Option<DateTime<Utc>>,
    /// True when an open letter's deadline passed unanswered.
    pub overdue: bool,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// The closing summary.
    pub closing_summary: Option<String>,
    /// How often the case was reopened.
    pub reopened_count: u32,
}

/// The employer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmployerSnapshot {
    /// Name.
    pub name: String,
    /// Unified social credit code.
    pub credit_code: Option<String>,
    /// True when a supervisor kept a code that fails its check.
    pub credit_code_unverified: bool,
}

/// A finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingSnapshot {
    /// What was found.
    pub summary: String,
    /// The hazard.
    pub hazard: Option<String>,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// A supervision letter and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LetterSnapshot {
    /// The letter's id.
    pub letter_id: Uuid,
    /// The letter number.
    pub number: String,
    /// The kind.
    pub kind: LetterKind,
    /// To whom.
    pub recipient: String,
    /// The text.
    pub content: String,
    /// The department of a recommendation letter.
    pub department: Option<Department>,
    /// When issued.
    pub issued_at: DateTime<Utc>,
    /// When the answer is due.
    pub deadline: Option<DateTime<Utc>>,
    /// True while an answer is awaited.
    pub open: bool,
    /// True when the deadline passed unanswered.
    pub deadline_missed: bool,
    /// The answer, once given.
    pub answer: Option<AnswerSnapshot>,
}

/// An answer to a letter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerSnapshot {
    /// Whether the violation was corrected.
    pub rectified: bool,
    /// The text.
    pub content: String,
    /// When.
    pub answered_at: DateTime<Utc>,
}

/// The case's place in the joint mechanism.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationSnapshot {
    /// The tier.
    pub tier: Tier,
    /// The departments taking part.
    pub departments: Vec<Department>,
    /// Why.
    pub reason: String,
    /// When.
    pub escalated_at: DateTime<Utc>,
}

/// A referral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralSnapshot {
    /// The department.
    pub department: Department,
    /// Why.
    pub reason: String,
    /// When.
    pub referred_at: DateTime<Utc>,
}

/// A department's feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackSnapshot {
    /// The department.
    pub department: Department,
    /// What it said.
    pub content: String,
    /// Its outcome.
    pub outcome: Option<String>,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

impl CaseSnapshot {
    /// The partner's view of `case`.
    pub fn of(case: &Case) -> CaseSnapshot {
        CaseSnapshot {
            id: case.id.0,
            title: case.title.clone(),
            category: case.category,
            description: case.description.clone(),
            source: case.source,
            status: case.status(),
            version: case.version,
            opened_at: case.opened_at,
            updated_at: case.updated_at,
            employer: EmployerSnapshot {
                name: case.employer.name.clone(),
                credit_code: case.employer.credit_code.clone(),
                credit_code_unverified: case.employer.credit_code_unverified,
            },
            region: case.region.clone(),
            industry: case.industry.clone(),
            workers_affected: case.workers_affected,
            assignee: case.assignee.clone(),
            findings: case
                .findings
                .iter()
                .map(|finding| FindingSnapshot {
                    summary: finding.summary.clone(),
                    hazard: finding.hazard.clone(),
                    recorded_at: finding.recorded_at,
                })
                .collect(),
            letters: case
                .letters
                .iter()
                .map(|letter| LetterSnapshot {
                    letter_id: letter.letter_id.0,
                    number: letter.number.clone(),
                    kind: letter.kind,
                    recipient: letter.recipient.clone(),
                    content: letter.content.clone(),
                    department: letter.department.clone(),
                    issued_at: letter.issued_at,
                    deadline: letter.deadline,
                    open: letter.is_open(),
                    deadline_missed: letter.deadline_missed,
                    answer: letter.answered.as_ref().map(|answer| AnswerSnapshot {
                        rectified: answer.rectified,
                        content: answer.content.clone(),
                        answered_at: answer.answered_at,
                    }),
                })
                .collect(),
            escalation: case
                .escalation
                .as_ref()
                .map(|escalation| EscalationSnapshot {
                    tier: escalation.tier,
                    departments: escalation.departments.clone(),
                    reason: escalation.reason.clone(),
                    escalated_at: escalation.escalated_at,
                }),
            shared_with: case.shared_with.iter().cloned().collect(),
            referrals: case
                .referrals
                .iter()
                .map(|referral| ReferralSnapshot {
                    department: referral.department.clone(),
                    reason: referral.reason.clone(),
                    referred_at: referral.referred_at,
                })
                .collect(),
            feedback: case
                .feedback
                .iter()
                .map(|feedback| FeedbackSnapshot {
                    department: feedback.department.clone(),
                    content: feedback.content.clone(),
                    outcome: feedback.outcome.clone(),
                    recorded_at: feedback.recorded_at,
                })
                .collect(),
            deadline: case.deadline(),
            overdue: case.overdue(),
            closed_at: case.closed_at,
            outcome: case.outcome,
            closing_summary: case.closing_summary.clone(),
            reopened_count: case.reopened_count,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use caseledger_domain::{ActorRecord, CaseId, Employer, SealedPersonalData};
    use caseledger_store::{ChainHash, Position, Version};
    use chrono::TimeZone as _;

    use super::*;

    fn opened() -> Recorded<StoredEvent> {
        Recorded {
            position: Position(7),
            version: Version(1),
            event: StoredEvent {
                id: Uuid::now_v7(),
                case_id: CaseId(Uuid::now_v7()),
                at: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
                actor: ActorRecord::system(),
                event: CaseEvent::CaseOpened {
                    title: "Dust".into(),
                    category: Category::PpeShortfall,
                    description: "No masks".into(),
                    source: Source::Inspection,
                    employer: Employer {
                        name: "Plant".into(),
                        credit_code: None,
                        credit_code_unverified: false,
                    },
                    region: None,
                    industry: None,
                    workers_affected: Some(4),
                    complainant: Some(SealedPersonalData {
                        sealed: "c2VjcmV0IG5hbWU=".into(),
                    }),
                },
            },
            prev_hash: ChainHash::GENESIS,
            hash: ChainHash::GENESIS,
        }
    }

    #[test]
    fn a_case_event_body_has_the_contract_shape_and_no_sealed_data() {
        let recorded = opened();
        let mut case = Case::new(recorded.event.case_id);
        case.evolve(&recorded.event.event, recorded.event.at);
        let body = case_event_body(&recorded, Some(&case));
        assert!(!body.contains("c2VjcmV0IG5hbWU="), "{body}");
        assert!(!body.contains("sealed"), "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["type"], "case.CaseOpened");
        assert_eq!(value["timestamp"], "2026-03-02T09:00:00Z");
        assert_eq!(value["data"]["position"], 7);
        assert_eq!(value["data"]["version"], 1);
        assert_eq!(
            value["data"]["case_id"],
            recorded.event.case_id.0.to_string()
        );
        let event = &value["data"]["event"];
        for field in [
            "id",
            "position",
            "case_id",
            "version",
            "type",
            "at",
            "actor",
            "data",
            "prev_hash",
            "hash",
        ] {
            assert!(event.get(field).is_some(), "the envelope lacks {field}");
        }
        assert_eq!(event["data"]["complainant"], serde_json::Value::Null);
        assert_eq!(event["data"]["title"], "Dust");
        let snapshot = &value["data"]["case"];
        assert_eq!(snapshot["status"], "open");
        assert_eq!(snapshot["category"], "ppe_shortfall");
        assert!(snapshot.get("complainant").is_none());
        assert!(snapshot.get("notes").is_none());
        // The body's keys come in the contract's order.
        assert!(body.starts_with(r#"{"type":"case.CaseOpened","timestamp":"#));
    }

    #[test]
    fn without_a_sharing_the_body_has_no_case() {
        let body = case_event_body(&opened(), None);
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(value["data"].get("case").is_none());
    }

    #[test]
    fn a_checkpoint_body_has_the_contract_shape() {
        let checkpoint = AuditCheckpoint {
            position: 1000,
            hash: "ab".repeat(32),
            at: "2026-03-02T09:00:00.000000Z".into(),
            signature: "sig".into(),
            public_key: "key".into(),
        };
        let value: serde_json::Value = serde_json::from_str(&checkpoint_body(&checkpoint)).unwrap();
        assert_eq!(value["type"], "audit.checkpoint");
        assert_eq!(value["timestamp"], "2026-03-02T09:00:00.000000Z");
        assert_eq!(value["data"]["position"], 1000);
        assert_eq!(value["data"]["signature"], "sig");
        assert_eq!(value["data"]["public_key"], "key");
        assert_eq!(value["data"]["at"], "2026-03-02T09:00:00.000000Z");
    }

    #[test]
    fn notes_are_internal_and_not_a_subscribable_type() {
        let types = message_types();
        assert!(types.contains(&"case.SupervisionLetterIssued".to_owned()));
        assert!(types.contains(&"audit.checkpoint".to_owned()));
        assert!(!types.contains(&"case.NoteAdded".to_owned()));
        assert!(!is_partner_visible(&CaseEvent::NoteAdded {
            text: "x".into()
        }));
    }
}
