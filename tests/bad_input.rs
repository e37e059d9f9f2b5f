//! Bad input of every kind gets the right 4xx as RFC 9457 problem+json naming the field, and
//! never a 500: malformed JSON and wrong content types (400), wrong types, unknown enum values,
//! missing fields, bad check characters, past deadlines and unknown departments (422), bodies
//! over the limit (413), unknown and malformed ids (404), bad headers and query parameters
//! (400), and the supervisor's credit-code override (403 for officers, recorded for
//! supervisors).

use reqwest::header::{CONTENT_TYPE, IF_MATCH};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{
    assert_invalid_field, assert_problem, check_problem_shape, expect_status, names_field,
    spawn_app, valid_case_body, TestApp,
};

/// `valid_case_body` with `pointer` (a JSON pointer) set to `value`, or removed when `None`.
fn case_body_with(pointer: &str, value: Option<Value>) -> Value {
    let mut body = valid_case_body();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = body.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    match value {
        Some(value) => target.insert(key.to_owned(), value),
        None => target.remove(key),
    };
    body
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.request(Method::POST, path, Some(&app.admin_token))
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn unreadable_bodies_are_400_problems() {
    let app = spawn_app().await;
    let case = app.open_valid_case(&app.admin_token).await;
    let note = format!("/v1/cases/{case}/notes");
    for path in ["/v1/cases", note.as_str(), "/v1/tokens", "/v1/users"] {
        for body in ["{\"title\": ", "not json", "", "{\"a\":1}}", "\u{feff}{}"] {
            let response = post_raw(&app, path, "application/json", body).await;
            assert_problem(response, StatusCode::BAD_REQUEST).await;
        }
        // Nested 10,000 deep: well-formed JSON of the wrong shape, refused without a stack
        // overflow.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let response = post_raw(&app, path, "application/json", deep).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        let deep = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        let response = post_raw(&app, path, "application/json", deep).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
            let response = post_raw(&app, path, content_type, valid_case_body().to_string()).await;
            let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
            assert!(names_field(&problem, "Content-Type"), "{problem}");
        }
        // No content type at all.
        let response = app
            .request(Method::POST, path, Some(&app.admin_token))
            .body(valid_case_body().to_string())
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
    // A charset parameter is fine.
    let response = post_raw(
        &app,
        "/v1/cases",
        "application/json; charset=utf-8",
        valid_case_body().to_string(),
    )
    .await;
    expect_status(response, StatusCode::CREATED).await;
}

#[tokio::test]
async fn ill_typed_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    let cases: Vec<(Value, &str)> = vec![
        (case_body_with("/title", Some(json!(5))), "title"),
        (case_body_with("/title", Some(Value::Null)), "title"),
        (
            case_body_with("/category", Some(json!("bogus"))),
            "category",
        ),
        (case_body_with("/source", Some(json!("pigeon"))), "source"),
        (
            case_body_with("/workers_affected", Some(json!(-3))),
            "workers_affected",
        ),
        (
            case_body_with("/workers_affected", Some(json!(1e30))),
            "workers_affected",
        ),
        (
            case_body_with("/workers_affected", Some(json!("forty"))),
            "workers_affected",
        ),
        (case_body_with("/employer", Some(json!("ACME"))), "employer"),
        (
            case_body_with("/employer/name", Some(json!(["ACME"]))),
            "employer.name",
        ),
        (
            case_body_with("/complainant/phone", Some(json!(13912345678_u64))),
            "complainant.phone",
        ),
        (case_body_with("/surprise", Some(json!(true))), "surprise"),
        (case_body_with("/title", None), "title"),
        (case_body_with("/description", None), "description"),
        (case_body_with("/employer/name", None), "employer.name"),
        (case_body_with("/title", Some(json!("   "))), "title"),
        (
            case_body_with("/title", Some(json!("x".repeat(201)))),
            "title",
        ),
        (
            case_body_with("/title", Some(json!("line\nbreak"))),
            "title",
        ),
        (
            case_body_with("/description", Some(json!("nul \u{0} byte"))),
            "description",
        ),
    ];
    for (body, field) in cases {
        let response = app.open_case(&app.admin_token, &body).await;
        assert_invalid_field(response, field).await;
    }
    // The whole body of the wrong shape names the body.
    for body in [json!([1, 2]), json!("case"), json!(null), json!(42)] {
        let response = app.open_case(&app.admin_token, &body).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // Several bad fields are all reported at once.
    let mut body = case_body_with("/title", Some(json!("")));
    body["description"] = json!("");
    body["employer"]["credit_code"] = json!("91310115MA1H8R7C6D");
    body["complainant"]["id_number"] = json!("110105194912310021");
    let problem = assert_problem(
        app.open_case(&app.admin_token, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    for field in [
        "title",
        "description",
        "employer.credit_code",
        "complainant.id_number",
    ] {
        assert!(names_field(&problem, field), "{field} not named: {problem}");
    }
}

#[tokio::test]
async fn check_characters_are_checked() {
    let app = spawn_app().await;
    for code in [
        "91310115MA1H8R7C6D",
        "91350211M0000XUF46",
        "91350100M0001TGQXM",
        "9111000060003734IL",
        "9111000060003734",
        "９１１１００００６０００３７３４１Ｌ",
    ] {
        let response = app
            .open_case(
                &app.admin_token,
                &case_body_with("/employer/credit_code", Some(json!(code))),
            )
            .await;
        assert_invalid_field(response, "employer.credit_code").await;
    }
    for valid in [
        "91110000101623741K",
        "911101066976941872",
        " 91110000-600037341l ",
    ] {
        let response = app
            .open_case(
                &app.admin_token,
                &case_body_with("/employer/credit_code", Some(json!(valid))),
            )
            .await;
        expect_status(response, StatusCode::CREATED).await;
    }
    for id_number in [
        "110105194912310021",
        "110105194902300020",
        "110105190002290025",
        "11010519491231002x0",
        "1101051949123100",
        "99999920991231001X",
    ] {
        let response = app
            .open_case(
                &app.admin_token,
                &case_body_with("/complainant/id_number", Some(json!(id_number))),
            )
            .await;
        assert_invalid_field(response, "complainant.id_number").await;
    }
    for valid in ["360426199101010071", "110105200002290021"] {
        let response = app
            .open_case(
                &app.admin_token,
                &case_body_with("/complainant/id_number", Some(json!(valid))),
            )
            .await;
        expect_status(response, StatusCode::CREATED).await;
    }
}

#[tokio::test]
async fn only_a_supervisor_keeps_a_failing_credit_code_and_the_event_records_it() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let supervisor = app.token("supervisor", None).await;
    let pilot = case_body_with(
        "/employer",
        Some(
            json!({"name": "Xiamen Pilot Co.", "credit_code": "91350211M0000XUF46", "credit_code_unverified": true}),
        ),
    );
    assert_problem(app.open_case(&officer, &pilot).await, StatusCode::FORBIDDEN).await;
    let opened = expect_status(
        app.open_case(&supervisor, &pilot).await,
        StatusCode::CREATED,
    )
    .await;
    let case = opened["case_id"].as_str().unwrap();
    let view = expect_status(
        app.get(&format!("/v1/cases/{case}"), &officer).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["employer"]["credit_code"], "91350211M0000XUF46");
    assert_eq!(view["employer"]["credit_code_unverified"], true);
    let history = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &officer)
            .await,
        StatusCode::OK,
    )
    .await;
    let opened_event = &history["events"][0];
    assert_eq!(opened_event["type"], "CaseOpened");
    assert_eq!(
        opened_event["data"]["employer"]["credit_code_unverified"],
        true
    );
    assert_eq!(opened_event["actor"]["role"], "supervisor");
    // A code that passes its check is verified whatever the client asked for.
    let verified = case_body_with(
        "/employer",
        Some(
            json!({"name": "ACME", "credit_code": "91110000600037341L", "credit_code_unverified": true}),
        ),
    );
    let opened = expect_status(
        app.open_case(&officer, &verified).await,
        StatusCode::CREATED,
    )
    .await;
    let case = opened["case_id"].as_str().unwrap();
    let view = expect_status(
        app.get(&format!("/v1/cases/{case}"), &officer).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["employer"]["credit_code_unverified"], false);
    // Free text is not a code, overridden or not.
    let nonsense = case_body_with(
        "/employer",
        Some(
            json!({"name": "ACME", "credit_code": "not a code; DROP TABLE", "credit_code_unverified": true}),
        ),
    );
    assert_invalid_field(
        app.open_case(&supervisor, &nonsense).await,
        "employer.credit_code",
    )
    .await;
}

#[tokio::test]
async fn command_fields_are_validated() {
    let app = spawn_app().await;
    let token = app.admin_token.clone();
    let case = app.open_valid_case(&token).await;
    let path = |command: &str| format!("/v1/cases/{case}/{command}");
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "letters",
            json!({"kind": "opinion", "recipient": "E", "content": "c", "deadline": past}),
            "deadline",
        ),
        (
            "letters",
            json!({"kind": "opinion", "recipient": "E", "content": "c", "deadline": "tomorrow"}),
            "deadline",
        ),
        (
            "letters",
            json!({"kind": "threat", "recipient": "E", "content": "c"}),
            "kind",
        ),
        (
            "letters",
            json!({"kind": "opinion", "recipient": "E", "content": "c", "department": "hrss"}),
            "department",
        ),
        (
            "letters",
            json!({"kind": "recommendation", "recipient": "E", "content": "c"}),
            "department",
        ),
        (
            "letters",
            json!({"kind": "recommendation", "recipient": "E", "content": "c", "department": "ministry_of_magic"}),
            "department",
        ),
        (
            "letters",
            json!({"kind": "recommendation", "recipient": "E", "content": "c", "department": "Not A Name"}),
            "department",
        ),
        (
            "letters",
            json!({"kind": "opinion", "recipient": "", "content": "c"}),
            "recipient",
        ),
        (
            "refer",
            json!({"department": "ministry_of_magic", "reason": "r"}),
            "department",
        ),
        ("refer", json!({"department": "hrss"}), "reason"),
        (
            "escalate",
            json!({"tier": "six_way", "reason": "r"}),
            "tier",
        ),
        (
            "escalate",
            json!({"tier": "five_way", "departments": ["hrss", "ministry_of_magic"], "reason": "r"}),
            "departments[1]",
        ),
        (
            "escalate",
            json!({"tier": "five_way", "departments": [], "reason": "r"}),
            "departments",
        ),
        (
            "close",
            json!({"outcome": "victory", "summary": "s"}),
            "outcome",
        ),
        (
            "close",
            json!({"outcome": "mediated", "summary": " "}),
            "summary",
        ),
        ("assign", json!({"officer": ""}), "officer"),
        ("assign", json!({"officer": 7}), "officer"),
        (
            "findings",
            json!({"summary": "s", "hazard": {"kind": "dust"}}),
            "hazard",
        ),
        ("notes", json!({"text": "t", "extra": 1}), "extra"),
        ("notes", json!({}), "text"),
        ("reopen", json!({}), "reason"),
    ];
    for (command, body, field) in cases {
        let response = app.post(&path(command), &token, &body).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            names_field(&problem, field),
            "{command} {body}: {field} not named in {problem}"
        );
    }
    // None of those changed the case.
    let view = app.case(case, &token).await;
    assert_eq!(view["version"], 1);
    // An unknown letter id, well-formed or not, is a 404.
    for letter in [Uuid::now_v7().to_string(), "MY-2026-0001".to_owned()] {
        let response = app
            .post(
                &path(&format!("letters/{letter}/response")),
                &token,
                &json!({"rectified": true, "content": "c"}),
            )
            .await;
        assert_problem(response, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    let token = app.admin_token.clone();
    let unknown = Uuid::now_v7().to_string();
    for id in [
        unknown.as_str(),
        "not-a-uuid",
        "1",
        "%00",
        "..",
        "00000000-0000-0000-0000-000000000000",
    ] {
        for suffix in ["", "/history"] {
            let response = app.get(&format!("/v1/cases/{id}{suffix}"), &token).await;
            assert_problem(response, StatusCode::NOT_FOUND).await;
        }
        for command in [
            "assign",
            "findings",
            "letters",
            "escalate",
            "refer",
            "feedback",
            "notes",
            "close",
            "reopen",
            "erase-personal-data",
        ] {
            let response = app
                .post(
                    &format!("/v1/cases/{id}/{command}"),
                    &token,
                    &json!({"text": "t"}),
                )
                .await;
            let status = response.status();
            // A well-formed body is needed before the case is looked up; either answer is
            // a client error in problem shape, never a 5xx.
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{command} on {id}: {status}"
            );
            assert_problem(response, status).await;
        }
        let response = app
            .post(
                &format!("/v1/cases/{id}/notes"),
                &token,
                &json!({"text": "t"}),
            )
            .await;
        assert_problem(response, StatusCode::NOT_FOUND).await;
    }
    // Unknown paths and methods are problems too.
    assert_problem(
        app.get("/v1/nothing-here", &token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let response = app
        .request(
            Method::DELETE,
            &format!("/v1/cases/{unknown}"),
            Some(&token),
        )
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app().await;
    let case = app.open_valid_case(&app.admin_token).await;
    let huge = "x".repeat(3 * 1024 * 1024);
    let mut body = valid_case_body();
    body["description"] = json!(huge);
    let response = app.open_case(&app.admin_token, &body).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    let response = app
        .post(
            &format!("/v1/cases/{case}/notes"),
            &app.admin_token,
            &json!({"text": huge}),
        )
        .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Without a Content-Length (chunked), the limit holds as well.
    let chunks = (0..48).map(|_| Ok::<_, std::io::Error>("y".repeat(64 * 1024)));
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = post_raw(
        &app,
        &format!("/v1/cases/{case}/notes"),
        "application/json",
        stream,
    )
    .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    // A text just under the field limits but far under the body limit is a 422, not a 413.
    let response = app
        .post(
            &format!("/v1/cases/{case}/notes"),
            &app.admin_token,
            &json!({"text": "z".repeat(200_000)}),
        )
        .await;
    let status = response.status();
    assert!(
        status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status}"
    );
    if status != StatusCode::OK {
        assert_invalid_field(response, "text").await;
    }
}

#[tokio::test]
async fn bad_headers_and_query_parameters_are_400() {
    let app = spawn_app().await;
    let token = app.admin_token.clone();
    let case = app.open_valid_case(&token).await;
    for if_match in ["1", "\"one\"", "*", "\"1\", \"2\"", "\"-1\"", ""] {
        let response = app
            .request(
                Method::POST,
                &format!("/v1/cases/{case}/notes"),
                Some(&token),
            )
            .header(IF_MATCH, if_match)
            .json(&json!({"text": "t"}))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
        assert!(names_field(&problem, "If-Match"), "{if_match}: {problem}");
    }
    for key in [String::new(), "k".repeat(256)] {
        let response = app
            .request(
                Method::POST,
                &format!("/v1/cases/{case}/notes"),
                Some(&token),
            )
            .header("Idempotency-Key", key)
            .json(&json!({"text": "t"}))
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
    for query in [
        "at_version=abc",
        "at_version=-1",
        "as_of=yesterday",
        "min_position=x",
        "at_version=1&as_of=2026-01-01T00:00:00Z",
    ] {
        let response = app.get(&format!("/v1/cases/{case}?{query}"), &token).await;
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
    // A version the case never had: nothing to show.
    for query in ["at_version=0", "at_version=99"] {
        let response = app.get(&format!("/v1/cases/{case}?{query}"), &token).await;
        let status = response.status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::OK,
            "{query}: {status}"
        );
        if status == StatusCode::NOT_FOUND {
            assert_problem(response, status).await;
        }
    }
    for query in ["limit=0", "limit=1001", "limit=x", "after=-1"] {
        let response = app.get(&format!("/v1/events?{query}"), &token).await;
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn no_input_yields_a_5xx() {
    let app = spawn_app().await;
    let token = app.admin_token.clone();
    let case = app.open_valid_case(&token).await;
    let paths = [
        "/v1/cases".to_owned(),
        "/v1/tokens".to_owned(),
        "/v1/users".to_owned(),
        format!("/v1/users/{}/reset", Uuid::now_v7()),
        format!("/v1/cases/{case}/assign"),
        format!("/v1/cases/{case}/findings"),
        format!("/v1/cases/{case}/letters"),
        format!("/v1/cases/{case}/letters/{}/response", Uuid::now_v7()),
        format!("/v1/cases/{case}/escalate"),
        format!("/v1/cases/{case}/refer"),
        format!("/v1/cases/{case}/feedback"),
        format!("/v1/cases/{case}/notes"),
        format!("/v1/cases/{case}/close"),
        format!("/v1/cases/{case}/reopen"),
        format!("/v1/cases/{case}/erase-personal-data"),
    ];
    let bodies = [
        json!({}),
        json!(null),
        json!([]),
        json!({"title": "\u{0}", "kind": "opinion", "tier": "five_way", "outcome": "rectified"}),
        json!({"officer": "\u{202e}evil", "summary": "s".repeat(100_000), "text": "🦀".repeat(10_000)}),
        json!({"department": "a".repeat(65), "reason": "r", "content": "c", "recipient": "r", "kind": "recommendation"}),
        json!({"deadline": "9999-12-31T23:59:59Z", "kind": "opinion", "recipient": "r", "content": "c"}),
        json!({"deadline": "+275760-09-13T00:00:00Z", "kind": "opinion", "recipient": "r", "content": "c"}),
        json!({"rectified": "yes", "content": "c"}),
        json!({"workers_affected": u64::MAX, "title": "t"}),
        json!({"name": "n".repeat(10_000), "role": "partner", "department": "hrss"}),
        json!({"login": "\u{0}".repeat(64), "name": "\u{202e}", "role": "admin", "department": null}),
        json!({"login": "l".repeat(100_000), "name": " ", "role": "partner", "department": "hrss"}),
    ];
    let mut server_errors = Vec::new();
    for path in &paths {
        for body in &bodies {
            let response = app.post(path, &token, body).await;
            let status = response.status();
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let text = response.text().await.unwrap();
            if status.is_server_error() {
                server_errors.push(format!("POST {path} {body}: {status} {text}"));
            } else if status.is_client_error() {
                assert_eq!(
                    content_type, "application/problem+json",
                    "{path} {body}: {text}"
                );
                let problem: Value = serde_json::from_str(&text).unwrap();
                check_problem_shape(&problem, status);
            }
        }
    }
    assert!(server_errors.is_empty(), "{}", server_errors.join("\n"));
}
