//! Concurrent writers and retries over HTTP: `If-Match` lets exactly one of several racing
//! writers through (the rest get 412); commands without `If-Match` all land, each with its own
//! version; an `Idempotency-Key` (per token) returns the first answer again and appends once,
//! and the same key with another body is a 422.

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::header::{ETAG, IF_MATCH};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::support::{assert_problem, expect_status, spawn_app, valid_case_body, TestApp};

async fn note(
    app: &TestApp,
    case: Uuid,
    token: &str,
    text: &str,
    if_match: Option<&str>,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .request(
            Method::POST,
            &format!("/v1/cases/{case}/notes"),
            Some(token),
        )
        .json(&json!({"text": text}));
    if let Some(if_match) = if_match {
        request = request.header(IF_MATCH, if_match);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn history_len(app: &TestApp, case: Uuid) -> usize {
    let history = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &app.admin_token)
            .await,
        StatusCode::OK,
    )
    .await;
    history["events"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_if_match_writers_let_exactly_one_through() {
    let app = Arc::new(spawn_app().await);
    let officer = app.token("officer", None).await;
    let case = app.open_valid_case(&officer).await;
    for round in 0..3 {
        let version = format!("\"{}\"", round + 1);
        let mut writers = JoinSet::new();
        for writer in 0..8 {
            let app = app.clone();
            let officer = officer.clone();
            let version = version.clone();
            writers.spawn(async move {
                let response = note(
                    &app,
                    case,
                    &officer,
                    &format!("writer {writer}"),
                    Some(&version),
                    None,
                )
                .await;
                let status = response.status();
                let tag = response
                    .headers()
                    .get(ETAG)
                    .map(|value| value.to_str().unwrap().to_owned());
                let body = response.text().await.unwrap();
                (status, tag, body)
            });
        }
        let mut winners = 0;
        let mut losers = 0;
        while let Some(result) = writers.join_next().await {
            let (status, tag, body) = result.unwrap();
            match status {
                StatusCode::OK => {
                    winners += 1;
                    assert_eq!(tag.as_deref(), Some(format!("\"{}\"", round + 2).as_str()));
                }
                StatusCode::PRECONDITION_FAILED => {
                    losers += 1;
                    let problem: Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(problem["status"], 412);
                }
                other => panic!("a racing writer got {other}: {body}"),
            }
        }
        assert_eq!((winners, losers), (1, 7), "round {round}");
    }
    assert_eq!(history_len(&app, case).await, 4);
    // A stale If-Match after the race is a 412 too; the current one works.
    assert_problem(
        note(&app, case, &officer, "stale", Some("\"1\""), None).await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    expect_status(
        note(&app, case, &officer, "current", Some("\"4\""), None).await,
        StatusCode::OK,
    )
    .await;
    // Weak ETags name the same version.
    expect_status(
        note(&app, case, &officer, "weak", Some("W/\"5\""), None).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_without_if_match_all_land_with_distinct_versions() {
    let app = Arc::new(spawn_app().await);
    let officer = app.token("officer", None).await;
    let case = app.open_valid_case(&officer).await;
    let mut writers = JoinSet::new();
    for writer in 0..32 {
        let app = app.clone();
        let officer = officer.clone();
        writers.spawn(async move {
            let response = note(
                &app,
                case,
                &officer,
                &format!("writer {writer}"),
                None,
                None,
            )
            .await;
            expect_status(response, StatusCode::OK).await
        });
    }
    let mut versions = BTreeSet::new();
    let mut positions = BTreeSet::new();
    while let Some(result) = writers.join_next().await {
        let body = result.unwrap();
        versions.insert(body["version"].as_u64().unwrap());
        positions.insert(body["position"].as_u64().unwrap());
    }
    assert_eq!(versions, (2..=33).collect::<BTreeSet<u64>>());
    assert_eq!(positions.len(), 32);
    assert_eq!(history_len(&app, case).await, 33);
    let view = app.case(case, &officer).await;
    assert_eq!(view["version"], 33);
    assert_eq!(view["notes"].as_array().unwrap().len(), 32);
}

#[tokio::test]
async fn an_idempotent_retry_returns_the_first_answer_and_appends_once() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let other_officer = app.token("officer", None).await;
    let case = app.open_valid_case(&officer).await;

    let first = expect_status(
        note(&app, case, &officer, "once", None, Some("key-1")).await,
        StatusCode::OK,
    )
    .await;
    let retry = expect_status(
        note(&app, case, &officer, "once", None, Some("key-1")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first, retry);
    assert_eq!(first["version"], 2);
    assert_eq!(history_len(&app, case).await, 2);

    // Another write in between does not change the remembered answer.
    expect_status(
        note(&app, case, &officer, "other", None, None).await,
        StatusCode::OK,
    )
    .await;
    let late_retry = expect_status(
        note(&app, case, &officer, "once", None, Some("key-1")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(late_retry, first);
    assert_eq!(history_len(&app, case).await, 3);

    // The same key with another body is refused and appends nothing.
    let problem = assert_problem(
        note(&app, case, &officer, "twice", None, Some("key-1")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        crate::support::names_field(&problem, "Idempotency-Key"),
        "{problem}"
    );
    // So is the same key on another command of the same case.
    let response = app
        .request(
            Method::POST,
            &format!("/v1/cases/{case}/findings"),
            Some(&officer),
        )
        .header("Idempotency-Key", "key-1")
        .json(&json!({"summary": "once"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        crate::support::names_field(&problem, "Idempotency-Key"),
        "{problem}"
    );
    assert_eq!(history_len(&app, case).await, 3);

    // Keys are per token: another token's identical request is its own and appends.
    let theirs = expect_status(
        note(&app, case, &other_officer, "once", None, Some("key-1")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(theirs["version"], 4);
    assert_eq!(history_len(&app, case).await, 4);
}

#[tokio::test]
async fn opening_a_case_is_idempotent_too() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let open = |key: &'static str, body: Value| {
        app.request(Method::POST, "/v1/cases", Some(&officer))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first_response = open("open-1", valid_case_body()).await.unwrap();
    let location = first_response.headers()["location"].clone();
    let first = expect_status(first_response, StatusCode::CREATED).await;
    let retry_response = open("open-1", valid_case_body()).await.unwrap();
    assert_eq!(retry_response.headers()["location"], location);
    let retry = expect_status(retry_response, StatusCode::CREATED).await;
    assert_eq!(first, retry);
    let mut changed = valid_case_body();
    changed["title"] = json!("Another title");
    assert_problem(
        open("open-1", changed).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(app.all_events().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_key_append_once() {
    let app = Arc::new(spawn_app().await);
    let officer = app.token("officer", None).await;
    let case = app.open_valid_case(&officer).await;
    let mut retries = JoinSet::new();
    for _ in 0..8 {
        let app = app.clone();
        let officer = officer.clone();
        retries.spawn(async move {
            let response = note(&app, case, &officer, "same", None, Some("racing-key")).await;
            expect_status(response, StatusCode::OK).await
        });
    }
    let mut answers = Vec::new();
    while let Some(result) = retries.join_next().await {
        answers.push(result.unwrap());
    }
    assert!(
        answers.iter().all(|answer| *answer == answers[0]),
        "{answers:?}"
    );
    assert_eq!(history_len(&app, case).await, 2);

    let mut opens = JoinSet::new();
    for _ in 0..8 {
        let app = app.clone();
        let officer = officer.clone();
        opens.spawn(async move {
            let response = app
                .request(Method::POST, "/v1/cases", Some(&officer))
                .header("Idempotency-Key", "racing-open")
                .json(&valid_case_body())
                .send()
                .await
                .unwrap();
            expect_status(response, StatusCode::CREATED).await
        });
    }
    let mut answers = Vec::new();
    while let Some(result) = opens.join_next().await {
        answers.push(result.unwrap());
    }
    assert!(
        answers.iter().all(|answer| *answer == answers[0]),
        "{answers:?}"
    );
    let opened = answers[0]["case_id"].as_str().unwrap();
    expect_status(
        app.get(&format!("/v1/cases/{opened}"), &officer).await,
        StatusCode::OK,
    )
    .await;
    // Two cases in all: the first one and the one opened by the racing key.
    let opened_events = app
        .all_events()
        .await
        .into_iter()
        .filter(|event| event["type"] == "CaseOpened")
        .count();
    assert_eq!(opened_events, 2);
}
