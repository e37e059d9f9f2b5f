//! The partner departments' portal in the console (contract §8 "partner departments", §3, §7;
//! issue #14) over plain HTTP: a partner signed in sees only the cases shared with its
//! department, without any complainant's personal data or the union's internal notes; a
//! case not shared with it answers the same "not found" page as a case that does not exist
//! (as the API answers 404); the case page shows the sharing event and what followed, the
//! letter documents addressed to it and the files shared with it; its feedback form records
//! the event with the partner as actor; and its feed page holds exactly the messages of
//! `GET /v1/feed`.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::console_client::{hidden_fields, location, person_signed_in, Browser};
use crate::support::{
    expect_status, spawn_app, TestApp, COMPLAINANT_NAME, COMPLAINANT_PHONE, VALID_ID_NUMBER,
};

/// A note only the union's staff may read.
const INTERNAL_NOTE: &str = "内部备注：投诉人担心被报复，勿外传";

/// The `<main>` of a page: what a person reads, without the menu (whose language link names
/// the page's own address).
fn main_of(page: &str) -> &str {
    let start = page.find("<main").expect("a <main>");
    &page[start..start + page[start..].find("</main>").unwrap()]
}

/// `GET url`, expecting `status`; returns the page.
async fn page(browser: &mut Browser, url: &str, status: StatusCode) -> String {
    let (actual, _, body) = browser.get(url).await;
    assert_eq!(actual, status, "{url}: {body}");
    body
}

/// Uploads `bytes` as a file of `case` with the admin token.
async fn attach(app: &TestApp, case: Uuid, query: &str, bytes: &[u8]) -> Value {
    let response = app
        .request(
            Method::POST,
            &format!("/v1/cases/{case}/attachments?{query}"),
            Some(&app.admin_token),
        )
        .header(CONTENT_TYPE, "text/plain")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::CREATED).await
}

/// Posts the case page's form that goes to `action` as the page offers it (the folded form
/// fetched first), with `fields`.
async fn post_case_form(
    browser: &mut Browser,
    address: &str,
    case_page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let page = browser.with_form(case_page, address, action).await;
    let mut all = hidden_fields(&page, action);
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

#[tokio::test]
async fn a_partner_sees_only_shared_cases_without_personal_data_and_posts_feedback() {
    let app = spawn_app().await;
    let shared = app.open_valid_case(&app.admin_token).await;
    let unshared = app.open_valid_case(&app.admin_token).await;
    app.command(
        shared,
        "notes",
        &app.admin_token,
        &json!({"text": INTERNAL_NOTE}),
        StatusCode::OK,
    )
    .await;
    // An opinion letter to the employer (not for the department), then the recommendation
    // letter that shares the case with HRSS.
    let opinion = app
        .command(
            shared,
            "letters",
            &app.admin_token,
            &json!({"kind": "opinion", "recipient": "某建材有限公司", "content": "请于期限内发放防尘口罩。"}),
            StatusCode::OK,
        )
        .await;
    let opinion_issued = app.case(shared, &app.admin_token).await["letters"][0]["letter_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The employer did not act on it: the recommendation may follow.
    app.command(
        shared,
        &format!("letters/{opinion_issued}/response"),
        &app.admin_token,
        &json!({"rectified": false, "content": "企业称暂无资金购置。"}),
        StatusCode::OK,
    )
    .await;
    let recommendation = app
        .command(
            shared,
            "letters",
            &app.admin_token,
            &json!({"kind": "recommendation", "recipient": "市人力资源和社会保障局", "content": "建议依法督促企业整改。", "department": "hrss"}),
            StatusCode::OK,
        )
        .await;
    for issued in [&opinion, &recommendation] {
        assert_eq!(
            issued["events"],
            json!(["SupervisionLetterIssued"]),
            "{issued}"
        );
    }
    let letters = app.case(shared, &app.admin_token).await["letters"].clone();
    let letter_of = |kind: &str| {
        letters
            .as_array()
            .unwrap()
            .iter()
            .find(|letter| letter["kind"] == kind)
            .unwrap()["letter_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (opinion_id, recommendation_id) = (letter_of("opinion"), letter_of("recommendation"));
    // A file shared with departments, and a personal one.
    attach(
        &app,
        shared,
        "filename=现场检查记录.txt&personal=false&shared=true",
        "车间未发放口罩".as_bytes(),
    )
    .await;
    let personal = attach(
        &app,
        shared,
        "filename=投诉人身份证.txt&personal=true&shared=true",
        "王秀英 身份证".as_bytes(),
    )
    .await;

    let (mut partner, partner_id) = person_signed_in(
        &app,
        "hrss.zhang",
        "张科长",
        caseledger_domain::Role::Partner,
        Some("hrss"),
    )
    .await;
    let address = app.address.clone();

    // The front page lists the shared case only, and leads to the feed.
    let home = page(&mut partner, &format!("{address}/console/"), StatusCode::OK).await;
    assert!(home.contains(&format!("/console/cases/{shared}")), "{home}");
    assert!(
        !home.contains(&format!("/console/cases/{unshared}")),
        "{home}"
    );
    assert!(home.contains("href=\"/console/feed\""));
    assert!(
        !home.contains("href=\"/console/cases/new\"") && !home.contains("href=\"/console/tokens\"")
    );
    let list = page(
        &mut partner,
        &format!("{address}/console/cases"),
        StatusCode::OK,
    )
    .await;
    assert!(list.contains(&format!("/console/cases/{shared}")));
    assert!(!list.contains(&format!("/console/cases/{unshared}")));
    assert!(
        !list.contains("id=\"department\""),
        "no department filter for a partner"
    );

    // The shared case: no personal data, no internal note, the sharing event on top.
    let case_url = format!("{address}/console/cases/{shared}");
    let case_page = page(&mut partner, &case_url, StatusCode::OK).await;
    for secret in [
        COMPLAINANT_NAME,
        COMPLAINANT_PHONE,
        VALID_ID_NUMBER,
        INTERNAL_NOTE,
        "投诉人身份证",
    ] {
        assert!(
            !case_page.contains(secret),
            "{secret} shown to a partner: {case_page}"
        );
    }
    assert!(
        case_page.contains("与人力资源和社会保障局共享的方式"),
        "{case_page}"
    );
    let shared_section = &case_page[case_page.find("class=\"panel shared-event\"").unwrap()..];
    let shared_section = &shared_section[..shared_section.find("</section>").unwrap()];
    assert!(shared_section.contains("建议书"), "{shared_section}");
    assert!(
        shared_section.contains("建议依法督促企业整改。"),
        "{shared_section}"
    );
    // The document of the letter addressed to it, not the employer's; the shared file only.
    assert!(case_page.contains(&format!("/letters/{recommendation_id}/document")));
    assert!(!case_page.contains(&format!("/letters/{opinion_id}/document")));
    let (status, headers, _) = partner
        .get(&format!("{case_url}/letters/{recommendation_id}/document"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    page(
        &mut partner,
        &format!("{case_url}/letters/{opinion_id}/document"),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(case_page.contains("现场检查记录.txt"));
    let personal_id = personal["attachment_id"].as_str().unwrap();
    assert!(!case_page.contains(personal_id), "{case_page}");
    // Only the forms a partner may use.
    for action in [
        "assign",
        "letters",
        "notes",
        "close",
        "escalate",
        "refer",
        "attachments",
        "erase",
    ] {
        assert!(
            !case_page.contains(&format!("/console/cases/{shared}/{action}\"")),
            "a partner is offered {action}"
        );
    }
    assert!(case_page.contains("?form=feedback"), "{case_page}");

    // A case not shared with it: the same "not found" as a case that does not exist, and the
    // API's 404.
    let hidden = page(
        &mut partner,
        &format!("{address}/console/cases/{unshared}"),
        StatusCode::NOT_FOUND,
    )
    .await;
    let missing = page(
        &mut partner,
        &format!("{address}/console/cases/{}", Uuid::new_v4()),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(main_of(&hidden), main_of(&missing));
    assert!(!hidden.contains("Missing dust masks"));
    let partner_token = app.token("partner", Some("hrss")).await;
    let response = app
        .get(&format!("/v1/cases/{unshared}"), &partner_token)
        .await;
    expect_status(response, StatusCode::NOT_FOUND).await;
    // Its files and letters too.
    page(
        &mut partner,
        &format!("{address}/console/cases/{unshared}/letters/{opinion_id}/document"),
        StatusCode::NOT_FOUND,
    )
    .await;
    // The admin pages are not the partner's.
    page(
        &mut partner,
        &format!("{address}/console/tokens"),
        StatusCode::FORBIDDEN,
    )
    .await;
    page(
        &mut partner,
        &format!("{address}/console/webhooks"),
        StatusCode::FORBIDDEN,
    )
    .await;

    // Feedback: an empty one is refused beside its field and records nothing…
    let action = format!("/console/cases/{shared}/feedback");
    let (status, _, refused) = post_case_form(
        &mut partner,
        &address,
        &case_page,
        &action,
        &[("content", "  "), ("outcome", "")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.contains("id=\"feedback-content-error\""),
        "{refused}"
    );
    assert!(!app
        .event_types(shared, &app.admin_token)
        .await
        .contains(&"DepartmentFeedbackRecorded".to_owned()));
    // …a real one is recorded with the partner as its actor and shows in the case history.
    let (status, headers, _) = post_case_form(
        &mut partner,
        &address,
        &case_page,
        &action,
        &[
            ("content", "已立案调查，责令企业七日内整改。"),
            ("outcome", "已立案"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&headers),
        format!("/console/cases/{shared}?done=feedback")
    );
    let history = app
        .get(&format!("/v1/cases/{shared}/history"), &app.admin_token)
        .await;
    let history = expect_status(history, StatusCode::OK).await;
    let feedback = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "DepartmentFeedbackRecorded")
        .unwrap()
        .clone();
    assert_eq!(feedback["actor"]["user_id"], partner_id.to_string());
    assert_eq!(feedback["actor"]["role"], "partner");
    assert_eq!(feedback["actor"]["department"], "hrss");
    assert_eq!(feedback["actor"]["name"], "张科长");
    assert_eq!(
        feedback["data"]["content"],
        "已立案调查，责令企业七日内整改。"
    );
    let after = page(
        &mut partner,
        &format!("{case_url}?done=feedback"),
        StatusCode::OK,
    )
    .await;
    let timeline = &after[after.find("id=\"timeline-heading\"").unwrap()..];
    assert!(timeline.contains("已立案调查，责令企业七日内整改。") && timeline.contains("张科长"));
    // The officers see it too.
    let admin_view = app.case(shared, &app.admin_token).await;
    assert_eq!(
        admin_view["feedback"][0]["content"],
        "已立案调查，责令企业七日内整改。"
    );

    // The feed page: exactly the messages of GET /v1/feed, in the same order.
    let mut api_messages: Vec<Value> = Vec::new();
    let started = std::time::Instant::now();
    while !api_messages
        .iter()
        .any(|message| message["body"]["type"] == "case.DepartmentFeedbackRecorded")
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let response = app.get("/v1/feed?limit=50", &partner_token).await;
        api_messages = expect_status(response, StatusCode::OK).await["messages"]
            .as_array()
            .unwrap()
            .clone();
    }
    let feed = page(
        &mut partner,
        &format!("{address}/console/feed"),
        StatusCode::OK,
    )
    .await;
    let mut at = 0;
    for message in &api_messages {
        let id = message["webhook_id"].as_str().unwrap();
        let found = feed[at..]
            .find(&format!("<code>{id}</code>"))
            .unwrap_or_else(|| panic!("{id} is not in the feed page in order: {feed}"));
        at += found;
    }
    assert_eq!(
        feed.matches("<li class=\"panel\">").count(),
        api_messages.len(),
        "{feed}"
    );
    for secret in [
        COMPLAINANT_NAME,
        COMPLAINANT_PHONE,
        VALID_ID_NUMBER,
        INTERNAL_NOTE,
    ] {
        assert!(!feed.contains(secret), "{secret} in the feed page");
    }
    // Paging on from the last message shows nothing more, and a bad `after` reads the start.
    let last = api_messages.last().unwrap()["position"].as_u64().unwrap();
    let rest = page(
        &mut partner,
        &format!("{address}/console/feed?after={last}"),
        StatusCode::OK,
    )
    .await;
    assert!(rest.contains("这一页没有消息"), "{rest}");
    let start = page(
        &mut partner,
        &format!("{address}/console/feed?after=x"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        start.matches("<li class=\"panel\">").count(),
        api_messages.len()
    );
    // Other roles have no feed: the API's refusal.
    let (mut officer, _) = person_signed_in(
        &app,
        "li.ming",
        "李明",
        caseledger_domain::Role::Officer,
        None,
    )
    .await;
    page(
        &mut officer,
        &format!("{address}/console/feed"),
        StatusCode::FORBIDDEN,
    )
    .await;
    let officers_view = page(&mut officer, &case_url, StatusCode::OK).await;
    assert!(
        officers_view.contains(INTERNAL_NOTE),
        "officers read the notes"
    );
    assert!(!officers_view.contains("class=\"panel shared-event\""));
}

#[tokio::test]
async fn a_partner_reads_a_shared_case_posts_feedback_and_reads_its_feed_in_a_real_browser() {
    use crate::console_admin::{
        choose_option, switch_language, token_from_the_tokens_page, value_of, wait_for_xpath,
    };
    use crate::support::browser::{ConsoleSession, ADMIN_PASSWORD};

    let Some(session) = ConsoleSession::admin(
        "console_partner::a_partner_reads_a_shared_case_posts_feedback_and_reads_its_feed_in_a_real_browser",
    )
    .await
    else {
        return;
    };
    let browser = &session.browser;
    let address = session.server.address.clone();

    // The admin makes the partner's account and a token for the office's own tool.
    browser.click_button("账号").await;
    browser.wait_for_heading("账号").await;
    browser.fill("登录名", "hrss.zhang").await;
    browser.fill("姓名", "张科长").await;
    choose_option(browser, "角色", "partner").await;
    choose_option(browser, "部门", "hrss").await;
    browser.click_button("创建账号").await;
    wait_for_xpath(browser, "//input[@id='setup-url']").await;
    let setup_url = value_of(browser, "#setup-url").await;
    let token = token_from_the_tokens_page(browser, "维权系统对接", "officer").await;

    // Two cases: one referred to HRSS, with an internal note; one not shared.
    let client = reqwest::Client::new();
    let mut cases = Vec::new();
    for _ in 0..2 {
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
        cases.push(opened["case_id"].as_str().unwrap().to_owned());
    }
    let (shared, unshared) = (cases[0].clone(), cases[1].clone());
    for (command, body) in [
        ("notes", json!({"text": INTERNAL_NOTE})),
        (
            "refer",
            json!({"department": "hrss", "reason": "企业拖欠工资，请依法查处"}),
        ),
    ] {
        let response = client
            .post(format!("{address}/v1/cases/{shared}/{command}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{command}");
    }

    // The partner chooses a password and signs in: its front page lists the shared case.
    browser.click_button("退出登录").await;
    browser.wait_for_heading("登录").await;
    browser.goto(&setup_url).await;
    browser.wait_for_heading("设置密码").await;
    browser.fill("新密码", ADMIN_PASSWORD).await;
    browser.fill("再次输入新密码", ADMIN_PASSWORD).await;
    browser.click_button("保存密码").await;
    browser.wait_for_heading("登录").await;
    session.sign_in("hrss.zhang", ADMIN_PASSWORD).await;
    browser.wait_for_heading("我的待办").await;
    let home = browser.main_text().await;
    assert!(
        home.contains("Missing dust masks at the grinding line"),
        "{home}"
    );
    assert!(!home.contains(COMPLAINANT_NAME));
    browser.check_page("partner-home.zh-CN").await;

    // The case: the sharing event on top, no personal data, no internal note.
    browser
        .goto(&session.url(&format!("/console/cases/{shared}")))
        .await;
    browser
        .wait_for_heading("Missing dust masks at the grinding line")
        .await;
    let text = browser.main_text().await;
    assert!(text.contains("与人力资源和社会保障局共享的方式"), "{text}");
    assert!(text.contains("企业拖欠工资，请依法查处"), "{text}");
    for secret in [
        COMPLAINANT_NAME,
        COMPLAINANT_PHONE,
        VALID_ID_NUMBER,
        INTERNAL_NOTE,
    ] {
        assert!(!text.contains(secret), "{secret}: {text}");
    }
    browser.check_page("partner-case.zh-CN").await;

    // Its feedback, through the form.
    let summary = "//summary[normalize-space(.)='记录部门反馈']";
    browser
        .client()
        .find(fantoccini::Locator::XPath(summary))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_xpath(browser, &format!("{summary}/parent::details//form")).await;
    browser
        .fill("反馈内容", "已立案调查，责令企业七日内支付工资。")
        .await;
    browser.fill("部门处理结果", "已立案").await;
    browser
        .client()
        .find(fantoccini::Locator::XPath(&format!(
            "{summary}/parent::details//button[@type='submit']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_xpath(
        browser,
        "//p[@id='done' and normalize-space(.)='反馈已记录。']",
    )
    .await;
    let timeline = browser.find("ol.timeline").await.text().await.unwrap();
    assert!(
        timeline.contains("已立案调查，责令企业七日内支付工资。") && timeline.contains("张科长"),
        "{timeline}"
    );
    browser.check_page("partner-feedback-done.zh-CN").await;

    // A case not shared with it: not found, as any unknown case.
    browser
        .goto(&session.url(&format!("/console/cases/{unshared}")))
        .await;
    browser.wait_for_heading("找不到").await;
    let hidden = browser.main_text().await;
    browser
        .goto(&session.url(&format!("/console/cases/{}", Uuid::new_v4())))
        .await;
    browser.wait_for_heading("找不到").await;
    assert_eq!(browser.main_text().await, hidden);

    // Its feed.
    browser.goto(&session.url("/console/")).await;
    browser.click_button("本部门推送").await;
    browser.wait_for_heading("本部门推送").await;
    let started = std::time::Instant::now();
    while !browser
        .main_text()
        .await
        .contains("case.DepartmentFeedbackRecorded")
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        browser.goto(&session.url("/console/feed")).await;
        browser.wait_for_heading("本部门推送").await;
    }
    let feed = browser.main_text().await;
    assert!(feed.contains("case.ReferredToDepartment") && !feed.contains(COMPLAINANT_NAME));
    browser.check_page("partner-feed.zh-CN").await;

    // In English.
    switch_language(browser, "en").await;
    browser.wait_for_heading("Our feed").await;
    browser.check_page("partner-feed.en").await;
    browser.goto(&session.url("/console/")).await;
    browser.wait_for_heading("My work queue").await;
    browser.check_page("partner-home.en").await;
    browser
        .goto(&session.url(&format!("/console/cases/{shared}")))
        .await;
    browser
        .wait_for_heading("Missing dust masks at the grinding line")
        .await;
    assert!(browser
        .main_text()
        .await
        .contains("How the case was shared with Human Resources and Social Security"));
    browser.check_page("partner-case.en").await;
    browser.set_width(360).await;
    browser.check_page("partner-case-360.en").await;

    let ConsoleSession {
        browser, server, ..
    } = session;
    browser.close().await;
    server.stop();
}
