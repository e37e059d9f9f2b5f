//! The OpenAPI 3.1 document, generated from the handlers and wire types.
//!
//! Every route the router serves is listed here; a test checks that the two agree.

use std::collections::BTreeMap;

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, Response, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi};

use crate::error::{Problem, ProblemField};
use crate::routes;
use crate::types::*;

/// The API's OpenAPI document.
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
    paths(
        routes::system::healthz,
        routes::system::readyz,
        routes::system::metrics,
        routes::system::openapi,
        crate::docs::docs_page,
        routes::tokens::create_token,
        routes::tokens::list_tokens,
        routes::tokens::revoke_token,
        routes::cases::open_case,
        routes::cases::get_case,
        routes::cases::case_history,
        routes::cases::list_cases,
        routes::cases::case_stats,
        routes::commands::assign_officer,
        routes::commands::record_finding,
        routes::commands::issue_letter,
        routes::commands::answer_letter,
        routes::commands::escalate_case,
        routes::commands::refer_case,
        routes::commands::record_feedback,
        routes::commands::add_note,
        routes::commands::close_case,
        routes::commands::reopen_case,
        routes::commands::erase_personal_data,
        routes::events::list_events,
        routes::audit::verify_log,
        routes::audit::export_log,
        routes::audit::list_checkpoints,
        routes::audit::public_key,
        routes::audit::replay_case,
        routes::admin::backup,
        routes::admin::list_erasures,
        routes::webhooks::create_webhook,
        routes::webhooks::list_webhooks,
        routes::webhooks::get_webhook,
        routes::webhooks::delete_webhook,
        routes::webhooks::list_deliveries,
        routes::webhooks::replay_webhook,
        routes::webhooks::resume_webhook,
        routes::webhooks::rotate_secret,
        routes::feed::read_feed,
    ),
    components(schemas(Problem, ProblemField, EnvelopeSchema, ActorSchema)),
    modifiers(&BearerAuth),
    tags(
        (name = "cases", description = "Opening and reading cases."),
        (name = "commands", description = "Everything that changes a case; each appends events to the log."),
        (name = "tokens", description = "API tokens (admins)."),
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

fn problem_responses(statuses: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// The problems a read can answer.
#[derive(Debug)]
pub struct ReadProblems;

impl IntoResponses for ReadProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problem_responses(&[
            (
                400,
                "A query parameter is malformed (the parameter is named).",
            ),
            (401, "No token, or an unknown or revoked one."),
            (403, "The token's role may not do this."),
            (404, "No such thing, or not visible to this token."),
            (
                429,
                "The token (or, without a valid token, the client address) is over its rate, or \
                 runs as many whole-log reads (verify, export, statistics) as it may at once; \
                 see `Retry-After`.",
            ),
            (
                503,
                "`min_position` not reached in time, a search over its time budget, or the store \
                 cannot be reached right now (the database is restarting); see `Retry-After`.",
            ),
        ])
    }
}

/// The problems a command can answer.
#[derive(Debug)]
pub struct CommandProblems;

impl IntoResponses for CommandProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problem_responses(&[
            (400, "Malformed JSON, wrong content type or a bad header."),
            (401, "No token, or an unknown or revoked one."),
            (403, "The token's role may not do this."),
            (404, "No such case or letter, or not visible to this token."),
            (409, "Not allowed in the case's current state; `rule` names the broken rule."),
            (412, "`If-Match` names a version the case has moved on from."),
            (413, "The body is over the size limit."),
            (422, "Invalid fields (each one named in `errors`), or an idempotency key reused with another body."),
            (429, "The token (or, without a valid token, the client address) is over its rate; see `Retry-After`."),
            (503, "The service cannot take writes now (the store cannot be reached, or it stopped, or its disk is nearly full); see `Retry-After`."),
        ])
    }
}

/// The problems a case list can answer: those of a read, and 422 for a search text over its
/// limits (`q`).
#[derive(Debug)]
pub struct ListProblems;

impl IntoResponses for ListProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = ReadProblems::responses();
        responses.extend(problem_responses(&[(
            422,
            "`q` has more than 16 distinct terms, or a term of more than 64 characters.",
        )]));
        responses
    }
}

/// The optional headers of every command.
#[derive(Debug)]
pub struct CommandHeaderParams;

impl IntoParams for CommandHeaderParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("If-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "The case version (`ETag`) this command builds on, e.g. `\"3\"`; 412 when the case has moved on.",
                ))
                .schema(Some(pattern_schema(IF_MATCH_PATTERN, None)))
                .build(),
            idempotency_key_param(),
        ]
    }
}

/// An `If-Match` the command extractor accepts: one quoted version number, optionally weak.
const IF_MATCH_PATTERN: &str = r#"^(W/)?"[0-9]{1,19}"$"#;
/// An `Idempotency-Key` the extractor accepts: 1 to 255 visible ASCII characters (spaces only
/// inside, since HTTP trims a header value's ends).
const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]([ -~]{0,253}[!-~])?$";

/// The optional `Idempotency-Key` header, for opening a case.
#[derive(Debug)]
pub struct IdempotencyKeyParam;

impl IntoParams for IdempotencyKeyParam {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![idempotency_key_param()]
    }
}

fn idempotency_key_param() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Repeat-safe retries (per token, kept at least 24 h): the same key and body return the first answer; another body → 422.",
        ))
        .schema(Some(pattern_schema(IDEMPOTENCY_KEY_PATTERN, Some(255))))
        .build()
}

fn pattern_schema(
    pattern: &str,
    max_length: Option<usize>,
) -> RefOr<utoipa::openapi::schema::Schema> {
    RefOr::T(
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(pattern))
            .max_length(max_length)
            .into(),
    )
}
