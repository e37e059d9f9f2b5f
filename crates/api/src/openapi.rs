//! The frame of the OpenAPI 3.1 document: its title and description, its tags, the schemas
//! no single route names, and the bearer scheme. The operations come from the routes
//! themselves ([`crate::routes::all`]); [`crate::openapi_document`] puts the two together.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemField};
use crate::routes::events::{ActorSchema, EnvelopeSchema};

/// The frame of the API's OpenAPI document; the routes add their operations and schemas.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "caseledger",
        description = "Case tracking for trade-union rights protection, on an append-only, hash-chained event log.\n\n\
Every endpoint but `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and `/docs` needs `Authorization: Bearer <token>`. \
Errors are RFC 9457 `application/problem+json`. Case responses carry `ETag: \"<version>\"`; commands accept \
`If-Match` (412 when stale) and `Idempotency-Key` (the first answer again on retry; 422 when reused with another body).",
        license(name = "Apache-2.0")
    ),
    components(schemas(Problem, ProblemField, EnvelopeSchema, ActorSchema)),
    modifiers(&BearerAuth),
    tags(
        (name = "cases", description = "Opening and reading cases."),
        (name = "commands", description = "Everything that changes a case; each appends events to the log."),
        (name = "attachments", description = "Files attached to cases as evidence: streamed in, kept encrypted, proved by the SHA-256 in the chain."),
        (name = "tokens", description = "API tokens (admins)."),
        (name = "users", description = "People's accounts for the console, with one-time setup links (admins)."),
        (name = "audit", description = "The hash-chained event log."),
        (name = "webhooks", description = "Webhook feeds for partner departments (Standard Webhooks signatures), and the same feed pulled."),
        (name = "admin", description = "Operations on the whole store (admins)."),
        (name = "system", description = "Health, readiness, metrics and this document."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A caseledger API token (`clt_…`)."))
                    .build(),
            ),
        );
    }
}
