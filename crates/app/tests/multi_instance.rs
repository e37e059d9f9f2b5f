//! Several service instances on one PostgreSQL database, in one process: two [`App`]s, each on
//! its own `Storage::open_postgres` of one scratch database, as two `serve` processes would be.
//! What they must agree on without a leader: the first admin token, a missed deadline raced
//! by both deadline watchers, tokens issued and revoked through the other, webhook endpoints
//! changed through the other, and the case projection rows both of them persist.
//!
//! The tests drive every step themselves (no background workers); the real binaries are
//! tested the same way, with a killed webhook leader, in the root `tests/postgres.rs`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::{Arc, Mutex};

use caseledger_app::{App, AppError, Caller, CaseFilter, Clock, OpenCase, Storage};
use caseledger_domain::{
    CaseEvent, CaseId, Category, Command, EmployerInput, LetterId, LetterKind, Policy, Role, Source,
};
use caseledger_projections::CaseProjection;
use caseledger_store::conformance::{postgres_or_skip, ScratchDatabase};
use caseledger_store::Position;
use caseledger_webhooks::NewEndpoint;
use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

#[derive(Debug)]
struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + Duration::days(n)
}

/// Two instances on one fresh database, sharing a clock.
struct Instances {
    first: App,
    second: App,
    clock: Arc<TestClock>,
    _database: ScratchDatabase,
}

async fn instance(database: &ScratchDatabase, clock: &Arc<TestClock>) -> App {
    let storage = Storage::open_postgres(database.url()).await.unwrap();
    App::new(
        storage,
        Policy::default(),
        Arc::clone(clock) as Arc<dyn Clock>,
    )
    .await
    .unwrap()
}

async fn two_instances() -> Instances {
    let database = ScratchDatabase::create().await;
    let clock = Arc::new(TestClock(Mutex::new(day(0))));
    let (first, second) = tokio::join!(instance(&database, &clock), instance(&database, &clock));
    Instances {
        first,
        second,
        clock,
        _database: database,
    }
}

impl Instances {
    /// The first admin token, through the first instance, known to both.
    async fn admin(&self) -> Caller {
        let issued = self
            .first
            .issue_initial_admin_token()
            .await
            .unwrap()
            .unwrap();
        self.second.refresh_shared_state().await.unwrap();
        self.second.authenticate(&issued.token).unwrap()
    }
}

fn case_input(title: &str) -> OpenCase {
    OpenCase {
        title: title.into(),
        category: Category::OccupationalDisease,
        description: "粉尘超标，工人未配发防尘口罩。".into(),
        source: Source::Inspection,
        employer: EmployerInput {
            name: "绵阳某建材有限公司".into(),
            credit_code: None,
            credit_code_unverified: false,
        },
        region: Some("fucheng district".into()),
        industry: None,
        workers_affected: Some(40),
        complainant: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_issue_one_first_admin_token() {
    if !postgres_or_skip("app: several instances on one PostgreSQL database").await {
        return;
    }
    let instances = two_instances().await;
    let (first, second) = tokio::join!(
        instances.first.issue_initial_admin_token(),
        instances.second.issue_initial_admin_token()
    );
    let issued: Vec<_> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(issued.len(), 1, "exactly one instance issues it");
    // Neither issues another later, and both know the one there is.
    instances.first.refresh_shared_state().await.unwrap();
    instances.second.refresh_shared_state().await.unwrap();
    for app in [&instances.first, &instances.second] {
        assert!(app.issue_initial_admin_token().await.unwrap().is_none());
        let caller = app.authenticate(&issued[0].token).unwrap();
        assert_eq!(caller.role, Role::Admin);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_through_one_instance_stops_working_in_the_other_at_its_refresh() {
    if !postgres_or_skip("app: several instances on one PostgreSQL database").await {
        return;
    }
    let instances = two_instances().await;
    let admin = instances.admin().await;
    let officer = instances
        .first
        .issue_token(&admin, "Wang Fang".into(), Role::Officer, None)
        .await
        .unwrap();
    assert!(instances.second.authenticate(&officer.token).is_none());
    instances.second.refresh_shared_state().await.unwrap();
    assert!(instances.second.authenticate(&officer.token).is_some());
    instances
        .first
        .revoke_token(&admin, officer.record.id)
        .await
        .unwrap();
    assert!(instances.first.authenticate(&officer.token).is_none());
    instances.second.refresh_shared_state().await.unwrap();
    assert!(instances.second.authenticate(&officer.token).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_deadline_watchers_record_a_missed_deadline_once() {
    if !postgres_or_skip("app: several instances on one PostgreSQL database").await {
        return;
    }
    let instances = two_instances().await;
    let admin = instances.admin().await;
    let opened = instances
        .first
        .open_case(&admin, case_input("逾期未答复"), None)
        .await
        .unwrap();
    let case_id: CaseId = opened.case_id;
    let letter_id = LetterId(Uuid::now_v7());
    instances
        .first
        .execute(
            &admin,
            case_id,
            Command::IssueLetter {
                letter_id,
                number: String::new(),
                kind: LetterKind::Opinion,
                recipient: "某建材有限公司".into(),
                content: "请于期限内整改并书面答复。".into(),
                deadline: Some(day(5)),
                department: None,
            },
            None,
            None,
        )
        .await
        .unwrap();
    for app in [&instances.first, &instances.second] {
        app.case_projection()
            .catch_up(app.storage().log.as_ref(), |_| {})
            .await
            .unwrap();
    }
    *instances.clock.0.lock().unwrap() = day(6);

    let (first, second) = tokio::join!(
        instances.first.scan_deadlines(),
        instances.second.scan_deadlines()
    );
    assert_eq!(first.unwrap() + second.unwrap(), 1);
    let events = instances
        .first
        .storage()
        .log
        .read_all(Position(0), 100)
        .await
        .unwrap();
    let missed = events
        .iter()
        .filter(|recorded| matches!(recorded.event.event, CaseEvent::LetterDeadlineMissed { .. }))
        .count();
    assert_eq!(missed, 1, "one record of the missed deadline in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_endpoints_changed_through_one_instance_reach_the_other() {
    if !postgres_or_skip("app: several instances on one PostgreSQL database").await {
        return;
    }
    let instances = two_instances().await;
    let admin = instances.admin().await;
    let created = instances
        .first
        .create_webhook(
            &admin,
            NewEndpoint {
                url: "http://127.0.0.1:9/hook".into(),
                department: "hrss".into(),
                event_types: None,
                description: Some("shared".into()),
            },
        )
        .await
        .unwrap();
    let id = created.endpoint.id;
    instances.second.refresh_shared_state().await.unwrap();
    let seen = instances.second.list_webhooks(&admin).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].id, id);

    // A replay through the second instance is what the first then holds.
    let replayed = instances
        .second
        .replay_webhook(&admin, id, 1)
        .await
        .unwrap();
    instances.first.refresh_shared_state().await.unwrap();
    let first_view = instances.first.list_webhooks(&admin).await.unwrap();
    assert_eq!(first_view, vec![replayed]);

    // A deletion through the first instance removes it from the second.
    instances.first.delete_webhook(&admin, id).await.unwrap();
    instances.second.refresh_shared_state().await.unwrap();
    assert!(instances
        .second
        .list_webhooks(&admin)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        instances.second.replay_webhook(&admin, id, 1).await,
        Err(AppError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_of_two_instances_persist_one_consistent_set_of_rows() {
    if !postgres_or_skip("app: several instances on one PostgreSQL database").await {
        return;
    }
    let instances = two_instances().await;
    let admin = instances.admin().await;
    let (first, second) = (&instances.first, &instances.second);
    let mut cases = Vec::new();
    for n in 0..20 {
        let opened = first
            .open_case(&admin, case_input(&format!("案件 {n}")), None)
            .await
            .unwrap();
        cases.push(opened.case_id);
    }
    // Both follow to the head and persist there.
    for app in [first, second] {
        app.case_projection()
            .catch_up(app.storage().log.as_ref(), |_| {})
            .await
            .unwrap();
    }
    // The first moves on and persists; the second, behind, may not write its older rows.
    for case_id in &cases[..10] {
        first
            .execute(
                &admin,
                *case_id,
                Command::AddNote {
                    text: "回访工人".into(),
                },
                None,
                None,
            )
            .await
            .unwrap();
    }
    first
        .case_projection()
        .catch_up(first.storage().log.as_ref(), |_| {})
        .await
        .unwrap();
    second
        .case_projection()
        .project_next(second.storage().log.as_ref(), 3)
        .await
        .unwrap();
    assert!(
        !second.case_projection().persist().await.unwrap(),
        "a persist behind the stored checkpoint is refused"
    );

    // What is stored is the state at the head: a projection loaded from it, with nothing to
    // replay, lists what the first instance lists.
    let loaded = CaseProjection::load(first.storage().case_projection.clone())
        .await
        .unwrap();
    assert_eq!(loaded.checkpoint(), first.head().position.0);
    let stored = loaded
        .list(&CaseFilter::default(), None, 100)
        .await
        .unwrap();
    let live = first
        .case_projection()
        .list(&CaseFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 20);
    assert_eq!(stored.items, live.items);
    // The second catches up and its persist goes through again.
    second
        .case_projection()
        .catch_up(second.storage().log.as_ref(), |_| {})
        .await
        .unwrap();
    assert!(second.case_projection().persist().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshing_tokens_never_loses_one_just_issued_nor_undoes_a_revocation() {
    if !postgres_or_skip("app: several instances on one PostgreSQL database").await {
        return;
    }
    let instances = two_instances().await;
    let admin = instances.admin().await;
    let app = Arc::new(instances.first);
    let issuing_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refreshing = {
        let app = Arc::clone(&app);
        let issuing_done = Arc::clone(&issuing_done);
        tokio::spawn(async move {
            while !issuing_done.load(std::sync::atomic::Ordering::SeqCst) {
                app.refresh_shared_state().await.unwrap();
            }
        })
    };
    // Every check right after the write, while refreshes run: a refresh that read the store
    // before the write must neither drop the new token nor bring the revoked one back.
    let mut lost = Vec::new();
    let mut revived = Vec::new();
    for n in 0..150 {
        let token = app
            .issue_token(&admin, format!("officer {n}"), Role::Officer, None)
            .await
            .unwrap();
        for _ in 0..20 {
            if app.authenticate(&token.token).is_none() {
                lost.push(n);
                break;
            }
            tokio::task::yield_now().await;
        }
        app.revoke_token(&admin, token.record.id).await.unwrap();
        for _ in 0..20 {
            if app.authenticate(&token.token).is_some() {
                revived.push(n);
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    issuing_done.store(true, std::sync::atomic::Ordering::SeqCst);
    refreshing.await.unwrap();
    assert!(lost.is_empty(), "tokens lost for a moment: {lost:?}");
    assert!(
        revived.is_empty(),
        "revocations undone for a moment: {revived:?}"
    );
}
