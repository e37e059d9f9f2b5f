//! Erasure of a case's personal data, for admins (contract §6a): a page that names the case
//! (title, id, employer, what personal data it holds) and asks the admin to type the case's
//! id before anything is erased; the erasure itself (the same app method as
//! `POST /v1/cases/{id}/erase-personal-data`); and the register of erasures
//! (`GET /v1/admin/erasures`), with a way to find a case to erase by its id. A confirmation
//! that does not name the case changes nothing.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use caseledger_app::TimeTravel;
use caseledger_domain::CaseId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::forms::{FormError, Refusal};
use crate::pages::case::case_id;
use crate::pages::render::render_page;
use crate::session::{SignedForm, SignedIn};
use crate::state::ConsoleState;
use crate::views::ComplainantShown;

/// The confirmation form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct EraseForm {
    /// The case's id, typed by the admin.
    pub confirm_case: String,
    pub idempotency_key: String,
}

#[derive(Debug, Serialize)]
struct ErasePage {
    id: String,
    title: String,
    employer: String,
    complainant: ComplainantShown,
    /// Attachments marked personal that the erasure makes unreadable.
    personal_files: usize,
    form: EraseForm,
    errors: Vec<FormError>,
    alert_key: Option<String>,
    idempotency_key: String,
}

/// The erase page of case `id`: 404 for a case the reader may not see, 403 for a reader who
/// may not erase (the order of the API's answers).
async fn erase_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    id: CaseId,
    form: EraseForm,
    refused: Option<Refusal>,
) -> Result<Response, ConsoleError> {
    let caller = signed_in.caller();
    let view = state.app.case(caller, id, TimeTravel::Latest).await?;
    state.app.check_may_erase(caller)?;
    let (status, errors, alert_key) = match refused {
        Some(refusal) => (refusal.status, refusal.errors, refusal.alert_key),
        None => (StatusCode::OK, Vec::new(), None),
    };
    let personal_files = view
        .case
        .attachments
        .iter()
        .filter(|file| file.personal)
        .count();
    let page = ErasePage {
        id: id.0.to_string(),
        title: view.case.title.clone(),
        employer: view.case.employer.name.clone(),
        complainant: view.complainant.into(),
        personal_files,
        // A refused form keeps its key: posting it again is the same request.
        idempotency_key: if form.idempotency_key.is_empty() {
            Uuid::new_v4().to_string()
        } else {
            form.idempotency_key.clone()
        },
        form,
        errors,
        alert_key,
    };
    render_page(
        state,
        status,
        "erase.html",
        &signed_in.chrome("erasures"),
        page,
    )
}

/// `GET /console/cases/{id}/erase`.
pub async fn confirm(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = case_id(&id)?;
    erase_page(&state, &signed_in, id, EraseForm::default(), None).await
}

/// `POST /console/cases/{id}/erase`: erases when the typed id is the case's; otherwise the
/// page again with the error beside the field, and nothing changed.
pub async fn erase(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    form: SignedForm<EraseForm>,
) -> Result<Response, ConsoleError> {
    let id = case_id(&id)?;
    let SignedForm {
        by: signed_in,
        fields,
        posted,
    } = form;
    let typed = fields.confirm_case.trim();
    let refusal = if typed.is_empty() {
        Refusal::unread(vec![FormError::keyed("confirm_case", "error-empty")])
    } else if !typed.eq_ignore_ascii_case(&id.0.to_string()) {
        Refusal::unread(vec![FormError::keyed(
            "confirm_case",
            "error-erase-confirm",
        )])
    } else {
        let idempotency = posted.idempotency(&fields.idempotency_key);
        match state
            .app
            .erase_personal_data(signed_in.caller(), id, idempotency)
            .await
        {
            Ok(_) => {
                return Ok(
                    Redirect::to(&format!("/console/cases/{}?done=erased", id.0)).into_response(),
                )
            }
            Err(error) => Refusal::of(error)?,
        }
    };
    erase_page(&state, &signed_in, id, fields, Some(refusal)).await
}

/// One entry of the register as the page shows it.
#[derive(Debug, Serialize)]
struct ErasureShown {
    case_id: String,
    erased_at: chrono::DateTime<chrono::Utc>,
    position: u64,
}

#[derive(Debug, Serialize)]
struct ErasuresPage {
    erasures: Vec<ErasureShown>,
    case: String,
    errors: Vec<FormError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErasuresQuery {
    case: String,
}

/// `GET /console/erasures`: the register, newest first; `?case=<id>` leads to that case's
/// erase page.
pub async fn register(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let query: ErasuresQuery =
        serde_html_form::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let erasures = state.app.erasures(signed_in.caller()).await?;
    let typed = query.case.trim();
    let mut errors = Vec::new();
    if !typed.is_empty() {
        match Uuid::try_parse(typed) {
            Ok(case) => {
                return Ok(Redirect::to(&format!("/console/cases/{case}/erase")).into_response())
            }
            Err(_) => errors.push(FormError::keyed("case", "error-case-id")),
        }
    }
    let page = ErasuresPage {
        erasures: erasures
            .into_iter()
            .rev()
            .map(|erasure| ErasureShown {
                case_id: erasure.case_id.to_string(),
                erased_at: erasure.erased_at,
                position: erasure.position,
            })
            .collect(),
        case: query.case.clone(),
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_page(
        &state,
        status,
        "erasures.html",
        &signed_in.chrome("erasures"),
        page,
    )
}
