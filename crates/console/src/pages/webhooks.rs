//! Webhook endpoints, for admins (contract §7): the list with each endpoint's status,
//! registering one (its `whsec_` secret shown on the answer page this once), and an endpoint's
//! page — its facts, the deliveries log a page at a time, and the actions: resume, replay from
//! a position, rotate the secret (the new one shown once), delete (after a page that asks to
//! confirm it). The same app methods as `/v1/webhooks*`: the URL's checks (the egress rules),
//! the department and the types are the app's, and its refusals land beside their fields.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use caseledger_app::webhooks::{
    message_types, AttemptOutcome, DeliveryAttempt, EndpointStatus, EndpointView,
    EndpointWithSecret, NewEndpoint,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::forms::{FormError, Refusal};
use crate::pages::render::render_page;
use crate::session::{SignedForm, SignedIn};
use crate::state::ConsoleState;
use crate::views::Choices;

/// Delivery attempts on one page of an endpoint's log.
const DELIVERIES_PAGE: usize = 25;

/// An endpoint as the pages show it (no secret).
#[derive(Debug, Serialize)]
struct EndpointShown {
    id: String,
    url: String,
    department: String,
    event_types: Option<Vec<String>>,
    description: Option<String>,
    /// `active`, or `failing` (paused at a message until resumed or replayed).
    status: &'static str,
    created_at: DateTime<Utc>,
    delivered_through: u64,
    failed_attempts: u32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

impl From<EndpointView> for EndpointShown {
    fn from(view: EndpointView) -> Self {
        EndpointShown {
            id: view.id.to_string(),
            url: view.url,
            department: view.department.to_string(),
            event_types: view.event_types,
            description: view.description,
            status: match view.status {
                EndpointStatus::Active => "active",
                EndpointStatus::Failing => "failing",
            },
            created_at: view.created_at,
            delivered_through: view.delivered_through,
            failed_attempts: view.failed_attempts,
            next_attempt_at: view.next_attempt_at,
            last_error: view.last_error,
        }
    }
}

/// One delivery attempt as the log shows it.
#[derive(Debug, Serialize)]
struct AttemptShown {
    at: DateTime<Utc>,
    kind: String,
    position: u64,
    attempt: u32,
    status_code: Option<u16>,
    latency_ms: u64,
    error: Option<String>,
    delivered: bool,
}

impl From<DeliveryAttempt> for AttemptShown {
    fn from(attempt: DeliveryAttempt) -> Self {
        AttemptShown {
            at: attempt.at,
            kind: attempt.kind,
            position: attempt.position,
            attempt: attempt.attempt,
            status_code: attempt.status_code,
            latency_ms: attempt.latency_ms,
            error: attempt.error,
            delivered: attempt.outcome == AttemptOutcome::Delivered,
        }
    }
}

/// A secret made just now, shown this once.
#[derive(Debug, Serialize)]
struct SecretShown {
    secret: String,
    rotated: bool,
}

impl SecretShown {
    fn of(made: &EndpointWithSecret, rotated: bool) -> SecretShown {
        SecretShown {
            secret: made.secret.expose(),
            rotated,
        }
    }
}

/// A message type offered as a choice: its name and, for a case event, the event's type (for
/// its label).
#[derive(Debug, Serialize)]
struct TypeChoice {
    name: String,
    event: Option<String>,
}

fn type_choices() -> Vec<TypeChoice> {
    message_types()
        .into_iter()
        .map(|name| TypeChoice {
            event: name.strip_prefix("case.").map(str::to_owned),
            name,
        })
        .collect()
}

/// The new-endpoint form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct NewEndpointForm {
    pub url: String,
    pub department: String,
    /// Checked types; none checked: every type.
    pub event_types: Vec<String>,
    pub description: String,
}

#[derive(Debug, Serialize)]
struct WebhooksPage {
    endpoints: Vec<EndpointShown>,
    form: NewEndpointForm,
    errors: Vec<FormError>,
    alert_key: Option<String>,
    notice_key: Option<&'static str>,
    types: Vec<TypeChoice>,
    choices: Choices,
}

async fn webhooks_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    form: NewEndpointForm,
    refused: Option<Refusal>,
    notice_key: Option<&'static str>,
) -> Result<Response, ConsoleError> {
    let endpoints = state
        .app
        .list_webhooks(signed_in.caller())
        .await?
        .into_iter()
        .map(EndpointShown::from)
        .collect();
    let (status, errors, alert_key) = match refused {
        Some(refusal) => (refusal.status, refusal.errors, refusal.alert_key),
        None => (StatusCode::OK, Vec::new(), None),
    };
    let page = WebhooksPage {
        endpoints,
        form,
        errors,
        alert_key,
        notice_key,
        types: type_choices(),
        choices: Choices::new(state.app.policy()),
    };
    render_page(
        state,
        status,
        "webhooks.html",
        &signed_in.chrome("webhooks"),
        page,
    )
}

/// `GET /console/webhooks`.
pub async fn list(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
) -> Result<Response, ConsoleError> {
    webhooks_page(&state, &signed_in, NewEndpointForm::default(), None, None).await
}

/// The app's field names for the form's: `event_types[3]` is the group of checkboxes.
fn form_field(errors: Vec<FormError>) -> Vec<FormError> {
    errors
        .into_iter()
        .map(|mut error| {
            if error.field.starts_with("event_types") {
                error.field = "event_types".into();
            }
            error
        })
        .collect()
}

/// `POST /console/webhooks`: registers the endpoint and shows its page with the secret, this
/// once.
pub async fn create(
    State(state): State<ConsoleState>,
    form: SignedForm<NewEndpointForm>,
) -> Result<Response, ConsoleError> {
    let SignedForm {
        by: signed_in,
        fields,
        ..
    } = form;
    let input = NewEndpoint {
        url: fields.url.trim().to_owned(),
        department: fields.department.trim().to_owned(),
        event_types: (!fields.event_types.is_empty()).then(|| fields.event_types.clone()),
        description: Some(fields.description.clone()),
    };
    match state.app.create_webhook(signed_in.caller(), input).await {
        Ok(created) => {
            let secret = SecretShown::of(&created, false);
            let shown = Shown {
                secret: Some(secret),
                notice_key: Some("webhooks-created"),
                ..Shown::default()
            };
            endpoint_page(&state, &signed_in, created.endpoint.id, shown).await
        }
        Err(error) => {
            let mut refusal = Refusal::of(error)?;
            refusal.errors = form_field(refusal.errors);
            webhooks_page(&state, &signed_in, fields, Some(refusal), None).await
        }
    }
}

/// The endpoint id of a path, or the page does not exist.
fn endpoint_id(text: &str) -> Result<Uuid, ConsoleError> {
    Uuid::try_parse(text).map_err(|_| ConsoleError::PageNotFound)
}

/// What an endpoint's page shows besides the endpoint.
#[derive(Debug, Default)]
struct Shown {
    secret: Option<SecretShown>,
    notice_key: Option<&'static str>,
    replay: ReplayForm,
    refused: Option<Refusal>,
    page: usize,
}

#[derive(Debug, Serialize)]
struct EndpointPage {
    endpoint: EndpointShown,
    attempts: Vec<AttemptShown>,
    /// Attempts retained in all.
    attempts_total: usize,
    page: usize,
    pages: usize,
    secret: Option<SecretShown>,
    notice_key: Option<&'static str>,
    alert_key: Option<String>,
    replay: ReplayForm,
    errors: Vec<FormError>,
}

async fn endpoint_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    id: Uuid,
    shown: Shown,
) -> Result<Response, ConsoleError> {
    let caller = signed_in.caller();
    let endpoint = state.app.webhook(caller, id).await?;
    let attempts = state.app.webhook_deliveries(caller, id).await?;
    let attempts_total = attempts.len();
    let pages = attempts_total.div_ceil(DELIVERIES_PAGE).max(1);
    let page = shown.page.clamp(1, pages);
    let attempts = attempts
        .into_iter()
        .skip((page - 1) * DELIVERIES_PAGE)
        .take(DELIVERIES_PAGE)
        .map(AttemptShown::from)
        .collect();
    let (status, errors, alert_key) = match shown.refused {
        Some(refusal) => (refusal.status, refusal.errors, refusal.alert_key),
        None => (StatusCode::OK, Vec::new(), None),
    };
    render_page(
        state,
        status,
        "webhook.html",
        &signed_in.chrome("webhooks"),
        EndpointPage {
            endpoint: endpoint.into(),
            attempts,
            attempts_total,
            page,
            pages,
            secret: shown.secret,
            notice_key: shown.notice_key,
            alert_key,
            replay: shown.replay,
            errors,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EndpointQuery {
    page: String,
}

/// `GET /console/webhooks/{id}?page=N`.
pub async fn show(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let id = endpoint_id(&id)?;
    let query: EndpointQuery =
        serde_html_form::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    // A page that is not a number is the first; one past the end, the last.
    let page = query.page.trim().parse().unwrap_or(1);
    let shown = Shown {
        page,
        ..Shown::default()
    };
    endpoint_page(&state, &signed_in, id, shown).await
}

/// The forms of an endpoint's page that carry nothing but their token.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {}

/// `POST /console/webhooks/{id}/resume`: a failing endpoint tries its message again.
pub async fn resume(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    form: SignedForm<ActionForm>,
) -> Result<Response, ConsoleError> {
    let id = endpoint_id(&id)?;
    state.app.resume_webhook(form.by.caller(), id).await?;
    let shown = Shown {
        notice_key: Some("webhooks-resumed"),
        ..Shown::default()
    };
    endpoint_page(&state, &form.by, id, shown).await
}

/// The replay form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ReplayForm {
    pub from_position: String,
}

/// `POST /console/webhooks/{id}/replay`: delivers the feed again from a log position on.
pub async fn replay(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    form: SignedForm<ReplayForm>,
) -> Result<Response, ConsoleError> {
    let id = endpoint_id(&id)?;
    let SignedForm {
        by: signed_in,
        fields,
        ..
    } = form;
    // A log position: a whole number from 1 on.
    let text = fields.from_position.trim();
    let position = match text.parse::<u64>() {
        _ if text.is_empty() => Err(FormError::keyed("from_position", "error-empty")),
        Ok(0) => Err(FormError::keyed("from_position", "error-position")),
        Ok(position) => Ok(position),
        Err(_) => Err(FormError::keyed("from_position", "error-number")),
    };
    let refusal = match position {
        Err(error) => Refusal::unread(vec![error]),
        Ok(position) => {
            match state
                .app
                .replay_webhook(signed_in.caller(), id, position)
                .await
            {
                Ok(_) => {
                    let shown = Shown {
                        notice_key: Some("webhooks-replaying"),
                        ..Shown::default()
                    };
                    return endpoint_page(&state, &signed_in, id, shown).await;
                }
                Err(error) => {
                    let mut refusal = Refusal::of(error)?;
                    // The app refuses a position only for lying past the log's next one.
                    for error in &mut refusal.errors {
                        if error.field == "from_position" {
                            error.key = Some("error-position-beyond");
                        }
                    }
                    refusal
                }
            }
        }
    };
    let shown = Shown {
        replay: fields,
        refused: Some(refusal),
        ..Shown::default()
    };
    endpoint_page(&state, &signed_in, id, shown).await
}

/// `POST /console/webhooks/{id}/rotate-secret`: a new secret, shown this once; the old one
/// keeps signing for 24 hours.
pub async fn rotate_secret(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    form: SignedForm<ActionForm>,
) -> Result<Response, ConsoleError> {
    let id = endpoint_id(&id)?;
    let rotated = state
        .app
        .rotate_webhook_secret(form.by.caller(), id)
        .await?;
    let shown = Shown {
        secret: Some(SecretShown::of(&rotated, true)),
        ..Shown::default()
    };
    endpoint_page(&state, &form.by, id, shown).await
}

#[derive(Debug, Serialize)]
struct DeletePage {
    endpoint: EndpointShown,
}

/// `GET /console/webhooks/{id}/delete`: asks the admin to confirm, naming the endpoint.
pub async fn confirm_delete(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = endpoint_id(&id)?;
    let endpoint = state.app.webhook(signed_in.caller(), id).await?;
    render_page(
        &state,
        StatusCode::OK,
        "webhook_delete.html",
        &signed_in.chrome("webhooks"),
        DeletePage {
            endpoint: endpoint.into(),
        },
    )
}

/// `POST /console/webhooks/{id}/delete`: the endpoint, its cursor and its log are removed.
pub async fn delete(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    form: SignedForm<ActionForm>,
) -> Result<Response, ConsoleError> {
    let id = endpoint_id(&id)?;
    state.app.delete_webhook(form.by.caller(), id).await?;
    webhooks_page(
        &state,
        &form.by,
        NewEndpointForm::default(),
        None,
        Some("webhooks-deleted"),
    )
    .await
}
