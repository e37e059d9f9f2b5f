//! The case projection: every case's folded state, persisted with its checkpoint in one
//! keyspace, with what queries need of every case in memory.
//!
//! Layout of the keyspace: `meta/version` (the projection's format version), `meta/checkpoint`
//! (the last position persisted) and `case/<16-byte id>` (the case's JSON). Applying events
//! only changes memory and marks the cases it touched; [`CaseProjection::persist`] (the
//! follower calls it every few seconds, after a catch-up page and at shutdown) writes the
//! marked cases and the checkpoint in one atomic batch, so a case touched a hundred times
//! between two persists is encoded once. The batch is not synced: the log is the durable
//! truth, and anything lost is replayed from it at the next start.
//!
//! Memory holds every case's [`CaseSummary`] (what lists filter on, search matches and
//! statistics count), the full state of every case changed since the last persist, and the
//! full states of recently used cases up to a byte budget ([`Details`]); any other case's full
//! state is read from its row when a view, a list page or an event needs it. So the memory the
//! projection needs grows with the number of cases by a few hundred bytes each, not with their
//! histories, and a store many times larger than memory is served.
//!
//! Several service instances on one PostgreSQL database share the keyspace. Each persists with
//! a guard — only while the stored checkpoint is at most its own — and writes every case it
//! changed since its last persist that got through, so the stored rows are always the state at
//! the stored checkpoint or later, never earlier. Folding skips an event a row already holds
//! (its case version is at least the event's), so rows ahead of the checkpoint are harmless.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use caseledger_domain::{Case, CaseId, LetterId, StoredEvent};
use caseledger_store::{EventLog, Keyspace, KeyspaceChange, Position, Recorded, StoreError};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::details::Details;
use crate::summary::CaseSummary;

/// The format version of the stored rows; bump it when `Case` changes shape, and the
/// projection rebuilds itself from the log at the next start.
pub const PROJECTION_VERSION: u64 = 1;

const VERSION_KEY: &[u8] = b"meta/version";
const CHECKPOINT_KEY: &[u8] = b"meta/checkpoint";
const CASE_PREFIX: &[u8] = b"case/";

/// How many events one step of the follower applies at most.
const STEP_EVENTS: usize = 2_000;
/// How many events one step of [`CaseProjection::catch_up`] applies at most: many more than a
/// follower's step, because a catch-up (a start behind the log, a rebuild) has many events to
/// go and nobody waiting on each step, and a case touched several times within one step is
/// encoded and written once. Two such pages (about 50 MB each) are in memory at a time.
const CATCH_UP_EVENTS: usize = 50_000;

/// How often the follower writes the changed cases and its checkpoint while the log moves.
/// What is not yet written is replayed from the log after a crash (at the rates measured in
/// `docs/benchmarks.md`, five seconds of commands replay in well under a second). Each persist
/// encodes every changed case whole, so a longer interval writes a busy case less often.
pub const PERSIST_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// How long the follower lets head moves gather before it steps: a bound on what it adds to
/// the lag, and under load several group commits read and applied in one step.
const FOLLOW_COALESCE: std::time::Duration = std::time::Duration::from_millis(2);

/// How many rows a snapshot encodes under one acquisition of the read lock.
const SNAPSHOT_ROWS_PER_LOCK: usize = 64;

/// How many rows loading the projection decodes at a time.
const LOAD_ROWS_PER_PAGE: usize = 1_000;

/// The default budget for the full states of recently used cases whose rows are current (see
/// the module documentation): what lists and views of the cases being worked on are served
/// from without reading their rows.
pub const DEFAULT_RECENT_CASES_BYTES: usize = 16 * 1024 * 1024;

/// What a projection step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Events were applied; there may be more.
    Progressed,
    /// The projection has reached the log's head.
    Idle,
}

/// Why a projection could not advance.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The in-memory state was poisoned by a panic.
    #[error("the projection's state was poisoned")]
    Poisoned,
    /// A case the projection knows has no stored row, which only an outside change to the
    /// keyspace can cause; a rebuild (`caseledger projections rebuild`) repairs it.
    #[error("the stored row of case {0} is missing")]
    MissingRow(CaseId),
    /// A list or search did not finish within its time budget.
    #[error("the search did not finish within its time budget")]
    BudgetSpent,
}

/// What the projection holds in memory.
#[derive(Debug)]
pub(crate) struct CaseTable {
    /// Every case's summary, in opening order (case ids are UUID v7, so their order is the
    /// order of opening).
    pub(crate) rows: BTreeMap<CaseId, CaseSummary>,
    /// Full states: the changed cases and the recently used ones.
    pub(crate) details: Details,
    /// The cases changed since the last persist that got through (all pinned in `details`).
    dirty: HashSet<CaseId>,
}

/// Every case's current state, built from the log.
#[derive(Debug, Clone)]
pub struct CaseProjection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keyspace: Keyspace,
    table: RwLock<CaseTable>,
    checkpoint: watch::Sender<u64>,
    /// Held for a whole step (and a reset), so that two callers stepping the same projection
    /// at once — the follower and a test or a rebuild — never apply the same events twice.
    step: tokio::sync::Mutex<()>,
    /// Held for a whole persist (taken before `step` when both are needed), so that two
    /// persists never write out of order.
    persist: tokio::sync::Mutex<()>,
}

/// What one persist writes: the changed cases as of `checkpoint`, with each row's size.
struct Snapshot {
    checkpoint: u64,
    rows: Vec<(CaseId, usize)>,
    changes: Vec<KeyspaceChange>,
}

fn case_key(id: CaseId) -> Vec<u8> {
    let mut key = CASE_PREFIX.to_vec();
    key.extend_from_slice(id.0.as_bytes());
    key
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ProjectionError> {
    serde_json::to_vec(value).map_err(|error| StoreError::Encode(error.to_string()).into())
}

impl CaseProjection {
    /// Loads the projection from `keyspace`, holding recently used cases up to
    /// [`DEFAULT_RECENT_CASES_BYTES`].
    pub async fn load(keyspace: Keyspace) -> Result<CaseProjection, ProjectionError> {
        CaseProjection::load_with_budget(keyspace, DEFAULT_RECENT_CASES_BYTES).await
    }

    /// Loads the projection from `keyspace`, holding the full states of recently used cases up
    /// to `recent_cases_bytes`, counted as the size of their rows (besides the cases changed
    /// since the last persist, which are held whatever their size). A keyspace of another
    /// format version is cleared, and the projection starts over from position 0 (see
    /// [`CaseProjection::catch_up`]).
    pub async fn load_with_budget(
        keyspace: Keyspace,
        recent_cases_bytes: usize,
    ) -> Result<CaseProjection, ProjectionError> {
        let version: Option<u64> = keyspace.get(VERSION_KEY).await?;
        let mut table = CaseTable {
            rows: BTreeMap::new(),
            details: Details::new(recent_cases_bytes),
            dirty: HashSet::new(),
        };
        let mut checkpoint = 0;
        if version == Some(PROJECTION_VERSION) {
            checkpoint = keyspace.get(CHECKPOINT_KEY).await?.unwrap_or(0);
            // A page at a time, keeping only the summaries: the full states of every case at
            // once could be more than memory holds.
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page: Vec<(Vec<u8>, Case)> = keyspace
                    .scan_after(CASE_PREFIX, after.as_deref(), LOAD_ROWS_PER_PAGE)
                    .await?;
                let Some((last_key, _)) = page.last() else {
                    break;
                };
                after = Some(last_key.clone());
                for (_, case) in &page {
                    table.rows.insert(case.id, CaseSummary::of(case));
                }
            }
        } else {
            if version.is_some() {
                tracing::info!(
                    stored = version,
                    current = PROJECTION_VERSION,
                    "the case projection's format changed; rebuilding it from the log"
                );
            }
            keyspace.clear().await?;
            keyspace
                .apply(
                    vec![
                        (VERSION_KEY.to_vec(), Some(encode(&PROJECTION_VERSION)?)),
                        (CHECKPOINT_KEY.to_vec(), Some(encode(&0u64)?)),
                    ],
                    false,
                )
                .await?;
        }
        let (sender, _) = watch::channel(checkpoint);
        Ok(CaseProjection {
            inner: Arc::new(Inner {
                keyspace,
                table: RwLock::new(table),
                checkpoint: sender,
                step: tokio::sync::Mutex::new(()),
                persist: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Forgets everything, so the next steps rebuild the projection from position 0.
    pub async fn reset(&self) -> Result<(), ProjectionError> {
        let _persist = self.inner.persist.lock().await;
        let _step = self.inner.step.lock().await;
        self.inner.keyspace.clear().await?;
        self.inner
            .keyspace
            .apply(
                vec![
                    (VERSION_KEY.to_vec(), Some(encode(&PROJECTION_VERSION)?)),
                    (CHECKPOINT_KEY.to_vec(), Some(encode(&0u64)?)),
                ],
                false,
            )
            .await?;
        {
            let mut table = self.table_mut()?;
            table.rows.clear();
            table.details.clear();
            table.dirty.clear();
        }
        self.inner.checkpoint.send_replace(0);
        Ok(())
    }

    /// The last log position applied.
    pub fn checkpoint(&self) -> u64 {
        *self.inner.checkpoint.borrow()
    }

    /// A receiver that changes whenever the checkpoint moves.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.checkpoint.subscribe()
    }

    pub(crate) fn table(&self) -> Result<RwLockReadGuard<'_, CaseTable>, ProjectionError> {
        self.inner
            .table
            .read()
            .map_err(|_| ProjectionError::Poisoned)
    }

    fn table_mut(&self) -> Result<std::sync::RwLockWriteGuard<'_, CaseTable>, ProjectionError> {
        self.inner
            .table
            .write()
            .map_err(|_| ProjectionError::Poisoned)
    }

    /// Applies the next events of `log` after the checkpoint, at most a step's worth.
    pub async fn try_project_next(
        &self,
        log: &dyn EventLog<StoredEvent>,
    ) -> Result<Outcome, ProjectionError> {
        self.project_next(log, STEP_EVENTS).await
    }

    /// Applies at most `limit` events after the checkpoint.
    pub async fn project_next(
        &self,
        log: &dyn EventLog<StoredEvent>,
        limit: usize,
    ) -> Result<Outcome, ProjectionError> {
        let _step = self.inner.step.lock().await;
        let events = log.read_all(Position(self.checkpoint()), limit).await?;
        if events.is_empty() {
            return Ok(Outcome::Idle);
        }
        self.apply(&events).await?;
        Ok(Outcome::Progressed)
    }

    /// Steps until the projection reaches the log's head, persisting after each page and
    /// calling `progress` after each.
    ///
    /// Each page is read while the one before is applied and persisted, so that decoding the
    /// log and folding and writing the rows overlap; and the pages are larger than a
    /// follower's step, so that a case touched several times within a page is written once.
    pub async fn catch_up(
        &self,
        log: &dyn EventLog<StoredEvent>,
        mut progress: impl FnMut(u64),
    ) -> Result<(), ProjectionError> {
        let _persist = self.inner.persist.lock().await;
        let _step = self.inner.step.lock().await;
        let mut events = log
            .read_all(Position(self.checkpoint()), CATCH_UP_EVENTS)
            .await?;
        while let Some(last) = events.last().map(|recorded| recorded.position) {
            // Reading after `last` is right only once `events` are applied; if applying fails,
            // what was read ahead is discarded with the error.
            let apply_and_persist = async {
                self.apply(&events).await?;
                self.write(self.snapshot()?).await
            };
            let (next, applied) =
                tokio::join!(log.read_all(last, CATCH_UP_EVENTS), apply_and_persist);
            applied?;
            progress(self.checkpoint());
            events = next?;
        }
        Ok(())
    }

    /// Writes the cases changed since the last persist and the checkpoint, unless the stored
    /// checkpoint is already ahead of this projection's (another instance on the same
    /// database persisted further); then the changed cases stay marked for the next persist.
    /// Returns whether it wrote. The follower goes on applying events meanwhile.
    pub async fn persist(&self) -> Result<bool, ProjectionError> {
        let _persist = self.inner.persist.lock().await;
        // Encoding every changed case is wasted when another instance already persisted
        // further; this read saves it (the guard in `write` still decides).
        let stored: Option<u64> = self.inner.keyspace.get(CHECKPOINT_KEY).await?;
        if stored.is_some_and(|stored| stored > self.checkpoint()) {
            return Ok(false);
        }
        let snapshot = self.snapshot()?;
        self.write(snapshot).await
    }

    /// The changed cases, encoded, and a checkpoint they are at or past; the marks move into
    /// the snapshot. Events may be applied meanwhile: the checkpoint is read before the marks
    /// are taken (and `apply` marks before it moves the checkpoint), so every case changed up
    /// to the checkpoint is in the snapshot, some perhaps already further on — which loading
    /// tolerates, since folding skips the events a row already holds. Rows are encoded a few
    /// at a time under the read lock, so queries and the follower are never held up long.
    fn snapshot(&self) -> Result<Snapshot, ProjectionError> {
        let checkpoint = self.checkpoint();
        let ids: Vec<CaseId> = std::mem::take(&mut self.table_mut()?.dirty)
            .into_iter()
            .collect();
        let mut changes: Vec<KeyspaceChange> = Vec::with_capacity(ids.len() + 1);
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(SNAPSHOT_ROWS_PER_LOCK) {
            let table = self.table()?;
            for id in chunk {
                // Marked cases stay pinned until their write got through, so each is here.
                if let Some(case) = table.details.get(*id) {
                    let row = encode(case)?;
                    rows.push((*id, row.len()));
                    changes.push((case_key(*id), Some(row)));
                }
            }
        }
        changes.push((CHECKPOINT_KEY.to_vec(), Some(encode(&checkpoint)?)));
        Ok(Snapshot {
            checkpoint,
            rows,
            changes,
        })
    }

    /// Writes a snapshot under the checkpoint guard; the caller holds the persist lock. What
    /// was not written is marked again.
    async fn write(&self, snapshot: Snapshot) -> Result<bool, ProjectionError> {
        let Snapshot {
            checkpoint,
            rows,
            changes,
        } = snapshot;
        let written = self
            .inner
            .keyspace
            .apply_guarded(CHECKPOINT_KEY, checkpoint, changes, false)
            .await;
        let mut table = self.table_mut()?;
        let table = &mut *table;
        match written {
            Ok(true) => {
                // A case changed again since the snapshot stays pinned for the next persist.
                for (id, size) in rows {
                    if !table.dirty.contains(&id) {
                        table.details.unpin(id, size);
                    }
                }
                record_held(&table.details);
                metrics::gauge!("caseledger_projection_persisted_checkpoint", "projection" => "cases")
                    .set(checkpoint as f64);
                Ok(true)
            }
            Ok(false) => {
                table.dirty.extend(rows.into_iter().map(|(id, _)| id));
                Ok(false)
            }
            Err(error) => {
                table.dirty.extend(rows.into_iter().map(|(id, _)| id));
                Err(error.into())
            }
        }
    }

    /// Whether anything changed since the last persist that got through.
    fn has_unpersisted_changes(&self) -> bool {
        self.table()
            .map(|table| !table.dirty.is_empty())
            .unwrap_or(false)
    }

    /// Applies `events`, the ones right after the checkpoint, in memory, moves the checkpoint
    /// to the last of them and marks the cases they touched for the next persist. The caller
    /// holds the step lock. Cases known but not held in memory are read from their rows first.
    async fn apply(&self, events: &[Recorded<StoredEvent>]) -> Result<(), ProjectionError> {
        let mut loaded: HashMap<CaseId, Case> = HashMap::new();
        loop {
            let missing = self.try_apply(events, &mut loaded)?;
            if missing.is_empty() {
                return Ok(());
            }
            // Usually the first attempt; again only if a persist let some case go meanwhile.
            for id in missing {
                let case: Option<Case> = self.inner.keyspace.get(&case_key(id)).await?;
                loaded.insert(id, case.ok_or(ProjectionError::MissingRow(id))?);
            }
        }
    }

    /// Applies `events` if every case they touch is held, in `loaded` or new; otherwise changes
    /// nothing and returns the cases to load.
    ///
    /// An event a case already holds (its version is at least the event's stream version, as
    /// after loading a row another instance persisted ahead of the checkpoint) is skipped.
    fn try_apply(
        &self,
        events: &[Recorded<StoredEvent>],
        loaded: &mut HashMap<CaseId, Case>,
    ) -> Result<Vec<CaseId>, ProjectionError> {
        let Some(last) = events.last().map(|recorded| recorded.position.0) else {
            return Ok(Vec::new());
        };
        let mut table = self.table_mut()?;
        let table = &mut *table;
        let mut missing: Vec<CaseId> = events
            .iter()
            .map(|recorded| recorded.event.case_id)
            .filter(|id| {
                table.rows.contains_key(id) && !table.details.holds(*id) && !loaded.contains_key(id)
            })
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            return Ok(missing);
        }
        // Folded in place: nothing here can fail halfway (the write happens in `persist`), so
        // no copy of a case is needed to fall back on. Every case pinned here is marked, even
        // one whose events were all skipped, so that a persist writes it and lets it go again.
        // `true`: the title or description changed.
        let mut touched: HashMap<CaseId, bool> = HashMap::new();
        for recorded in events {
            let stored = &recorded.event;
            let id = stored.case_id;
            let case = table
                .details
                .pin(id, || loaded.remove(&id).unwrap_or_else(|| Case::new(id)));
            let text_changed = touched.entry(id).or_default();
            if case.version >= recorded.version.0 {
                continue;
            }
            case.evolve(&stored.event, stored.at);
            *text_changed |= matches!(
                stored.event,
                caseledger_domain::CaseEvent::CaseOpened { .. }
            );
        }
        for (id, text_changed) in touched {
            let Some(case) = table.details.get(id) else {
                continue;
            };
            match table.rows.get_mut(&id) {
                Some(summary) if !text_changed => summary.refresh(case),
                _ => {
                    table.rows.insert(id, CaseSummary::of(case));
                }
            }
            // Marked before the checkpoint moves, so a snapshot that reads the checkpoint
            // first and then takes the marks has every case changed up to that checkpoint.
            table.dirty.insert(id);
        }
        record_held(&table.details);
        self.inner.checkpoint.send_replace(last);
        metrics::gauge!("caseledger_projection_checkpoint", "projection" => "cases")
            .set(last as f64);
        Ok(Vec::new())
    }

    /// Follows the log until `shutdown` turns true: a step whenever the log grows, a persist
    /// at most every [`PERSIST_INTERVAL`] while anything changed, and a last persist at
    /// shutdown.
    pub async fn run_until_stopped(
        &self,
        log: Arc<dyn EventLog<StoredEvent>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut heads = log.subscribe();
        let mut last_persist = tokio::time::Instant::now();
        loop {
            match self.try_project_next(log.as_ref()).await {
                Ok(Outcome::Progressed) => {}
                Ok(Outcome::Idle) => {}
                Err(error) => {
                    tracing::error!(%error, "the case projection failed a step; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            }
            if last_persist.elapsed() >= PERSIST_INTERVAL && self.has_unpersisted_changes() {
                self.persist_logging_errors().await;
                last_persist = tokio::time::Instant::now();
            }
            let lag = log.head().position.0.saturating_sub(self.checkpoint());
            metrics::gauge!("caseledger_projection_lag_events", "projection" => "cases")
                .set(lag as f64);
            if lag > 0 {
                continue;
            }
            let persist_due = async {
                if self.has_unpersisted_changes() {
                    tokio::time::sleep_until(last_persist + PERSIST_INTERVAL).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                changed = heads.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    // Under load the head moves with every group commit; letting a few
                    // commits gather makes one step (one read, one lock) of several.
                    tokio::time::sleep(FOLLOW_COALESCE).await;
                }
                _ = shutdown.changed() => {}
                _ = persist_due => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
        self.persist_logging_errors().await;
    }

    async fn persist_logging_errors(&self) {
        if let Err(error) = self.persist().await {
            tracing::warn!(%error, "the case projection could not persist its rows; retrying later");
        }
    }

    /// Waits until the checkpoint reaches `position`, at most `timeout`; `false` if it did not.
    pub async fn wait_for(&self, position: u64, timeout: std::time::Duration) -> bool {
        let mut receiver = self.subscribe();
        let reached = tokio::time::timeout(
            timeout,
            receiver.wait_for(|checkpoint| *checkpoint >= position),
        )
        .await;
        matches!(reached, Ok(Ok(_)))
    }

    /// A case's current state, if the projection has seen it opened: from memory when held,
    /// otherwise from its row (which is current for every case not held), then kept as a
    /// recently used case.
    pub async fn get(&self, id: CaseId) -> Result<Option<Case>, ProjectionError> {
        {
            let table = self.table()?;
            if !table.rows.get(&id).is_some_and(|summary| summary.opened) {
                return Ok(None);
            }
        }
        Ok(self.get_known(vec![id]).await?.pop())
    }

    /// The current states of `ids`, every one a case the projection knows, in that order:
    /// those held from memory, the others from their rows, which are then kept as recently
    /// used cases (see [`Details::add_read`]).
    pub(crate) async fn get_known(&self, ids: Vec<CaseId>) -> Result<Vec<Case>, ProjectionError> {
        let (held, mark): (Vec<Option<Case>>, u64) = {
            let table = self.table()?;
            let held = ids
                .iter()
                .map(|id| table.details.get(*id).cloned())
                .collect();
            (held, table.details.read_mark())
        };
        let mut cases = Vec::with_capacity(ids.len());
        let mut read = Vec::new();
        for (id, held) in ids.into_iter().zip(held) {
            let case = match held {
                Some(case) => case,
                None => {
                    let (case, size): (Case, usize) = self
                        .inner
                        .keyspace
                        .get_sized(&case_key(id))
                        .await?
                        .ok_or(ProjectionError::MissingRow(id))?;
                    read.push((case.clone(), size));
                    case
                }
            };
            cases.push(case);
        }
        if !read.is_empty() {
            let mut table = self.table_mut()?;
            for (case, size) in read {
                table.details.add_read(mark, case, size);
            }
            record_held(&table.details);
        }
        Ok(cases)
    }

    /// Every open letter whose deadline passed at `now` without being recorded as missed.
    pub fn deadlines_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(CaseId, LetterId)>, ProjectionError> {
        Ok(self
            .table()?
            .rows
            .iter()
            .flat_map(|(id, summary)| {
                summary
                    .deadlines_to_mark(now)
                    .map(move |letter| (*id, letter))
            })
            .collect())
    }

    /// How many cases the projection holds.
    pub fn len(&self) -> Result<usize, ProjectionError> {
        Ok(self.table()?.rows.len())
    }

    /// Whether the projection holds no case.
    pub fn is_empty(&self) -> Result<bool, ProjectionError> {
        Ok(self.len()? == 0)
    }
}

/// Publishes how many full case states the projection holds.
fn record_held(details: &Details) {
    let (recent, recent_bytes) = details.recent_len_and_bytes();
    metrics::gauge!("caseledger_projection_cases_held", "state" => "changed")
        .set(details.pinned_len() as f64);
    metrics::gauge!("caseledger_projection_cases_held", "state" => "recent").set(recent as f64);
    metrics::gauge!("caseledger_projection_recent_cases_bytes").set(recent_bytes as f64);
}
