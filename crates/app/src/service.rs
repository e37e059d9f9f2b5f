//! The service: every command goes load → decide → append; every read folds or reads the log.
//!
//! This module owns the flow around the domain — role gates, optimistic concurrency and its
//! retries, idempotency, letter numbers, sealing personal data — and the read side that the
//! API serves until the projections take over lists and search. It knows nothing of HTTP.

use std::sync::Arc;
use std::time::Duration;

use caseledger_domain::{
    authorize, decide, letter_number, Actor, Case, CaseEvent, CaseId, Category, Command,
    ComplainantInput, ComplainantRecord, Context, Department, EmployerInput, FieldError, Policy,
    Rejection, Role, Rule, Source,
};
use caseledger_store::{
    AppendRejected, Committed, ExpectedVersion, Head, IdempotencyKey, Position, Recorded, StreamId,
    Version,
};
use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

use caseledger_projections::{CaseFilter, CaseProjection, Cursor, Page, Period, Stats};

use crate::case_cache::CaseCache;
use crate::clock::Clock;
use crate::personal_data::{CaseKey, Keyring, StoredCaseKey};
use crate::storage::Storage;
use crate::tokens::{Caller, IssuedToken, TokenRecord, Tokens};
use crate::AppError;
use caseledger_domain::{ActorRecord, StoredEvent};

/// How often a command without `If-Match` is retried when another command on the same case
/// lands between its load and its append.
const MAX_CONFLICT_RETRIES: usize = 64;
/// The most events read from a stream at once.
pub(crate) const STREAM_READ_LIMIT: usize = 1_000_000;
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
    tokens: Tokens,
    policy: Policy,
    clock: Arc<dyn Clock>,
    cases: CaseProjection,
    /// The states commands decide on, and the per-case lock that orders them.
    case_cache: CaseCache,
    pub(crate) signing_key: std::sync::OnceLock<ed25519_dalek::SigningKey>,
    /// The key-encryption keys that wrap per-case keys at rest (none: stored in clear).
    key_encryption: std::sync::OnceLock<Keyring>,
    /// The position of the last checkpoint this process signed, for the webhook feed to
    /// forward it without polling the checkpoints.
    pub(crate) signed_checkpoints: tokio::sync::watch::Sender<u64>,
    /// The log's head when the service started; ready once the projection reaches it.
    ready_at: Position,
    /// How long idempotency records are kept (never below [`MIN_IDEMPOTENCY_TTL`]).
    idempotency_ttl: std::time::Duration,
    pub(crate) webhooks: crate::webhooks::Webhooks,
    /// The budget of a list or search (see [`AppOptions::search_budget`]).
    search_budget: Duration,
    /// Slots for list scans; a scan waits for one within its budget.
    scan_slots: tokio::sync::Semaphore,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

/// The input of opening a case: the domain's, with the complainant's details in clear (the app
/// validates and seals them).
#[derive(Debug, Clone)]
pub struct OpenCase {
    /// Short title.
    pub title: String,
    /// What the case is about.
    pub category: Category,
    /// Full description.
    pub description: String,
    /// How the case reached the union.
    pub source: Source,
    /// The employer.
    pub employer: EmployerInput,
    /// Administrative region.
    pub region: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Workers affected.
    pub workers_affected: Option<u32>,
    /// The complainant, in clear.
    pub complainant: Option<ComplainantInput>,
}

/// An idempotency key as the caller sent it, with a fingerprint of the request.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The key from the `Idempotency-Key` header.
    pub key: String,
    /// A digest of the request (method, path and body).
    pub fingerprint: String,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The case.
    pub case_id: CaseId,
    /// The case's version after the command.
    pub version: u64,
    /// The global position of the last event written.
    pub position: u64,
    /// The types of the events written.
    pub events: Vec<String>,
    /// True when this repeats the answer to an earlier request with the same idempotency key.
    pub replayed: bool,
}

/// Which state of a case to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeTravel {
    /// The current state.
    Latest,
    /// The state right after version N.
    AtVersion(u64),
    /// The state as it stood at an instant.
    AsOf(DateTime<Utc>),
}

/// A point of the hash chain: ties a view to a verifiable export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPoint {
    /// The global position of the last event folded into the view.
    pub position: u64,
    /// That event's hash.
    pub hash: String,
}

/// How a reader sees the complainant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComplainantView {
    /// The case names no complainant.
    None,
    /// The caller may not see personal data (partners, auditors).
    Withheld,
    /// The data was erased.
    Erased,
    /// The details, for officers, supervisors and admins.
    Present(ComplainantInput),
}

/// A case as a caller may see it.
#[derive(Debug, Clone)]
pub struct CaseView {
    /// The folded case.
    pub case: Case,
    /// The complainant, as the caller may see it.
    pub complainant: ComplainantView,
    /// The chain point of the view's last event.
    pub chain: ChainPoint,
}

fn may_see_personal_data(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Supervisor | Role::Officer)
}

pub(crate) fn require_role(caller: &Caller, allowed: &[Role], what: &str) -> Result<(), AppError> {
    if allowed.contains(&caller.role) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "the {} role may not {what}",
            caller.role
        )))
    }
}

impl App {
    /// Builds the service over `storage`, loading the token index.
    pub async fn new(
        storage: Storage,
        policy: Policy,
        clock: Arc<dyn Clock>,
    ) -> Result<App, AppError> {
        App::with_options(storage, policy, clock, AppOptions::default()).await
    }

    /// The service over `storage`, with `options`.
    pub async fn with_options(
        storage: Storage,
        policy: Policy,
        clock: Arc<dyn Clock>,
        options: AppOptions,
    ) -> Result<App, AppError> {
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
        let webhooks = crate::webhooks::Webhooks::load(&storage, &policy).await?;
        Ok(App {
            storage,
            tokens,
            policy,
            clock,
            cases,
            case_cache: CaseCache::new(CASE_CACHE_CAPACITY),
            signing_key: std::sync::OnceLock::new(),
            key_encryption: std::sync::OnceLock::new(),
            signed_checkpoints: tokio::sync::watch::Sender::new(0),
            ready_at: storage_head,
            idempotency_ttl: options.idempotency_ttl.max(MIN_IDEMPOTENCY_TTL),
            webhooks,
            search_budget: options.search_budget,
            scan_slots: tokio::sync::Semaphore::new(scan_slots()),
        })
    }

    /// Wraps per-case keys at rest with `keyring` from now on (`serve` installs its KEK file's
    /// key before [`App::prepare_personal_data_keys`]). Only the first call counts.
    pub fn install_key_encryption(&self, keyring: Keyring) {
        let _ = self.key_encryption.set(keyring);
    }

    /// The keyring in force.
    pub(crate) fn keyring(&self) -> Keyring {
        self.key_encryption.get().cloned().unwrap_or_default()
    }

    /// Removes the idempotency records older than the configured period and returns how
    /// many; a retry with such a key is then a new command. The records carry the system
    /// clock's time, so the cut-off does too.
    pub async fn expire_idempotency_records(&self) -> Result<u64, AppError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        let cutoff = now.saturating_sub(self.idempotency_ttl.as_secs());
        let removed = self
            .storage
            .log
            .expire_idempotency_records(i64::try_from(cutoff).unwrap_or(i64::MAX))
            .await?;
        Ok(removed)
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
                retry_after_seconds: crate::error::STORE_RETRY_AFTER_SECONDS,
            }
        })
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

    // ----- tokens -------------------------------------------------------------------------

    /// The caller a bearer token stands for; `None` when it is unknown or revoked, or when
    /// this instance cannot vouch for its tokens now (see [`App::check_token`]).
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        self.tokens.check(token).ok().flatten()
    }

    /// The caller a bearer token stands for (`None`: unknown or revoked); `Unavailable` (503)
    /// when this instance shares its store with others and has not managed to re-read the
    /// tokens for longer than [`crate::tokens::TOKEN_TRUST_WINDOW`]: it fails closed rather
    /// than honour a token that may have been revoked through another instance.
    pub fn check_token(&self, token: &str) -> Result<Option<Caller>, AppError> {
        self.tokens.check(token)
    }

    /// Whether the token `token_id` is known and not revoked (a revoked token stops exports and backups between chunks).
    pub fn token_is_active(&self, token_id: Uuid) -> bool {
        self.tokens.is_active(token_id)
    }

    /// Re-reads the tokens and the webhook endpoints from a store shared with other instances.
    pub async fn refresh_shared_state(&self) -> Result<(), AppError> {
        self.tokens.refresh().await?;
        self.reload_webhook_endpoints().await
    }

    /// On a store with no token yet, issues the first admin token.
    pub async fn issue_initial_admin_token(&self) -> Result<Option<IssuedToken>, AppError> {
        if !self.tokens.is_empty() {
            return Ok(None);
        }
        self.tokens.issue_initial_admin(self.now()).await
    }

    /// Issues a token (admins only). Partners need a known department; no other role has one.
    pub async fn issue_token(
        &self,
        caller: &Caller,
        name: String,
        role: Role,
        department: Option<Department>,
    ) -> Result<IssuedToken, AppError> {
        require_role(caller, &[Role::Admin], "manage tokens")?;
        let mut errors = Vec::new();
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("name", "must be 1 to 200 characters"));
        }
        match (&department, role) {
            (None, Role::Partner) => errors.push(FieldError::new(
                "department",
                "a partner token needs the department it acts for",
            )),
            (Some(department), Role::Partner) if !self.policy.knows(department) => errors.push(
                FieldError::new("department", format!("unknown department '{department}'")),
            ),
            (Some(_), role) if role != Role::Partner => errors.push(FieldError::new(
                "department",
                "only partner tokens belong to a department",
            )),
            _ => {}
        }
        if !errors.is_empty() {
            return Err(Rejection::Invalid(errors).into());
        }
        self.tokens.issue(name, role, department, self.now()).await
    }

    /// Every token record (admins only).
    pub fn list_tokens(&self, caller: &Caller) -> Result<Vec<TokenRecord>, AppError> {
        require_role(caller, &[Role::Admin], "manage tokens")?;
        Ok(self.tokens.list())
    }

    /// Revokes a token at once (admins only).
    pub async fn revoke_token(&self, caller: &Caller, id: Uuid) -> Result<TokenRecord, AppError> {
        require_role(caller, &[Role::Admin], "manage tokens")?;
        self.tokens.revoke(id, self.now()).await
    }

    // ----- commands -----------------------------------------------------------------------

    /// Opens a case.
    pub async fn open_case(
        &self,
        caller: &Caller,
        input: OpenCase,
        idempotency: Option<Idempotency>,
    ) -> Result<CommandOutcome, AppError> {
        let idempotency = self.scope(caller, idempotency);
        if let Some(replayed) = self.replay_idempotent(idempotency.as_ref()).await? {
            return Ok(replayed);
        }
        let now = self.now();
        let case_id = CaseId(Uuid::now_v7());
        let complainant = input
            .complainant
            .as_ref()
            .map(|complainant| complainant.validate(now.date_naive()));
        let command = |sealed| Command::OpenCase {
            title: input.title.clone(),
            category: input.category,
            description: input.description.clone(),
            source: input.source,
            employer: input.employer.clone(),
            region: input.region.clone(),
            industry: input.industry.clone(),
            workers_affected: input.workers_affected,
            complainant: sealed,
        };
        let actor = self.actor(caller);
        let context = self.context(&actor, now);
        let empty = Case::new(case_id);
        authorize(caller.role, &command(None))?;
        // Check everything but the complainant first, so every bad field is reported at once.
        let checked = decide(&empty, command(None), &context);
        let complainant = match complainant {
            Some(Err(mut complainant_errors)) => {
                if let Err(Rejection::Invalid(errors)) = checked {
                    complainant_errors.splice(0..0, errors);
                }
                return Err(Rejection::Invalid(complainant_errors).into());
            }
            Some(Ok(complainant)) => Some(complainant),
            None => None,
        };
        checked?;
        let sealed = match complainant {
            Some(complainant) => {
                let key = CaseKey::generate();
                // The key is stored before the event that needs it; a key whose append then
                // fails is never used and harms nothing.
                self.storage
                    .personal_data_keys
                    .put(case_id.0.as_bytes(), &self.keyring().store(case_id, &key)?)
                    .await?;
                Some(key.seal(case_id, &complainant)?)
            }
            None => None,
        };
        let events = decide(&empty, command(sealed), &context)?;
        let committed = self
            .append(
                caller,
                case_id,
                ExpectedVersion::NoStream,
                events.clone(),
                now,
                idempotency,
            )
            .await?
            .map_err(|rejected| match rejected {
                AppendRejected::IdempotencyKeyReused => AppError::IdempotencyKeyReused,
                AppendRejected::VersionConflict { .. } => {
                    AppError::Internal(anyhow::anyhow!("a new case id was already taken"))
                }
            })?;
        if !committed.replayed {
            let slot = self.case_cache.slot(case_id);
            let mut state = slot.lock().await;
            *state = evolved(empty, &events, now, &committed);
        }
        Ok(outcome(&committed, &events))
    }

    /// Runs a command on a case. With `if_match`, the case must be at that version (else
    /// [`AppError::PreconditionFailed`]); without, a concurrent change is retried against the
    /// new state.
    pub async fn execute(
        &self,
        caller: &Caller,
        case_id: CaseId,
        command: Command,
        if_match: Option<u64>,
        idempotency: Option<Idempotency>,
    ) -> Result<CommandOutcome, AppError> {
        let idempotency = self.scope(caller, idempotency);
        if let Some(replayed) = self.replay_idempotent(idempotency.as_ref()).await? {
            return Ok(replayed);
        }
        self.run_command(
            Principal::Token(caller),
            case_id,
            command,
            if_match,
            idempotency,
        )
        .await
    }

    /// Records a missed deadline as the service itself (the deadline watcher).
    pub async fn mark_deadline_missed(
        &self,
        case_id: CaseId,
        letter_id: caseledger_domain::LetterId,
    ) -> Result<CommandOutcome, AppError> {
        self.run_command(
            Principal::System,
            case_id,
            Command::MarkDeadlineMissed { letter_id },
            None,
            None,
        )
        .await
    }

    /// One scan of the deadline watcher: appends `LetterDeadlineMissed` for every open letter
    /// whose deadline has passed, and returns how many it recorded. Safe to run in several
    /// places at once: the domain refuses a second record of the same missed deadline, and the
    /// version check makes two racing watchers meet there.
    pub async fn scan_deadlines(&self) -> Result<usize, AppError> {
        let due = self
            .cases
            .deadlines_due(self.now())
            .map_err(|error| AppError::Internal(error.into()))?;
        let mut recorded = 0;
        for (case_id, letter_id) in due {
            match self.mark_deadline_missed(case_id, letter_id).await {
                Ok(_) => recorded += 1,
                // Another watcher, or an answer, got there first.
                Err(AppError::Rejected(Rejection::Conflict { .. })) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(recorded)
    }

    pub(crate) async fn run_command(
        &self,
        principal: Principal<'_>,
        case_id: CaseId,
        command: Command,
        if_match: Option<u64>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<CommandOutcome, AppError> {
        let actor = principal.actor();
        let mut command = command;
        let mut letter_number_allocated = false;
        // Commands on this case in this process run one at a time, each on the state the
        // previous one left (when the cache still has it).
        let slot = self.case_cache.slot(case_id);
        let mut slot = slot.lock().await;
        let mut cached = slot.take();
        for _ in 0..MAX_CONFLICT_RETRIES {
            // A cached state is trusted only as far as the log's version check: whatever it
            // would refuse, it refuses again on the loaded state before answering.
            let from_cache = cached.is_some();
            let case = match cached.take() {
                Some(case) => case,
                None => self.load(case_id, TimeTravel::Latest).await?.0,
            };
            let now = self.now();
            let decided = self.decide_command(
                principal,
                &actor,
                &case,
                &mut command,
                &mut letter_number_allocated,
                if_match,
                now,
            );
            let events = match decided.await {
                Ok(events) => events,
                Err(error) if from_cache => {
                    // Refused on the cached state (a failed `If-Match` among others): final
                    // only if that state is still the case's current one, which the stream's
                    // version tells without reading the case.
                    let current = self.storage.log.stream_version(StreamId(case_id.0)).await?;
                    if current == Some(Version(case.version)) {
                        *slot = Some(case);
                        return Err(error);
                    }
                    continue;
                }
                Err(error) => return Err(error),
            };
            let expected = ExpectedVersion::after(Version(case.version));
            match self
                .append_as(
                    principal.record(),
                    case_id,
                    expected,
                    events.clone(),
                    now,
                    idempotency.clone(),
                )
                .await?
            {
                Ok(committed) => {
                    // A replay answers for an earlier request; its events are not these.
                    if !committed.replayed {
                        *slot = evolved(case, &events, now, &committed);
                    }
                    return Ok(outcome(&committed, &events));
                }
                Err(AppendRejected::IdempotencyKeyReused) => {
                    return Err(AppError::IdempotencyKeyReused)
                }
                Err(AppendRejected::VersionConflict { .. }) if from_cache => {}
                Err(AppendRejected::VersionConflict { actual, .. }) => {
                    if let Some(expected) = if_match {
                        return Err(AppError::PreconditionFailed {
                            expected,
                            current: actual.map(|version| version.0).unwrap_or(0),
                        });
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
        Err(AppError::Unavailable {
            reason: "the case is changing too fast; try again".into(),
            retry_after_seconds: 1,
        })
    }

    /// The checks and the decision of one attempt of a command on `case`. A letter's number is
    /// taken once the letter is known to be acceptable, and kept across attempts.
    #[allow(
        clippy::too_many_arguments,
        reason = "one attempt's whole state, kept by the retry loop"
    )]
    async fn decide_command(
        &self,
        principal: Principal<'_>,
        actor: &Actor,
        case: &Case,
        command: &mut Command,
        letter_number_allocated: &mut bool,
        if_match: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, AppError> {
        if let Principal::Token(caller) = principal {
            self.ensure_visible(caller, case)?;
        }
        authorize(actor.role, command)?;
        if let Some(expected) = if_match {
            if case.version != expected {
                return Err(AppError::PreconditionFailed {
                    expected,
                    current: case.version,
                });
            }
        }
        let context = self.context(actor, now);
        if !*letter_number_allocated {
            if let Command::IssueLetter { number, .. } = command {
                // Until the letter is known to be acceptable it carries a provisional
                // number that no letter ever gets (sequences start at 1), so this first
                // decision checks everything but the number.
                *number = letter_number(&self.policy.letter_number_prefix, now.year(), 0);
            }
        }
        let mut events = decide(case, command.clone(), &context)
            .map_err(|rejection| self.hide_unshared(actor.role, rejection))?;
        if !*letter_number_allocated && needs_letter_number(command) {
            // The number is taken only once the letter is known to be acceptable, and kept
            // across retries, so refused letters leave no gaps.
            let number = self.next_letter_number(now).await?;
            if let Command::IssueLetter { number: slot, .. } = command {
                *slot = number;
            }
            *letter_number_allocated = true;
            events = decide(case, command.clone(), &context)?;
        }
        Ok(events)
    }

    fn actor(&self, caller: &Caller) -> Actor {
        Principal::Token(caller).actor()
    }

    fn context<'a>(&'a self, actor: &'a Actor, now: DateTime<Utc>) -> Context<'a> {
        Context {
            now,
            today: now.date_naive(),
            actor,
            policy: &self.policy,
        }
    }

    /// Idempotency keys are per token.
    pub(crate) fn scope(
        &self,
        caller: &Caller,
        idempotency: Option<Idempotency>,
    ) -> Option<IdempotencyKey> {
        idempotency.map(|idempotency| IdempotencyKey {
            key: format!("{}:{}", caller.token_id, idempotency.key),
            fingerprint: idempotency.fingerprint,
        })
    }

    /// The first answer to a repeated idempotent request, or `None` for a new key.
    pub(crate) async fn replay_idempotent(
        &self,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Option<CommandOutcome>, AppError> {
        let Some(key) = idempotency else {
            return Ok(None);
        };
        let Some(record) = self.storage.log.idempotency_record(&key.key).await? else {
            return Ok(None);
        };
        if record.fingerprint != key.fingerprint {
            return Err(AppError::IdempotencyKeyReused);
        }
        Ok(Some(self.replayed_outcome(&record.committed).await?))
    }

    async fn replayed_outcome(&self, committed: &Committed) -> Result<CommandOutcome, AppError> {
        let count = (committed.last_version.0 + 1).saturating_sub(committed.first_version.0);
        let events = self
            .storage
            .log
            .read_stream(committed.stream, committed.first_version, count as usize)
            .await?;
        Ok(CommandOutcome {
            case_id: CaseId(committed.stream.0),
            version: committed.last_version.0,
            position: committed.last_position.0,
            events: events
                .iter()
                .map(|recorded| recorded.event.event.event_type().to_owned())
                .collect(),
            replayed: true,
        })
    }

    async fn append(
        &self,
        caller: &Caller,
        case_id: CaseId,
        expected: ExpectedVersion,
        events: Vec<CaseEvent>,
        now: DateTime<Utc>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Result<Committed, AppendRejected>, AppError> {
        self.append_as(
            Principal::Token(caller).record(),
            case_id,
            expected,
            events,
            now,
            idempotency,
        )
        .await
    }

    /// Appends events to a case's stream in the envelope of `actor`.
    async fn append_as(
        &self,
        actor: ActorRecord,
        case_id: CaseId,
        expected: ExpectedVersion,
        events: Vec<CaseEvent>,
        now: DateTime<Utc>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Result<Committed, AppendRejected>, AppError> {
        let envelopes = events
            .into_iter()
            .map(|event| StoredEvent {
                id: Uuid::now_v7(),
                case_id,
                at: now,
                actor: actor.clone(),
                event,
            })
            .collect();
        let started = std::time::Instant::now();
        let result = self
            .storage
            .log
            .append(StreamId(case_id.0), expected, envelopes, idempotency)
            .await?;
        metrics::histogram!("caseledger_append_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(result)
    }

    async fn next_letter_number(&self, now: DateTime<Utc>) -> Result<String, AppError> {
        let year = now.year();
        let sequence = self
            .storage
            .counters
            .increment(format!("letter_number:{year}").as_bytes())
            .await?;
        let sequence = u32::try_from(sequence)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("letter numbers ran out")))?;
        Ok(letter_number(
            &self.policy.letter_number_prefix,
            year,
            sequence,
        ))
    }

    /// A partner asking about a case not shared with it learns nothing, not even that it exists.
    fn hide_unshared(&self, role: Role, rejection: Rejection) -> AppError {
        match (&rejection, role) {
            (
                Rejection::Conflict {
                    rule: Rule::NotSharedWithDepartment,
                    ..
                },
                Role::Partner,
            ) => AppError::NotFound("case".into()),
            _ => rejection.into(),
        }
    }

    // ----- reads --------------------------------------------------------------------------

    /// Folds the case's stream up to `at`; `NotFound` when the case did not exist then.
    pub(crate) async fn load(
        &self,
        case_id: CaseId,
        at: TimeTravel,
    ) -> Result<(Case, Option<Recorded<StoredEvent>>), AppError> {
        // The current state starts from the projection's copy of the case, when it has one,
        // and folds only the events after it — read from the log, so the result is as current
        // as the log itself. The copy's own last event is read again for its chain point.
        // Earlier states fold the stream from the start.
        let snapshot = match at {
            TimeTravel::Latest => self
                .cases
                .get(case_id)
                .await
                .map_err(|error| AppError::Internal(error.into()))?,
            _ => None,
        };
        let (mut case, from) = match snapshot {
            Some(case) => {
                let from = case.version;
                (case, from)
            }
            None => (Case::new(case_id), 1),
        };
        let events = self
            .storage
            .log
            .read_stream(StreamId(case_id.0), Version(from), STREAM_READ_LIMIT)
            .await?;
        let mut last = None;
        for recorded in events {
            let include = match at {
                TimeTravel::Latest => true,
                TimeTravel::AtVersion(version) => recorded.version.0 <= version,
                TimeTravel::AsOf(instant) => recorded.event.at <= instant,
            };
            if !include {
                break;
            }
            if recorded.version.0 > case.version {
                case.evolve(&recorded.event.event, recorded.event.at);
            }
            last = Some(recorded);
        }
        if at != TimeTravel::Latest && last.is_none() {
            return Err(AppError::NotFound("case".into()));
        }
        Ok((case, last))
    }

    fn ensure_visible(&self, caller: &Caller, case: &Case) -> Result<(), AppError> {
        if !case.opened {
            return Err(AppError::NotFound("case".into()));
        }
        if caller.role == Role::Partner {
            let shared = caller
                .department
                .as_ref()
                .is_some_and(|department| case.is_shared_with(department));
            if !shared {
                return Err(AppError::NotFound("case".into()));
            }
        }
        Ok(())
    }

    /// A case as the caller may see it, now or at an earlier point.
    pub async fn case(
        &self,
        caller: &Caller,
        case_id: CaseId,
        at: TimeTravel,
    ) -> Result<CaseView, AppError> {
        let (case, last) = self.load(case_id, at).await?;
        self.ensure_visible(caller, &case)?;
        // A partner sees a case from the moment it was shared, so time travel to before
        // that moment shows nothing to it.
        let last = last.ok_or_else(|| AppError::NotFound("case".into()))?;
        let complainant = self.complainant_view(caller, &case).await?;
        Ok(CaseView {
            case,
            complainant,
            chain: ChainPoint {
                position: last.position.0,
                hash: last.hash.to_hex(),
            },
        })
    }

    async fn complainant_view(
        &self,
        caller: &Caller,
        case: &Case,
    ) -> Result<ComplainantView, AppError> {
        Ok(match &case.complainant {
            ComplainantRecord::None => ComplainantView::None,
            _ if !may_see_personal_data(caller.role) => ComplainantView::Withheld,
            ComplainantRecord::Erased => ComplainantView::Erased,
            // The register, not the version shown, says whether the data is erased: time
            // travel to before an erasure opens nothing either, whatever keys still exist.
            ComplainantRecord::Sealed(_) if self.is_erased(case.id).await? => {
                ComplainantView::Erased
            }
            ComplainantRecord::Sealed(sealed) => {
                let key: Option<StoredCaseKey> = self
                    .storage
                    .personal_data_keys
                    .get(case.id.0.as_bytes())
                    .await?;
                match key {
                    Some(key) => ComplainantView::Present(
                        self.keyring().open(case.id, &key)?.open(case.id, sealed)?,
                    ),
                    None => ComplainantView::Erased,
                }
            }
        })
    }

    /// A case's events, oldest first. Partners see them from the event that shared the case
    /// with their department on, without the union's internal notes.
    pub async fn history(
        &self,
        caller: &Caller,
        case_id: CaseId,
    ) -> Result<Vec<Recorded<StoredEvent>>, AppError> {
        let events = self
            .storage
            .log
            .read_stream(StreamId(case_id.0), Version(1), STREAM_READ_LIMIT)
            .await?;
        let mut case = Case::new(case_id);
        let mut shared_from = None;
        for (index, recorded) in events.iter().enumerate() {
            case.evolve(&recorded.event.event, recorded.event.at);
            if shared_from.is_none() {
                if let Some(department) = &caller.department {
                    if case.is_shared_with(department) {
                        shared_from = Some(index);
                    }
                }
            }
        }
        self.ensure_visible(caller, &case)?;
        Ok(match caller.role {
            Role::Partner => events
                .into_iter()
                .skip(shared_from.unwrap_or(0))
                .filter(|recorded| !recorded.event.event.is_internal())
                .collect(),
            _ => events,
        })
    }

    /// Waits until the case projection includes `position`, at most `timeout`.
    pub async fn wait_for_projection(
        &self,
        position: u64,
        timeout: Duration,
    ) -> Result<(), AppError> {
        if self.cases.wait_for(position, timeout).await {
            Ok(())
        } else {
            Err(AppError::Unavailable {
                reason: format!(
                    "the case lists have not reached position {position} yet (they are at {})",
                    self.cases.checkpoint()
                ),
                retry_after_seconds: 1,
            })
        }
    }

    /// A page of the cases the caller may see that match `filter`, in opening order. Partners
    /// see only cases shared with their department.
    pub async fn list_cases(
        &self,
        caller: &Caller,
        mut filter: CaseFilter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, AppError> {
        if caller.role == Role::Partner {
            match (&filter.department, &caller.department) {
                (Some(asked), Some(own)) if asked != own => {
                    return Ok(Page {
                        items: Vec::new(),
                        next_cursor: None,
                    })
                }
                (_, own) => filter.department = own.clone(),
            }
            if filter.department.is_none() {
                return Err(AppError::Forbidden(
                    "a partner token needs a department".into(),
                ));
            }
        }
        let started = tokio::time::Instant::now();
        let deadline = started + self.search_budget;
        let spent = || AppError::Unavailable {
            reason: format!(
                "the search did not finish within its budget of {} ms; narrow it with filters \
                 or fewer terms, or retry",
                self.search_budget.as_millis()
            ),
            retry_after_seconds: 1,
        };
        let _slot = tokio::time::timeout_at(deadline, self.scan_slots.acquire())
            .await
            .map_err(|_| spent())?
            .map_err(|error| AppError::Internal(error.into()))?;
        match self
            .cases
            .list_within(&filter, cursor, limit, Some(deadline.into_std()))
            .await
        {
            Ok(page) => Ok(page),
            Err(caseledger_projections::ProjectionError::BudgetSpent) => Err(spent()),
            Err(error) => Err(AppError::Internal(error.into())),
        }
    }

    /// The figures unions report upward (supervisors, admins and auditors). A scan of every
    /// case's summary: callers on an async runtime run it on a blocking thread.
    pub fn stats(&self, caller: &Caller, period: Period) -> Result<Stats, AppError> {
        require_role(
            caller,
            &[Role::Admin, Role::Supervisor, Role::Auditor],
            "read statistics",
        )?;
        self.cases
            .stats(&CaseFilter::default(), period)
            .map_err(|error| AppError::Internal(error.into()))
    }

    /// The global log after `after`, at most `limit` events (auditors and admins).
    pub async fn events(
        &self,
        caller: &Caller,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded<StoredEvent>>, AppError> {
        require_role(
            caller,
            &[Role::Admin, Role::Auditor],
            "read the global event log",
        )?;
        Ok(self.storage.log.read_all(Position(after), limit).await?)
    }
}

/// Who runs a command: a token's holder, or the service itself.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Principal<'a> {
    Token(&'a Caller),
    System,
}

impl Principal<'_> {
    /// The domain's view of the actor. The service acts with an admin's powers, limited by
    /// what it ever asks: recording missed deadlines.
    fn actor(&self) -> Actor {
        match self {
            Principal::Token(caller) => Actor {
                name: caller.name.clone(),
                role: caller.role,
                department: caller.department.clone(),
            },
            Principal::System => Actor {
                name: "system".into(),
                role: Role::Admin,
                department: None,
            },
        }
    }

    /// The actor as the envelope records it.
    fn record(&self) -> ActorRecord {
        match self {
            Principal::Token(caller) => ActorRecord {
                token_id: Some(caller.token_id),
                name: caller.name.clone(),
                role: caller.role.into(),
                department: caller.department.clone(),
            },
            Principal::System => ActorRecord::system(),
        }
    }
}

/// The state of a case after `events`, appended at `now` as `committed`: what the next
/// command on the case decides on. `None` when the versions disagree, which a correct log never
/// does, so the next command loads the case rather than trust it.
fn evolved(
    mut case: Case,
    events: &[CaseEvent],
    now: DateTime<Utc>,
    committed: &Committed,
) -> Option<Case> {
    for event in events {
        case.evolve(event, now);
    }
    (case.version == committed.last_version.0).then_some(case)
}

fn needs_letter_number(command: &Command) -> bool {
    matches!(command, Command::IssueLetter { .. })
}

/// What an append did. The case is the committed stream's: an idempotent replay answers with
/// the case of the first request, which for `OpenCase` is not the id this request drew.
fn outcome(committed: &Committed, events: &[CaseEvent]) -> CommandOutcome {
    CommandOutcome {
        case_id: CaseId(committed.stream.0),
        version: committed.last_version.0,
        position: committed.last_position.0,
        events: events
            .iter()
            .map(|event| event.event_type().to_owned())
            .collect(),
        replayed: committed.replayed,
    }
}
