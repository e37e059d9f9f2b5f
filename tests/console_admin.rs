//! The admin pages of the console (contract §8 "admins", §3, §6a, §7; issue #14) over plain
//! HTTP: API tokens issued (the secret shown once, and working over the API) and revoked (then
//! refused by the API); webhook endpoints registered (the `whsec_` secret shown once), a real
//! loopback receiver getting signed deliveries that the endpoint's page lists with status and
//! latency, and replay, resume, rotation and deletion; the erasure of a case's personal data
//! behind a confirmation that names the case, and its register. Every other role gets the same
//! refusal as over the API, and every bad input a page that says what is wrong and changes
//! nothing.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caseledger_app::webhooks::{sign, Secret};
use caseledger_domain::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::console_client::{location, person_signed_in, set_up_admin, Browser};
use crate::support::wait::until;
use crate::support::{
    expect_status, spawn_app, spawn_app_on_clock, TestApp, COMPLAINANT_NAME, COMPLAINANT_PHONE,
};

/// An attribute's value as the page wrote it, unescaped.
pub(crate) fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `value` of the input `id` on `page`.
pub(crate) fn input_value(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} on the page: {page}"));
    let rest = &page[at..];
    let start = rest.find("value=\"").unwrap() + "value=\"".len();
    unescape(&rest[start..start + rest[start..].find('"').unwrap()])
}

/// `GET url` with the browser, expecting `status`; returns the page.
async fn page(browser: &mut Browser, url: &str, status: StatusCode) -> String {
    let (actual, headers, body) = browser.get(url).await;
    assert_eq!(actual, status, "{url}: {body}");
    if status == StatusCode::OK {
        // A page that may show a secret is never kept by a cache.
        let cache = headers.get("cache-control").unwrap().to_str().unwrap();
        assert!(cache.contains("no-store"), "{url}: {cache}");
    }
    body
}

#[tokio::test]
async fn a_token_is_shown_once_works_over_the_api_and_stops_working_when_revoked() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let tokens = format!("{}/console/tokens", app.address);
    let listed = page(&mut admin, &tokens, StatusCode::OK).await;
    assert!(listed.contains("API 令牌") && listed.contains("新建令牌"));
    // The initial admin token is listed (its name, never a secret).
    assert!(!listed.contains("clt_"), "{listed}");

    // A partner token without its department: refused beside the field, nothing issued.
    let before = app
        .app
        .list_tokens(&app.app.authenticate(&app.admin_token).unwrap());
    let before = before.unwrap().len();
    let (status, _, refused) = admin
        .submit(
            &tokens,
            &tokens,
            &[
                ("name", "人社局对接"),
                ("role", "partner"),
                ("department", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains("id=\"department-error\""), "{refused}");
    assert!(
        refused.contains("value=\"人社局对接\""),
        "what was typed is kept"
    );
    // A role that is not one, and an empty name.
    let (status, _, refused) = admin
        .submit(
            &tokens,
            &tokens,
            &[("name", "x"), ("role", "superuser"), ("department", "")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("id=\"role-error\""), "{refused}");
    let (status, _, refused) = admin
        .submit(
            &tokens,
            &tokens,
            &[("name", "  "), ("role", "auditor"), ("department", "")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("id=\"name-error\""), "{refused}");
    let admin_caller = app.app.authenticate(&app.admin_token).unwrap();
    assert_eq!(app.app.list_tokens(&admin_caller).unwrap().len(), before);

    // Issued: the secret is on the answer page, this once.
    let (status, headers, issued) = admin
        .submit(
            &tokens,
            &tokens,
            &[
                ("name", "人社局对接"),
                ("role", "partner"),
                ("department", "hrss"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert!(
        headers.get("location").is_none(),
        "the secret is never in an address"
    );
    let token = input_value(&issued, "issued-token");
    assert!(token.starts_with("clt_"), "{token}");
    assert!(issued.contains("只显示这一次"));
    // It works over the API as the partner it was issued for.
    let response = app.get("/v1/feed", &token).await;
    expect_status(response, StatusCode::OK).await;
    let response = app.get("/v1/tokens", &token).await;
    expect_status(response, StatusCode::FORBIDDEN).await;
    // Never shown again.
    let listed = page(&mut admin, &tokens, StatusCode::OK).await;
    assert!(!listed.contains(&token) && listed.contains("人社局对接"));
    assert!(listed.contains("人力资源和社会保障局") && listed.contains("有效"));

    // Revoking asks first, naming the token; the question changes nothing.
    let record = app
        .app
        .list_tokens(&admin_caller)
        .unwrap()
        .into_iter()
        .find(|record| record.name == "人社局对接")
        .unwrap();
    let revoke = format!("{}/console/tokens/{}/revoke", app.address, record.id);
    assert!(listed.contains(&format!("href=\"/console/tokens/{}/revoke\"", record.id)));
    let question = page(&mut admin, &revoke, StatusCode::OK).await;
    assert!(
        question.contains("确定要撤销令牌“人社局对接”吗？"),
        "{question}"
    );
    let response = app.get("/v1/feed", &token).await;
    expect_status(response, StatusCode::OK).await;
    let (status, _, done) = admin.submit(&revoke, &revoke, &[]).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("令牌“人社局对接”已撤销"), "{done}");
    assert!(done.contains("已于"), "the list shows it revoked: {done}");
    let response = app.get("/v1/feed", &token).await;
    expect_status(response, StatusCode::UNAUTHORIZED).await;
    // The page of a revoked token no longer offers to revoke it.
    let question = page(&mut admin, &revoke, StatusCode::OK).await;
    assert!(
        !question.contains("action=\"/console/tokens/"),
        "{question}"
    );

    // Addresses that name no token.
    page(
        &mut admin,
        &format!("{}/console/tokens/not-an-id/revoke", app.address),
        StatusCode::NOT_FOUND,
    )
    .await;
    page(
        &mut admin,
        &format!("{}/console/tokens/{}/revoke", app.address, Uuid::new_v4()),
        StatusCode::NOT_FOUND,
    )
    .await;

    // Every other role gets the API's refusal: the forbidden page, and nothing issued.
    let (mut officer, _) = person_signed_in(&app, "li.ming", "李明", Role::Officer, None).await;
    let forbidden = page(&mut officer, &tokens, StatusCode::FORBIDDEN).await;
    assert!(
        forbidden.contains("您的角色不能执行这项操作"),
        "{forbidden}"
    );
    let home = page(
        &mut officer,
        &format!("{}/console/", app.address),
        StatusCode::OK,
    )
    .await;
    assert!(
        !home.contains("href=\"/console/tokens\""),
        "no menu item: {home}"
    );
    let token_field = crate::support::console_client::form_token(&home);
    let origin = officer.origin.clone();
    let (status, _, _) = officer
        .post(
            &tokens,
            &origin,
            &[
                ("_form_token", token_field.as_str()),
                ("name", "mine"),
                ("role", "admin"),
                ("department", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = officer
        .post(&revoke, &origin, &[("_form_token", token_field.as_str())])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.app.list_tokens(&admin_caller).unwrap().len(),
        before + 1
    );
}

/// What a webhook receiver got: its headers and body.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
}

impl Delivery {
    /// The message's type.
    pub fn kind(&self) -> String {
        let body: Value = serde_json::from_str(&self.body).unwrap();
        body["type"].as_str().unwrap().to_owned()
    }

    /// Whether `secret` signed it (one of the space-separated signatures).
    pub fn signed_by(&self, secret: &str) -> bool {
        let secret = Secret::parse(secret).unwrap();
        let expected = sign(
            secret.bytes(),
            &self.id,
            self.timestamp,
            self.body.as_bytes(),
        );
        self.signature.split(' ').any(|given| given == expected)
    }
}

/// A webhook receiver on 127.0.0.1 that answers with the status it is told and keeps every
/// request.
pub(crate) struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Delivery>>>,
    answer: Arc<AtomicU16>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(AtomicU16::new(200));
        let kept = Arc::clone(&received);
        let status = Arc::clone(&answer);
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let kept = Arc::clone(&kept);
                let status = Arc::clone(&status);
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .map(|value| value.to_str().unwrap().to_owned())
                            .unwrap_or_default()
                    };
                    kept.lock().unwrap().push(Delivery {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
                        signature: header("webhook-signature"),
                        body,
                    });
                    axum::http::StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver {
            url,
            received,
            answer,
        }
    }

    /// From now on, answer with `status`.
    pub fn answer(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until a delivery of type `kind` arrived after the first `seen`, and returns it.
    pub async fn wait_for(&self, kind: &str, seen: usize) -> Delivery {
        let received = Arc::clone(&self.received);
        let kind_owned = kind.to_owned();
        until(
            &format!("a {kind} delivery"),
            Duration::from_secs(20),
            move || {
                received
                    .lock()
                    .unwrap()
                    .iter()
                    .skip(seen)
                    .any(|delivery| delivery.kind() == kind_owned)
            },
        )
        .await;
        self.deliveries()
            .into_iter()
            .skip(seen)
            .find(|delivery| delivery.kind() == kind)
            .unwrap()
    }
}

/// Refers `case` to `department` as the admin token; returns the event's position.
async fn refer(app: &TestApp, case: Uuid, department: &str) -> u64 {
    let body = app
        .command(
            case,
            "refer",
            &app.admin_token,
            &json!({"department": department, "reason": "请依法处理欠薪"}),
            StatusCode::OK,
        )
        .await;
    body["position"].as_u64().unwrap()
}

/// The row of the deliveries log on `page` about a message of type `kind` that was
/// delivered (or failed).
fn delivery_row<'a>(page: &'a str, kind: &str, delivered: bool) -> &'a str {
    let class = if delivered { "delivered" } else { "failed" };
    page.split(&format!("<tr class=\"delivery-{class}\">"))
        .skip(1)
        .map(|rest| &rest[..rest.find("</tr>").unwrap()])
        .find(|row| row.contains(kind))
        .unwrap_or_else(|| panic!("no {class} {kind} row: {page}"))
}

/// Waits until the endpoint page at `url` lists at least `count` delivered attempts, and
/// returns the page.
async fn deliveries_page(browser: &mut Browser, url: &str, count: usize) -> String {
    let started = std::time::Instant::now();
    loop {
        let shown = page(browser, url, StatusCode::OK).await;
        if shown.matches("<tr class=\"delivery-delivered\">").count() >= count {
            return shown;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{url} does not list {count} deliveries: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_endpoint_gets_signed_deliveries_its_page_lists_them_and_replay_rotate_delete_work() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let mut admin = set_up_admin(&app).await;
    let webhooks = format!("{}/console/webhooks", app.address);
    let listed = page(&mut admin, &webhooks, StatusCode::OK).await;
    assert!(listed.contains("还没有推送端点"), "{listed}");

    // Refusals beside their fields, nothing registered: an internal address (the app's egress
    // rule), something that is not a URL, no department, a type that is not one.
    for (url, department, types, field) in [
        ("http://10.1.2.3/hook", "hrss", "", "url"),
        ("not a url at all", "hrss", "", "url"),
        (receiver.url.as_str(), "", "", "department"),
        (
            receiver.url.as_str(),
            "hrss",
            "case.NoSuchThing",
            "event_types",
        ),
    ] {
        let mut fields = vec![
            ("url", url),
            ("department", department),
            ("description", "人社局接口"),
        ];
        if !types.is_empty() {
            fields.push(("event_types", types));
        }
        let (status, _, refused) = admin.submit(&webhooks, &webhooks, &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {refused}");
        assert!(
            refused.contains(&format!("id=\"{field}-error\"")),
            "{url} is refused beside {field}: {refused}"
        );
        assert!(refused.contains("人社局接口"), "what was typed is kept");
        assert!(!refused.contains("whsec_"));
    }
    let admin_caller = app.app.authenticate(&app.admin_token).unwrap();
    assert!(app
        .app
        .list_webhooks(&admin_caller)
        .await
        .unwrap()
        .is_empty());

    // Registered: its page, with the secret this once.
    let (status, headers, created) = admin
        .submit(
            &webhooks,
            &webhooks,
            &[
                ("url", receiver.url.as_str()),
                ("department", "hrss"),
                ("description", "人社局接口"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(headers.get("location").is_none());
    let secret = input_value(&created, "webhook-secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let endpoint = app.app.list_webhooks(&admin_caller).await.unwrap()[0].id;
    let endpoint_url = format!("{webhooks}/{endpoint}");
    assert!(created.contains("端点已创建") && created.contains("正常"));
    let shown = page(&mut admin, &endpoint_url, StatusCode::OK).await;
    assert!(
        !shown.contains(&secret) && !shown.contains("whsec_"),
        "shown once"
    );
    let listed = page(&mut admin, &webhooks, StatusCode::OK).await;
    assert!(unescape(&listed).contains(&receiver.url) && !listed.contains("whsec_"));

    // A case shared with the department reaches the receiver, signed with that secret…
    let case = app.open_valid_case(&app.admin_token).await;
    let shared_at = refer(&app, case, "hrss").await;
    let first = receiver.wait_for("case.ReferredToDepartment", 0).await;
    assert!(first.signed_by(&secret), "{first:?}");
    assert!(!first.body.contains(COMPLAINANT_NAME) && !first.body.contains(COMPLAINANT_PHONE));
    // …and the endpoint's page lists the attempt with its status code and latency.
    let shown = deliveries_page(&mut admin, &endpoint_url, 1).await;
    let row = delivery_row(&shown, "case.ReferredToDepartment", true);
    assert!(row.contains(&format!("日志位置 {shared_at}")), "{row}");
    assert!(row.contains("<td>200 · 已送达</td>"), "{row}");
    assert!(row.contains(" 毫秒</td>"), "{row}");

    // Replay: bad positions are refused beside the field, changing nothing.
    let replay = format!("{endpoint_url}/replay");
    let delivered_before = app
        .app
        .webhook(&admin_caller, endpoint)
        .await
        .unwrap()
        .delivered_through;
    for (typed, message) in [
        ("", "此项不能为空"),
        ("abc", "请填写整数"),
        ("0", "日志位置从 1 开始"),
        ("1000000", "会跳过事件"),
    ] {
        let (status, _, refused) = admin
            .submit(&endpoint_url, &replay, &[("from_position", typed)])
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{typed}: {refused}"
        );
        assert!(refused.contains("id=\"from_position-error\""), "{refused}");
        assert!(refused.contains(message), "{typed}: {refused}");
    }
    assert_eq!(
        app.app
            .webhook(&admin_caller, endpoint)
            .await
            .unwrap()
            .delivered_through,
        delivered_before
    );
    // From the sharing event on: the same message again, with its webhook-id.
    let seen = receiver.deliveries().len();
    let (status, _, replaying) = admin
        .submit(
            &endpoint_url,
            &replay,
            &[("from_position", &shared_at.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaying}");
    assert!(replaying.contains("已从该位置重新开始推送"), "{replaying}");
    let again = receiver.wait_for("case.ReferredToDepartment", seen).await;
    assert_eq!(again.id, first.id);
    deliveries_page(&mut admin, &endpoint_url, 2).await;

    // Rotation: a new secret, shown once; both sign for a while.
    let (status, _, rotated) = admin
        .submit(&endpoint_url, &format!("{endpoint_url}/rotate-secret"), &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = input_value(&rotated, "webhook-secret");
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(rotated.contains("新的签名密钥") && rotated.contains("24 小时"));
    let seen = receiver.deliveries().len();
    app.command(
        case,
        "findings",
        &app.admin_token,
        &json!({"summary": "现场核实：口罩未发放"}),
        StatusCode::OK,
    )
    .await;
    let next = receiver.wait_for("case.FindingRecorded", seen).await;
    assert!(
        next.signed_by(&new_secret) && next.signed_by(&secret),
        "signed by the new secret: {}, by the old: {}; {next:?}",
        next.signed_by(&new_secret),
        next.signed_by(&secret)
    );
    let shown = page(&mut admin, &endpoint_url, StatusCode::OK).await;
    assert!(!shown.contains(&new_secret));

    // Resume on an endpoint that is not paused changes nothing and still answers.
    let (status, _, resumed) = admin
        .submit(&endpoint_url, &format!("{endpoint_url}/resume"), &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");

    // Every other role gets the API's refusal.
    let (mut officer, _) = person_signed_in(&app, "li.ming", "李明", Role::Officer, None).await;
    page(&mut officer, &webhooks, StatusCode::FORBIDDEN).await;
    page(&mut officer, &endpoint_url, StatusCode::FORBIDDEN).await;
    let home = page(
        &mut officer,
        &format!("{}/console/", app.address),
        StatusCode::OK,
    )
    .await;
    let token_field = crate::support::console_client::form_token(&home);
    let origin = officer.origin.clone();
    for action in ["rotate-secret", "delete", "resume"] {
        let (status, _, _) = officer
            .post(
                &format!("{endpoint_url}/{action}"),
                &origin,
                &[("_form_token", token_field.as_str())],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}");
    }

    // Deletion asks first; then the endpoint is gone, over the API too.
    let delete = format!("{endpoint_url}/delete");
    let question = page(&mut admin, &delete, StatusCode::OK).await;
    assert!(question.contains("确定要删除这个推送端点吗？"));
    assert!(unescape(&question).contains(&receiver.url));
    let (status, _, deleted) = admin.submit(&delete, &delete, &[]).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert!(deleted.contains("端点已删除") && deleted.contains("还没有推送端点"));
    let response = app
        .get(&format!("/v1/webhooks/{endpoint}"), &app.admin_token)
        .await;
    expect_status(response, StatusCode::NOT_FOUND).await;
    page(&mut admin, &endpoint_url, StatusCode::NOT_FOUND).await;
    page(
        &mut admin,
        &format!("{webhooks}/not-an-id"),
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn a_failing_endpoint_is_paused_shown_as_failing_and_resumed_in_the_console() {
    // One attempt per message: the first failure spends the schedule.
    let app = spawn_app_on_clock(Arc::new(caseledger_app::SystemClock), |flags| {
        flags.webhook_retry_schedule = Some("0s".parse().unwrap());
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let mut admin = set_up_admin(&app).await;
    let webhooks = format!("{}/console/webhooks", app.address);
    let (status, _, created) = admin
        .submit(
            &webhooks,
            &webhooks,
            &[
                ("url", receiver.url.as_str()),
                ("department", "justice"),
                ("event_types", "case.ReferredToDepartment"),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let admin_caller = app.app.authenticate(&app.admin_token).unwrap();
    let endpoint = app.app.list_webhooks(&admin_caller).await.unwrap()[0].id;
    let endpoint_url = format!("{webhooks}/{endpoint}");

    let case = app.open_valid_case(&app.admin_token).await;
    let shared_at = refer(&app, case, "justice").await;
    // The first message tried fails (an audit checkpoint may come before the referral).
    let received = Arc::clone(&receiver.received);
    until("a first delivery", Duration::from_secs(20), move || {
        !received.lock().unwrap().is_empty()
    })
    .await;
    let started = std::time::Instant::now();
    let failing = loop {
        let shown = page(&mut admin, &endpoint_url, StatusCode::OK).await;
        if shown.contains("推送失败，已暂停") {
            break shown;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        failing.contains("<tr class=\"delivery-failed\">"),
        "{failing}"
    );
    assert!(failing.contains("<td>503 · 失败</td>"), "{failing}");
    assert!(failing.contains(&format!("action=\"/console/webhooks/{endpoint}/resume\"")));
    let listed = page(&mut admin, &webhooks, StatusCode::OK).await;
    assert!(listed.contains("推送失败，已暂停"));

    // The receiver works again; resuming delivers the message it was paused at.
    receiver.answer(204);
    let seen = receiver.deliveries().len();
    let (status, _, resumed) = admin
        .submit(&endpoint_url, &format!("{endpoint_url}/resume"), &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert!(resumed.contains("已恢复推送"), "{resumed}");
    receiver.wait_for("case.ReferredToDepartment", seen).await;
    let shown = deliveries_page(&mut admin, &endpoint_url, 1).await;
    let row = delivery_row(&shown, "case.ReferredToDepartment", true);
    assert!(row.contains("<td>204 · 已送达</td>"), "{row}");
    let started = std::time::Instant::now();
    loop {
        let view = app.app.webhook(&admin_caller, endpoint).await.unwrap();
        if view.delivered_through >= shared_at {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{view:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let shown = page(&mut admin, &endpoint_url, StatusCode::OK).await;
    assert!(shown.contains("webhook-active") && !shown.contains("推送失败，已暂停"));
}

#[tokio::test]
async fn erasure_asks_for_the_case_by_name_and_a_wrong_confirmation_erases_nothing() {
    let app = spawn_app().await;
    let mut admin = set_up_admin(&app).await;
    let case = app.open_valid_case(&app.admin_token).await;
    let other = app.open_valid_case(&app.admin_token).await;
    let case_url = format!("{}/console/cases/{case}", app.address);
    let erase = format!("{case_url}/erase");

    let shown = page(&mut admin, &case_url, StatusCode::OK).await;
    assert!(shown.contains(COMPLAINANT_NAME));
    assert!(shown.contains(&format!("href=\"/console/cases/{case}/erase\"")));
    let question = page(&mut admin, &erase, StatusCode::OK).await;
    assert!(
        question.contains("Missing dust masks at the grinding line")
            && question.contains(&format!("<code id=\"case-id\">{case}</code>")),
        "the page names the case: {question}"
    );

    // Wrong confirmations: beside the field, and nothing erased.
    for typed in ["", "not the id", &other.to_string()] {
        let (status, _, refused) = admin
            .submit(
                &erase,
                &erase,
                &[("confirm_case", typed), ("idempotency_key", "")],
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{typed}: {refused}"
        );
        assert!(refused.contains("id=\"confirm_case-error\""), "{refused}");
    }
    let view = app.case(case, &app.admin_token).await;
    assert_eq!(view["complainant"]["name"], COMPLAINANT_NAME);
    let register = app.get("/v1/admin/erasures", &app.admin_token).await;
    assert_eq!(
        expect_status(register, StatusCode::OK).await["erasures"],
        json!([])
    );
    assert!(!app
        .event_types(case, &app.admin_token)
        .await
        .contains(&"PersonalDataErased".to_owned()));

    // Officers may not erase: the forbidden page, as over the API, and no link.
    let (mut officer, _) = person_signed_in(&app, "li.ming", "李明", Role::Officer, None).await;
    let officers_view = page(&mut officer, &case_url, StatusCode::OK).await;
    assert!(!officers_view.contains("/erase\""), "{officers_view}");
    page(&mut officer, &erase, StatusCode::FORBIDDEN).await;
    let token_field = crate::support::console_client::form_token(&officers_view);
    let origin = officer.origin.clone();
    let case_text = case.to_string();
    let (status, _, _) = officer
        .post(
            &erase,
            &origin,
            &[
                ("_form_token", token_field.as_str()),
                ("confirm_case", case_text.as_str()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    page(
        &mut officer,
        &format!("{}/console/erasures", app.address),
        StatusCode::FORBIDDEN,
    )
    .await;

    // The right case: erased, the case page says so, the register lists it.
    let (status, headers, _) = admin
        .submit(
            &erase,
            &erase,
            &[("confirm_case", &case_text.to_uppercase())],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&headers),
        format!("/console/cases/{case}?done=erased")
    );
    let shown = page(
        &mut admin,
        &format!("{case_url}?done=erased"),
        StatusCode::OK,
    )
    .await;
    assert!(!shown.contains(COMPLAINANT_NAME), "{shown}");
    assert!(shown.contains("本案个人信息已删除"), "{shown}");
    assert!(!shown.contains(&format!("href=\"/console/cases/{case}/erase\"")));
    let view = app.case(case, &app.admin_token).await;
    assert_eq!(view["complainant"]["erased"], true);
    let register = app.get("/v1/admin/erasures", &app.admin_token).await;
    let register = expect_status(register, StatusCode::OK).await;
    assert_eq!(register["erasures"][0]["case_id"], case_text);
    let position = register["erasures"][0]["position"].as_u64().unwrap();
    let listed = page(
        &mut admin,
        &format!("{}/console/erasures", app.address),
        StatusCode::OK,
    )
    .await;
    assert!(
        listed.contains(&format!("href=\"/console/cases/{case}\"")),
        "{listed}"
    );
    assert!(listed.contains(&format!("<td>{position}</td>")), "{listed}");
    assert!(!listed.contains(COMPLAINANT_NAME));
    // The other case is untouched.
    let view = app.case(other, &app.admin_token).await;
    assert_eq!(view["complainant"]["name"], COMPLAINANT_NAME);

    // Again: the app's rule, beside the form, and still erased once.
    let (status, _, again) = admin
        .submit(&erase, &erase, &[("confirm_case", case_text.as_str())])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert!(again.contains("role=\"alert\""), "{again}");
    let register = app.get("/v1/admin/erasures", &app.admin_token).await;
    let register = expect_status(register, StatusCode::OK).await;
    assert_eq!(register["erasures"].as_array().unwrap().len(), 1);

    // Finding a case by its id on the register page.
    let erasures = format!("{}/console/erasures", app.address);
    let (status, headers, _) = admin.get(&format!("{erasures}?case={other}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), format!("/console/cases/{other}/erase"));
    let refused = page(
        &mut admin,
        &format!("{erasures}?case=no-such-case"),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(refused.contains("id=\"case-error\""), "{refused}");
    page(
        &mut admin,
        &format!("{}/console/cases/{}/erase", app.address, Uuid::new_v4()),
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// Waits for an element `xpath` finds on the page the browser shows.
pub(crate) async fn wait_for_xpath(browser: &crate::support::browser::Browser, xpath: &str) {
    if let Err(error) = browser
        .client()
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(fantoccini::Locator::XPath(xpath))
        .await
    {
        panic!(
            "nothing matches {xpath} on {}: {error}",
            browser.url().await
        );
    }
}

/// Chooses `value` in the select a label names.
pub(crate) async fn choose_option(
    browser: &crate::support::browser::Browser,
    label: &str,
    value: &str,
) {
    browser
        .field(label)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|error| panic!("cannot choose {value} in «{label}»: {error}"));
}

/// The value of the input `css` on the page shown.
pub(crate) async fn value_of(browser: &crate::support::browser::Browser, css: &str) -> String {
    browser
        .find(css)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Switches the console's language to `tag` and comes back to the page shown.
pub(crate) async fn switch_language(browser: &crate::support::browser::Browser, tag: &str) {
    let url = browser.url().await;
    let url = url.split('?').next().unwrap_or_default();
    let path = url.splitn(4, '/').nth(3).unwrap_or_default();
    let base: String = url.split('/').take(3).collect::<Vec<_>>().join("/");
    browser
        .goto(&format!("{base}/console/language/{tag}?back=/{path}"))
        .await;
    wait_for_xpath(browser, &format!("//html[@lang='{tag}']")).await;
}

/// The admin issues a token of `role` on the tokens page and reads it off the answer.
pub(crate) async fn token_from_the_tokens_page(
    browser: &crate::support::browser::Browser,
    name: &str,
    role: &str,
) -> String {
    browser.click_button("令牌").await;
    browser.wait_for_heading("API 令牌").await;
    browser.fill("名称", name).await;
    choose_option(browser, "角色", role).await;
    browser.click_button("创建令牌").await;
    wait_for_xpath(browser, "//input[@id='issued-token']").await;
    value_of(browser, "#issued-token").await
}

#[tokio::test]
async fn an_admin_creates_an_endpoint_sees_its_deliveries_and_erases_a_case_in_a_real_browser() {
    let Some(session) = crate::support::browser::ConsoleSession::admin(
        "console_admin::an_admin_creates_an_endpoint_sees_its_deliveries_and_erases_a_case_in_a_real_browser",
    )
    .await
    else {
        return;
    };
    let browser = &session.browser;
    let receiver = Receiver::start().await;

    // A token for the API, issued on the tokens page and shown once.
    let officer_token = token_from_the_tokens_page(browser, "维权系统对接", "officer").await;
    assert!(officer_token.starts_with("clt_"));
    browser.check_page("tokens-issued.zh-CN").await;
    browser.goto(&session.url("/console/tokens")).await;
    browser.wait_for_heading("API 令牌").await;
    assert!(!browser.main_text().await.contains(&officer_token));
    browser.check_page("tokens.zh-CN").await;

    // The endpoint, created on the webhooks page; its secret shown once.
    browser.click_button("推送端点").await;
    browser.wait_for_heading("推送端点").await;
    browser.check_page("webhooks.zh-CN").await;
    browser.fill("接收地址（URL）", &receiver.url).await;
    choose_option(browser, "部门", "hrss").await;
    browser.fill("说明", "人社局接口").await;
    browser.click_button("创建端点").await;
    wait_for_xpath(browser, "//input[@id='webhook-secret']").await;
    let secret = value_of(browser, "#webhook-secret").await;
    assert!(secret.starts_with("whsec_"));
    browser.check_page("webhook-created.zh-CN").await;
    // The secret is on the answer to the form alone; the endpoint's own page is in the list.
    browser.click_button("推送端点").await;
    browser.wait_for_heading("推送端点").await;
    let link = browser
        .client()
        .find(fantoccini::Locator::XPath(&format!(
            "//a[normalize-space(.)='{}']",
            receiver.url
        )))
        .await
        .unwrap();
    let endpoint_page = session.url(&link.attr("href").await.unwrap().unwrap());
    assert!(!browser.main_text().await.contains(&secret));

    // A case shared with the department, over the API with the token from the page.
    let client = reqwest::Client::new();
    let address = session.server.address.clone();
    let opened: Value = client
        .post(format!("{address}/v1/cases"))
        .bearer_auth(&officer_token)
        .json(&crate::support::valid_case_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case = opened["case_id"].as_str().unwrap().to_owned();
    let referred = client
        .post(format!("{address}/v1/cases/{case}/refer"))
        .bearer_auth(&officer_token)
        .json(&json!({"department": "hrss", "reason": "请依法处理"}))
        .send()
        .await
        .unwrap();
    assert_eq!(referred.status(), StatusCode::OK);
    let delivered = receiver.wait_for("case.ReferredToDepartment", 0).await;
    assert!(delivered.signed_by(&secret));

    // The endpoint's page lists the delivery with its status code and latency.
    let started = std::time::Instant::now();
    loop {
        browser.goto(&endpoint_page).await;
        browser
            .wait_for_heading(&format!("推送端点 {}", receiver.url))
            .await;
        let text = browser.main_text().await;
        if text.contains("case.ReferredToDepartment") && text.contains("200 · 已送达") {
            assert!(text.contains("毫秒"), "{text}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!browser.main_text().await.contains("whsec_"));
    browser.check_page("webhook.zh-CN").await;

    // Replay from a position, then rotate the secret.
    browser.fill("从日志位置", "1").await;
    browser.click_button("从某一位置重新推送").await;
    wait_for_xpath(
        browser,
        "//p[@role='status' and contains(., '已从该位置重新开始推送')]",
    )
    .await;
    browser.click_button("更换签名密钥").await;
    wait_for_xpath(browser, "//h2[normalize-space(.)='新的签名密钥']").await;
    let rotated = value_of(browser, "#webhook-secret").await;
    assert!(rotated.starts_with("whsec_") && rotated != secret);
    browser.check_page("webhook-rotated.zh-CN").await;
    browser.goto(&format!("{endpoint_page}/delete")).await;
    browser.wait_for_heading("删除端点").await;
    browser.check_page("webhook-delete.zh-CN").await;

    // Erasure: the confirmation names the case; a wrong id is refused beside the field.
    browser
        .goto(&session.url(&format!("/console/cases/{case}")))
        .await;
    browser.click_button("删除本案个人信息…").await;
    browser.wait_for_heading("删除案件的个人信息").await;
    assert!(browser.main_text().await.contains(&case));
    browser.check_page("erase.zh-CN").await;
    browser.fill("请输入案件编号以确认", "0000").await;
    browser
        .click_button("永久删除“Missing dust masks at the grinding line”的个人信息")
        .await;
    let error = browser.find("#confirm_case-error").await;
    assert_eq!(
        error.text().await.unwrap(),
        "输入的编号不是本案的编号，没有删除任何内容。"
    );
    browser.check_page("erase-refused.zh-CN").await;
    browser.fill("请输入案件编号以确认", &case).await;
    browser
        .click_button("永久删除“Missing dust masks at the grinding line”的个人信息")
        .await;
    wait_for_xpath(browser, "//p[@id='done']").await;
    let text = browser.main_text().await;
    assert!(!text.contains(crate::support::COMPLAINANT_NAME), "{text}");
    assert!(text.contains("已删除"), "{text}");
    browser.click_button("个人信息删除").await;
    browser.wait_for_heading("个人信息删除登记").await;
    assert!(browser.main_text().await.contains(&case));
    browser.check_page("erasures.zh-CN").await;

    // The same pages in English.
    switch_language(browser, "en").await;
    browser.wait_for_heading("Erasure register").await;
    browser.check_page("erasures.en").await;
    browser.goto(&endpoint_page).await;
    browser
        .wait_for_heading(&format!("Webhook endpoint {}", receiver.url))
        .await;
    assert!(browser.main_text().await.contains("200 · delivered"));
    browser.check_page("webhook.en").await;
    browser.goto(&format!("{endpoint_page}/delete")).await;
    browser.wait_for_heading("Delete the endpoint").await;
    browser.check_page("webhook-delete.en").await;
    browser.goto(&session.url("/console/webhooks")).await;
    browser.wait_for_heading("Webhook endpoints").await;
    browser.check_page("webhooks.en").await;
    browser.goto(&session.url("/console/tokens")).await;
    browser.wait_for_heading("API tokens").await;
    browser.check_page("tokens.en").await;
    browser.click_button("Revoke").await;
    browser.wait_for_heading("Revoke a token").await;
    browser.check_page("token-revoke.en").await;
    browser.click_button("Revoke “维权系统对接”").await;
    wait_for_xpath(browser, "//p[@role='status' and contains(., 'is revoked')]").await;
    let refused = client
        .get(format!("{address}/v1/cases/{case}"))
        .bearer_auth(&officer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    browser
        .goto(&session.url(&format!("/console/cases/{case}/erase")))
        .await;
    browser
        .wait_for_heading("Erase a case's personal data")
        .await;
    browser.check_page("erase.en").await;
    switch_language(browser, "zh-CN").await;
    browser.wait_for_heading("删除案件的个人信息").await;
    browser.goto(&session.url("/console/tokens")).await;
    browser.click_button("撤销").await;
    browser.wait_for_heading("撤销令牌").await;
    browser.check_page("token-revoke.zh-CN").await;

    let crate::support::browser::ConsoleSession {
        browser, server, ..
    } = session;
    browser.close().await;
    server.stop();
}
