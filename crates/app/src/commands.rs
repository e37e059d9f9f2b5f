//! The write path: every command goes load → decide → append.
//!
//! This module owns the flow around the domain's `decide` — optimistic concurrency and its
//! retries, the per-case state cache, idempotency keys and their replays, letter numbers,
//! sealing the complainant's personal data when a case opens — and the deadline watcher's
//! command. Role and visibility checks are `access`'s; the state a command decides on comes
//! from `reads`. It knows nothing of HTTP.

use caseledger_domain::{
    authorize, decide, Actor, ActorRecord, Case, CaseEvent, CaseId, Category, Command,
    ComplainantInput, Context, EmployerInput, LetterId, LetterKind, Rejection, SealedPersonalData,
    Source, StoredEvent,
};
use caseledger_store::{
    AppendRejected, Committed, ExpectedVersion, IdempotencyKey, StreamId, Version,
};
use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

use crate::access::Principal;
use crate::app::App;
use crate::error::AppError;
use crate::letter_documents::letter_document;
use crate::letter_numbers::{Hold, LetterNumbers, TakenNumber};
use crate::personal_data::CaseKey;
use crate::reads::TimeTravel;
use crate::tokens::Caller;

/// How often a command without `If-Match` is retried when another command on the same case
/// lands between its load and its append.
const MAX_CONFLICT_RETRIES: usize = 64;

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

impl Idempotency {
    /// An idempotency key for a request, with its [`request_fingerprint`].
    pub fn for_request(key: String, method: &str, path: &str, body: &[u8]) -> Idempotency {
        Idempotency {
            key,
            fingerprint: request_fingerprint(method, path, body),
        }
    }
}

/// The domain's command for an opening, with the complainant's details sealed (or none).
fn open_command(input: &OpenCase, sealed: Option<SealedPersonalData>) -> Command {
    Command::OpenCase {
        title: input.title.clone(),
        category: input.category,
        description: input.description.clone(),
        source: input.source,
        employer: input.employer.clone(),
        region: input.region.clone(),
        industry: input.industry.clone(),
        workers_affected: input.workers_affected,
        complainant: sealed,
    }
}

/// A digest of a request's method, path and body: the same idempotency key sent with a
/// different request is told apart by it (the API's requests and the console's forms alike).
pub fn request_fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// The number field of a command that numbers a letter (issuing or approving one).
fn letter_number_mut(command: &mut Command) -> Option<&mut String> {
    match command {
        Command::IssueLetter { number, .. } | Command::ApproveLetter { number, .. } => Some(number),
        _ => None,
    }
}

/// The letter `events` number, if they issue or approve one: its id and kind.
fn numbered_letter(events: &[CaseEvent]) -> Option<(LetterId, LetterKind)> {
    events.iter().find_map(|event| match event {
        CaseEvent::SupervisionLetterIssued {
            letter_id, kind, ..
        }
        | CaseEvent::LetterApproved {
            letter_id, kind, ..
        } => Some((*letter_id, *kind)),
        _ => None,
    })
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

impl App {
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
        let complainant = self.check_opening(caller, &input, case_id, now)?;
        let command = |sealed| open_command(&input, sealed);
        let actor = self.actor(caller);
        let context = self.context(&actor, now);
        let empty = Case::new(case_id);
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
            .append_as(
                Principal::Token(caller).record(),
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

    /// Checks an opening without writing anything: `Ok`, or the refusal [`App::open_case`]
    /// would answer (every bad field at once). What a form shows beside its fields when some
    /// of them could not even be read.
    pub fn check_open_case(&self, caller: &Caller, input: &OpenCase) -> Result<(), AppError> {
        let now = self.now();
        self.check_opening(caller, input, CaseId(Uuid::now_v7()), now)
            .map(|_| ())
    }

    /// The checks of an opening before anything is written; the complainant's details,
    /// validated, when given.
    fn check_opening(
        &self,
        caller: &Caller,
        input: &OpenCase,
        case_id: CaseId,
        now: DateTime<Utc>,
    ) -> Result<Option<ComplainantInput>, AppError> {
        let complainant = input
            .complainant
            .as_ref()
            .map(|complainant| complainant.validate(now.date_naive()));
        let actor = self.actor(caller);
        let context = self.context(&actor, now);
        let empty = Case::new(case_id);
        authorize(caller.role, &open_command(input, None))?;
        // Check everything but the complainant first, so every bad field is reported at once.
        let checked = decide(&empty, open_command(input, None), &context);
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
        Ok(complainant)
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
        letter_id: LetterId,
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
        let mut number = LetterNumberState::default();
        let result = self
            .run_command_attempts(
                principal,
                case_id,
                command,
                if_match,
                idempotency,
                &mut number,
            )
            .await;
        if let Some(taken) = number.taken {
            let numbers = self.letter_numbers();
            let settled = if number.outcome_unknown {
                tracing::warn!(
                    series = %taken.series,
                    n = taken.n,
                    "an append failed with an unknown outcome; its letter number stays held \
                     until the hourly sweep finds whether the letter was recorded"
                );
                Ok(())
            } else if number.recorded {
                numbers.confirm(&taken).await
            } else {
                numbers.release(&taken).await
            };
            if let Err(error) = settled {
                tracing::warn!(
                    %error,
                    series = %taken.series,
                    n = taken.n,
                    "a letter number stays held until the hourly sweep settles it"
                );
            }
        }
        result
    }

    async fn run_command_attempts(
        &self,
        principal: Principal<'_>,
        case_id: CaseId,
        command: Command,
        if_match: Option<u64>,
        idempotency: Option<IdempotencyKey>,
        number: &mut LetterNumberState,
    ) -> Result<CommandOutcome, AppError> {
        let actor = principal.actor();
        let mut command = command;
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
                &mut number.taken,
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
            // An append that fails with an error may still have been recorded (a database
            // that committed and then lost the connection): its number is then left held
            // for the sweep, which looks in the case, rather than given back twice.
            number.outcome_unknown = true;
            let appended = self
                .append_as(
                    principal.record(),
                    case_id,
                    expected,
                    events.clone(),
                    now,
                    idempotency.clone(),
                )
                .await?;
            number.outcome_unknown = false;
            match appended {
                Ok(committed) => {
                    // A replay answers for an earlier request; its events are not these.
                    if !committed.replayed {
                        number.recorded = true;
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
        taken: &mut Option<TakenNumber>,
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
        let year = self.office_year(now);
        if taken.is_none() {
            let kind = match command {
                Command::IssueLetter { kind, .. } => Some(*kind),
                Command::ApproveLetter { letter_id, .. } => Some(
                    case.draft(*letter_id)
                        .map_or(LetterKind::Opinion, |draft| draft.kind),
                ),
                _ => None,
            };
            if let (Some(kind), Some(number)) = (kind, letter_number_mut(command)) {
                // Until the letter is known to be acceptable it carries a provisional
                // number that no letter ever gets (sequences start at 1), so this first
                // decision checks everything but the number.
                *number = self.policy.letter_numbers.format(kind, year, 0);
            }
        }
        let mut events = decide(case, command.clone(), &context)
            .map_err(|rejection| self.hide_unshared(actor.role, rejection))?;
        if taken.is_none() {
            // A letter issued or approved now (not one drafted for sign-off) takes its number
            // only once it is known to be acceptable; the number is kept across retries and
            // given back if the letter is not recorded after all.
            if let Some((letter_id, kind)) = numbered_letter(&events) {
                let series = self.policy.letter_numbers.series(kind, year);
                let hold = Hold {
                    case_id: case.id,
                    letter_id,
                    taken_at: now,
                };
                let new = self.letter_numbers().take(&series, &hold).await?;
                if let Some(number) = letter_number_mut(command) {
                    *number = self.policy.letter_numbers.format(kind, year, new.n);
                }
                *taken = Some(new);
                events = decide(case, command.clone(), &context)?;
            }
        }
        if numbered_letter(&events).is_some() {
            // Typeset with its number and deadline, kept before its event is appended.
            self.print_letter(case, &mut events, now).await?;
        }
        Ok(events)
    }

    /// Typesets the letter `events` issue (if they issue one that has a document), keeps the
    /// PDF and records its SHA-256 in the event.
    async fn print_letter(
        &self,
        case: &Case,
        events: &mut [CaseEvent],
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        for event in events.iter_mut() {
            let Some(document) = letter_document(
                case,
                event,
                self.printing.letterhead(),
                now,
                self.timezone(),
            ) else {
                continue;
            };
            let sha256 = self
                .printing
                .print_and_keep(document, &self.storage.document_files)
                .await?;
            if let CaseEvent::SupervisionLetterIssued {
                document_sha256, ..
            }
            | CaseEvent::LetterApproved {
                document_sha256, ..
            } = event
            {
                *document_sha256 = Some(sha256);
            }
        }
        Ok(())
    }

    /// The year of `now` in the office: the year of a letter number.
    fn office_year(&self, now: DateTime<Utc>) -> i32 {
        now.with_timezone(&self.timezone()).year()
    }

    /// The sequences of letter numbers.
    pub(crate) fn letter_numbers(&self) -> LetterNumbers {
        LetterNumbers::new(self.storage.counters.clone())
    }

    /// Settles the numbers held longer than ten minutes: a process stopped between taking a
    /// number and recording its letter. A number whose letter is in its case is issued; any
    /// other is released for the next letter. Returns how many were settled.
    pub async fn settle_letter_number_holds(&self) -> Result<usize, AppError> {
        let before = self.now() - chrono::Duration::minutes(10);
        let numbers = self.letter_numbers();
        let holds = numbers.holds_before(before).await?;
        for (taken, hold) in &holds {
            let recorded = match self.load(hold.case_id, TimeTravel::Latest).await {
                Ok((case, _)) => case.letter(hold.letter_id).is_some(),
                Err(AppError::NotFound(_)) => false,
                Err(error) => return Err(error),
            };
            if recorded {
                numbers.confirm(taken).await?;
            } else {
                numbers.release(taken).await?;
            }
        }
        Ok(holds.len())
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
            calendar: self.calendar(),
            office_days: self.office_days(),
        }
    }

    /// Idempotency keys are per token.
    pub(crate) fn scope(
        &self,
        caller: &Caller,
        idempotency: Option<Idempotency>,
    ) -> Option<IdempotencyKey> {
        idempotency.map(|idempotency| IdempotencyKey {
            key: format!("{}:{}", caller.id.uuid(), idempotency.key),
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

/// The letter number a command took, and whether its letter was recorded.
#[derive(Debug, Default)]
struct LetterNumberState {
    taken: Option<TakenNumber>,
    recorded: bool,
    /// The last append failed with an error: whether it was recorded is not known.
    outcome_unknown: bool,
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
