//! `/v1/cases` and `/v1/stats`: opening a case, reading it (now or as it stood), its history,
//! the case list and the statistics — the handlers, and the wire types they read and write.

pub mod handlers;
pub mod wire;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The case routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(handlers::open_case, handlers::list_cases))
        .routes(routes!(handlers::case_stats))
        .routes(routes!(handlers::get_case))
        .routes(routes!(handlers::case_history))
        .routes(routes!(handlers::letter_document))
}
