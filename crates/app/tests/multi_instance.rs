//! Several service instances on one PostgreSQL database, in one process: two [`App`]s, each on
//! its own `Storage::open_postgres` of one scratch database, as two `serve` processes would be.
//! What they must agree on without a leader: the first admin token, a missed deadline raced
//! by both deadline watchers, tokens issued and revoked through the other, webhook endpoints
//! changed through the other, and the case projection rows both of them persist; and that an
//! instance cut off from the database (through a local TCP proxy the test cuts) stops
//! honouring tokens within two seconds rather than serve a revoked one.
//!
//! The tests drive every step themselves (no background workers); the real binaries are
//! tested the same way, with a killed webhook leader, in the root `tests/postgres.rs`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;

use caseledger_app::{App, AppError, AppSetup, Caller, CaseFilter, Clock, OpenCase, Storage};
use caseledger_domain::{
    CaseEvent, CaseId, Category, Command, LetterId, LetterKind, Policy, Role, Source,
};
use caseledger_projections::CaseProjection;
use caseledger_store::conformance::{postgres_or_skip, ScratchDatabase};
use caseledger_store::Position;
use caseledger_webhooks::NewEndpoint;
use common::{day, employer, loopback_delivery, TestClock};
use uuid::Uuid;

/// Two instances on one fresh database, sharing a clock.
struct Instances {
    first: App,
    second: App,
    clock: Arc<TestClock>,
    _database: ScratchDatabase,
}

async fn instance(database: &ScratchDatabase, clock: &Arc<TestClock>) -> App {
    let storage = Storage::open_postgres(database.url()).await.unwrap();
    // The endpoints these tests register are on loopback, which must be allowed.
    let setup = AppSetup {
        webhook_delivery: loopback_delivery(),
        ..AppSetup::default()
    };
    App::with_setup(
        storage,
        Policy::default(),
        Arc::clone(clock) as Arc<dyn Clock>,
        setup,
    )
    .await
    .unwrap()
}

async fn two_instances() -> Instances {
    let database = ScratchDatabase::create().await;
    let clock = TestClock::starting_at(day(0));
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
        employer: employer(),
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
    instances.clock.set(day(6));

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

// ----- tokens fail closed when they cannot be re-read (issue #20, item 7) ---------------------

/// A TCP proxy on loopback in front of the test PostgreSQL server that the test can cut: then
/// every connection through it is dropped and new ones are closed at once, as if the network
/// between one instance and the database failed.
struct CuttableProxy {
    url: String,
    cut: tokio::sync::watch::Sender<bool>,
}

impl CuttableProxy {
    async fn start(database_url: &str) -> CuttableProxy {
        let scheme_end = database_url.find("://").unwrap() + 3;
        let authority_end = scheme_end + database_url[scheme_end..].find('/').unwrap();
        let authority = &database_url[scheme_end..authority_end];
        let (credentials, host_port) = match authority.rsplit_once('@') {
            Some((credentials, host_port)) => (format!("{credentials}@"), host_port.to_owned()),
            None => (String::new(), authority.to_owned()),
        };
        let upstream = if host_port.contains(':') {
            host_port
        } else {
            format!("{host_port}:5432")
        };
        let upstream: std::net::SocketAddr = tokio::net::lookup_host(&upstream)
            .await
            .unwrap()
            .next()
            .unwrap();
        // Only ever to this machine.
        assert!(upstream.ip().is_loopback(), "{upstream}");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, watching) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if *watching.borrow() {
                    continue;
                }
                let mut watching = watching.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watching.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        CuttableProxy {
            url: format!(
                "{}{credentials}127.0.0.1:{port}{}",
                &database_url[..scheme_end],
                &database_url[authority_end..]
            ),
            cut,
        }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_within_two_seconds_even_when_refreshes_fail() {
    if !postgres_or_skip("app: several instances on one PostgreSQL database").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let clock = TestClock::starting_at(day(0));
    let first = instance(&database, &clock).await;
    let proxy = CuttableProxy::start(database.url()).await;
    let second = App::new(
        Storage::open_postgres(&proxy.url).await.unwrap(),
        Policy::default(),
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .await
    .unwrap();
    let issued = first.issue_initial_admin_token().await.unwrap().unwrap();
    let admin = first.authenticate(&issued.token).unwrap();
    let officer = first
        .issue_token(&admin, "Wang Fang".into(), Role::Officer, None)
        .await
        .unwrap();
    let auditor = first
        .issue_token(&admin, "Zhao Lei".into(), Role::Auditor, None)
        .await
        .unwrap();
    second.refresh_shared_state().await.unwrap();
    assert!(second.check_token(&officer.token).unwrap().is_some());

    // The second instance loses its database; the officer's token is revoked through the first.
    proxy.set_cut(true);
    first.revoke_token(&admin, officer.record.id).await.unwrap();
    let revoked_at = std::time::Instant::now();
    assert!(first.check_token(&officer.token).unwrap().is_none());

    // The second keeps trying to refresh, as its worker does, and fails; from two seconds after
    // the revocation on it honours no token at all, revoked or not.
    let window_end = revoked_at + caseledger_app::tokens::TOKEN_TRUST_WINDOW;
    let mut refused_after_window = 0;
    while revoked_at.elapsed() < std::time::Duration::from_secs(4) {
        let refreshed = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            second.refresh_shared_state(),
        )
        .await;
        assert!(
            !matches!(refreshed, Ok(Ok(()))),
            "a refresh through a cut connection succeeded"
        );
        let checked_at = std::time::Instant::now();
        let officer_check = second.check_token(&officer.token);
        let auditor_check = second.check_token(&auditor.token);
        if checked_at > window_end {
            assert!(
                matches!(officer_check, Err(AppError::Unavailable { .. })),
                "{officer_check:?}"
            );
            assert!(
                matches!(auditor_check, Err(AppError::Unavailable { .. })),
                "{auditor_check:?}"
            );
            assert!(second.authenticate(&auditor.token).is_none());
            refused_after_window += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused_after_window > 0);

    // The database is back: the next successful refresh vouches again, for the live token only.
    proxy.set_cut(false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while second.refresh_shared_state().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "no refresh succeeded");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(second.check_token(&officer.token).unwrap().is_none());
    assert!(second.check_token(&auditor.token).unwrap().is_some());
}
