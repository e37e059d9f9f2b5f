//! The wire format of `/v1/cases`: the request that opens a case and the case as the API
//! shows it (its parts, lists, statistics and history), with their OpenAPI schemas.

use axum::http::HeaderValue;
use caseledger_app::{CaseView, ChainPoint, ComplainantView};
use caseledger_domain::{Category, ComplainantInput, EmployerInput, Source};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::routes::events::{Envelope, EnvelopeSchema};
use crate::vocabulary::{
    category_schema, letter_kind_schema, outcome_schema_nullable, source_schema, status_schema,
    tier_schema, FieldErrors,
};

/// `POST /v1/cases`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCaseRequest {
    /// Short title, at most 200 characters.
    pub title: String,
    /// What the case is about.
    #[schema(schema_with = category_schema)]
    pub category: String,
    /// Full description.
    pub description: String,
    /// How the case reached the union.
    #[schema(schema_with = source_schema)]
    pub source: String,
    /// The employer.
    pub employer: EmployerRequest,
    /// Administrative region, e.g. `Fucheng District`.
    #[serde(default)]
    pub region: Option<String>,
    /// Industry, e.g. `building_materials`.
    #[serde(default)]
    pub industry: Option<String>,
    /// How many workers are affected.
    #[serde(default)]
    pub workers_affected: Option<u32>,
    /// The complainant (sensitive personal data: stored sealed, shown only to officers,
    /// supervisors and admins).
    #[serde(default)]
    pub complainant: Option<ComplainantRequest>,
}

/// The employer of a new case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployerRequest {
    /// The employer's name.
    pub name: String,
    /// Unified social credit code (GB 32100-2015), 18 characters with a check character.
    #[serde(default)]
    pub credit_code: Option<String>,
    /// A supervisor may keep a code that fails its check (some pilot-era codes do); the event
    /// records the override.
    #[serde(default)]
    pub credit_code_unverified: Option<bool>,
}

/// A complainant's details.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplainantRequest {
    /// Full name.
    pub name: String,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Resident identity number (GB 11643-1999), 18 characters with a check character.
    #[serde(default)]
    pub id_number: Option<String>,
}

impl std::fmt::Debug for ComplainantRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ComplainantRequest(<redacted>)")
    }
}

impl OpenCaseRequest {
    /// The app's input, or a 422 naming every unknown vocabulary value.
    pub fn into_input(self) -> Result<caseledger_app::OpenCase, ApiError> {
        let mut errors = FieldErrors::default();
        let category = errors.parse::<Category>("category", &self.category);
        let source = errors.parse::<Source>("source", &self.source);
        errors.finish(|| {
            Some(caseledger_app::OpenCase {
                title: self.title,
                category: category?,
                description: self.description,
                source: source?,
                employer: EmployerInput {
                    name: self.employer.name,
                    credit_code: self.employer.credit_code,
                    credit_code_unverified: self.employer.credit_code_unverified.unwrap_or(false),
                },
                region: self.region,
                industry: self.industry,
                workers_affected: self.workers_affected,
                complainant: self.complainant.map(|complainant| ComplainantInput {
                    name: complainant.name,
                    phone: complainant.phone,
                    id_number: complainant.id_number,
                }),
            })
        })
    }
}

/// The employer as a case shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmployerView {
    /// Name.
    pub name: String,
    /// Unified social credit code.
    pub credit_code: Option<String>,
    /// True when a supervisor kept a code that fails its check.
    pub credit_code_unverified: bool,
}

/// A complainant, as officers, supervisors and admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplainantResponse {
    /// Full name; absent once erased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Phone; absent once erased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Resident identity number; absent once erased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// True when the data was erased.
    pub erased: bool,
}

/// A finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingView {
    /// What was found.
    pub summary: String,
    /// The hazard.
    pub hazard: Option<String>,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// A letter drafted for sign-off.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterDraftView {
    /// The id it keeps once approved.
    pub letter_id: Uuid,
    /// `opinion` or `recommendation`.
    pub kind: String,
    /// To whom it is to go.
    pub recipient: String,
    /// Its text.
    pub content: String,
    /// An explicit deadline asked for.
    pub deadline: Option<DateTime<Utc>>,
    /// The department a recommendation letter is to go to.
    pub department: Option<String>,
    /// When it was drafted.
    pub drafted_at: DateTime<Utc>,
    /// Why and when it was sent back, if it was: such a draft is never approved.
    pub returned: Option<DraftReturnedView>,
}

/// A draft sent back.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftReturnedView {
    /// Why.
    pub reason: String,
    /// When.
    pub returned_at: DateTime<Utc>,
}

/// A supervision letter and its answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterView {
    /// The letter's id, for its response.
    pub letter_id: Uuid,
    /// The letter number, e.g. `绵工监意〔2026〕3号` (`MY-2026-0042` before contract §9).
    pub number: String,
    /// The kind.
    #[schema(schema_with = letter_kind_schema)]
    pub kind: String,
    /// To whom.
    pub recipient: String,
    /// The text.
    pub content: String,
    /// The department of a recommendation letter.
    pub department: Option<String>,
    /// When issued.
    pub issued_at: DateTime<Utc>,
    /// When the answer is due.
    pub deadline: Option<DateTime<Utc>>,
    /// True while an answer is awaited.
    pub open: bool,
    /// True when the deadline passed unanswered.
    pub deadline_missed: bool,
    /// The answer, once given.
    pub answer: Option<LetterAnswerView>,
    /// The deadline's last day in the office, and the calendar it was counted on (none for an
    /// explicit deadline and for letters issued before working-day deadlines).
    pub last_day: Option<LastDayView>,
    /// The rule of a deadline that counts from service, while the letter is not served:
    /// e.g. `{"amount": 15, "unit": "working_days", "from": "served"}`.
    pub deadline_rule: Option<DeadlineRuleView>,
    /// Its service (送达), once recorded.
    pub service: Option<LetterServiceView>,
    /// Its follow-up visits (回访), oldest first.
    pub follow_ups: Vec<FollowUpView>,
    /// The SHA-256 of the letter's PDF (`GET …/letters/{letter_id}/document`); none for
    /// letters issued before letters were documents.
    pub document_sha256: Option<String>,
}

/// The last day of a deadline.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastDayView {
    /// The date (the office's), e.g. `2026-12-18`; the deadline is its end.
    pub date: chrono::NaiveDate,
    /// True when a day the count judged lies in a year the calendar does not yet cover: the
    /// date may move once that year's official notice is loaded.
    pub provisional: bool,
    /// The calendar's version, e.g. `holiday-cn@d4e53bf`.
    pub calendar_version: String,
}

/// How a letter's deadline is counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineRuleView {
    /// How many days.
    pub amount: u32,
    /// `working_days` or `calendar_days`.
    pub unit: String,
    /// `issued` or `served`.
    pub from: String,
}

/// A letter's service.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterServiceView {
    /// `in_person`, `post`, `left_at_premises` or `electronic`.
    pub method: String,
    /// When.
    pub served_at: DateTime<Utc>,
    /// Who received it.
    pub received_by: Option<String>,
    /// Whether the recipient refused it.
    pub refused: bool,
    /// The postal tracking number.
    pub tracking_number: Option<String>,
    /// The attachment holding the receipt of service, when one was named.
    pub receipt_attachment_id: Option<Uuid>,
}

/// A follow-up visit on a letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpView {
    /// When the visit took place.
    pub visited_at: DateTime<Utc>,
    /// What it found.
    pub findings: String,
    /// Whether the violation was found corrected.
    pub rectified: bool,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// An answer to a letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterAnswerView {
    /// Whether the violation was corrected.
    pub rectified: bool,
    /// The text.
    pub content: String,
    /// When.
    pub answered_at: DateTime<Utc>,
}

/// The case's place in the joint mechanism.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationView {
    /// The tier.
    #[schema(schema_with = tier_schema)]
    pub tier: String,
    /// The departments taking part.
    pub departments: Vec<String>,
    /// Why.
    pub reason: String,
    /// When.
    pub escalated_at: DateTime<Utc>,
}

/// A referral to a department.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralView {
    /// The department.
    pub department: String,
    /// Why.
    pub reason: String,
    /// When.
    pub referred_at: DateTime<Utc>,
}

/// A department's feedback.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackView {
    /// The department.
    pub department: String,
    /// What it said.
    pub content: String,
    /// Its outcome.
    pub outcome: Option<String>,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// An internal note (not shown to partner departments).
#[derive(Debug, Serialize, ToSchema)]
pub struct NoteView {
    /// The note.
    pub text: String,
    /// When.
    pub added_at: DateTime<Utc>,
}

/// A point of the hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainPointView {
    /// Global position of the last event in the view.
    pub position: u64,
    /// Its hash (64 hex digits).
    pub hash: String,
}

impl From<ChainPoint> for ChainPointView {
    fn from(point: ChainPoint) -> Self {
        ChainPointView {
            position: point.position,
            hash: point.hash,
        }
    }
}

/// A case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseResponse {
    /// The case id.
    pub id: Uuid,
    /// Short title.
    pub title: String,
    /// Category.
    #[schema(schema_with = category_schema)]
    pub category: String,
    /// Description.
    pub description: String,
    /// Source.
    #[schema(schema_with = source_schema)]
    pub source: String,
    /// Status: open, investigating, awaiting_reply, escalated or closed.
    #[schema(schema_with = status_schema)]
    pub status: String,
    /// The case's version (also its `ETag`).
    pub version: u64,
    /// When opened.
    pub opened_at: Option<DateTime<Utc>>,
    /// When last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// The employer.
    pub employer: EmployerView,
    /// Region.
    pub region: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Workers affected.
    pub workers_affected: Option<u32>,
    /// The assigned officer.
    pub assignee: Option<String>,
    /// Findings.
    pub findings: Vec<FindingView>,
    /// Letters issued.
    pub letters: Vec<LetterView>,
    /// Escalation to the joint mechanism.
    pub escalation: Option<EscalationView>,
    /// Departments the case is shared with.
    pub shared_with: Vec<String>,
    /// Referrals.
    pub referrals: Vec<ReferralView>,
    /// Departments' feedback.
    pub feedback: Vec<FeedbackView>,
    /// Internal notes; absent for partner departments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<NoteView>>,
    /// Letters drafted for a supervisor's sign-off (`letters.approval = "supervisor"`) and not
    /// approved — awaiting it, or returned with reasons; absent for partner departments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drafts: Option<Vec<LetterDraftView>>,
    /// The earliest deadline of an open letter.
    pub deadline: Option<DateTime<Utc>>,
    /// True when an open letter's deadline passed unanswered.
    pub overdue: bool,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// How it ended.
    #[schema(schema_with = outcome_schema_nullable)]
    pub outcome: Option<String>,
    /// The closing summary.
    pub closing_summary: Option<String>,
    /// How often the case was reopened.
    pub reopened_count: u32,
    /// The complainant; present only for admins, supervisors and officers, and only when the
    /// case names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complainant: Option<ComplainantResponse>,
    /// The chain point of the view's last event (single-case reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainPointView>,
}

impl CaseResponse {
    /// The response for `view`; partners get no internal notes.
    pub fn new(view: CaseView, include_notes: bool) -> CaseResponse {
        let case = view.case;
        let status = case.status().as_str().to_owned();
        let deadline = case.deadline();
        let overdue = case.overdue();
        let drafts = include_notes.then(|| {
            case.drafts
                .iter()
                .map(|draft| LetterDraftView {
                    letter_id: draft.letter_id.0,
                    kind: draft.kind.as_str().to_owned(),
                    recipient: draft.recipient.clone(),
                    content: draft.content.clone(),
                    deadline: draft.deadline,
                    department: draft.department.as_ref().map(|d| d.as_str().to_owned()),
                    drafted_at: draft.drafted_at,
                    returned: draft.returned.as_ref().map(|returned| DraftReturnedView {
                        reason: returned.reason.clone(),
                        returned_at: returned.returned_at,
                    }),
                })
                .collect()
        });
        CaseResponse {
            drafts,
            id: case.id.0,
            title: case.title,
            category: case
                .category
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            description: case.description,
            source: case
                .source
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            status,
            version: case.version,
            opened_at: case.opened_at,
            updated_at: case.updated_at,
            employer: EmployerView {
                name: case.employer.name,
                credit_code: case.employer.credit_code,
                credit_code_unverified: case.employer.credit_code_unverified,
            },
            region: case.region,
            industry: case.industry,
            workers_affected: case.workers_affected,
            assignee: case.assignee,
            findings: case
                .findings
                .into_iter()
                .map(|finding| FindingView {
                    summary: finding.summary,
                    hazard: finding.hazard,
                    recorded_at: finding.recorded_at,
                })
                .collect(),
            letters: case
                .letters
                .into_iter()
                .map(|letter| LetterView {
                    letter_id: letter.letter_id.0,
                    open: letter.is_open(),
                    number: letter.number,
                    kind: letter.kind.as_str().to_owned(),
                    recipient: letter.recipient,
                    content: letter.content,
                    department: letter.department.map(|d| d.as_str().to_owned()),
                    issued_at: letter.issued_at,
                    deadline: letter.deadline,
                    deadline_missed: letter.deadline_missed,
                    answer: letter.answered.map(|answer| LetterAnswerView {
                        rectified: answer.rectified,
                        content: answer.content,
                        answered_at: answer.answered_at,
                    }),
                    last_day: letter.last_day.map(|last_day| LastDayView {
                        date: last_day.date,
                        provisional: last_day.provisional,
                        calendar_version: last_day.calendar_version,
                    }),
                    deadline_rule: letter.deadline_rule.map(|rule| DeadlineRuleView {
                        amount: rule.amount,
                        unit: period_unit_name(rule.unit).to_owned(),
                        from: period_start_name(rule.from).to_owned(),
                    }),
                    service: letter.served.map(|service| LetterServiceView {
                        method: service.method.as_str().to_owned(),
                        served_at: service.served_at,
                        received_by: service.received_by,
                        refused: service.refused,
                        tracking_number: service.tracking_number,
                        receipt_attachment_id: service
                            .receipt_attachment_id
                            .map(|attachment| attachment.0),
                    }),
                    follow_ups: letter
                        .follow_ups
                        .into_iter()
                        .map(|visit| FollowUpView {
                            visited_at: visit.visited_at,
                            findings: visit.findings,
                            rectified: visit.rectified,
                            recorded_at: visit.recorded_at,
                        })
                        .collect(),
                    document_sha256: letter.document_sha256,
                })
                .collect(),
            escalation: case.escalation.map(|escalation| EscalationView {
                tier: escalation.tier.as_str().to_owned(),
                departments: escalation
                    .departments
                    .into_iter()
                    .map(|d| d.as_str().to_owned())
                    .collect(),
                reason: escalation.reason,
                escalated_at: escalation.escalated_at,
            }),
            shared_with: case
                .shared_with
                .into_iter()
                .map(|d| d.as_str().to_owned())
                .collect(),
            referrals: case
                .referrals
                .into_iter()
                .map(|referral| ReferralView {
                    department: referral.department.as_str().to_owned(),
                    reason: referral.reason,
                    referred_at: referral.referred_at,
                })
                .collect(),
            feedback: case
                .feedback
                .into_iter()
                .map(|feedback| FeedbackView {
                    department: feedback.department.as_str().to_owned(),
                    content: feedback.content,
                    outcome: feedback.outcome,
                    recorded_at: feedback.recorded_at,
                })
                .collect(),
            notes: include_notes.then(|| {
                case.notes
                    .into_iter()
                    .map(|note| NoteView {
                        text: note.text,
                        added_at: note.added_at,
                    })
                    .collect()
            }),
            deadline,
            overdue,
            closed_at: case.closed_at,
            outcome: case.outcome.map(|o| o.as_str().to_owned()),
            closing_summary: case.closing_summary,
            reopened_count: case.reopened_count,
            complainant: match view.complainant {
                ComplainantView::None | ComplainantView::Withheld => None,
                ComplainantView::Erased => Some(ComplainantResponse {
                    name: None,
                    phone: None,
                    id_number: None,
                    erased: true,
                }),
                ComplainantView::Present(complainant) => Some(ComplainantResponse {
                    name: Some(complainant.name),
                    phone: complainant.phone,
                    id_number: complainant.id_number,
                    erased: false,
                }),
            },
            chain: Some(view.chain.into()),
        }
    }

    /// A list item: the case without complainant details or chain point.
    pub fn summary(case: caseledger_domain::Case, include_notes: bool) -> CaseResponse {
        let view = CaseView {
            case,
            complainant: ComplainantView::Withheld,
            chain: ChainPoint {
                position: 0,
                hash: String::new(),
            },
        };
        CaseResponse {
            chain: None,
            ..CaseResponse::new(view, include_notes)
        }
    }
}

/// `GET /v1/cases`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseListResponse {
    /// The cases of this page, in opening order (without complainant details).
    pub items: Vec<CaseResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/stats`: the figures unions report upward.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    /// Cases opened in the period.
    pub cases: u64,
    /// Those cases by status.
    pub by_status: std::collections::BTreeMap<String, u64>,
    /// Those cases by category.
    pub by_category: std::collections::BTreeMap<String, u64>,
    /// Open cases with an overdue letter now.
    pub overdue: u64,
    /// Cases closed in the period.
    pub closed: u64,
    /// Cases opened in the period, by the highest tier of the joint mechanism they reached
    /// (every tier, zero included; cases never escalated are not counted). An extension of
    /// contract §4.
    pub by_tier: std::collections::BTreeMap<String, u64>,
    /// Cases closed in the period, by outcome (every outcome, zero included). An extension
    /// of contract §4.
    pub closed_by_outcome: std::collections::BTreeMap<String, u64>,
    /// Median days from opening to closing of the cases closed in the period.
    pub median_days_to_close: Option<f64>,
    /// Letters issued in the period, by kind.
    pub letters_issued: std::collections::BTreeMap<String, u64>,
    /// Opinion letters issued in the period.
    pub opinion_letters: u64,
    /// Of those, answered by the employer.
    pub opinion_letters_answered: u64,
    /// Of those, answered with the violation corrected.
    pub opinion_letters_rectified: u64,
    /// The employers' reply rate for opinion letters (answered / issued).
    pub reply_rate: Option<f64>,
    /// The rectification rate for opinion letters (rectified / issued).
    pub rectification_rate: Option<f64>,
    /// Opinion letters of the period checked by a follow-up visit (回访).
    pub opinion_letters_followed_up: u64,
    /// Of those, found corrected by the latest visit: rectification confirmed, not only
    /// claimed in a reply.
    pub opinion_letters_rectification_confirmed: u64,
    /// The confirmed rectification rate (confirmed / issued).
    pub confirmed_rectification_rate: Option<f64>,
    /// Extension: letters of open cases whose deadline passed unanswered, now (whatever the
    /// period).
    pub overdue_letters: u64,
    /// Extension: cases opened in the period by region (lower-cased, as the `region` filter
    /// compares it); cases without a region are not counted.
    pub by_region: std::collections::BTreeMap<String, u64>,
    /// Extension: cases opened in the period by month (`YYYY-MM` in the office's time zone),
    /// every month from the first to the last in which a case was opened or closed, zero
    /// included.
    pub opened_by_month: std::collections::BTreeMap<String, u64>,
    /// Extension: cases closed in the period by month, over the same months as
    /// `opened_by_month`.
    pub closed_by_month: std::collections::BTreeMap<String, u64>,
}

impl From<caseledger_app::Stats> for StatsResponse {
    fn from(stats: caseledger_app::Stats) -> Self {
        StatsResponse {
            cases: stats.cases,
            by_status: stats.by_status,
            by_category: stats.by_category,
            overdue: stats.overdue,
            closed: stats.closed,
            by_tier: stats.by_tier,
            closed_by_outcome: stats.closed_by_outcome,
            median_days_to_close: stats.median_days_to_close,
            letters_issued: stats.letters_issued,
            opinion_letters: stats.opinion_letters,
            opinion_letters_answered: stats.opinion_letters_answered,
            opinion_letters_rectified: stats.opinion_letters_rectified,
            reply_rate: stats.reply_rate,
            rectification_rate: stats.rectification_rate,
            opinion_letters_followed_up: stats.opinion_letters_followed_up,
            opinion_letters_rectification_confirmed: stats.opinion_letters_rectification_confirmed,
            confirmed_rectification_rate: stats.confirmed_rectification_rate,
            overdue_letters: stats.overdue_letters,
            by_region: stats.by_region,
            opened_by_month: stats.opened_by_month,
            closed_by_month: stats.closed_by_month,
        }
    }
}

/// `GET /v1/cases/{id}/history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// The case.
    pub case_id: Uuid,
    /// Its events, oldest first.
    #[schema(value_type = Vec<EnvelopeSchema>)]
    pub events: Vec<Envelope>,
    /// Extension (paged answers only, with `after_version` or `limit`): the `after_version` of
    /// the next page, or null when the history held nothing further when this page was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after_version: Option<Option<u64>>,
}

/// The `ETag` of a case at `version`: the version, quoted.
pub fn etag(version: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{version}\"")).ok()
}

/// The wire name of a period unit.
fn period_unit_name(unit: caseledger_domain::PeriodUnit) -> &'static str {
    match unit {
        caseledger_domain::PeriodUnit::WorkingDays => "working_days",
        caseledger_domain::PeriodUnit::CalendarDays => "calendar_days",
    }
}

/// The wire name of a period's start.
fn period_start_name(start: caseledger_domain::PeriodStart) -> &'static str {
    match start {
        caseledger_domain::PeriodStart::Issued => "issued",
        caseledger_domain::PeriodStart::Served => "served",
    }
}

/// A letter's PDF, as `GET /v1/cases/{id}/letters/{letter_id}/document` sends it.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PdfDocument(#[allow(dead_code, reason = "read by the OpenAPI derive only")] pub Vec<u8>);
