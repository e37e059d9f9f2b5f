//! `/v1/webhooks`: partner departments' webhook endpoints (admins), contract §7.
//!
//! Request and response bodies live here, beside their handlers: the secret appears only in
//! the answers to creation and rotation. Messages themselves are described in `routes/feed.rs`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use caseledger_app::webhooks::{
    AttemptOutcome, DeliveryAttempt, EndpointView, EndpointWithSecret, NewEndpoint,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, CommandProblems, ReadProblems};
use crate::extract::{ApiJson, Authenticated};
use crate::state::AppState;

/// The webhook routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(replay_webhook))
        .routes(routes!(resume_webhook))
        .routes(routes!(rotate_secret))
}

/// `POST /v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to POST messages: `http` or `https` (only `https` when the service runs with
    /// `--webhook-require-https`), with a host, without credentials, at most 2,048 bytes. A
    /// host that is an internal IP literal (loopback, private, link-local, CGNAT, unspecified,
    /// multicast, reserved) is refused with a 422 naming `url` unless `--webhook-allow-cidr`
    /// lists it; a host name is checked each time a delivery resolves it.
    #[schema(max_length = 2048)]
    pub url: String,
    /// The partner department whose feed the endpoint receives.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub department: String,
    /// The message types to receive (`case.<EventType>`, `audit.checkpoint`); every type when
    /// left out. Audit checkpoints are delivered whatever the filter.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// A note for admins, at most 500 characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /v1/webhooks/{webhook_id}/replay`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Deliver the endpoint's feed again from this log position on (0 or 1: from the start).
    pub from_position: u64,
}

/// A webhook endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    /// The endpoint's id.
    pub id: Uuid,
    /// The signing secret (`whsec_` + base64): only in the answers to creation and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Where messages go.
    pub url: String,
    /// Whose feed it receives.
    pub department: String,
    /// The message types it receives; null for every type.
    pub event_types: Option<Vec<String>>,
    /// The admins' note.
    pub description: Option<String>,
    /// `active`, or `failing` once the retry schedule was spent on a message (delivery is
    /// paused there until `resume` or `replay`).
    pub status: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// The log position delivery has passed: every message at or before it was delivered (or
    /// filtered out).
    pub delivered_through: u64,
    /// Failed attempts at the next message.
    pub failed_attempts: u32,
    /// When the next attempt is due, while retrying.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last failure, while retrying or failing.
    pub last_error: Option<String>,
}

impl WebhookResponse {
    fn new(view: EndpointView, secret: Option<String>) -> WebhookResponse {
        WebhookResponse {
            id: view.id,
            secret,
            url: view.url,
            department: view.department.as_str().to_owned(),
            event_types: view.event_types,
            description: view.description,
            status: view.status.as_str().to_owned(),
            created_at: view.created_at,
            delivered_through: view.delivered_through,
            failed_attempts: view.failed_attempts,
            next_attempt_at: view.next_attempt_at,
            last_error: view.last_error,
        }
    }

    fn with_secret(created: EndpointWithSecret) -> WebhookResponse {
        WebhookResponse::new(created.endpoint, Some(created.secret.expose()))
    }
}

/// `GET /v1/webhooks`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookListResponse {
    /// Every endpoint, oldest first, without secrets.
    pub items: Vec<WebhookResponse>,
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttemptResponse {
    /// When the attempt was made.
    pub at: DateTime<Utc>,
    /// The message's `webhook-id`.
    pub webhook_id: String,
    /// The message type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The log position the message is about.
    pub position: u64,
    /// Which attempt at this message, from 1.
    pub attempt: u32,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// How long the request took.
    pub latency_ms: u64,
    /// Why it failed, in generic words: `HTTP <status>` (never the receiver's answer text), a
    /// timeout, a network error, or a refusal to reach an internal address.
    pub error: Option<String>,
    /// `delivered` (2xx) or `failed`.
    pub outcome: String,
}

impl From<DeliveryAttempt> for DeliveryAttemptResponse {
    fn from(attempt: DeliveryAttempt) -> Self {
        DeliveryAttemptResponse {
            at: attempt.at,
            webhook_id: attempt.webhook_id,
            kind: attempt.kind,
            position: attempt.position,
            attempt: attempt.attempt,
            status_code: attempt.status_code,
            latency_ms: attempt.latency_ms,
            error: attempt.error,
            outcome: match attempt.outcome {
                AttemptOutcome::Delivered => "delivered",
                AttemptOutcome::Failed => "failed",
            }
            .to_owned(),
        }
    }
}

/// `GET /v1/webhooks/{webhook_id}/deliveries`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesResponse {
    /// The last 1,000 attempts, newest first.
    pub items: Vec<DeliveryAttemptResponse>,
}

fn webhook_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::not_found("webhook"))
}

/// Registers a webhook endpoint for a partner department. The answer holds the signing secret;
/// it is not shown again. The endpoint receives the department's feed from now on (see
/// `GET /v1/feed`): events of the cases shared with the department, from the event that shares
/// each case on, without complainants' personal data, and every audit checkpoint, signed as
/// the Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`). Use `replay` to receive earlier messages. Deliveries never reach an
/// internal address unless the service allows its range (`--webhook-allow-cidr`): an internal
/// IP literal is refused here (422 naming `url`), a name resolving to one at each delivery
/// (a failed attempt); redirects are not followed.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhookRequest,
    responses((status = 201, description = "Registered; `secret` is shown this once.", body = WebhookResponse), CommandProblems))]
pub async fn create_webhook(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: ApiJson<CreateWebhookRequest>,
) -> Result<(StatusCode, Json<WebhookResponse>), ApiError> {
    let request = request.value;
    let created = state
        .app
        .create_webhook(
            &caller,
            NewEndpoint {
                url: request.url,
                department: request.department,
                event_types: request.event_types,
                description: request.description,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookResponse::with_secret(created)),
    ))
}

/// Lists every webhook endpoint with its delivery status, without secrets.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, description = "Every endpoint.", body = WebhookListResponse), ReadProblems))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<WebhookListResponse>, ApiError> {
    let items = state
        .app
        .list_webhooks(&caller)
        .await?
        .into_iter()
        .map(|view| WebhookResponse::new(view, None))
        .collect();
    Ok(Json(WebhookListResponse { items }))
}

/// One webhook endpoint with its delivery status, without its secret.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "The endpoint.", body = WebhookResponse), ReadProblems))]
pub async fn get_webhook(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<WebhookResponse>, ApiError> {
    let view = state.app.webhook(&caller, webhook_id(&id)?).await?;
    Ok(Json(WebhookResponse::new(view, None)))
}

/// Removes a webhook endpoint, its cursor and its delivery log; nothing more is sent to it.
///
/// Roles: admin.
#[utoipa::path(delete, path = "/v1/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "Removed; the endpoint as it was.", body = WebhookResponse), ReadProblems))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<WebhookResponse>, ApiError> {
    let view = state.app.delete_webhook(&caller, webhook_id(&id)?).await?;
    Ok(Json(WebhookResponse::new(view, None)))
}

/// Every delivery attempt of the endpoint (time, `webhook-id`, position, status code, latency,
/// error), newest first; the last 1,000 are kept.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "The attempts.", body = DeliveriesResponse), ReadProblems))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<DeliveriesResponse>, ApiError> {
    let items = state
        .app
        .webhook_deliveries(&caller, webhook_id(&id)?)
        .await?
        .into_iter()
        .map(DeliveryAttemptResponse::from)
        .collect();
    Ok(Json(DeliveriesResponse { items }))
}

/// Delivers the endpoint's feed again from a log position on (each message with its original
/// `webhook-id`), and makes a failing endpoint active.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    request_body = ReplayRequest,
    responses((status = 200, description = "Replaying.", body = WebhookResponse), CommandProblems))]
pub async fn replay_webhook(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    request: ApiJson<ReplayRequest>,
) -> Result<Json<WebhookResponse>, ApiError> {
    let id = webhook_id(&id)?;
    let view = state
        .app
        .replay_webhook(&caller, id, request.value.from_position)
        .await?;
    Ok(Json(WebhookResponse::new(view, None)))
}

/// Resumes a failing endpoint: the message it was paused at is tried again at once, with a
/// fresh retry schedule.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/resume", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "Resumed.", body = WebhookResponse), ReadProblems))]
pub async fn resume_webhook(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<WebhookResponse>, ApiError> {
    let view = state.app.resume_webhook(&caller, webhook_id(&id)?).await?;
    Ok(Json(WebhookResponse::new(view, None)))
}

/// Gives the endpoint a new signing secret, shown in this answer only. The old secret keeps
/// signing for 24 hours: meanwhile `webhook-signature` holds both signatures, space-separated.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "Rotated; `secret` is the new secret, shown this once.", body = WebhookResponse), ReadProblems))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<WebhookResponse>, ApiError> {
    let rotated = state
        .app
        .rotate_webhook_secret(&caller, webhook_id(&id)?)
        .await?;
    Ok(Json(WebhookResponse::with_secret(rotated)))
}
