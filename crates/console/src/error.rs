//! What can go wrong with a console request, and which page tells it: [`ConsoleError`] and its
//! [`Problem`] (status, title and message keys of the catalogs, the service's own detail). The
//! app's refusals are told in an officer's words: each maps to a message key (`problem-…`),
//! with the service's own detail beneath for the curious. The page itself is rendered by
//! `problems.rs`, which knows the visitor's language.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use caseledger_app::{AppError, UploadRefusal};
use caseledger_domain::Rejection;
use serde::Serialize;

/// Why a console request was not answered with its page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: go to the sign-in page, and come back to `next` after.
    #[error("sign-in needed")]
    SignInNeeded {
        /// The path and query asked for.
        next: String,
    },
    /// A form whose token or origin is not the console's own (a cross-site request).
    #[error("forged form")]
    ForgedForm,
    /// A form body that is not a form, or lacks what it must hold.
    #[error("bad form")]
    BadForm,
    /// A form body over the limit.
    #[error("form too large")]
    FormTooLarge,
    /// A page that does not exist.
    #[error("page not found")]
    PageNotFound,
    /// The app refused or failed.
    #[error(transparent)]
    App(#[from] AppError),
}

/// What the problem page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// The catalog key of the title.
    pub title_key: &'static str,
    /// The catalog key of the explanation.
    pub message_key: &'static str,
    /// The service's own words (English), when they add something.
    pub detail: Option<String>,
}

/// The catalog key that tells a refusal of the domain in an officer's words.
pub fn rejection_key(rejection: &Rejection) -> &'static str {
    match rejection {
        Rejection::Invalid(_) => "problem-invalid",
        Rejection::Forbidden { .. } => "problem-forbidden",
        Rejection::NotFound { .. } => "problem-not-found",
        Rejection::Conflict { .. } => "problem-rule",
    }
}

impl ConsoleError {
    /// The page this problem is shown as.
    pub fn problem(&self) -> Problem {
        let (status, title_key, message_key, detail) = match self {
            ConsoleError::SignInNeeded { .. } => (
                StatusCode::UNAUTHORIZED,
                "problem-sign-in-title",
                "problem-sign-in",
                None,
            ),
            ConsoleError::ForgedForm => (
                StatusCode::FORBIDDEN,
                "problem-forged-title",
                "problem-forged",
                None,
            ),
            ConsoleError::BadForm => (
                StatusCode::BAD_REQUEST,
                "problem-bad-form-title",
                "problem-bad-form",
                None,
            ),
            ConsoleError::FormTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "problem-bad-form-title",
                "problem-form-too-large",
                None,
            ),
            ConsoleError::PageNotFound => (
                StatusCode::NOT_FOUND,
                "problem-not-found-title",
                "problem-page-not-found",
                None,
            ),
            ConsoleError::App(error) => match error {
                AppError::Rejected(rejection) => {
                    let status = match rejection {
                        Rejection::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                        Rejection::Forbidden { .. } => StatusCode::FORBIDDEN,
                        Rejection::NotFound { .. } => StatusCode::NOT_FOUND,
                        Rejection::Conflict { .. } => StatusCode::CONFLICT,
                    };
                    (
                        status,
                        "problem-refused-title",
                        rejection_key(rejection),
                        Some(rejection.to_string()),
                    )
                }
                AppError::NotFound(_) => (
                    StatusCode::NOT_FOUND,
                    "problem-not-found-title",
                    "problem-not-found",
                    None,
                ),
                AppError::Forbidden(reason) => (
                    StatusCode::FORBIDDEN,
                    "problem-refused-title",
                    "problem-forbidden",
                    Some(reason.clone()),
                ),
                AppError::Invalid { field, message } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "problem-refused-title",
                    "problem-invalid",
                    Some(format!("{field}: {message}")),
                ),
                AppError::PreconditionFailed { .. } => (
                    StatusCode::PRECONDITION_FAILED,
                    "problem-stale-title",
                    "problem-stale",
                    None,
                ),
                AppError::Conflict(detail) => (
                    StatusCode::CONFLICT,
                    "problem-refused-title",
                    "problem-conflict",
                    Some(detail.clone()),
                ),
                AppError::IdempotencyKeyReused => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "problem-refused-title",
                    "problem-resubmitted",
                    None,
                ),
                AppError::SignInRefused => (
                    StatusCode::UNAUTHORIZED,
                    "problem-sign-in-title",
                    "sign-in-refused",
                    None,
                ),
                AppError::SignInLocked { .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "problem-sign-in-title",
                    "sign-in-locked",
                    None,
                ),
                AppError::Upload(refusal) => (
                    match refusal {
                        UploadRefusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                        UploadRefusal::UnsupportedType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        UploadRefusal::CutShort(_) => StatusCode::BAD_REQUEST,
                    },
                    "problem-refused-title",
                    match refusal {
                        UploadRefusal::TooLarge { .. } => "problem-file-too-large",
                        UploadRefusal::UnsupportedType { .. } => "problem-file-type",
                        UploadRefusal::CutShort(_) => "problem-file-cut-short",
                    },
                    Some(refusal.to_string()),
                ),
                AppError::Gone(detail) => (
                    StatusCode::GONE,
                    "problem-refused-title",
                    "problem-file-erased",
                    Some(detail.clone()),
                ),
                AppError::Unavailable { .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "problem-unavailable-title",
                    "problem-unavailable",
                    None,
                ),
                AppError::Internal(cause) => {
                    tracing::error!(error = %format!("{cause:#}"), "a console request failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "problem-internal-title",
                        "problem-internal",
                        None,
                    )
                }
            },
        };
        Problem {
            status: status.as_u16(),
            title_key,
            message_key,
            detail,
        }
    }
}

/// The marker a problem's response carries until [`render_problems`] renders it.
#[derive(Debug, Clone)]
pub(crate) struct ProblemToRender(pub(crate) Problem);

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if let ConsoleError::SignInNeeded { next } = &self {
            let next = if next.starts_with("/console/") && !next.starts_with("/console/sign-") {
                next.as_str()
            } else {
                "/console/"
            };
            let target = format!("/console/sign-in?next={}", form_urlencoded_component(next));
            return Redirect::to(&target).into_response();
        }
        let problem = self.problem();
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = status.into_response();
        response.extensions_mut().insert(ProblemToRender(problem));
        response
    }
}

/// `text` as a query component.
pub fn form_urlencoded_component(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|pair| pair.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}
