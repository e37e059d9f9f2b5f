//! Test support: [`spawn_app`] starts the whole service (sled store in a fresh temporary
//! directory, or a fresh PostgreSQL database when [`TEST_STORE_ENV`] says so, [`App`] with its background workers, the axum router) on `127.0.0.1:0` in tasks
//! of the test's runtime, and [`TestApp`] sends requests to it as a client would.
//!
//! It owns no assertions about behaviour beyond [`assert_problem`], which checks the RFC 9457
//! shape every error response must have.

use std::sync::Arc;
use std::time::Duration;

use caseledger_api::{ApiConfig, AppState};
use caseledger_app::webhooks::{parse_cidr, DeliveryConfig, EgressPolicy};
use caseledger_app::{spawn_workers, App, AppOptions, AppSetup, Storage, SystemClock};
use caseledger_domain::Policy;
use caseledger_store::conformance::ScratchDatabase;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::watch;
use uuid::Uuid;

/// A valid unified social credit code (test-vectors.md).
pub const VALID_CREDIT_CODE: &str = "91110000600037341L";
/// A valid resident identity number (the standard's own example).
pub const VALID_ID_NUMBER: &str = "11010519491231002X";
/// The complainant's name in [`valid_case_body`]; must never appear in the log in clear.
pub const COMPLAINANT_NAME: &str = "王秀英";
/// The complainant's phone in [`valid_case_body`]; must never appear in the log in clear.
pub const COMPLAINANT_PHONE: &str = "13912345678";

/// The running service and a client for it.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The initial admin token, as `serve` would write it to `initial-admin-token`.
    pub admin_token: String,
    /// A client without timeouts of its own beyond a generous safety net.
    pub client: reqwest::Client,
    /// The service itself, for the few checks that look below HTTP.
    #[allow(dead_code, reason = "not every test module looks below HTTP")]
    pub app: Arc<App>,
    /// Stops the workers when the test ends (dropping it is the signal).
    _shutdown: watch::Sender<bool>,
    /// Kept so the data directory lives as long as the test.
    _data_dir: TempDir,
    /// The PostgreSQL database, when the suite runs on PostgreSQL (dropped after the test).
    _database: Option<ScratchDatabase>,
}

/// Which store the integration tests run on: `sled` (the default: a fresh temporary
/// directory) or `postgres` (a fresh database on the test server, see
/// `caseledger_store::conformance::ScratchDatabase`). CI runs the whole suite both ways.
pub const TEST_STORE_ENV: &str = "CASELEDGER_TEST_STORE";

/// A fresh PostgreSQL database when [`TEST_STORE_ENV`] asks for PostgreSQL; `None` for sled.
pub async fn scratch_postgres() -> Option<ScratchDatabase> {
    match std::env::var(TEST_STORE_ENV).as_deref() {
        Err(_) | Ok("" | "sled") => None,
        Ok("postgres") => Some(ScratchDatabase::create().await),
        Ok(other) => panic!("{TEST_STORE_ENV}={other}: expected sled or postgres"),
    }
}

/// Starts the service on a fresh store and a free loopback port.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Policy::default(), AppOptions::default(), |_| {}).await
}

/// [`spawn_app`] with this policy and these app options, and the API configuration changed by
/// `configure` (after the tests' own short read wait is set): for the tests that need a low
/// limit.
pub async fn spawn_app_with(
    policy: Policy,
    options: AppOptions,
    configure: impl FnOnce(&mut ApiConfig),
) -> TestApp {
    spawn_app_on(scratch_postgres().await, policy, options, configure).await
}

/// [`spawn_app_with`] on sled whatever [`TEST_STORE_ENV`] says: for the tests that seed tens of
/// thousands of cases to exercise what is in memory (the case projection), which the backend
/// does not change and which would take many minutes to seed on PostgreSQL in a debug build.
pub async fn spawn_sled_app_with(
    policy: Policy,
    options: AppOptions,
    configure: impl FnOnce(&mut ApiConfig),
) -> TestApp {
    spawn_app_on(None, policy, options, configure).await
}

async fn spawn_app_on(
    database: Option<ScratchDatabase>,
    policy: Policy,
    options: AppOptions,
    configure: impl FnOnce(&mut ApiConfig),
) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let storage = match &database {
        Some(database) => Storage::open_postgres(database.url())
            .await
            .expect("the PostgreSQL store opens"),
        None => Storage::open_sled(data_dir.path()).expect("the sled store opens"),
    };
    // `serve` makes or loads the checkpoint signing key at startup; a fixed one does here.
    // Webhook receivers in these tests listen on loopback, which deliveries reach only when the
    // allow list names it (`--webhook-allow-cidr 127.0.0.0/8`); [::1] and 0.0.0.0 stay refused.
    let setup = AppSetup {
        options,
        signing_key: Some(ed25519_dalek::SigningKey::from_bytes(&[42; 32])),
        webhook_delivery: DeliveryConfig {
            egress: EgressPolicy {
                allowed: vec![parse_cidr("127.0.0.0/8").expect("a CIDR")],
                require_https: false,
            },
            ..DeliveryConfig::default()
        },
        ..AppSetup::default()
    };
    let app = Arc::new(
        App::with_setup(storage, policy, Arc::new(SystemClock), setup)
            .await
            .expect("the service starts"),
    );
    let admin_token = app
        .issue_initial_admin_token()
        .await
        .expect("the initial admin token is issued")
        .expect("a fresh store has no token yet")
        .token;
    let mut config = ApiConfig {
        // `?min_position=` beyond the head answers 503 after this wait; keep the tests quick.
        read_wait: Duration::from_millis(300),
        ..ApiConfig::default()
    };
    configure(&mut config);
    let (shutdown, workers_stopping) = watch::channel(false);
    // The projection follower and the deadline watcher, as `serve` runs them.
    let _workers = spawn_workers(&app, Duration::from_secs(30), workers_stopping);
    let router = caseledger_api::router(AppState::new(app.clone(), config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        // With the client's address, as `serve`'s own accept loop gives it, for the
        // per-address rate of requests without a valid token.
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .expect("the server runs");
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    TestApp {
        address,
        admin_token,
        client,
        app,
        _shutdown: shutdown,
        _data_dir: data_dir,
        _database: database,
    }
}

impl TestApp {
    /// A request to `path`, with the bearer token when one is given.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self
            .client
            .request(method, format!("{}{}", self.address, path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/cases`.
    pub async fn open_case(&self, token: &str, body: &Value) -> Response {
        self.post("/v1/cases", token, body).await
    }

    /// Opens [`valid_case_body`] and returns the new case's id.
    pub async fn open_valid_case(&self, token: &str) -> Uuid {
        let response = self.open_case(token, &valid_case_body()).await;
        let body = expect_status(response, StatusCode::CREATED).await;
        body["case_id"].as_str().unwrap().parse().unwrap()
    }

    /// A new token of `role` (with `department` for partners), issued by the admin.
    pub async fn token(&self, role: &str, department: Option<&str>) -> String {
        self.issue_token(role, department).await.1
    }

    /// A new token of `role`: its id and its secret.
    pub async fn issue_token(&self, role: &str, department: Option<&str>) -> (Uuid, String) {
        let name = match department {
            Some(department) => format!("{role} of {department}"),
            None => format!("test {role}"),
        };
        let response = self
            .post(
                "/v1/tokens",
                &self.admin_token,
                &json!({"name": name, "role": role, "department": department}),
            )
            .await;
        let body = expect_status(response, StatusCode::CREATED).await;
        (
            body["id"].as_str().unwrap().parse().unwrap(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }

    /// `POST /v1/cases/{case}/{command}`, expecting `status`; returns the body.
    pub async fn command(
        &self,
        case: Uuid,
        command: &str,
        token: &str,
        body: &Value,
        status: StatusCode,
    ) -> Value {
        let response = self
            .post(&format!("/v1/cases/{case}/{command}"), token, body)
            .await;
        expect_status(response, status).await
    }

    /// `GET /v1/cases/{case}` as `token`, expecting 200; returns the case.
    pub async fn case(&self, case: Uuid, token: &str) -> Value {
        let response = self.get(&format!("/v1/cases/{case}"), token).await;
        expect_status(response, StatusCode::OK).await
    }

    /// Every event of the global log, paged through as the admin.
    pub async fn all_events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let response = self
                .get(
                    &format!("/v1/events?after={after}&limit=1000"),
                    &self.admin_token,
                )
                .await;
            let body = expect_status(response, StatusCode::OK).await;
            let page = body["events"].as_array().unwrap().clone();
            if page.is_empty() {
                return events;
            }
            after = body["next_after"].as_u64().unwrap();
            events.extend(page);
        }
    }
}

/// A complete case as in contract §4, with a valid credit code and resident ID.
pub fn valid_case_body() -> Value {
    json!({
        "title": "Missing dust masks at the grinding line",
        "category": "ppe_shortfall",
        "description": "Workers at the grinding line report that no dust masks were issued since March.",
        "source": "inspection",
        "employer": {"name": "Fucheng Building Materials Co., Ltd.", "credit_code": VALID_CREDIT_CODE},
        "region": "Fucheng District",
        "industry": "building_materials",
        "workers_affected": 40,
        "complainant": {"name": COMPLAINANT_NAME, "phone": COMPLAINANT_PHONE, "id_number": VALID_ID_NUMBER}
    })
}

/// A deadline `days` from now, RFC 3339.
pub fn days_from_now(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

/// Reads the body as JSON after checking the status; the message shows the body on failure.
pub async fn expect_status(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let url = response.url().clone();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status from {url}; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("the body from {url} is not JSON ({error}): {text}"))
    }
}

/// Checks that `response` is an RFC 9457 problem with `status`; returns the problem.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let url = response.url().clone();
    let problem = expect_status(response, status).await;
    assert_eq!(
        content_type, "application/problem+json",
        "the error from {url} is not problem+json: {problem}"
    );
    check_problem_shape(&problem, status);
    problem
}

/// The fields every problem has.
pub fn check_problem_shape(problem: &Value, status: StatusCode) {
    assert!(
        problem["type"].is_string(),
        "problem without type: {problem}"
    );
    assert!(
        problem["title"].is_string(),
        "problem without title: {problem}"
    );
    assert!(
        problem["detail"].is_string(),
        "problem without detail: {problem}"
    );
    assert_eq!(
        problem["status"].as_u64(),
        Some(u64::from(status.as_u16())),
        "problem with the wrong status: {problem}"
    );
}

/// Checks a 409 problem names `rule`.
pub async fn assert_conflict(response: Response, rule: &str) -> Value {
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert_eq!(
        problem["rule"], rule,
        "a 409 naming the wrong rule: {problem}"
    );
    problem
}

/// Checks a 422 problem names `field` among its errors.
pub async fn assert_invalid_field(response: Response, field: &str) -> Value {
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        names_field(&problem, field),
        "a 422 that does not name {field}: {problem}"
    );
    problem
}

/// Whether a problem's `errors` name `field`.
pub fn names_field(problem: &Value, field: &str) -> bool {
    problem["errors"]
        .as_array()
        .is_some_and(|errors| errors.iter().any(|error| error["field"] == field))
}
