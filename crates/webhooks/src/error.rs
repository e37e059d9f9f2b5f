//! Why a webhook operation failed: one error for the endpoints, the feed and delivery.

use caseledger_store::StoreError;

/// Why a webhook operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such endpoint.
    #[error("no such webhook endpoint")]
    NotFound,
    /// Other instances kept changing the endpoint while this change was being written.
    #[error("the webhook endpoint is being changed elsewhere; try again")]
    Busy,
    /// Stored webhook state cannot be read.
    #[error("webhook state is corrupt: {0}")]
    Corrupt(String),
    /// An in-memory lock was poisoned by a panic.
    #[error("webhook state was poisoned by a panic")]
    Poisoned,
    /// The HTTP client could not be built or used.
    #[error("the webhook HTTP client failed: {0}")]
    Client(String),
}
