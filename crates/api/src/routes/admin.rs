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
    tracing::info!(token = %caller.token_id, "an online backup started");
    let stream = futures_util::stream::unfold(Some(reader), next_chunk);
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn next_chunk(
    reader: Option<SnapshotReader>,
) -> Option<(Result<Bytes, std::io::Error>, Option<SnapshotReader>)> {
    let mut reader = reader?;
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
            Some((Ok(Bytes::from(chunk)), Some(reader)))
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
