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

/// The PDF's text as `pdftotext` reads it, without whitespace (the layout breaks lines where
/// it likes), or `None` where pdftotext is missing outside CI (said on stderr).
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = match std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("CI").is_none(),
                "pdftotext is missing and CI is set: install poppler-utils"
            );
            eprintln!("SKIPPED: pdftotext is missing (apt-get install poppler-utils); the letter's text is not read");
            return None;
        }
        Err(error) => panic!("pdftotext did not run: {error}"),
    };
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    Some(text.chars().filter(|c| !c.is_whitespace()).collect())
}

/// `POST path` with no body, as `token`.
async fn post_empty(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.request(reqwest::Method::POST, path, Some(token))
        .send()
        .await
        .unwrap()
}

/// `GET path` with `token`: the status, the headers and the body's bytes.
async fn get_bytes(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app.get(path, token).await;
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn an_issued_letter_is_kept_as_its_pdf_and_read_back_byte_for_byte() {
    use sha2::Digest as _;
    let clock = StillClock::at(office_noon("2026-04-03"));
    let app = spawn_app_on_clock(clock.clone(), |_| {}).await;
    let case = app.open_valid_case(&app.admin_token).await;
    app.command(
        case,
        "findings",
        &app.admin_token,
        &json!({"summary": "研磨车间二十名员工未配发防尘口罩。"}),
        StatusCode::OK,
    )
    .await;

    // An opinion letter: its PDF's SHA-256 is in the letter, and the PDF reads back with it.
    let letter = issue(&app, case, opinion()).await;
    let sha256 = letter["document_sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha256.len(), 64, "{letter}");
    let path = format!(
        "/v1/cases/{case}/letters/{}/document",
        letter["letter_id"].as_str().unwrap()
    );
    let (status, headers, pdf) = get_bytes(&app, &path, &app.admin_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["etag"], format!("\"{sha256}\"").as_str());
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(hex::encode(sha2::Sha256::digest(&pdf)), sha256);
    let (_, _, again) = get_bytes(&app, &path, &app.admin_token).await;
    assert_eq!(again, pdf, "byte-identical at every read");
    let held = app
        .request(reqwest::Method::GET, &path, Some(&app.admin_token))
        .header("if-none-match", format!("\"{sha256}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::NOT_MODIFIED);
    if let Some(text) = pdf_text(&pdf) {
        for expected in [
            "工会劳动法律监督意见书",
            letter["number"].as_str().unwrap(),
            "涪城建材有限公司：",
            "研磨车间二十名员工未配发防尘口罩。",
            "为研磨车间全部员工配发防尘口罩。",
            "自收到本意见书之日起15个工作日内",
            "绵阳市总工会劳动法律监督委员会",
            "2026年4月3日",
            &case.to_string(),
        ] {
            assert!(text.contains(expected), "{expected} is not in {text}");
        }
    }

    // A character no font has is refused beside the field, not printed as a box.
    let response = app
        .post(
            &format!("/v1/cases/{case}/letters"),
            &app.admin_token,
            &json!({"kind": "opinion", "recipient": "涪城建材有限公司",
                    "content": "请为\u{2A6D6}车间配发口罩。"}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "content", "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains('\u{2A6D6}'),
        "{problem}"
    );

    // A reminder has no document; nor does an unknown letter.
    let reminder = issue(
        &app,
        case,
        json!({"kind": "reminder", "recipient": "涪城建材有限公司", "content": "请注意防尘。"}),
    )
    .await;
    assert_eq!(reminder["document_sha256"], Value::Null);
    for letter_id in [
        reminder["letter_id"].as_str().unwrap(),
        &Uuid::nil().to_string(),
    ] {
        let response = app
            .get(
                &format!("/v1/cases/{case}/letters/{letter_id}/document"),
                &app.admin_token,
            )
            .await;
        assert_problem(response, StatusCode::NOT_FOUND).await;
    }

    // The employer does not correct; a recommendation letter goes to the human-resources
    // department, which reads its document, finds the link in its feed, and reads no other
    // letter's document.
    app.command(
        case,
        &format!("letters/{}/response", letter["letter_id"].as_str().unwrap()),
        &app.admin_token,
        &json!({"rectified": false, "content": "公司称口罩已在采购中。"}),
        StatusCode::OK,
    )
    .await;
    let recommendation = issue(
        &app,
        case,
        json!({"kind": "recommendation", "recipient": "绵阳市人力资源和社会保障局",
               "content": "请依法督促该单位整改。", "department": "hrss"}),
    )
    .await;
    let recommendation_sha = recommendation["document_sha256"].as_str().unwrap();
    let recommendation_path = format!(
        "/v1/cases/{case}/letters/{}/document",
        recommendation["letter_id"].as_str().unwrap()
    );
    let hrss = app.token("partner", Some("hrss")).await;
    let (status, _, document) = get_bytes(&app, &recommendation_path, &hrss).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&document)),
        recommendation_sha
    );
    if let Some(text) = pdf_text(&document) {
        assert!(text.contains("工会劳动法律监督建议书"), "{text}");
        assert!(text.contains("绵阳市人力资源和社会保障局："), "{text}");
    }
    let (status, _, _) = get_bytes(&app, &path, &hrss).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not addressed to hrss");
    let justice = app.token("partner", Some("justice")).await;
    let (status, _, _) = get_bytes(&app, &recommendation_path, &justice).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not shared with justice");

    let mut linked = None;
    for _ in 0..100 {
        let feed = expect_status(
            app.get("/v1/feed?after=0&limit=100", &hrss).await,
            StatusCode::OK,
        )
        .await;
        linked = feed["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|message| {
                let body = &message["body"];
                (body["type"] == "case.SupervisionLetterIssued")
                    .then(|| body["data"]["document"].clone())
            });
        if linked.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let linked = linked.expect("the letter's message reaches hrss's feed");
    assert_eq!(
        linked,
        json!({"path": recommendation_path, "media_type": "application/pdf",
               "sha256": recommendation_sha})
    );
}

#[tokio::test]
async fn with_sign_off_a_supervisor_approves_or_returns_drafted_letters() {
    let policy = caseledger_domain::Policy {
        letter_approval: caseledger_domain::LetterApproval::Supervisor,
        ..caseledger_domain::Policy::default()
    };
    let app =
        crate::support::spawn_app_with(policy, caseledger_app::AppOptions::default(), |_| {}).await;
    let year = (Utc::now() + chrono::Duration::hours(8)).format("%Y");
    let officer = app.token("officer", None).await;
    let supervisor = app.token("supervisor", None).await;
    let hrss = app.token("partner", Some("hrss")).await;
    let case = app.open_valid_case(&officer).await;
    let draft_of = |view: &Value, n: usize| view["drafts"][n].clone();
    let draft_id =
        |view: &Value, n: usize| view["drafts"][n]["letter_id"].as_str().unwrap().to_owned();

    // The officer's opinion letter is a draft: no number, no document, no letter yet.
    app.command(case, "letters", &officer, &opinion(), StatusCode::OK)
        .await;
    let view = app.case(case, &officer).await;
    assert_eq!(view["letters"], json!([]));
    let first = draft_of(&view, 0);
    assert_eq!(first["kind"], "opinion");
    assert_eq!(first["returned"], Value::Null);
    let first_id = first["letter_id"].as_str().unwrap().to_owned();

    // Officers sign nothing off; the supervisor sends it back with reasons, and a draft sent
    // back is final.
    let approve = |id: &str| format!("/v1/cases/{case}/letters/{id}/approve");
    let response = post_empty(&app, &approve(&first_id), &officer).await;
    assert_problem(response, StatusCode::FORBIDDEN).await;
    let response = app
        .post(
            &format!("/v1/cases/{case}/letters/{first_id}/return"),
            &supervisor,
            &json!({"reason": ""}),
        )
        .await;
    crate::support::assert_invalid_field(response, "reason").await;
    app.command(
        case,
        &format!("letters/{first_id}/return"),
        &supervisor,
        &json!({"reason": "请写明口罩应符合的国家标准。"}),
        StatusCode::OK,
    )
    .await;
    let response = post_empty(&app, &approve(&first_id), &supervisor).await;
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert_eq!(problem["rule"], "letter_draft_returned");
    let view = app.case(case, &officer).await;
    assert_eq!(
        draft_of(&view, 0)["returned"]["reason"],
        "请写明口罩应符合的国家标准。"
    );

    // Drafted again and approved: numbered 1 (the returned draft took no number), typeset,
    // its deadline counted from service; a reminder needs no sign-off.
    let mut redrafted = opinion();
    redrafted["content"] = json!("为研磨车间全部员工配发符合GB 2626的防尘口罩。");
    app.command(case, "letters", &officer, &redrafted, StatusCode::OK)
        .await;
    let second_id = draft_id(&app.case(case, &officer).await, 1);
    let response = post_empty(&app, &approve(&second_id), &supervisor).await;
    expect_status(response, StatusCode::OK).await;
    let reminder = issue(
        &app,
        case,
        json!({"kind": "reminder", "recipient": "涪城建材有限公司", "content": "请注意防尘。"}),
    )
    .await;
    assert_eq!(reminder["number"], format!("绵工监提〔{year}〕1号"));
    let view = app.case(case, &officer).await;
    assert_eq!(
        view["drafts"].as_array().unwrap().len(),
        1,
        "the returned one stays"
    );
    let approved = &view["letters"][0];
    assert_eq!(approved["letter_id"], second_id.as_str());
    assert_eq!(approved["number"], format!("绵工监意〔{year}〕1号"));
    assert_eq!(approved["deadline_rule"]["from"], "served");
    let sha256 = approved["document_sha256"].as_str().unwrap();
    let (status, _, pdf) = get_bytes(
        &app,
        &format!("/v1/cases/{case}/letters/{second_id}/document"),
        &officer,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf)),
        sha256
    );
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("符合GB2626的防尘口罩"), "{text}");
    }

    // A recommendation letter, drafted and approved, goes to its department with its
    // document; the department never sees drafts.
    app.command(
        case,
        &format!("letters/{second_id}/response"),
        &officer,
        &json!({"rectified": false, "content": "公司拒绝整改。"}),
        StatusCode::OK,
    )
    .await;
    app.command(
        case,
        "letters",
        &officer,
        &json!({"kind": "recommendation", "recipient": "绵阳市人力资源和社会保障局",
               "content": "请依法督促该单位整改。", "department": "hrss"}),
        StatusCode::OK,
    )
    .await;
    let recommendation_id = draft_id(&app.case(case, &officer).await, 1);
    let response = post_empty(&app, &approve(&recommendation_id), &supervisor).await;
    expect_status(response, StatusCode::OK).await;
    let seen_by_hrss = app.case(case, &hrss).await;
    assert!(seen_by_hrss.get("drafts").is_none(), "{seen_by_hrss}");
    let (status, _, _) = get_bytes(
        &app,
        &format!("/v1/cases/{case}/letters/{recommendation_id}/document"),
        &hrss,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.event_types(case, &hrss).await,
        ["LetterApproved"],
        "from the sharing on, without drafts"
    );
}
