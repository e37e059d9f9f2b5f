//! The routes, one module per resource. Each module's `routes()` registers its handlers with
//! `utoipa_axum::routes!`, so a route's path and method are written once, in the handler's
//! `#[utoipa::path]`, and the router and the OpenAPI document both read them from there.

pub mod admin;
pub mod attachments;
pub mod audit;
pub mod cases;
pub mod commands;
pub mod docs;
pub mod events;
pub mod feed;
pub mod proofs;
pub mod system;
pub mod tokens;
pub mod users;
pub mod webhooks;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every route of the API, with its OpenAPI operation.
pub fn all() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(system::routes())
        .merge(docs::routes())
        .merge(tokens::routes())
        .merge(users::routes())
        .merge(cases::routes())
        .merge(commands::routes())
        .merge(attachments::routes())
        .merge(events::routes())
        .merge(audit::routes())
        .merge(proofs::routes())
        .merge(admin::routes())
        .merge(webhooks::routes())
        .merge(feed::routes())
}
