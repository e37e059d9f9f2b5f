//! Erasure that holds (contract §6a): the erasure register, the order in which an erasure
//! destroys a case's key, the start-up step that rewraps and reconciles every stored key, and
//! applying a live service's register to a restored store.
//!
//! The order of an erasure: (1) a pending entry in the register (keyspace `erasures`, durable),
//! (2) `PersonalDataErased` in the log, (3) the entry completed with the event's position and
//! time, (4) the key removed, durably; only then the answer. A repeat — with or without
//! `Idempotency-Key` — does (3) and (4) again before it answers. Reads of personal data ask the
//! register, never the fold of a historic version, so a case in the register opens for no one
//! whatever keys still exist. A backup reads the register after the log's head and the keys
//! after the register, leaving out the key of every case it names ([`revocation`]); since (1)
//! comes before (2), a backup never holds both an erasure and its key. At start,
//! [`App::prepare_personal_data_keys`] rewraps keys under the current key-encryption key and
//! reconciles: every erasure the log holds gets its register entry and loses its key, which
//! heals a crash between (2) and (4).
//!
//! It does not seal or open personal data (`personal_data`) nor decide whether a case may be
//! erased (the domain's `decide`).

use caseledger_domain::{CaseEvent, CaseId, Command, ComplainantRecord, Rejection, Role, Rule};
use caseledger_store::snapshot::Revocation;
use caseledger_store::{KeyspaceChange, Position, Recorded, StreamId, Version};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{require_role, Principal};
use crate::app::App;
use crate::commands::{CommandOutcome, Idempotency};
use crate::error::AppError;
use crate::personal_data::{Rewrap, StoredCaseKey};
use crate::reads::{TimeTravel, STREAM_READ_LIMIT};
use crate::storage::Storage;
use crate::tokens::Caller;
use caseledger_domain::StoredEvent;

/// The keyspace of the erasure register.
pub const ERASURES_KEYSPACE: &str = "erasures";
/// The keyspace of the per-case keys.
pub const KEYS_KEYSPACE: &str = "personal_data_keys";
/// Register keys are this prefix and the case id's 16 bytes.
const CASE_PREFIX: &[u8] = b"case/";
/// The register key of the position up to which the log was scanned for erasures.
const SCANNED_KEY: &[u8] = b"scanned";
/// How many keys or events the start-up step reads at once.
const PAGE: usize = 1_000;
/// A pending entry whose erasure never reached the log is dropped at start once it is this
/// old: its request failed (the admin was told so), and no request still running wrote it.
const PENDING_GRACE_SECONDS: i64 = 60;

/// **Test-only fault injection.** When this environment variable is `1`, the process aborts
/// right after `PersonalDataErased` is durable and before the register entry is completed and
/// the key removed — the crash that the start-up reconciliation heals (`tests/erasure.rs`).
/// Never set it in a deployment.
pub const CRASH_AFTER_ERASURE_EVENT_ENV: &str = "CASELEDGER_TEST_CRASH_AFTER_ERASURE_EVENT";

/// One entry of the register as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRecord {
    /// The case.
    pub case_id: Uuid,
    /// When the erasure was asked for.
    pub requested_at: DateTime<Utc>,
    /// When `PersonalDataErased` was recorded; `None` while pending.
    pub erased_at: Option<DateTime<Utc>>,
    /// The event's position; `None` while pending.
    pub position: Option<u64>,
}

/// A completed erasure, as `GET /v1/admin/erasures` lists it and `restore --erasures` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// The case.
    pub case_id: Uuid,
    /// When `PersonalDataErased` was recorded.
    pub erased_at: DateTime<Utc>,
    /// Its position in the log.
    pub position: u64,
}

/// What [`App::prepare_personal_data_keys`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUpkeep {
    /// Keys wrapped (again) under the current key-encryption key.
    pub rewrapped: u64,
    /// Erasures found in the log that the register did not complete yet.
    pub reconciled: u64,
    /// Keys removed because their case is in the register.
    pub keys_removed: u64,
}

/// How backups and copies leave out the keys of erased cases.
pub fn revocation() -> Revocation {
    Revocation {
        keys: KEYS_KEYSPACE.into(),
        register: ERASURES_KEYSPACE.into(),
        register_prefix: CASE_PREFIX.to_vec(),
    }
}

fn register_key(case: Uuid) -> Vec<u8> {
    let mut key = CASE_PREFIX.to_vec();
    key.extend_from_slice(case.as_bytes());
    key
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, AppError> {
    serde_json::to_vec(value).map_err(|error| AppError::Internal(error.into()))
}

fn is_erasure(recorded: &Recorded<StoredEvent>) -> bool {
    matches!(recorded.event.event, CaseEvent::PersonalDataErased {})
}

/// Records every erasure of `erasures` in the register of `storage` and removes the case's key
/// (for a store restored from a backup older than them). Returns how many keys were removed.
pub async fn apply_erasures(storage: &Storage, erasures: &[Erasure]) -> Result<u64, AppError> {
    let mut register = Vec::with_capacity(erasures.len());
    let mut removals = Vec::with_capacity(erasures.len());
    let mut removed = 0;
    for erasure in erasures {
        let record = ErasureRecord {
            case_id: erasure.case_id,
            requested_at: erasure.erased_at,
            erased_at: Some(erasure.erased_at),
            position: Some(erasure.position),
        };
        register.push((register_key(erasure.case_id), Some(encode(&record)?)));
        if storage
            .personal_data_keys
            .get::<serde_json::Value>(erasure.case_id.as_bytes())
            .await?
            .is_some()
        {
            removed += 1;
        }
        removals.push((erasure.case_id.as_bytes().to_vec(), None));
    }
    // The register first: a crash in between leaves a key the next start removes.
    storage.erasures.apply(register, true).await?;
    storage.personal_data_keys.apply(removals, true).await?;
    Ok(removed)
}

/// Whether `storage` holds a key wrapped by a key-encryption key (after any start with one,
/// every key is): what `serve` asks before it picks the key-encryption key to build the
/// service with.
pub async fn holds_wrapped_keys(storage: &Storage) -> Result<bool, AppError> {
    let first = storage
        .personal_data_keys
        .scan_after::<StoredCaseKey>(b"", None, 1)
        .await?;
    Ok(first
        .iter()
        .any(|(_, stored)| matches!(stored, StoredCaseKey::Wrapped { .. })))
}

impl App {
    /// Erases a case's complainant data (admins only), in the order the module describes: the
    /// key is gone, durably, before this returns. A repeat makes sure of that again before it
    /// answers (`409` `personal_data_already_erased`, or the first answer for the same
    /// `Idempotency-Key`).
    pub async fn erase_personal_data(
        &self,
        caller: &Caller,
        case_id: CaseId,
        idempotency: Option<Idempotency>,
    ) -> Result<CommandOutcome, AppError> {
        let idempotency = self.scope(caller, idempotency);
        if let Some(replayed) = self.replay_idempotent(idempotency.as_ref()).await? {
            if caller.role == Role::Admin {
                self.ensure_erased(replayed.case_id).await?;
            }
            return Ok(replayed);
        }
        // Only admins erase: the domain's `authorize` refuses every other role in the command
        // below, after the visibility check, so a partner asking about a case not shared with
        // it gets the same 404 as for every other command. The register is touched only for
        // an admin's erasure of a case that has data to erase.
        let (case, _) = self.load(case_id, TimeTravel::Latest).await?;
        let pending = caller.role == Role::Admin
            && case.opened
            && matches!(case.complainant, ComplainantRecord::Sealed(_));
        if pending {
            let record = ErasureRecord {
                case_id: case_id.0,
                requested_at: self.now(),
                erased_at: None,
                position: None,
            };
            self.storage
                .erasures
                .put(&register_key(case_id.0), &record)
                .await?;
        }
        let result = self
            .run_command(
                Principal::Token(caller),
                case_id,
                Command::ErasePersonalData,
                None,
                idempotency,
            )
            .await;
        match result {
            Ok(outcome) => {
                if std::env::var(CRASH_AFTER_ERASURE_EVENT_ENV).as_deref() == Ok("1") {
                    tracing::error!(
                        "{CRASH_AFTER_ERASURE_EVENT_ENV}=1: aborting after the erasure event, \
                         before the key is removed (test-only fault injection)"
                    );
                    std::process::abort();
                }
                self.ensure_erased(outcome.case_id).await?;
                Ok(outcome)
            }
            Err(AppError::Rejected(Rejection::Conflict {
                rule: Rule::PersonalDataAlreadyErased,
                detail,
            })) => {
                // Erased meanwhile (or before): the key must be gone before this answer too.
                self.ensure_erased(case_id).await?;
                Err(AppError::Rejected(Rejection::Conflict {
                    rule: Rule::PersonalDataAlreadyErased,
                    detail,
                }))
            }
            Err(error) => {
                if pending {
                    // The erasure may have reached the log before the failure: then it is
                    // finished; otherwise the pending entry goes, since nothing was erased.
                    match self.ensure_erased(case_id).await {
                        Ok(true) => {}
                        Ok(false) => {
                            if let Err(cleanup) =
                                self.storage.erasures.remove(&register_key(case_id.0)).await
                            {
                                tracing::warn!(
                                    error = %cleanup,
                                    "a failed erasure left its pending register entry; the \
                                     next start removes it"
                                );
                            }
                        }
                        Err(cleanup) => tracing::warn!(
                            error = %cleanup,
                            "cannot tell whether a failed erasure reached the log; the next \
                             start reconciles it"
                        ),
                    }
                }
                Err(error)
            }
        }
    }

    /// When the case's log holds its erasure: completes the register entry and removes the key,
    /// durably, and returns `true`.
    pub(crate) async fn ensure_erased(&self, case_id: CaseId) -> Result<bool, AppError> {
        let events = self
            .storage
            .log
            .read_stream(StreamId(case_id.0), Version(1), STREAM_READ_LIMIT)
            .await?;
        let Some(erasure) = events.iter().rev().find(|recorded| is_erasure(recorded)) else {
            return Ok(false);
        };
        self.complete_erasure(erasure).await?;
        Ok(true)
    }

    /// Completes the register entry of the erasure `event` and removes the case's key.
    async fn complete_erasure(&self, event: &Recorded<StoredEvent>) -> Result<(), AppError> {
        let case_id = event.event.case_id.0;
        let key = register_key(case_id);
        let existing: Option<ErasureRecord> = self.storage.erasures.get(&key).await?;
        if existing
            .as_ref()
            .is_none_or(|record| record.position != Some(event.position.0))
        {
            let record = ErasureRecord {
                case_id,
                requested_at: existing
                    .map(|record| record.requested_at)
                    .unwrap_or(event.event.at),
                erased_at: Some(event.event.at),
                position: Some(event.position.0),
            };
            self.storage.erasures.put(&key, &record).await?;
        }
        self.storage
            .personal_data_keys
            .remove(case_id.as_bytes())
            .await?;
        Ok(())
    }

    /// Whether the register names the case (erased, or being erased): then no read opens its
    /// personal data, whatever version it shows and whatever keys exist.
    pub(crate) async fn is_erased(&self, case_id: CaseId) -> Result<bool, AppError> {
        Ok(self
            .storage
            .erasures
            .get::<ErasureRecord>(&register_key(case_id.0))
            .await?
            .is_some())
    }

    /// `Forbidden` unless the caller may erase personal data (admins): for a page that asks
    /// to confirm an erasure before anything is erased.
    pub fn check_may_erase(&self, caller: &Caller) -> Result<(), AppError> {
        require_role(caller, &[Role::Admin], "erase personal data")
    }

    /// The erasure register (admins only): every completed erasure, in log order, without any
    /// personal data.
    pub async fn erasures(&self, caller: &Caller) -> Result<Vec<Erasure>, AppError> {
        require_role(caller, &[Role::Admin], "read the erasure register")?;
        let mut erasures: Vec<Erasure> = self
            .storage
            .erasures
            .scan::<ErasureRecord>(CASE_PREFIX)
            .await?
            .into_iter()
            .filter_map(|(_, record)| {
                Some(Erasure {
                    case_id: record.case_id,
                    erased_at: record.erased_at?,
                    position: record.position?,
                })
            })
            .collect();
        erasures.sort_by_key(|erasure| erasure.position);
        Ok(erasures)
    }

    /// Wraps every key of `keyspace` (per-case keys by case id) that is in clear or under the
    /// previous key-encryption key under the current one; returns how many it rewrapped.
    async fn rewrap_keys(&self, keyspace: &caseledger_store::Keyspace) -> Result<u64, AppError> {
        let keyring = self.keyring();
        let mut rewrapped = 0;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = keyspace
                .scan_after::<StoredCaseKey>(b"", after.as_deref(), PAGE)
                .await?;
            let full = page.len() == PAGE;
            after = page.last().map(|(key, _)| key.clone());
            let mut changes: Vec<KeyspaceChange> = Vec::new();
            for (key, stored) in page {
                if keyring.rewrap(&stored)? == Rewrap::No {
                    continue;
                }
                let case = CaseId(Uuid::from_slice(&key).map_err(|_| {
                    AppError::Internal(anyhow::anyhow!("a per-case key has a bad case id"))
                })?);
                let stored = keyring.store(case, &keyring.open(case, &stored)?)?;
                changes.push((key, Some(encode(&stored)?)));
            }
            rewrapped += changes.len() as u64;
            if !changes.is_empty() {
                keyspace.apply(changes, true).await?;
            }
            if !full {
                return Ok(rewrapped);
            }
        }
    }

    /// The start-up step for per-case keys, before the service takes requests: wraps every
    /// personal-data key and attached files' content key that is in clear or under the
    /// previous key-encryption key under the current one (an
    /// error when a key is wrapped by a KEK the service does not hold), then reconciles the
    /// register with the log — every erasure in the log since the last start is completed in the
    /// register, stale pending entries go — and removes the key of every case in the register.
    pub async fn prepare_personal_data_keys(&self) -> Result<KeyUpkeep, AppError> {
        let mut upkeep = KeyUpkeep::default();
        for keyspace in [
            &self.storage.personal_data_keys,
            &self.storage.attachment_keys,
        ] {
            upkeep.rewrapped += self.rewrap_keys(keyspace).await?;
        }

        let scanned: u64 = self.storage.erasures.get(SCANNED_KEY).await?.unwrap_or(0);
        let head = self.storage.log.head().position;
        let mut position = Position(scanned);
        while position < head {
            let events = self.storage.log.read_all(position, PAGE).await?;
            let Some(last) = events.last() else { break };
            position = last.position;
            for recorded in events.iter().filter(|recorded| is_erasure(recorded)) {
                let complete = self
                    .storage
                    .erasures
                    .get::<ErasureRecord>(&register_key(recorded.event.case_id.0))
                    .await?
                    .is_some_and(|record| record.position == Some(recorded.position.0));
                if !complete {
                    self.complete_erasure(recorded).await?;
                    upkeep.reconciled += 1;
                }
            }
        }

        let now = self.now();
        let mut removals: Vec<KeyspaceChange> = Vec::new();
        for (key, record) in self
            .storage
            .erasures
            .scan::<ErasureRecord>(CASE_PREFIX)
            .await?
        {
            if record.position.is_none() && !self.ensure_erased(CaseId(record.case_id)).await? {
                // No erasure reached the log: its request failed and said so, and the key
                // stays. The entry goes once no request of another instance can still be
                // writing it.
                if (now - record.requested_at).num_seconds() >= PENDING_GRACE_SECONDS {
                    self.storage.erasures.remove(&key).await?;
                }
                continue;
            }
            if self
                .storage
                .personal_data_keys
                .get::<StoredCaseKey>(record.case_id.as_bytes())
                .await?
                .is_some()
            {
                removals.push((record.case_id.as_bytes().to_vec(), None));
            }
        }
        upkeep.keys_removed = removals.len() as u64;
        if !removals.is_empty() {
            self.storage
                .personal_data_keys
                .apply(removals, true)
                .await?;
        }
        self.storage.erasures.put(SCANNED_KEY, &head.0).await?;
        Ok(upkeep)
    }
}
