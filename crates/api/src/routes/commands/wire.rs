//! The wire format of the case commands: one request type per command, and the answer every
//! command (and opening a case) gives, with the case's new version as its `ETag`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_app::CommandOutcome;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::routes::cases::wire::etag;
use crate::vocabulary::{letter_kind_schema, outcome_schema, service_method_schema, tier_schema};

/// `POST /v1/cases/{id}/assign`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The officer's name.
    pub officer: String,
}

/// `POST /v1/cases/{id}/findings`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingRequest {
    /// What the investigation found.
    pub summary: String,
    /// The hazard involved, e.g. `silica dust`.
    #[serde(default)]
    pub hazard: Option<String>,
}

/// `POST /v1/cases/{id}/letters`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterRequest {
    /// The kind of letter.
    #[schema(schema_with = letter_kind_schema)]
    pub kind: String,
    /// To whom it goes: the employer, or for a recommendation the department's office.
    pub recipient: String,
    /// The letter's text, with the itemised corrections.
    pub content: String,
    /// When the answer is due (RFC 3339, in the future). Left out: the kind's configured rule
    /// (default for opinion and recommendation letters: 15 working days from service, so no
    /// deadline until `…/service` is recorded).
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// The government department a recommendation letter goes to (required for
    /// recommendations, refused for the others); the case is shared with it.
    #[serde(default)]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub department: Option<String>,
}

/// `POST /v1/cases/{id}/letters/{letter_id}/response`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterResponseRequest {
    /// Whether the violation was corrected.
    pub rectified: bool,
    /// The answer's text.
    pub content: String,
}

/// `POST /v1/cases/{id}/letters/{letter_id}/service`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterServiceRequest {
    /// How the letter was served.
    #[schema(schema_with = service_method_schema)]
    pub method: String,
    /// When (RFC 3339): not in the future, not before the letter was issued. A deadline
    /// counted from service starts the next day in the office's time zone.
    pub served_at: DateTime<Utc>,
    /// Who received it, as the receipt (送达回执) says.
    #[serde(default)]
    pub received_by: Option<String>,
    /// Whether the recipient refused it; service still counts.
    #[serde(default)]
    pub refused: bool,
    /// The postal tracking number.
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// The case's attachment holding the receipt of service (送达回证), uploaded first with
    /// `POST /v1/cases/{id}/attachments`; 422 when the case has no such file (or it is
    /// withdrawn).
    #[serde(default)]
    pub receipt_attachment_id: Option<Uuid>,
}

/// `POST /v1/cases/{id}/letters/{letter_id}/follow-up`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// When the visit (回访) took place (RFC 3339): not in the future, not before the letter
    /// was issued.
    pub visited_at: DateTime<Utc>,
    /// What the visit found.
    pub findings: String,
    /// Whether the violation was found corrected.
    pub rectified: bool,
}

/// `POST /v1/cases/{id}/escalate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// The tier to escalate to; higher than the current one.
    #[schema(schema_with = tier_schema)]
    pub tier: String,
    /// Participating departments; the tier's configured members when left out.
    #[serde(default)]
    pub departments: Option<Vec<String>>,
    /// Why.
    pub reason: String,
}

/// `POST /v1/cases/{id}/refer`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferRequest {
    /// The partner department.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub department: String,
    /// Why.
    pub reason: String,
}

/// `POST /v1/cases/{id}/feedback` (partner departments).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// What the department did or found.
    pub content: String,
    /// The department's own outcome, free text (e.g. `case opened`, `award issued`).
    #[serde(default)]
    pub outcome: Option<String>,
}

/// `POST /v1/cases/{id}/notes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The note.
    pub text: String,
}

/// `POST /v1/cases/{id}/close`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// How the case ended.
    #[schema(schema_with = outcome_schema)]
    pub outcome: String,
    /// A closing summary.
    pub summary: String,
}

/// `POST /v1/cases/{id}/letters/{letter_id}/return` (supervisors).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLetterRequest {
    /// Why the draft goes back, for the officer who drafted it.
    pub reason: String,
}

/// `POST /v1/cases/{id}/reopen` (supervisors).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    /// Why.
    pub reason: String,
}

/// The answer to every command.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandResponse {
    /// The case.
    pub case_id: Uuid,
    /// The case's version after the command; send it as `If-Match` to build on this state.
    pub version: u64,
    /// The global log position of the last event written; pass it as `?min_position=` to
    /// read your own write.
    pub position: u64,
    /// The types of the events written.
    pub events: Vec<String>,
}

impl From<CommandOutcome> for CommandResponse {
    fn from(outcome: CommandOutcome) -> Self {
        CommandResponse {
            case_id: outcome.case_id.0,
            version: outcome.version,
            position: outcome.position,
            events: outcome.events,
        }
    }
}

/// A command's answer, with the case's new version as its `ETag`.
#[derive(Debug)]
pub struct CommandReply {
    /// 200, or 201 for a new case.
    pub status: StatusCode,
    /// The body.
    pub body: CommandResponse,
}

impl IntoResponse for CommandReply {
    fn into_response(self) -> Response {
        let etag = etag(self.body.version);
        let location = (self.status == StatusCode::CREATED)
            .then(|| HeaderValue::from_str(&format!("/v1/cases/{}", self.body.case_id)).ok())
            .flatten();
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(etag) = etag {
            response.headers_mut().insert(header::ETAG, etag);
        }
        if let Some(location) = location {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}
