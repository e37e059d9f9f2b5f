//! `/v1/cases`: opening a case, reading it (now or as it stood), and its history.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use caseledger_app::TimeTravel;
use caseledger_domain::Role;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::{ApiQuery, Authenticated, CaseIdParam, CasePath, CommandInput};
use crate::openapi::{CommandProblems, ReadProblems};
use crate::types::{CaseResponse, CommandResponse, HistoryResponse, OpenCaseRequest};
use crate::AppState;

/// The case routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases", post(open_case))
        .route("/v1/cases/{id}", get(get_case))
        .route("/v1/cases/{id}/history", get(case_history))
}

/// Read-your-writes: wait for the log to include a position before answering.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Answer only once the view includes this log position (from a command's response), or
    /// 503 with `Retry-After` after a short wait.
    #[serde(default)]
    pub min_position: Option<u64>,
}

/// Which state of the case to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// The case as it stood right after this version.
    #[serde(default)]
    pub at_version: Option<u64>,
    /// The case as it stood at this instant (RFC 3339).
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
    /// Read-your-writes (see `ReadQuery`).
    #[serde(default)]
    pub min_position: Option<u64>,
}

/// Waits for `min_position`, bounded by the configured read wait.
pub async fn wait_for(state: &AppState, min_position: Option<u64>) -> Result<(), ApiError> {
    if let Some(position) = min_position {
        state
            .app
            .wait_for_position(position, state.config.read_wait)
            .await?;
    }
    Ok(())
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

fn etag(version: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{version}\"")).ok()
}

/// Opens a case. The complainant's details are validated (resident ID check characters and
/// birth date), sealed with a key of the case's own, and never logged.
///
/// Roles: admin, supervisor, officer. Only supervisors and admins may use
/// `employer.credit_code_unverified`.
#[utoipa::path(post, path = "/v1/cases", tag = "cases", security(("bearer" = [])),
    request_body = OpenCaseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe retries: the same key and body return the first answer; another body → 422.")),
    responses((status = 201, description = "Opened; `Location` names the case, `ETag` its version.", body = CommandResponse), CommandProblems))]
pub async fn open_case(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    input: CommandInput<OpenCaseRequest>,
) -> Result<CommandReply, ApiError> {
    let open = input.body.into_input()?;
    let outcome = state
        .app
        .open_case(&caller, open, input.idempotency)
        .await?;
    Ok(CommandReply {
        status: StatusCode::CREATED,
        body: outcome.into(),
    })
}

/// A case as it stands, or as it stood (`at_version`, `as_of`), with the chain point of its
/// last event. Complainant details are shown to admins, supervisors and officers only; partner
/// departments see only cases shared with them, without internal notes.
///
/// Roles: all.
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(CaseIdParam, CaseQuery),
    responses((status = 200, description = "The case; `ETag` is its version.", body = CaseResponse), ReadProblems))]
pub async fn get_case(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    ApiQuery(query): ApiQuery<CaseQuery>,
) -> Result<Response, ApiError> {
    let at = match (query.at_version, query.as_of) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "use at_version or as_of, not both",
                Some(("as_of", "cannot be combined with at_version".into())),
            ))
        }
        (Some(0), None) => return Err(ApiError::not_found("case")),
        (Some(version), None) => TimeTravel::AtVersion(version),
        (None, Some(instant)) => TimeTravel::AsOf(instant),
        (None, None) => TimeTravel::Latest,
    };
    wait_for(&state, query.min_position).await?;
    let view = state.app.case(&caller, id, at).await?;
    let version = view.case.version;
    let body = CaseResponse::new(view, caller.role != Role::Partner);
    let mut response = Json(body).into_response();
    if let Some(etag) = etag(version) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// The case's events, oldest first, each in the hash-chained envelope. Partner departments see
/// the events from the one that shared the case with them on.
///
/// Roles: all (partners: shared cases only).
#[utoipa::path(get, path = "/v1/cases/{id}/history", tag = "cases", security(("bearer" = [])),
    params(CaseIdParam, ReadQuery),
    responses((status = 200, description = "The history.", body = HistoryResponse), ReadProblems))]
pub async fn case_history(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<HistoryResponse>, ApiError> {
    wait_for(&state, query.min_position).await?;
    let events = state.app.history(&caller, id).await?;
    Ok(Json(HistoryResponse {
        case_id: id.0,
        events,
    }))
}
