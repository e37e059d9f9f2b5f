//! The console's routes and the layers every console answer passes through. One module per
//! part of the console; each handler reads its request, calls the app, and renders.

mod attachments;
mod audit;
mod auth;
mod case;
mod cases;
mod dashboard;
mod erasure;
mod feed;
mod queue;
mod render;
mod tokens;
mod users;
mod webhooks;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::error::ConsoleError;
use crate::problems::render_problems;
use crate::state::ConsoleState;

/// How long a console request may take before it is answered 503.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Every console route with its layers.
pub fn routes(state: ConsoleState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(queue::queue))
        .route("/console/cases", get(cases::list).post(cases::open_case))
        .route("/console/cases/new", get(cases::new_case))
        .route("/console/cases/{id}", get(case::show))
        .route(
            "/console/cases/{id}/attachments",
            // The file streams into the store, which keeps to --attachment-max itself.
            post(attachments::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/console/cases/{id}/attachments/{attachment_id}",
            get(attachments::download),
        )
        .route(
            "/console/cases/{id}/attachments/{attachment_id}/withdraw",
            post(attachments::withdraw),
        )
        .route(
            "/console/cases/{id}/erase",
            get(erasure::confirm).post(erasure::erase),
        )
        .route("/console/cases/{id}/{command}", post(case::command))
        .route(
            "/console/cases/{id}/letters/{letter_id}/document",
            get(case::letter_document),
        )
        .route(
            "/console/cases/{id}/letters/{letter_id}/{command}",
            post(case::letter_command),
        )
        .route("/console/dashboard", get(dashboard::show))
        .route("/console/dashboard.csv", get(dashboard::download_csv))
        .route("/console/dashboard.xlsx", get(dashboard::download_xlsx))
        .route("/console/audit", get(audit::home))
        .route("/console/audit/log", get(audit::log))
        .route("/console/audit/cases/{id}/history", get(audit::history))
        .route("/console/audit/cases/{id}/versions", get(audit::versions))
        .route(
            "/console/audit/verify",
            get(audit::verify).post(audit::start_verify),
        )
        .route("/console/audit/verify/status", get(audit::verify_status))
        .route("/console/audit/checkpoints", get(audit::checkpoints))
        .route("/console/audit/export", get(audit::export))
        .route("/console/users", get(users::list).post(users::create))
        .route("/console/users/{id}/disable", post(users::disable))
        .route("/console/users/{id}/reset", post(users::reset))
        .route("/console/tokens", get(tokens::list).post(tokens::create))
        .route(
            "/console/tokens/{id}/revoke",
            get(tokens::confirm_revoke).post(tokens::revoke),
        )
        .route(
            "/console/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/console/webhooks/{id}", get(webhooks::show))
        .route("/console/webhooks/{id}/resume", post(webhooks::resume))
        .route("/console/webhooks/{id}/replay", post(webhooks::replay))
        .route(
            "/console/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/console/webhooks/{id}/delete",
            get(webhooks::confirm_delete).post(webhooks::delete),
        )
        .route("/console/erasures", get(erasure::register))
        .route("/console/feed", get(feed::feed))
        .route(
            "/console/sign-in",
            get(auth::sign_in_page).post(auth::sign_in),
        )
        .route("/console/sign-out", post(auth::sign_out))
        .route(
            "/console/setup/{token}",
            get(auth::setup_page).post(auth::setup),
        )
        .route("/console/language/{tag}", get(auth::switch_language))
        .route("/console/assets/{name}", get(crate::assets::asset))
        .route("/console/{*rest}", get(not_found).post(not_found))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            render_problems,
        ))
        .layer(axum::middleware::from_fn(crate::security::security_headers))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::custom(panic_page))
        .with_state(state)
}

async fn not_found() -> ConsoleError {
    ConsoleError::PageNotFound
}

fn panic_page(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a console handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::response::Html(
            "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>出错了 / Something went wrong</title>\
             <p>出错了，请稍后再试。Something went wrong; please try again. <a href=\"/console/\">caseledger</a></p></html>",
        ),
    )
        .into_response()
}
