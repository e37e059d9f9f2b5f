//! The service itself: the [`App`] struct, what it is built with ([`AppOptions`],
//! [`AppSetup`]) and its construction, and the plain facts about it (clock, today in the
//! office's time zone, head, readiness and its warnings, configuration and calendar in force).
//!
//! The jobs of the service live beside it, each in its own module with its own `impl App`:
//! `commands` (the write path), `reads` (case views, lists, history, statistics), `access`
//! (tokens, role and visibility checks), `audit`, `erasure` and `webhooks`. This module holds
//! none of their logic; it knows nothing of HTTP.

use std::sync::Arc;
use std::time::Duration;

use caseledger_domain::{Calendar, Clock, Policy};
use caseledger_projections::CaseProjection;
use caseledger_store::{Head, Position};
use caseledger_webhooks::DeliveryConfig;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::SigningKey;

use crate::attachments::kinds::AttachmentLimits;
use crate::case_cache::CaseCache;
use crate::error::{AppError, STORE_RETRY_AFTER_SECONDS};
use crate::letter_documents::LetterPrinting;
use crate::personal_data::Keyring;
use crate::storage::Storage;
use crate::tokens::Tokens;
use crate::webhook_parts::Webhooks;

/// How many cases' states the command path keeps (see [`CaseCache`]): the cases being worked on,
/// each a full state besides whatever the case projection holds of it.
const CASE_CACHE_CAPACITY: usize = 4_096;

/// How the service uses memory; the defaults suit a deployment of any size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppOptions {
    /// The most bytes of full case states the case projection keeps for recently used cases
    /// beyond those changed since its last persist (see [`CaseProjection::load_with_budget`]).
    pub recent_cases_bytes: usize,
    /// How long a case list or search may scan before it is answered 503 with `Retry-After`
    /// (waiting for a scan slot included).
    pub search_budget: Duration,
    /// How long an `Idempotency-Key` keeps replaying its first answer; older records are
    /// removed by the periodic sweep. At least [`MIN_IDEMPOTENCY_TTL`] (the contract's 24 h).
    pub idempotency_ttl: std::time::Duration,
    /// How long console sessions last.
    pub sessions: SessionLimits,
}

/// How long a session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Ended after this long without use (`--session-idle`, default 30 min).
    pub idle: std::time::Duration,
    /// Ended this long after sign-in, used or not (`--session-max`, default 12 h).
    pub max: std::time::Duration,
}

impl SessionLimits {
    /// The contract's defaults: 30 minutes idle, 12 hours in all.
    pub const DEFAULT: SessionLimits = SessionLimits {
        idle: std::time::Duration::from_secs(30 * 60),
        max: std::time::Duration::from_secs(12 * 60 * 60),
    };
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits::DEFAULT
    }
}

/// The default of [`AppOptions::search_budget`].
pub const DEFAULT_SEARCH_BUDGET: Duration = Duration::from_secs(2);

/// How long idempotency records are kept unless configured otherwise: 7 days.
pub const DEFAULT_IDEMPOTENCY_TTL: std::time::Duration =
    std::time::Duration::from_secs(7 * 24 * 60 * 60);

/// The shortest period idempotency records may be kept: the contract promises 24 hours.
pub const MIN_IDEMPOTENCY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            recent_cases_bytes: caseledger_projections::DEFAULT_RECENT_CASES_BYTES,
            search_budget: DEFAULT_SEARCH_BUDGET,
            idempotency_ttl: DEFAULT_IDEMPOTENCY_TTL,
            sessions: SessionLimits::default(),
        }
    }
}

/// What the service is built with besides its store, configuration and clock, fixed for its
/// whole life: how it uses memory, the secrets it holds, how it delivers webhooks, and the
/// office's time zone and working-day calendar. The default signs no checkpoints, stores
/// per-case keys in clear, delivers with [`DeliveryConfig::default`], and counts days in
/// `Asia/Shanghai` on the embedded calendar; `serve` always gives a signing key and a
/// key-encryption key.
#[derive(Debug, Clone)]
pub struct AppSetup {
    /// How the service uses memory and how long it keeps idempotency records.
    pub options: AppOptions,
    /// The key that signs audit checkpoints (none: no checkpoint is signed).
    pub signing_key: Option<SigningKey>,
    /// The key-encryption keys that wrap per-case keys at rest (empty: stored in clear).
    pub key_encryption: Keyring,
    /// How webhooks are delivered (retry schedule, timeout, egress policy).
    pub webhook_delivery: DeliveryConfig,
    /// The official working-day calendar (none: holiday-cn's years embedded in the binary,
    /// [`crate::calendar::embedded`]); `serve` loads it with `--calendar-dir`.
    pub calendar: Option<Calendar>,
    /// The office's time zone (`--timezone`): where its days begin, for the calendar.
    pub timezone: chrono_tz::Tz,
    /// How letters are printed (none: the templates and fonts built in, the default
    /// letterhead); `serve` builds it from `[letters]`, `--template-dir` and `--font-dir`.
    pub printing: Option<LetterPrinting>,
    /// Which files cases take as attachments (`--attachment-max`, `[attachments]`).
    pub attachments: AttachmentLimits,
}

impl Default for AppSetup {
    fn default() -> Self {
        AppSetup {
            options: AppOptions::default(),
            signing_key: None,
            key_encryption: Keyring::default(),
            webhook_delivery: DeliveryConfig::default(),
            calendar: None,
            timezone: chrono_tz::Asia::Shanghai,
            printing: None,
            attachments: AttachmentLimits::default(),
        }
    }
}

/// How many list scans run at once: one core is always left to the async workers that answer
/// everything else (on one core, one scan, which yields its lock every slice).
fn scan_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get().saturating_sub(1))
        .max(1)
}

/// The rights-protection service.
pub struct App {
    pub(crate) storage: Storage,
    pub(crate) tokens: Tokens,
    pub(crate) policy: Policy,
    clock: Arc<dyn Clock>,
    pub(crate) cases: CaseProjection,
    /// The states commands decide on, and the per-case lock that orders them.
    pub(crate) case_cache: CaseCache,
    /// The key that signs checkpoints (none: checkpoints are not signed).
    pub(crate) signing_key: Option<SigningKey>,
    /// The key-encryption keys that wrap per-case keys at rest (none: stored in clear).
    pub(crate) key_encryption: Keyring,
    /// The position of the last checkpoint this process signed, for the webhook feed to
    /// forward it without polling the checkpoints.
    pub(crate) signed_checkpoints: tokio::sync::watch::Sender<u64>,
    /// The log's head when the service started; ready once the projection reaches it.
    ready_at: Position,
    /// How long idempotency records are kept (never below [`MIN_IDEMPOTENCY_TTL`]).
    pub(crate) idempotency_ttl: std::time::Duration,
    pub(crate) webhooks: Webhooks,
    /// The budget of a list or search (see [`AppOptions::search_budget`]).
    pub(crate) search_budget: Duration,
    /// Slots for list scans; a scan waits for one within its budget.
    pub(crate) scan_slots: tokio::sync::Semaphore,
    /// How long console sessions last.
    pub(crate) session_limits: SessionLimits,
    /// The official working-day calendar.
    calendar: Calendar,
    /// The office's time zone.
    timezone: chrono_tz::Tz,
    /// How letters are typeset, and the letterhead.
    pub(crate) printing: LetterPrinting,
    /// Which files cases take as attachments.
    pub(crate) attachment_limits: AttachmentLimits,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The service over `storage` with the default [`AppSetup`].
    pub async fn new(
        storage: Storage,
        policy: Policy,
        clock: Arc<dyn Clock>,
    ) -> Result<App, AppError> {
        App::with_setup(storage, policy, clock, AppSetup::default()).await
    }

    /// The service over `storage`, built with `setup`: loads the token index, the case
    /// projection, the webhook endpoints and the feed.
    pub async fn with_setup(
        storage: Storage,
        policy: Policy,
        clock: Arc<dyn Clock>,
        setup: AppSetup,
    ) -> Result<App, AppError> {
        let AppSetup {
            options,
            signing_key,
            key_encryption,
            webhook_delivery,
            calendar,
            timezone,
            printing,
            attachments,
        } = setup;
        let printing = match printing {
            Some(printing) => printing,
            // The embedded templates and fonts are checked by the documents crate's tests.
            None => LetterPrinting::embedded().map_err(|error| AppError::Internal(error.into()))?,
        };
        let calendar = match calendar {
            Some(calendar) => calendar,
            // The embedded data is checked by the calendar's own tests; should it ever fail,
            // the service does not start rather than count deadlines on a wrong calendar.
            None => {
                crate::calendar::embedded().map_err(|error| AppError::Internal(error.into()))?
            }
        };
        let tokens = if storage.shared {
            Tokens::load_shared(storage.tokens.clone()).await?
        } else {
            Tokens::load(storage.tokens.clone()).await?
        };
        let storage_head = storage.log.head().position;
        let cases = CaseProjection::load_with_budget(
            storage.case_projection.clone(),
            options.recent_cases_bytes,
        )
        .await
        .map_err(|error| AppError::Internal(error.into()))?;
        let webhooks = Webhooks::load(&storage, &policy, webhook_delivery).await?;
        Ok(App {
            storage,
            tokens,
            policy,
            clock,
            cases,
            case_cache: CaseCache::new(CASE_CACHE_CAPACITY),
            signing_key,
            key_encryption,
            signed_checkpoints: tokio::sync::watch::Sender::new(0),
            ready_at: storage_head,
            idempotency_ttl: options.idempotency_ttl.max(MIN_IDEMPOTENCY_TTL),
            webhooks,
            search_budget: options.search_budget,
            scan_slots: tokio::sync::Semaphore::new(scan_slots()),
            session_limits: options.sessions,
            calendar,
            timezone,
            printing,
            attachment_limits: attachments,
        })
    }

    /// The keyring in force.
    pub(crate) fn keyring(&self) -> &Keyring {
        &self.key_encryption
    }

    /// The service's clock, for the workers that read it themselves (webhook delivery).
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// Whether the service is ready to serve: its case lists have caught up with the log as it
    /// stood when the service started.
    pub fn is_ready(&self) -> bool {
        self.cases.checkpoint() >= self.ready_at.0
    }

    /// Whether the store can serve now (a round trip to PostgreSQL within a couple of seconds;
    /// sled: not stopped by a failed write). `Err` is [`AppError::Unavailable`], with a reason
    /// fit for an unauthenticated readiness probe (the cause goes to the logs).
    pub async fn check_store(&self) -> Result<(), AppError> {
        self.storage.log.check_available().await.map_err(|error| {
            tracing::warn!(%error, "the store is not available");
            let reason = match error {
                caseledger_store::StoreError::Poisoned(_) => {
                    "the store stopped after a failed write and must be restarted"
                }
                caseledger_store::StoreError::InsufficientSpace { .. } => "the disk is nearly full",
                _ => "the store cannot be reached",
            };
            AppError::Unavailable {
                reason: reason.into(),
                retry_after_seconds: STORE_RETRY_AFTER_SECONDS,
            }
        })
    }

    /// What a readiness probe should report while staying ready: today, the years among this
    /// one and, from 1 December, the next whose official calendar is missing (deadlines that
    /// reach them are provisional). Empty when nothing is amiss.
    pub fn readiness_warnings(&self) -> Vec<String> {
        crate::calendar::missing_years_warning(&self.calendar, self.today())
            .into_iter()
            .collect()
    }

    /// The official working-day calendar deadlines are counted on.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The office's time zone (`--timezone`).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.timezone
    }

    /// The office's days, as the domain's rules see them.
    pub(crate) fn office_days(&self) -> &dyn caseledger_domain::OfficeDays {
        &self.timezone
    }

    /// Today in the office's time zone, by the service's clock.
    pub fn today(&self) -> NaiveDate {
        self.now().with_timezone(&self.timezone).date_naive()
    }

    /// The case projection (lists, search, statistics, deadlines).
    pub fn case_projection(&self) -> &CaseProjection {
        &self.cases
    }

    /// The configuration in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The storage handle.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The current time of the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The durable head of the log.
    pub fn head(&self) -> Head {
        self.storage.log.head()
    }

    /// Waits until the log includes `position`, at most `timeout`; reads taken after this see
    /// every write up to it.
    pub async fn wait_for_position(
        &self,
        position: u64,
        timeout: Duration,
    ) -> Result<(), AppError> {
        let mut receiver = self.storage.log.subscribe();
        let reached = tokio::time::timeout(
            timeout,
            receiver.wait_for(|head| head.position.0 >= position),
        )
        .await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(AppError::Unavailable {
                reason: format!(
                    "the log has not reached position {position} yet (it is at {})",
                    self.head().position
                ),
                retry_after_seconds: 1,
            }),
        }
    }

    /// Re-reads the tokens and the webhook endpoints from a store shared with other instances.
    pub async fn refresh_shared_state(&self) -> Result<(), AppError> {
        self.tokens.refresh().await?;
        self.reload_webhook_endpoints().await
    }
}
