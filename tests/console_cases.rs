//! Officers' daily work in the console (contract §8, issue #13) over plain HTTP: an admin creates
//! an officer's account, the officer sets a password, opens a case (errors beside their
//! fields first), takes it, issues an opinion letter and sees its deadline in the work queue,
//! meets the stale-version page when someone else changed the case, records the answer and
//! closes the case; every event names the officer's `user_id`. The case list's filters, search
//! and partial updates, and the English pages. (The same flow in a real browser, with the
//! accessibility check, is `console_browser`.)

use reqwest::StatusCode;
use serde_json::Value;

use crate::calendar::StillClock;
use crate::support::console_client::{
    form_token, hidden_fields, location, set_up_admin, Browser, PASSWORD,
};
use crate::support::{
    expect_status, spawn_app, spawn_app_on_clock, COMPLAINANT_NAME, VALID_ID_NUMBER,
};

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} is not on the page"))
        + start.len();
    &text[from..from + text[from..].find(end).unwrap()]
}

/// Posts the form of `page` that goes to `action` with its hidden fields and `fields`.
async fn post_form(
    browser: &mut Browser,
    page: &str,
    address: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let page = browser.with_form(page, address, action).await;
    let mut all: Vec<(String, String)> = hidden_fields(&page, action);
    all.extend(
        fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    let borrowed: Vec<(&str, &str)> = all
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let origin = browser.origin.clone();
    browser
        .post(&format!("{address}{action}"), &origin, &borrowed)
        .await
}

/// An admin makes an officer's account in the console; the officer follows the link, chooses
/// a password and signs in.
async fn officer_signed_in(app: &crate::support::TestApp, admin: &mut Browser) -> Browser {
    let users = format!("{}/console/users", app.address);
    let (status, _, page) = admin
        .submit(
            &users,
            &users,
            &[
                ("login", "li.ming"),
                ("name", "李明"),
                ("role", "officer"),
                ("department", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let setup_url = between(
        &page,
        "id=\"setup-url\" class=\"copy\" type=\"text\" readonly value=\"",
        "\"",
    )
    .replace("&#x2f;", "/");
    assert!(
        setup_url.starts_with(&format!("{}/console/setup/", app.address)),
        "{setup_url}"
    );
    assert!(page.contains("li.ming") && page.contains("等待设置密码"));

    let mut officer = Browser::new(&app.address);
    let (status, headers, _) = officer
        .submit(
            &setup_url,
            &setup_url,
            &[("password", PASSWORD), ("password_again", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/console/sign-in?done=1");
    let sign_in = format!("{}/console/sign-in", app.address);
    let (status, _, _) = officer
        .submit(
            &sign_in,
            &sign_in,
            &[
                ("login", "li.ming"),
                ("password", PASSWORD),
                ("next", "/console/"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    officer
}

fn valid_case_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("title", "水泥厂粉尘岗位未配发防尘口罩"),
        ("category", "ppe_shortfall"),
        ("source", "walk_in"),
        (
            "description",
            "包装车间四十名职工反映，防尘口罩三个月未更换。",
        ),
        ("region", "涪城区"),
        ("industry", "building_materials"),
        ("workers_affected", "40"),
        ("employer.name", "绵阳某水泥有限公司"),
        ("employer.credit_code", "91110000600037341L"),
        ("complainant.name", COMPLAINANT_NAME),
        ("complainant.phone", ""),
        ("complainant.id_number", VALID_ID_NUMBER),
    ]
}

#[tokio::test]
async fn an_officer_handles_a_case_from_opening_to_closing_in_the_console() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let mut officer = officer_signed_in(&app, &mut admin).await;
    let address = app.address.clone();
    let new_case = format!("{address}/console/cases/new");

    // 1. Bad input: every error beside its field, what was typed kept, nothing opened.
    let (_, _, form) = officer.get(&new_case).await;
    let mut fields = valid_case_fields();
    fields[0] = ("title", "");
    fields[8] = ("employer.credit_code", "91110000600037341X");
    let (status, _, page) =
        post_form(&mut officer, &form, &address, "/console/cases", &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("id=\"title-error\""), "{page}");
    assert!(page.contains("id=\"employer-credit_code-error\""));
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(page.contains("此项不能为空"));
    assert!(
        page.contains("value=\"绵阳某水泥有限公司\""),
        "what was typed is kept"
    );
    let listed = expect_status(app.get("/v1/cases", &app.admin_token).await, StatusCode::OK).await;
    assert_eq!(listed["items"], serde_json::json!([]), "nothing was opened");

    // 2. The case opens; the page shows it, with the complainant for the officer.
    let (status, headers, _) = post_form(
        &mut officer,
        &page,
        &address,
        "/console/cases",
        &valid_case_fields(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let case_path = location(&headers).split('?').next().unwrap().to_owned();
    assert!(!location(&headers).contains(COMPLAINANT_NAME));
    let case_url = format!("{address}{case_path}");
    let (status, _, page) = officer
        .get(&format!("{address}{}", location(&headers)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("案件已立案"));
    assert!(page.contains("水泥厂粉尘岗位未配发防尘口罩"));
    assert!(
        page.contains(COMPLAINANT_NAME),
        "officers see the complainant"
    );

    // 3. The officer takes the case; it is in their work queue.
    let (status, _, _) = post_form(
        &mut officer,
        &page,
        &address,
        &format!("{case_path}/assign"),
        &[("officer", "li.ming")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // 4. An opinion letter due in two days: the deadline shows, and the queue puts it first.
    let (_, _, page) = officer.get(&case_url).await;
    // At 17:00 two days on (a deadline at midnight would be shown as the end of the day before).
    let due = (chrono::Utc::now() + chrono::Duration::days(2))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT17:00")
        .to_string();
    let (status, _, _) = post_form(
        &mut officer,
        &page,
        &address,
        &format!("{case_path}/letters"),
        &[
            ("kind", "opinion"),
            ("recipient", "绵阳某水泥有限公司"),
            (
                "content",
                "请于十五个工作日内为包装车间职工配发合格的防尘口罩。",
            ),
            ("deadline", &due),
            ("department", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = officer.get(&case_url).await;
    assert!(page.contains("劳动法律监督意见书 绵工监意〔"), "{page}");
    assert!(
        page.contains(&due.replace('T', " ")),
        "the deadline in the office's zone"
    );
    assert!(page.contains("等待答复"));
    let (_, _, queue) = officer.get(&format!("{address}/console/")).await;
    assert!(queue.contains("水泥厂粉尘岗位未配发防尘口罩"), "{queue}");
    assert!(queue.contains("三天内到期"));

    // 5. Someone else changes the case: the officer's answer form, shown before, is refused
    //    with the stale-version page, which shows the new state; nothing is written.
    let letter_id = between(&page, "/letters/", "/document").to_owned();
    let answer_action = format!("{case_path}/letters/{letter_id}/response");
    let (_, _, admin_page) = admin.get(&case_url).await;
    let (status, _, _) = post_form(
        &mut admin,
        &admin_page,
        &address,
        &format!("{case_path}/notes"),
        &[("text", "用人单位来电，称正在采购口罩。")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, stale) = post_form(
        &mut officer,
        &page,
        &address,
        &answer_action,
        &[("rectified", "yes"), ("content", "已配发")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    assert!(stale.contains("案件已被他人更新"));
    assert!(
        stale.contains("用人单位来电，称正在采购口罩。"),
        "the new state"
    );
    assert!(
        stale.contains(">已配发</textarea>"),
        "what the officer typed is kept"
    );
    let history = expect_status(
        app.get(
            &format!(
                "/v1/cases/{}/history",
                case_path.rsplit('/').next().unwrap()
            ),
            &app.admin_token,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let types: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "CaseOpened",
            "OfficerAssigned",
            "SupervisionLetterIssued",
            "NoteAdded"
        ]
    );

    // 6. From the refreshed page the answer goes through, and posting the same form twice
    //    records it once.
    let (status, _, answered) = post_form(
        &mut officer,
        &stale,
        &address,
        &answer_action,
        &[
            ("rectified", "yes"),
            ("content", "已为全部职工配发 KN95 口罩。"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{answered}");
    let (status, _, _) = post_form(
        &mut officer,
        &stale,
        &address,
        &answer_action,
        &[
            ("rectified", "yes"),
            ("content", "已为全部职工配发 KN95 口罩。"),
        ],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "a repeated post answers as the first did"
    );
    let (_, _, page) = officer.get(&case_url).await;
    assert!(page.contains("已答复：已整改"));

    // 7. Closing: a wrong outcome is named beside its field; then the case closes.
    let (status, _, refused) = post_form(
        &mut officer,
        &page,
        &address,
        &format!("{case_path}/close"),
        &[("outcome", "vanished"), ("summary", "")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("id=\"close-outcome-error\""));
    let (status, _, _) = post_form(
        &mut officer,
        &refused,
        &address,
        &format!("{case_path}/close"),
        &[
            ("outcome", "rectified"),
            ("summary", "用人单位已整改，职工确认。"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = officer.get(&case_url).await;
    assert!(page.contains("已结案"));
    assert!(
        !page.contains("/reopen\""),
        "officers are not offered reopening"
    );

    // 8. Every event the officer wrote names them: user_id, no token.
    let case_id = case_path.rsplit('/').next().unwrap();
    let history = expect_status(
        app.get(&format!("/v1/cases/{case_id}/history"), &app.admin_token)
            .await,
        StatusCode::OK,
    )
    .await;
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 6, "one answer despite two posts: {events:#?}");
    let by_officer: Vec<&Value> = events
        .iter()
        .filter(|event| event["actor"]["name"] == "李明")
        .collect();
    assert_eq!(by_officer.len(), 5);
    for event in by_officer {
        assert!(event["actor"]["user_id"].is_string());
        assert!(event["actor"]["token_id"].is_null());
        assert_eq!(event["actor"]["role"], "officer");
    }
}

#[tokio::test]
async fn a_letter_is_served_and_followed_up_and_its_working_day_deadline_shows() {
    // Noon on Friday 3 April 2026 in the office, before the Qingming holiday; the letter is issued
    // at 12:00:27, and served "at 12:00", the minute it was issued.
    let clock = StillClock::at(
        chrono::DateTime::parse_from_rfc3339("2026-04-03T12:00:27+08:00")
            .unwrap()
            .to_utc(),
    );
    let app = spawn_app_on_clock(clock.clone(), |_| {}).await;
    let mut admin = set_up_admin(&app).await;
    let address = app.address.clone();
    let case = app.open_valid_case(&app.admin_token).await.to_string();
    let case_path = format!("/console/cases/{case}");
    let case_url = format!("{address}{case_path}");

    // An opinion letter with no deadline of its own waits for service, and says by what rule
    // its deadline will be counted.
    let (_, _, page) = admin.get(&case_url).await;
    let (status, _, issued) = post_form(
        &mut admin,
        &page,
        &address,
        &format!("{case_path}/letters"),
        &[
            ("kind", "opinion"),
            ("recipient", "绵阳某水泥有限公司"),
            ("content", "请为包装车间职工配发合格的防尘口罩。"),
            ("deadline", ""),
            ("department", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{issued}");
    let (_, _, page) = admin.get(&case_url).await;
    assert!(page.contains("待送达"), "{page}");
    assert!(page.contains("送达后 15 个工作日内答复"));
    let letter_id = between(&page, "/letters/", "/document").to_owned();
    let service = format!("{case_path}/letters/{letter_id}/service");
    // Its PDF, typeset when it was issued, opens from the page.
    let document = format!("{case_path}/letters/{letter_id}/document");
    assert!(page.contains(&format!("href=\"{document}\"")), "{page}");
    let (status, headers, pdf) = admin.get(&format!("{address}{document}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(pdf.starts_with("%PDF-"));
    let follow_up = format!("{case_path}/letters/{letter_id}/follow-up");
    let with_service_form = admin.with_form(&page, &address, &service).await;
    assert!(
        with_service_form.contains("value=\"2026-04-03T12:00\""),
        "the service time defaults to now in the office"
    );

    // A service time after now, or before the letter was issued, is named beside its field,
    // and nothing is written.
    for (served_at, message) in [
        ("2026-04-03T13:00", "时间不能晚于现在。"),
        ("2026-04-02T09:00", "时间不能早于函件发出的时间。"),
        ("", "不能为空"),
    ] {
        let (status, _, refused) = post_form(
            &mut admin,
            &page,
            &address,
            &service,
            &[("method", "in_person"), ("served_at", served_at)],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{served_at}");
        let error = between(
            &refused,
            &format!("id=\"service-{letter_id}-served_at-error\">"),
            "</p>",
        );
        assert!(error.contains(message), "{served_at}: {error}");
        assert!(refused.contains(&format!("id=\"form-service-{letter_id}\" open")));
    }
    let (status, _, refused) = post_form(
        &mut admin,
        &page,
        &address,
        &service,
        &[
            ("method", "carrier_pigeon"),
            ("served_at", "2026-04-03T12:00"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(&format!("id=\"service-{letter_id}-method-error\"")));
    assert_eq!(
        app.event_types(&case, &app.admin_token).await,
        ["CaseOpened", "SupervisionLetterIssued"]
    );

    // Served in person at noon: fifteen working days from the day after, over the Qingming
    // holiday (4–6 April), end on Monday 27 April.
    let (status, _, served) = post_form(
        &mut admin,
        &page,
        &address,
        &service,
        &[
            ("method", "in_person"),
            ("served_at", "2026-04-03T12:00"),
            ("received_by", "李伟"),
            ("tracking_number", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{served}");
    let (_, _, page) = admin.get(&format!("{case_url}?done=service")).await;
    assert!(page.contains("送达已记录"));
    assert!(page.contains("直接送达") && page.contains("签收人 李伟"));
    assert!(page.contains("2026-04-27 当日结束前"), "{page}");
    assert!(page.contains("datetime=\"2026-04-27T16:00:00Z\""));
    assert!(page.contains("等待答复") && !page.contains("待送达"));
    assert!(!page.contains(&service), "a letter is served once");
    assert!(page.contains("函件已送达"), "the timeline");

    // A follow-up visit: the findings are required; then it is listed under the letter.
    let (status, _, refused) = post_form(
        &mut admin,
        &page,
        &address,
        &follow_up,
        &[
            ("visited_at", "2026-04-03T12:00"),
            ("rectified", "no"),
            ("findings", " "),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(&format!("id=\"follow_up-{letter_id}-findings-error\"")));
    let (status, _, _) = post_form(
        &mut admin,
        &refused,
        &address,
        &follow_up,
        &[
            ("visited_at", "2026-04-03T12:00"),
            ("rectified", "no"),
            ("findings", "口罩仅配发了一半。"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = admin.get(&case_url).await;
    assert!(page.contains("回访记录"));
    assert!(
        page.contains("未整改: <span class=\"text\">口罩仅配发了一半。</span>"),
        "{page}"
    );
    assert_eq!(
        app.event_types(&case, &app.admin_token).await,
        [
            "CaseOpened",
            "SupervisionLetterIssued",
            "LetterServed",
            "FollowUpRecorded"
        ]
    );

    // The same page in English.
    let (status, _, _) = admin
        .get(&format!("{address}/console/language/en?back={case_path}"))
        .await;
    assert!(status.is_redirection());
    let (_, _, page) = admin.get(&case_url).await;
    assert!(page.contains("by the end of 2026-04-27"), "{page}");
    assert!(page.contains("In person") && page.contains("received by 李伟"));
    assert!(page.contains("Follow-up visits") && page.contains("Record a follow-up visit"));
}

#[tokio::test]
async fn with_sign_off_a_supervisor_approves_or_sends_back_a_draft_in_the_console() {
    let policy = caseledger_domain::Policy {
        letter_approval: caseledger_domain::LetterApproval::Supervisor,
        ..caseledger_domain::Policy::default()
    };
    let app =
        crate::support::spawn_app_with(policy, caseledger_app::AppOptions::default(), |_| {}).await;
    let mut admin = set_up_admin(&app).await;
    let address = app.address.clone();
    let case = app.open_valid_case(&app.admin_token).await.to_string();
    let case_path = format!("/console/cases/{case}");
    let case_url = format!("{address}{case_path}");
    let letter_fields = [
        ("kind", "opinion"),
        ("recipient", "绵阳某水泥有限公司"),
        ("content", "请为包装车间职工配发合格的防尘口罩。"),
        ("deadline", ""),
        ("department", ""),
    ];

    // Issuing drafts the letter: the page says it waits for sign-off.
    let (_, _, page) = admin.get(&case_url).await;
    let (status, headers, _) = post_form(
        &mut admin,
        &page,
        &address,
        &format!("{case_path}/letters"),
        &letter_fields,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location(&headers).ends_with("?done=drafted"));
    let (_, _, page) = admin.get(&case_url).await;
    assert!(
        page.contains("待签发的函件") && page.contains("待主管审批"),
        "{page}"
    );
    assert!(!page.contains("绵工监意〔"), "no number before sign-off");
    let draft_id = between(&page, "/letters/", "/approve").to_owned();

    // Sending back needs a reason; with one, the draft is marked and can no longer be approved.
    let send_back = format!("{case_path}/letters/{draft_id}/return");
    let (status, _, refused) =
        post_form(&mut admin, &page, &address, &send_back, &[("reason", " ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(&format!("id=\"return-{draft_id}-reason-error\"")));
    let (status, _, _) = post_form(
        &mut admin,
        &refused,
        &address,
        &send_back,
        &[("reason", "请写明口罩应符合的国家标准。")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = admin.get(&case_url).await;
    assert!(page.contains("已退回") && page.contains("请写明口罩应符合的国家标准。"));
    assert!(!page.contains(&format!("{draft_id}/approve")));

    // Drafted again and approved: the letter is issued with number 1 and its PDF.
    let (status, _, _) = post_form(
        &mut admin,
        &page,
        &address,
        &format!("{case_path}/letters"),
        &letter_fields,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = admin.get(&case_url).await;
    let second = between(&page, "/letters/", "/approve").to_owned();
    assert_ne!(second, draft_id);
    let (status, headers, _) = post_form(
        &mut admin,
        &page,
        &address,
        &format!("{case_path}/letters/{second}/approve"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = admin.get(&format!("{address}{}", location(&headers))).await;
    assert!(page.contains("函件已签发。"), "{page}");
    let year = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y");
    assert!(page.contains(&format!("劳动法律监督意见书 绵工监意〔{year}〕1号")));
    assert!(page.contains(&format!("{case_path}/letters/{second}/document")));
    assert!(
        page.contains("签发函件") && page.contains("退回函件"),
        "the timeline"
    );
}

#[tokio::test]
async fn the_case_list_filters_searches_pages_and_updates_in_place() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let address = app.address.clone();
    let mut last_position = 0;
    for title in ["拖欠工资 A", "拖欠工资 B", "粉尘 C"] {
        let mut body = crate::support::valid_case_body();
        body["title"] = title.into();
        body["category"] = if title.starts_with("粉尘") {
            "ppe_shortfall".into()
        } else {
            "wage_arrears".into()
        };
        let opened = expect_status(
            app.post("/v1/cases", &app.admin_token, &body).await,
            StatusCode::CREATED,
        )
        .await;
        last_position = opened["position"].as_u64().unwrap();
    }
    // The lists are read from the projection: let it catch up with the last opening.
    app.app
        .wait_for_projection(last_position, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let (status, _, page) = admin.get(&format!("{address}/console/cases")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("拖欠工资 A") && page.contains("粉尘 C"),
        "{page}"
    );

    let (_, _, page) = admin
        .get(&format!(
            "{address}/console/cases?category=wage_arrears&q=%E5%B7%A5%E8%B5%84"
        ))
        .await;
    assert!(
        page.contains("拖欠工资 B") && !page.contains("粉尘 C"),
        "{page}"
    );

    // A bad date is named beside its field; nothing else is answered.
    let (status, _, page) = admin
        .get(&format!("{address}/console/cases?opened_from=yesterday"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"opened_from-error\""));

    // htmx asks for the results alone.
    let partial = reqwest::Client::new()
        .get(format!("{address}/console/cases?category=ppe_shortfall"))
        .header("cookie", admin.cookie_header())
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), StatusCode::OK);
    let partial = partial.text().await.unwrap();
    assert!(!partial.contains("<html"), "{partial}");
    assert!(partial.contains("粉尘 C") && !partial.contains("拖欠工资 A"));

    // English, remembered by the switch.
    let (status, _, _) = admin
        .get(&format!(
            "{address}/console/language/en?back=/console/cases"
        ))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = admin.get(&format!("{address}/console/cases")).await;
    assert!(page.contains("Wage arrears") && page.contains("Filter cases"));
    assert!(page.contains("lang=\"en\""));
}

#[tokio::test]
async fn console_pages_refuse_strangers_and_bad_addresses_clearly() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let address = app.address.clone();
    let mut stranger = Browser::new(&address);
    let (status, headers, _) = stranger.get(&format!("{address}/console/cases")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location(&headers).starts_with("/console/sign-in?next="));
    for path in [
        "/console/cases/not-a-case",
        "/console/cases/0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192",
    ] {
        let (status, _, page) = admin.get(&format!("{address}{path}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.contains("找不到"));
    }
    // A command that is not one, and a form without its token.
    let (_, _, page) = admin.get(&format!("{address}/console/cases/new")).await;
    let token = form_token(&page);
    let origin = admin.origin.clone();
    let (status, _, _) = admin
        .post(
            &format!("{address}/console/cases/0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/explode"),
            &origin,
            &[("_form_token", token.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, page) = admin
        .post(
            &format!("{address}/console/cases"),
            &origin,
            &[("title", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    let listed = expect_status(app.get("/v1/cases", &app.admin_token).await, StatusCode::OK).await;
    assert_eq!(listed["items"], serde_json::json!([]));
}

#[tokio::test]
async fn no_bad_form_on_any_case_page_answers_500_or_changes_anything() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let address = app.address.clone();
    let case = app.open_valid_case(&app.admin_token).await;
    let case_url = format!("{address}/console/cases/{case}");
    let (_, _, page) = admin.get(&case_url).await;
    let token = form_token(&page);
    let origin = admin.origin.clone();
    let before = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &app.admin_token)
            .await,
        StatusCode::OK,
    )
    .await["events"]
        .as_array()
        .unwrap()
        .len();
    let long = "字".repeat(100_000);
    let bodies: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("version", "not a number")],
        vec![("version", "18446744073709551616")],
        vec![("version", "1"), ("kind", "petition"), ("deadline", "soon")],
        vec![
            ("version", "1"),
            ("tier", "six_way"),
            ("departments", "nobody"),
        ],
        vec![
            ("version", "1"),
            ("outcome", "vanished"),
            ("summary", "\u{0}"),
        ],
        vec![("version", "1"), ("text", long.as_str())],
        vec![
            ("version", "99"),
            ("text", "a note on a version that never was"),
        ],
        vec![("version", "1"), ("rectified", "maybe")],
        vec![
            ("version", "1"),
            ("method", "carrier_pigeon"),
            ("served_at", "yesterday"),
            ("visited_at", "2999-01-01T00:00"),
        ],
    ];
    let paths = [
        "assign",
        "findings",
        "letters",
        "escalate",
        "refer",
        "feedback",
        "notes",
        "close",
        "reopen",
        "letters/0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/response",
        "letters/0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/service",
        "letters/0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/follow-up",
        "letters/0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/approve",
        "letters/0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/return",
        "letters/0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/sideways",
        "letters/not-a-letter/response",
    ];
    for path in paths {
        for body in &bodies {
            let mut fields = vec![("_form_token", token.as_str())];
            fields.extend(body.iter().copied());
            let (status, _, page) = admin
                .post(&format!("{case_url}/{path}"), &origin, &fields)
                .await;
            assert!(
                status.is_client_error(),
                "{path} {body:?}: {status}\n{}",
                &page[..page.len().min(2000)]
            );
            assert!(page.contains("<html"), "{path}: a page, not a raw error");
        }
    }
    // Reading: a form name or version that is no form's opens none, and is not echoed.
    for query in [
        "?form=%3Cscript%3E&version=1",
        "?form=notes&version=not-a-number",
        "?form=notes&version=99",
        "?form=assign&version=18446744073709551616",
    ] {
        let (status, _, page) = admin.get(&format!("{case_url}{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert!(!page.contains("<script>"), "{query}");
    }
    let (status, _, page) = admin
        .get(&format!(
            "{case_url}/letters/0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192/document"
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("<html"), "a page, not a raw error");
    let after = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &app.admin_token)
            .await,
        StatusCode::OK,
    )
    .await["events"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before, "nothing was written");
}

#[tokio::test]
async fn a_long_history_shows_its_newest_events_first_and_says_how_many_there_are() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let case = app.open_valid_case(&app.admin_token).await;
    let notes = 205;
    for n in 1..=notes {
        expect_status(
            app.post(
                &format!("/v1/cases/{case}/notes"),
                &app.admin_token,
                &serde_json::json!({ "text": format!("第{n}次走访记录。") }),
            )
            .await,
            StatusCode::OK,
        )
        .await;
    }
    let (status, _, page) = admin
        .get(&format!("{}/console/cases/{case}", app.address))
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = notes + 1;
    assert!(
        page.contains(&format!("只显示最近的 200 条（共 {events} 条）")),
        "the page says the timeline is cut"
    );
    let timeline = between(&page, "<ol class=\"timeline\" reversed>", "</ol>");
    assert_eq!(timeline.matches("<li>").count(), 200);
    let newest = timeline.find("第205次走访记录。").expect("the newest note");
    let older = timeline.find("第204次走访记录。").expect("the next note");
    assert!(newest < older, "newest first");
    assert!(timeline.contains("第6次走访记录。"));
    assert!(!timeline.contains("第5次走访记录。"), "only the newest 200");
}

/// Posts `bytes` as the upload form of the case page `page` sends it: its token first, then
/// the boxes, then the file.
async fn upload_form(
    browser: &mut Browser,
    page: &str,
    url: &str,
    personal: bool,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut form = reqwest::multipart::Form::new().text("_form_token", form_token(page));
    if personal {
        form = form.text("personal", "on");
    }
    let form = form.part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(url)
        .header(reqwest::header::COOKIE, browser.cookie_header())
        .header(reqwest::header::ORIGIN, browser.origin.clone())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn files_are_attached_downloaded_and_withdrawn_in_the_console() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let address = app.address.clone();
    let case = app.open_valid_case(&app.admin_token).await.to_string();
    let case_path = format!("/console/cases/{case}");
    let case_url = format!("{address}{case_path}");
    let upload_url = format!("{case_url}/attachments");
    // ASCII after the magic: the test client reads answers as text.
    let payroll = b"%PDF-1.7\n payroll of March".to_vec();

    let (_, _, page) = admin.get(&case_url).await;
    assert!(page.contains("尚无附件"), "{page}");
    assert!(page.contains("enctype=\"multipart/form-data\""));
    let (status, headers, body) = upload_form(
        &mut admin,
        &page,
        &upload_url,
        true,
        "张三工资条.pdf",
        payroll.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(location(&headers).ends_with("?done=attached#attachments"));
    let (_, _, page) = admin.get(&format!("{address}{}", location(&headers))).await;
    assert!(page.contains("附件已上传"), "{page}");
    assert!(page.contains("张三工资条.pdf"));
    assert!(page.contains("含个人信息"));
    let file_path = format!("{case_path}/attachments/");
    let attachment = between(&page, &file_path, "\"").to_owned();
    let (status, headers, body) = admin
        .get(&format!("{address}{file_path}{attachment}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_bytes(), payroll.as_slice());
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));

    // An executable is refused with a page that says which files are taken; nothing is kept.
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(4096, 0);
    let (status, _, refused) =
        upload_form(&mut admin, &page, &upload_url, false, "invoice.pdf", elf).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{refused}");
    assert!(refused.contains("不接受此类型的文件"), "{refused}");
    // A form without its token (another site's) reads no file.
    let (status, _, _) = upload_form(
        &mut admin,
        "name=\"_form_token\" value=\"forged\"",
        &upload_url,
        false,
        "a.pdf",
        payroll.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Withdrawn with a reason: listed still, marked.
    let withdraw = format!("{case_path}/attachments/{attachment}/withdraw");
    let (status, headers, body) = post_form(
        &mut admin,
        &page,
        &address,
        &withdraw,
        &[("reason", "重复上传")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (_, _, page) = admin.get(&format!("{address}{}", location(&headers))).await;
    assert!(page.contains("附件已撤回"), "{page}");
    assert!(page.contains("重复上传"));
    let events = app.event_types(&case, &app.admin_token).await;
    assert_eq!(
        events,
        ["CaseOpened", "AttachmentAdded", "AttachmentWithdrawn"]
    );
}
