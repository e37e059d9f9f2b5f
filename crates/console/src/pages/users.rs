//! Accounts, for admins: the list, a new account (its one-time setup link shown once, to pass
//! on to the person), disabling one, and a new setup link for one.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use caseledger_app::{AppError, NewUser, UserView, UserWithSetup};
use caseledger_domain::{Rejection, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::forms::{form_errors, FormError, Reading};
use crate::pages::render::render_page;
use crate::security::base_url;
use crate::session::{SignedForm, SignedIn};
use crate::state::ConsoleState;
use crate::views::Choices;

/// The new-account form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct NewUserForm {
    pub login: String,
    pub name: String,
    pub role: String,
    pub department: String,
}

/// A setup link made just now, shown once.
#[derive(Debug, Serialize)]
struct SetupLink {
    login: String,
    name: String,
    url: String,
    reset: bool,
}

#[derive(Debug, Serialize)]
struct UsersPage {
    users: Vec<UserView>,
    form: NewUserForm,
    errors: Vec<FormError>,
    alert_key: Option<String>,
    link: Option<SetupLink>,
    roles: Vec<&'static str>,
    choices: Choices,
}

async fn users_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    status: StatusCode,
    form: NewUserForm,
    errors: Vec<FormError>,
    alert_key: Option<String>,
    link: Option<SetupLink>,
) -> Result<Response, ConsoleError> {
    let users = state.app.list_users(signed_in.caller()).await?;
    let page = UsersPage {
        users,
        form,
        errors,
        alert_key,
        link,
        roles: Role::ALL.iter().map(|role| role.as_str()).collect(),
        choices: Choices::new(state.app.policy()),
    };
    render_page(
        state,
        status,
        "users.html",
        &signed_in.chrome("users"),
        page,
    )
}

/// The link a person follows to choose their password.
fn setup_link(
    state: &ConsoleState,
    headers: &HeaderMap,
    created: &UserWithSetup,
    reset: bool,
) -> SetupLink {
    let base = base_url(headers, &state.config).unwrap_or_default();
    SetupLink {
        login: created.user.login.clone(),
        name: created.user.name.clone(),
        url: created.setup_url(&base),
        reset,
    }
}

/// `GET /console/users`.
pub async fn list(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
) -> Result<Response, ConsoleError> {
    users_page(
        &state,
        &signed_in,
        StatusCode::OK,
        NewUserForm::default(),
        Vec::new(),
        None,
        None,
    )
    .await
}

/// `POST /console/users`: creates the account and shows its setup link once.
pub async fn create(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    form: SignedForm<NewUserForm>,
) -> Result<Response, ConsoleError> {
    let SignedForm {
        signed_in, fields, ..
    } = form;
    let mut reading = Reading::default();
    let role = reading.choice::<Role>("role", &fields.role);
    let department = reading.department("department", &fields.department);
    let input = reading.finish(|| {
        Some(NewUser {
            login: fields.login.trim().to_owned(),
            name: fields.name.trim().to_owned(),
            role: role?,
            department: department.clone(),
        })
    });
    let input = match input {
        Ok(input) => input,
        Err(errors) => {
            return users_page(
                &state,
                &signed_in,
                StatusCode::UNPROCESSABLE_ENTITY,
                fields,
                errors,
                None,
                None,
            )
            .await
        }
    };
    let refused =
        |errors, alert_key: Option<&str>, status| (errors, alert_key.map(str::to_owned), status);
    let (errors, alert_key, status) = match state.app.create_user(signed_in.caller(), input).await {
        Ok(created) => {
            let link = setup_link(&state, &headers, &created, false);
            return users_page(
                &state,
                &signed_in,
                StatusCode::OK,
                NewUserForm::default(),
                Vec::new(),
                None,
                Some(link),
            )
            .await;
        }
        Err(AppError::Rejected(Rejection::Invalid(errors))) => {
            refused(form_errors(&errors), None, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(AppError::Invalid { field, message }) => refused(
            form_errors(&[caseledger_domain::FieldError::new(field, message)]),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(AppError::Conflict(_)) => refused(
            vec![FormError::keyed("login", "error-login-taken")],
            None,
            StatusCode::CONFLICT,
        ),
        Err(error) => return Err(error.into()),
    };
    users_page(&state, &signed_in, status, fields, errors, alert_key, None).await
}

fn user_id(text: &str) -> Result<Uuid, ConsoleError> {
    Uuid::try_parse(text).map_err(|_| ConsoleError::PageNotFound)
}

/// `POST /console/users/{id}/disable`: the account stops working and its sessions end.
pub async fn disable(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    form: SignedForm<NewUserForm>,
) -> Result<Response, ConsoleError> {
    let id = user_id(&id)?;
    state.app.disable_user(form.signed_in.caller(), id).await?;
    users_page(
        &state,
        &form.signed_in,
        StatusCode::OK,
        NewUserForm::default(),
        Vec::new(),
        Some("users-disabled".into()),
        None,
    )
    .await
}

/// `POST /console/users/{id}/reset`: a new setup link; the old password stops working.
pub async fn reset(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: SignedForm<NewUserForm>,
) -> Result<Response, ConsoleError> {
    let id = user_id(&id)?;
    let created = state.app.reset_user(form.signed_in.caller(), id).await?;
    let link = setup_link(&state, &headers, &created, true);
    users_page(
        &state,
        &form.signed_in,
        StatusCode::OK,
        NewUserForm::default(),
        Vec::new(),
        None,
        Some(link),
    )
    .await
}
