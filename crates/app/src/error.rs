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
    /// The thing conflicts with one that exists (an account's login is taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A sign-in was refused: unknown login, wrong password, an account not set up or disabled
    /// (one answer for all, so a refusal tells nothing of which).
    #[error("the login or the password is wrong")]
    SignInRefused,
    /// Too many failed sign-ins for one login: it is locked for a while, whatever the password.
    #[error("too many failed sign-ins; locked for {retry_after_seconds} s")]
    SignInLocked {
        /// Seconds until the lock ends.
        retry_after_seconds: u64,
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
    /// An upload was refused; nothing of it was recorded or kept.
    #[error(transparent)]
    Upload(#[from] UploadRefusal),
    /// The thing was recorded, but what it held is gone for good (410): a personal file of a
    /// case whose personal data was erased. Its record and SHA-256 stay.
    #[error("{0}")]
    Gone(String),
    /// Something failed inside the service; the cause goes to the logs, never to the client.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadRefusal {
    /// Longer than the service takes (413): told by `Content-Length` before reading, or noticed
    /// while streaming.
    #[error("the file is larger than the {limit} bytes this service takes (--attachment-max)")]
    TooLarge {
        /// The most bytes a file may have.
        limit: u64,
    },
    /// Of a type the service does not take (415), as detected from its bytes.
    #[error(
        "the file's bytes are {}, which this service does not take; it takes {}",
        detected.as_deref().unwrap_or("of no type it recognises"),
        accepted.join(", ")
    )]
    UnsupportedType {
        /// The type detected, when one was.
        detected: Option<String>,
        /// The types taken.
        accepted: Vec<String>,
    },
    /// The body ended with an error before its end (the client went away): 400.
    #[error("the upload was cut short: {0}")]
    CutShort(String),
}

impl UploadRefusal {
    /// The reason's label for metrics: `too_large`, `unsupported_type` or `cut_short`.
    pub fn reason(&self) -> &'static str {
        match self {
            UploadRefusal::TooLarge { .. } => "too_large",
            UploadRefusal::UnsupportedType { .. } => "unsupported_type",
            UploadRefusal::CutShort(_) => "cut_short",
        }
    }
}

impl From<caseledger_store::StoreError> for AppError {
    fn from(error: caseledger_store::StoreError) -> Self {
        if matches!(
            error,
            caseledger_store::StoreError::Unavailable(_) | caseledger_store::StoreError::Closed
        ) {
            tracing::warn!(%error, "the store is unavailable");
        }
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
            caseledger_store::StoreError::Unavailable(_) | caseledger_store::StoreError::Closed => {
                AppError::Unavailable {
                    reason: STORE_UNAVAILABLE.into(),
                    retry_after_seconds: STORE_RETRY_AFTER_SECONDS,
                }
            }
            other => AppError::Internal(other.into()),
        }
    }
}

/// What a client is told while the store cannot be reached (the cause goes to the logs).
pub const STORE_UNAVAILABLE: &str =
    "the store cannot be reached right now (the database may be restarting); retry shortly — a \
     command sent with an Idempotency-Key is applied at most once however often it is retried";

/// How soon to retry while the store cannot be reached: it usually comes back within seconds.
pub const STORE_RETRY_AFTER_SECONDS: u64 = 2;

impl AppError {
    /// This error, with an internal failure whose cause is the store being unreachable (a
    /// [`caseledger_store::StoreError::is_unavailable`] anywhere in its chain, also inside the
    /// projection's and the webhooks' errors) turned into [`AppError::Unavailable`]: a lost
    /// database is a `503`, never a `500`, whichever path met it.
    pub fn classified(self) -> AppError {
        match self {
            AppError::Internal(cause) => match unavailable_store_error(&cause) {
                Some(store) => {
                    tracing::warn!(error = %format!("{cause:#}"), "the store is unavailable");
                    AppError::from(clone_store_error(store))
                }
                None => AppError::Internal(cause),
            },
            other => other,
        }
    }
}

/// The first unavailable store error in the chain of `cause`.
fn unavailable_store_error(cause: &anyhow::Error) -> Option<&caseledger_store::StoreError> {
    cause.chain().find_map(|link| {
        let store = link
            .downcast_ref::<caseledger_store::StoreError>()
            .or_else(|| match link.downcast_ref() {
                Some(caseledger_projections::ProjectionError::Store(store)) => Some(store),
                _ => None,
            })
            .or_else(|| match link.downcast_ref() {
                Some(caseledger_webhooks::WebhookError::Store(store)) => Some(store),
                _ => None,
            })?;
        store.is_unavailable().then_some(store)
    })
}

/// An unavailable store error again (store errors are not `Clone`).
fn clone_store_error(error: &caseledger_store::StoreError) -> caseledger_store::StoreError {
    use caseledger_store::StoreError;
    match error {
        StoreError::Poisoned(reason) => StoreError::Poisoned(reason.clone()),
        StoreError::InsufficientSpace {
            free_bytes,
            reserve_bytes,
        } => StoreError::InsufficientSpace {
            free_bytes: *free_bytes,
            reserve_bytes: *reserve_bytes,
        },
        StoreError::Closed => StoreError::Closed,
        other => StoreError::Unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caseledger_store::StoreError;

    #[test]
    fn an_unreachable_store_is_unavailable_wherever_it_surfaces() {
        let direct = AppError::from(StoreError::Unavailable("connection refused".into()));
        assert!(matches!(
            direct,
            AppError::Unavailable {
                retry_after_seconds: STORE_RETRY_AFTER_SECONDS,
                ..
            }
        ));
        // Inside the projection's error, behind a context.
        let projection = AppError::Internal(
            anyhow::Error::from(caseledger_projections::ProjectionError::Store(
                StoreError::Unavailable("the database is starting up".into()),
            ))
            .context("reading a case row"),
        );
        assert!(matches!(
            projection.classified(),
            AppError::Unavailable { .. }
        ));
        // Inside the webhooks' error.
        let webhook =
            AppError::Internal(caseledger_webhooks::WebhookError::Store(StoreError::Closed).into());
        assert!(matches!(webhook.classified(), AppError::Unavailable { .. }));
        // A failed sync of the embedded store keeps its own answer.
        let stopped = AppError::Internal(StoreError::Poisoned("fdatasync failed".into()).into());
        assert!(matches!(
            stopped.classified(),
            AppError::Unavailable {
                retry_after_seconds: 30,
                ..
            }
        ));
        // Anything else stays internal.
        let broken = AppError::Internal(StoreError::Storage("a bad row".into()).into());
        assert!(matches!(broken.classified(), AppError::Internal(_)));
        let refused = AppError::Internal(
            StoreError::Fenced {
                lease: "leader".into(),
            }
            .into(),
        );
        assert!(matches!(refused.classified(), AppError::Internal(_)));
    }
}
