//! Webhook feeds in the service: the admin operations on endpoints, the partners' pull feed,
//! and the workers that build the feed and deliver it, over `caseledger-webhooks`.
//!
//! This module owns the role gates (admins manage endpoints; partner tokens pull their own
//! department's feed) and the glue that hands signed audit checkpoints to the feed. The state
//! it works on is built with the service (`webhook_parts`); everything about messages, signing,
//! ordering and retries lives in the webhooks crate.

use std::sync::Arc;
use std::time::Duration;

use caseledger_domain::{Rejection, Role};
use caseledger_webhooks::{
    AuditCheckpoint, Deliverer, FeedCursor, FeedProjection, Jitter, RandomJitter,
};
use tokio::sync::watch;
use uuid::Uuid;

pub use caseledger_webhooks::{
    message_types, parse_cidr, sign, AttemptOutcome, DeliveryAttempt, DeliveryConfig,
    DeliveryOutcome, EgressPolicy, EndpointStatus, EndpointView, EndpointWithSecret, FeedEntry,
    FeedPage, HostLookup, InvalidSchedule, IpNet, NewEndpoint, NoJitter, RetrySchedule, Secret,
    StaticLookup, DEFAULT_RETRY_SCHEDULE,
};

use crate::access::require_role;
use crate::app::App;
use crate::error::AppError;
use crate::tokens::Caller;
use crate::webhook_parts::{internal, webhook_error};

/// The most messages one page of the pull feed holds.
pub const MAX_FEED_PAGE: usize = 1_000;

/// How often the feed worker looks for new signed checkpoints when the log is quiet.
const CHECKPOINT_FORWARD_EVERY: Duration = Duration::from_secs(5);

/// How long the feed follower lets head moves gather before it steps.
const FEED_COALESCE: Duration = Duration::from_millis(20);

impl App {
    /// How webhooks are delivered.
    pub fn webhook_delivery(&self) -> DeliveryConfig {
        self.webhooks.delivery.clone()
    }

    /// The partner departments' feeds.
    pub fn webhook_feed(&self) -> &FeedProjection {
        &self.webhooks.feed
    }

    /// A delivery worker over this service's endpoints and feed, on its clock, with `jitter`.
    pub fn webhook_deliverer(
        self: &Arc<Self>,
        jitter: Arc<dyn Jitter>,
    ) -> Result<Arc<Deliverer>, AppError> {
        Deliverer::new(
            self.webhooks.registry.clone(),
            self.webhooks.feed.clone(),
            self.webhook_delivery(),
            self.clock(),
            jitter,
        )
        .map(Arc::new)
        .map_err(internal)
    }

    /// Registers a webhook endpoint (admins). The answer carries the secret, this once.
    pub async fn create_webhook(
        &self,
        caller: &Caller,
        input: NewEndpoint,
    ) -> Result<EndpointWithSecret, AppError> {
        require_role(caller, &[Role::Admin], "manage webhooks")?;
        // An internal IP literal is refused here, naming `url`; a name is checked each time it
        // is resolved for a delivery (the answer may change).
        let egress = self.webhook_delivery().egress;
        let valid = caseledger_webhooks::validate_endpoint(
            input,
            |department| self.policy().knows(department),
            &egress,
        )
        .map_err(Rejection::Invalid)?;
        // A new endpoint receives what the feed adds from now on; a replay brings history.
        let start = FeedCursor::after_position(self.webhooks.feed.position());
        let created = self
            .webhooks
            .registry
            .create(valid, start, self.now())
            .await
            .map_err(webhook_error)?;
        tracing::info!(
            webhook = %created.endpoint.id,
            department = %created.endpoint.department,
            "registered a webhook endpoint"
        );
        Ok(created)
    }

    /// Every webhook endpoint (admins).
    pub async fn list_webhooks(&self, caller: &Caller) -> Result<Vec<EndpointView>, AppError> {
        require_role(caller, &[Role::Admin], "manage webhooks")?;
        self.webhooks.registry.list().await.map_err(webhook_error)
    }

    /// One webhook endpoint (admins).
    pub async fn webhook(&self, caller: &Caller, id: Uuid) -> Result<EndpointView, AppError> {
        require_role(caller, &[Role::Admin], "manage webhooks")?;
        self.webhooks.registry.get(id).await.map_err(webhook_error)
    }

    /// Removes a webhook endpoint and its delivery log (admins).
    pub async fn delete_webhook(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<EndpointView, AppError> {
        require_role(caller, &[Role::Admin], "manage webhooks")?;
        self.webhooks
            .registry
            .delete(id)
            .await
            .map_err(webhook_error)
    }

    /// The endpoint's retained delivery attempts, newest first (admins).
    pub async fn webhook_deliveries(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Vec<DeliveryAttempt>, AppError> {
        require_role(caller, &[Role::Admin], "manage webhooks")?;
        self.webhooks
            .registry
            .attempts(id)
            .await
            .map_err(webhook_error)
    }

    /// Delivers the endpoint's feed again from log position `from_position` on (admins); a
    /// position past the log's next one is refused (`from_position`), as it would skip events.
    pub async fn replay_webhook(
        &self,
        caller: &Caller,
        id: Uuid,
        from_position: u64,
    ) -> Result<EndpointView, AppError> {
        require_role(caller, &[Role::Admin], "manage webhooks")?;
        // A replay from beyond the log's head would pass over the events still to come:
        // nothing is skipped, so it is refused.
        let head = self.storage.log.head().position.0;
        if from_position > head + 1 {
            return Err(AppError::Invalid {
                field: "from_position".into(),
                message: format!("must be at most {}, the log's next position", head + 1),
            });
        }
        let cursor = FeedCursor::after_position(from_position.saturating_sub(1));
        self.webhooks
            .registry
            .reset_cursor(id, cursor)
            .await
            .map_err(webhook_error)
    }

    /// Resumes a failing endpoint at the message it was paused at (admins).
    pub async fn resume_webhook(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<EndpointView, AppError> {
        require_role(caller, &[Role::Admin], "manage webhooks")?;
        self.webhooks
            .registry
            .resume(id)
            .await
            .map_err(webhook_error)
    }

    /// Gives the endpoint a new secret; the old one keeps signing for 24 hours (admins).
    pub async fn rotate_webhook_secret(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<EndpointWithSecret, AppError> {
        require_role(caller, &[Role::Admin], "manage webhooks")?;
        self.webhooks
            .registry
            .rotate_secret(id, self.now())
            .await
            .map_err(webhook_error)
    }

    /// A page of the caller's department's feed after log position `after` (partner tokens):
    /// exactly the messages its webhooks carry, in the same order.
    pub async fn feed_page(
        &self,
        caller: &Caller,
        after: u64,
        limit: usize,
    ) -> Result<FeedPage, AppError> {
        require_role(caller, &[Role::Partner], "read a department's feed")?;
        let department = caller
            .department
            .as_ref()
            .ok_or_else(|| AppError::Forbidden("a partner token needs a department".into()))?;
        self.webhooks
            .feed
            .page(department, after, limit.clamp(1, MAX_FEED_PAGE))
            .await
            .map_err(webhook_error)
    }

    /// Hands every signed checkpoint the feed has not yet carried, up to the feed's position,
    /// to the feed; returns how many. Checkpoints live in their own keyspace, so a crash
    /// between signing and forwarding loses nothing: the next call forwards it.
    pub async fn forward_checkpoints(&self) -> Result<usize, AppError> {
        let Some(public_key) = self.public_key() else {
            return Ok(0);
        };
        let feed = &self.webhooks.feed;
        let mut forwarded = 0;
        loop {
            let after = feed.subscribe().borrow().audit_checkpoint;
            let checkpoints = self.checkpoints(after, 100).await?;
            if checkpoints.is_empty() {
                return Ok(forwarded);
            }
            for checkpoint in checkpoints {
                // A checkpoint follows the events it covers in every feed.
                if checkpoint.position.0 > feed.position() {
                    return Ok(forwarded);
                }
                let pushed = feed
                    .push_checkpoint(&AuditCheckpoint {
                        position: checkpoint.position.0,
                        hash: checkpoint.hash.to_hex(),
                        at: checkpoint.at.clone(),
                        signature: checkpoint.signature.clone(),
                        public_key: public_key.clone(),
                    })
                    .await
                    .map_err(webhook_error)?;
                forwarded += usize::from(pushed);
            }
        }
    }

    /// Builds the feed from the log and forwards signed checkpoints into it, until `shutdown`
    /// turns true.
    pub async fn run_feed_until_stopped(&self, mut shutdown: watch::Receiver<bool>) {
        let log = Arc::clone(&self.storage.log);
        let mut heads = log.subscribe();
        let mut signed = self.signed_checkpoints.subscribe();
        // Forwarding reads the checkpoints from the store; it runs when this process signed
        // one the feed has not carried yet, and otherwise every few seconds (checkpoints from
        // before this process led, or one that waited for the feed to reach its position).
        let mut last_forward: Option<tokio::time::Instant> = None;
        loop {
            heads.borrow_and_update();
            if let Err(error) = self.webhooks.feed.catch_up(log.as_ref()).await {
                tracing::error!(%error, "the webhook feed failed a step; retrying");
            }
            let newest_signed = *signed.borrow_and_update();
            let carried = self.webhooks.feed.subscribe().borrow().audit_checkpoint;
            let forward_due = newest_signed > carried
                || last_forward.is_none_or(|at| at.elapsed() >= CHECKPOINT_FORWARD_EVERY);
            if forward_due {
                if let Err(error) = self.forward_checkpoints().await {
                    tracing::warn!(%error, "forwarding checkpoints to the webhook feed failed");
                }
                last_forward = Some(tokio::time::Instant::now());
            }
            let lag = log
                .head()
                .position
                .0
                .saturating_sub(self.webhooks.feed.position());
            metrics::gauge!("caseledger_projection_lag_events", "projection" => "feed")
                .set(lag as f64);
            tokio::select! {
                changed = heads.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // Partners wait seconds, not milliseconds: let group commits gather.
                    tokio::time::sleep(FEED_COALESCE).await;
                }
                _ = signed.changed() => {}
                () = tokio::time::sleep(CHECKPOINT_FORWARD_EVERY) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Re-reads the webhook feed and the endpoints from the store (what another instance on
    /// the same database wrote), before this instance starts delivering.
    pub async fn reload_webhooks(&self) -> Result<(), AppError> {
        self.webhooks.feed.reload().await.map_err(webhook_error)?;
        self.webhooks
            .registry
            .reload()
            .await
            .map_err(webhook_error)?;
        Ok(())
    }

    /// Re-reads the webhook endpoints and their states from the store.
    pub(crate) async fn reload_webhook_endpoints(&self) -> Result<(), AppError> {
        self.webhooks
            .registry
            .reload()
            .await
            .map_err(webhook_error)?;
        Ok(())
    }

    /// Runs the feed worker and the delivery worker until `shutdown` turns true.
    pub(crate) fn spawn_webhook_workers(
        self: &Arc<Self>,
        shutdown: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let feed = {
            let app = Arc::clone(self);
            let shutdown = shutdown.clone();
            tokio::spawn(async move { app.run_feed_until_stopped(shutdown).await })
        };
        let mut handles = vec![feed];
        match self.webhook_deliverer(Arc::new(RandomJitter)) {
            Ok(deliverer) => {
                let shutdown = shutdown.clone();
                handles.push(tokio::spawn(deliverer.run_until_stopped(shutdown)));
            }
            Err(error) => {
                tracing::error!(%error, "cannot start webhook delivery; webhooks will not be sent")
            }
        }
        handles
    }
}
