//! Webhook feeds through the whole service over a temporary sled store, delivered over real
//! HTTP to a [`TestReceiver`] that checks every signature with its own implementation of the
//! Standard Webhooks check (HMAC-SHA256 written out from the specification, not the crate the
//! service signs with).
//!
//! Most tests drive the feed and the delivery worker step by step (`catch_up`,
//! `deliver_until_blocked`), so they decide every outcome without waiting on timers; the tests
//! about restarts and slow endpoints run the real workers (`spawn_workers`) and wait on the
//! receiver's notifications.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use caseledger_app::webhooks::{
    parse_cidr, AttemptOutcome, DeliveryConfig, DeliveryOutcome, EgressPolicy, EndpointStatus,
    NewEndpoint, NoJitter, StaticLookup,
};
use caseledger_app::{spawn_workers, App, AppError, AppSetup, Caller, OpenCase};
use caseledger_domain::{
    CaseId, Category, Command, ComplainantInput, Department, EmployerInput, Outcome, Role, Source,
    Tier,
};
use common::{department, first_admin, loopback_delivery, sled_app};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

// ----- an independent Standard Webhooks verifier ---------------------------------------------

/// HMAC-SHA256 as RFC 2104 defines it: H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|byte| byte ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|byte| byte ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The receiver's check: the timestamp within five minutes, and one of the space-separated
/// `v1,` signatures equal to the HMAC of `id.timestamp.body` under the decoded secret.
fn verify(secret: &str, request: &Received) -> Result<(), String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").ok_or("no whsec_ prefix")?)
        .map_err(|error| error.to_string())?;
    let timestamp: i64 = request.timestamp.parse().map_err(|_| {
        format!(
            "webhook-timestamp {:?} is not an integer",
            request.timestamp
        )
    })?;
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return Err(format!("timestamp {timestamp} is too far from now"));
    }
    if request.id.contains('.') || request.id.is_empty() {
        return Err(format!("bad webhook-id {:?}", request.id));
    }
    let signed = format!("{}.{}.{}", request.id, timestamp, request.body);
    let expected = format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, signed.as_bytes()))
    );
    if request.signature.split(' ').any(|part| part == expected) {
        Ok(())
    } else {
        Err(format!("no valid signature in {:?}", request.signature))
    }
}

#[test]
fn the_independent_verifier_passes_the_specifications_vector() {
    let request = Received {
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek".into(),
        timestamp: "1614265330".into(),
        signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".into(),
        body: r#"{"test": 2432232314}"#.into(),
        answered: 200,
    };
    let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let signed = format!("{}.{}.{}", request.id, request.timestamp, request.body);
    assert_eq!(
        format!(
            "v1,{}",
            STANDARD.encode(hmac_sha256(&key, signed.as_bytes()))
        ),
        request.signature
    );
    // …and refuses it now, five years later.
    assert!(verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &request).is_err());
}

// ----- the receiver ---------------------------------------------------------------------------

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    /// The status it answered.
    answered: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Debug, Default)]
struct ReceiverState {
    requests: Mutex<Vec<Received>>,
    fail_next: AtomicUsize,
    delay_ms: AtomicU64,
    redirect_to: Mutex<Option<String>>,
    count: watch::Sender<usize>,
}

/// What a failing receiver writes in its answer; the deliveries log must never show it.
const RECEIVER_FAILURE_TEXT: &str = "internal stack trace: db password hunter2";

/// An HTTP server on loopback that records every request, answers 500 (with a body the
/// deliveries log must not keep) or a redirect when told to, and can be slow.
struct TestReceiver {
    state: Arc<ReceiverState>,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let failing = state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    let redirect = state.redirect_to.lock().unwrap().clone();
    let status = if redirect.is_some() {
        StatusCode::FOUND
    } else if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8(body.to_vec()).unwrap(),
        answered: status.as_u16(),
    };
    let count = {
        let mut requests = state.requests.lock().unwrap();
        requests.push(received);
        requests.len()
    };
    state.count.send_replace(count);
    match redirect {
        Some(location) => (status, [(axum::http::header::LOCATION, location)]).into_response(),
        None if failing => (status, RECEIVER_FAILURE_TEXT).into_response(),
        None => status.into_response(),
    }
}

impl TestReceiver {
    async fn start() -> TestReceiver {
        TestReceiver::start_on("127.0.0.1:0".parse().unwrap(), Arc::default()).await
    }

    async fn start_on(address: SocketAddr, state: Arc<ReceiverState>) -> TestReceiver {
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(Arc::clone(&state));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        TestReceiver {
            state,
            address,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stops listening: connections to its port are refused until it starts again.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }

    /// Listens again on the same port, keeping what it received.
    async fn restart(&mut self) {
        self.stop().await;
        *self = TestReceiver::start_on(self.address, Arc::clone(&self.state)).await;
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    fn fail_next(&self, times: usize) {
        self.state.fail_next.store(times, Ordering::SeqCst);
    }

    /// Answers every request with a 302 to `location` from now on.
    fn redirect_to(&self, location: &str) {
        *self.state.redirect_to.lock().unwrap() = Some(location.to_owned());
    }

    fn slow_down(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests it answered 200.
    fn delivered(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|request| request.answered == 200)
            .collect()
    }

    /// Waits until `done` holds for the delivered requests, at most `timeout`.
    async fn wait_until(&self, timeout: Duration, done: impl Fn(&[Received]) -> bool) -> bool {
        let mut count = self.state.count.subscribe();
        tokio::time::timeout(timeout, async {
            loop {
                if done(&self.delivered()) {
                    return;
                }
                if count.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }
}

// ----- the service ----------------------------------------------------------------------------

struct Service {
    app: Arc<App>,
    admin: Caller,
    officer: Caller,
    schedule: String,
    dir: TempDir,
}

/// The delivery configuration of these tests: the receivers run on loopback, which deliveries
/// reach only because the allow list names it (as `--webhook-allow-cidr 127.0.0.0/8` would).
fn delivery_config(schedule: &str) -> DeliveryConfig {
    DeliveryConfig {
        schedule: schedule.parse().unwrap(),
        timeout: Duration::from_secs(5),
        ..loopback_delivery()
    }
}

/// The service over the store in `dir`, delivering with `config`.
async fn open_app(dir: &Path, config: DeliveryConfig) -> App {
    let setup = AppSetup {
        webhook_delivery: config,
        ..AppSetup::default()
    };
    sled_app(dir, setup).await
}

impl Service {
    async fn start(schedule: &str) -> Service {
        Service::start_with(schedule, delivery_config(schedule)).await
    }

    /// A service whose deliveries run with `config` (`schedule` is what a restart uses).
    async fn start_with(schedule: &str, config: DeliveryConfig) -> Service {
        let setup = AppSetup {
            webhook_delivery: config,
            ..AppSetup::default()
        };
        Service::start_with_setup(schedule, setup).await
    }

    /// A service built with `setup` (`schedule` is what a restart uses).
    async fn start_with_setup(schedule: &str, setup: AppSetup) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let app = sled_app(dir.path(), setup).await;
        let admin = first_admin(&app).await;
        let officer = issue(&app, &admin, Role::Officer, None).await;
        Service {
            app: Arc::new(app),
            admin,
            officer,
            schedule: schedule.to_owned(),
            dir,
        }
    }

    /// Drops the service and its store and opens the same directory again.
    async fn restart(self) -> Service {
        let Service {
            app,
            admin,
            officer,
            schedule,
            dir,
        } = self;
        let app = Arc::try_unwrap(app).expect("no task still holds the app");
        tokio::task::spawn_blocking(move || drop(app))
            .await
            .unwrap();
        let app = open_app(dir.path(), delivery_config(&schedule)).await;
        Service {
            app: Arc::new(app),
            admin,
            officer,
            schedule,
            dir,
        }
    }

    async fn partner(&self, name: &str) -> Caller {
        issue(
            &self.app,
            &self.admin,
            Role::Partner,
            Some(department(name)),
        )
        .await
    }

    async fn endpoint(&self, receiver: &TestReceiver, department: &str) -> (Uuid, String) {
        self.endpoint_for(receiver, department, None).await
    }

    async fn endpoint_for(
        &self,
        receiver: &TestReceiver,
        department: &str,
        event_types: Option<Vec<&str>>,
    ) -> (Uuid, String) {
        self.endpoint_at(&receiver.url(), department, event_types)
            .await
            .unwrap()
    }

    async fn endpoint_at(
        &self,
        url: &str,
        department: &str,
        event_types: Option<Vec<&str>>,
    ) -> Result<(Uuid, String), AppError> {
        let created = self
            .app
            .create_webhook(
                &self.admin,
                NewEndpoint {
                    url: url.to_owned(),
                    department: department.into(),
                    event_types: event_types
                        .map(|types| types.into_iter().map(str::to_owned).collect()),
                    description: Some(format!("{department} intake")),
                },
            )
            .await?;
        Ok((created.endpoint.id, created.secret.expose()))
    }

    async fn open(&self, title: &str) -> (CaseId, u64) {
        let outcome = self
            .app
            .open_case(
                &self.officer,
                OpenCase {
                    title: title.into(),
                    category: Category::WageArrears,
                    description: "Wages unpaid since March".into(),
                    source: Source::Hotline,
                    employer: EmployerInput {
                        name: "某建材有限公司".into(),
                        credit_code: None,
                        credit_code_unverified: false,
                    },
                    region: Some("Fucheng District".into()),
                    industry: None,
                    workers_affected: Some(12),
                    complainant: Some(ComplainantInput {
                        name: "李伟".into(),
                        phone: Some("13800138000".into()),
                        id_number: Some("11010519491231002X".into()),
                    }),
                },
                None,
            )
            .await
            .unwrap();
        (outcome.case_id, outcome.position)
    }

    /// Runs a command as the officer and returns the position of its (last) event.
    async fn run(&self, case_id: CaseId, command: Command) -> u64 {
        self.app
            .execute(&self.officer, case_id, command, None, None)
            .await
            .unwrap()
            .position
    }

    async fn finding(&self, case_id: CaseId, summary: &str) -> u64 {
        self.run(
            case_id,
            Command::RecordFinding {
                summary: summary.into(),
                hazard: None,
            },
        )
        .await
    }

    async fn note(&self, case_id: CaseId) -> u64 {
        self.run(
            case_id,
            Command::AddNote {
                text: "internal: the complainant asked to stay anonymous".into(),
            },
        )
        .await
    }

    async fn refer(&self, case_id: CaseId, to: &str) -> u64 {
        self.run(
            case_id,
            Command::Refer {
                department: department(to),
                reason: "wage arrears beyond the union's reach".into(),
            },
        )
        .await
    }

    /// Builds the feed up to the log's head.
    async fn project(&self) {
        self.app
            .webhook_feed()
            .catch_up(self.app.storage().log.as_ref())
            .await
            .unwrap();
        assert_eq!(
            self.app.webhook_feed().position(),
            self.app.head().position.0
        );
    }

    /// Delivers to `endpoint` until it blocks, and returns how it blocked.
    async fn deliver(&self, endpoint: Uuid) -> DeliveryOutcome {
        self.project().await;
        let deliverer = self.app.webhook_deliverer(Arc::new(NoJitter)).unwrap();
        deliverer.deliver_until_blocked(endpoint).await.unwrap()
    }
}

async fn issue(app: &App, admin: &Caller, role: Role, department: Option<Department>) -> Caller {
    let name = format!("{role} {}", Uuid::now_v7());
    common::issue(app, admin, &name, role, department).await
}

/// The log positions of the case messages, in the order received.
fn positions(requests: &[Received]) -> Vec<u64> {
    requests
        .iter()
        .map(|request| request.json()["data"]["position"].as_u64().unwrap())
        .collect()
}

fn assert_all_verify(secret: &str, requests: &[Received]) {
    assert!(!requests.is_empty());
    for request in requests {
        verify(secret, request).unwrap_or_else(|error| panic!("{error}: {request:?}"));
    }
}

/// Nothing of a complainant is in any message: no sealed value, no name, no phone, no ID.
fn assert_no_personal_data(requests: &[Received]) {
    for request in requests {
        for secret in ["sealed", "李伟", "13800138000", "11010519491231002X"] {
            assert!(
                !request.body.contains(secret),
                "{secret} in {}",
                request.body
            );
        }
        let body = request.json();
        if let Some(case) = body["data"].get("case") {
            assert!(case.get("complainant").is_none());
            assert!(case.get("notes").is_none());
        }
    }
}

// ----- routing, ordering, data minimisation ---------------------------------------------------

#[tokio::test]
async fn a_department_receives_its_shared_cases_from_the_sharing_event_on_and_nothing_else() {
    let service = Service::start("0s,0s,0s,0s").await;
    let hrss_receiver = TestReceiver::start().await;
    let court_receiver = TestReceiver::start().await;
    let (hrss, hrss_secret) = service.endpoint(&hrss_receiver, "hrss").await;
    let (court, court_secret) = service.endpoint(&court_receiver, "court").await;

    let (referred, _) = service.open("Referred case").await;
    let (private, _) = service.open("Never shared").await;
    let (escalated, _) = service.open("Escalated case").await;
    service.finding(referred, "payroll records missing").await;
    service.note(referred).await;
    service.finding(private, "nothing to share").await;
    let referral = service.refer(referred, "hrss").await;
    let escalation = service
        .run(
            escalated,
            Command::Escalate {
                tier: Tier::FourWay,
                departments: None,
                reason: "the employer refuses to pay".into(),
            },
        )
        .await;
    let after_referral = service.finding(referred, "arrears confirmed").await;
    service.note(referred).await;
    service.note(escalated).await;
    let escalated_finding = service.finding(escalated, "site closed").await;
    let closing = service
        .run(
            referred,
            Command::Close {
                outcome: Outcome::Mediated,
                summary: "paid in full".into(),
            },
        )
        .await;

    assert_eq!(service.deliver(hrss).await, DeliveryOutcome::Idle);
    assert_eq!(service.deliver(court).await, DeliveryOutcome::Idle);

    let to_hrss = hrss_receiver.delivered();
    assert_eq!(
        positions(&to_hrss),
        [
            referral,
            escalation,
            after_referral,
            escalated_finding,
            closing
        ]
    );
    let to_court = court_receiver.delivered();
    assert_eq!(positions(&to_court), [escalation, escalated_finding]);
    assert_all_verify(&hrss_secret, &to_hrss);
    assert_all_verify(&court_secret, &to_court);
    assert_no_personal_data(&to_hrss);
    assert_no_personal_data(&to_court);
    for request in to_hrss.iter().chain(&to_court) {
        let body = request.json();
        assert_ne!(body["data"]["case_id"], private.0.to_string());
        assert_ne!(body["type"], "case.NoteAdded");
        // The webhook-id is the event's id, which the envelope carries.
        assert_eq!(body["data"]["event"]["id"], request.id.as_str());
        assert_eq!(body["data"]["event"]["position"], body["data"]["position"]);
        assert_eq!(
            body["type"],
            format!("case.{}", body["data"]["event"]["type"].as_str().unwrap())
        );
        assert_eq!(body["timestamp"], body["data"]["event"]["at"]);
    }

    // The sharing events carry the case as it then stood; later events do not.
    let referral_message = to_hrss[0].json();
    assert_eq!(referral_message["type"], "case.ReferredToDepartment");
    let case = &referral_message["data"]["case"];
    assert_eq!(case["id"], referred.0.to_string());
    assert_eq!(case["version"], referral_message["data"]["version"]);
    assert_eq!(case["findings"].as_array().unwrap().len(), 1);
    assert_eq!(case["shared_with"], serde_json::json!(["hrss"]));
    assert_eq!(case["status"], "investigating");
    let escalation_message = to_court[0].json();
    assert_eq!(escalation_message["data"]["case"]["status"], "escalated");
    assert!(to_hrss[2].json()["data"].get("case").is_none());

    // The pull feed is exactly what the webhooks carried, in the same order.
    let hrss_partner = service.partner("hrss").await;
    let page = service.app.feed_page(&hrss_partner, 0, 100).await.unwrap();
    let pulled: Vec<(&str, &str)> = page
        .entries
        .iter()
        .map(|entry| {
            (
                entry.message.webhook_id.as_str(),
                entry.message.body.as_str(),
            )
        })
        .collect();
    let pushed: Vec<(&str, &str)> = to_hrss
        .iter()
        .map(|request| (request.id.as_str(), request.body.as_str()))
        .collect();
    assert_eq!(pulled, pushed);
    assert_eq!(page.next_after, Some(closing));
    // Paging one message at a time sees the same messages.
    let mut after = 0;
    let mut paged = Vec::new();
    loop {
        let page = service
            .app
            .feed_page(&hrss_partner, after, 1)
            .await
            .unwrap();
        let Some(next) = page.next_after else { break };
        paged.extend(
            page.entries
                .into_iter()
                .map(|entry| entry.message.webhook_id),
        );
        after = next;
    }
    assert_eq!(
        paged,
        to_hrss
            .iter()
            .map(|request| request.id.clone())
            .collect::<Vec<_>>()
    );
    // Another department's pull sees only its own feed.
    let court_partner = service.partner("court").await;
    let court_page = service.app.feed_page(&court_partner, 0, 100).await.unwrap();
    assert_eq!(court_page.entries.len(), 2);
}

#[tokio::test]
async fn only_admins_manage_webhooks_and_only_partners_pull_a_feed() {
    let service = Service::start("0s").await;
    let receiver = TestReceiver::start().await;
    let partner = service.partner("hrss").await;
    let input = NewEndpoint {
        url: receiver.url(),
        department: "hrss".into(),
        ..NewEndpoint::default()
    };
    for caller in [&service.officer, &partner] {
        assert!(matches!(
            service.app.create_webhook(caller, input.clone()).await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            service.app.list_webhooks(caller).await,
            Err(AppError::Forbidden(_))
        ));
    }
    for caller in [&service.officer, &service.admin] {
        assert!(matches!(
            service.app.feed_page(caller, 0, 10).await,
            Err(AppError::Forbidden(_))
        ));
    }
    let unknown = service
        .app
        .create_webhook(
            &service.admin,
            NewEndpoint {
                department: "ministry_of_magic".into(),
                event_types: Some(vec!["case.Nonsense".into()]),
                ..input
            },
        )
        .await
        .unwrap_err();
    let AppError::Rejected(caseledger_domain::Rejection::Invalid(errors)) = unknown else {
        panic!("expected a 422, got {unknown:?}")
    };
    let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
    assert_eq!(fields, ["department", "event_types[0]"]);
    assert!(matches!(
        service.app.webhook(&service.admin, Uuid::now_v7()).await,
        Err(AppError::NotFound(_))
    ));
}

#[tokio::test]
async fn an_event_type_filter_skips_other_types_and_moves_on() {
    let service = Service::start("0s").await;
    let receiver = TestReceiver::start().await;
    let (endpoint, _) = service
        .endpoint_for(&receiver, "hrss", Some(vec!["case.CaseClosed"]))
        .await;
    let (case, _) = service.open("Filtered").await;
    service.refer(case, "hrss").await;
    service.finding(case, "one").await;
    let closing = service
        .run(
            case,
            Command::Close {
                outcome: Outcome::Referred,
                summary: "handed over".into(),
            },
        )
        .await;
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);
    assert_eq!(positions(&receiver.delivered()), [closing]);
    let view = service.app.webhook(&service.admin, endpoint).await.unwrap();
    assert_eq!(view.delivered_through, closing);
}

// ----- retries, failing, resume, replay, rotation ---------------------------------------------

#[tokio::test]
async fn after_three_500s_every_message_still_arrives_in_order() {
    let service = Service::start("0s,0s,0s,0s,0s").await;
    let receiver = TestReceiver::start().await;
    let (endpoint, secret) = service.endpoint(&receiver, "hrss").await;
    let (case, _) = service.open("Retried").await;
    let mut expected = vec![service.refer(case, "hrss").await];
    for summary in ["one", "two", "three"] {
        expected.push(service.finding(case, summary).await);
    }
    receiver.fail_next(3);

    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);

    let requests = receiver.requests();
    assert_eq!(
        requests
            .iter()
            .map(|request| request.answered)
            .collect::<Vec<_>>(),
        [500, 500, 500, 200, 200, 200, 200]
    );
    // Every attempt at the first message carried the same webhook-id and a valid signature.
    assert!(requests[..4]
        .iter()
        .all(|request| request.id == requests[0].id));
    assert_all_verify(&secret, &requests);
    assert_eq!(positions(&receiver.delivered()), expected);

    let attempts = service
        .app
        .webhook_deliveries(&service.admin, endpoint)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 7);
    // Newest first: the four successes, then the failures, counted per message.
    let oldest = attempts.last().unwrap();
    assert_eq!(oldest.status_code, Some(500));
    assert_eq!(oldest.attempt, 1);
    // The status and nothing of what the receiver wrote.
    assert_eq!(oldest.error.as_deref(), Some("HTTP 500"));
    assert_eq!(attempts[3].attempt, 4);
    assert_eq!(attempts[3].status_code, Some(200));
    assert_eq!(attempts[3].webhook_id, requests[0].id);
}

#[tokio::test]
async fn a_spent_schedule_pauses_the_endpoint_until_it_is_resumed() {
    let service = Service::start("0s,0s").await;
    let receiver = TestReceiver::start().await;
    let (endpoint, _) = service.endpoint(&receiver, "hrss").await;
    let (case, _) = service.open("Failing").await;
    let referral = service.refer(case, "hrss").await;
    let finding = service.finding(case, "more").await;
    receiver.fail_next(100);

    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Paused);
    let view = service.app.webhook(&service.admin, endpoint).await.unwrap();
    assert_eq!(view.status, EndpointStatus::Failing);
    assert_eq!(view.failed_attempts, 2);
    assert!(view.last_error.unwrap().contains("HTTP 500"));
    assert_eq!(receiver.requests().len(), 2);
    // Paused at that event: later events wait behind it.
    let later = service.finding(case, "still later").await;
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Paused);
    assert_eq!(receiver.requests().len(), 2);

    receiver.fail_next(0);
    let resumed = service
        .app
        .resume_webhook(&service.admin, endpoint)
        .await
        .unwrap();
    assert_eq!(resumed.status, EndpointStatus::Active);
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);
    assert_eq!(positions(&receiver.delivered()), [referral, finding, later]);
}

#[tokio::test]
async fn a_receiver_that_asks_for_patience_is_not_retried_sooner() {
    let service = Service::start("0s,0s,0s").await;
    let receiver = TestReceiver::start().await;
    let (endpoint, _) = service.endpoint(&receiver, "hrss").await;
    let (case, _) = service.open("Patience").await;
    service.refer(case, "hrss").await;
    receiver.fail_next(1);
    service.project().await;
    let deliverer = service.app.webhook_deliverer(Arc::new(NoJitter)).unwrap();
    // A 500 with no Retry-After: the next attempt is due at once (the schedule says 0s).
    let DeliveryOutcome::RetryScheduled { at } =
        deliverer.try_deliver_next(endpoint).await.unwrap()
    else {
        panic!("expected a retry")
    };
    assert!(at <= chrono::Utc::now());
    assert!(matches!(
        deliverer.try_deliver_next(endpoint).await.unwrap(),
        DeliveryOutcome::Delivered { .. }
    ));
}

#[tokio::test]
async fn replay_sends_again_from_a_position_with_the_same_ids() {
    let service = Service::start("0s").await;
    let receiver = TestReceiver::start().await;
    let (endpoint, secret) = service.endpoint(&receiver, "hrss").await;
    let (case, _) = service.open("Replayed").await;
    let referral = service.refer(case, "hrss").await;
    let first = service.finding(case, "first").await;
    let second = service.finding(case, "second").await;
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);
    let before = receiver.delivered();
    assert_eq!(positions(&before), [referral, first, second]);

    service
        .app
        .replay_webhook(&service.admin, endpoint, first)
        .await
        .unwrap();
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);
    let after = receiver.delivered();
    assert_eq!(positions(&after), [referral, first, second, first, second]);
    assert_eq!(after[3].id, before[1].id);
    assert_eq!(after[4].id, before[2].id);
    assert_eq!(after[3].body, before[1].body);
    assert_all_verify(&secret, &after);

    // From the start: everything again, the sharing message with its case view too.
    service
        .app
        .replay_webhook(&service.admin, endpoint, 0)
        .await
        .unwrap();
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);
    assert_eq!(receiver.delivered().len(), 8);

    // From past the log's next position: refused, naming the field, as it would skip the
    // events still to come; nothing is delivered again.
    let refused = service
        .app
        .replay_webhook(&service.admin, endpoint, second + 2)
        .await;
    assert!(
        matches!(&refused, Err(caseledger_app::AppError::Invalid { field, .. }) if field == "from_position"),
        "{refused:?}"
    );
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);
    assert_eq!(receiver.delivered().len(), 8);
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_until_the_old_one_expires() {
    let service = Service::start("0s").await;
    let receiver = TestReceiver::start().await;
    let (endpoint, old_secret) = service.endpoint(&receiver, "hrss").await;
    let rotated = service
        .app
        .rotate_webhook_secret(&service.admin, endpoint)
        .await
        .unwrap();
    let new_secret = rotated.secret.expose();
    assert_ne!(new_secret, old_secret);
    let (case, _) = service.open("Rotated").await;
    service.refer(case, "hrss").await;
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);
    let delivered = receiver.delivered();
    assert_eq!(delivered[0].signature.split(' ').count(), 2);
    assert_all_verify(&old_secret, &delivered);
    assert_all_verify(&new_secret, &delivered);
    // The endpoint's views never show a secret.
    let listed = format!(
        "{:?}",
        service.app.list_webhooks(&service.admin).await.unwrap()
    );
    assert!(!listed.contains(&new_secret[6..]) && !listed.contains(&old_secret[6..]));
}

#[tokio::test]
async fn signed_checkpoints_reach_every_endpoint_after_the_events_they_cover() {
    let setup = AppSetup {
        signing_key: Some(ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])),
        webhook_delivery: delivery_config("0s"),
        ..AppSetup::default()
    };
    let service = Service::start_with_setup("0s", setup).await;
    let receiver = TestReceiver::start().await;
    let (endpoint, secret) = service
        .endpoint_for(&receiver, "court", Some(vec!["case.CaseClosed"]))
        .await;
    let (case, _) = service.open("Witnessed").await;
    let referral = service.refer(case, "court").await;
    let made = service
        .app
        .try_checkpoint(chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(made.len(), 1);
    service.project().await;
    assert_eq!(service.app.forward_checkpoints().await.unwrap(), 1);
    // Forwarding again adds nothing.
    assert_eq!(service.app.forward_checkpoints().await.unwrap(), 0);
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);

    // The filter keeps out the referral, never the checkpoint.
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), 1);
    assert_all_verify(&secret, &delivered);
    let message = delivered[0].json();
    assert_eq!(message["type"], "audit.checkpoint");
    assert_eq!(delivered[0].id, format!("checkpoint-{referral}"));
    assert_eq!(message["data"]["position"], referral);
    assert_eq!(message["data"]["hash"], made[0].hash.to_hex());
    assert_eq!(message["data"]["at"], made[0].at);
    assert_eq!(message["data"]["signature"], made[0].signature);
    assert_eq!(
        message["data"]["public_key"],
        service.app.public_key().unwrap()
    );
    // A department's pull feed carries it too, right after the events it covers.
    let partner = service.partner("hrss").await;
    let _ = service.open("Next").await;
    service.project().await;
    let page = service.app.feed_page(&partner, 0, 10).await.unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].message.kind, "audit.checkpoint");
}

// ----- the real workers: restarts and slow endpoints ------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_across_a_restart_still_gets_everything_in_order() {
    let mut service =
        Service::start("0s,100ms,200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s")
            .await;
    let mut receiver = TestReceiver::start().await;
    let (endpoint, secret) = service.endpoint(&receiver, "hrss").await;
    let (stop, stopping) = watch::channel(false);
    let workers = spawn_workers(&service.app, Duration::from_secs(30), stopping);

    let (case, _) = service.open("Down and up").await;
    let mut expected = vec![service.refer(case, "hrss").await];
    expected.push(service.finding(case, "before the outage").await);
    assert!(
        receiver
            .wait_until(Duration::from_secs(20), |delivered| delivered.len() == 2)
            .await
    );

    // The receiver goes down; events keep coming and deliveries fail.
    receiver.stop().await;
    for summary in ["during the outage 1", "during the outage 2"] {
        expected.push(service.finding(case, summary).await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let attempts = service
            .app
            .webhook_deliveries(&service.admin, endpoint)
            .await
            .unwrap();
        if attempts.iter().any(|attempt| attempt.status_code.is_none()) {
            assert!(attempts[0].error.as_deref().unwrap().contains("connect"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no failed attempt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The service restarts while the receiver is still down; more events come after it.
    stop.send(true).unwrap();
    workers.join().await;
    service = service.restart().await;
    expected.push(service.finding(case, "after the restart").await);
    receiver.restart().await;
    let (stop, stopping) = watch::channel(false);
    let workers = spawn_workers(&service.app, Duration::from_secs(30), stopping);

    let all = expected.clone();
    assert!(
        receiver
            .wait_until(Duration::from_secs(30), |delivered| {
                let seen = positions(delivered);
                all.iter().all(|position| seen.contains(position))
            })
            .await,
        "delivered {:?}, expected {expected:?}",
        positions(&receiver.delivered())
    );
    stop.send(true).unwrap();
    workers.join().await;

    // Duplicates are allowed; gaps and disorder are not: the first arrival of each message is
    // in log order, and nothing else arrived.
    let delivered = receiver.delivered();
    assert_all_verify(&secret, &delivered);
    let mut first_arrivals = Vec::new();
    for position in positions(&delivered) {
        if !first_arrivals.contains(&position) {
            first_arrivals.push(position);
        }
    }
    assert_eq!(first_arrivals, expected);
    let view = service.app.webhook(&service.admin, endpoint).await.unwrap();
    assert_eq!(view.status, EndpointStatus::Active);
    assert_eq!(view.delivered_through, *expected.last().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_does_not_delay_another() {
    let service = Service::start("0s").await;
    let slow = TestReceiver::start().await;
    slow.slow_down(Duration::from_millis(1500));
    let fast = TestReceiver::start().await;
    service.endpoint(&slow, "hrss").await;
    service.endpoint(&fast, "hrss").await;
    let (stop, stopping) = watch::channel(false);
    let workers = spawn_workers(&service.app, Duration::from_secs(30), stopping);

    let (case, _) = service.open("Slow and fast").await;
    service.refer(case, "hrss").await;
    for summary in ["one", "two", "three", "four"] {
        service.finding(case, summary).await;
    }
    assert!(
        fast.wait_until(Duration::from_secs(5), |delivered| delivered.len() == 5)
            .await
    );
    // The slow endpoint takes 1.5 s a message; it cannot have had more than a few yet.
    assert!(slow.requests().len() < 5, "{}", slow.requests().len());
    stop.send(true).unwrap();
    workers.join().await;
}

// ----- where webhooks may go (issue #20, item 3) ---------------------------------------------

/// The policy that allows nothing internal, as a service started without
/// `--webhook-allow-cidr` has it.
fn refusing_config(lookup: StaticLookup) -> DeliveryConfig {
    DeliveryConfig {
        egress: EgressPolicy::default(),
        lookup: Arc::new(lookup),
        ..delivery_config("0s,0s")
    }
}

#[tokio::test]
async fn an_internal_ip_literal_is_refused_when_the_endpoint_is_created() {
    let service = Service::start_with("0s", refusing_config(StaticLookup::new())).await;
    let receiver = TestReceiver::start().await;
    let port = receiver.address.port();
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://0.0.0.0:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        "http://10.0.0.7/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://100.64.0.1/hook".to_owned(),
    ] {
        let error = service.endpoint_at(&url, "hrss", None).await.unwrap_err();
        let AppError::Rejected(caseledger_domain::Rejection::Invalid(errors)) = error else {
            panic!("{url}: expected a validation error, got {error:?}")
        };
        assert_eq!(errors.len(), 1, "{url}: {errors:?}");
        assert_eq!(errors[0].field, "url");
        assert!(
            errors[0].message.contains("may not reach"),
            "{url}: {}",
            errors[0].message
        );
    }
    assert!(service
        .app
        .list_webhooks(&service.admin)
        .await
        .unwrap()
        .is_empty());
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_delivery_and_the_receiver_gets_nothing() {
    let config = DeliveryConfig {
        egress: EgressPolicy::default(),
        ..delivery_config("0s,0s")
    };
    let service = Service::start_with("0s,0s", config).await;
    let receiver = TestReceiver::start().await;
    // `localhost` is a name: it passes creation and is resolved (to loopback, by the system
    // lookup's own rule, asking no one) when a delivery connects.
    let (endpoint, _) = service
        .endpoint_at(
            &format!("http://localhost:{}/hook", receiver.address.port()),
            "hrss",
            None,
        )
        .await
        .unwrap();
    let (case, _) = service.open("Refused at delivery").await;
    service.refer(case, "hrss").await;

    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Paused);
    assert!(receiver.requests().is_empty());
    let attempts = service
        .app
        .webhook_deliveries(&service.admin, endpoint)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        assert_eq!(attempt.outcome, AttemptOutcome::Failed);
        assert_eq!(attempt.status_code, None);
        let error = attempt.error.as_deref().unwrap();
        assert!(error.contains("refused"), "{error}");
        assert!(error.contains("loopback"), "{error}");
    }
    let view = service.app.webhook(&service.admin, endpoint).await.unwrap();
    assert_eq!(view.status, EndpointStatus::Failing);
}

#[tokio::test]
async fn a_name_and_literals_on_loopback_are_delivered_to_when_their_cidr_is_allowed() {
    let service = Service::start("0s").await;
    let receiver = TestReceiver::start().await;
    let port = receiver.address.port();
    let mut endpoints = Vec::new();
    for url in [
        format!("http://localhost:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
    ] {
        endpoints.push(service.endpoint_at(&url, "hrss", None).await.unwrap().0);
    }
    let (case, _) = service.open("Allowed loopback").await;
    let referral = service.refer(case, "hrss").await;
    for endpoint in endpoints {
        assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);
    }
    assert_eq!(
        positions(&receiver.delivered()),
        [referral, referral, referral]
    );

    // [::1] and 0.0.0.0 stay refused: only 127.0.0.0/8 is allowed.
    for url in [
        format!("http://[::1]:{port}/hook"),
        format!("http://0.0.0.0:{port}/hook"),
    ] {
        assert!(
            service.endpoint_at(&url, "hrss", None).await.is_err(),
            "{url}"
        );
    }
}

#[tokio::test]
async fn ipv6_loopback_is_delivered_to_when_allowed() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        // No IPv6 loopback on this machine: nothing to deliver to.
        eprintln!("skipped: ::1 is not available");
        return;
    };
    drop(listener);
    let config = DeliveryConfig {
        egress: EgressPolicy {
            allowed: vec![parse_cidr("::1/128").unwrap()],
            require_https: false,
        },
        ..delivery_config("0s")
    };
    let service = Service::start_with("0s", config).await;
    let receiver = TestReceiver::start_on("[::1]:0".parse().unwrap(), Arc::default()).await;
    let (endpoint, _) = service
        .endpoint_at(&receiver.url(), "hrss", None)
        .await
        .unwrap();
    let (case, _) = service.open("IPv6 loopback").await;
    let referral = service.refer(case, "hrss").await;
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Idle);
    assert_eq!(positions(&receiver.delivered()), [referral]);
}

#[tokio::test]
async fn names_resolving_to_private_link_local_or_cgnat_addresses_are_refused_before_connecting() {
    // The stub answers for these names; nothing is ever sent to the addresses: the resolver
    // refuses them before the client may connect.
    let lookup = StaticLookup::new()
        .with("intranet.test", &["10.20.30.40".parse().unwrap()])
        .with("router.test", &["192.168.1.1".parse().unwrap()])
        .with("office.test", &["172.20.0.1".parse().unwrap()])
        .with("metadata.test", &["169.254.169.254".parse().unwrap()])
        .with("carrier.test", &["100.64.0.9".parse().unwrap()])
        .with("ula.test", &["fd00::1".parse().unwrap()])
        .with("linklocal6.test", &["fe80::1".parse().unwrap()])
        .with("mapped.test", &["::ffff:10.0.0.1".parse().unwrap()])
        .with("unspecified.test", &["0.0.0.0".parse().unwrap()]);
    let service = Service::start_with("0s", refusing_config(lookup)).await;
    let (case, _) = service.open("Internal names").await;
    let mut endpoints = Vec::new();
    for (name, range) in [
        ("intranet.test", "private"),
        ("router.test", "private"),
        ("office.test", "private"),
        ("metadata.test", "link-local"),
        ("carrier.test", "CGNAT"),
        ("ula.test", "unique local"),
        ("linklocal6.test", "link-local"),
        ("mapped.test", "private"),
        ("unspecified.test", "unspecified"),
    ] {
        let (endpoint, _) = service
            .endpoint_at(&format!("http://{name}/hook"), "hrss", None)
            .await
            .unwrap();
        endpoints.push((endpoint, name, range));
    }
    service.refer(case, "hrss").await;
    for (endpoint, name, range) in endpoints {
        assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Paused);
        let attempts = service
            .app
            .webhook_deliveries(&service.admin, endpoint)
            .await
            .unwrap();
        let error = attempts[0].error.as_deref().unwrap();
        assert!(
            error.contains("refused") && error.contains(range),
            "{name}: {error}"
        );
        assert_eq!(attempts[0].status_code, None);
    }
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let service = Service::start("0s").await;
    let redirecting = TestReceiver::start().await;
    let target = TestReceiver::start().await;
    redirecting.redirect_to(&target.url());
    let (endpoint, _) = service.endpoint(&redirecting, "hrss").await;
    let (case, _) = service.open("Redirected").await;
    service.refer(case, "hrss").await;
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Paused);
    assert_eq!(redirecting.requests().len(), 1);
    assert!(target.requests().is_empty());
    let attempts = service
        .app
        .webhook_deliveries(&service.admin, endpoint)
        .await
        .unwrap();
    assert_eq!(attempts[0].status_code, Some(302));
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("HTTP 302: redirects are not followed")
    );
}

#[tokio::test]
async fn the_deliveries_log_keeps_no_text_of_the_receivers_answer() {
    let service = Service::start("0s,0s").await;
    let receiver = TestReceiver::start().await;
    receiver.fail_next(10);
    let (endpoint, _) = service.endpoint(&receiver, "hrss").await;
    let (case, _) = service.open("Talkative receiver").await;
    service.refer(case, "hrss").await;
    assert_eq!(service.deliver(endpoint).await, DeliveryOutcome::Paused);
    let attempts = service
        .app
        .webhook_deliveries(&service.admin, endpoint)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        assert_eq!(attempt.error.as_deref(), Some("HTTP 500"));
    }
    let view = service.app.webhook(&service.admin, endpoint).await.unwrap();
    assert_eq!(view.last_error.as_deref(), Some("HTTP 500"));
    let stored = format!("{attempts:?}{view:?}");
    assert!(!stored.contains("hunter2"), "{stored}");
}
