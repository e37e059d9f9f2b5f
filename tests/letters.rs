//! Letters as served documents (contract §9) through the API: numbers per issuer, kind and
//! year without gaps, deadlines in working days on the official calendar counted from service,
//! service and follow-up, and statistics of confirmed rectification.
//!
//! Owns its fixtures only; the counting rules are tested in the domain, the calendar's loading
//! in the app.

use std::sync::Arc;

use chrono::{DateTime, TimeZone as _, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::calendar::StillClock;
use crate::support::{assert_problem, expect_status, spawn_app, spawn_app_on_clock, TestApp};

/// Noon in the office (UTC+8) on `date`.
fn office_noon(date: &str) -> DateTime<Utc> {
    let date: chrono::NaiveDate = date.parse().unwrap();
    Utc.from_utc_datetime(&date.and_hms_opt(4, 0, 0).unwrap())
}

async fn issue(app: &TestApp, case: Uuid, body: Value) -> Value {
    app.command(case, "letters", &app.admin_token, &body, StatusCode::OK)
        .await;
    let view = app.case(case, &app.admin_token).await;
    view["letters"].as_array().unwrap().last().unwrap().clone()
}

fn opinion() -> Value {
    json!({"kind": "opinion", "recipient": "涪城建材有限公司",
           "content": "为研磨车间全部员工配发防尘口罩。"})
}

async fn serve(app: &TestApp, case: Uuid, letter: &Value, served_at: DateTime<Utc>) -> Value {
    let letter_id = letter["letter_id"].as_str().unwrap();
    app.command(
        case,
        &format!("letters/{letter_id}/service"),
        &app.admin_token,
        &json!({"method": "in_person", "served_at": served_at, "received_by": "李伟"}),
        StatusCode::OK,
    )
    .await;
    let view = app.case(case, &app.admin_token).await;
    view["letters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|shown| shown["letter_id"] == letter["letter_id"])
        .unwrap()
        .clone()
}

/// Serves a new opinion letter on `served_on` (the clock standing there) and returns the
/// letter as the case shows it then.
async fn served_on(app: &TestApp, clock: &StillClock, served_on: &str) -> Value {
    clock.set(office_noon(served_on));
    let case = app.open_valid_case(&app.admin_token).await;
    let letter = issue(app, case, opinion()).await;
    assert_eq!(
        letter["deadline"],
        Value::Null,
        "no deadline before service"
    );
    assert_eq!(
        letter["deadline_rule"],
        json!({"amount": 15, "unit": "working_days", "from": "served"})
    );
    serve(app, case, &letter, office_noon(served_on)).await
}

#[tokio::test]
async fn deadlines_count_working_days_on_the_official_calendar_from_service() {
    let clock = StillClock::at(office_noon("2026-04-03"));
    let app = spawn_app_on_clock(clock.clone(), |_| {}).await;

    // Friday 3 April 2026, before the Qingming holiday (4–6 April, Saturday to Monday): the
    // fifteen working days start on Tuesday 7 April and end on Monday 27 April — three days
    // later than the weekday rule alone would say (Friday 24 April).
    let letter = served_on(&app, &clock, "2026-04-03").await;
    assert_eq!(letter["last_day"]["date"], "2026-04-27");
    assert_eq!(letter["last_day"]["provisional"], false);
    assert!(letter["last_day"]["calendar_version"]
        .as_str()
        .unwrap()
        .starts_with("holiday-cn"));
    // The deadline is the end of the last day in Beijing.
    assert_eq!(letter["deadline"], "2026-04-27T16:00:00Z");
    assert_eq!(letter["deadline_rule"], Value::Null);
    assert_eq!(letter["service"]["method"], "in_person");
    assert_eq!(letter["service"]["received_by"], "李伟");

    // Friday 8 May 2026: Saturday 9 May is a working day (调休 for Labour Day), so it counts,
    // and the fifteenth working day is Thursday 28 May, not Friday 29 May.
    let letter = served_on(&app, &clock, "2026-05-08").await;
    assert_eq!(letter["last_day"]["date"], "2026-05-28");

    // 20 December 2027: the count runs into 2028, whose notice is not in the calendar, so the
    // deadline is provisional.
    let letter = served_on(&app, &clock, "2027-12-20").await;
    assert_eq!(letter["last_day"]["provisional"], true);

    // An explicit deadline still wins: service records no other.
    clock.set(office_noon("2026-04-03"));
    let case = app.open_valid_case(&app.admin_token).await;
    let mut explicit = opinion();
    explicit["deadline"] = json!("2026-04-10T10:00:00Z");
    let letter = issue(&app, case, explicit).await;
    let letter = serve(&app, case, &letter, office_noon("2026-04-03")).await;
    assert_eq!(letter["deadline"], "2026-04-10T10:00:00Z");
    assert_eq!(letter["last_day"], Value::Null);
}

#[tokio::test]
async fn numbers_follow_the_template_per_kind_and_year_and_leave_no_gaps() {
    let app = Arc::new(spawn_app().await);
    let year = (Utc::now() + chrono::Duration::hours(8)).format("%Y");
    let case = app.open_valid_case(&app.admin_token).await;
    let first = issue(&app, case, opinion()).await;
    assert_eq!(first["number"], format!("绵工监意〔{year}〕1号"));
    let reminder = issue(
        &app,
        case,
        json!({"kind": "reminder", "recipient": "涪城建材有限公司", "content": "请注意防尘。"}),
    )
    .await;
    assert_eq!(reminder["number"], format!("绵工监提〔{year}〕1号"));

    // Sixteen letters at once on one case, all sent with the same If-Match: one is recorded,
    // the others are refused with 412 after taking a number — which they give back.
    let version = app.case(case, &app.admin_token).await["version"]
        .as_u64()
        .unwrap();
    let mut racers = Vec::new();
    for _ in 0..16 {
        let app = Arc::clone(&app);
        racers.push(tokio::spawn(async move {
            app.request(
                reqwest::Method::POST,
                &format!("/v1/cases/{case}/letters"),
                Some(&app.admin_token),
            )
            .header("If-Match", format!("\"{version}\""))
            .json(&opinion())
            .send()
            .await
            .unwrap()
            .status()
        }));
    }
    let mut recorded = 0;
    for racer in racers {
        let status = racer.await.unwrap();
        assert!(
            status == StatusCode::OK || status == StatusCode::PRECONDITION_FAILED,
            "{status}"
        );
        recorded += usize::from(status == StatusCode::OK);
    }
    assert_eq!(recorded, 1);

    // Sixty-four officers issuing at once on cases of their own.
    let mut cases = Vec::new();
    for _ in 0..64 {
        cases.push(app.open_valid_case(&app.admin_token).await);
    }
    let mut issuers = Vec::new();
    for case in cases {
        let app = Arc::clone(&app);
        issuers.push(tokio::spawn(async move {
            expect_status(
                app.post(
                    &format!("/v1/cases/{case}/letters"),
                    &app.admin_token,
                    &opinion(),
                )
                .await,
                StatusCode::OK,
            )
            .await;
        }));
    }
    for issuer in issuers {
        issuer.await.unwrap();
    }
    // One more after the race: it takes a released number if any is left.
    issue(&app, case, opinion()).await;

    let numbers: Vec<String> = app
        .all_events()
        .await
        .iter()
        .filter(|event| {
            event["type"] == "SupervisionLetterIssued" && event["data"]["kind"] == "opinion"
        })
        .map(|event| event["data"]["number"].as_str().unwrap().to_owned())
        .collect();
    let mut sequence: Vec<u64> = numbers
        .iter()
        .map(|number| {
            number
                .strip_prefix(&format!("绵工监意〔{year}〕"))
                .and_then(|rest| rest.strip_suffix('号'))
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    sequence.sort_unstable();
    let expected: Vec<u64> = (1..=sequence.len() as u64).collect();
    assert_eq!(
        sequence, expected,
        "every opinion number once, none skipped"
    );
    assert_eq!(sequence.len(), 1 + 1 + 64 + 1);
}

#[tokio::test]
async fn service_and_follow_up_refuse_bad_input_and_count_in_statistics() {
    let app = spawn_app().await;
    let case = app.open_valid_case(&app.admin_token).await;
    let letter = issue(&app, case, opinion()).await;
    let letter_id = letter["letter_id"].as_str().unwrap();
    let service = format!("/v1/cases/{case}/letters/{letter_id}/service");
    let visit = format!("/v1/cases/{case}/letters/{letter_id}/follow-up");
    let before = app.case(case, &app.admin_token).await["version"].clone();
    let future = Utc::now() + chrono::Duration::hours(1);
    for (body, field) in [
        (
            json!({"method": "pigeon", "served_at": Utc::now()}),
            "method",
        ),
        (json!({"method": "post", "served_at": future}), "served_at"),
        (
            json!({"method": "post", "served_at": "2000-01-01T00:00:00Z"}),
            "served_at",
        ),
        (
            json!({"method": "post", "served_at": Utc::now(), "tracking_number": "x".repeat(201)}),
            "tracking_number",
        ),
    ] {
        let problem = assert_problem(
            app.post(&service, &app.admin_token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let problem = assert_problem(
        app.post(
            &visit,
            &app.admin_token,
            &json!({"visited_at": future, "findings": "", "rectified": true}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["visited_at", "findings"]);
    assert_eq!(
        app.case(case, &app.admin_token).await["version"],
        before,
        "refused input changes nothing"
    );

    serve(&app, case, &letter, Utc::now()).await;
    assert_problem(
        app.post(
            &service,
            &app.admin_token,
            &json!({"method": "post", "served_at": Utc::now()}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    let unknown = format!("/v1/cases/{case}/letters/{}/service", Uuid::now_v7());
    assert_problem(
        app.post(
            &unknown,
            &app.admin_token,
            &json!({"method": "post", "served_at": Utc::now()}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let visited = app
        .command(
            case,
            &format!("letters/{letter_id}/follow-up"),
            &app.admin_token,
            &json!({"visited_at": Utc::now(), "findings": "口罩已配发，现场核实。", "rectified": true}),
            StatusCode::OK,
        )
        .await;
    let view = app.case(case, &app.admin_token).await;
    assert_eq!(view["letters"][0]["follow_ups"][0]["rectified"], true);
    let stats = expect_status(
        app.get(
            &format!("/v1/stats?min_position={}", visited["position"]),
            &app.admin_token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats["opinion_letters_followed_up"], 1);
    assert_eq!(stats["opinion_letters_rectification_confirmed"], 1);
    assert_eq!(stats["confirmed_rectification_rate"], 1.0);
}
