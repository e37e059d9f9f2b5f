//! The webhook parts [`App`](crate::App) holds — the endpoint registry, the partner
//! departments' feed and the delivery settings — loaded when the service is built, and the
//! mapping of webhook errors to [`AppError`].
//!
//! The operations on them (admin, pull feed, workers) are in `webhooks`; this module only
//! holds and loads the state, so that the `App` struct can own it without knowing those
//! operations.

use caseledger_domain::Policy;
use caseledger_webhooks::{DeliveryConfig, FeedProjection, Registry, WebhookError};

use crate::error::AppError;
use crate::storage::Storage;

/// The webhook parts of the service.
#[derive(Debug)]
pub(crate) struct Webhooks {
    pub(crate) registry: Registry,
    pub(crate) feed: FeedProjection,
    pub(crate) delivery: DeliveryConfig,
}

impl Webhooks {
    /// Loads the endpoints and the feed from `storage`; every department of `policy` receives
    /// audit checkpoints. Deliveries follow `delivery`.
    pub(crate) async fn load(
        storage: &Storage,
        policy: &Policy,
        delivery: DeliveryConfig,
    ) -> Result<Webhooks, AppError> {
        let registry = Registry::load_fenced(
            storage.webhook_endpoints.clone(),
            storage.webhook_state.clone(),
            // The deliverer's cursor writes: only the leader's, refused once it lost the lease.
            storage.webhook_state.fenced_by(storage.leader.clone()),
        )
        .await
        .map_err(internal)?;
        let feed = FeedProjection::load(storage.feed.clone(), policy.departments.iter().cloned())
            .await
            .map_err(internal)?;
        Ok(Webhooks {
            registry,
            feed,
            delivery,
        })
    }
}

/// A webhook failure the caller can do nothing about.
pub(crate) fn internal(error: WebhookError) -> AppError {
    AppError::Internal(error.into())
}

/// A webhook failure as the service reports it: a missing endpoint is `NotFound`, a busy one
/// `Unavailable`, a store failure the store's error.
pub(crate) fn webhook_error(error: WebhookError) -> AppError {
    match error {
        WebhookError::NotFound => AppError::NotFound("webhook".into()),
        WebhookError::Busy => AppError::Unavailable {
            reason: WebhookError::Busy.to_string(),
            retry_after_seconds: 1,
        },
        WebhookError::Store(store) => store.into(),
        other => internal(other),
    }
}
