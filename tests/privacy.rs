//! No personal data and no secret in the logs: the real binary runs a full scenario at
//! `CASELEDGER_LOG=debug` — once with human logs, once with `--log-format json` — and every
//! line it wrote to stderr is searched for the complainant's name, phone and ID number, every
//! bearer token (`clt_…`), every webhook secret (`whsec_…`), the checkpoint signing key and the key-encryption key.
//!
//! The process comes from the shared harness (`support::binary`, which keeps every stderr
//! line and returns them at the SIGTERM stop); this owns only a tiny webhook receiver on
//! 127.0.0.1.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use crate::support::binary::{self, ServeProcess};

/// The complainant of the scenario: values that appear nowhere else, so a hit is a leak.
const NAME: &str = "邱艳玲";
const PHONE: &str = "13712349876";
const ID_NUMBER: &str = "440304198506171238";
/// The same ID with a wrong check character: refused with 422, and never logged either.
const BAD_ID_NUMBER: &str = "440304198506171239";
/// A well-formed token that the service never issued, sent in a request.
const FORGED_TOKEN: &str = "clt_forgedForgedForgedForgedForgedForgedForg";

/// `caseledger serve` at `CASELEDGER_LOG=debug`, with `--log-format json` when `json_logs`;
/// its stderr is kept whole by the harness.
fn start_logged(data_dir: &Path, json_logs: bool) -> ServeProcess {
    let mut command = binary::command();
    if json_logs {
        command.args(["--log-format", "json"]);
    }
    command
        // The receiver listens on loopback, which webhooks reach only when allowed.
        .args(binary::serve_args(
            data_dir,
            &["--webhook-allow-cidr", "127.0.0.0/8"],
        ))
        .env("CASELEDGER_LOG", "debug");
    ServeProcess::spawn(command)
}

/// A webhook receiver on 127.0.0.1 that answers 200 and keeps every body.
async fn start_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&received);
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let kept = Arc::clone(&kept);
            async move {
                kept.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, received)
}

/// The scenario's client, with every secret it is given or shown.
struct Scenario {
    client: Client,
    address: String,
    secrets: Vec<(String, String)>,
}

impl Scenario {
    fn keep(&mut self, what: &str, secret: &str) {
        assert!(!secret.is_empty(), "{what} is not empty");
        self.secrets.push((what.to_owned(), secret.to_owned()));
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the request is answered")
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        status: StatusCode,
    ) -> Value {
        let response = self.send(method, path, token, body).await;
        let actual = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(actual, status, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, token: &str, body: &Value, status: StatusCode) -> Value {
        self.expect(reqwest::Method::POST, path, token, Some(body), status)
            .await
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        self.expect(reqwest::Method::GET, path, token, None, StatusCode::OK)
            .await
    }

    /// A new token of `role`; its secret is kept.
    async fn token(&mut self, admin: &str, role: &str, department: Option<&str>) -> String {
        let issued = self
            .post(
                "/v1/tokens",
                admin,
                &json!({"name": format!("privacy {role}"), "role": role, "department": department}),
                StatusCode::CREATED,
            )
            .await;
        let token = issued["token"].as_str().unwrap().to_owned();
        self.keep(&format!("the {role} token"), &token);
        token
    }
}

/// Every event kind and most routes, as each role, with a webhook receiving the partner feed.
async fn run_scenario(scenario: &mut Scenario, admin: &str) {
    let ok = StatusCode::OK;
    let (receiver_url, received) = start_receiver().await;
    let officer = scenario.token(admin, "officer", None).await;
    let supervisor = scenario.token(admin, "supervisor", None).await;
    let auditor = scenario.token(admin, "auditor", None).await;
    let hrss = scenario.token(admin, "partner", Some("hrss")).await;
    let court = scenario.token(admin, "partner", Some("court")).await;

    // A webhook endpoint for hrss, and a secret rotation.
    let webhook = scenario
        .post(
            "/v1/webhooks",
            admin,
            &json!({"url": receiver_url, "department": "hrss", "description": "privacy test"}),
            StatusCode::CREATED,
        )
        .await;
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    scenario.keep("the webhook secret", webhook["secret"].as_str().unwrap());
    let rotated = scenario
        .post(
            &format!("/v1/webhooks/{webhook_id}/rotate-secret"),
            admin,
            &json!({}),
            ok,
        )
        .await;
    scenario.keep(
        "the rotated webhook secret",
        rotated["secret"].as_str().unwrap(),
    );

    // Open a case with a complainant (and once more, idempotently).
    let case_body = json!({
        "title": "Wages unpaid for three months at the brick works",
        "category": "wage_arrears",
        "description": "Forty workers have not been paid since August.",
        "source": "hotline",
        "employer": {"name": "Fucheng Brick Works", "credit_code": "91110000600037341L"},
        "region": "Fucheng District",
        "workers_affected": 40,
        "complainant": {"name": NAME, "phone": PHONE, "id_number": ID_NUMBER}
    });
    let opened = scenario
        .client
        .post(format!("{}/v1/cases", scenario.address))
        .bearer_auth(&officer)
        .header("Idempotency-Key", "privacy-open-1")
        .json(&case_body)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::CREATED);
    let opened: Value = opened.json().await.unwrap();
    let case = opened["case_id"].as_str().unwrap().to_owned();
    let again = scenario
        .client
        .post(format!("{}/v1/cases", scenario.address))
        .bearer_auth(&officer)
        .header("Idempotency-Key", "privacy-open-1")
        .json(&case_body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    let path = |command: &str| format!("/v1/cases/{case}/{command}");
    let view = scenario.get(&format!("/v1/cases/{case}"), &officer).await;
    assert_eq!(
        view["complainant"]["name"], NAME,
        "officers see the complainant"
    );

    // Commands: assign, findings, letters and the answer, recommendation, escalate, refer.
    scenario
        .post(&path("assign"), &officer, &json!({"officer": "Li Wei"}), ok)
        .await;
    scenario
        .post(
            &path("findings"),
            &officer,
            &json!({"summary": "Payroll records show no payment since August."}),
            ok,
        )
        .await;
    scenario
        .post(
            &path("letters"),
            &officer,
            &json!({"kind": "opinion", "recipient": "Fucheng Brick Works",
                    "content": "Pay the arrears within 15 days."}),
            ok,
        )
        .await;
    let view = scenario.get(&format!("/v1/cases/{case}"), &officer).await;
    let letter_id = view["letters"][0]["letter_id"].as_str().unwrap().to_owned();
    scenario
        .post(
            &path(&format!("letters/{letter_id}/response")),
            &officer,
            &json!({"rectified": false, "content": "No money until the spring."}),
            ok,
        )
        .await;
    scenario
        .post(
            &path("letters"),
            &officer,
            &json!({"kind": "recommendation", "recipient": "Fucheng HRSS bureau",
                    "content": "Please investigate the arrears.", "department": "hrss"}),
            ok,
        )
        .await;
    scenario
        .post(
            &path("escalate"),
            &supervisor,
            &json!({"tier": "four_way", "reason": "The employer refuses to pay."}),
            ok,
        )
        .await;
    scenario
        .post(
            &path("refer"),
            &officer,
            &json!({"department": "labour_inspection", "reason": "Wage inspection."}),
            ok,
        )
        .await;
    scenario
        .post(
            &path("feedback"),
            &hrss,
            &json!({"content": "Inspection scheduled for Monday."}),
            ok,
        )
        .await;
    scenario
        .post(
            &path("feedback"),
            &court,
            &json!({"content": "Noted; the court will hear the case."}),
            ok,
        )
        .await;
    scenario
        .post(
            &path("notes"),
            &officer,
            &json!({"text": "Spoke with the complainant by phone."}),
            ok,
        )
        .await;

    // Reads as every role.
    let partner_view = scenario.get(&format!("/v1/cases/{case}"), &hrss).await;
    assert!(
        !partner_view.to_string().contains(PHONE),
        "partners never see personal data"
    );
    scenario
        .get(&format!("/v1/cases/{case}/history"), &auditor)
        .await;
    scenario
        .get(&format!("/v1/cases/{case}/replay"), &auditor)
        .await;
    scenario.get("/v1/events?after=0&limit=100", &auditor).await;
    scenario.get("/v1/audit/verify", &auditor).await;
    scenario.get("/v1/audit/checkpoints", &auditor).await;
    scenario.get("/v1/audit/public-key", &auditor).await;
    let export = scenario
        .send(reqwest::Method::GET, "/v1/audit/export", &auditor, None)
        .await;
    assert_eq!(export.status(), ok);
    export.text().await.unwrap();
    scenario.get("/v1/feed?after=0&limit=100", &hrss).await;
    scenario
        .get("/v1/cases?q=brick&limit=10", &supervisor)
        .await;
    scenario.get("/v1/stats", &supervisor).await;
    scenario.get("/v1/tokens", admin).await;
    scenario.get("/v1/webhooks", admin).await;
    scenario
        .get(&format!("/v1/webhooks/{webhook_id}/deliveries"), admin)
        .await;

    // Bad requests, each carrying personal data or a secret the service must not log.
    let bad_id = json!({
        "title": "t", "category": "wage_arrears", "description": "d", "source": "hotline",
        "employer": {"name": "e"},
        "complainant": {"name": NAME, "phone": PHONE, "id_number": BAD_ID_NUMBER}
    });
    scenario
        .post(
            "/v1/cases",
            &officer,
            &bad_id,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    let malformed = scenario
        .client
        .post(format!("{}/v1/cases", scenario.address))
        .bearer_auth(&officer)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"title": "t", "complainant": {{"name": "{NAME}", "phone": "{PHONE}""#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let wrong_type = scenario
        .client
        .post(format!("{}/v1/cases", scenario.address))
        .bearer_auth(&officer)
        .header("content-type", "text/plain")
        .body(format!("name={NAME}&phone={PHONE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::BAD_REQUEST);
    scenario
        .post(
            &path("notes"),
            &officer,
            &json!({"text": "x", "phone": PHONE}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    let forged = scenario
        .send(
            reqwest::Method::GET,
            &format!("/v1/cases/{case}"),
            FORGED_TOKEN,
            None,
        )
        .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    scenario
        .expect(
            reqwest::Method::POST,
            &path("erase-personal-data"),
            &officer,
            None,
            StatusCode::FORBIDDEN,
        )
        .await;
    let stale = scenario
        .client
        .post(format!("{}{}", scenario.address, path("notes")))
        .bearer_auth(&officer)
        .header("If-Match", "\"1\"")
        .json(&json!({"text": "stale"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    // On a client of its own: the service closes a connection whose body it refused, and a
    // pooled connection closed under the next request would fail it. It refuses by the
    // declared length, at once, so the client may still be writing the body when the
    // connection closes (a broken pipe): that attempt is sent again.
    let mut oversized = None;
    for _ in 0..5 {
        match Client::new()
            .post(format!("{}{}", scenario.address, path("notes")))
            .bearer_auth(&officer)
            .json(&json!({"text": format!("{PHONE} {}", "x".repeat(2 * 1024 * 1024))}))
            .send()
            .await
        {
            Ok(response) => {
                oversized = Some(response);
                break;
            }
            Err(error) if error.is_request() => {}
            Err(error) => panic!("the oversized post failed: {error}"),
        }
    }
    let oversized = oversized.expect("one of five oversized posts is answered");
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A revoked token is refused.
    let tokens = scenario.get("/v1/tokens", admin).await;
    let court_id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["department"] == "court")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    scenario
        .expect(
            reqwest::Method::DELETE,
            &format!("/v1/tokens/{court_id}"),
            admin,
            None,
            ok,
        )
        .await;
    let revoked = scenario
        .send(reqwest::Method::GET, "/v1/cases", &court, None)
        .await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);

    // Erase the complainant's data.
    scenario
        .expect(
            reqwest::Method::POST,
            &path("erase-personal-data"),
            admin,
            None,
            ok,
        )
        .await;
    let view = scenario.get(&format!("/v1/cases/{case}"), &officer).await;
    assert_eq!(view["complainant"]["erased"], true);

    // The webhook receives the case's messages (signed with the secrets) before the stop.
    let started = Instant::now();
    loop {
        let delivered = received.lock().unwrap().len();
        if delivered >= 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the webhook receives the case's messages (got {delivered})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bodies = received.lock().unwrap().join("\n");
    assert!(
        !bodies.contains(PHONE) && !bodies.contains(NAME),
        "no personal data in webhook messages"
    );
}

/// Occurrences of `prefix` followed by at least `min` characters of a token or secret.
fn secret_like(logs: &str, prefix: &str, min: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = logs;
    while let Some(index) = rest.find(prefix) {
        let after = &rest[index + prefix.len()..];
        let tail: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '='))
            .collect();
        if tail.len() >= min {
            found.push(format!("{prefix}{tail}"));
        }
        rest = after;
    }
    found
}

async fn logs_hold_no_secrets(json_logs: bool) {
    let data_dir = tempfile::tempdir().unwrap();
    let service = start_logged(data_dir.path(), json_logs);
    let admin = std::fs::read_to_string(data_dir.path().join("initial-admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let mut scenario = Scenario {
        client: Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        address: service.address.clone(),
        secrets: Vec::new(),
    };
    scenario.keep("the initial admin token", &admin);
    run_scenario(&mut scenario, &admin).await;
    let logs = service.stop();

    // The logs are real: debug level, request spans, the whole life of the process.
    assert!(!logs.trim().is_empty(), "the service logged something");
    for expected in [
        "caseledger listening on http://",
        "/v1/cases",
        "caseledger stopped",
    ] {
        assert!(
            logs.contains(expected),
            "the logs mention {expected:?}:\n{logs}"
        );
    }
    assert!(
        logs.contains("DEBUG") || logs.contains("\"level\":\"DEBUG\""),
        "CASELEDGER_LOG=debug takes effect"
    );
    if json_logs {
        for line in logs.lines().filter(|line| !line.trim().is_empty()) {
            assert!(
                serde_json::from_str::<Value>(line).is_ok(),
                "--log-format json writes one JSON object a line: {line}"
            );
        }
    }

    let key_text = std::fs::read_to_string(data_dir.path().join("signing-key")).unwrap();
    let key_base64 = key_text.trim().to_owned();
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(&key_base64)
        .unwrap();
    let key_hex: String = key_bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let key_debug = format!("{key_bytes:?}");
    let mut forbidden: Vec<(String, String)> = vec![
        ("the complainant's name".into(), NAME.into()),
        ("the complainant's phone".into(), PHONE.into()),
        ("the complainant's ID number".into(), ID_NUMBER.into()),
        ("a refused ID number".into(), BAD_ID_NUMBER.into()),
        ("a forged token".into(), FORGED_TOKEN.into()),
        ("the signing key (base64)".into(), key_base64),
        ("the signing key (hex)".into(), key_hex),
        ("the signing key (bytes)".into(), key_debug),
    ];
    // The key-encryption key that wraps the personal-data keys, in every form.
    let kek_base64 = std::fs::read_to_string(data_dir.path().join("kek"))
        .unwrap()
        .trim()
        .to_owned();
    let kek_bytes = base64::engine::general_purpose::STANDARD
        .decode(&kek_base64)
        .unwrap();
    forbidden.push((
        "the key-encryption key (hex)".into(),
        kek_bytes.iter().map(|byte| format!("{byte:02x}")).collect(),
    ));
    forbidden.push((
        "the key-encryption key (bytes)".into(),
        format!("{kek_bytes:?}"),
    ));
    forbidden.push(("the key-encryption key (base64)".into(), kek_base64));
    forbidden.extend(scenario.secrets.iter().cloned());
    // A secret's body without its prefix leaks just as much.
    for (what, secret) in &scenario.secrets {
        if let Some((_, body)) = secret.split_once('_') {
            forbidden.push((format!("{what} without its prefix"), body.to_owned()));
        }
    }
    for (what, secret) in &forbidden {
        assert!(
            !logs.contains(secret.as_str()),
            "{what} appears in the logs (json: {json_logs})"
        );
    }
    let tokens = secret_like(&logs, "clt_", 16);
    assert!(tokens.is_empty(), "token-like text in the logs: {tokens:?}");
    let secrets = secret_like(&logs, "whsec_", 16);
    assert!(
        secrets.is_empty(),
        "webhook-secret-like text in the logs: {secrets:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_logs_at_debug_hold_no_personal_data_or_secrets() {
    logs_hold_no_secrets(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_at_debug_hold_no_personal_data_or_secrets() {
    logs_hold_no_secrets(true).await;
}
