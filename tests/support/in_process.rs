//! The service in the test's own process, started the way `caseledger serve` starts it:
//! [`spawn_app`] builds a [`caseledger::serve::Server`] from [`Settings`] (port 0 on loopback,
//! a fresh temporary data dir, and a fresh PostgreSQL database when [`TEST_STORE_ENV`] says
//! so) and runs its accept loop in a task of the test's runtime, so the HTTP limits, the
//! signing key, the key-encryption key and the data-dir layout are those that ship.
//! [`TestApp`] sends requests to it as a client would.
//!
//! [`test_settings`] is the one place that knows how the tests' settings are made.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use caseledger::config::{ServeArgs, Settings};
use caseledger::serve::Server;
use caseledger_api::ApiConfig;
use caseledger_app::webhooks::parse_cidr;
use caseledger_app::{App, AppOptions, Clock, SystemClock};
use caseledger_domain::Policy;
use caseledger_store::conformance::ScratchDatabase;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::answers::expect_status;
use super::fixtures::valid_case_body;

/// The running service and a client for it.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The initial admin token, read from the `initial-admin-token` file the start wrote.
    pub admin_token: String,
    /// The first admin account's one-time setup link, read from `initial-admin-setup-url`.
    #[allow(dead_code, reason = "only the console's tests sign in")]
    pub admin_setup_url: String,
    /// A client without timeouts of its own beyond a generous safety net.
    pub client: reqwest::Client,
    /// The service itself, for the few checks that look below HTTP.
    #[allow(dead_code, reason = "not every test module looks below HTTP")]
    pub app: Arc<App>,
    /// Stops the server (and after it the workers) when the test ends: dropping it is the
    /// signal.
    _shutdown: oneshot::Sender<()>,
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
    let database = scratch_postgres().await;
    spawn_app_on(
        database,
        policy,
        options,
        configure,
        |_| {},
        Arc::new(SystemClock),
    )
    .await
}

/// [`spawn_app`] on `clock`, with the flags `flags` sets besides the tests' own: for the tests
/// of what the service does on a given day, with a given configuration (the working-day
/// calendar's warning from 1 December, `--calendar-dir`).
pub async fn spawn_app_on_clock(
    clock: Arc<dyn Clock>,
    flags: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let database = scratch_postgres().await;
    let options = AppOptions::default();
    spawn_app_on(database, Policy::default(), options, |_| {}, flags, clock).await
}

/// [`spawn_app_with`] on sled whatever [`TEST_STORE_ENV`] says: for the tests that seed tens of
/// thousands of cases to exercise what is in memory (the case projection), which the backend
/// does not change and which would take many minutes to seed on PostgreSQL in a debug build.
pub async fn spawn_sled_app_with(
    policy: Policy,
    options: AppOptions,
    configure: impl FnOnce(&mut ApiConfig),
) -> TestApp {
    spawn_app_on(
        None,
        policy,
        options,
        configure,
        |_| {},
        Arc::new(SystemClock),
    )
    .await
}

/// The settings `caseledger serve --listen 127.0.0.1:0 --data-dir <data_dir> [--store <url>]
/// --webhook-allow-cidr 127.0.0.0/8` and the flags `flags` sets would run with, then the
/// tests' own knobs: `policy`, `options`, a 300 ms read wait, and whatever `configure` changes
/// in the API configuration.
///
/// The only function here that depends on how settings are made (the configuration file's
/// defaults resolved with the flags' overrides).
fn test_settings(
    data_dir: &Path,
    database: Option<&ScratchDatabase>,
    policy: Policy,
    options: AppOptions,
    configure: impl FnOnce(&mut ApiConfig),
    flags: impl FnOnce(&mut ServeArgs),
) -> Settings {
    let mut args = ServeArgs {
        listen: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
        data_dir: Some(data_dir.to_owned()),
        store: database.map(|database| {
            database
                .url()
                .parse()
                .expect("the scratch database's URL is a store")
        }),
        // Webhook receivers in these tests listen on loopback, which deliveries reach only
        // when the allow list names it; [::1] and 0.0.0.0 stay refused.
        webhook_allow_cidr: vec![parse_cidr("127.0.0.0/8").expect("a CIDR")],
        ..ServeArgs::default()
    };
    flags(&mut args);
    let mut settings = args.settings().expect("the tests' settings are valid");
    settings.policy = policy;
    settings.app = options;
    // `?min_position=` beyond the head answers 503 after this wait; keep the tests quick.
    settings.api.read_wait = Duration::from_millis(300);
    configure(&mut settings.api);
    settings
}

async fn spawn_app_on(
    database: Option<ScratchDatabase>,
    policy: Policy,
    options: AppOptions,
    configure: impl FnOnce(&mut ApiConfig),
    flags: impl FnOnce(&mut ServeArgs),
    clock: Arc<dyn Clock>,
) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let settings = test_settings(
        data_dir.path(),
        database.as_ref(),
        policy,
        options,
        configure,
        flags,
    );
    let server = Server::build_with_clock(settings, None, clock)
        .await
        .expect("the service starts");
    let token_file = server
        .initial_admin_token_file()
        .expect("a fresh store gets an initial admin token");
    let admin_token = std::fs::read_to_string(token_file)
        .expect("the initial admin token file")
        .trim()
        .to_owned();
    let setup_url_file = server
        .initial_admin_setup_url_file()
        .expect("a fresh store gets an initial admin setup link");
    let admin_setup_url = std::fs::read_to_string(setup_url_file)
        .expect("the initial admin setup link file")
        .trim()
        .to_owned();
    let address = format!("http://{}", server.local_addr());
    let app = Arc::clone(server.app());
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        // Serves until the `TestApp` is dropped (the sender goes, and with it the signal).
        let stop = async move {
            let _ = stopped.await;
        };
        server
            .run_until_stopped(stop)
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
        admin_setup_url,
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

    /// The event types of `case`'s history as `token` reads it, oldest first.
    pub async fn event_types(&self, case: impl std::fmt::Display, token: &str) -> Vec<String> {
        let response = self.get(&format!("/v1/cases/{case}/history"), token).await;
        expect_status(response, StatusCode::OK).await["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["type"].as_str().unwrap().to_owned())
            .collect()
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
