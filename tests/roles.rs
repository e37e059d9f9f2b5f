//! The role matrix of contract §2–§3: every caller (each role, a partner of a department the
//! case is shared with and of one it is not, no token, a revoked token, a garbage token) ×
//! every endpoint → the expected status. Built as a table; every cell is checked and all
//! mismatches are reported at once.
//!
//! Each cell that changes state runs on a fresh case set up for that command to succeed, so a
//! refusal is the role's doing and never the case's state.

use std::fmt;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{expect_status, spawn_app, valid_case_body, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Admin,
    Supervisor,
    Officer,
    /// A partner of `hrss`, which the fixture case is shared with.
    PartnerShared,
    /// A partner of `health`, which the fixture case is not shared with.
    PartnerOther,
    Auditor,
    NoToken,
    RevokedToken,
    GarbageToken,
}

const CALLERS: [Caller; 9] = [
    Caller::Admin,
    Caller::Supervisor,
    Caller::Officer,
    Caller::PartnerShared,
    Caller::PartnerOther,
    Caller::Auditor,
    Caller::NoToken,
    Caller::RevokedToken,
    Caller::GarbageToken,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    CreateToken,
    ListTokens,
    RevokeToken,
    CreateUser,
    ListUsers,
    DisableUser,
    ResetUser,
    OpenCase,
    ListCases,
    Stats,
    GetCase,
    History,
    Replay,
    Events,
    AuditVerify,
    AuditExport,
    Checkpoints,
    PublicKey,
    CreateWebhook,
    ListWebhooks,
    GetWebhook,
    DeleteWebhook,
    Deliveries,
    ReplayWebhook,
    ResumeWebhook,
    RotateSecret,
    Feed,
    Assign,
    Findings,
    IssueLetter,
    AnswerLetter,
    Escalate,
    Refer,
    Feedback,
    Notes,
    Close,
    Reopen,
    Erase,
}

const ENDPOINTS: [Endpoint; 38] = [
    Endpoint::CreateToken,
    Endpoint::ListTokens,
    Endpoint::RevokeToken,
    Endpoint::CreateUser,
    Endpoint::ListUsers,
    Endpoint::DisableUser,
    Endpoint::ResetUser,
    Endpoint::OpenCase,
    Endpoint::ListCases,
    Endpoint::Stats,
    Endpoint::GetCase,
    Endpoint::History,
    Endpoint::Replay,
    Endpoint::Events,
    Endpoint::AuditVerify,
    Endpoint::AuditExport,
    Endpoint::Checkpoints,
    Endpoint::PublicKey,
    Endpoint::CreateWebhook,
    Endpoint::ListWebhooks,
    Endpoint::GetWebhook,
    Endpoint::DeleteWebhook,
    Endpoint::Deliveries,
    Endpoint::ReplayWebhook,
    Endpoint::ResumeWebhook,
    Endpoint::RotateSecret,
    Endpoint::Feed,
    Endpoint::Assign,
    Endpoint::Findings,
    Endpoint::IssueLetter,
    Endpoint::AnswerLetter,
    Endpoint::Escalate,
    Endpoint::Refer,
    Endpoint::Feedback,
    Endpoint::Notes,
    Endpoint::Close,
    Endpoint::Reopen,
    Endpoint::Erase,
];

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;
const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;
const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;

/// Contract §3, cell by cell.
fn expected(caller: Caller, endpoint: Endpoint) -> StatusCode {
    use Caller::*;
    use Endpoint::*;
    if matches!(caller, NoToken | RevokedToken | GarbageToken) {
        return UNAUTHORIZED;
    }
    // A partner learns nothing of a case not shared with its department, whatever it asks.
    let case_scoped = !matches!(
        endpoint,
        CreateToken
            | ListTokens
            | RevokeToken
            | CreateUser
            | ListUsers
            | DisableUser
            | ResetUser
            | OpenCase
            | ListCases
            | Stats
            | Events
            | AuditVerify
            | AuditExport
            | Checkpoints
            | PublicKey
            | CreateWebhook
            | ListWebhooks
            | GetWebhook
            | DeleteWebhook
            | Deliveries
            | ReplayWebhook
            | ResumeWebhook
            | RotateSecret
            | Feed
    );
    if caller == PartnerOther && case_scoped {
        return NOT_FOUND;
    }
    match endpoint {
        CreateToken => allow(caller, &[Admin], CREATED),
        ListTokens | RevokeToken => allow(caller, &[Admin], OK),
        CreateUser => allow(caller, &[Admin], CREATED),
        ListUsers | DisableUser | ResetUser => allow(caller, &[Admin], OK),
        OpenCase => allow(caller, &[Admin, Supervisor, Officer], CREATED),
        // Everyone lists cases; a partner's list holds only the cases shared with it.
        ListCases | GetCase | History => OK,
        Stats => allow(caller, &[Admin, Supervisor, Auditor], OK),
        Events | AuditVerify | AuditExport | Replay => allow(caller, &[Admin, Auditor], OK),
        // Checkpoints and the key hold no case data; partners keep them as witnesses.
        Checkpoints | PublicKey => OK,
        CreateWebhook => allow(caller, &[Admin], CREATED),
        ListWebhooks | GetWebhook | DeleteWebhook | Deliveries | ReplayWebhook | ResumeWebhook
        | RotateSecret => allow(caller, &[Admin], OK),
        // Every partner reads its own department's feed.
        Feed => allow(caller, &[PartnerShared, PartnerOther], OK),
        Assign | Findings | IssueLetter | AnswerLetter | Escalate | Refer | Notes | Close => {
            allow(caller, &[Admin, Supervisor, Officer], OK)
        }
        Feedback => allow(caller, &[PartnerShared], OK),
        Reopen => allow(caller, &[Admin, Supervisor], OK),
        Erase => allow(caller, &[Admin], OK),
    }
}

fn allow(caller: Caller, allowed: &[Caller], success: StatusCode) -> StatusCode {
    if allowed.contains(&caller) {
        success
    } else {
        FORBIDDEN
    }
}

/// The tokens of every caller.
struct Tokens {
    admin: String,
    supervisor: String,
    officer: String,
    partner_shared: String,
    partner_other: String,
    auditor: String,
    revoked: String,
}

impl Tokens {
    async fn issue(app: &TestApp) -> Tokens {
        let (revoked_id, revoked) = app.issue_token("officer", None).await;
        let response = app
            .request(
                Method::DELETE,
                &format!("/v1/tokens/{revoked_id}"),
                Some(&app.admin_token),
            )
            .send()
            .await
            .unwrap();
        let record = expect_status(response, OK).await;
        assert!(record["revoked_at"].is_string(), "{record}");
        Tokens {
            admin: app.admin_token.clone(),
            supervisor: app.token("supervisor", None).await,
            officer: app.token("officer", None).await,
            partner_shared: app.token("partner", Some("hrss")).await,
            partner_other: app.token("partner", Some("health")).await,
            auditor: app.token("auditor", None).await,
            revoked,
        }
    }

    /// The `Authorization` header value, if any.
    fn header(&self, caller: Caller) -> Option<String> {
        let token = match caller {
            Caller::Admin => &self.admin,
            Caller::Supervisor => &self.supervisor,
            Caller::Officer => &self.officer,
            Caller::PartnerShared => &self.partner_shared,
            Caller::PartnerOther => &self.partner_other,
            Caller::Auditor => &self.auditor,
            Caller::RevokedToken => &self.revoked,
            Caller::GarbageToken => "clt_AAAAthis-is-no-token-at-all",
            Caller::NoToken => return None,
        };
        Some(format!("Bearer {token}"))
    }
}

/// A case shared with `hrss` (by a referral), with an opinion letter awaiting its answer;
/// closed (as referred) for the reopen cells.
struct Fixture {
    case: Uuid,
    open_letter: String,
}

async fn fixture(app: &TestApp, closed: bool) -> Fixture {
    let token = app.admin_token.clone();
    let case = app.open_valid_case(&token).await;
    app.command(
        case,
        "refer",
        &token,
        &json!({"department": "hrss", "reason": "wages"}),
        OK,
    )
    .await;
    app.command(
        case,
        "letters",
        &token,
        &json!({"kind": "opinion", "recipient": "Employer", "content": "Fix it."}),
        OK,
    )
    .await;
    let view = app.case(case, &token).await;
    let open_letter = view["letters"][0]["letter_id"].as_str().unwrap().to_owned();
    if closed {
        app.command(
            case,
            "close",
            &token,
            &json!({"outcome": "referred", "summary": "with hrss"}),
            OK,
        )
        .await;
    }
    Fixture { case, open_letter }
}

/// A webhook endpoint for `hrss` on a loopback port where nothing listens.
fn webhook_body() -> Value {
    json!({"url": "http://127.0.0.1:9/caseledger", "department": "hrss", "description": "matrix"})
}

/// Registers an endpoint as the admin; returns its id.
async fn webhook(app: &TestApp) -> String {
    let response = app
        .post("/v1/webhooks", &app.admin_token, &webhook_body())
        .await;
    let created = expect_status(response, CREATED).await;
    assert!(
        created["secret"]
            .as_str()
            .is_some_and(|secret| secret.starts_with("whsec_")),
        "{created}"
    );
    created["id"].as_str().unwrap().to_owned()
}

/// The body of a new account, with a login of its own.
fn account_body() -> Value {
    json!({"login": format!("matrix-{}", Uuid::now_v7().simple()), "name": "Matrix", "role": "officer"})
}

/// Creates an account as the admin; returns its id.
async fn account(app: &TestApp) -> String {
    let response = app
        .post("/v1/users", &app.admin_token, &account_body())
        .await;
    let created = expect_status(response, CREATED).await;
    created["id"].as_str().unwrap().to_owned()
}

/// One request: method, path and JSON body.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl fmt::Display for Call {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}", self.method, self.path)
    }
}

/// The request for `endpoint`, after setting up what it needs to succeed.
async fn prepare(app: &TestApp, endpoint: Endpoint, shared: &Fixture) -> Call {
    use Endpoint::*;
    let post = |path: String, body: Value| Call {
        method: Method::POST,
        path,
        body: Some(body),
    };
    let get = |path: String| Call {
        method: Method::GET,
        path,
        body: None,
    };
    let command = |fixture: &Fixture, name: &str, body: Value| {
        post(format!("/v1/cases/{}/{name}", fixture.case), body)
    };
    match endpoint {
        CreateToken => post(
            "/v1/tokens".into(),
            json!({"name": "matrix", "role": "officer"}),
        ),
        ListTokens => get("/v1/tokens".into()),
        RevokeToken => {
            let (victim, _) = app.issue_token("officer", None).await;
            Call {
                method: Method::DELETE,
                path: format!("/v1/tokens/{victim}"),
                body: None,
            }
        }
        CreateUser => post("/v1/users".into(), account_body()),
        ListUsers => get("/v1/users".into()),
        DisableUser => Call {
            method: Method::DELETE,
            path: format!("/v1/users/{}", account(app).await),
            body: None,
        },
        ResetUser => Call {
            method: Method::POST,
            path: format!("/v1/users/{}/reset", account(app).await),
            body: None,
        },
        OpenCase => post("/v1/cases".into(), valid_case_body()),
        ListCases => get("/v1/cases?limit=5".into()),
        Stats => get("/v1/stats".into()),
        GetCase => get(format!("/v1/cases/{}", shared.case)),
        History => get(format!("/v1/cases/{}/history", shared.case)),
        Replay => get(format!("/v1/cases/{}/replay", shared.case)),
        Events => get("/v1/events?after=0&limit=10".into()),
        AuditVerify => get("/v1/audit/verify".into()),
        AuditExport => get("/v1/audit/export".into()),
        Checkpoints => get("/v1/audit/checkpoints".into()),
        PublicKey => get("/v1/audit/public-key".into()),
        CreateWebhook => post("/v1/webhooks".into(), webhook_body()),
        ListWebhooks => get("/v1/webhooks".into()),
        GetWebhook => get(format!("/v1/webhooks/{}", webhook(app).await)),
        DeleteWebhook => Call {
            method: Method::DELETE,
            path: format!("/v1/webhooks/{}", webhook(app).await),
            body: None,
        },
        Deliveries => get(format!("/v1/webhooks/{}/deliveries", webhook(app).await)),
        ReplayWebhook => post(
            format!("/v1/webhooks/{}/replay", webhook(app).await),
            json!({"from_position": 0}),
        ),
        ResumeWebhook => post(
            format!("/v1/webhooks/{}/resume", webhook(app).await),
            json!({}),
        ),
        RotateSecret => post(
            format!("/v1/webhooks/{}/rotate-secret", webhook(app).await),
            json!({}),
        ),
        Feed => get("/v1/feed?after=0&limit=10".into()),
        Assign => command(
            &fixture(app, false).await,
            "assign",
            json!({"officer": "Li Wei"}),
        ),
        Findings => command(
            &fixture(app, false).await,
            "findings",
            json!({"summary": "No masks."}),
        ),
        IssueLetter => command(
            &fixture(app, false).await,
            "letters",
            json!({"kind": "reminder", "recipient": "Employer", "content": "Reminder."}),
        ),
        AnswerLetter => {
            let fixture = fixture(app, false).await;
            let path = format!("letters/{}/response", fixture.open_letter);
            command(
                &fixture,
                &path,
                json!({"rectified": true, "content": "Masks issued."}),
            )
        }
        Escalate => command(
            &fixture(app, false).await,
            "escalate",
            json!({"tier": "three_party", "reason": "refuses"}),
        ),
        Refer => command(
            &fixture(app, false).await,
            "refer",
            json!({"department": "labour_inspection", "reason": "inspection"}),
        ),
        Feedback => command(
            &fixture(app, false).await,
            "feedback",
            json!({"content": "Inspection scheduled.", "outcome": "investigating"}),
        ),
        Notes => command(&fixture(app, false).await, "notes", json!({"text": "note"})),
        Close => command(
            &fixture(app, false).await,
            "close",
            json!({"outcome": "referred", "summary": "with hrss"}),
        ),
        Reopen => command(
            &fixture(app, true).await,
            "reopen",
            json!({"reason": "new evidence"}),
        ),
        Erase => Call {
            method: Method::POST,
            path: format!(
                "/v1/cases/{}/erase-personal-data",
                fixture(app, false).await.case
            ),
            body: None,
        },
    }
}

#[tokio::test]
async fn every_role_gets_the_contracts_answer_at_every_endpoint() {
    let app = spawn_app().await;
    let tokens = Tokens::issue(&app).await;
    let shared = fixture(&app, false).await;
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for endpoint in ENDPOINTS {
        for caller in CALLERS {
            let call = prepare(&app, endpoint, &shared).await;
            let mut request = app
                .client
                .request(call.method.clone(), format!("{}{}", app.address, call.path));
            if let Some(header) = tokens.header(caller) {
                request = request.header(AUTHORIZATION, header);
            }
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = response.text().await.unwrap();
            let want = expected(caller, endpoint);
            cells += 1;
            if status != want {
                mismatches.push(format!(
                    "{caller:?} × {endpoint:?} ({call}): expected {want}, got {status}: {body}"
                ));
            } else if !status.is_success() && content_type != "application/problem+json" {
                mismatches.push(format!(
                    "{caller:?} × {endpoint:?} ({call}): {status} is not problem+json ({content_type})"
                ));
            }
        }
    }
    assert_eq!(cells, CALLERS.len() * ENDPOINTS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ from the contract:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once_and_tokens_are_listed_without_secrets() {
    let app = spawn_app().await;
    let (id, token) = app.issue_token("officer", None).await;
    assert!(token.starts_with("clt_"), "{token}");
    let case = app.open_valid_case(&token).await;
    let listed = expect_status(app.get("/v1/tokens", &app.admin_token).await, OK).await;
    let raw = listed.to_string();
    assert!(!raw.contains(&token), "the list shows a secret");
    let items = listed["items"].as_array().unwrap();
    let record = items
        .iter()
        .find(|item| item["id"] == id.to_string())
        .expect("the new token is listed");
    assert_eq!(record["role"], "officer");
    assert!(record.get("token").is_none());

    let response = app
        .request(
            Method::DELETE,
            &format!("/v1/tokens/{id}"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    expect_status(response, OK).await;
    let response = app.get(&format!("/v1/cases/{case}"), &token).await;
    crate::support::assert_problem(response, UNAUTHORIZED).await;
    // Revoking an unknown token is a 404, a malformed id too.
    for path in [
        format!("/v1/tokens/{}", Uuid::now_v7()),
        "/v1/tokens/nope".into(),
    ] {
        let response = app
            .request(Method::DELETE, &path, Some(&app.admin_token))
            .send()
            .await
            .unwrap();
        crate::support::assert_problem(response, NOT_FOUND).await;
    }
}

#[tokio::test]
async fn the_authorization_header_must_be_a_bearer_token() {
    let app = spawn_app().await;
    for header in [
        format!("Basic {}", app.admin_token),
        app.admin_token.clone(),
        "Bearer".into(),
        "Bearer ".into(),
        format!("bearer{}", app.admin_token),
    ] {
        let response = app
            .client
            .get(format!("{}/v1/tokens", app.address))
            .header(AUTHORIZATION, header.clone())
            .send()
            .await
            .unwrap();
        crate::support::assert_problem(response, UNAUTHORIZED).await;
    }
    // Partner tokens need a known department; other roles have none.
    for (body, field) in [
        (json!({"name": "p", "role": "partner"}), "department"),
        (
            json!({"name": "p", "role": "partner", "department": "ministry_of_magic"}),
            "department",
        ),
        (
            json!({"name": "p", "role": "officer", "department": "hrss"}),
            "department",
        ),
        (json!({"name": "p", "role": "overlord"}), "role"),
        (json!({"name": " ", "role": "officer"}), "name"),
    ] {
        let response = app.post("/v1/tokens", &app.admin_token, &body).await;
        crate::support::assert_invalid_field(response, field).await;
    }
}

#[tokio::test]
async fn a_partner_lists_only_the_cases_shared_with_it() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let hrss = app.token("partner", Some("hrss")).await;
    let health = app.token("partner", Some("health")).await;
    let shared = app.open_valid_case(&officer).await;
    let unshared = app.open_valid_case(&officer).await;
    let referred = app
        .command(
            shared,
            "refer",
            &officer,
            &json!({"department": "hrss", "reason": "wages"}),
            OK,
        )
        .await;
    let position = referred["position"].as_u64().unwrap();
    let listed = |token: String| {
        let app = &app;
        async move {
            let page = expect_status(
                app.get(&format!("/v1/cases?min_position={position}"), &token)
                    .await,
                OK,
            )
            .await;
            let ids: Vec<String> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_owned())
                .collect();
            (ids, page)
        }
    };
    let (ids, _) = listed(officer.clone()).await;
    assert_eq!(ids, [shared.to_string(), unshared.to_string()]);
    let (ids, page) = listed(hrss).await;
    assert_eq!(ids, [shared.to_string()]);
    let raw = page.to_string();
    assert!(
        !raw.contains(crate::support::COMPLAINANT_NAME),
        "a partner's list shows personal data: {raw}"
    );
    let (ids, _) = listed(health).await;
    assert!(ids.is_empty(), "{ids:?}");
}

#[tokio::test]
async fn a_partner_sees_history_from_the_sharing_event_on_without_internal_notes() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let partner = app.token("partner", Some("labour_inspection")).await;
    let case = app.open_valid_case(&officer).await;
    let note = json!({"text": "internal: the complainant fears retaliation"});
    expect_status(
        app.post(&format!("/v1/cases/{case}/notes"), &officer, &note)
            .await,
        StatusCode::OK,
    )
    .await;
    let refer = json!({"department": "labour_inspection", "reason": "unpaid overtime"});
    expect_status(
        app.post(&format!("/v1/cases/{case}/refer"), &officer, &refer)
            .await,
        StatusCode::OK,
    )
    .await;
    expect_status(
        app.post(&format!("/v1/cases/{case}/notes"), &officer, &note)
            .await,
        StatusCode::OK,
    )
    .await;

    let history = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &partner)
            .await,
        StatusCode::OK,
    )
    .await;
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, vec!["ReferredToDepartment"]);
    let raw = history.to_string();
    assert!(
        !raw.contains("retaliation"),
        "internal notes never reach partners"
    );

    let officer_history = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &officer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        officer_history["events"].as_array().expect("events").len(),
        4
    );
}
