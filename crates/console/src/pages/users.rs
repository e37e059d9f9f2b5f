//! Accounts, for admins: the list, a new account (its one-time setup link shown once, to pass
//! on to the person), disabling one, and a new setup link for one.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use caseledger_app::{AppError, NewUser, UserView, UserWithSetup};
use caseledger_domain::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::forms::{FormError, Reading, Refusal};
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

/// The accounts page: the list and the new-account form, empty or as filled in with what
/// was refused; a notice, or a setup link made just now.
async fn users_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    form: NewUserForm,
    refused: Option<Refusal>,
    notice_key: Option<&str>,
    link: Option<SetupLink>,
) -> Result<Response, ConsoleError> {
    let users = state.app.list_users(signed_in.caller()).await?;
    let (status, errors, alert_key) = match refused {
        Some(refusal) => (refusal.status, refusal.errors, refusal.alert_key),
        None => (StatusCode::OK, Vec::new(), notice_key.map(str::to_owned)),
    };
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
    users_page(&state, &signed_in, NewUserForm::default(), None, None, None).await
}

/// `POST /console/users`: creates the account and shows its setup link once.
pub async fn create(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    form: SignedForm<NewUserForm>,
) -> Result<Response, ConsoleError> {
    let SignedForm {
        by: signed_in,
        fields,
        ..
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
            let refused = Some(Refusal::unread(errors));
            return users_page(&state, &signed_in, fields, refused, None, None).await;
        }
    };
    let refusal = match state.app.create_user(signed_in.caller(), input).await {
        Ok(created) => {
            let link = Some(setup_link(&state, &headers, &created, false));
            return users_page(&state, &signed_in, NewUserForm::default(), None, None, link).await;
        }
        // The one conflict of a new account: its login is taken.
        Err(AppError::Conflict(_)) => Refusal {
            status: StatusCode::CONFLICT,
            ..Refusal::unread(vec![FormError::keyed("login", "error-login-taken")])
        },
        Err(error) => Refusal::of(error)?,
    };
    users_page(&state, &signed_in, fields, Some(refusal), None, None).await
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
    state.app.disable_user(form.by.caller(), id).await?;
    users_page(
        &state,
        &form.by,
        NewUserForm::default(),
        None,
        Some("users-disabled"),
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
    let created = state.app.reset_user(form.by.caller(), id).await?;
    let link = Some(setup_link(&state, &headers, &created, true));
    users_page(&state, &form.by, NewUserForm::default(), None, None, link).await
}
