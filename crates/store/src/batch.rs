//! Group commit, the part every backend shares: the queued append, and staging a batch of
//! appends into sealed envelope rows.
//!
//! Staging checks each append against the stream heads and idempotency records (through
//! [`Lookups`], which the backend answers from what it read inside its write transaction) and
//! against the appends staged before it in the same batch, then seals the accepted events into
//! the hash chain with [`crate::chain::seal_object`]. Because sled and PostgreSQL both stage
//! here, they accept and refuse the same appends and store byte-identical envelopes. This module
//! does no I/O: writing the rows and answering the callers stay with each backend's writer.

use std::collections::HashMap;

use tokio::sync::oneshot;

use crate::chain::seal_object;
use crate::types::{
    AppendRejected, Committed, ExpectedVersion, Head, IdempotencyKey, IdempotencyRecord, Position,
    StoreError, StreamId, Version,
};
use crate::LogEvent;

/// What an append answers: fail-stop errors outside, the expected outcomes inside.
pub(crate) type AppendOutcome = Result<Result<Committed, AppendRejected>, StoreError>;

/// An event already encoded as a JSON object, ready to be sealed.
pub(crate) type EncodedEvent = serde_json::Map<String, serde_json::Value>;

/// One append waiting for its backend's writer.
pub(crate) struct AppendRequest {
    pub(crate) stream: StreamId,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<EncodedEvent>,
    pub(crate) idempotency: Option<IdempotencyKey>,
    pub(crate) reply: oneshot::Sender<AppendOutcome>,
}

/// Encodes events on the caller's task, so the writer only seals and writes.
pub(crate) fn encode_events<E: LogEvent>(events: &[E]) -> Result<Vec<EncodedEvent>, StoreError> {
    events
        .iter()
        .map(|event| match serde_json::to_value(event) {
            Ok(serde_json::Value::Object(object)) => Ok(object),
            Ok(_) => Err(StoreError::Encode(
                "an event must serialise to a JSON object".into(),
            )),
            Err(error) => Err(StoreError::Encode(error.to_string())),
        })
        .collect()
}

/// What the log holds before a batch: the backend answers from its own storage, as of the
/// moment the batch is written (inside the write transaction, or under the single writer).
pub(crate) trait Lookups {
    /// The stream's version, `None` when it has no events.
    fn stream_version(&mut self, stream: StreamId) -> Result<Option<Version>, StoreError>;
    /// The idempotency record stored under `key`.
    fn idempotency_record(&mut self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;
}

/// One accepted append inside a batch: its outcome and the rows to write.
pub(crate) struct Staged {
    pub(crate) committed: Committed,
    /// The sealed envelopes in position order, as stored (canonical bytes, hash included).
    pub(crate) rows: Vec<(Position, Vec<u8>)>,
    /// The idempotency record to store, when the append carried a key.
    pub(crate) idempotency: Option<(String, IdempotencyRecord)>,
}

/// A staged batch: what to write, and who is already answered.
pub(crate) struct StagedBatch {
    /// The appends to write, in position order, with the callers to answer once committed.
    pub(crate) accepted: Vec<(oneshot::Sender<AppendOutcome>, Staged)>,
    /// Callers answered without writing anything: conflicts, replays, refusals, lookup errors.
    pub(crate) answered: Vec<(oneshot::Sender<AppendOutcome>, AppendOutcome)>,
    /// The head after the accepted appends.
    pub(crate) head: Head,
}

impl StagedBatch {
    /// The final version of every stream the batch writes to.
    pub(crate) fn stream_heads(&self) -> HashMap<StreamId, Version> {
        let mut heads = HashMap::new();
        for (_, staged) in &self.accepted {
            heads.insert(staged.committed.stream, staged.committed.last_version);
        }
        heads
    }
}

/// Stages `requests` in order after `head`: each append is checked against `lookups` and the
/// appends staged before it, and its events are sealed into the chain.
pub(crate) fn stage_batch(
    head: Head,
    requests: impl IntoIterator<Item = AppendRequest>,
    lookups: &mut impl Lookups,
) -> StagedBatch {
    let mut batch = StagedBatch {
        accepted: Vec::new(),
        answered: Vec::new(),
        head,
    };
    let mut stream_heads: HashMap<StreamId, Option<Version>> = HashMap::new();
    let mut keys_in_batch: HashMap<String, IdempotencyRecord> = HashMap::new();
    for request in requests {
        match stage(
            &request,
            &mut batch.head,
            &mut stream_heads,
            &mut keys_in_batch,
            lookups,
        ) {
            Ok(Ok(accepted)) => batch.accepted.push((request.reply, accepted)),
            Ok(Err(outcome)) => batch.answered.push((request.reply, outcome)),
            Err(error) => batch.answered.push((request.reply, Err(error))),
        }
    }
    // What group commit achieves, for operators: appends and events per batch.
    let appends = batch.accepted.len() + batch.answered.len();
    metrics::histogram!("caseledger_log_batch_appends").record(appends as f64);
    metrics::histogram!("caseledger_log_batch_events")
        .record(batch.head.position.0.saturating_sub(head.position.0) as f64);
    batch
}

/// Checks one append and seals its events. `Ok(Err(outcome))` answers the caller without
/// writing anything (a conflict, a replayed or reused idempotency key, an empty append).
#[allow(
    clippy::type_complexity,
    reason = "the nesting is the store's error style"
)]
fn stage(
    request: &AppendRequest,
    head: &mut Head,
    stream_heads: &mut HashMap<StreamId, Option<Version>>,
    keys_in_batch: &mut HashMap<String, IdempotencyRecord>,
    lookups: &mut impl Lookups,
) -> Result<Result<Staged, AppendOutcome>, StoreError> {
    if request.events.is_empty() {
        return Ok(Err(Err(StoreError::EmptyAppend)));
    }
    if let Some(key) = &request.idempotency {
        let earlier = match keys_in_batch.get(&key.key) {
            Some(record) => Some(record.clone()),
            None => lookups.idempotency_record(&key.key)?,
        };
        if let Some(record) = earlier {
            let outcome = if record.fingerprint == key.fingerprint {
                Ok(Committed {
                    replayed: true,
                    ..record.committed
                })
            } else {
                Err(AppendRejected::IdempotencyKeyReused)
            };
            return Ok(Err(Ok(outcome)));
        }
    }
    let actual = match stream_heads.get(&request.stream) {
        Some(version) => *version,
        None => lookups.stream_version(request.stream)?,
    };
    if !request.expected.admits(actual) {
        return Ok(Err(Ok(Err(AppendRejected::VersionConflict {
            expected: request.expected,
            actual,
        }))));
    }
    let base_version = actual.unwrap_or_default().0;
    let mut rows = Vec::with_capacity(request.events.len());
    let mut chain = *head;
    for (offset, event) in request.events.iter().enumerate() {
        let position = chain.position.next();
        let version = Version(base_version + offset as u64 + 1);
        let (hash, bytes) = seal_object(position, version, event.clone(), chain.hash)?;
        rows.push((position, bytes));
        chain = Head { position, hash };
    }
    let committed = Committed {
        stream: request.stream,
        first_version: Version(base_version + 1),
        last_version: Version(base_version + request.events.len() as u64),
        first_position: head.position.next(),
        last_position: chain.position,
        replayed: false,
    };
    *head = chain;
    stream_heads.insert(request.stream, Some(committed.last_version));
    let idempotency = request.idempotency.as_ref().map(|key| {
        let record = IdempotencyRecord {
            fingerprint: key.fingerprint.clone(),
            committed,
            recorded_at_unix: unix_now(),
        };
        keys_in_batch.insert(key.key.clone(), record.clone());
        (key.key.clone(), record)
    });
    Ok(Ok(Staged {
        committed,
        rows,
        idempotency,
    }))
}

/// Unix seconds now, for idempotency records.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

/// Decodes a stored envelope into the caller's event type.
pub(crate) fn decode_recorded<E: LogEvent>(
    position: Position,
    bytes: &[u8],
) -> Result<crate::Recorded<E>, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Decode {
        position,
        reason: error.to_string(),
    })
}

/// The `hash` member of a stored envelope, for resuming a chain check in the middle.
pub(crate) fn envelope_hash(
    position: Position,
    bytes: &[u8],
) -> Result<crate::types::ChainHash, StoreError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
            position,
            reason: format!("not valid JSON: {error}"),
        })?;
    value
        .get("hash")
        .and_then(serde_json::Value::as_str)
        .and_then(crate::types::ChainHash::from_hex)
        .ok_or_else(|| StoreError::Corrupt {
            position,
            reason: "the envelope has no valid hash".into(),
        })
}
