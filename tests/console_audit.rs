//! The auditors' workbench in the console (contract §8, issue #14 item 3) over plain HTTP: an
//! auditor's account pages through the global log and filters it by type and by case, reads a
//! case's history with the same hashes as the API's, travels to version 1 (the same case as
//! `?at_version=1`), verifies the whole chain, sees the signed checkpoints checked, and downloads
//! an export that the real binary's `caseledger audit verify` accepts — and no complainant's
//! name, phone or ID number appears on any of those pages. Officers and partners get the
//! forbidden page. (The same in a real browser, with the accessibility check, is at the end.)

use caseledger_domain::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::binary::{args, caseledger, text};
use crate::support::browser::{ConsoleSession, ADMIN_PASSWORD};
use crate::support::console_client::{
    form_token, location, person_signed_in, set_up_admin, Browser,
};
use crate::support::{
    expect_status, spawn_app, TestApp, COMPLAINANT_NAME, COMPLAINANT_PHONE, VALID_ID_NUMBER,
};

/// Every text between `start` and the next `end` after it, in order.
fn all_between<'a>(text: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(start) {
        rest = &rest[at + start.len()..];
        let stop = rest.find(end).unwrap();
        found.push(&rest[..stop]);
        rest = &rest[stop..];
    }
    found
}

/// The positions of a log page's rows, in order.
fn positions(page: &str) -> Vec<u64> {
    all_between(page, "<tr><td>", "</td>")
        .iter()
        .map(|position| position.parse().unwrap())
        .collect()
}

/// A person of `role` (`department` for a partner), named after the role and login, signed in
/// to the console.
async fn signed_in_as(app: &TestApp, login: &str, role: Role, department: Option<&str>) -> Browser {
    person_signed_in(app, login, &format!("{role} {login}"), role, department)
        .await
        .0
}

/// Two cases with complainants and some history; returns the first's id.
async fn seed(app: &TestApp) -> Uuid {
    let case = app.open_valid_case(&app.admin_token).await;
    for text in ["雇主称下周整改。", "职工再次来电。"] {
        app.command(
            case,
            "notes",
            &app.admin_token,
            &json!({"text": text}),
            StatusCode::OK,
        )
        .await;
    }
    let other = app.open_valid_case(&app.admin_token).await;
    app.command(
        other,
        "notes",
        &app.admin_token,
        &json!({"text": "另一案件的备注"}),
        StatusCode::OK,
    )
    .await;
    app.command(
        case,
        "assign",
        &app.admin_token,
        &json!({"officer": "li.ming"}),
        StatusCode::OK,
    )
    .await;
    case
}

/// Waits (at most 30 s) until the page's main text holds `wanted`, after a click that loads
/// another page.
async fn main_text_shows(browser: &crate::support::browser::Browser, wanted: &str) {
    let started = std::time::Instant::now();
    loop {
        let text = browser.main_text().await;
        if text.contains(wanted) {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "«{wanted}» is not on the page: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn assert_no_personal_data(page: &str, what: &str) {
    for secret in [COMPLAINANT_NAME, COMPLAINANT_PHONE, VALID_ID_NUMBER] {
        assert!(!page.contains(secret), "{what} shows {secret}");
    }
}

#[tokio::test]
async fn an_auditor_pages_and_filters_the_global_log_and_reads_a_case_s_history() {
    let app = spawn_app().await;
    let mut auditor = signed_in_as(&app, "shen.ji", Role::Auditor, None).await;
    let case = seed(&app).await;
    let address = app.address.clone();
    let auditor_token = app.token("auditor", None).await;
    let api_events = app.all_events().await;
    assert_eq!(api_events.len(), 6);

    // The newest page by default; paging after and before a position.
    let (status, _, page) = auditor.get(&format!("{address}/console/audit/log")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("全局日志") && page.contains("href=\"/console/audit/log\""));
    assert_eq!(positions(&page), vec![1, 2, 3, 4, 5, 6]);
    let (_, _, page) = auditor
        .get(&format!("{address}/console/audit/log?after=0&limit=25"))
        .await;
    assert_eq!(positions(&page), vec![1, 2, 3, 4, 5, 6]);
    let hashes = all_between(&page, "<code class=\"full-hash\">", "</code>");
    let api_hashes: Vec<&str> = api_events
        .iter()
        .map(|event| event["hash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes, api_hashes, "the log shows the API's hashes");
    let (_, _, page) = auditor
        .get(&format!("{address}/console/audit/log?after=2&limit=25"))
        .await;
    assert_eq!(positions(&page), vec![3, 4, 5, 6]);
    assert!(page.contains("?before=3&amp;limit=25"), "an earlier link");
    let (_, _, page) = auditor
        .get(&format!("{address}/console/audit/log?before=4&limit=25"))
        .await;
    assert_eq!(positions(&page), vec![1, 2, 3]);
    assert!(page.contains("?after=3&amp;limit=25"), "a later link");
    assert!(!page.contains("rel=\"prev\""), "nothing before position 1");

    // By type, by case, and both; a filtered page goes on from the positions it covered.
    let (_, _, page) = auditor
        .get(&format!(
            "{address}/console/audit/log?type=NoteAdded&limit=25"
        ))
        .await;
    assert_eq!(positions(&page), vec![2, 3, 5]);
    let (_, _, page) = auditor
        .get(&format!(
            "{address}/console/audit/log?type=NoteAdded&after=0&limit=2"
        ))
        .await;
    assert_eq!(positions(&page), vec![2, 3]);
    assert!(
        page.contains("?after=3&amp;limit=2&amp;type=NoteAdded"),
        "{page}"
    );
    let (_, _, page) = auditor
        .get(&format!(
            "{address}/console/audit/log?type=NoteAdded&after=3&limit=2"
        ))
        .await;
    assert_eq!(positions(&page), vec![5]);
    let (_, _, page) = auditor
        .get(&format!("{address}/console/audit/log?case={case}&limit=25"))
        .await;
    assert_eq!(positions(&page), vec![1, 2, 3, 6]);
    assert!(page.contains(&format!("href=\"/console/audit/cases/{case}/history\"")));
    let (_, _, page) = auditor
        .get(&format!(
            "{address}/console/audit/log?case={case}&type=NoteAdded&before=3&limit=25"
        ))
        .await;
    assert_eq!(positions(&page), vec![2]);
    let (_, _, page) = auditor
        .get(&format!(
            "{address}/console/audit/log?case={case}&after=1&limit=2"
        ))
        .await;
    assert_eq!(positions(&page), vec![2, 3]);
    assert!(page.contains(&format!("?after=3&amp;limit=2&amp;case={case}")));

    // Bad input: said beside its field, nothing listed, never a 500.
    for (query, field) in [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("type=Bogus", "type"),
        ("case=not-a-case", "case"),
        ("after=1&before=3", "before"),
    ] {
        let (status, _, page) = auditor
            .get(&format!("{address}/console/audit/log?{query}"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {page}");
        assert!(page.contains(&format!("id=\"{field}-error\"")), "{query}");
        assert!(positions(&page).is_empty(), "{query}");
    }

    // The case's history: every event with the API's prev_hash and hash, its data sealed.
    let history = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &auditor_token)
            .await,
        StatusCode::OK,
    )
    .await;
    let (status, _, page) = auditor
        .get(&format!("{address}/console/audit/cases/{case}/history"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let shown = all_between(&page, "<code class=\"full-hash\">", "</code>");
    let expected: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|event| {
            [
                event["prev_hash"].as_str().unwrap(),
                event["hash"].as_str().unwrap(),
            ]
        })
        .collect();
    assert_eq!(
        shown, expected,
        "the history shows the API's hashes in order"
    );
    assert!(
        page.contains("\"complainant\":{\"sealed\":\""),
        "the complainant only sealed"
    );
    assert!(page.contains("雇主称下周整改。"));
    // Paged: two at a time, on from version 2.
    let (_, _, page) = auditor
        .get(&format!(
            "{address}/console/audit/cases/{case}/history?after_version=2&limit=2"
        ))
        .await;
    assert_eq!(all_between(&page, "<tr id=\"v", "\"").len(), 2);
    assert!(page.contains("<tr id=\"v3\"") && page.contains("<tr id=\"v4\""));
    assert!(
        page.contains("history?after_version=0&amp;limit=2"),
        "earlier"
    );
    let (status, _, _) = auditor
        .get(&format!(
            "{address}/console/audit/cases/{case}/history?limit=x"
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = auditor
        .get(&format!(
            "{address}/console/audit/cases/{}/history",
            Uuid::new_v4()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_auditor_travels_verifies_checks_checkpoints_exports_and_sees_no_complainant() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let mut auditor = signed_in_as(&app, "shen.ji", Role::Auditor, None).await;
    let case = seed(&app).await;
    let address = app.address.clone();
    let auditor_token = app.token("auditor", None).await;
    app.app.try_checkpoint(chrono::Utc::now()).await.unwrap();
    let mut pages: Vec<(String, String)> = Vec::new();

    // Version 1 is the API's ?at_version=1.
    let at_one = expect_status(
        app.get(&format!("/v1/cases/{case}?at_version=1"), &auditor_token)
            .await,
        StatusCode::OK,
    )
    .await;
    let url = format!("{address}/console/audit/cases/{case}/versions?version=1");
    let (status, _, page) = auditor.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("第 1 版时的案件（共 4 版）"), "{page}");
    assert_eq!(at_one["version"], json!(1));
    let point = all_between(&page, "<code class=\"full-hash\">", "</code>");
    let history = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &auditor_token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(point, vec![history["events"][0]["hash"].as_str().unwrap()]);
    assert!(page.contains(at_one["title"].as_str().unwrap()));
    assert!(
        !page.contains("li.ming"),
        "nobody was assigned at version 1"
    );
    assert!(page.contains("投诉人信息不向您的角色显示。"));
    pages.push((url.clone(), page));
    let url = format!("{address}/console/audit/cases/{case}/versions");
    let (_, _, page) = auditor.get(&url).await;
    assert!(page.contains("第 4 版时的案件（共 4 版）") && page.contains("li.ming"));
    pages.push((url, page));
    // By time: now is the latest version; before the opening is no case.
    let now = (chrono::Utc::now() + chrono::Duration::minutes(1))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let url = format!("{address}/console/audit/cases/{case}/versions?at={now}");
    let (status, _, page) = auditor.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("第 4 版（共 4 版）"), "{page}");
    let (status, _, page) = auditor
        .get(&format!(
            "{address}/console/audit/cases/{case}/versions?at=2020-01-01T08:00"
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("那时本案尚未立案。"));
    for query in [
        "version=1&at=2020-01-01T08:00",
        "version=abc",
        "version=99",
        "at=yesterday",
    ] {
        let (status, _, page) = auditor
            .get(&format!(
                "{address}/console/audit/cases/{case}/versions?{query}"
            ))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {page}");
    }

    // Verifying the whole chain: a POST with the form's token, the run, its result as the API's.
    let verify = format!("{address}/console/audit/verify");
    let (_, _, page) = auditor.get(&verify).await;
    assert!(page.contains("本服务实例尚未进行过校验。"));
    let origin = auditor.origin.clone();
    let (status, _, _) = auditor
        .post(&verify, &origin, &[("_form_token", "forged")])
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a forged form starts nothing"
    );
    let (status, headers, _) = auditor.submit(&verify, &verify, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/console/audit/verify");
    let fragment = loop {
        let (status, _, fragment) = auditor
            .get(&format!("{address}/console/audit/verify/status"))
            .await;
        assert_eq!(status, StatusCode::OK);
        if !fragment.contains("hx-trigger") {
            break fragment;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let api = expect_status(
        app.get("/v1/audit/verify", &auditor_token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(api["ok"], json!(true));
    assert!(fragment.contains("哈希链完整"), "{fragment}");
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    assert_eq!(
        all_between(&fragment, "id=\"verify-events\">", "<"),
        vec![api["events"].to_string()]
    );
    assert_eq!(
        all_between(&fragment, "id=\"verify-head-hash\">", "<"),
        vec![api["head"]["hash"].as_str().unwrap()]
    );
    let (_, _, page) = auditor.get(&verify).await;
    assert!(page.contains("哈希链完整") && page.contains("auditor shen.ji"));
    pages.push((verify.clone(), page));

    // The checkpoints, each signature checked: the API's, all valid.
    let api = expect_status(
        app.get("/v1/audit/checkpoints", &auditor_token).await,
        StatusCode::OK,
    )
    .await;
    let checkpoints = api["checkpoints"].as_array().unwrap();
    assert!(!checkpoints.is_empty());
    let url = format!("{address}/console/audit/checkpoints");
    let (status, _, page) = auditor.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page.matches("✓ 有效").count(), checkpoints.len(), "{page}");
    assert!(!page.contains("✗"));
    assert!(page.contains(&format!(
        "本页签名有效 {} 个，无效 0 个。",
        checkpoints.len()
    )));
    // Base64's `/` is escaped in HTML.
    let unescaped = page.replace("&#x2f;", "/");
    for checkpoint in checkpoints {
        assert!(unescaped.contains(checkpoint["root_hash"].as_str().unwrap()));
    }
    let key = expect_status(
        app.get("/v1/audit/public-key", &auditor_token).await,
        StatusCode::OK,
    )
    .await;
    assert!(unescaped.contains(key["public_key"].as_str().unwrap()));
    pages.push((url, page));
    let (status, _, _) = auditor
        .get(&format!("{address}/console/audit/checkpoints?after=x"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The export: the API's bytes, as an attachment, which the binary verifies.
    let (status, headers, export) = auditor
        .get(&format!("{address}/console/audit/export"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"caseledger-export-"));
    let api_export = app
        .get("/v1/audit/export", &auditor_token)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(export, api_export);
    assert_eq!(export.lines().count(), 6);
    assert_no_personal_data(&export, "the export");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.ndjson");
    std::fs::write(&file, &export).unwrap();
    let output = caseledger(args(&[&"audit", &"verify", &file])).await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("ok: 6 events, head 6 "),
        "{}",
        text(&output)
    );

    // No complainant anywhere an auditor looks, in either language.
    for path in [
        "/console/audit/log".to_owned(),
        format!("/console/audit/log?case={case}"),
        format!("/console/audit/cases/{case}/history"),
        "/console/audit/verify/status".to_owned(),
    ] {
        let url = format!("{address}{path}");
        let (status, _, page) = auditor.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        pages.push((url, page));
    }
    let (status, _, _) = auditor
        .get(&format!("{address}/console/language/en?back=/console/"))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    for (url, _) in pages.clone() {
        let (_, _, page) = auditor.get(&url).await;
        pages.push((format!("{url} (en)"), page));
    }
    for (url, page) in pages
        .iter()
        .filter(|(url, page)| url.ends_with("(en)") && page.contains("<html"))
    {
        assert!(page.contains("<html lang=\"en\">"), "{url}");
    }
    for (url, page) in &pages {
        assert_no_personal_data(page, url);
    }
    // The officer's own case page does show them: the seed really holds them.
    let (_, _, officer_view) = admin.get(&format!("{address}/console/cases/{case}")).await;
    assert!(officer_view.contains(COMPLAINANT_NAME));
}

#[tokio::test]
async fn officers_and_partners_get_the_forbidden_page_from_every_audit_page() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let case = seed(&app).await;
    let address = app.address.clone();
    let mut officer = signed_in_as(&app, "li.ming", Role::Officer, None).await;
    let mut partner = signed_in_as(&app, "hrss.zhang", Role::Partner, Some("hrss")).await;
    let paths = [
        "/console/audit/log".to_owned(),
        format!("/console/audit/cases/{case}/history"),
        format!("/console/audit/cases/{case}/versions?version=1"),
        "/console/audit/verify".to_owned(),
        "/console/audit/verify/status".to_owned(),
        "/console/audit/checkpoints".to_owned(),
        "/console/audit/export".to_owned(),
    ];
    for person in [&mut officer, &mut partner] {
        let (_, _, home) = person.get(&format!("{address}/console/")).await;
        assert!(!home.contains("/console/audit/"), "no audit link for them");
        for path in &paths {
            let (status, headers, page) = person.get(&format!("{address}{path}")).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
            assert!(page.contains("<h1>"), "{path}: the problem page");
            assert_ne!(headers["content-type"], "application/x-ndjson");
            assert_no_personal_data(&page, path);
        }
        let token = form_token(&person.get(&format!("{address}/console/")).await.2);
        let origin = person.origin.clone();
        let (status, _, _) = person
            .post(
                &format!("{address}/console/audit/verify"),
                &origin,
                &[("_form_token", token.as_str())],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // Signed out: the sign-in page, coming back after.
    let mut stranger = Browser::new(&address);
    let (status, headers, _) = stranger.get(&format!("{address}/console/audit/log")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location(&headers).starts_with("/console/sign-in?next="));
    // The admin sees the workbench.
    let (status, _, page) = admin.get(&format!("{address}/console/audit/log")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("href=\"/console/audit/log\" aria-current=\"page\""));
}

#[tokio::test]
async fn an_auditor_verifies_travels_and_downloads_an_export_in_a_real_browser() {
    let Some(session) = ConsoleSession::admin(
        "console_audit::an_auditor_verifies_travels_and_downloads_an_export_in_a_real_browser",
    )
    .await
    else {
        return;
    };
    let browser = &session.browser;
    let address = session.server.address.clone();

    // A case with a complainant, through the API with a token the admin makes in a session.
    let mut admin = Browser::new(&address);
    let sign_in = session.url("/console/sign-in");
    let (status, _, _) = admin
        .submit(
            &sign_in,
            &sign_in,
            &[
                ("login", "admin"),
                ("password", ADMIN_PASSWORD),
                ("next", "/console/"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let token = std::fs::read_to_string(session.data_dir().join("initial-admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    let opened: Value = client
        .post(format!("{address}/v1/cases"))
        .bearer_auth(&token)
        .json(&crate::support::valid_case_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case = opened["case_id"].as_str().unwrap().to_owned();
    for text in ["雇主称下周整改。", "职工再次来电。"] {
        let response = client
            .post(format!("{address}/v1/cases/{case}/notes"))
            .bearer_auth(&token)
            .json(&json!({"text": text}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    // The admin makes the auditor's account; the auditor sets a password and signs in.
    let users = session.url("/console/users");
    let (_, _, page) = admin
        .submit(
            &users,
            &users,
            &[
                ("login", "shen.ji"),
                ("name", "沈计"),
                ("role", "auditor"),
                ("department", ""),
            ],
        )
        .await;
    let setup_url = all_between(
        &page,
        "id=\"setup-url\" class=\"copy\" type=\"text\" readonly value=\"",
        "\"",
    )[0]
    .replace("&#x2f;", "/");
    browser.click_button("退出登录").await;
    browser.wait_for_heading("登录").await;
    browser.goto(&setup_url).await;
    browser.wait_for_heading("设置密码").await;
    browser.fill("新密码", ADMIN_PASSWORD).await;
    browser.fill("再次输入新密码", ADMIN_PASSWORD).await;
    browser.click_button("保存密码").await;
    browser.wait_for_heading("登录").await;
    session.sign_in("shen.ji", ADMIN_PASSWORD).await;
    browser.wait_for_heading("我的待办").await;

    // The global log, by the menu.
    browser.click_button("审计").await;
    browser.wait_for_heading("全局日志").await;
    assert!(browser.main_text().await.contains("位置 1 至 3：3 个事件"));
    browser.check_page("audit-log.zh-CN").await;

    // Verify the whole chain and see the result (polled by htmx).
    browser.click_button("校验哈希链").await;
    browser.wait_for_heading("校验哈希链").await;
    browser.check_page("audit-verify.zh-CN").await;
    browser.click_button("校验整条哈希链").await;
    let verdict = browser.find(".verdict.ok").await;
    assert!(verdict.text().await.unwrap().contains("哈希链完整"));
    assert_eq!(
        browser.find("#verify-events").await.text().await.unwrap(),
        "3"
    );
    browser.check_page("audit-verified.zh-CN").await;

    // The checkpoints.
    browser.click_button("签名检查点").await;
    browser.wait_for_heading("签名检查点").await;
    browser.check_page("audit-checkpoints.zh-CN").await;

    // The case's history from the log, then version 1 by the stepper.
    browser
        .goto(&session.url(&format!("/console/audit/cases/{case}/history")))
        .await;
    browser.wait_for_heading("案件历史").await;
    browser.check_page("audit-history.zh-CN").await;
    // On a phone's width the page does not scroll sideways (the table scrolls in its frame).
    browser.set_width(360).await;
    let width = browser
        .run("return document.documentElement.scrollWidth;")
        .await;
    assert!(width.as_u64().unwrap() <= 360, "{width}");
    browser.check_page("audit-history.zh-CN.360px").await;
    browser.set_width(1280).await;
    browser
        .goto(&session.url(&format!("/console/audit/cases/{case}/versions")))
        .await;
    browser.wait_for_heading("案件各版本").await;
    browser.click_button("第一版").await;
    main_text_shows(browser, "第 1 版时的案件（共 3 版）").await;
    browser.check_page("audit-versions.zh-CN").await;
    // The version by its number, typed.
    browser.fill("版本号（1–3）", "2").await;
    browser.click_button("查看").await;
    main_text_shows(browser, "第 2 版时的案件（共 3 版）").await;

    // Every page again in English.
    browser.click_button("English").await;
    browser.wait_for_heading("Case versions").await;
    browser.check_page("audit-versions.en").await;
    for (path, heading, name) in [
        (
            "/console/audit/log".to_owned(),
            "Global log",
            "audit-log.en",
        ),
        (
            format!("/console/audit/cases/{case}/history"),
            "Case history",
            "audit-history.en",
        ),
        (
            "/console/audit/verify".to_owned(),
            "Verify the hash chain",
            "audit-verify.en",
        ),
        (
            "/console/audit/checkpoints".to_owned(),
            "Signed checkpoints",
            "audit-checkpoints.en",
        ),
    ] {
        browser.goto(&session.url(&path)).await;
        browser.wait_for_heading(heading).await;
        browser.check_page(name).await;
        let text = browser.main_text().await;
        for secret in [COMPLAINANT_NAME, COMPLAINANT_PHONE, VALID_ID_NUMBER] {
            assert!(!text.contains(secret), "{path} shows {secret}");
        }
    }

    // The export, fetched with the browser's session cookie, which the binary accepts.
    let cookie = browser
        .client()
        .get_named_cookie("caseledger_session")
        .await
        .unwrap();
    let export = client
        .get(session.url("/console/audit/export"))
        .header("cookie", format!("caseledger_session={}", cookie.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    let export = export.text().await.unwrap();
    assert_eq!(export.lines().count(), 3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.ndjson");
    std::fs::write(&file, &export).unwrap();
    let output = caseledger(args(&[&"audit", &"verify", &file])).await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok: 3 events, head 3 "));

    let ConsoleSession {
        browser, server, ..
    } = session;
    browser.close().await;
    server.stop();
}
