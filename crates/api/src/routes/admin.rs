//! `/v1/admin/*`: operations on the whole store — the online backup stream that
//! `caseledger backup --url` writes to a directory, and the erasure register that
//! `caseledger restore --erasures` applies to a restored store.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_app::backup::BackupStream;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, ReadProblems};
use crate::extract::Authenticated;
use crate::guards::WholeLogPermit;
use crate::state::AppState;

/// The admin routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(backup))
        .routes(routes!(list_erasures))
}

/// One erasure of `GET /v1/admin/erasures`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureEntry {
    /// The case whose complainant data was erased.
    pub case_id: Uuid,
    /// When `PersonalDataErased` was recorded.
    pub erased_at: DateTime<Utc>,
    /// Its position in the log.
    pub position: u64,
}

/// `GET /v1/admin/erasures`: the erasure register.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureRegisterResponse {
    /// Every erasure, in log order.
    pub erasures: Vec<ErasureEntry>,
}

/// A consistent snapshot of the whole store as NDJSON, streamed while the service keeps
/// writing: a `begin` record, every keyspace entry (key and value in base64; the case
/// projection is left out, a restored store rebuilds it), then the idempotency records and
/// every event (`position`, `stream`, `version` and the exact envelope bytes as a string) up to
/// the head committed after the keyspaces were read, then an `end` record with that head and
/// the counts. The chain is verified while reading; a broken chain ends the stream early, so a
/// snapshot without its `end` record is incomplete. Write it with
/// `caseledger backup --url … --token-file … --out DIR`; it holds tokens' hashes, webhook
/// secrets and the personal-data keys (wrapped by the key-encryption key, which is not in it),
/// so keep it as safe as the store. The keys are read after the head and the erasure register,
/// and the key of every case in the register is left out: a backup never holds both an
/// erasure and its key.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/admin/backup", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "NDJSON, one snapshot record a line.", content_type = "application/x-ndjson", body = serde_json::Value), ReadProblems))]
pub async fn backup(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let reader = state.app.backup_stream(&caller)?;
    let slot = state.guards.whole_log_read(caller.id.uuid())?;
    tracing::info!(token = %caller.id.uuid(), "an online backup started");
    let running = RunningBackup {
        reader,
        state,
        token_id: caller.id.uuid(),
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(Some(running), next_chunk);
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// A backup being streamed, with the token's whole-log read slot (free again when dropped).
struct RunningBackup {
    reader: BackupStream,
    state: AppState,
    token_id: Uuid,
    _slot: WholeLogPermit,
}

/// The erasure register: every case whose complainant data was erased, with the time and log
/// position of its `PersonalDataErased`, in log order; no personal data. Save it and give it
/// to `caseledger restore --erasures FILE` so that a restored older backup destroys the keys
/// of cases erased after it was taken.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/admin/erasures", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The erasure register.", body = ErasureRegisterResponse), ReadProblems))]
pub async fn list_erasures(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<ErasureRegisterResponse>, ApiError> {
    let erasures = state.app.erasures(&caller).await?;
    Ok(Json(ErasureRegisterResponse {
        erasures: erasures
            .into_iter()
            .map(|erasure| ErasureEntry {
                case_id: erasure.case_id,
                erased_at: erasure.erased_at,
                position: erasure.position,
            })
            .collect(),
    }))
}

async fn next_chunk(
    running: Option<RunningBackup>,
) -> Option<(Result<Bytes, std::io::Error>, Option<RunningBackup>)> {
    let mut running = running?;
    // A token revoked while its backup runs gets no further chunk; the snapshot ends without
    // its `end` record, so it reads as incomplete.
    if !running.state.app.token_is_active(running.token_id) {
        tracing::info!(token = %running.token_id, "an online backup stopped: its token was revoked");
        return Some((
            Err(std::io::Error::other("the backup's token was revoked")),
            None,
        ));
    }
    let reader = &mut running.reader;
    match reader.next_lines().await {
        Ok(Some(lines)) => Some((Ok(Bytes::from(lines)), Some(running))),
        Ok(None) => {
            tracing::info!(head = reader.head_position(), "an online backup finished");
            None
        }
        Err(error) => {
            // The stream ends without its `end` record: the client sees an incomplete backup.
            tracing::error!(%error, "the online backup stopped");
            Some((Err(std::io::Error::other("the backup failed")), None))
        }
    }
}
