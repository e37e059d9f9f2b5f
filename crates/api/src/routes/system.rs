//! Liveness, readiness, metrics and the OpenAPI document (built with the router, which hands
//! it to [`openapi`] as a request extension).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::openapi::OpenApi;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// The system routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, or what is not ready.
    pub status: String,
    /// The log's durable head position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<u64>,
    /// `/readyz` only: what operators should act on though the service is ready — the
    /// working-day calendar lacks this year's official notice, or, from 1 December (in the
    /// service's time zone), next year's. Left out when there is nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "The process is up.", body = HealthResponse)))]
pub async fn healthz() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        head: None,
        warnings: Vec::new(),
    })
}

/// The store is open and serving; reports the log's durable head.
///
/// Ready or not, `warnings` names what operators should act on without taking the service out
/// of rotation: a year the working-day calendar has no official notice for (this year, or
/// from 1 December the next), whose deadlines are counted provisionally.
///
/// Not ready (503, with `Retry-After`) while the store cannot be reached (the database is down
/// or restarting; on the embedded store, after a failed write stopped it), so that a load
/// balancer stops routing here, and while the case lists are still catching up with the log
/// as it stood when the service started — after an upgrade that rebuilds them, say.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses(
        (status = 200, description = "Ready to serve.", body = HealthResponse),
        (status = 503, description = "The store cannot be reached, or the case lists are still catching up.", body = HealthResponse,
            headers(("Retry-After" = u64, description = "Seconds after which to ask again.")))))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let head = Some(state.app.head().position.0);
    let warnings = state.app.readiness_warnings();
    if let Err(caseledger_app::AppError::Unavailable {
        reason,
        retry_after_seconds,
    }) = state.app.check_store().await
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, retry_after_seconds.to_string())],
            Json(HealthResponse {
                status: format!("unavailable: {reason}"),
                head,
                warnings,
            }),
        )
            .into_response();
    }
    if state.app.is_ready() {
        (
            StatusCode::OK,
            Json(HealthResponse {
                status: "ok".into(),
                head,
                warnings,
            }),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1".to_owned())],
            Json(HealthResponse {
                status: "catching up: the case lists are being built from the log".into(),
                head,
                warnings,
            }),
        )
            .into_response()
    }
}

/// Prometheus metrics, text exposition format. When the service runs with
/// `--metrics-token-file`, the request must carry `Authorization: Bearer <that token>` (not an
/// API token); without it, or with another, the answer is 401.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "Prometheus text format.", content_type = "text/plain", body = String),
        (status = 401, description = "The service requires a metrics token and the request did not carry it.", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(expected) = &state.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        if !presented.is_some_and(|token| expected.matches(token)) {
            return Err(ApiError::unauthorized(
                "/metrics needs the metrics token as `Authorization: Bearer <token>`",
            ));
        }
    }
    let head = state.app.head().position.0;
    let mut text = state
        .metrics
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    text.push_str(&format!(
        "# HELP caseledger_log_head_position The durable head of the event log.\n\
         # TYPE caseledger_log_head_position gauge\n\
         caseledger_log_head_position {head}\n"
    ));
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI document.", body = Object)))]
pub async fn openapi(Extension(document): Extension<Arc<OpenApi>>) -> Response {
    Json(&*document).into_response()
}
