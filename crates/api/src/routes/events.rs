//! `/v1/events`: the global log in position order (auditors and admins).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::{ApiQuery, Authenticated};
use crate::openapi::ReadProblems;
use crate::types::EventsResponse;
use crate::AppState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The event routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", get(list_events))
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
