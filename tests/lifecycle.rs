//! A case's whole life over HTTP — open → assign → findings → opinion letter → answer →
//! recommendation letter → escalate → refer → partner feedback → close → reopen — with the
//! right status at each step and the right refusal (409 naming the rule) for each step out of
//! order; then what the case, its history and the global log show of it: versions and ETags,
//! the hash chain, sealed personal data, time travel, read-your-writes and erasure.

use std::collections::BTreeSet;

use reqwest::header::{ETAG, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{
    assert_conflict, assert_problem, days_from_now, expect_status, spawn_app, valid_case_body,
    TestApp, COMPLAINANT_NAME, COMPLAINANT_PHONE, VALID_ID_NUMBER,
};

fn etag(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(ETAG)
        .expect("an ETag header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// `GET /v1/cases/{id}` as `token`: the case, after checking that its ETag is its version.
async fn case_with_etag(app: &TestApp, case: Uuid, token: &str) -> Value {
    let response = app.get(&format!("/v1/cases/{case}"), token).await;
    let tag = etag(&response);
    let body = expect_status(response, StatusCode::OK).await;
    assert_eq!(
        tag,
        format!("\"{}\"", body["version"]),
        "ETag is not the version"
    );
    body
}

fn departments(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|department| department.as_str().unwrap().to_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// A number of the default template, `绵工监意〔2026〕3号`, of this year (in the office's
/// zone, UTC+8).
fn is_letter_number(number: &str) -> bool {
    let year = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y")
        .to_string();
    let Some(rest) = ["绵工监提〔", "绵工监意〔", "绵工监建〔"]
        .iter()
        .find_map(|start| number.strip_prefix(start))
    else {
        return false;
    };
    let Some(sequence) = rest
        .strip_prefix(&format!("{year}〕"))
        .and_then(|rest| rest.strip_suffix('号'))
    else {
        return false;
    };
    !sequence.is_empty()
        && !sequence.starts_with('0')
        && sequence.chars().all(|character| character.is_ascii_digit())
}

fn is_hex64(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        text.len() == 64
            && text
                .chars()
                .all(|character| matches!(character, '0'..='9' | 'a'..='f'))
    })
}

#[tokio::test]
async fn a_case_goes_through_its_whole_life_with_the_right_refusals() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let supervisor = app.token("supervisor", None).await;
    let hrss = app.token("partner", Some("hrss")).await;
    let health = app.token("partner", Some("health")).await;
    let auditor = app.token("auditor", None).await;

    // Open: 201, Location, ETag.
    let response = app.open_case(&officer, &valid_case_body()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(etag(&response), "\"1\"");
    let opened = expect_status(response, StatusCode::CREATED).await;
    let case: Uuid = opened["case_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(location, format!("/v1/cases/{case}"));
    assert_eq!(opened["version"], 1);
    assert_eq!(opened["events"], json!(["CaseOpened"]));
    assert!(opened["position"].as_u64().unwrap() >= 1);
    let view = case_with_etag(&app, case, &officer).await;
    assert_eq!(view["status"], "open");
    assert_eq!(view["id"], case.to_string());
    assert_eq!(view["complainant"]["name"], COMPLAINANT_NAME);
    assert_eq!(view["complainant"]["id_number"], VALID_ID_NUMBER);
    assert_eq!(view["complainant"]["erased"], false);
    assert_eq!(view["assignee"], Value::Null);
    assert_eq!(view["escalation"], Value::Null);
    assert_eq!(view["outcome"], Value::Null);
    assert_eq!(view["letters"], json!([]));
    assert_eq!(view["shared_with"], json!([]));
    let uuid_version = Uuid::parse_str(view["id"].as_str().unwrap())
        .unwrap()
        .get_version_num();
    assert_eq!(uuid_version, 7, "case ids are UUID v7");

    let path = |command: &str| format!("/v1/cases/{case}/{command}");
    // Out of order on an open case.
    assert_conflict(
        app.post(&path("reopen"), &supervisor, &json!({"reason": "again"}))
            .await,
        "case_not_closed",
    )
    .await;
    let recommendation = json!({
        "kind": "recommendation", "recipient": "Fucheng HRSS Bureau",
        "content": "We recommend a labour inspection of the grinding line.",
        "department": "hrss", "deadline": days_from_now(60)
    });
    assert_conflict(
        app.post(&path("letters"), &officer, &recommendation).await,
        "recommendation_needs_unheeded_opinion",
    )
    .await;
    // The partner does not see the case before it is shared with its department.
    assert_problem(
        app.get(&format!("/v1/cases/{case}"), &hrss).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        app.post(&path("feedback"), &hrss, &json!({"content": "too early"}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Assign.
    let assigned = app
        .command(
            case,
            "assign",
            &officer,
            &json!({"officer": "Li Wei"}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(assigned["version"], 2);
    assert_eq!(assigned["events"], json!(["OfficerAssigned"]));
    assert!(assigned["position"].as_u64() > opened["position"].as_u64());
    let view = case_with_etag(&app, case, &officer).await;
    assert_eq!(view["assignee"], "Li Wei");
    assert_eq!(view["status"], "investigating");
    assert_conflict(
        app.post(&path("assign"), &supervisor, &json!({"officer": "Li Wei"}))
            .await,
        "already_assigned",
    )
    .await;

    // Findings.
    let found = app
        .command(
            case,
            "findings",
            &officer,
            &json!({"summary": "No dust masks issued since March.", "hazard": "silica dust"}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(found["version"], 3);
    assert_eq!(found["events"], json!(["FindingRecorded"]));

    // Opinion letter to the employer.
    let deadline = days_from_now(21);
    let issued = app
        .command(
            case,
            "letters",
            &officer,
            &json!({"kind": "opinion", "recipient": "Fucheng Building Materials Co., Ltd.",
                    "content": "Issue FFP2 masks to all 40 workers.", "deadline": deadline}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(issued["version"], 4);
    assert_eq!(issued["events"], json!(["SupervisionLetterIssued"]));
    let view = case_with_etag(&app, case, &officer).await;
    assert_eq!(view["status"], "awaiting_reply");
    let letter = &view["letters"][0];
    assert_eq!(letter["kind"], "opinion");
    assert_eq!(letter["open"], true);
    let number = letter["number"].as_str().unwrap();
    assert!(is_letter_number(number), "letter number {number}");
    let opinion_id = letter["letter_id"].as_str().unwrap().to_owned();
    let due = chrono::DateTime::parse_from_rfc3339(letter["deadline"].as_str().unwrap()).unwrap();
    assert!(due > chrono::Utc::now(), "the deadline lies in the future");
    assert_eq!(view["deadline"], letter["deadline"]);
    assert_eq!(view["overdue"], false);

    // While the opinion letter awaits its answer: only `referred`/`withdrawn` close the case,
    // and no recommendation may follow yet.
    assert_conflict(
        app.post(
            &path("close"),
            &officer,
            &json!({"outcome": "rectified", "summary": "fixed"}),
        )
        .await,
        "opinion_letter_awaiting_answer",
    )
    .await;
    assert_conflict(
        app.post(&path("letters"), &officer, &recommendation).await,
        "recommendation_needs_unheeded_opinion",
    )
    .await;

    // The employer answers without rectifying.
    let answer_path = format!("letters/{opinion_id}/response");
    let answered = app
        .command(
            case,
            &answer_path,
            &officer,
            &json!({"rectified": false, "content": "We cannot afford masks this quarter."}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(answered["version"], 5);
    assert_eq!(answered["events"], json!(["LetterAnswered"]));
    assert_conflict(
        app.post(
            &path(&answer_path),
            &officer,
            &json!({"rectified": true, "content": "again"}),
        )
        .await,
        "letter_not_open",
    )
    .await;
    let view = case_with_etag(&app, case, &officer).await;
    assert_eq!(view["letters"][0]["open"], false);
    assert_eq!(view["letters"][0]["answer"]["rectified"], false);

    // Recommendation letter to hrss: the case is shared with hrss.
    let recommended = app
        .command(case, "letters", &officer, &recommendation, StatusCode::OK)
        .await;
    assert_eq!(recommended["version"], 6);
    let view = case_with_etag(&app, case, &officer).await;
    assert_eq!(departments(&view["shared_with"]), set(&["hrss"]));
    assert_eq!(view["letters"][1]["kind"], "recommendation");
    assert_eq!(view["letters"][1]["department"], "hrss");
    assert!(is_letter_number(
        view["letters"][1]["number"].as_str().unwrap()
    ));
    assert_ne!(view["letters"][1]["number"], view["letters"][0]["number"]);
    // Now the hrss partner sees it, without personal data or notes; another department does not.
    let partner_view = case_with_etag(&app, case, &hrss).await;
    assert!(partner_view.get("complainant").is_none(), "{partner_view}");
    assert!(partner_view.get("notes").is_none(), "{partner_view}");
    assert_problem(
        app.get(&format!("/v1/cases/{case}"), &health).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Escalate to the three-party tier: shared with its default members.
    let escalated = app
        .command(
            case,
            "escalate",
            &officer,
            &json!({"tier": "three_party", "reason": "The employer refuses."}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(escalated["version"], 7);
    assert_eq!(escalated["events"], json!(["EscalatedToJointMechanism"]));
    let view = case_with_etag(&app, case, &officer).await;
    assert_eq!(view["status"], "escalated");
    assert_eq!(view["escalation"]["tier"], "three_party");
    assert_eq!(
        departments(&view["escalation"]["departments"]),
        set(&["arbitration", "justice", "labour_inspection"])
    );
    assert_eq!(
        departments(&view["shared_with"]),
        set(&["hrss", "arbitration", "justice", "labour_inspection"])
    );
    assert_conflict(
        app.post(
            &path("escalate"),
            &officer,
            &json!({"tier": "three_party", "reason": "again"}),
        )
        .await,
        "tier_not_higher",
    )
    .await;

    // Refer to labour inspection.
    let referred = app
        .command(
            case,
            "refer",
            &officer,
            &json!({"department": "labour_inspection", "reason": "An inspection order is needed."}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(referred["version"], 8);
    assert_eq!(referred["events"], json!(["ReferredToDepartment"]));
    let view = case_with_etag(&app, case, &officer).await;
    assert_eq!(view["referrals"][0]["department"], "labour_inspection");

    // Partner feedback from hrss; a department the case is not shared with gets 404.
    let fed_back = app
        .command(
            case,
            "feedback",
            &hrss,
            &json!({"content": "Inspection scheduled for next week.", "outcome": "investigating"}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(fed_back["version"], 9);
    assert_eq!(fed_back["events"], json!(["DepartmentFeedbackRecorded"]));
    assert_problem(
        app.post(&path("feedback"), &health, &json!({"content": "not ours"}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let view = case_with_etag(&app, case, &officer).await;
    assert_eq!(view["feedback"][0]["department"], "hrss");

    // Close.
    let closed = app
        .command(
            case,
            "close",
            &officer,
            &json!({"outcome": "arbitration", "summary": "Sent to labour dispute arbitration."}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(closed["version"], 10);
    assert_eq!(closed["events"], json!(["CaseClosed"]));
    let view = case_with_etag(&app, case, &officer).await;
    assert_eq!(view["status"], "closed");
    assert_eq!(view["outcome"], "arbitration");
    assert!(view["closed_at"].is_string());

    // Every command that needs an open case is refused on a closed one.
    let refused_when_closed = [
        ("assign", json!({"officer": "Zhang Min"})),
        ("findings", json!({"summary": "late finding"})),
        (
            "letters",
            json!({"kind": "reminder", "recipient": "Employer", "content": "Reminder."}),
        ),
        ("escalate", json!({"tier": "five_way", "reason": "more"})),
        ("refer", json!({"department": "court", "reason": "more"})),
        ("close", json!({"outcome": "mediated", "summary": "twice"})),
    ];
    for (command, body) in refused_when_closed {
        let response = app.post(&path(command), &supervisor, &body).await;
        let problem = assert_problem(response, StatusCode::CONFLICT).await;
        assert_eq!(
            problem["rule"], "case_closed",
            "{command} on a closed case: {problem}"
        );
    }
    // Only a supervisor (or admin) reopens.
    assert_problem(
        app.post(
            &path("reopen"),
            &officer,
            &json!({"reason": "new evidence"}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let reopened = app
        .command(
            case,
            "reopen",
            &supervisor,
            &json!({"reason": "The arbitration award was not honoured."}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(reopened["version"], 11);
    assert_eq!(reopened["events"], json!(["CaseReopened"]));
    let view = case_with_etag(&app, case, &officer).await;
    assert_ne!(view["status"], "closed");
    assert_eq!(view["outcome"], Value::Null);
    assert_eq!(view["closed_at"], Value::Null);
    assert_eq!(view["reopened_count"], 1);
    assert_conflict(
        app.post(&path("reopen"), &supervisor, &json!({"reason": "twice"}))
            .await,
        "case_not_closed",
    )
    .await;

    // Partners and auditors never see the complainant; officers do.
    let auditor_view = case_with_etag(&app, case, &auditor).await;
    assert!(auditor_view.get("complainant").is_none(), "{auditor_view}");
    let partner_view = case_with_etag(&app, case, &hrss).await;
    assert!(partner_view.get("complainant").is_none(), "{partner_view}");
    assert_eq!(partner_view["version"], 11);
    let officer_view = case_with_etag(&app, case, &supervisor).await;
    assert_eq!(officer_view["complainant"]["phone"], COMPLAINANT_PHONE);

    // The history tells the same story, refusals left out, each event with its actor.
    let history = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &auditor)
            .await,
        StatusCode::OK,
    )
    .await;
    let events = history["events"].as_array().unwrap();
    let types: Vec<&str> = events
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "CaseOpened",
            "OfficerAssigned",
            "FindingRecorded",
            "SupervisionLetterIssued",
            "LetterAnswered",
            "SupervisionLetterIssued",
            "EscalatedToJointMechanism",
            "ReferredToDepartment",
            "DepartmentFeedbackRecorded",
            "CaseClosed",
            "CaseReopened",
        ]
    );
    let feedback = &events[8]["actor"];
    assert_eq!(feedback["role"], "partner");
    assert_eq!(feedback["department"], "hrss");
    assert_eq!(feedback["name"], "partner of hrss");
    assert_eq!(events[10]["actor"]["role"], "supervisor");
    assert_eq!(events[3]["data"]["number"], view["letters"][0]["number"]);
}

#[tokio::test]
async fn escalation_only_goes_up_and_a_higher_tier_adds_its_members() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let case = app.open_valid_case(&officer).await;
    app.command(
        case,
        "escalate",
        &officer,
        &json!({"tier": "four_way", "reason": "serious"}),
        StatusCode::OK,
    )
    .await;
    for lower in ["three_party", "four_way"] {
        assert_conflict(
            app.post(
                &format!("/v1/cases/{case}/escalate"),
                &officer,
                &json!({"tier": lower, "reason": "down"}),
            )
            .await,
            "tier_not_higher",
        )
        .await;
    }
    app.command(
        case,
        "escalate",
        &officer,
        &json!({"tier": "five_way", "departments": ["hrss", "procuratorate"], "reason": "worse"}),
        StatusCode::OK,
    )
    .await;
    let view = app.case(case, &officer).await;
    assert_eq!(view["escalation"]["tier"], "five_way");
    assert_eq!(
        departments(&view["escalation"]["departments"]),
        set(&["hrss", "procuratorate"])
    );
    assert_eq!(
        departments(&view["shared_with"]),
        set(&["hrss", "justice", "court", "procuratorate"])
    );
}

#[tokio::test]
async fn an_awaited_opinion_letter_allows_closing_only_as_referred_or_withdrawn() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    for (outcome, status) in [
        ("rectified", StatusCode::CONFLICT),
        ("mediated", StatusCode::CONFLICT),
        ("unfounded", StatusCode::CONFLICT),
        ("referred", StatusCode::OK),
        ("withdrawn", StatusCode::OK),
    ] {
        let case = app.open_valid_case(&officer).await;
        app.command(
            case,
            "letters",
            &officer,
            &json!({"kind": "opinion", "recipient": "Employer", "content": "Fix it."}),
            StatusCode::OK,
        )
        .await;
        let response = app
            .post(
                &format!("/v1/cases/{case}/close"),
                &officer,
                &json!({"outcome": outcome, "summary": "closing"}),
            )
            .await;
        if status == StatusCode::CONFLICT {
            assert_conflict(response, "opinion_letter_awaiting_answer").await;
        } else {
            expect_status(response, status).await;
        }
    }
    // A letter without a deadline gets the configured default (21 days for opinions).
    let case = app.open_valid_case(&officer).await;
    app.command(
        case,
        "letters",
        &officer,
        &json!({"kind": "opinion", "recipient": "Employer", "content": "Fix it."}),
        StatusCode::OK,
    )
    .await;
    let view = app.case(case, &officer).await;
    // The default deadline counts 15 working days from service: none until the letter is
    // served (tests/letters.rs counts them).
    assert_eq!(view["letters"][0]["deadline"], Value::Null);
    assert_eq!(
        view["letters"][0]["deadline_rule"],
        json!({"amount": 15, "unit": "working_days", "from": "served"})
    );
    // A reminder needs no answer: it is never open, and answering it is refused.
    app.command(
        case,
        "letters",
        &officer,
        &json!({"kind": "reminder", "recipient": "Employer", "content": "Mind the masks."}),
        StatusCode::OK,
    )
    .await;
    let view = app.case(case, &officer).await;
    assert_eq!(view["letters"][1]["open"], false);
    let reminder = view["letters"][1]["letter_id"].as_str().unwrap().to_owned();
    assert_conflict(
        app.post(
            &format!("/v1/cases/{case}/letters/{reminder}/response"),
            &officer,
            &json!({"rectified": true, "content": "ok"}),
        )
        .await,
        "letter_not_open",
    )
    .await;
}

/// Opens a case and runs a few commands on it; returns its id.
async fn case_with_some_history(app: &TestApp, officer: &str) -> Uuid {
    let case = app.open_valid_case(officer).await;
    app.command(
        case,
        "assign",
        officer,
        &json!({"officer": "Li Wei"}),
        StatusCode::OK,
    )
    .await;
    app.command(
        case,
        "notes",
        officer,
        &json!({"text": "Called the site manager."}),
        StatusCode::OK,
    )
    .await;
    app.command(
        case,
        "refer",
        officer,
        &json!({"department": "hrss", "reason": "wages too"}),
        StatusCode::OK,
    )
    .await;
    case
}

#[tokio::test]
async fn history_is_a_hash_chained_log_without_personal_data_in_clear() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let auditor = app.token("auditor", None).await;
    let hrss = app.token("partner", Some("hrss")).await;
    // Two interleaved cases, so one case's events are not adjacent in the global log.
    let first = case_with_some_history(&app, &officer).await;
    let second = case_with_some_history(&app, &officer).await;
    app.command(
        first,
        "notes",
        &officer,
        &json!({"text": "later"}),
        StatusCode::OK,
    )
    .await;

    let response = app
        .get(&format!("/v1/cases/{first}/history"), &auditor)
        .await;
    let raw_history = response.text().await.unwrap();
    let history: Value = serde_json::from_str(&raw_history).unwrap();
    assert_eq!(history["case_id"], first.to_string());
    let events = history["events"].as_array().unwrap();
    let types: Vec<&str> = events
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "CaseOpened",
            "OfficerAssigned",
            "NoteAdded",
            "ReferredToDepartment",
            "NoteAdded"
        ]
    );
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event["version"], index as u64 + 1, "{event}");
        assert_eq!(event["case_id"], first.to_string());
        assert!(event["position"].as_u64().unwrap() >= 1);
        assert!(is_hex64(&event["hash"]), "{event}");
        assert!(is_hex64(&event["prev_hash"]), "{event}");
        assert!(Uuid::parse_str(event["id"].as_str().unwrap()).is_ok());
        assert!(chrono::DateTime::parse_from_rfc3339(event["at"].as_str().unwrap()).is_ok());
        assert_eq!(event["actor"]["name"], "test officer");
        assert_eq!(event["actor"]["role"], "officer");
        assert!(event["actor"]["token_id"].is_string());
        assert!(event["data"].is_object(), "{event}");
    }
    let sealed = &events[0]["data"]["complainant"]["sealed"];
    assert!(
        sealed.as_str().is_some_and(|text| !text.is_empty()),
        "the complainant is sealed: {}",
        events[0]
    );

    // The chain runs over the whole log in position order.
    let log = app.all_events().await;
    assert_eq!(log.len(), 9);
    let mut previous_hash = "0".repeat(64);
    for (index, event) in log.iter().enumerate() {
        assert_eq!(
            event["position"],
            index as u64 + 1,
            "positions have no gaps"
        );
        assert_eq!(event["prev_hash"], previous_hash.as_str(), "{event}");
        previous_hash = event["hash"].as_str().unwrap().to_owned();
    }
    for event in events {
        let position = event["position"].as_u64().unwrap() as usize;
        assert_eq!(&log[position - 1], event, "history and the log agree");
    }
    let interleaved = events
        .windows(2)
        .any(|pair| pair[1]["position"].as_u64() > pair[0]["position"].as_u64().map(|p| p + 1));
    assert!(
        interleaved,
        "the other case's events sit between this one's"
    );

    // No personal data in clear anywhere in history or the event feed.
    let raw_feed = app
        .get("/v1/events?limit=1000", &auditor)
        .await
        .text()
        .await
        .unwrap();
    let raw_second = app
        .get(&format!("/v1/cases/{second}/history"), &app.admin_token)
        .await
        .text()
        .await
        .unwrap();
    for raw in [&raw_history, &raw_feed, &raw_second] {
        for secret in [COMPLAINANT_NAME, COMPLAINANT_PHONE, VALID_ID_NUMBER] {
            assert!(!raw.contains(secret), "{secret} in clear in {raw}");
        }
    }

    // A partner sees the history from the event that shared the case with it on, without
    // the union's internal notes.
    let response = app.get(&format!("/v1/cases/{first}/history"), &hrss).await;
    let partner_history = expect_status(response, StatusCode::OK).await;
    let partner_types: Vec<&str> = partner_history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(partner_types, ["ReferredToDepartment"]);
}

#[tokio::test]
async fn time_travel_and_read_your_writes() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let before_opening = chrono::Utc::now() - chrono::Duration::seconds(5);
    let case = case_with_some_history(&app, &officer).await;

    let response = app
        .get(&format!("/v1/cases/{case}?at_version=1"), &officer)
        .await;
    assert_eq!(etag(&response), "\"1\"");
    let first = expect_status(response, StatusCode::OK).await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["status"], "open");
    assert_eq!(first["assignee"], Value::Null);
    assert_eq!(first["shared_with"], json!([]));
    let second = app.case(case, &officer).await;
    assert_eq!(second["version"], 4);
    let at_two = expect_status(
        app.get(&format!("/v1/cases/{case}?at_version=2"), &officer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(at_two["assignee"], "Li Wei");
    assert_eq!(at_two["version"], 2);

    // As of now: the latest; as of before the opening: no such case.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let request = app
        .request(Method::GET, &format!("/v1/cases/{case}"), Some(&officer))
        .query(&[("as_of", now.as_str())]);
    let latest = expect_status(request.send().await.unwrap(), StatusCode::OK).await;
    assert_eq!(latest["version"], 4);
    let before = before_opening.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let request = app
        .request(Method::GET, &format!("/v1/cases/{case}"), Some(&officer))
        .query(&[("as_of", before.as_str())]);
    assert_problem(request.send().await.unwrap(), StatusCode::NOT_FOUND).await;

    // Read-your-writes: a reached position answers at once; one far ahead answers 503.
    let written = app
        .command(
            case,
            "notes",
            &officer,
            &json!({"text": "n"}),
            StatusCode::OK,
        )
        .await;
    let position = written["position"].as_u64().unwrap();
    let view = expect_status(
        app.get(
            &format!("/v1/cases/{case}?min_position={position}"),
            &officer,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["version"], written["version"]);
    assert!(view["chain"]["position"].as_u64().unwrap() >= position);
    let response = app
        .get(
            &format!("/v1/cases/{case}?min_position=999999999"),
            &officer,
        )
        .await;
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .expect("503 carries Retry-After")
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!(retry_after >= 1);
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    let response = app
        .get(
            &format!("/v1/cases/{case}/history?min_position=999999999"),
            &officer,
        )
        .await;
    assert!(response.headers().contains_key(RETRY_AFTER));
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
}

#[tokio::test]
async fn erasing_personal_data_keeps_the_sealed_history() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let case = app.open_valid_case(&officer).await;
    let sealed_before = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &officer)
            .await,
        StatusCode::OK,
    )
    .await["events"][0]["data"]["complainant"]
        .clone();

    let erased = app
        .command(
            case,
            "erase-personal-data",
            &app.admin_token,
            &json!({}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(erased["version"], 2);
    assert_eq!(erased["events"], json!(["PersonalDataErased"]));

    let view = app.case(case, &officer).await;
    assert_eq!(view["complainant"]["erased"], true, "{view}");
    assert!(view["complainant"].get("name").is_none(), "{view}");
    assert!(view["complainant"].get("id_number").is_none(), "{view}");
    // Even the view as it stood before the erasure no longer opens the data.
    let old = expect_status(
        app.get(&format!("/v1/cases/{case}?at_version=1"), &officer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(old["complainant"]["erased"], true, "{old}");

    let history = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &officer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(history["events"][0]["data"]["complainant"], sealed_before);
    assert!(sealed_before["sealed"].is_string());
    assert_eq!(history["events"][1]["type"], "PersonalDataErased");
    // The chain covers only the sealed form, so it still verifies after the key is gone.
    let auditor = app.token("auditor", None).await;
    let verified = expect_status(app.get("/v1/audit/verify", &auditor).await, StatusCode::OK).await;
    assert_eq!(verified["ok"], true, "{verified}");
    assert_conflict(
        app.post(
            &format!("/v1/cases/{case}/erase-personal-data"),
            &app.admin_token,
            &json!({}),
        )
        .await,
        "personal_data_already_erased",
    )
    .await;
}

#[tokio::test]
async fn the_event_feed_pages_in_position_order() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let auditor = app.token("auditor", None).await;
    for _ in 0..3 {
        case_with_some_history(&app, &officer).await;
    }
    // 12 events, in pages of 5: 5, 5, 2, then an empty page.
    let mut seen = Vec::new();
    let mut after = 0;
    let mut page_sizes = Vec::new();
    loop {
        let page = expect_status(
            app.get(&format!("/v1/events?after={after}&limit=5"), &auditor)
                .await,
            StatusCode::OK,
        )
        .await;
        let events = page["events"].as_array().unwrap();
        page_sizes.push(events.len());
        if events.is_empty() {
            break;
        }
        assert_eq!(page["next_after"], events.last().unwrap()["position"]);
        for event in events {
            seen.push(event["position"].as_u64().unwrap());
        }
        after = page["next_after"].as_u64().unwrap();
    }
    assert_eq!(page_sizes, [5, 5, 2, 0]);
    assert_eq!(seen, (1..=12).collect::<Vec<u64>>());
    // Without paging parameters: from the start.
    let all = expect_status(app.get("/v1/events", &auditor).await, StatusCode::OK).await;
    assert_eq!(all["events"].as_array().unwrap().len(), 12);
    let tail = expect_status(
        app.get("/v1/events?after=10", &auditor).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tail["events"][0]["position"], 11);
}
