//! HTTP metrics for Prometheus: request counts and latencies per route, method and status.
//!
//! The recorder itself is installed by the binary; this module only emits through the
//! `metrics` facade and renders what the recorder holds.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Records one request's latency and outcome.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("caseledger_http_requests_total", &labels).increment(1);
    metrics::histogram!("caseledger_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
