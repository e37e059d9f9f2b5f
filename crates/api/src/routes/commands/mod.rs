//! The case commands, each `POST /v1/cases/{id}/<command>` — the handlers, and the request
//! types and the answer they share.

pub mod handlers;
pub mod wire;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The command routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(handlers::assign_officer))
        .routes(routes!(handlers::record_finding))
        .routes(routes!(handlers::issue_letter))
        .routes(routes!(handlers::answer_letter))
        .routes(routes!(handlers::serve_letter))
        .routes(routes!(handlers::record_follow_up))
        .routes(routes!(handlers::approve_letter))
        .routes(routes!(handlers::return_letter))
        .routes(routes!(handlers::escalate_case))
        .routes(routes!(handlers::refer_case))
        .routes(routes!(handlers::record_feedback))
        .routes(routes!(handlers::add_note))
        .routes(routes!(handlers::close_case))
        .routes(routes!(handlers::reopen_case))
        .routes(routes!(handlers::erase_personal_data))
}
