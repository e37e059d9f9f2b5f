//! People in the console (contract §8): the first admin's setup link, choosing a password,
//! signing in and out, the lockout, the guards against cross-site forms, the remembered
//! language, and the person as the actor of the events their commands write.

use std::os::unix::fs::PermissionsExt as _;

use caseledger_app::{NewUser, OpenCase};
use caseledger_domain::{Category, EmployerInput, Role, Source};
use reqwest::header::COOKIE;
use reqwest::StatusCode;

use crate::support::console_client::{form_token, location, set_up_admin, Browser, PASSWORD};
use crate::support::spawn_app;

#[tokio::test]
async fn the_first_admin_sets_a_password_through_the_link_signs_in_and_out() {
    let app = spawn_app().await;
    assert!(app
        .admin_setup_url
        .starts_with(&format!("{}/console/setup/clsu_", app.address)));
    let mut browser = set_up_admin(&app).await;

    let (status, headers, home) = browser.get(&format!("{}/console/", app.address)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        home.contains("<html lang=\"zh-CN\">") && home.contains("Administrator"),
        "{home}"
    );
    let policy = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"));
    assert!(!home.contains("<script>") && !home.contains("style=\""));

    // The link worked once.
    let (status, _, page) = browser.get(&app.admin_setup_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");

    // Signing out ends the session in the store: the old cookie no longer opens a page.
    let session = browser.cookie_header();
    let home_url = format!("{}/console/", app.address);
    let (status, headers, _) = browser
        .submit(&home_url, &format!("{}/console/sign-out", app.address), &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/console/sign-in");
    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&home_url)
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(replayed.headers()),
        "/console/sign-in?next=%2Fconsole%2F"
    );
}

#[tokio::test]
async fn weak_passwords_are_refused_beside_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app.address);
    let url = app.admin_setup_url.clone();
    for (password, again, message) in [
        ("short", "short", "密码至少需要 12 个字符"),
        ("123456789012", "123456789012", "这个密码太常见"),
        (PASSWORD, "something else entirely", "两次输入的密码不一致"),
    ] {
        let (status, _, page) = browser
            .submit(
                &url,
                &url,
                &[("password", password), ("password_again", again)],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains(message), "{message}: {page}");
        assert!(page.contains("aria-invalid=\"true\""));
    }
    // Nothing changed: the link still works and no password signs in.
    let (status, _, _) = browser.get(&url).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_passwords_lock_the_login_after_five_failures_whatever_the_password() {
    let app = spawn_app().await;
    let mut browser = set_up_admin(&app).await;
    let sign_in = format!("{}/console/sign-in", app.address);
    browser
        .cookies
        .retain(|(name, _)| name != "caseledger_session");
    for _ in 0..5 {
        let (status, _, page) = browser
            .submit(
                &sign_in,
                &sign_in,
                &[("login", "admin"), ("password", "not the password at all")],
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(page.contains("登录名或密码不正确"), "{page}");
    }
    let (status, headers, page) = browser
        .submit(
            &sign_in,
            &sign_in,
            &[("login", "admin"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_some());
    assert!(page.contains("已暂时锁定"), "{page}");
}

#[tokio::test]
async fn forms_from_another_origin_or_without_their_token_are_refused() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app.address);
    let url = app.admin_setup_url.clone();
    let (_, _, page) = browser.get(&url).await;
    let token = form_token(&page);
    let fields = [("password", PASSWORD), ("password_again", PASSWORD)];

    let mut forged = vec![("_form_token", token.as_str())];
    forged.extend_from_slice(&fields);
    let (status, _, page) = browser.post(&url, "http://evil.example", &forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("没有做任何更改"), "{page}");

    let mut wrong_token = vec![("_form_token", "not-the-token")];
    wrong_token.extend_from_slice(&fields);
    let origin = app.address.clone();
    let (status, _, _) = browser.post(&url, &origin, &wrong_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Nothing changed: the link still works.
    let (status, _, _) = browser.get(&url).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_language_switch_is_remembered_and_stays_on_the_console() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app.address);
    let (status, headers, _) = browser
        .get(&format!(
            "{}/console/language/en?back=%2Fconsole%2Fsign-in",
            app.address
        ))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/console/sign-in");
    let (_, _, page) = browser
        .get(&format!("{}/console/sign-in", app.address))
        .await;
    assert!(
        page.contains("<html lang=\"en\">") && page.contains("Sign in"),
        "{page}"
    );
    let (_, headers, _) = browser
        .get(&format!(
            "{}/console/language/zh-CN?back=https%3A%2F%2Fevil.example%2F",
            app.address
        ))
        .await;
    assert_eq!(location(&headers), "/console/");
    // The sign-in page keeps where it leads after the switch, if that is a console page.
    for (next, kept) in [
        (
            "%2Fconsole%2Fcases%3Fq%3Dx",
            "/console/sign-in?next=%2Fconsole%2Fcases%3Fq%3Dx",
        ),
        ("https%3A%2F%2Fevil.example%2F", "/console/sign-in"),
    ] {
        let (_, headers, _) = browser
            .get(&format!(
                "{}/console/language/zh-CN?back=%2Fconsole%2Fsign-in%3Fnext%3D{}",
                app.address,
                next.replace('%', "%25")
            ))
            .await;
        assert_eq!(location(&headers), kept, "{next}");
    }
    let (status, _, page) = browser
        .get(&format!("{}/console/no-such-page", app.address))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("这个页面不存在"), "{page}");
}

#[tokio::test]
async fn a_persons_command_records_their_user_id_and_a_disabled_account_loses_its_session() {
    let app = spawn_app().await;
    let admin = app.app.authenticate(&app.admin_token).unwrap();
    let officer = app
        .app
        .create_user(
            &admin,
            NewUser {
                login: "Wang.Fang".into(),
                name: "王芳".into(),
                role: Role::Officer,
                department: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(officer.user.login, "wang.fang");
    app.app
        .complete_setup(&officer.setup_token, PASSWORD)
        .await
        .unwrap();
    let session = app.app.sign_in("wang.fang", PASSWORD).await.unwrap();
    let person = app.app.session(&session.secret).await.unwrap().unwrap();

    let outcome = app
        .app
        .open_case(
            &person.caller,
            OpenCase {
                title: "劳保用品发放不足".into(),
                category: Category::PpeShortfall,
                description: "车间未按规定发放防尘口罩".into(),
                source: Source::Inspection,
                employer: EmployerInput {
                    name: "某建材有限公司".into(),
                    credit_code: None,
                    credit_code_unverified: false,
                },
                region: None,
                industry: None,
                workers_affected: None,
                complainant: None,
            },
            None,
        )
        .await
        .unwrap();
    let events = app.all_events().await;
    let opened = events
        .iter()
        .find(|event| event["case_id"] == outcome.case_id.0.to_string())
        .unwrap();
    assert_eq!(opened["actor"]["user_id"], officer.user.id.to_string());
    assert_eq!(opened["actor"]["token_id"], serde_json::Value::Null);
    assert_eq!(opened["actor"]["name"], "王芳");
    assert_eq!(opened["actor"]["role"], "officer");
    // API tokens' events keep their v1 shape: no `user_id` key at all.
    let case = app.open_valid_case(&app.admin_token).await;
    let by_token = app.all_events().await;
    let by_token = by_token
        .iter()
        .find(|event| event["case_id"] == case.to_string())
        .unwrap();
    assert!(by_token["actor"].get("user_id").is_none(), "{by_token}");

    app.app.disable_user(&admin, officer.user.id).await.unwrap();
    assert!(app.app.session(&session.secret).await.unwrap().is_none());
    assert!(matches!(
        app.app.sign_in("wang.fang", PASSWORD).await,
        Err(caseledger_app::AppError::SignInRefused)
    ));
}

#[tokio::test]
async fn the_setup_link_file_is_for_the_owner_alone() {
    let data_dir = tempfile::tempdir().unwrap();
    let settings = caseledger::config::ServeArgs {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: Some(data_dir.path().to_owned()),
        ..Default::default()
    }
    .settings()
    .unwrap();
    let server = caseledger::serve::Server::build(settings, None)
        .await
        .unwrap();
    let path = server.initial_admin_setup_url_file().unwrap().to_owned();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let link = std::fs::read_to_string(&path).unwrap();
    assert!(link.starts_with(&format!(
        "http://{}/console/setup/clsu_",
        server.local_addr()
    )));
    assert_eq!(link.lines().count(), 1);
    server.close().await;
}
