//! `/v1/audit/checkpoint`, `/v1/audit/proof/*` and `/v1/audit/witnesses`: the log as a Merkle
//! tree for auditors and partners (contract §11) — the newest checkpoint as a signed note with
//! its witnesses' cosignatures, inclusion and consistency proofs, and the witnesses' register
//! and cosignatures. Every decision is the app's (`caseledger_app::proofs`).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use caseledger_app::proofs::Witness;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, CommandProblems, ProofProblems, ReadProblems};
use crate::extract::{ApiJson, ApiQuery, Authenticated};
use crate::state::AppState;

/// A node or root hash of the log's Merkle tree.
type TreeHash = [u8; 32];

/// The most bytes a cosignature post may carry: one signature line, with room to spare.
const COSIGNATURE_MAX: usize = 4 * 1024;

/// The proof routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(latest_checkpoint))
        .routes(routes!(inclusion_proof))
        .routes(routes!(consistency_proof))
        .routes(routes!(add_cosignature))
        .routes(routes!(list_witnesses, register_witness))
        .routes(routes!(remove_witness))
}

fn base64_all(hashes: &[TreeHash]) -> Vec<String> {
    hashes
        .iter()
        .map(|hash| base64::engine::general_purpose::STANDARD.encode(hash))
        .collect()
}

/// Which checkpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointNoteQuery {
    /// Extension: the checkpoint of this tree size instead of the newest.
    #[serde(default)]
    pub tree_size: Option<u64>,
}

/// The newest signed checkpoint as a C2SP `tlog-checkpoint` signed note: the log's origin, its
/// tree size and root hash (base64), the service's Ed25519 signature line under the origin,
/// then one `cosignature/v1` line for each witness that co-signed it. Verify it with the public
/// key of `GET /v1/audit/public-key` (the note's key name is the origin).
///
/// Roles: all.
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit", security(("bearer" = [])),
    params(CheckpointNoteQuery),
    responses((status = 200, description = "The signed note.", body = String, content_type = "text/plain; charset=utf-8"), ReadProblems))]
pub async fn latest_checkpoint(
    State(state): State<AppState>,
    Authenticated(_caller): Authenticated,
    ApiQuery(query): ApiQuery<CheckpointNoteQuery>,
) -> Result<Response, ApiError> {
    let (_, note) = state
        .app
        .checkpoint_note(query.tree_size)
        .await?
        .ok_or_else(|| ApiError::not_found("checkpoint"))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// The event and tree of an inclusion proof.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The event's position.
    pub position: u64,
    /// The tree's size (default: the newest checkpoint's).
    #[serde(default)]
    pub tree_size: Option<u64>,
}

/// `GET /v1/audit/proof/inclusion`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProofResponse {
    /// The leaf: the position minus one.
    pub leaf_index: u64,
    /// The tree's size.
    pub tree_size: u64,
    /// The proof's hashes from the leaf upward, standard base64 (RFC 9162 §2.1.3).
    pub hashes: Vec<String>,
}

/// The proof that the event at `position` is in the tree of `tree_size` leaves: check it with
/// the event's `hash` as the leaf (hashed as `SHA-256(0x00 ‖ hash bytes)`) and the root of the
/// checkpoint of that size, or offline with `caseledger audit verify-inclusion`.
///
/// Roles: auditor, admin; partner, for events in its department's feed (others are 404).
#[utoipa::path(get, path = "/v1/audit/proof/inclusion", tag = "audit", security(("bearer" = [])),
    params(InclusionQuery),
    responses((status = 200, description = "The proof.", body = InclusionProofResponse), ProofProblems))]
pub async fn inclusion_proof(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionProofResponse>, ApiError> {
    let proof = state
        .app
        .inclusion_proof(&caller, query.position, query.tree_size)
        .await?;
    Ok(Json(InclusionProofResponse {
        leaf_index: proof.leaf_index,
        tree_size: proof.tree_size,
        hashes: base64_all(&proof.hashes),
    }))
}

/// The two trees of a consistency proof.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
}

/// `GET /v1/audit/proof/consistency`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProofResponse {
    /// Extension: the older size.
    pub from: u64,
    /// Extension: the newer size.
    pub to: u64,
    /// The proof's hashes, standard base64 (RFC 9162 §2.1.4).
    pub hashes: Vec<String>,
}

/// The proof that the tree of `from` leaves is a prefix of the tree of `to` leaves — that the
/// log only grew between two checkpoints. `caseledger audit verify-consistency` checks it
/// offline; `caseledger witness` checks it before co-signing.
///
/// Roles: auditor, admin, partner.
#[utoipa::path(get, path = "/v1/audit/proof/consistency", tag = "audit", security(("bearer" = [])),
    params(ConsistencyQuery),
    responses((status = 200, description = "The proof.", body = ConsistencyProofResponse), ProofProblems))]
pub async fn consistency_proof(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyProofResponse>, ApiError> {
    let hashes = state
        .app
        .consistency_proof(&caller, query.from, query.to)
        .await?;
    Ok(Json(ConsistencyProofResponse {
        from: query.from,
        to: query.to,
        hashes: base64_all(&hashes),
    }))
}

/// `POST /v1/audit/checkpoints/{tree_size}/cosignatures`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CosignatureResponse {
    /// The witness whose cosignature was kept.
    pub witness: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
}

/// A witness's cosignature of the checkpoint of `tree_size`: the body is one C2SP
/// `cosignature/v1` signature line (`— <name> <base64>`), as `caseledger witness` posts it. It
/// is kept only when it is a registered witness's valid signature of that checkpoint's note
/// (422 naming `cosignature` otherwise); a witness's newer cosignature of the same checkpoint
/// replaces its older one.
///
/// Roles: auditor, admin, partner (the signature says who signed, not the token).
#[utoipa::path(post, path = "/v1/audit/checkpoints/{tree_size}/cosignatures", tag = "audit", security(("bearer" = [])),
    params(("tree_size" = u64, Path, description = "The checkpoint's tree size.")),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 201, description = "Kept.", body = CosignatureResponse), CommandProblems))]
pub async fn add_cosignature(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(tree_size): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<CosignatureResponse>), ApiError> {
    let tree_size: u64 = tree_size
        .parse()
        .map_err(|_| ApiError::not_found("checkpoint"))?;
    if body.len() > COSIGNATURE_MAX {
        return Err(ApiError::bad_request(
            "a cosignature is one signature line",
            Some((
                "cosignature",
                format!("must be at most {COSIGNATURE_MAX} bytes"),
            )),
        ));
    }
    let line = std::str::from_utf8(&body).map_err(|_| {
        ApiError::bad_request(
            "a cosignature is UTF-8 text",
            Some(("cosignature", "must be UTF-8 text".into())),
        )
    })?;
    let witness = state.app.add_cosignature(&caller, tree_size, line).await?;
    Ok((
        StatusCode::CREATED,
        Json(CosignatureResponse { witness, tree_size }),
    ))
}

/// A witness, as registered.
#[derive(Debug, Serialize, ToSchema)]
pub struct WitnessResponse {
    /// Its name, as in its cosignature lines.
    pub name: String,
    /// Its Ed25519 public key, standard base64.
    pub public_key: String,
    /// Its C2SP verifier key (`name+keyid+base64`), for `--witness`.
    pub verifier_key: String,
    /// When it was registered.
    pub registered_at: String,
    /// Who registered it.
    pub registered_by: String,
}

impl From<Witness> for WitnessResponse {
    fn from(witness: Witness) -> Self {
        WitnessResponse {
            name: witness.name,
            public_key: witness.public_key,
            verifier_key: witness.verifier_key,
            registered_at: witness.registered_at,
            registered_by: witness.registered_by,
        }
    }
}

/// `GET /v1/audit/witnesses`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WitnessesResponse {
    /// Every registered witness, by name.
    pub items: Vec<WitnessResponse>,
}

/// The registered witnesses.
///
/// Roles: admin, auditor.
#[utoipa::path(get, path = "/v1/audit/witnesses", tag = "audit", security(("bearer" = [])),
    responses((status = 200, description = "The witnesses.", body = WitnessesResponse), ReadProblems))]
pub async fn list_witnesses(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<WitnessesResponse>, ApiError> {
    let items = state
        .app
        .witnesses(&caller)
        .await?
        .into_iter()
        .map(WitnessResponse::from)
        .collect();
    Ok(Json(WitnessesResponse { items }))
}

/// `POST /v1/audit/witnesses`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWitnessRequest {
    /// The witness's name (1–100 characters, no spaces or `+`), e.g. `hrss.example.gov.cn/witness`.
    pub name: String,
    /// Its Ed25519 public key, standard base64 (what `caseledger witness --init` prints).
    pub public_key: String,
}

/// Registers a witness: its cosignatures of checkpoints are kept and served from now on.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/audit/witnesses", tag = "audit", security(("bearer" = [])),
    request_body = RegisterWitnessRequest,
    responses((status = 201, description = "Registered.", body = WitnessResponse), CommandProblems))]
pub async fn register_witness(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: ApiJson<RegisterWitnessRequest>,
) -> Result<(StatusCode, Json<WitnessResponse>), ApiError> {
    let request = request.value;
    let witness = state
        .app
        .register_witness(&caller, &request.name, &request.public_key)
        .await?;
    Ok((StatusCode::CREATED, Json(witness.into())))
}

/// Removes a witness; the cosignatures it made stay with their checkpoints.
///
/// Roles: admin.
#[utoipa::path(delete, path = "/v1/audit/witnesses/{name}", tag = "audit", security(("bearer" = [])),
    params(("name" = String, Path, description = "The witness's name.")),
    responses((status = 204, description = "Removed."), ReadProblems))]
pub async fn remove_witness(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.remove_witness(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
