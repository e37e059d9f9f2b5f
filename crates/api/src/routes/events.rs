//! `/v1/events`: the global log in position order (auditors and admins), and the event
//! envelope as every route that serves events shows it ([`Envelope`], documented by
//! [`EnvelopeSchema`]).

use axum::extract::State;
use axum::Json;
use caseledger_app::{Recorded, StoredEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, ReadProblems};
use crate::extract::{ApiQuery, Authenticated};
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The event routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list_events))
}

/// Who ran a command, as an envelope records it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorSchema {
    /// The token used; null for the service itself.
    pub token_id: Option<Uuid>,
    /// The token's name, or `system`.
    pub name: String,
    /// The role, or `system`.
    pub role: String,
    /// A partner's department.
    pub department: Option<String>,
}

/// An event envelope of the hash-chained log (contract §5). `data` depends on `type`;
/// complainants' personal data appears only sealed (`{"sealed":"<base64>"}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvelopeSchema {
    /// The event id (UUID v7).
    pub id: Uuid,
    /// Global position, from 1, without gaps.
    pub position: u64,
    /// The case.
    pub case_id: Uuid,
    /// The case's version after this event.
    pub version: u64,
    /// The event type, e.g. `SupervisionLetterIssued`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: ActorSchema,
    /// The event's data.
    pub data: serde_json::Value,
    /// The previous envelope's hash (64 zeros for position 1).
    pub prev_hash: String,
    /// `hex(SHA-256(prev_hash + "\n" + RFC 8785 canonical JSON of this envelope without "hash"))`.
    pub hash: String,
}

/// An envelope as served: the stored event in the log's envelope, unchanged.
pub type Envelope = Recorded<StoredEvent>;

/// `GET /v1/events`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsResponse {
    /// Events in position order.
    #[schema(value_type = Vec<EnvelopeSchema>)]
    pub events: Vec<Envelope>,
    /// The last position of this page, to pass as `after` for the next; null when the page is
    /// empty (keep the same `after` and poll again).
    pub next_after: Option<u64>,
}

/// Paging through the log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Return events after this position (0 = from the start).
    #[serde(default)]
    pub after: Option<u64>,
    /// At most this many (1–1000, default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The global event log, in position order.
///
/// Roles: auditor, admin.
#[utoipa::path(get, path = "/v1/events", tag = "audit", security(("bearer" = [])),
    params(EventsQuery),
    responses((status = 200, description = "A page of the log.", body = EventsResponse), ReadProblems))]
pub async fn list_events(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<EventsResponse>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(
            format!("limit must be between 1 and {MAX_LIMIT}"),
            Some(("limit", format!("must be between 1 and {MAX_LIMIT}"))),
        ));
    }
    let events = state
        .app
        .events(&caller, query.after.unwrap_or(0), limit)
        .await?;
    let next_after = events.last().map(|event| event.position.0);
    Ok(Json(EventsResponse { events, next_after }))
}
