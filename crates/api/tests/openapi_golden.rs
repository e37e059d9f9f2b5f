//! The OpenAPI document is pinned: `/openapi.json` serves exactly the bytes of
//! `tests/golden/openapi.json`, so a refactor of the routes or the wire types cannot change the
//! published API unnoticed.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on purpose; an unwrap is an assertion here"
)]

/// The committed copy of the document, byte for byte as the service serves it.
const GOLDEN: &str = include_str!("golden/openapi.json");

#[test]
fn the_document_is_the_committed_copy() {
    // `/openapi.json` answers with `axum::Json` of this document: compact serde_json.
    let served = serde_json::to_string(&caseledger_api::openapi_document()).unwrap();
    if served != GOLDEN {
        let first_difference = served
            .bytes()
            .zip(GOLDEN.bytes())
            .position(|(served, golden)| served != golden)
            .unwrap_or(served.len().min(GOLDEN.len()));
        let around = |text: &str| {
            let start = first_difference.saturating_sub(80);
            let end = (first_difference + 80).min(text.len());
            text.get(start..end).unwrap_or_default().to_owned()
        };
        panic!(
            "the OpenAPI document differs from crates/api/tests/golden/openapi.json at byte \
             {first_difference}:\n  served: …{}…\n  golden: …{}…\n\
             A deliberate API change updates the copy in the same commit (write the served \
             document, e.g. `curl -s http://HOST/openapi.json > crates/api/tests/golden/openapi.json`, \
             and review the diff); anything else is an accidental change of the published API.",
            around(&served),
            around(GOLDEN),
        );
    }
}
