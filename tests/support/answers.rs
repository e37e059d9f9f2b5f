//! Checks of the service's answers: [`expect_status`] reads a body after checking its status,
//! and the RFC 9457 problem checks ([`assert_problem`] and the 409/422 variants) hold the shape
//! every error response must have. They own no assertion about behaviour beyond that shape.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Reads the body as JSON after checking the status; the message shows the body on failure.
pub async fn expect_status(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let url = response.url().clone();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status from {url}; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("the body from {url} is not JSON ({error}): {text}"))
    }
}

/// Checks that `response` is an RFC 9457 problem with `status`; returns the problem.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let url = response.url().clone();
    let problem = expect_status(response, status).await;
    assert_eq!(
        content_type, "application/problem+json",
        "the error from {url} is not problem+json: {problem}"
    );
    check_problem_shape(&problem, status);
    problem
}

/// The fields every problem has.
pub fn check_problem_shape(problem: &Value, status: StatusCode) {
    assert!(
        problem["type"].is_string(),
        "problem without type: {problem}"
    );
    assert!(
        problem["title"].is_string(),
        "problem without title: {problem}"
    );
    assert!(
        problem["detail"].is_string(),
        "problem without detail: {problem}"
    );
    assert_eq!(
        problem["status"].as_u64(),
        Some(u64::from(status.as_u16())),
        "problem with the wrong status: {problem}"
    );
}

/// Checks a 409 problem names `rule`.
pub async fn assert_conflict(response: Response, rule: &str) -> Value {
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert_eq!(
        problem["rule"], rule,
        "a 409 naming the wrong rule: {problem}"
    );
    problem
}

/// Checks a 422 problem names `field` among its errors.
pub async fn assert_invalid_field(response: Response, field: &str) -> Value {
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        names_field(&problem, field),
        "a 422 that does not name {field}: {problem}"
    );
    problem
}

/// Whether a problem's `errors` name `field`.
pub fn names_field(problem: &Value, field: &str) -> bool {
    problem["errors"]
        .as_array()
        .is_some_and(|errors| errors.iter().any(|error| error["field"] == field))
}
