//! `/v1/audit/*` and `/v1/cases/{id}/replay`: what auditors need to check the log without
//! trusting the server — verification, a streamed export, signed checkpoints and the public
//! key, and a case replayed event by event.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_app::{Caller, Verification};
use caseledger_domain::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ReadProblems};
use crate::extract::{ApiQuery, Authenticated, CaseIdParam, CasePath};
use crate::guards::WholeLogPermit;
use crate::routes::cases::handlers::{page_size, wait_for, HistoryQuery};
use crate::routes::cases::wire::CaseResponse;
use crate::routes::events::{Envelope, EnvelopeSchema};
use crate::state::AppState;

const EXPORT_PAGE: usize = 1_000;
const MAX_CHECKPOINTS: usize = 1_000;

/// The audit routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(verify_log))
        .routes(routes!(export_log))
        .routes(routes!(list_checkpoints))
        .routes(routes!(public_key))
        .routes(routes!(replay_case))
}

/// `GET /v1/audit/verify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    /// True when the chain is intact from position 1 to the head.
    pub ok: bool,
    /// Events verified (when ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// The head (when ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadView>,
    /// The first bad position (when not ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_position: Option<u64>,
    /// Why it is bad (when not ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A position of the chain and its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeadView {
    /// The position.
    pub position: u64,
    /// Its hash.
    pub hash: String,
}

/// Walks the whole chain, in constant memory, and reports the head or the first bad position.
///
/// Roles: auditor, admin.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, description = "The verdict.", body = VerifyResponse), ReadProblems))]
pub async fn verify_log(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<VerifyResponse>, ApiError> {
    let _slot = state.guards.whole_log_read(caller.id.uuid())?;
    Ok(Json(match state.app.verify_log(&caller).await? {
        Verification::Intact { events, head } => VerifyResponse {
            ok: true,
            events: Some(events),
            head: Some(HeadView {
                position: head.position.0,
                hash: head.hash.to_hex(),
            }),
            first_bad_position: None,
            reason: None,
        },
        Verification::Broken(error) => VerifyResponse {
            ok: false,
            events: None,
            head: None,
            first_bad_position: Some(error.position.0),
            reason: Some(error.fault.to_string()),
        },
    }))
}

/// Where an export starts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Export the envelopes after this position (0 or absent: from the start), to resume an
    /// interrupted download.
    #[serde(default)]
    pub after: Option<u64>,
}

/// The log as NDJSON, one envelope a line in position order, exactly the bytes the chain
/// covers; streamed page by page in constant memory, up to the head at the time of the
/// request. Verify it offline with `caseledger audit verify FILE`.
///
/// Roles: auditor, admin.
#[utoipa::path(get, path = "/v1/audit/export", tag = "audit", security(("bearer" = [])),
    params(ExportQuery),
    responses((status = 200, description = "NDJSON, one envelope a line.", content_type = "application/x-ndjson", body = EnvelopeSchema), ReadProblems))]
pub async fn export_log(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let after = query.after.unwrap_or(0);
    // Check the role now, so a refusal is a problem and not a broken stream.
    state.app.export_page(&caller, after, 0).await?;
    let slot = state.guards.whole_log_read(caller.id.uuid())?;
    let end = state.app.head().position.0;
    let stream = futures_util::stream::unfold(
        ExportCursor {
            state,
            caller,
            after,
            end,
            _slot: slot,
        },
        next_export_chunk,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

struct ExportCursor {
    state: AppState,
    caller: Caller,
    /// The position of the last envelope sent (0: none yet).
    after: u64,
    /// The head when the export started: the last position it sends.
    end: u64,
    /// The token's whole-log read slot, free again when the stream is dropped.
    _slot: WholeLogPermit,
}

async fn next_export_chunk(
    mut cursor: ExportCursor,
) -> Option<(Result<Bytes, std::io::Error>, ExportCursor)> {
    if cursor.after >= cursor.end {
        return None;
    }
    // A token revoked while its export runs gets no further chunk: the stream breaks off, so
    // the client sees an incomplete download, not a complete-looking one.
    if !cursor.state.app.token_is_active(cursor.caller.id.uuid()) {
        tracing::info!(token = %cursor.caller.id.uuid(), "an export stopped: its token was revoked");
        return Some((
            Err(std::io::Error::other("the export's token was revoked")),
            ExportCursor {
                end: cursor.after,
                ..cursor
            },
        ));
    }
    let page = match cursor
        .state
        .app
        .export_page(&cursor.caller, cursor.after, EXPORT_PAGE)
        .await
    {
        Ok(page) => page,
        Err(error) => {
            tracing::error!(%error, "the export stopped");
            return Some((Err(std::io::Error::other("the export failed")), cursor));
        }
    };
    let mut chunk = Vec::new();
    for (position, bytes) in page {
        let position = position.0;
        if position > cursor.end {
            cursor.after = cursor.end;
            break;
        }
        chunk.extend_from_slice(&bytes);
        chunk.push(b'\n');
        cursor.after = position;
    }
    if chunk.is_empty() {
        return None;
    }
    Some((Ok(Bytes::from(chunk)), cursor))
}

/// Paging through checkpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointsQuery {
    /// Checkpoints after this position.
    #[serde(default)]
    pub after: Option<u64>,
    /// At most this many (1–1000, default 1000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// A signed checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    /// The position attested.
    pub position: u64,
    /// The hash of the event at that position.
    pub hash: String,
    /// When it was signed (RFC 3339); part of the signed bytes exactly as written.
    pub at: String,
    /// Base64 Ed25519 signature over the RFC 8785 canonical JSON of `{"at","hash","position"}`,
    /// with `"root_hash","tree_size"` too when the checkpoint carries them.
    pub signature: String,
    /// The Merkle tree's size (= `position`); absent from checkpoints made before the tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    /// The tree's root hash, standard base64; absent before the tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_hash: Option<String>,
    /// Extension: the same tree head as a C2SP `tlog-checkpoint` signed note with the service's
    /// signature and every witness's cosignature received (what `caseledger audit verify
    /// --witness` counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `GET /v1/audit/checkpoints`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointsResponse {
    /// Checkpoints in position order.
    pub checkpoints: Vec<CheckpointView>,
}

/// Signed checkpoints of the log (at least every 1,000 events or 60 s while events are
/// appended). Save them with the export: `caseledger audit verify EXPORT --public-key KEY
/// --checkpoints FILE` checks the export against every checkpoint it covers.
///
/// Roles: all (checkpoints hold no case data; partner departments keep them as witnesses).
#[utoipa::path(get, path = "/v1/audit/checkpoints", tag = "audit", security(("bearer" = [])),
    params(CheckpointsQuery),
    responses((status = 200, description = "Checkpoints.", body = CheckpointsResponse), ReadProblems))]
pub async fn list_checkpoints(
    State(state): State<AppState>,
    Authenticated(_caller): Authenticated,
    ApiQuery(query): ApiQuery<CheckpointsQuery>,
) -> Result<Json<CheckpointsResponse>, ApiError> {
    let limit = query.limit.unwrap_or(MAX_CHECKPOINTS);
    if limit == 0 || limit > MAX_CHECKPOINTS {
        return Err(ApiError::bad_request(
            format!("limit must be between 1 and {MAX_CHECKPOINTS}"),
            Some(("limit", format!("must be between 1 and {MAX_CHECKPOINTS}"))),
        ));
    }
    let mut checkpoints = Vec::new();
    for checkpoint in state
        .app
        .checkpoints(query.after.unwrap_or(0), limit)
        .await?
    {
        let note = state.app.note_with_cosignatures(&checkpoint).await?;
        checkpoints.push(CheckpointView {
            position: checkpoint.position.0,
            hash: checkpoint.hash.to_hex(),
            at: checkpoint.at,
            signature: checkpoint.signature,
            tree_size: checkpoint.tree_size,
            root_hash: checkpoint.root_hash,
            note,
        });
    }
    Ok(Json(CheckpointsResponse { checkpoints }))
}

/// `GET /v1/audit/public-key`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKeyResponse {
    /// Always `ed25519`.
    pub algorithm: String,
    /// The 32-byte public key, standard base64.
    pub public_key: String,
}

/// The public key that verifies the checkpoints.
///
/// Roles: all.
#[utoipa::path(get, path = "/v1/audit/public-key", tag = "audit", security(("bearer" = [])),
    responses((status = 200, description = "The key.", body = PublicKeyResponse), ReadProblems))]
pub async fn public_key(
    State(state): State<AppState>,
    Authenticated(_caller): Authenticated,
) -> Result<Json<PublicKeyResponse>, ApiError> {
    let public_key = state
        .app
        .public_key()
        .ok_or_else(|| ApiError::unavailable("this service has no signing key", 60))?;
    Ok(Json(PublicKeyResponse {
        algorithm: "ed25519".into(),
        public_key,
    }))
}

/// One step of a replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayStepView {
    /// The event.
    #[schema(value_type = EnvelopeSchema)]
    pub event: Envelope,
    /// The case right after it (never with complainant details).
    pub case: CaseResponse,
}

/// `GET /v1/cases/{id}/replay`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResponse {
    /// The case.
    pub case_id: uuid::Uuid,
    /// Each event with the case right after it, oldest first.
    pub steps: Vec<ReplayStepView>,
    /// Extension (paged answers only, with `after_version` or `limit`): the `after_version` of
    /// the next page, or null when the case held nothing further when this page was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after_version: Option<Option<u64>>,
}

const MAX_REPLAY_PAGE: usize = 100;
const DEFAULT_REPLAY_PAGE: usize = 20;
/// A streamed replay folds this many events per read while its steps are small, and one at a
/// time once a step is larger than [`LARGE_STEP`]: a chunk holds about one case view.
const REPLAY_STEPS_PER_READ: usize = 32;
const LARGE_STEP: usize = 256 * 1024;

/// Each event of a case with the case view right after it. `caseledger audit replay EXPORT
/// --case ID` does the same offline.
///
/// Without `after_version` or `limit`, every step, streamed: the server folds the case once,
/// event by event, and holds one step's view at a time, however long the answer. With either,
/// one page and `next_after_version` (an extension of v1).
///
/// Roles: auditor, admin.
#[utoipa::path(get, path = "/v1/cases/{id}/replay", tag = "audit", security(("bearer" = [])),
    params(CaseIdParam, HistoryQuery),
    responses((status = 200, description = "The replay, or a page of it.", body = ReplayResponse), ReadProblems))]
pub async fn replay_case(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let page = page_size(
        query.after_version,
        query.limit,
        DEFAULT_REPLAY_PAGE,
        MAX_REPLAY_PAGE,
    )?;
    wait_for(&state, query.min_position).await?;
    let mut cursor = state
        .app
        .replay_from(&caller, id, query.after_version.unwrap_or(0))
        .await?;
    // A replay folds a whole case: it counts against the token's whole-log reads.
    let slot = state.guards.whole_log_read(caller.id.uuid())?;
    let include_notes = caller.role != Role::Partner;
    if let Some(limit) = page {
        let mut body = format!("{{\"case_id\":\"{}\",\"steps\":[", id.0).into_bytes();
        let mut written = Ok(());
        let folded = state
            .app
            .replay_next(&mut cursor, limit, |event, case| {
                if written.is_ok() {
                    if body.last() != Some(&b'[') {
                        body.push(b',');
                    }
                    written = write_step(&mut body, event, case, include_notes);
                }
            })
            .await?;
        written.map_err(|error| ApiError::internal(&error))?;
        let next = (folded >= limit).then(|| cursor.version());
        body.extend_from_slice(b"],\"next_after_version\":");
        serde_json::to_writer(&mut body, &next).map_err(|error| ApiError::internal(&error))?;
        body.push(b'}');
        return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    let head = format!("{{\"case_id\":\"{}\",\"steps\":[", id.0);
    let stream = futures_util::stream::unfold(
        Some(ReplayStream {
            state,
            cursor,
            include_notes,
            head: Some(head),
            first: true,
            steps_per_read: REPLAY_STEPS_PER_READ,
            _slot: slot,
        }),
        next_replay_chunk,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// A note as a replay step shows it, borrowed from the folded case.
#[derive(Serialize)]
struct NoteRef<'a> {
    text: &'a str,
    added_at: &'a chrono::DateTime<chrono::Utc>,
}

/// Writes one step, `{"event":…,"case":…}`, as [`ReplayStepView`] would serialize it, except
/// that the case's `notes` come last: the view is built from a copy of the case without its
/// notes, and the notes are written from the folded case by reference, so a step copies no
/// note however many the case holds.
fn write_step(
    out: &mut Vec<u8>,
    event: &Envelope,
    case: &caseledger_domain::Case,
    include_notes: bool,
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"event\":");
    serde_json::to_writer(&mut *out, event)?;
    out.extend_from_slice(b",\"case\":");
    serde_json::to_writer(
        &mut *out,
        &CaseResponse::summary(case.clone_without_notes(), false),
    )?;
    if include_notes {
        // The view is a JSON object: replace its closing brace with the notes and close it.
        out.pop();
        out.extend_from_slice(b",\"notes\":");
        let notes: Vec<NoteRef<'_>> = case
            .notes
            .iter()
            .map(|note| NoteRef {
                text: &note.text,
                added_at: &note.added_at,
            })
            .collect();
        serde_json::to_writer(&mut *out, &notes)?;
        out.push(b'}');
    }
    out.push(b'}');
    Ok(())
}

/// A streamed replay in progress.
struct ReplayStream {
    state: AppState,
    cursor: caseledger_app::ReplayCursor,
    include_notes: bool,
    /// The opening of the answer, until it is sent.
    head: Option<String>,
    /// Whether no step was sent yet.
    first: bool,
    steps_per_read: usize,
    /// The token's whole-log read slot, free again when the stream is dropped.
    _slot: WholeLogPermit,
}

async fn next_replay_chunk(
    stream: Option<ReplayStream>,
) -> Option<(Result<Bytes, std::io::Error>, Option<ReplayStream>)> {
    let mut stream = stream?;
    if let Some(head) = stream.head.take() {
        return Some((Ok(Bytes::from(head)), Some(stream)));
    }
    let mut chunk = Vec::new();
    let mut failed = false;
    let (first, include_notes) = (&mut stream.first, stream.include_notes);
    let folded = stream
        .state
        .app
        .replay_next(&mut stream.cursor, stream.steps_per_read, |event, case| {
            if failed {
                return;
            }
            if !*first {
                chunk.push(b',');
            }
            *first = false;
            failed = write_step(&mut chunk, event, case, include_notes).is_err();
        })
        .await;
    match folded {
        Ok(_) if failed => {
            tracing::error!("a streamed replay could not encode a step");
            Some((Err(std::io::Error::other("the replay failed")), None))
        }
        Ok(0) => Some((Ok(Bytes::from_static(b"]}")), None)),
        Ok(folded) => {
            // Large steps go one at a time, so a chunk holds about one case view.
            stream.steps_per_read = if chunk.len() / folded > LARGE_STEP {
                1
            } else {
                REPLAY_STEPS_PER_READ
            };
            Some((Ok(Bytes::from(chunk)), Some(stream)))
        }
        Err(error) => {
            // Headers are sent: the stream breaks off, so the client sees an incomplete answer.
            tracing::error!(%error, "a streamed replay stopped");
            Some((Err(std::io::Error::other("the replay failed")), None))
        }
    }
}
