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
    browser.wait_for_heading("控制台").await;
    assert_eq!(browser.url().await, session.url("/console/"));
    assert_eq!(browser.title().await, "控制台 · caseledger 维权案件台账");
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
    browser.wait_for_heading("Console").await;
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
    browser.wait_for_heading("控制台").await;
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
    browser.wait_for_heading("控制台").await;
    assert_fits_the_width(browser, 360).await;

    // Tab goes through the page in reading order, first to the skip link, and what has the
    // focus is always outlined.
    let mut order = Vec::new();
    for _ in 0..5 {
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
            "a \"English\"",
            "button.link \"退出登录\"",
        ]
    );
    browser.check_page("home.zh-CN.360px").await;

    // The skip link takes the focus past the menu, to the page's content.
    browser.goto(&session.url("/console/")).await;
    browser.wait_for_heading("控制台").await;
    browser.press(Key::Tab).await;
    browser.press(Key::Enter).await;
    assert_eq!(browser.focused().await.split(' ').next(), Some("main#main"));

    // The language link and signing out, by keyboard alone.
    browser.press(Key::Tab).await;
    browser.press(Key::Tab).await;
    browser.press(Key::Tab).await;
    browser.press(Key::Tab).await;
    assert_eq!(browser.focused().await, "a \"English\"");
    browser.press(Key::Enter).await;
    browser.wait_for_heading("Console").await;
    assert_fits_the_width(browser, 360).await;
    browser.check_page("home.en.360px").await;

    browser.click_button("Sign out").await;
    browser.wait_for_heading("Sign in").await;
    assert_fits_the_width(browser, 360).await;
    browser.check_page("sign-in.en.360px").await;

    // Signing in again by keyboard alone: Tab to the login, type, Tab, type, Enter.
    for _ in 0..5 {
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
    browser.wait_for_heading("Console").await;
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
