//! Every failure of the API as an RFC 9457 `application/problem+json` response.
//!
//! [`ApiError`] maps each app and domain outcome to a status and a problem body. Details of
//! internal failures go to `tracing`, never to the client. [`ReadProblems`],
//! [`CommandProblems`] and [`ListProblems`] document those answers in the OpenAPI operations.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use caseledger_app::{AppError, UploadRefusal};
use caseledger_domain::{FieldError, Rejection};
use serde::Serialize;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response as ResponseDoc, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` or a caseledger problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// The broken rule, for 409s (e.g. `case_closed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Each invalid field, for 400s and 422s.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field, as a JSON path (`employer.credit_code`, `departments[1]`) or a header or
    /// query parameter name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl From<FieldError> for ProblemField {
    fn from(error: FieldError) -> Self {
        ProblemField {
            field: error.field,
            message: error.message,
        }
    }
}

/// An error answer of the API (boxed: errors travel in every `Result` of the handlers).
#[derive(Debug)]
pub struct ApiError(Box<ErrorDetails>);

#[derive(Debug)]
struct ErrorDetails {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    rule: Option<String>,
    errors: Vec<ProblemField>,
    retry_after_seconds: Option<u64>,
    current_version: Option<u64>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError(Box::new(ErrorDetails {
            status,
            slug,
            title,
            detail: detail.into(),
            rule: None,
            errors: Vec::new(),
            retry_after_seconds: None,
            current_version: None,
        }))
    }

    /// 400: the request could not be read (malformed JSON, wrong content type, bad header).
    pub fn bad_request(detail: impl Into<String>, field: Option<(&str, String)>) -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        );
        if let Some((field, message)) = field {
            error.0.errors.push(ProblemField {
                field: field.into(),
                message,
            });
        }
        error
    }

    /// 400 naming several bad parameters.
    pub fn bad_request_fields(detail: impl Into<String>, errors: Vec<ProblemField>) -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        );
        error.0.errors = errors;
        error
    }

    /// 422: well-formed but invalid fields.
    pub fn invalid(errors: Vec<ProblemField>) -> Self {
        let detail = errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "Invalid input",
            detail,
        );
        error.0.errors = errors;
        error
    }

    /// 401: no valid token.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no such {what}, or it is not visible to this token"),
        )
    }

    /// 405: the path exists, but not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this method is not allowed here",
        )
    }

    /// 413: the body exceeds the limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 416: a byte range outside a file of `size` bytes.
    pub fn range_not_satisfiable(size: u64) -> Self {
        Self::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range-not-satisfiable",
            "Range not satisfiable",
            format!("the range asked for lies outside the file's {size} bytes"),
        )
    }

    /// 408: the client did not send the whole body in time.
    pub fn body_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            format!(
                "the request body did not arrive within {} ms",
                limit.as_millis()
            ),
        )
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>, retry_after_seconds: u64) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        );
        error.0.retry_after_seconds = Some(retry_after_seconds);
        error
    }

    /// 429 with `Retry-After` (whole seconds, at least 1): the caller is over a rate or a
    /// bound on concurrent work.
    pub fn too_many_requests(detail: impl Into<String>, wait: std::time::Duration) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            detail,
        );
        error.0.retry_after_seconds = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        error
    }

    /// 500: the cause is logged here and not shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the service failed; the cause is in its logs",
        )
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let details = &self.0;
        Problem {
            kind: format!("https://caseledger.invalid/problems/{}", details.slug),
            title: details.title.into(),
            status: details.status.as_u16(),
            detail: details.detail.clone(),
            rule: details.rule.clone(),
            errors: details.errors.clone(),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            Rejection::Invalid(errors) => {
                ApiError::invalid(errors.into_iter().map(ProblemField::from).collect())
            }
            Rejection::Forbidden { reason } => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", reason)
            }
            Rejection::NotFound { what } => ApiError::not_found(&what),
            Rejection::Conflict { rule, detail } => {
                let mut error = ApiError::new(
                    StatusCode::CONFLICT,
                    "rule-broken",
                    "Not allowed in the case's current state",
                    format!("{rule}: {detail}"),
                );
                error.0.rule = Some(rule.code().into());
                error
            }
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        // A store that cannot be reached is a 503, whichever path met it (contract: never a
        // 500 for a lost database).
        match error.classified() {
            AppError::Rejected(rejection) => rejection.into(),
            AppError::NotFound(what) => ApiError::not_found(&what),
            AppError::Forbidden(reason) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", reason)
            }
            AppError::Invalid { field, message } => {
                ApiError::invalid(vec![ProblemField { field, message }])
            }
            AppError::PreconditionFailed { expected, current } => {
                let mut error = ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "stale-version",
                    "Precondition failed",
                    format!(
                        "If-Match names version {expected}, but the case is at version {current}"
                    ),
                );
                error.0.current_version = Some(current);
                error
            }
            AppError::Conflict(detail) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
            }
            AppError::SignInRefused => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "sign-in-refused",
                "Sign-in refused",
                "the login or the password is wrong".to_owned(),
            ),
            AppError::SignInLocked {
                retry_after_seconds,
            } => {
                let mut error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "sign-in-locked",
                    "Too many failed sign-ins",
                    format!(
                        "this login is locked after repeated failed sign-ins; try again in {}                          minutes",
                        retry_after_seconds.div_ceil(60)
                    ),
                );
                error.0.retry_after_seconds = Some(retry_after_seconds);
                error
            }
            AppError::IdempotencyKeyReused => ApiError::invalid(vec![ProblemField {
                field: "Idempotency-Key".into(),
                message: "this key was used before with a different request".into(),
            }]),
            AppError::Unavailable {
                reason,
                retry_after_seconds,
            } => ApiError::unavailable(reason, retry_after_seconds),
            AppError::Upload(refusal) => {
                let detail = refusal.to_string();
                match refusal {
                    UploadRefusal::TooLarge { .. } => ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload-too-large",
                        "Payload too large",
                        detail,
                    ),
                    UploadRefusal::UnsupportedType { .. } => {
                        let mut error = ApiError::new(
                            StatusCode::UNSUPPORTED_MEDIA_TYPE,
                            "unsupported-media-type",
                            "Unsupported media type",
                            detail.clone(),
                        );
                        error.0.errors.push(ProblemField {
                            field: "body".into(),
                            message: detail,
                        });
                        error
                    }
                    UploadRefusal::CutShort(_) => ApiError::bad_request(detail, None),
                }
            }
            AppError::Gone(detail) => ApiError::new(StatusCode::GONE, "erased", "Erased", detail),
            AppError::Internal(cause) => ApiError::internal(&format!("{cause:#}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.0.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.0.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(version) = self.0.current_version {
            if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
                headers.insert(header::ETAG, value);
            }
        }
        response
    }
}

fn problem_responses(statuses: &[(u16, &str)]) -> BTreeMap<String, RefOr<ResponseDoc>> {
    statuses
        .iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// The problems a read can answer.
#[derive(Debug)]
pub struct ReadProblems;

impl IntoResponses for ReadProblems {
    fn responses() -> BTreeMap<String, RefOr<ResponseDoc>> {
        problem_responses(&[
            (
                400,
                "A query parameter is malformed (the parameter is named).",
            ),
            (401, "No token, or an unknown or revoked one."),
            (403, "The token's role may not do this."),
            (404, "No such thing, or not visible to this token."),
            (
                429,
                "The token (or, without a valid token, the client address) is over its rate, or \
                 runs as many whole-log reads (verify, export, statistics) as it may at once; \
                 see `Retry-After`.",
            ),
            (
                503,
                "`min_position` not reached in time, a search over its time budget, or the store \
                 cannot be reached right now (the database is restarting); see `Retry-After`.",
            ),
        ])
    }
}

/// The problems a command can answer.
#[derive(Debug)]
pub struct CommandProblems;

impl IntoResponses for CommandProblems {
    fn responses() -> BTreeMap<String, RefOr<ResponseDoc>> {
        problem_responses(&[
            (400, "Malformed JSON, wrong content type or a bad header."),
            (401, "No token, or an unknown or revoked one."),
            (403, "The token's role may not do this."),
            (404, "No such case or letter, or not visible to this token."),
            (409, "Not allowed in the case's current state; `rule` names the broken rule."),
            (412, "`If-Match` names a version the case has moved on from."),
            (413, "The body is over the size limit."),
            (422, "Invalid fields (each one named in `errors`), or an idempotency key reused with another body."),
            (429, "The token (or, without a valid token, the client address) is over its rate; see `Retry-After`."),
            (503, "The service cannot take writes now (the store cannot be reached, or it stopped, or its disk is nearly full); see `Retry-After`."),
        ])
    }
}

/// The problems a case list can answer: those of a read, and 422 for a search text over its
/// limits (`q`).
#[derive(Debug)]
pub struct ListProblems;

impl IntoResponses for ListProblems {
    fn responses() -> BTreeMap<String, RefOr<ResponseDoc>> {
        let mut responses = ReadProblems::responses();
        responses.extend(problem_responses(&[(
            422,
            "`q` has more than 16 distinct terms, or a term of more than 64 characters.",
        )]));
        responses
    }
}

/// The problems a proof can answer: those of a read, and 422 naming the position or tree size
/// that is outside the log (`/v1/audit/proof/*`).
#[derive(Debug)]
pub struct ProofProblems;

impl IntoResponses for ProofProblems {
    fn responses() -> BTreeMap<String, RefOr<ResponseDoc>> {
        let mut responses = ReadProblems::responses();
        responses.extend(problem_responses(&[(
            422,
            "A position or tree size outside the log, or `from` after `to`; the problem names \
             the parameter.",
        )]));
        responses
    }
}
