//! The feed projection: every partner department's ordered list of messages, built from the
//! log, which both webhook delivery and the pull feed (`GET /v1/feed`) read.
//!
//! The projection reads the log in position order from its checkpoint. For each event it
//! updates the set of departments the case is shared with (the union of
//! [`caseledger_domain::CaseEvent::shares_with`] over the case's events, exactly as
//! [`Case::evolve`] builds
//! `shared_with`) and appends one message to the feed of every department the case is shared
//! with *after* the event — so a department's feed starts at the event that shares the case with
//! it, and that message also carries the case as it then stood (folded from the case's stream).
//! Internal notes are never appended (see [`crate::payload::INTERNAL_EVENT_TYPES`]).
//!
//! Layout of the keyspace:
//! - `meta/version`, `meta/checkpoint` (last log position projected), `meta/audit` (the last
//!   audit checkpoint position pushed);
//! - `shared/<16-byte case id>`: the departments a case is shared with;
//! - `msg/<department>/<8-byte position>e`: the message of the event at that position;
//! - `msg/<department>/<8-byte group>c<8-byte position>`: an audit checkpoint, filed in the group
//!   of the next log position to be projected, so it sorts before that event and after every
//!   message already in the feed.
//!
//! A step writes its messages, the sharing rows and the checkpoint in one durable batch. Durable,
//! unlike the case projection: delivery cursors point into the feed and are durable, and audit
//! checkpoints come from outside the log, so the feed must never be behind what was delivered
//! from it. Messages are only ever added after every existing key of a department's feed
//! (checkpoints too, under the same lock as the steps), so a cursor never has a message appear
//! behind it: nothing is skipped.
//!
//! This module knows nothing of HTTP, endpoints or the case projection.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use caseledger_domain::{Case, CaseId, Department, StoredEvent};
use caseledger_store::{
    EventLog, Keyspace, KeyspaceChange, Position, Recorded, StoreError, StreamId, Version,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex};

use crate::error::WebhookError;
use crate::payload::{case_event_body, checkpoint_body, is_partner_visible, AuditCheckpoint};

/// The format version of the feed keyspace.
pub const FEED_VERSION: u64 = 1;

const VERSION_KEY: &[u8] = b"meta/version";
const CHECKPOINT_KEY: &[u8] = b"meta/checkpoint";
const AUDIT_KEY: &[u8] = b"meta/audit";
const SHARED_PREFIX: &[u8] = b"shared/";
const MESSAGE_PREFIX: &[u8] = b"msg/";
const EVENT_MARK: u8 = b'e';
const CHECKPOINT_MARK: u8 = b'c';

/// How many events one step projects at most.
const STEP_EVENTS: usize = 1_000;

/// What a projection step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedOutcome {
    /// Events were projected; there may be more.
    Progressed,
    /// The feed has reached the log's head.
    Idle,
}

/// One message of a department's feed, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedMessage {
    /// The `webhook-id`: the event's id, or `checkpoint-<position>`. Stable across retries and
    /// replays; no dots.
    pub webhook_id: String,
    /// The message type: `case.<EventType>` or `audit.checkpoint`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The log position the message is about: the event's, or the one the checkpoint covers.
    pub position: u64,
    /// The exact JSON body that is signed and sent.
    pub body: String,
}

/// A message with its place in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Where it sits.
    pub key: FeedKey,
    /// The message.
    pub message: FeedMessage,
}

/// A message's place in a department's feed: its group (the log position it sits at) and, for
/// an audit checkpoint, the position the checkpoint covers. The order of the encoded keys is
/// feed order: within a group, checkpoints come before the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedKey {
    /// The log position the message sits at: an event's own position; for a checkpoint, the
    /// next position projected after it was pushed.
    pub group: u64,
    /// For a checkpoint, the position it covers.
    pub checkpoint: Option<u64>,
}

impl FeedKey {
    fn encode(&self) -> Vec<u8> {
        let mut bytes = self.group.to_be_bytes().to_vec();
        match self.checkpoint {
            None => bytes.push(EVENT_MARK),
            Some(position) => {
                bytes.push(CHECKPOINT_MARK);
                bytes.extend_from_slice(&position.to_be_bytes());
            }
        }
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<FeedKey> {
        let group = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        match (bytes.get(8), bytes.len()) {
            (Some(&EVENT_MARK), 9) => Some(FeedKey {
                group,
                checkpoint: None,
            }),
            (Some(&CHECKPOINT_MARK), 17) => Some(FeedKey {
                group,
                checkpoint: Some(u64::from_be_bytes(bytes.get(9..17)?.try_into().ok()?)),
            }),
            _ => None,
        }
    }
}

/// A place in a department's feed to read after: an exclusive lower bound. Stored in delivery
/// cursors as hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FeedCursor(Vec<u8>);

impl FeedCursor {
    /// Before every message.
    pub fn start() -> FeedCursor {
        FeedCursor(Vec::new())
    }

    /// After every message at log position `position` or before (so `after_position(P - 1)`
    /// starts at position P).
    pub fn after_position(position: u64) -> FeedCursor {
        let mut bytes = position.to_be_bytes().to_vec();
        bytes.push(0xFF);
        FeedCursor(bytes)
    }

    /// Right after this message.
    pub fn after(key: &FeedKey) -> FeedCursor {
        FeedCursor(key.encode())
    }

    /// The log position the cursor has passed: the group of the last message read (or the
    /// position given to [`FeedCursor::after_position`]); 0 at the start.
    pub fn position(&self) -> u64 {
        let passed = self
            .0
            .get(..8)
            .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        // A cursor right after a checkpoint sits before the event of its group.
        match self.0.get(8) {
            Some(&CHECKPOINT_MARK) => passed.saturating_sub(1),
            _ => passed,
        }
    }
}

impl TryFrom<String> for FeedCursor {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let mut bytes = Vec::with_capacity(text.len() / 2);
        let digits = text.as_bytes();
        if !digits.len().is_multiple_of(2) {
            return Err(format!("bad feed cursor {text:?}"));
        }
        for pair in digits.chunks(2) {
            let pair =
                std::str::from_utf8(pair).map_err(|_| format!("bad feed cursor {text:?}"))?;
            bytes.push(
                u8::from_str_radix(pair, 16).map_err(|_| format!("bad feed cursor {text:?}"))?,
            );
        }
        Ok(FeedCursor(bytes))
    }
}

impl From<FeedCursor> for String {
    fn from(cursor: FeedCursor) -> Self {
        cursor.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// A page of the pull feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// The messages, in feed order.
    pub entries: Vec<FeedEntry>,
    /// The `after` of the next page: the last group in this page; `None` when the page is
    /// empty.
    pub next_after: Option<u64>,
}

/// The state a step changes, behind the writer lock.
#[derive(Debug, Default)]
struct FeedState {
    /// Departments each case is shared with (cases shared with none are absent).
    shared: HashMap<CaseId, BTreeSet<Department>>,
    /// The last audit checkpoint position pushed.
    last_audit: u64,
}

/// Where the feed stands; subscribers wake whenever it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedHead {
    /// The last log position projected.
    pub position: u64,
    /// The last audit checkpoint position pushed.
    pub audit_checkpoint: u64,
}

/// Every department's feed, built from the log.
#[derive(Debug, Clone)]
pub struct FeedProjection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keyspace: Keyspace,
    departments: Vec<Department>,
    /// The writer lock: steps and checkpoint pushes hold it from reading the head to writing.
    state: Mutex<FeedState>,
    head: watch::Sender<FeedHead>,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, WebhookError> {
    serde_json::to_vec(value).map_err(|error| StoreError::Encode(error.to_string()).into())
}

fn department_prefix(department: &Department) -> Vec<u8> {
    let mut prefix = MESSAGE_PREFIX.to_vec();
    prefix.extend_from_slice(department.as_str().as_bytes());
    prefix.push(b'/');
    prefix
}

fn message_key(department: &Department, key: &FeedKey) -> Vec<u8> {
    let mut bytes = department_prefix(department);
    bytes.extend_from_slice(&key.encode());
    bytes
}

fn shared_key(case: CaseId) -> Vec<u8> {
    let mut key = SHARED_PREFIX.to_vec();
    key.extend_from_slice(case.0.as_bytes());
    key
}

/// Where the stored feed stands: its writer state and its position.
async fn read_state(keyspace: &Keyspace) -> Result<(FeedState, u64), WebhookError> {
    let position: u64 = keyspace.get(CHECKPOINT_KEY).await?.unwrap_or(0);
    let last_audit: u64 = keyspace.get(AUDIT_KEY).await?.unwrap_or(0);
    let mut shared = HashMap::new();
    for (key, departments) in keyspace.scan::<BTreeSet<Department>>(SHARED_PREFIX).await? {
        let id = key
            .get(SHARED_PREFIX.len()..)
            .and_then(|bytes| uuid::Uuid::from_slice(bytes).ok())
            .ok_or_else(|| WebhookError::Corrupt("a bad sharing row key".into()))?;
        shared.insert(CaseId(id), departments);
    }
    Ok((FeedState { shared, last_audit }, position))
}

impl FeedProjection {
    /// Re-reads where the feed stands from the store, dropping what memory holds: the feed as
    /// another instance on the same database wrote it while this one was not writing it. Run
    /// before this process starts writing the feed again.
    pub async fn reload(&self) -> Result<(), WebhookError> {
        let mut state = self.inner.state.lock().await;
        self.reload_locked(&mut state).await
    }

    async fn reload_locked(&self, state: &mut FeedState) -> Result<(), WebhookError> {
        let (stored, position) = read_state(&self.inner.keyspace).await?;
        *state = stored;
        self.inner.head.send_replace(FeedHead {
            position,
            audit_checkpoint: state.last_audit,
        });
        Ok(())
    }

    /// Loads the feed from `keyspace`. `departments` receive audit checkpoints (every known
    /// department does).
    pub async fn load(
        keyspace: Keyspace,
        departments: impl IntoIterator<Item = Department>,
    ) -> Result<FeedProjection, WebhookError> {
        let version: Option<u64> = keyspace.get(VERSION_KEY).await?;
        match version {
            Some(FEED_VERSION) => {}
            None => {
                // Any instance may be the first to start on a new store, leader or not.
                keyspace
                    .unfenced()
                    .apply(
                        vec![
                            (VERSION_KEY.to_vec(), Some(encode(&FEED_VERSION)?)),
                            (CHECKPOINT_KEY.to_vec(), Some(encode(&0u64)?)),
                            (AUDIT_KEY.to_vec(), Some(encode(&0u64)?)),
                        ],
                        true,
                    )
                    .await?;
            }
            Some(other) => {
                return Err(WebhookError::Corrupt(format!(
                    "the feed keyspace has format version {other}; this build reads version \
                     {FEED_VERSION}"
                )))
            }
        }
        let (stored, position) = read_state(&keyspace).await?;
        let (head, _) = watch::channel(FeedHead {
            position,
            audit_checkpoint: stored.last_audit,
        });
        let mut departments: Vec<Department> = departments.into_iter().collect();
        departments.sort();
        departments.dedup();
        Ok(FeedProjection {
            inner: Arc::new(Inner {
                keyspace,
                departments,
                state: Mutex::new(stored),
                head,
            }),
        })
    }

    /// The last log position projected.
    pub fn position(&self) -> u64 {
        self.inner.head.borrow().position
    }

    /// A receiver that changes whenever messages are added.
    pub fn subscribe(&self) -> watch::Receiver<FeedHead> {
        self.inner.head.subscribe()
    }

    /// Projects the next events of `log` after the checkpoint, at most a step's worth.
    pub async fn try_project_next(
        &self,
        log: &dyn EventLog<StoredEvent>,
    ) -> Result<FeedOutcome, WebhookError> {
        let mut state = self.inner.state.lock().await;
        let after = self.position();
        let events = log.read_all(Position(after), STEP_EVENTS).await?;
        let Some(last) = events.last().map(|recorded| recorded.position.0) else {
            return Ok(FeedOutcome::Idle);
        };
        let mut changes: Vec<KeyspaceChange> = Vec::new();
        let mut changed_cases = BTreeSet::new();
        for recorded in &events {
            let case_id = recorded.event.case_id;
            let shared = state.shared.entry(case_id).or_default();
            let newly: BTreeSet<Department> = recorded
                .event
                .event
                .shares_with()
                .into_iter()
                .filter(|department| !shared.contains(*department))
                .cloned()
                .collect();
            if !newly.is_empty() {
                shared.extend(newly.iter().cloned());
                changed_cases.insert(case_id);
            }
            if shared.is_empty() || !is_partner_visible(&recorded.event.event) {
                continue;
            }
            let receivers: Vec<Department> = shared.iter().cloned().collect();
            let message = |body: String| FeedMessage {
                webhook_id: recorded.event.id.to_string(),
                kind: format!("case.{}", recorded.event.event.event_type()),
                position: recorded.position.0,
                body,
            };
            let plain = encode(&message(case_event_body(recorded, None)))?;
            let sharing = if newly.is_empty() {
                None
            } else {
                let case = fold_case(log, recorded).await?;
                Some(encode(&message(case_event_body(recorded, Some(&case))))?)
            };
            let key = FeedKey {
                group: recorded.position.0,
                checkpoint: None,
            };
            for department in receivers {
                let value = match &sharing {
                    Some(with_case) if newly.contains(&department) => with_case.clone(),
                    _ => plain.clone(),
                };
                changes.push((message_key(&department, &key), Some(value)));
            }
        }
        for case_id in changed_cases {
            if let Some(departments) = state.shared.get(&case_id) {
                changes.push((shared_key(case_id), Some(encode(departments)?)));
            }
        }
        state
            .shared
            .retain(|_, departments| !departments.is_empty());
        // Messages must be durable before a cursor can pass them; a step that only moves the
        // position need not be: after a crash the feed re-derives the same messages, under the
        // same keys, from wherever its stored position stands.
        let durable = !changes.is_empty();
        changes.push((CHECKPOINT_KEY.to_vec(), Some(encode(&last)?)));
        // Another instance wrote further (it held the webhook lease while this one thought it
        // did): take its feed rather than writing an older one over it.
        let written = self
            .inner
            .keyspace
            .apply_guarded(CHECKPOINT_KEY, last, changes, durable)
            .await?;
        if !written {
            self.reload_locked(&mut state).await?;
            return Ok(FeedOutcome::Progressed);
        }
        self.inner.head.send_modify(|head| head.position = last);
        metrics::gauge!("caseledger_projection_checkpoint", "projection" => "feed")
            .set(last as f64);
        Ok(FeedOutcome::Progressed)
    }

    /// Steps until the feed reaches the log's head.
    pub async fn catch_up(&self, log: &dyn EventLog<StoredEvent>) -> Result<(), WebhookError> {
        while self.try_project_next(log).await? == FeedOutcome::Progressed {}
        Ok(())
    }

    /// Follows the log until `shutdown` turns true: a step whenever the log grows.
    pub async fn run_until_stopped(
        &self,
        log: Arc<dyn EventLog<StoredEvent>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut heads = log.subscribe();
        loop {
            heads.borrow_and_update();
            match self.try_project_next(log.as_ref()).await {
                Ok(FeedOutcome::Progressed) => continue,
                Ok(FeedOutcome::Idle) => {}
                Err(error) => {
                    tracing::error!(%error, "the webhook feed failed a step; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => return,
                    }
                    continue;
                }
            }
            let lag = log.head().position.0.saturating_sub(self.position());
            metrics::gauge!("caseledger_projection_lag_events", "projection" => "feed")
                .set(lag as f64);
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                changed = heads.changed() => if changed.is_err() { return },
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Adds a signed audit checkpoint to every department's feed, after every message already
    /// there: the extension point of the audit work. Returns `false` (and adds nothing) when a
    /// checkpoint at this position or later was pushed before, so pushing again after a crash
    /// is harmless.
    pub async fn push_checkpoint(
        &self,
        checkpoint: &AuditCheckpoint,
    ) -> Result<bool, WebhookError> {
        let mut state = self.inner.state.lock().await;
        if checkpoint.position <= state.last_audit {
            return Ok(false);
        }
        let key = FeedKey {
            group: self.position() + 1,
            checkpoint: Some(checkpoint.position),
        };
        let value = encode(&FeedMessage {
            webhook_id: format!("checkpoint-{}", checkpoint.position),
            kind: crate::payload::CHECKPOINT_TYPE.to_owned(),
            position: checkpoint.position,
            body: checkpoint_body(checkpoint),
        })?;
        let mut changes: Vec<KeyspaceChange> = self
            .inner
            .departments
            .iter()
            .map(|department| (message_key(department, &key), Some(value.clone())))
            .collect();
        changes.push((AUDIT_KEY.to_vec(), Some(encode(&checkpoint.position)?)));
        self.inner.keyspace.apply(changes, true).await?;
        state.last_audit = checkpoint.position;
        self.inner
            .head
            .send_modify(|head| head.audit_checkpoint = checkpoint.position);
        Ok(true)
    }

    /// Up to `limit` messages of `department`'s feed after `cursor`, in order (what delivery
    /// reads).
    pub async fn read_after(
        &self,
        department: &Department,
        cursor: &FeedCursor,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, WebhookError> {
        let prefix = department_prefix(department);
        let mut after = prefix.clone();
        after.extend_from_slice(&cursor.0);
        let rows: Vec<(Vec<u8>, FeedMessage)> = self
            .inner
            .keyspace
            .scan_after(&prefix, Some(&after), limit)
            .await?;
        rows.into_iter()
            .map(|(key, message)| {
                let key = key
                    .get(prefix.len()..)
                    .and_then(FeedKey::decode)
                    .ok_or_else(|| WebhookError::Corrupt("a bad feed key".into()))?;
                Ok(FeedEntry { key, message })
            })
            .collect()
    }

    /// A page of the pull feed: messages of `department` in groups after `after`, up to the
    /// last position projected, about `limit` of them (a page never ends inside a group, so
    /// `next_after` loses nothing).
    pub async fn page(
        &self,
        department: &Department,
        after: u64,
        limit: usize,
    ) -> Result<FeedPage, WebhookError> {
        let complete = self.position();
        let limit = limit.max(1);
        // Read one group past the limit's worth, to finish the last group in the page.
        let mut entries = self
            .read_after(department, &FeedCursor::after_position(after), limit + 1)
            .await?;
        entries.retain(|entry| entry.key.group <= complete);
        if entries.len() > limit {
            let last_group = entries[limit - 1].key.group;
            let mut end = limit;
            while end < entries.len() && entries[end].key.group == last_group {
                end += 1;
            }
            if end == entries.len() {
                // The group may go on beyond what was read: read the rest of it.
                let cursor = FeedCursor::after(&entries[end - 1].key);
                let rest = self.read_after(department, &cursor, usize::MAX).await?;
                entries.extend(
                    rest.into_iter()
                        .take_while(|entry| entry.key.group == last_group),
                );
            } else {
                entries.truncate(end);
            }
        }
        let next_after = entries.last().map(|entry| entry.key.group);
        Ok(FeedPage {
            entries,
            next_after,
        })
    }
}

/// The case as it stood right after `recorded`, folded from its stream.
async fn fold_case(
    log: &dyn EventLog<StoredEvent>,
    recorded: &Recorded<StoredEvent>,
) -> Result<Case, WebhookError> {
    let case_id = recorded.event.case_id;
    let events = log
        .read_stream(
            StreamId(case_id.0),
            Version(1),
            usize::try_from(recorded.version.0).unwrap_or(usize::MAX),
        )
        .await?;
    let mut case = Case::new(case_id);
    for event in events
        .iter()
        .take_while(|event| event.version <= recorded.version)
    {
        case.evolve(&event.event.event, event.event.at);
    }
    Ok(case)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn keys_sort_in_feed_order() {
        let event = |group| FeedKey {
            group,
            checkpoint: None,
        };
        let checkpoint = |group, position| FeedKey {
            group,
            checkpoint: Some(position),
        };
        let keys = [
            event(1),
            checkpoint(2, 1),
            event(2),
            checkpoint(3, 2),
            checkpoint(3, 3),
            event(3),
            event(256),
        ];
        for pair in keys.windows(2) {
            assert!(pair[0].encode() < pair[1].encode(), "{pair:?}");
        }
        for key in keys {
            assert_eq!(FeedKey::decode(&key.encode()), Some(key));
            assert!(FeedCursor::after(&key) < FeedCursor::after_position(key.group));
            assert!(FeedCursor::after_position(key.group - 1) < FeedCursor::after(&key));
        }
        assert!(FeedCursor::start() < FeedCursor::after(&event(1)));
    }

    #[test]
    fn cursors_round_trip_as_hex_and_know_their_position() {
        let cursor = FeedCursor::after(&FeedKey {
            group: 5,
            checkpoint: Some(4),
        });
        let text = String::from(cursor.clone());
        assert_eq!(FeedCursor::try_from(text).unwrap(), cursor);
        assert_eq!(cursor.position(), 4);
        assert_eq!(FeedCursor::after_position(9).position(), 9);
        assert_eq!(FeedCursor::start().position(), 0);
        assert!(FeedCursor::try_from("zz".to_owned()).is_err());
        assert!(FeedCursor::try_from("abc".to_owned()).is_err());
    }
}
