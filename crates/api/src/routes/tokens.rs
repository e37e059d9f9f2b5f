//! `/v1/tokens`: issuing, listing and revoking API tokens (admins).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use caseledger_app::TokenRecord;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, CommandProblems, ReadProblems};
use crate::extract::{ApiJson, Authenticated};
use crate::state::AppState;
use crate::vocabulary::{role_schema, FieldErrors};

/// The token routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// `POST /v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// Who or what uses the token.
    pub name: String,
    /// The role.
    #[schema(schema_with = role_schema)]
    pub role: String,
    /// The department, for partner tokens only.
    #[serde(default)]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub department: Option<String>,
}

/// A token (the secret only in the answer to its creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The token's id.
    pub id: Uuid,
    /// The bearer token; shown once, at creation, and never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Name.
    pub name: String,
    /// Role.
    #[schema(schema_with = role_schema)]
    pub role: String,
    /// Department (partners).
    pub department: Option<String>,
    /// When issued.
    pub created_at: DateTime<Utc>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenResponse {
    /// The response for a record, with the secret when it was just issued.
    pub fn new(record: TokenRecord, token: Option<String>) -> TokenResponse {
        TokenResponse {
            id: record.id,
            token,
            name: record.name,
            role: record.role.as_str().to_owned(),
            department: record.department.map(|d| d.as_str().to_owned()),
            created_at: record.created_at,
            revoked_at: record.revoked_at,
        }
    }
}

/// `GET /v1/tokens`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenListResponse {
    /// Every token, oldest first.
    pub items: Vec<TokenResponse>,
}

/// Issues a token. The secret is in this answer only; the service keeps its hash.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])),
    request_body = CreateTokenRequest,
    responses((status = 201, description = "Issued.", body = TokenResponse), CommandProblems))]
pub async fn create_token(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let request = request.value;
    let (role, department) =
        FieldErrors::role_and_department(&request.role, request.department.as_deref())?;
    let issued = state
        .app
        .issue_token(&caller, request.name, role, department)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenResponse::new(issued.record, Some(issued.token))),
    ))
}

/// Lists every token, without secrets.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, description = "Every token.", body = TokenListResponse), ReadProblems))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<TokenListResponse>, ApiError> {
    let items = state
        .app
        .list_tokens(&caller)?
        .into_iter()
        .map(|record| TokenResponse::new(record, None))
        .collect();
    Ok(Json(TokenListResponse { items }))
}

/// Revokes a token at once; its next request gets 401.
///
/// Roles: admin.
#[utoipa::path(delete, path = "/v1/tokens/{token_id}", tag = "tokens", security(("bearer" = [])),
    params(("token_id" = Uuid, Path, description = "The token's id.")),
    responses((status = 200, description = "Revoked.", body = TokenResponse), ReadProblems))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    axum::extract::Path(token_id): axum::extract::Path<String>,
) -> Result<Json<TokenResponse>, ApiError> {
    let token_id = Uuid::parse_str(&token_id).map_err(|_| ApiError::not_found("token"))?;
    let record = state.app.revoke_token(&caller, token_id).await?;
    Ok(Json(TokenResponse::new(record, None)))
}
