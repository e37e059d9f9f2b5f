//! `/v1/users`: people's accounts for the console (contract §8, admins) — creating one with a
//! one-time setup link, listing them, disabling one (its sessions end at once) and resetting
//! one (a new setup link; the old password stops working).
//!
//! The setup link is a secret shown once, in the answer to the creation or reset: it is built
//! here from [`PublicBase`] and the app's token and goes nowhere else (no log line, no span:
//! the paths of these routes hold only the account's id).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use caseledger_app::{NewUser, UserStatus, UserView, UserWithSetup};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, CommandProblems, ReadProblems};
use crate::extract::{ApiJson, Authenticated, PublicBase, UserPath};
use crate::state::AppState;
use crate::vocabulary::{role_schema, FieldErrors};

/// The account routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_users, create_user))
        .routes(routes!(disable_user))
        .routes(routes!(reset_user))
}

/// `POST /v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// What the person signs in with: 2 to 64 of `a-z 0-9 . _ -`, starting with a letter or
    /// digit; upper case is taken as lower case. Unique.
    #[schema(
        min_length = 2,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$"
    )]
    pub login: String,
    /// The person's name, as the events they write record it (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The role.
    #[schema(schema_with = role_schema)]
    pub role: String,
    /// The department, for partners only (and required for them).
    #[serde(default)]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub department: Option<String>,
}

/// Where an account stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// Created or reset: waiting for the person to choose a password through the setup link.
    PendingSetup,
    /// The person can sign in.
    Active,
    /// Disabled: no sign-in, no session.
    Disabled,
}

impl From<UserStatus> for UserState {
    fn from(status: UserStatus) -> Self {
        match status {
            UserStatus::PendingSetup => UserState::PendingSetup,
            UserStatus::Active => UserState::Active,
            UserStatus::Disabled => UserState::Disabled,
        }
    }
}

/// An account: never a password, a hash or a setup token.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// The account's id.
    pub id: Uuid,
    /// Its login (lower case).
    pub login: String,
    /// The person's name.
    pub name: String,
    /// Its role.
    #[schema(schema_with = role_schema)]
    pub role: String,
    /// The department (partners); null for other roles.
    #[schema(required = true)]
    pub department: Option<String>,
    /// Where the account stands.
    pub status: UserState,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the open setup link stops working (pending accounts); null otherwise.
    #[schema(required = true)]
    pub setup_expires_at: Option<DateTime<Utc>>,
    /// When it was disabled; null while it is not.
    #[schema(required = true)]
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<UserView> for UserResponse {
    fn from(user: UserView) -> Self {
        UserResponse {
            id: user.id,
            login: user.login,
            name: user.name,
            role: user.role.as_str().to_owned(),
            department: user.department.map(|d| d.as_str().to_owned()),
            status: user.status.into(),
            created_at: user.created_at,
            setup_expires_at: user.setup_expires_at,
            disabled_at: user.disabled_at,
        }
    }
}

/// An account with its new one-time setup link (the answer to a creation or a reset).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserSetupResponse {
    /// The account.
    #[serde(flatten)]
    pub user: UserResponse,
    /// The one-time link (valid 72 hours) where the person chooses a password:
    /// `<base>/console/setup/<token>`, shown in this answer only. The base is `--public-url`
    /// when the service has one, else `http://` and the request's `Host`; a `Host` that is not
    /// a plain `host[:port]` gives the path alone, relative to the service's address.
    #[schema(format = "uri-reference")]
    pub setup_url: String,
}

impl UserSetupResponse {
    fn new(opened: UserWithSetup, base: &PublicBase) -> Self {
        UserSetupResponse {
            setup_url: opened.setup_url(&base.0),
            user: opened.user.into(),
        }
    }
}

/// `GET /v1/users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserListResponse {
    /// Every account, oldest first.
    pub items: Vec<UserResponse>,
}

/// Creates an account with a one-time setup link. A login taken already is a 409.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/users", tag = "users", security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses((status = 201, description = "Created; `setup_url` is shown this once.", body = UserSetupResponse), CommandProblems))]
pub async fn create_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    base: PublicBase,
    request: ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserSetupResponse>), ApiError> {
    let request = request.value;
    let (role, department) =
        FieldErrors::role_and_department(&request.role, request.department.as_deref())?;
    let user = NewUser {
        login: request.login,
        name: request.name,
        role,
        department,
    };
    let created = state.app.create_user(&caller, user).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserSetupResponse::new(created, &base)),
    ))
}

/// Lists every account, without secrets.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "Every account.", body = UserListResponse), ReadProblems))]
pub async fn list_users(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<UserListResponse>, ApiError> {
    let items = state
        .app
        .list_users(&caller)
        .await?
        .into_iter()
        .map(UserResponse::from)
        .collect();
    Ok(Json(UserListResponse { items }))
}

/// Disables an account; its sessions end at once and it can no longer sign in. Disabling it
/// again changes nothing.
///
/// Roles: admin.
#[utoipa::path(delete, path = "/v1/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The account's id; a malformed id is a 404 like an unknown one.")),
    responses((status = 200, description = "Disabled.", body = UserResponse), ReadProblems))]
pub async fn disable_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    UserPath(user_id): UserPath,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state.app.disable_user(&caller, user_id).await?;
    Ok(Json(user.into()))
}

/// Opens a new setup link for an account: its password stops working, its sessions end, and
/// the person chooses a new password through the link. A disabled account stays disabled.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/users/{user_id}/reset", tag = "users", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The account's id; a malformed id is a 404 like an unknown one.")),
    responses((status = 200, description = "Reset; `setup_url` is shown this once.", body = UserSetupResponse), ReadProblems))]
pub async fn reset_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    base: PublicBase,
    UserPath(user_id): UserPath,
) -> Result<Json<UserSetupResponse>, ApiError> {
    let reset = state.app.reset_user(&caller, user_id).await?;
    Ok(Json(UserSetupResponse::new(reset, &base)))
}
