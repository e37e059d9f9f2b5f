//! The console in a real browser (headless chromium over WebDriver, see
//! `support::browser`): the first admin's way in through the setup link, a refused password,
//! signing in, the language switch and signing out, on the real binary; the keyboard and a
//! 360 px wide screen. Every page visited passes axe-core with no serious or critical
//! violation and is photographed, in Chinese and in English, under
//! `target/console-screenshots/`.

use fantoccini::key::Key;
use serde_json::json;

use crate::support::browser::{Browser, ConsoleSession, ADMIN_LOGIN, ADMIN_PASSWORD};

/// A password the admin never chose, long enough not to be refused as weak.
const WRONG_PASSWORD: &str = "这不是管理员的密码一二三";

#[tokio::test]
async fn the_first_admin_sets_a_password_signs_in_switches_language_and_signs_out() {
    let Some(session) = ConsoleSession::start(
        "console_browser::the_first_admin_sets_a_password_signs_in_switches_language_and_signs_out",
    )
    .await
    else {
        return;
    };
    let browser = &session.browser;

    // The setup link: Chinese by default.
    browser.goto(&session.setup_url).await;
    browser.wait_for_heading("设置密码").await;
    assert_eq!(browser.lang().await, "zh-CN");
    assert_eq!(browser.title().await, "设置密码 · caseledger 维权案件台账");
    assert!(
        browser
            .main_text()
            .await
            .contains("Administrator（登录名 admin）"),
        "{}",
        browser.main_text().await
    );
    assert_inline_scripts_are_blocked(browser).await;
    browser.check_page("setup.zh-CN").await;

    // The language switch on a page with a secret in its address goes to the sign-in page.
    browser.click_button("English").await;
    browser.wait_for_heading("Sign in").await;
    assert_eq!(browser.lang().await, "en");
    assert_eq!(browser.url().await, session.url("/console/sign-in"));
    browser.check_page("sign-in.en").await;

    // The setup page in English; a weak password is refused beside the field, which gets the
    // focus.
    browser.goto(&session.setup_url).await;
    browser.wait_for_heading("Choose a password").await;
    assert_eq!(
        browser.title().await,
        "Choose a password · caseledger rights-protection cases"
    );
    browser.check_page("setup.en").await;
    browser.fill("New password", "short").await;
    browser.fill("New password, again", "short").await;
    browser.click_button("Save the password").await;
    let error = browser.find("#password-error").await;
    assert_eq!(
        error.text().await.unwrap(),
        "The password needs at least 12 characters."
    );
    let field = browser.field("New password").await;
    assert_eq!(
        field.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert!(field
        .attr("aria-describedby")
        .await
        .unwrap()
        .unwrap_or_default()
        .contains("password-error"));
    assert_eq!(browser.focused().await, "input#password \"\"");
    browser.check_page("setup-refused.en").await;

    browser.fill("New password", ADMIN_PASSWORD).await;
    browser.fill("New password, again", ADMIN_PASSWORD).await;
    browser.click_button("Save the password").await;
    browser.wait_for_heading("Sign in").await;
    assert_eq!(browser.url().await, session.url("/console/sign-in?done=1"));
    assert_eq!(
        browser.find("[role=status]").await.text().await.unwrap(),
        "Your password is set. Please sign in."
    );
    browser.check_page("sign-in-after-setup.en").await;

    // A wrong password: the same page with the reason, announced, in English…
    browser.fill("Login", ADMIN_LOGIN).await;
    let password = browser.fill("Password", WRONG_PASSWORD).await;
    password.send_keys(&Key::Enter.to_string()).await.unwrap();
    let refused = browser.find("#sign-in-error").await;
    assert_eq!(
        refused.text().await.unwrap(),
        "The login or the password is wrong."
    );
    assert_eq!(
        refused.attr("role").await.unwrap().as_deref(),
        Some("alert")
    );
    // …with the focus back in the password field, which the error describes.
    let focused = browser.client().active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("password")
    );
    assert_eq!(
        focused.attr("aria-describedby").await.unwrap().as_deref(),
        Some("sign-in-error")
    );
    assert!(browser
        .client()
        .get_named_cookie("caseledger_session")
        .await
        .is_err());
    browser.check_page("sign-in-refused.en").await;

    // …and in Chinese.
    browser.click_button("简体中文").await;
    browser.wait_for_heading("登录").await;
    assert_eq!(browser.lang().await, "zh-CN");
    browser.check_page("sign-in.zh-CN").await;
    session.sign_in(ADMIN_LOGIN, WRONG_PASSWORD).await;
    assert_eq!(
        browser.find("#sign-in-error").await.text().await.unwrap(),
        "登录名或密码不正确。"
    );
    browser.check_page("sign-in-refused.zh-CN").await;

    // The check has teeth: a field without its label is a critical violation.
    browser
        .run("document.querySelector('label[for=password]').remove();")
        .await;
    let violations = browser.axe_violations("sign-in without a label").await;
    assert!(
        violations
            .iter()
            .any(|violation| violation["id"] == "label" && violation["impact"] == "critical"),
        "{violations:?}"
    );

    // Signing in: the home page, with a session cookie no script can read.
    session.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
    browser.wait_for_heading("我的待办").await;
    assert_eq!(browser.url().await, session.url("/console/"));
    assert_eq!(browser.title().await, "我的待办 · caseledger 维权案件台账");
    assert!(browser.main_text().await.contains("Administrator，您好。"));
    assert!(browser
        .find("header nav")
        .await
        .text()
        .await
        .unwrap()
        .contains("Administrator · 管理员"));
    let cookie = browser
        .client()
        .get_named_cookie("caseledger_session")
        .await
        .expect("signing in sets the session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert!(cookie.to_string().contains("SameSite=Strict"), "{cookie}");
    assert_eq!(browser.run("return document.cookie;").await, json!(""));
    browser.check_page("home.zh-CN").await;

    browser.click_button("English").await;
    browser.wait_for_heading("My work queue").await;
    assert_eq!(browser.url().await, session.url("/console/"));
    assert!(browser.main_text().await.contains("Hello, Administrator."));
    browser.check_page("home.en").await;

    // The setup link worked once: now it is the "not found" page, in both languages.
    browser.goto(&session.setup_url).await;
    browser.wait_for_heading("Not found").await;
    browser.check_page("problem-not-found.en").await;
    browser
        .goto(&session.url("/console/language/zh-CN?back=/console/"))
        .await;
    browser.wait_for_heading("我的待办").await;
    browser.goto(&session.setup_url).await;
    browser.wait_for_heading("找不到").await;
    browser.check_page("problem-not-found.zh-CN").await;

    // Signing out ends the session: the console sends the browser back to sign in.
    browser.goto(&session.url("/console/")).await;
    browser.click_button("退出登录").await;
    browser.wait_for_heading("登录").await;
    assert_eq!(browser.url().await, session.url("/console/sign-in"));
    assert!(browser
        .client()
        .get_named_cookie("caseledger_session")
        .await
        .is_err());
    browser.goto(&session.url("/console/")).await;
    browser.wait_for_heading("登录").await;
    assert_eq!(
        browser.url().await,
        session.url("/console/sign-in?next=%2Fconsole%2F")
    );

    let ConsoleSession {
        browser, server, ..
    } = session;
    browser.close().await;
    server.stop();
}

#[tokio::test]
async fn the_console_works_from_the_keyboard_on_a_360_px_wide_screen() {
    let Some(session) = ConsoleSession::admin(
        "console_browser::the_console_works_from_the_keyboard_on_a_360_px_wide_screen",
    )
    .await
    else {
        return;
    };
    let browser = &session.browser;
    browser.set_width(360).await;
    browser.goto(&session.url("/console/")).await;
    browser.wait_for_heading("我的待办").await;
    assert_fits_the_width(browser, 360).await;

    // Tab goes through the page in reading order, first to the skip link, and what has the
    // focus is always outlined.
    let mut order = Vec::new();
    for _ in 0..10 {
        browser.press(Key::Tab).await;
        assert_focus_is_visible(browser).await;
        order.push(browser.focused().await);
    }
    assert_eq!(
        order,
        [
            "a.skip-link \"跳到正文\"",
            "a.brand \"caseledger 维权案件台账\"",
            "a \"我的待办\"",
            "a \"案件\"",
            "a \"新建案件\"",
            "a \"审计\"",
            "a \"账号\"",
            "a \"English\"",
            "button.link \"退出登录\"",
            "a.button \"新建案件\"",
        ]
    );
    browser.check_page("home.zh-CN.360px").await;

    // The skip link takes the focus past the menu, to the page's content.
    browser.goto(&session.url("/console/")).await;
    browser.wait_for_heading("我的待办").await;
    browser.press(Key::Tab).await;
    browser.press(Key::Enter).await;
    assert_eq!(browser.focused().await.split(' ').next(), Some("main#main"));

    // The language link and signing out, by keyboard alone: on from the content, round to
    // the menu.
    let mut presses = 0;
    while browser.focused().await != "a \"English\"" {
        browser.press(Key::Tab).await;
        presses += 1;
        assert!(presses < 20, "Tab never reached the language link");
    }
    browser.press(Key::Enter).await;
    browser.wait_for_heading("My work queue").await;
    assert_fits_the_width(browser, 360).await;
    browser.check_page("home.en.360px").await;

    browser.click_button("Sign out").await;
    browser.wait_for_heading("Sign in").await;
    assert_fits_the_width(browser, 360).await;
    browser.check_page("sign-in.en.360px").await;

    // Signing in again by keyboard alone: Tab to the login, type, Tab, type, Enter.
    for _ in 0..10 {
        browser.press(Key::Tab).await;
        if browser.focused().await.starts_with("input#login") {
            break;
        }
    }
    assert_eq!(browser.focused().await, "input#login \"\"");
    let login = browser.client().active_element().await.unwrap();
    login.send_keys(ADMIN_LOGIN).await.unwrap();
    browser.press(Key::Tab).await;
    let password = browser.client().active_element().await.unwrap();
    assert_eq!(
        password.attr("id").await.unwrap().as_deref(),
        Some("password")
    );
    password.send_keys(ADMIN_PASSWORD).await.unwrap();
    browser.press(Key::Enter).await;
    browser.wait_for_heading("My work queue").await;
    assert_eq!(browser.url().await, session.url("/console/"));

    let ConsoleSession {
        browser, server, ..
    } = session;
    browser.close().await;
    server.stop();
}

/// The page's Content-Security-Policy refuses an inline script put into the page, while the
/// WebDriver script that put it there (as axe is injected) ran.
async fn assert_inline_scripts_are_blocked(browser: &Browser) {
    let ran = browser
        .run(
            "window.inlineScriptRan = false; \
             const script = document.createElement('script'); \
             script.textContent = 'window.inlineScriptRan = true;'; \
             document.head.appendChild(script); \
             return window.inlineScriptRan;",
        )
        .await;
    assert_eq!(ran, json!(false), "the CSP blocks inline scripts");
}

/// Nothing sticks out sideways: no horizontal scrolling at `width` px.
async fn assert_fits_the_width(browser: &Browser, width: u64) {
    let scroll_width = browser
        .run("return document.documentElement.scrollWidth;")
        .await;
    assert!(
        scroll_width.as_u64().unwrap() <= width,
        "{} is {scroll_width} px wide at {width} px",
        browser.url().await
    );
}

/// What has the focus is outlined (the style sheet's `:focus-visible` ring).
async fn assert_focus_is_visible(browser: &Browser) {
    let outline = browser
        .run(
            "const style = getComputedStyle(document.activeElement); \
             return [style.outlineStyle, style.outlineWidth];",
        )
        .await;
    assert_eq!(
        outline,
        json!(["solid", "3px"]),
        "the focus on {} is visible",
        browser.focused().await
    );
}

/// Opens the `<details>` whose summary reads `summary` (a command's form on the case page).
async fn open_form(browser: &Browser, summary: &str) {
    let xpath = format!("//summary[normalize-space(.)='{summary}']");
    browser
        .client()
        .find(fantoccini::Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|error| panic!("no form «{summary}»: {error}"))
        .click()
        .await
        .unwrap();
    // A folded form is fetched when opened.
    wait_for(browser, &format!("{xpath}/parent::details//form")).await;
}

/// Waits for an element `xpath` finds: the sign that the page a click asked for is shown
/// (a case page's heading stays the same from one command to the next).
async fn wait_for(browser: &Browser, xpath: &str) {
    if let Err(error) = browser
        .client()
        .wait()
        .at_most(std::time::Duration::from_secs(20))
        .for_element(fantoccini::Locator::XPath(xpath))
        .await
    {
        panic!(
            "nothing matches {xpath} on {}: {error}",
            browser.url().await
        );
    }
}

/// Waits for the notice that says a command was done.
async fn wait_for_done(browser: &Browser, notice: &str) {
    wait_for(
        browser,
        &format!("//p[@id='done' and normalize-space(.)='{notice}']"),
    )
    .await;
}

/// Chooses `value` in the select a label names.
async fn choose(browser: &Browser, label: &str, value: &str) {
    browser
        .field(label)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|error| panic!("cannot choose {value} in «{label}»: {error}"));
}

#[tokio::test]
async fn an_officer_handles_a_case_from_opening_to_closing_in_a_real_browser() {
    let Some(session) = ConsoleSession::admin(
        "console_browser::an_officer_handles_a_case_from_opening_to_closing_in_a_real_browser",
    )
    .await
    else {
        return;
    };
    let browser = &session.browser;

    // The admin makes the officer's account and reads the setup link off the page.
    browser.click_button("账号").await;
    browser.wait_for_heading("账号").await;
    browser.check_page("users.zh-CN").await;
    browser.fill("登录名", "li.ming").await;
    browser.fill("姓名", "李明").await;
    choose(browser, "角色", "officer").await;
    browser.click_button("创建账号").await;
    wait_for(browser, "//h2[normalize-space(.)='li.ming 的设置链接']").await;
    let setup_url = browser
        .find("#setup-url")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(
        setup_url.starts_with(&session.url("/console/setup/")),
        "{setup_url}"
    );
    browser.check_page("users-created.zh-CN").await;
    browser.click_button("English").await;
    browser.wait_for_heading("Accounts").await;
    browser.check_page("users.en").await;
    browser.click_button("简体中文").await;
    browser.wait_for_heading("账号").await;
    browser.click_button("退出登录").await;
    browser.wait_for_heading("登录").await;

    // The officer chooses a password and signs in to an empty work queue.
    browser.goto(&setup_url).await;
    browser.wait_for_heading("设置密码").await;
    browser.fill("新密码", ADMIN_PASSWORD).await;
    browser.fill("再次输入新密码", ADMIN_PASSWORD).await;
    browser.click_button("保存密码").await;
    browser.wait_for_heading("登录").await;
    session.sign_in("li.ming", ADMIN_PASSWORD).await;
    browser.wait_for_heading("我的待办").await;
    assert!(browser
        .main_text()
        .await
        .contains("目前没有指派给您的未结案件"));
    browser.check_page("queue-empty.zh-CN").await;

    // Opening a case: an empty form is refused beside its fields, then the case opens.
    browser.click_button("新建案件").await;
    browser.wait_for_heading("新建案件").await;
    browser.check_page("open-case.zh-CN").await;
    browser.fill("统一社会信用代码", "91110000600037341X").await;
    // The browser's own check of required fields is what a person meets first; the service's
    // is what this shows, so the form is sent without it.
    browser
        .run("document.querySelector('form.stack').noValidate = true; return true;")
        .await;
    browser.click_button("立案").await;
    wait_for(browser, "//p[@id='form-errors']").await;
    let text = browser.main_text().await;
    assert!(text.contains("已在对应的栏目旁标出"), "{text}");
    assert!(text.contains("校验位不对"), "{text}");
    assert_eq!(
        browser
            .find("#title")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    browser.check_page("open-case-errors.zh-CN").await;
    browser.fill("标题", "水泥厂粉尘岗位未配发防尘口罩").await;
    choose(browser, "类别", "ppe_shortfall").await;
    choose(browser, "来源", "walk_in").await;
    browser
        .fill("案情", "包装车间四十名职工反映，防尘口罩三个月未更换。")
        .await;
    browser.fill("单位名称", "绵阳某水泥有限公司").await;
    browser.fill("统一社会信用代码", "91110000600037341L").await;
    browser.fill("姓名", "王秀英").await;
    browser.click_button("立案").await;
    browser
        .wait_for_heading("水泥厂粉尘岗位未配发防尘口罩")
        .await;
    assert!(browser.main_text().await.contains("案件已立案"));
    assert!(
        !browser.url().await.contains("王秀英"),
        "no personal data in the address"
    );
    let case_url = browser.url().await.split('?').next().unwrap().to_owned();

    // The officer takes the case and issues an opinion letter with the default deadline.
    browser.click_button("由我承办").await;
    wait_for_done(browser, "已指派承办人。").await;
    open_form(browser, "发函").await;
    browser
        .fill(
            "函件内容",
            "请于十五个工作日内为包装车间职工配发合格的防尘口罩。",
        )
        .await;
    browser.click_button("发函").await;
    wait_for_done(browser, "函件已发出。").await;
    let text = browser.main_text().await;
    assert!(text.contains("函件已发出"), "{text}");
    let year = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y")
        .to_string();
    assert!(
        text.contains(&format!("劳动法律监督意见书 绵工监意〔{year}〕")),
        "{text}"
    );
    // Fifteen working days counted from service: no deadline before the letter is served.
    assert!(text.contains("待送达"), "{text}");
    assert!(
        text.contains("答复期限\n送达后 15 个工作日内答复"),
        "no deadline yet: {text}"
    );
    browser.check_page("case-letter-issued.zh-CN").await;

    // The signed receipt of service is scanned and attached, as a file without personal data.
    let scan = tempfile::Builder::new()
        .prefix("送达回证-")
        .suffix(".pdf")
        .tempfile()
        .unwrap();
    std::fs::write(scan.path(), b"%PDF-1.7\n% receipt of service, signed\n").unwrap();
    browser
        .field("含个人信息（与投诉人信息一同加密，随之删除，不向合作部门和审计人员显示）")
        .await
        .click()
        .await
        .unwrap();
    browser
        .field("文件")
        .await
        .send_keys(&scan.path().display().to_string())
        .await
        .unwrap();
    browser.click_button("上传附件").await;
    wait_for_done(browser, "附件已上传，其 SHA-256 已记入日志。").await;
    let text = browser.main_text().await;
    assert!(text.contains("送达回证-"), "{text}");
    browser.check_page("case-attachment.zh-CN").await;

    // The letter is handed over in person now (the form's default time): the deadline is
    // counted, and shown as its last day; the receipt is the file just attached.
    open_form(browser, "记录送达").await;
    choose(browser, "送达方式", "in_person").await;
    browser.fill("签收人", "李伟").await;
    browser
        .field("送达回证（附件）")
        .await
        .select_by_index(1)
        .await
        .unwrap();
    browser.click_button("记录送达").await;
    wait_for_done(browser, "送达已记录，答复期限从送达之日起计算。").await;
    let text = browser.main_text().await;
    assert!(
        text.contains("直接送达") && text.contains("签收人 李伟") && text.contains("送达回证"),
        "{text}"
    );
    assert!(text.contains("当日结束前"), "{text}");
    browser.check_page("case.zh-CN").await;
    browser.set_width(360).await;
    assert_fits_the_width(browser, 360).await;
    browser.check_page("case.zh-CN.360px").await;
    browser.set_width(1280).await;

    // Someone else adds a note meanwhile, in a session of their own.
    let mut other = crate::support::console_client::Browser::new(&session.server.address);
    let sign_in = session.url("/console/sign-in");
    let (status, _, _) = other
        .submit(
            &sign_in,
            &sign_in,
            &[
                ("login", ADMIN_LOGIN),
                ("password", ADMIN_PASSWORD),
                ("next", "/console/"),
            ],
        )
        .await;
    assert_eq!(status.as_u16(), 303);
    let (_, _, other_page) = other.get(&case_url).await;
    let case_path = case_url
        .trim_start_matches(&session.server.address)
        .to_owned();
    let notes = format!("{case_path}/notes");
    let other_page = other
        .with_form(&other_page, &session.server.address, &notes)
        .await;
    let mut fields = crate::support::console_client::hidden_fields(&other_page, &notes);
    fields.push(("text".into(), "用人单位来电，称正在采购口罩。".into()));
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let origin = other.origin.clone();
    let (status, _, _) = other
        .post(&format!("{case_url}/notes"), &origin, &fields)
        .await;
    assert_eq!(status.as_u16(), 303);

    // The officer's answer, from the page shown before, meets the stale-version message with
    // the new state; what they typed is kept, and sending it again records it.
    open_form(browser, "记录答复").await;
    browser.field("已整改").await.click().await.unwrap();
    browser
        .fill("答复内容", "已为全部职工配发 KN95 口罩。")
        .await;
    browser.click_button("记录答复").await;
    wait_for(browser, "//h2[normalize-space(.)='案件已被他人更新']").await;
    let text = browser.main_text().await;
    assert!(text.contains("用人单位来电，称正在采购口罩。"), "{text}");
    browser.check_page("case-stale.zh-CN").await;
    browser.click_button("记录答复").await;
    wait_for_done(browser, "答复已记录。").await;
    let text = browser.main_text().await;
    assert!(
        text.contains("答复已记录") && text.contains("已答复：已整改"),
        "{text}"
    );

    // The queue, the list and the case page, in both languages.
    browser.click_button("我的待办").await;
    browser.wait_for_heading("我的待办").await;
    assert!(browser
        .main_text()
        .await
        .contains("水泥厂粉尘岗位未配发防尘口罩"));
    browser.check_page("queue.zh-CN").await;
    browser.click_button("案件").await;
    browser.wait_for_heading("案件").await;
    browser.check_page("cases.zh-CN").await;
    browser.set_width(360).await;
    assert_fits_the_width(browser, 360).await;
    browser.check_page("cases.zh-CN.360px").await;
    browser.set_width(1280).await;
    browser.click_button("English").await;
    browser.wait_for_heading("Cases").await;
    browser.check_page("cases.en").await;
    browser.click_button("My work queue").await;
    browser.wait_for_heading("My work queue").await;
    browser.check_page("queue.en").await;
    browser.click_button("New case").await;
    browser.wait_for_heading("Open a case").await;
    browser.check_page("open-case.en").await;
    browser.goto(&case_url).await;
    browser
        .wait_for_heading("水泥厂粉尘岗位未配发防尘口罩")
        .await;
    assert!(browser
        .main_text()
        .await
        .contains("Labour-law supervision opinion letter"));
    browser.check_page("case.en").await;

    // Closing, in English.
    open_form(browser, "Close the case").await;
    choose(browser, "Outcome", "rectified").await;
    browser
        .fill("Closing summary", "用人单位已整改，职工确认。")
        .await;
    browser.click_button("Close the case").await;
    wait_for_done(browser, "The case is closed.").await;
    let text = browser.main_text().await;
    assert!(text.contains("The case is closed."), "{text}");
    browser.check_page("case-closed.en").await;
    browser.click_button("简体中文").await;
    wait_for_done(browser, "案件已结案。").await;
    browser.check_page("case-closed.zh-CN").await;

    // What an operator watches: the console's pages per route, and sign-ins by outcome.
    let metrics = reqwest::get(session.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "caseledger_http_requests_total{route=\"/console/cases/{id}\",method=\"GET\",status=\"200\"}",
        "caseledger_console_sign_ins_total{outcome=\"signed_in\"}",
    ] {
        assert!(metrics.contains(expected), "/metrics lacks {expected}");
    }

    let ConsoleSession {
        browser, server, ..
    } = session;
    browser.close().await;
    server.stop();
}
