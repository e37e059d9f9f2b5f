//! `/v1/admin/*`: operations on the whole store — the online backup stream that
//! `caseledger backup --url` writes to a directory.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use caseledger_store::import::SnapshotReader;

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::guards::WholeLogPermit;
use crate::openapi::ReadProblems;
use crate::AppState;

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/backup", get(backup))
}

/// A consistent snapshot of the whole store as NDJSON, streamed while the service keeps
/// writing: a `begin` record, every keyspace entry (key and value in base64; the case
/// projection is left out, a restored store rebuilds it), then the idempotency records and
/// every event (`position`, `stream`, `version` and the exact envelope bytes as a string) up to
/// the head committed after the keyspaces were read, then an `end` record with that head and
/// the counts. The chain is verified while reading; a broken chain ends the stream early, so a
/// snapshot without its `end` record is incomplete. Write it with
/// `caseledger backup --url … --token-file … --out DIR`; it holds tokens' hashes, webhook
/// secrets and the sealed personal-data keys, so keep it as safe as the store.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/admin/backup", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "NDJSON, one snapshot record a line.", content_type = "application/x-ndjson", body = serde_json::Value), ReadProblems))]
pub async fn backup(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let reader = state.app.backup_snapshot(&caller)?;
    let slot = state.guards.whole_log_read(caller.token_id)?;
    tracing::info!(token = %caller.token_id, "an online backup started");
    let running = RunningBackup {
        reader,
        state,
        token_id: caller.token_id,
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
    reader: SnapshotReader,
    state: AppState,
    token_id: uuid::Uuid,
    _slot: WholeLogPermit,
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
    match reader.next_chunk().await {
        Ok(Some(records)) => {
            let mut chunk = Vec::new();
            for record in &records {
                if let Err(error) = serde_json::to_writer(&mut chunk, record) {
                    tracing::error!(%error, "the online backup stopped");
                    return Some((Err(std::io::Error::other("the backup failed")), None));
                }
                chunk.push(b'\n');
            }
            Some((Ok(Bytes::from(chunk)), Some(running)))
        }
        Ok(None) => {
            tracing::info!(head = reader.head().position.0, "an online backup finished");
            None
        }
        Err(error) => {
            // The stream ends without its `end` record: the client sees an incomplete backup.
            tracing::error!(%error, "the online backup stopped");
            Some((Err(std::io::Error::other("the backup failed")), None))
        }
    }
}
