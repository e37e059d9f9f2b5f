//! The delivery worker: POSTs each endpoint's feed, in order, signed, at least once.
//!
//! One step, [`Deliverer::try_deliver_next`], moves one endpoint by at most one message: it
//! reads the message after the endpoint's cursor, skips it if the endpoint's filter excludes
//! it, or sends it and records the attempt. A 2xx answer moves the cursor; anything else (a
//! non-2xx status, a timeout, a refused connection) schedules the next attempt on the retry
//! schedule, with jitter and `Retry-After`, and when the schedule is spent marks the endpoint
//! failing, paused at that message. [`Deliverer::run_until_stopped`] runs one lane per endpoint
//! over that step, so a slow or dead endpoint holds up no other; a semaphore bounds the requests
//! in flight across all lanes.
//!
//! Each attempt is signed afresh with the integer time of the attempt; the `webhook-id` is the
//! message's own, stable across retries and replays. Requests time out, redirects are not
//! followed (a 3xx is a failed attempt: following it would bypass the address check), no proxy
//! from the environment is used, and every address connected to passes the [`EgressPolicy`]
//! (names at connect time through the client's resolver, IP literals before each request).
//! At most a bounded prefix of a response body is read, and none of it is kept: an attempt's
//! log holds its status code and a generic reason, never what the receiver wrote. Cursor moves after a
//! delivery are written without waiting for the disk and synced when a lane runs dry; a crash
//! in between re-delivers (at least once), never skips. Clock and jitter are injected so tests
//! drive every decision.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use caseledger_domain::Clock;
use chrono::{DateTime, Utc};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::egress::{EgressPolicy, EgressRefusal, GuardedResolver, HostLookup, SystemLookup};
use crate::endpoint::{AttemptOutcome, DeliveryAttempt, DeliveryState, EndpointStatus, Registry};
use crate::error::WebhookError;
use crate::feed::{FeedCursor, FeedEntry, FeedProjection};
use crate::schedule::{parse_retry_after, RetrySchedule};
use crate::signing::signature_header;

/// How delivery behaves.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Delays before each attempt at one message.
    pub schedule: RetrySchedule,
    /// How long one request may take, answer included.
    pub timeout: Duration,
    /// How much of a response body is read at most.
    pub max_response_bytes: usize,
    /// How many requests may be in flight at once, over all endpoints.
    pub max_concurrent_requests: usize,
    /// Which addresses deliveries may reach, and whether they must use https.
    pub egress: EgressPolicy,
    /// How host names become addresses (before the policy filters them).
    pub lookup: Arc<dyn HostLookup>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(10),
            max_response_bytes: 64 * 1024,
            max_concurrent_requests: 16,
            egress: EgressPolicy::default(),
            lookup: Arc::new(SystemLookup),
        }
    }
}

/// Draws the jitter of a retry delay, a fraction in [-0.2, 0.2].
pub trait Jitter: Send + Sync + std::fmt::Debug {
    /// The next jitter fraction.
    fn draw(&self) -> f64;
}

/// Uniform jitter over ±20 %.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn draw(&self) -> f64 {
        use rand::Rng as _;
        rand::thread_rng().gen_range(-crate::schedule::MAX_JITTER..=crate::schedule::MAX_JITTER)
    }
}

/// No jitter: delays exactly as scheduled (tests, benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoJitter;

impl Jitter for NoJitter {
    fn draw(&self) -> f64 {
        0.0
    }
}

/// What one delivery step did for an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The message at this feed position was delivered (2xx); the cursor moved past it.
    Delivered {
        /// The message's log position.
        position: u64,
    },
    /// The message is of a type the endpoint does not receive; the cursor moved past it.
    Filtered {
        /// The message's log position.
        position: u64,
    },
    /// The attempt failed; the next one is due at `at`.
    RetryScheduled {
        /// When.
        at: DateTime<Utc>,
    },
    /// The attempt failed and the schedule is spent: the endpoint is now failing.
    Failed,
    /// An attempt is scheduled but not yet due.
    NotDue {
        /// When it is.
        at: DateTime<Utc>,
    },
    /// The endpoint is failing; it waits for a resume or a replay.
    Paused,
    /// Nothing to deliver: the endpoint has caught up with its feed.
    Idle,
    /// An admin changed the endpoint during the attempt; its result was dropped.
    Superseded,
    /// The endpoint no longer exists.
    Gone,
}

/// The answer to one request.
#[derive(Debug)]
struct Answer {
    status_code: Option<u16>,
    error: Option<String>,
    retry_after: Option<Duration>,
}

/// Delivers every endpoint's feed.
#[derive(Debug)]
pub struct Deliverer {
    registry: Registry,
    feed: FeedProjection,
    client: reqwest::Client,
    config: DeliveryConfig,
    clock: Arc<dyn Clock>,
    jitter: Arc<dyn Jitter>,
    permits: Arc<Semaphore>,
}

impl Deliverer {
    /// A worker over `registry` and `feed`.
    pub fn new(
        registry: Registry,
        feed: FeedProjection,
        config: DeliveryConfig,
        clock: Arc<dyn Clock>,
        jitter: Arc<dyn Jitter>,
    ) -> Result<Deliverer, WebhookError> {
        let resolver = GuardedResolver {
            lookup: Arc::clone(&config.lookup),
            policy: config.egress.clone(),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("caseledger-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| WebhookError::Client(error.to_string()))?;
        let permits = Arc::new(Semaphore::new(config.max_concurrent_requests.max(1)));
        Ok(Deliverer {
            registry,
            feed,
            client,
            config,
            clock,
            jitter,
            permits,
        })
    }

    /// Moves `endpoint` by at most one message.
    pub async fn try_deliver_next(&self, endpoint: Uuid) -> Result<DeliveryOutcome, WebhookError> {
        let Some(entry) = self.registry.entry(endpoint)? else {
            return Ok(DeliveryOutcome::Gone);
        };
        let (record, state) = {
            let entry = entry.lock().await;
            if entry.deleted {
                return Ok(DeliveryOutcome::Gone);
            }
            (entry.endpoint.clone(), entry.state.clone())
        };
        if state.status == EndpointStatus::Failing {
            return Ok(DeliveryOutcome::Paused);
        }
        let now = self.clock.now();
        if let Some(at) = state.next_attempt_at {
            if at > now {
                return Ok(DeliveryOutcome::NotDue { at });
            }
        }
        let Some(next) = self
            .feed
            .read_after(&record.department, &state.cursor, 1)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(DeliveryOutcome::Idle);
        };
        let label = endpoint.to_string();
        if !record.accepts(&next.message.kind) {
            let mut entry = entry.lock().await;
            if entry.deleted {
                return Ok(DeliveryOutcome::Gone);
            }
            if entry.state.generation != state.generation {
                return Ok(DeliveryOutcome::Superseded);
            }
            let moved = DeliveryState {
                cursor: FeedCursor::after(&next.key),
                ..state
            };
            if !self
                .registry
                .store_state(&mut entry, moved, None, false)
                .await?
            {
                return Ok(DeliveryOutcome::Superseded);
            }
            return Ok(DeliveryOutcome::Filtered {
                position: next.message.position,
            });
        }
        // The first attempt waits for the schedule's first delay when it is not zero.
        if state.attempts == 0 && state.next_attempt_at.is_none() {
            if let Some(delay) = self.first_delay() {
                let at = now + delay;
                let mut entry = entry.lock().await;
                if entry.deleted {
                    return Ok(DeliveryOutcome::Gone);
                }
                if entry.state.generation != state.generation {
                    return Ok(DeliveryOutcome::Superseded);
                }
                let waiting = DeliveryState {
                    next_attempt_at: Some(at),
                    ..state
                };
                if !self
                    .registry
                    .store_state(&mut entry, waiting, None, false)
                    .await?
                {
                    return Ok(DeliveryOutcome::Superseded);
                }
                return Ok(DeliveryOutcome::NotDue { at });
            }
        }

        let started_at = self.clock.now();
        let started = Instant::now();
        let answer = {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| WebhookError::Client("the request limiter closed".into()))?;
            let timestamp = self.clock.now().timestamp();
            let signature = signature_header(
                record.signing_secrets(started_at),
                &next.message.webhook_id,
                timestamp,
                next.message.body.as_bytes(),
            );
            self.send(&record.url, &next, timestamp, signature).await
        };
        let elapsed = started.elapsed();
        let delivered = answer.error.is_none();
        metrics::histogram!("caseledger_webhook_delivery_seconds", "endpoint" => label.clone())
            .record(elapsed.as_secs_f64());
        metrics::counter!(
            "caseledger_webhook_attempts_total",
            "endpoint" => label.clone(),
            "outcome" => if delivered { "delivered" } else { "failed" }
        )
        .increment(1);

        let attempt = DeliveryAttempt {
            at: started_at,
            webhook_id: next.message.webhook_id.clone(),
            kind: next.message.kind.clone(),
            position: next.message.position,
            attempt: state.attempts + 1,
            status_code: answer.status_code,
            latency_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            error: answer.error.clone(),
            outcome: if delivered {
                AttemptOutcome::Delivered
            } else {
                AttemptOutcome::Failed
            },
        };
        let mut entry = entry.lock().await;
        if entry.deleted {
            return Ok(DeliveryOutcome::Gone);
        }
        if entry.state.generation != state.generation {
            return Ok(DeliveryOutcome::Superseded);
        }
        if delivered {
            let moved = DeliveryState {
                cursor: FeedCursor::after(&next.key),
                attempts: 0,
                next_attempt_at: None,
                last_error: None,
                ..state
            };
            if !self
                .registry
                .store_state(&mut entry, moved, Some(attempt), false)
                .await?
            {
                return Ok(DeliveryOutcome::Superseded);
            }
            return Ok(DeliveryOutcome::Delivered {
                position: next.message.position,
            });
        }
        let attempts = state.attempts + 1;
        let now = self.clock.now();
        let next_delay = self
            .config
            .schedule
            .retry_delay(attempts as usize, self.jitter.draw());
        tracing::info!(
            endpoint = %endpoint,
            webhook_id = %next.message.webhook_id,
            attempt = attempts,
            error = answer.error.as_deref().unwrap_or_default(),
            "a webhook delivery failed"
        );
        let (failed_state, outcome) = match next_delay {
            Some(delay) => {
                let delay = match answer.retry_after {
                    Some(retry_after) if retry_after > delay => retry_after,
                    _ => delay,
                };
                let at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                (
                    DeliveryState {
                        attempts,
                        next_attempt_at: Some(at),
                        last_error: answer.error,
                        ..state
                    },
                    DeliveryOutcome::RetryScheduled { at },
                )
            }
            None => {
                tracing::warn!(
                    endpoint = %endpoint,
                    webhook_id = %next.message.webhook_id,
                    "the retry schedule is spent; the webhook endpoint is failing and paused at \
                     this message until it is resumed"
                );
                metrics::counter!("caseledger_webhook_failing_total", "endpoint" => label)
                    .increment(1);
                (
                    DeliveryState {
                        attempts,
                        next_attempt_at: None,
                        status: EndpointStatus::Failing,
                        last_error: answer.error,
                        ..state
                    },
                    DeliveryOutcome::Failed,
                )
            }
        };
        if !self
            .registry
            .store_state(&mut entry, failed_state, Some(attempt), true)
            .await?
        {
            return Ok(DeliveryOutcome::Superseded);
        }
        Ok(outcome)
    }

    fn first_delay(&self) -> Option<chrono::Duration> {
        let delay = self.config.schedule.retry_delay(0, self.jitter.draw())?;
        if delay.is_zero() {
            return None;
        }
        chrono::Duration::from_std(delay).ok()
    }

    async fn send(&self, url: &str, next: &FeedEntry, timestamp: i64, signature: String) -> Answer {
        let refused = |refusal: EgressRefusal| Answer {
            status_code: None,
            error: Some(refusal.to_string()),
            retry_after: None,
        };
        let url = match reqwest::Url::parse(url) {
            Ok(url) => url,
            Err(_) => {
                return Answer {
                    status_code: None,
                    error: Some("the endpoint's URL cannot be parsed".into()),
                    retry_after: None,
                }
            }
        };
        // reqwest resolves names through the guarded resolver but connects to IP literals
        // directly; the endpoint may also predate the current policy.
        if let Err(refusal) = self.config.egress.check_url(&url) {
            return refused(refusal);
        }
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &next.message.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(next.message.body.clone());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Answer {
                    status_code: None,
                    error: Some(describe(&error, self.config.timeout)),
                    retry_after: None,
                }
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        // Read a bounded prefix of the body, so the connection can be reused and a huge or
        // endless answer costs nothing. Its text is not kept: a receiver's answer may echo
        // anything (an internal page behind a redirect, a partner's error dump), and the
        // deliveries log is read by admins who need only the status.
        let mut read = 0usize;
        let mut body_error = None;
        while read < self.config.max_response_bytes {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) => break,
                Err(error) => {
                    body_error = Some(describe(&error, self.config.timeout));
                    break;
                }
            }
        }
        if status.is_success() {
            // A 2xx whose body then failed still delivered the message: the receiver said so.
            return Answer {
                status_code: Some(status.as_u16()),
                error: None,
                retry_after: None,
            };
        }
        let mut error = format!("HTTP {}", status.as_u16());
        if status.is_redirection() {
            error.push_str(": redirects are not followed");
        }
        if let Some(body_error) = body_error {
            error.push_str(&format!(" (reading the answer: {body_error})"));
        }
        Answer {
            status_code: Some(status.as_u16()),
            error: Some(error),
            retry_after,
        }
    }

    /// Moves one endpoint until it is idle, paused, waiting for a retry that is not yet due, or
    /// gone; returns that outcome. Tests use it to drain an endpoint without the run loop.
    pub async fn deliver_until_blocked(
        &self,
        endpoint: Uuid,
    ) -> Result<DeliveryOutcome, WebhookError> {
        loop {
            match self.try_deliver_next(endpoint).await? {
                DeliveryOutcome::Delivered { .. }
                | DeliveryOutcome::Filtered { .. }
                | DeliveryOutcome::RetryScheduled { .. }
                | DeliveryOutcome::Failed
                | DeliveryOutcome::Superseded => continue,
                other => {
                    if other == DeliveryOutcome::Idle {
                        self.registry.sync(endpoint).await?;
                    }
                    return Ok(other);
                }
            }
        }
    }

    /// Runs one lane per endpoint until `shutdown` turns true, starting and stopping lanes as
    /// endpoints come and go.
    pub async fn run_until_stopped(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut lanes: HashMap<Uuid, JoinHandle<()>> = HashMap::new();
        let mut changes = self.registry.subscribe();
        loop {
            changes.borrow_and_update();
            match self.registry.ids() {
                Ok(ids) => {
                    lanes.retain(|id, lane| ids.contains(id) && !lane.is_finished());
                    for id in ids {
                        lanes.entry(id).or_insert_with(|| {
                            let deliverer = Arc::clone(&self);
                            let shutdown = shutdown.clone();
                            tokio::spawn(async move { deliverer.run_lane(id, shutdown).await })
                        });
                    }
                }
                Err(error) => tracing::error!(%error, "cannot list webhook endpoints"),
            }
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { break },
                _ = shutdown.changed() => break,
            }
        }
        for (_, lane) in lanes {
            let _ = lane.await;
        }
    }

    /// One endpoint's lane: steps while there is work, sleeps until the next due attempt, and
    /// waits for the feed or an admin change when idle or paused.
    async fn run_lane(&self, id: Uuid, mut shutdown: watch::Receiver<bool>) {
        let mut feed = self.feed.subscribe();
        let mut changes = self.registry.subscribe();
        let label = id.to_string();
        let mut unsynced = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Mark what this step will see, so a change during it wakes the next wait.
            feed.borrow_and_update();
            changes.borrow_and_update();
            let outcome = self.try_deliver_next(id).await;
            self.record_backlog(id, &label).await;
            let wait_until = match outcome {
                Ok(DeliveryOutcome::Delivered { .. } | DeliveryOutcome::Filtered { .. }) => {
                    unsynced = true;
                    continue;
                }
                Ok(DeliveryOutcome::Superseded | DeliveryOutcome::RetryScheduled { .. }) => {
                    continue
                }
                Ok(DeliveryOutcome::Gone) => return,
                Ok(DeliveryOutcome::NotDue { at }) => Some(at),
                Ok(DeliveryOutcome::Idle | DeliveryOutcome::Paused | DeliveryOutcome::Failed) => {
                    None
                }
                Err(error) => {
                    tracing::error!(endpoint = %id, %error, "a webhook delivery step failed; retrying");
                    Some(self.clock.now() + chrono::Duration::seconds(1))
                }
            };
            if unsynced {
                match self.registry.sync(id).await {
                    Ok(()) => unsynced = false,
                    Err(error) => {
                        tracing::error!(endpoint = %id, %error, "cannot sync a webhook cursor")
                    }
                }
            }
            let sleep = async {
                match wait_until {
                    Some(at) => {
                        let delay = (at - self.clock.now()).to_std().unwrap_or_default();
                        tokio::time::sleep(delay).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                changed = feed.changed() => if changed.is_err() { return },
                changed = changes.changed() => if changed.is_err() { return },
                changed = shutdown.changed() => if changed.is_err() { break },
            }
        }
        if unsynced {
            let _ = self.registry.sync(id).await;
        }
    }

    async fn record_backlog(&self, id: Uuid, label: &str) {
        if let Ok(view) = self.registry.get(id).await {
            let backlog = self.feed.position().saturating_sub(view.delivered_through);
            metrics::gauge!("caseledger_webhook_backlog", "endpoint" => label.to_owned())
                .set(backlog as f64);
            metrics::gauge!("caseledger_webhook_failing", "endpoint" => label.to_owned()).set(
                if view.status == EndpointStatus::Failing {
                    1.0
                } else {
                    0.0
                },
            );
        }
    }
}

/// A request failure in generic words: without the URL (which may carry a query an admin
/// considers private) and without any text from the other side; an egress refusal says which
/// address was refused and why.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    let mut source = std::error::Error::source(error);
    let mut io_kind = None;
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<EgressRefusal>() {
            return refusal.to_string();
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        source = cause.source();
    }
    if error.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let kind = if error.is_connect() {
        "cannot connect"
    } else if error.is_redirect() {
        "redirects are not followed"
    } else if error.is_body() || error.is_decode() {
        "the answer could not be read"
    } else {
        "the request failed"
    };
    match io_kind {
        Some(io_kind) => format!("{kind}: {io_kind}"),
        None => kind.to_owned(),
    }
}
