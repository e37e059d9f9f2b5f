//! The OpenAPI document and the docs page: `/openapi.json` is OpenAPI 3.1 and lists exactly
//! the routes the router serves (checked three ways: against a hard-coded list, against the
//! route definitions in `crates/api/src` — the handlers' `#[utoipa::path]` attributes, from
//! which the router routes them, and plain `.route` calls — and against the running router);
//! `/docs` works offline, with only local assets.

use std::collections::BTreeSet;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{expect_status, spawn_app};

/// Every route of the API, from `crates/api/src/routes/` (the handlers' `#[utoipa::path]`, and
/// the docs page's assets).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/docs/swagger-ui-bundle.js"),
    ("get", "/docs/swagger-ui.css"),
    ("get", "/v1/tokens"),
    ("post", "/v1/tokens"),
    ("delete", "/v1/tokens/{token_id}"),
    ("get", "/v1/users"),
    ("post", "/v1/users"),
    ("delete", "/v1/users/{user_id}"),
    ("post", "/v1/users/{user_id}/reset"),
    ("post", "/v1/cases"),
    ("get", "/v1/cases"),
    ("get", "/v1/stats"),
    ("get", "/v1/cases/{id}"),
    ("get", "/v1/cases/{id}/history"),
    ("post", "/v1/cases/{id}/assign"),
    ("post", "/v1/cases/{id}/findings"),
    ("post", "/v1/cases/{id}/letters"),
    ("post", "/v1/cases/{id}/letters/{letter_id}/response"),
    ("post", "/v1/cases/{id}/letters/{letter_id}/service"),
    ("post", "/v1/cases/{id}/letters/{letter_id}/follow-up"),
    ("get", "/v1/cases/{id}/letters/{letter_id}/document"),
    ("post", "/v1/cases/{id}/letters/{letter_id}/approve"),
    ("post", "/v1/cases/{id}/letters/{letter_id}/return"),
    ("post", "/v1/cases/{id}/escalate"),
    ("post", "/v1/cases/{id}/refer"),
    ("post", "/v1/cases/{id}/feedback"),
    ("post", "/v1/cases/{id}/notes"),
    ("post", "/v1/cases/{id}/close"),
    ("post", "/v1/cases/{id}/reopen"),
    ("post", "/v1/cases/{id}/erase-personal-data"),
    ("get", "/v1/cases/{id}/replay"),
    ("get", "/v1/events"),
    ("get", "/v1/audit/verify"),
    ("get", "/v1/audit/export"),
    ("get", "/v1/audit/checkpoints"),
    ("get", "/v1/audit/public-key"),
    ("get", "/v1/audit/checkpoint"),
    ("get", "/v1/audit/proof/inclusion"),
    ("get", "/v1/audit/proof/consistency"),
    ("post", "/v1/audit/checkpoints/{tree_size}/cosignatures"),
    ("get", "/v1/audit/witnesses"),
    ("post", "/v1/audit/witnesses"),
    ("delete", "/v1/audit/witnesses/{name}"),
    ("get", "/v1/admin/backup"),
    ("get", "/v1/admin/erasures"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/webhooks/{webhook_id}"),
    ("delete", "/v1/webhooks/{webhook_id}"),
    ("get", "/v1/webhooks/{webhook_id}/deliveries"),
    ("post", "/v1/webhooks/{webhook_id}/replay"),
    ("post", "/v1/webhooks/{webhook_id}/resume"),
    ("post", "/v1/webhooks/{webhook_id}/rotate-secret"),
    ("get", "/v1/feed"),
    ("post", "/v1/cases/{id}/attachments"),
    ("get", "/v1/cases/{id}/attachments"),
    ("get", "/v1/cases/{id}/attachments/{attachment_id}"),
    (
        "post",
        "/v1/cases/{id}/attachments/{attachment_id}/withdraw",
    ),
];

/// The static files of the docs page: served by the router, but assets of the page rather
/// than operations of the API, so the document does not list them.
const DOCS_ASSETS: &[&str] = &["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"];

fn documented_routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .filter(|(_, path)| !DOCS_ASSETS.contains(path))
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect()
}

fn spec_routes(spec: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths is an object") {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                routes.insert((method.to_owned(), path.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_exactly_the_served_routes() {
    let app = spawn_app().await;
    let response = app
        .request(Method::GET, "/openapi.json", None)
        .send()
        .await
        .unwrap();
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let spec = expect_status(response, StatusCode::OK).await;
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.1")),
        "openapi = {}",
        spec["openapi"]
    );
    assert!(spec["info"]["title"].is_string());
    assert!(spec["info"]["version"].is_string());

    let expected = documented_routes();
    let listed = spec_routes(&spec);
    let missing: Vec<_> = expected.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&expected).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    assert!(
        extra.is_empty(),
        "documented but not in the route list: {extra:?}"
    );

    // Every operation has responses, every path parameter is declared, and every protected
    // operation names the bearer scheme.
    let open = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"];
    for (method, path) in &listed {
        let operation = &spec["paths"][path][method];
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|responses| !responses.is_empty()),
            "{method} {path} documents no responses"
        );
        let parameters: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .map(|parameters| {
                parameters
                    .iter()
                    .filter(|parameter| parameter["in"] == "path")
                    .map(|parameter| parameter["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let in_template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(parameters, in_template, "{method} {path}: path parameters");
        if !open.contains(&path.as_str()) {
            assert!(
                operation["security"].to_string().contains("bearer"),
                "{method} {path} does not document its bearer auth"
            );
            for status in ["401", "403"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    assert!(spec["components"]["schemas"]["Problem"].is_object());

    // Every reference resolves.
    let mut references = Vec::new();
    collect_references(&spec, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("a non-local reference {reference}"));
        assert!(
            spec.pointer(pointer).is_some(),
            "dangling reference {reference}"
        );
    }
}

fn collect_references(value: &Value, references: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => references.push(reference.clone()),
                    _ => collect_references(value, references),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_references(item, references)),
        _ => {}
    }
}

/// The routes a source file writes, as (method, path): each `#[utoipa::path(method, path =
/// "…")]` of a handler (registered with `utoipa_axum::routes!`, which routes and documents it
/// from that attribute), and each undocumented `.route("path", method(handler)...)` call.
fn routes_in_source(source: &str) -> Vec<(String, String)> {
    let mut routes = documented_routes_in_source(source);
    routes.extend(plain_routes_in_source(source));
    routes
}

/// The arguments of each call that opens with `opening` (which ends in its `(`): the text up
/// to the parenthesis that closes it.
fn calls<'a>(source: &'a str, opening: &str) -> Vec<&'a str> {
    let mut arguments = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find(opening) {
        let call = &rest[start + opening.len()..];
        let mut depth = 1;
        let mut end = call.len();
        for (index, character) in call.char_indices() {
            match character {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = index;
                        break;
                    }
                }
                _ => {}
            }
        }
        arguments.push(&call[..end]);
        rest = &call[end..];
    }
    arguments
}

/// The first string literal of `text`, and what follows it.
fn first_literal(text: &str) -> (&str, &str) {
    let start = text.find('"').expect("a route path literal") + 1;
    let end = start + text[start..].find('"').unwrap();
    (&text[start..end], &text[end + 1..])
}

/// The `#[utoipa::path(method, path = "…", …)]` attributes, as (method, path).
fn documented_routes_in_source(source: &str) -> Vec<(String, String)> {
    calls(source, "#[utoipa::path(")
        .into_iter()
        .map(|arguments| {
            let method = arguments.split(',').next().unwrap().trim().to_owned();
            let after_key = &arguments[arguments.find("path =").expect("a path = \"…\"")..];
            let (path, _) = first_literal(after_key);
            (method, path.to_owned())
        })
        .collect()
}

/// The `.route("path", method(handler)...)` calls, as (method, path).
fn plain_routes_in_source(source: &str) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for arguments in calls(source, ".route(") {
        let (path, handlers) = first_literal(arguments);
        for method in ["get", "post", "put", "delete", "patch"] {
            let pattern = format!("{method}(");
            let found = handlers.match_indices(&pattern).any(|(index, _)| {
                index == 0
                    || !handlers[..index]
                        .chars()
                        .next_back()
                        .is_some_and(|before| before.is_alphanumeric() || before == '_')
            });
            if found {
                routes.push((method.to_owned(), path.to_owned()));
            }
        }
    }
    routes
}

/// Every `.rs` file under `dir`.
fn source_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(source_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_route_list_matches_the_route_definitions() {
    let api = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/api/src");
    let files = source_files(&api);
    let mut defined = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for route in routes_in_source(&source) {
            assert!(defined.insert(route.clone()), "{route:?} defined twice");
        }
    }
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(defined, listed, "update ROUTES when the router changes");
}

#[tokio::test]
async fn every_listed_route_is_served() {
    let app = spawn_app().await;
    let case = app.open_valid_case(&app.admin_token).await;
    let letter = uuid::Uuid::now_v7();
    let (token_id, _) = app.issue_token("auditor", None).await;
    let webhook = crate::support::expect_status(
        app.post(
            "/v1/webhooks",
            &app.admin_token,
            &serde_json::json!({"url": "http://127.0.0.1:9/hook", "department": "hrss"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, template) in ROUTES {
        let path = template
            .replace("{id}", &case.to_string())
            .replace("{letter_id}", &letter.to_string())
            .replace("{token_id}", &token_id.to_string())
            .replace("{webhook_id}", &webhook);
        let method: Method = method.to_uppercase().parse().unwrap();
        let response = app
            .request(method.clone(), &path, Some(&app.admin_token))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {body}"
        );
        assert!(
            !body.contains("no such resource"),
            "{method} {path} fell through to the fallback: {body}"
        );
        assert!(
            !status.is_server_error(),
            "{method} {path}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn the_docs_page_uses_only_local_assets() {
    let app = spawn_app().await;
    let response = app
        .request(Method::GET, "/docs", None)
        .send()
        .await
        .unwrap();
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"),
        "the docs page reaches outside: {page}"
    );
    assert!(
        page.contains("/openapi.json"),
        "the page loads the local document"
    );

    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (index, _) in page.match_indices(attribute) {
            let start = index + attribute.len();
            let end = start + page[start..].find('"').unwrap();
            assets.push(page[start..end].to_owned());
        }
    }
    assert!(
        assets.len() >= 2,
        "the page names its script and style: {assets:?}"
    );
    for asset in assets {
        assert!(asset.starts_with('/'), "{asset} is not a local path");
        let response = app.request(Method::GET, &asset, None).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = if asset.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );
        assert!(
            response.bytes().await.unwrap().len() > 1000,
            "{asset} is empty"
        );
    }
}
