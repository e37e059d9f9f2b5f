//! `/v1/tokens`: issuing, listing and revoking API tokens (admins).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use caseledger_domain::Role;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{ApiJson, Authenticated};
use crate::openapi::ReadProblems;
use crate::types::{CreateTokenRequest, FieldErrors, TokenListResponse, TokenResponse};
use crate::AppState;

/// The token routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route("/v1/tokens/{token_id}", delete(revoke_token))
}

/// Issues a token. The secret is in this answer only; the service keeps its hash.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", security(("bearer" = [])),
    request_body = CreateTokenRequest,
    responses((status = 201, description = "Issued.", body = TokenResponse), crate::openapi::CommandProblems))]
pub async fn create_token(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let request = request.value;
    let mut errors = FieldErrors::default();
    let role = errors.parse::<Role>("role", &request.role);
    let department = errors.department("department", request.department.as_deref());
    let role = errors.finish(|| role)?;
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
