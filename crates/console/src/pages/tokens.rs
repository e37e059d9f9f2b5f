//! API tokens, for admins (contract §3): the list (name, role, department, issued, revoked),
//! issuing one — its secret shown on the answer page this once, never in an address, a log or
//! any later page — and revoking one after a page that asks to confirm it. The same app
//! methods as `/v1/tokens`; every role but admin is refused by them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use caseledger_app::{AppError, TokenRecord};
use caseledger_domain::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::forms::{FormError, Reading, Refusal};
use crate::pages::render::render_page;
use crate::session::{SignedForm, SignedIn};
use crate::state::ConsoleState;
use crate::views::Choices;

/// The new-token form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct NewTokenForm {
    pub name: String,
    pub role: String,
    pub department: String,
}

/// A token issued just now: its secret, shown this once.
#[derive(Debug, Serialize)]
struct IssuedShown {
    name: String,
    role: Role,
    token: String,
}

#[derive(Debug, Serialize)]
struct TokensPage {
    tokens: Vec<TokenRecord>,
    form: NewTokenForm,
    errors: Vec<FormError>,
    alert_key: Option<String>,
    /// The name of the token a notice is about.
    notice_name: Option<String>,
    issued: Option<IssuedShown>,
    roles: Vec<&'static str>,
    choices: Choices,
}

/// What the tokens page shows besides the list.
#[derive(Debug, Default)]
struct Shown {
    form: NewTokenForm,
    refused: Option<Refusal>,
    notice: Option<(&'static str, String)>,
    issued: Option<IssuedShown>,
}

async fn tokens_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    shown: Shown,
) -> Result<Response, ConsoleError> {
    let mut tokens = state.app.list_tokens(signed_in.caller())?;
    // Live tokens first, each group newest first.
    tokens.sort_by(|a, b| {
        (a.revoked_at.is_some(), std::cmp::Reverse(a.created_at))
            .cmp(&(b.revoked_at.is_some(), std::cmp::Reverse(b.created_at)))
    });
    let (status, errors, alert_key) = match shown.refused {
        Some(refusal) => (refusal.status, refusal.errors, refusal.alert_key),
        None => (
            StatusCode::OK,
            Vec::new(),
            shown.notice.as_ref().map(|(key, _)| (*key).to_owned()),
        ),
    };
    let page = TokensPage {
        tokens,
        form: shown.form,
        errors,
        alert_key,
        notice_name: shown.notice.map(|(_, name)| name),
        issued: shown.issued,
        roles: Role::ALL.iter().map(|role| role.as_str()).collect(),
        choices: Choices::new(state.app.policy()),
    };
    render_page(
        state,
        status,
        "tokens.html",
        &signed_in.chrome("tokens"),
        page,
    )
}

/// `GET /console/tokens`.
pub async fn list(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
) -> Result<Response, ConsoleError> {
    tokens_page(&state, &signed_in, Shown::default()).await
}

/// `POST /console/tokens`: issues the token and shows its secret on this answer only.
pub async fn create(
    State(state): State<ConsoleState>,
    form: SignedForm<NewTokenForm>,
) -> Result<Response, ConsoleError> {
    let SignedForm {
        by: signed_in,
        fields,
        ..
    } = form;
    let mut reading = Reading::default();
    let role = reading.choice::<Role>("role", &fields.role);
    let department = reading.department("department", &fields.department);
    let input = reading.finish(|| Some((role?, department.clone())));
    let (role, department) = match input {
        Ok(input) => input,
        Err(errors) => {
            let shown = Shown {
                form: fields,
                refused: Some(Refusal::unread(errors)),
                ..Shown::default()
            };
            return tokens_page(&state, &signed_in, shown).await;
        }
    };
    let issued = state
        .app
        .issue_token(signed_in.caller(), fields.name.clone(), role, department)
        .await;
    let shown = match issued {
        Ok(issued) => Shown {
            issued: Some(IssuedShown {
                name: issued.record.name,
                role: issued.record.role,
                token: issued.token,
            }),
            ..Shown::default()
        },
        Err(error) => Shown {
            form: fields,
            refused: Some(Refusal::of(error)?),
            ..Shown::default()
        },
    };
    tokens_page(&state, &signed_in, shown).await
}

/// The token record `id`, as the admin's list holds it.
fn token_record(
    state: &ConsoleState,
    signed_in: &SignedIn,
    id: &str,
) -> Result<TokenRecord, ConsoleError> {
    let id = Uuid::try_parse(id).map_err(|_| ConsoleError::PageNotFound)?;
    state
        .app
        .list_tokens(signed_in.caller())?
        .into_iter()
        .find(|record| record.id == id)
        .ok_or_else(|| ConsoleError::App(AppError::NotFound("token".into())))
}

#[derive(Debug, Serialize)]
struct RevokePage {
    token: TokenRecord,
}

/// `GET /console/tokens/{id}/revoke`: asks the admin to confirm, naming the token.
pub async fn confirm_revoke(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let token = token_record(&state, &signed_in, &id)?;
    render_page(
        &state,
        StatusCode::OK,
        "token_revoke.html",
        &signed_in.chrome("tokens"),
        RevokePage { token },
    )
}

/// `POST /console/tokens/{id}/revoke`: the token stops working at once.
pub async fn revoke(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    form: SignedForm<NewTokenForm>,
) -> Result<Response, ConsoleError> {
    let id = Uuid::try_parse(&id).map_err(|_| ConsoleError::PageNotFound)?;
    let revoked = state.app.revoke_token(form.by.caller(), id).await?;
    let shown = Shown {
        notice: Some(("tokens-revoked", revoked.name)),
        ..Shown::default()
    };
    tokens_page(&state, &form.by, shown).await
}
