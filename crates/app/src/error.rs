//! The app's errors: business refusals pass through from the domain, the rest say what the
//! HTTP layer needs to choose a status. Internal failures carry their cause for the logs only.

use caseledger_domain::Rejection;

/// Why the app did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The domain refused the command (422, 403, 404 or 409 by its kind).
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The thing does not exist, or the caller may not know that it does.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller's role may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Input that is well-formed but wrong, outside the domain's own checks.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field, as a JSON path.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The case moved on since the version the caller saw (`If-Match`).
    #[error("the case is at version {current}, not {expected}")]
    PreconditionFailed {
        /// The version the caller sent.
        expected: u64,
        /// The version the case is at.
        current: u64,
    },
    /// The idempotency key was first used with a different request.
    #[error("the idempotency key was used before with a different request")]
    IdempotencyKeyReused,
    /// The service cannot answer now; try again later.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
        /// Seconds after which to retry.
        retry_after_seconds: u64,
    },
    /// Something failed inside the service; the cause goes to the logs, never to the client.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<caseledger_store::StoreError> for AppError {
    fn from(error: caseledger_store::StoreError) -> Self {
        match error {
            caseledger_store::StoreError::Poisoned(reason) => AppError::Unavailable {
                reason: format!("the event log stopped after a failed write: {reason}"),
                retry_after_seconds: 30,
            },
            caseledger_store::StoreError::InsufficientSpace {
                free_bytes,
                reserve_bytes,
            } => AppError::Unavailable {
                reason: format!(
                    "the disk is nearly full ({} MiB free, {} MiB kept in reserve): commands are \
                     refused until space is freed; nothing already recorded is affected and reads \
                     go on",
                    free_bytes / (1024 * 1024),
                    reserve_bytes / (1024 * 1024)
                ),
                retry_after_seconds: 60,
            },
            other => AppError::Internal(other.into()),
        }
    }
}
