//! The case projection through the whole service over a temporary sled store, without HTTP:
//! cursor paging of concurrently opened cases, every list filter and the text search, partners'
//! lists, statistics, restarts, rebuilds and the deadline watcher.
//!
//! Time is a [`TestClock`] the tests move by hand, and the projection is driven step by step
//! with `catch_up`, so nothing here sleeps or waits on a background worker. Expected results
//! are computed from what each test did (an [`Expected`] model per case), never from the
//! projection itself.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use caseledger_app::{
    ActorRole, App, AppError, AppOptions, AppSetup, Caller, CaseFilter, CommandOutcome, Cursor,
    OpenCase, Period, Stats, Storage,
};
use caseledger_domain::{
    Case, CaseEvent, CaseId, CaseStatus, Category, Command, LetterId, LetterKind, Outcome, Policy,
    Role, Source, Tier,
};
use chrono::{DateTime, Duration, Utc};
use common::{day, day0, department, employer, first_admin, issue, TestClock};
use tempfile::TempDir;
use uuid::Uuid;

// ----- harness --------------------------------------------------------------------------------

/// A running service over a store in a temporary directory, with an admin and an officer.
struct TestApp {
    app: Arc<App>,
    clock: Arc<TestClock>,
    admin: Caller,
    officer: Caller,
    dir: TempDir,
    options: AppOptions,
}

/// Options under which the projection keeps no full case state it does not have to: every
/// view, list page and event on an unchanged case reads its row.
const NO_RECENT_CASES: AppOptions = AppOptions {
    recent_cases_bytes: 0,
    search_budget: caseledger_app::DEFAULT_SEARCH_BUDGET,
    idempotency_ttl: caseledger_app::DEFAULT_IDEMPOTENCY_TTL,
    sessions: caseledger_app::SessionLimits::DEFAULT,
};

async fn start_app(dir: &Path, clock: Arc<TestClock>, options: AppOptions) -> App {
    // sled 0.34 finishes some writes of a closed database on its own thread pool, which holds
    // the directory's file lock until they are done; a reopen in the same process may have to
    // wait for them. There is nothing to wait on but the lock itself, so retry, boundedly.
    let mut attempts = 0;
    let storage = loop {
        match Storage::open_sled(dir) {
            Ok(storage) => break storage,
            Err(error)
                if attempts < 500
                    && matches!(
                        error.downcast_ref::<caseledger_store::StoreError>(),
                        Some(caseledger_store::StoreError::Locked { .. })
                    ) =>
            {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(error) => panic!("cannot open the store: {error:#}"),
        }
    };
    let setup = AppSetup {
        options,
        ..AppSetup::default()
    };
    App::with_setup(storage, Policy::default(), clock, setup)
        .await
        .unwrap()
}

impl TestApp {
    async fn spawn() -> TestApp {
        TestApp::spawn_with(AppOptions::default()).await
    }

    async fn spawn_with(options: AppOptions) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::starting_at(day0());
        let app = start_app(dir.path(), Arc::clone(&clock), options).await;
        let admin = first_admin(&app).await;
        let officer = issue(&app, &admin, "Wang Fang", Role::Officer, None).await;
        TestApp {
            app: Arc::new(app),
            clock,
            admin,
            officer,
            dir,
            options,
        }
    }

    /// Drops the service and its store, then opens the same directory again. Callers stay
    /// valid: their tokens are stored.
    async fn restart(self) -> TestApp {
        let TestApp {
            app,
            clock,
            admin,
            officer,
            dir,
            options,
        } = self;
        let app = Arc::try_unwrap(app).expect("no task still holds the app");
        // Closing the store joins its writer thread: blocking work.
        tokio::task::spawn_blocking(move || drop(app))
            .await
            .unwrap();
        let app = start_app(dir.path(), Arc::clone(&clock), options).await;
        TestApp {
            app: Arc::new(app),
            clock,
            admin,
            officer,
            dir,
            options,
        }
    }

    /// Applies every event of the log to the case projection.
    async fn catch_up(&self) {
        self.app
            .case_projection()
            .catch_up(self.app.storage().log.as_ref(), |_| {})
            .await
            .unwrap();
        assert_eq!(self.app.case_projection().checkpoint(), self.head());
    }

    fn head(&self) -> u64 {
        self.app.head().position.0
    }

    async fn caller(&self, name: &str, role: Role, department_name: Option<&str>) -> Caller {
        issue(
            &self.app,
            &self.admin,
            name,
            role,
            department_name.map(department),
        )
        .await
    }

    async fn open(
        &self,
        title: &str,
        category: Category,
        description: &str,
        region: Option<&str>,
    ) -> CaseId {
        self.app
            .open_case(
                &self.officer,
                case_input(title, category, description, region),
                None,
            )
            .await
            .unwrap()
            .case_id
    }

    async fn run(&self, case_id: CaseId, command: Command) -> CommandOutcome {
        self.run_as(&self.admin, case_id, command).await
    }

    async fn run_as(&self, caller: &Caller, case_id: CaseId, command: Command) -> CommandOutcome {
        self.app
            .execute(caller, case_id, command, None, None)
            .await
            .unwrap()
    }

    async fn assign(&self, case_id: CaseId, officer: &str) {
        self.run(
            case_id,
            Command::AssignOfficer {
                officer: officer.into(),
            },
        )
        .await;
    }

    async fn letter(
        &self,
        case_id: CaseId,
        kind: LetterKind,
        deadline: Option<DateTime<Utc>>,
        department_name: Option<&str>,
    ) -> LetterId {
        let letter_id = LetterId(Uuid::now_v7());
        self.run(
            case_id,
            Command::IssueLetter {
                letter_id,
                number: String::new(),
                kind,
                recipient: "某建材有限公司".into(),
                content: "请于期限内整改并书面答复。".into(),
                deadline,
                department: department_name.map(department),
            },
        )
        .await;
        letter_id
    }

    async fn answer(&self, case_id: CaseId, letter_id: LetterId, rectified: bool) {
        self.run(
            case_id,
            Command::AnswerLetter {
                letter_id,
                rectified,
                content: "已收到，情况说明见附件。".into(),
            },
        )
        .await;
    }

    async fn close(&self, case_id: CaseId, outcome: Outcome) {
        self.run(
            case_id,
            Command::Close {
                outcome,
                summary: "结案。".into(),
            },
        )
        .await;
    }

    /// Every case `caller` may see through `filter`, page by page, checking that the pages
    /// are full until the last and that only the last has no cursor.
    async fn list_all(&self, caller: &Caller, filter: &CaseFilter, page_size: usize) -> Vec<Case> {
        let mut cases = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = self
                .app
                .list_cases(caller, filter.clone(), cursor, page_size)
                .await
                .unwrap();
            match page.next_cursor {
                Some(next) => {
                    assert_eq!(page.items.len(), page_size, "a page with a cursor is full");
                    assert_eq!(Some(next.0), page.items.last().map(|case| case.id));
                    cases.extend(page.items);
                    // Round-trip through the client's form, as the API does.
                    cursor = Some(Cursor::decode(&next.encode()).unwrap());
                }
                None => {
                    assert!(page.items.len() <= page_size);
                    cases.extend(page.items);
                    return cases;
                }
            }
        }
    }

    fn stats(&self, period: Period) -> Stats {
        self.app.stats(&self.admin, period).unwrap()
    }
}

fn case_input(
    title: &str,
    category: Category,
    description: &str,
    region: Option<&str>,
) -> OpenCase {
    OpenCase {
        title: title.into(),
        category,
        description: description.into(),
        source: Source::Inspection,
        employer: employer(),
        region: region.map(str::to_owned),
        industry: Some("building_materials".into()),
        workers_affected: Some(40),
        complainant: None,
    }
}

fn ids(cases: &[Case]) -> Vec<CaseId> {
    cases.iter().map(|case| case.id).collect()
}

// ----- (a) concurrent opening and cursor paging -----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrently_opened_cases_page_back_exactly_once_in_opening_order() {
    let test = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for n in 0..250 {
        let app = Arc::clone(&test.app);
        let officer = test.officer.clone();
        tasks.push(tokio::spawn(async move {
            let input = case_input(
                &format!("Concurrent case {n}"),
                Category::ALL[n % Category::ALL.len()],
                "Opened by one of many tasks at once.",
                Some("Fucheng District"),
            );
            app.open_case(&officer, input, None).await.unwrap().case_id
        }));
    }
    let mut opened = Vec::new();
    for task in tasks {
        opened.push(task.await.unwrap());
    }
    assert_eq!(opened.iter().collect::<HashSet<_>>().len(), 250);
    test.catch_up().await;

    // Opening order is the order of the case ids, which the service draws from a monotonic
    // UUID v7 source when it accepts the opening.
    let mut in_opening_order = opened.clone();
    in_opening_order.sort();
    for page_size in [1, 7, 50, 99, 200, 250, 251] {
        let cases = test
            .list_all(&test.officer, &CaseFilter::default(), page_size)
            .await;
        assert_eq!(ids(&cases), in_opening_order, "page size {page_size}");
    }
    // The pages are also exactly ceil(250 / size) long: no empty trailing page.
    for (page_size, pages) in [(50, 5), (7, 36), (250, 1)] {
        let mut cursor = None;
        let mut count = 0;
        loop {
            let page = test
                .app
                .list_cases(&test.officer, CaseFilter::default(), cursor, page_size)
                .await
                .unwrap();
            assert!(!page.items.is_empty());
            count += 1;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(count, pages, "page size {page_size}");
    }

    // A case opened after a client took a cursor shows up on a later page, never before it.
    let first = test
        .app
        .list_cases(&test.officer, CaseFilter::default(), None, 100)
        .await
        .unwrap();
    let late = test
        .open("Opened while paging", Category::Other, "Late.", None)
        .await;
    test.catch_up().await;
    let mut rest = Vec::new();
    let mut cursor = first.next_cursor;
    while let Some(after) = cursor {
        let page = test
            .app
            .list_cases(&test.officer, CaseFilter::default(), Some(after), 100)
            .await
            .unwrap();
        rest.extend(ids(&page.items));
        cursor = page.next_cursor;
    }
    assert_eq!(rest.len(), 151);
    assert_eq!(rest.last(), Some(&late));
}

// ----- the scenario of filters, search and partners -------------------------------------------

/// What a test did to a case, and so what every list should say about it.
#[derive(Debug, Clone)]
struct Expected {
    id: CaseId,
    title: String,
    description: String,
    category: Category,
    region: Option<String>,
    opened_at: DateTime<Utc>,
    status: CaseStatus,
    assignee: Option<String>,
    shared_with: BTreeSet<String>,
    overdue: bool,
}

impl Expected {
    /// The contract's rules, written out from §4 rather than taken from the projection.
    fn admits(&self, filter: &CaseFilter) -> bool {
        let region_matches = match (&filter.region, &self.region) {
            (None, _) => true,
            (Some(wanted), Some(region)) => wanted.to_lowercase() == region.to_lowercase(),
            (Some(_), None) => false,
        };
        let text_matches = filter.q.as_deref().is_none_or(|q| {
            q.split_whitespace().all(|term| {
                let term = term.to_lowercase();
                self.title.to_lowercase().contains(&term)
                    || self.description.to_lowercase().contains(&term)
            })
        });
        filter.status.is_none_or(|status| status == self.status)
            && filter
                .category
                .is_none_or(|category| category == self.category)
            && (filter.assignees.is_empty()
                || self
                    .assignee
                    .as_ref()
                    .is_some_and(|assignee| filter.assignees.contains(assignee)))
            && filter
                .department
                .as_ref()
                .is_none_or(|department| self.shared_with.contains(department.as_str()))
            && filter.overdue.is_none_or(|overdue| overdue == self.overdue)
            && region_matches
            && filter
                .opened_after
                .is_none_or(|after| self.opened_at >= after)
            && filter
                .opened_before
                .is_none_or(|before| self.opened_at < before)
            && text_matches
    }
}

const TEXTS: [(&str, &str); 6] = [
    (
        "某建材公司粉尘超标",
        "车间粉尘浓度超过国家限值，工人未配发防尘口罩。",
    ),
    (
        "Silica dust at Fucheng quarry",
        "Crushers run dry; workers exposed to SILICA without respirators.",
    ),
    ("某纺织厂拖欠工资", "拖欠三个月工资，涉及四十名工人。"),
    (
        "Noise exposure at 建材 plant",
        "Grinding line above 85 dB; no hearing protection issued.",
    ),
    (
        "Unpaid overtime in logistics hub",
        "Drivers work 14-hour shifts; overtime wages withheld.",
    ),
    (
        "粉尘 and noise at the foundry",
        "Mixed exposure in the casting shop; 防尘 masks missing.",
    ),
];

const CATEGORIES: [Category; 4] = [
    Category::SafetyHazard,
    Category::OccupationalDisease,
    Category::WageArrears,
    Category::PpeShortfall,
];

const REGIONS: [Option<&str>; 5] = [
    Some("Fucheng District"),
    Some("FUCHENG district"),
    Some("Youxian District"),
    Some("youxian district"),
    None,
];

const SCENARIO_CASES: usize = 42;

/// Opens 42 cases an hour apart, with every status, two assignees, departments shared by
/// escalation, referral and recommendation letters, and opinion letters of which three miss
/// their deadline; then moves the clock ten days on and lets the watcher record the misses.
async fn filter_scenario() -> (TestApp, Vec<Expected>) {
    filter_scenario_with(AppOptions::default()).await
}

async fn filter_scenario_with(options: AppOptions) -> (TestApp, Vec<Expected>) {
    let test = TestApp::spawn_with(options).await;
    let mut expected = Vec::new();
    for i in 0..SCENARIO_CASES {
        let opened_at = day0() + Duration::hours(i as i64);
        test.clock.set(opened_at);
        let (title, description) = TEXTS[i % TEXTS.len()];
        let category = CATEGORIES[i % CATEGORIES.len()];
        let region = REGIONS[i % REGIONS.len()];
        let id = test.open(title, category, description, region).await;
        let mut case = Expected {
            id,
            title: title.into(),
            description: description.into(),
            category,
            region: region.map(str::to_owned),
            opened_at,
            status: CaseStatus::Open,
            assignee: None,
            shared_with: BTreeSet::new(),
            overdue: false,
        };
        let officer = if i % 2 == 0 { "Wang Fang" } else { "Li Na" };
        match i % 7 {
            0 => {}
            1 => {
                test.assign(id, officer).await;
                case.assignee = Some(officer.into());
                case.status = CaseStatus::Investigating;
            }
            2 => {
                test.assign(id, officer).await;
                // Even cases get a deadline that the clock will pass.
                let deadline = opened_at + Duration::days(if i % 2 == 0 { 5 } else { 30 });
                test.letter(id, LetterKind::Opinion, Some(deadline), None)
                    .await;
                case.assignee = Some(officer.into());
                case.status = CaseStatus::AwaitingReply;
                case.overdue = i % 2 == 0;
            }
            3 => {
                test.run(
                    id,
                    Command::Escalate {
                        tier: Tier::ThreeParty,
                        departments: None,
                        reason: "雇主拒不整改".into(),
                    },
                )
                .await;
                case.status = CaseStatus::Escalated;
                case.shared_with = ["arbitration", "justice", "labour_inspection"]
                    .map(str::to_owned)
                    .into();
            }
            4 => {
                test.run(
                    id,
                    Command::Refer {
                        department: department("hrss"),
                        reason: "涉及社保缴纳".into(),
                    },
                )
                .await;
                test.run(
                    id,
                    Command::RecordFinding {
                        summary: "现场核实".into(),
                        hazard: Some("silica".into()),
                    },
                )
                .await;
                case.status = CaseStatus::Investigating;
                case.shared_with = ["hrss".to_owned()].into();
            }
            5 => {
                let opinion = test
                    .letter(
                        id,
                        LetterKind::Opinion,
                        Some(opened_at + Duration::days(3)),
                        None,
                    )
                    .await;
                test.answer(id, opinion, false).await;
                test.letter(id, LetterKind::Recommendation, None, Some("health"))
                    .await;
                case.status = CaseStatus::AwaitingReply;
                case.shared_with = ["health".to_owned()].into();
            }
            _ => {
                test.assign(id, officer).await;
                test.close(id, Outcome::Unfounded).await;
                case.assignee = Some(officer.into());
                case.status = CaseStatus::Closed;
            }
        }
        expected.push(case);
    }
    test.clock.set(day(10));
    test.catch_up().await;
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 3);
    test.catch_up().await;
    (test, expected)
}

fn expected_ids(expected: &[Expected], filter: &CaseFilter) -> Vec<CaseId> {
    expected
        .iter()
        .filter(|case| case.admits(filter))
        .map(|case| case.id)
        .collect()
}

fn titles(cases: &[Case]) -> BTreeSet<&str> {
    cases.iter().map(|case| case.title.as_str()).collect()
}

// ----- (b) filters and search -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_and_the_text_search_return_exactly_the_matching_cases() {
    every_filter_and_the_text_search_return_exactly_the_matching_cases_holding(
        AppOptions::default(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_and_the_text_search_return_exactly_the_matching_cases_with_no_recent_cases_in_memory(
) {
    every_filter_and_the_text_search_return_exactly_the_matching_cases_holding(NO_RECENT_CASES)
        .await;
}

async fn every_filter_and_the_text_search_return_exactly_the_matching_cases_holding(
    options: AppOptions,
) {
    let (test, expected) = filter_scenario_with(options).await;
    let check = async |filter: CaseFilter| -> Vec<Case> {
        let cases = test.list_all(&test.officer, &filter, 5).await;
        assert_eq!(ids(&cases), expected_ids(&expected, &filter), "{filter:?}");
        cases
    };

    // The model agrees with the scenario's own arithmetic, so it is not vacuous.
    let all = check(CaseFilter::default()).await;
    assert_eq!(all.len(), SCENARIO_CASES);
    // Sequential openings come back in exactly the order they were made.
    assert_eq!(
        ids(&all),
        expected.iter().map(|case| case.id).collect::<Vec<_>>()
    );

    // Each filter alone.
    let mut status_total = 0;
    for status in CaseStatus::ALL {
        status_total += check(CaseFilter {
            status: Some(*status),
            ..CaseFilter::default()
        })
        .await
        .len();
    }
    assert_eq!(status_total, SCENARIO_CASES);
    let by_status = async |status| {
        test.list_all(
            &test.officer,
            &CaseFilter {
                status: Some(status),
                ..CaseFilter::default()
            },
            5,
        )
        .await
        .len()
    };
    assert_eq!(by_status(CaseStatus::Open).await, 6);
    assert_eq!(by_status(CaseStatus::Investigating).await, 12);
    assert_eq!(by_status(CaseStatus::AwaitingReply).await, 12);
    assert_eq!(by_status(CaseStatus::Escalated).await, 6);
    assert_eq!(by_status(CaseStatus::Closed).await, 6);
    for category in Category::ALL {
        check(CaseFilter {
            category: Some(*category),
            ..CaseFilter::default()
        })
        .await;
    }
    for assignees in [
        &["Wang Fang"][..],
        &["Li Na"],
        &["wang fang"],
        &["Nobody"],
        &["Wang Fang", "Li Na"],
        &["Nobody", "Li Na"],
    ] {
        check(CaseFilter {
            assignees: assignees.iter().map(|name| (*name).to_owned()).collect(),
            ..CaseFilter::default()
        })
        .await;
    }
    for name in &Policy::default().departments {
        check(CaseFilter {
            department: Some(name.clone()),
            ..CaseFilter::default()
        })
        .await;
    }
    let overdue = check(CaseFilter {
        overdue: Some(true),
        ..CaseFilter::default()
    })
    .await;
    assert_eq!(overdue.len(), 3);
    assert!(overdue.iter().all(|case| case.overdue()));
    assert_eq!(
        check(CaseFilter {
            overdue: Some(false),
            ..CaseFilter::default()
        })
        .await
        .len(),
        SCENARIO_CASES - 3
    );
    // Regions match whatever their case: both spellings stored, both spellings asked.
    for region in [
        "fucheng district",
        "FUCHENG DISTRICT",
        "Youxian District",
        "Nowhere",
    ] {
        check(CaseFilter {
            region: Some(region.into()),
            ..CaseFilter::default()
        })
        .await;
    }
    let fucheng = test
        .list_all(
            &test.officer,
            &CaseFilter {
                region: Some("fUcHeNg DiStRiCt".into()),
                ..CaseFilter::default()
            },
            5,
        )
        .await;
    assert_eq!(fucheng.len(), 18);
    // Opened-after is inclusive, opened-before exclusive.
    let after = check(CaseFilter {
        opened_after: Some(day0() + Duration::hours(10)),
        ..CaseFilter::default()
    })
    .await;
    assert_eq!(after.first().map(|case| case.id), Some(expected[10].id));
    let before = check(CaseFilter {
        opened_before: Some(day0() + Duration::hours(10)),
        ..CaseFilter::default()
    })
    .await;
    assert_eq!(before.last().map(|case| case.id), Some(expected[9].id));
    let window = check(CaseFilter {
        opened_after: Some(day0() + Duration::hours(10)),
        opened_before: Some(day0() + Duration::hours(20)),
        ..CaseFilter::default()
    })
    .await;
    assert_eq!(window.len(), 10);

    // The text search: terms AND-ed, case-insensitive, Chinese found without spaces.
    let search = async |q: &str| {
        check(CaseFilter {
            q: Some(q.into()),
            ..CaseFilter::default()
        })
        .await
    };
    assert_eq!(
        titles(&search("粉尘").await),
        BTreeSet::from([TEXTS[0].0, TEXTS[5].0])
    );
    assert_eq!(search("粉尘").await.len(), 14);
    assert_eq!(
        titles(&search("建材 粉尘").await),
        BTreeSet::from([TEXTS[0].0])
    );
    assert_eq!(
        titles(&search("粉尘 建材").await),
        BTreeSet::from([TEXTS[0].0])
    );
    assert_eq!(
        titles(&search("建材").await),
        BTreeSet::from([TEXTS[0].0, TEXTS[3].0])
    );
    assert_eq!(
        titles(&search("SILICA").await),
        BTreeSet::from([TEXTS[1].0])
    );
    // One term in the title, the other in the description.
    assert_eq!(
        titles(&search("quarry RESPIRATORS").await),
        BTreeSet::from([TEXTS[1].0])
    );
    assert_eq!(
        titles(&search("  Noise\texposure  ").await),
        BTreeSet::from([TEXTS[3].0, TEXTS[5].0])
    );
    // Only in a description.
    assert_eq!(
        titles(&search("防尘").await),
        BTreeSet::from([TEXTS[0].0, TEXTS[5].0])
    );
    assert_eq!(
        titles(&search("拖欠工资").await),
        BTreeSet::from([TEXTS[2].0])
    );
    assert!(search("dust wages").await.is_empty());
    assert!(search("石棉").await.is_empty());
    assert_eq!(search("   ").await.len(), SCENARIO_CASES);

    // Every filter AND-ed with the others: a cross product checked against the model.
    let statuses: Vec<Option<CaseStatus>> = std::iter::once(None)
        .chain(CaseStatus::ALL.iter().copied().map(Some))
        .collect();
    let mut non_empty = 0;
    for status in &statuses {
        for category in [
            None,
            Some(Category::SafetyHazard),
            Some(Category::WageArrears),
        ] {
            for overdue in [None, Some(true), Some(false)] {
                for region in [None, Some("FUCHENG DISTRICT")] {
                    for q in [None, Some("粉尘"), Some("noise exposure")] {
                        for assignee in [None, Some("Wang Fang")] {
                            for opened_after in [None, Some(day0() + Duration::hours(7))] {
                                let filter = CaseFilter {
                                    status: *status,
                                    category,
                                    assignees: assignee.map(str::to_owned).into_iter().collect(),
                                    department: None,
                                    overdue,
                                    region: region.map(str::to_owned),
                                    opened_after,
                                    opened_before: Some(day0() + Duration::hours(40)),
                                    q: q.map(str::to_owned),
                                };
                                if !check(filter).await.is_empty() {
                                    non_empty += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        non_empty > 50,
        "only {non_empty} combinations matched anything"
    );
    for name in ["hrss", "health", "justice"] {
        for status in &statuses {
            check(CaseFilter {
                status: *status,
                department: Some(department(name)),
                region: Some("youxian district".into()),
                ..CaseFilter::default()
            })
            .await;
        }
    }
}

// ----- (c) partners ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_lists_hold_only_cases_shared_with_their_department() {
    partners_lists_hold_only_cases_shared_with_their_department_holding(AppOptions::default())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_lists_hold_only_cases_shared_with_their_department_with_no_recent_cases_in_memory(
) {
    partners_lists_hold_only_cases_shared_with_their_department_holding(NO_RECENT_CASES).await;
}

async fn partners_lists_hold_only_cases_shared_with_their_department_holding(options: AppOptions) {
    let (test, expected) = filter_scenario_with(options).await;
    let shared_with = |name: &str| -> Vec<CaseId> {
        expected
            .iter()
            .filter(|case| case.shared_with.contains(name))
            .map(|case| case.id)
            .collect()
    };
    for (name, count) in [
        ("hrss", 6),
        ("health", 6),
        ("arbitration", 6),
        ("justice", 6),
        ("court", 0),
    ] {
        let partner = test
            .caller(&format!("{name} desk"), Role::Partner, Some(name))
            .await;
        let cases = test.list_all(&partner, &CaseFilter::default(), 4).await;
        assert_eq!(ids(&cases), shared_with(name), "{name}");
        assert_eq!(cases.len(), count, "{name}");
        assert!(cases
            .iter()
            .all(|case| case.is_shared_with(&department(name))));

        // Asking for its own department changes nothing; asking for another's shows nothing.
        let own = test
            .list_all(
                &partner,
                &CaseFilter {
                    department: Some(department(name)),
                    ..CaseFilter::default()
                },
                4,
            )
            .await;
        assert_eq!(ids(&own), shared_with(name));
        let other = if name == "hrss" { "health" } else { "hrss" };
        assert!(test
            .list_all(
                &partner,
                &CaseFilter {
                    department: Some(department(other)),
                    ..CaseFilter::default()
                },
                4
            )
            .await
            .is_empty());

        // Other filters narrow the partner's list further.
        for category in CATEGORIES {
            let filter = CaseFilter {
                category: Some(category),
                q: Some("粉尘".into()),
                ..CaseFilter::default()
            };
            let narrowed = test.list_all(&partner, &filter, 4).await;
            let wanted: Vec<CaseId> = expected
                .iter()
                .filter(|case| case.shared_with.contains(name) && case.admits(&filter))
                .map(|case| case.id)
                .collect();
            assert_eq!(ids(&narrowed), wanted, "{name} {category}");
        }
    }
    // The officers' list is not narrowed.
    assert_eq!(
        test.list_all(&test.officer, &CaseFilter::default(), 50)
            .await
            .len(),
        SCENARIO_CASES
    );
}

// ----- (d) statistics -------------------------------------------------------------------------

/// Five cases over six weeks:
///
/// | case | category | letters | end |
/// |---|---|---|---|
/// | A | wage_arrears | opinion, answered rectified (day 2) | closed rectified, day 3 |
/// | B | safety_hazard | opinion due day 5, missed | open, overdue |
/// | C | safety_hazard | reminder; opinion answered unrectified; recommendation to `health` | closed mediated, day 8 |
/// | D | ppe_shortfall | — | closed unfounded, day 10 |
/// | E | wage_arrears, opened day 40 | opinion, unanswered | closed referred, day 41 |
async fn stats_scenario() -> TestApp {
    let test = TestApp::spawn().await;
    let clock = &test.clock;
    let a = test
        .open("A", Category::WageArrears, "拖欠工资", None)
        .await;
    let b = test.open("B", Category::SafetyHazard, "脚手架", None).await;
    let c = test.open("C", Category::SafetyHazard, "粉尘", None).await;
    let d = test
        .open("D", Category::PpeShortfall, "防护用品", None)
        .await;
    test.assign(a, "Wang Fang").await;
    clock.set(day(1));
    let letter_a = test
        .letter(a, LetterKind::Opinion, Some(day(30)), None)
        .await;
    test.letter(b, LetterKind::Opinion, Some(day(5)), None)
        .await;
    test.letter(c, LetterKind::Reminder, None, None).await;
    clock.set(day(2));
    test.answer(a, letter_a, true).await;
    clock.set(day(3));
    test.close(a, Outcome::Rectified).await;
    clock.set(day(6));
    test.catch_up().await;
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 1);
    let letter_c = test
        .letter(c, LetterKind::Opinion, Some(day(40)), None)
        .await;
    clock.set(day(7));
    test.answer(c, letter_c, false).await;
    test.letter(c, LetterKind::Recommendation, None, Some("health"))
        .await;
    test.run(
        c,
        Command::AddNote {
            text: "调解会议定于下周。".into(),
        },
    )
    .await;
    clock.set(day(8));
    test.close(c, Outcome::Mediated).await;
    clock.set(day(10));
    test.close(d, Outcome::Unfounded).await;
    clock.set(day(40));
    let e = test
        .open("E", Category::WageArrears, "拖欠工资", None)
        .await;
    test.letter(e, LetterKind::Opinion, Some(day(60)), None)
        .await;
    clock.set(day(41));
    test.close(e, Outcome::Referred).await;
    test.catch_up().await;
    test
}

fn counts<const N: usize>(pairs: [(&str, u64); N]) -> std::collections::BTreeMap<String, u64> {
    pairs
        .into_iter()
        .map(|(key, count)| (key.to_owned(), count))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_report_exact_figures_overall_and_for_a_period() {
    let test = stats_scenario().await;

    let overall = test.stats(Period::default());
    assert_eq!(overall.cases, 5);
    assert_eq!(
        overall.by_status,
        counts([
            ("open", 0),
            ("investigating", 0),
            ("awaiting_reply", 1),
            ("escalated", 0),
            ("closed", 4),
        ])
    );
    assert_eq!(
        overall.by_category,
        counts([
            ("wage_arrears", 2),
            ("safety_hazard", 2),
            ("ppe_shortfall", 1)
        ])
    );
    assert_eq!(overall.overdue, 1);
    assert_eq!(overall.closed, 4);
    // Days to close: E 1, A 3, C 8, D 10.
    assert_eq!(overall.median_days_to_close, Some(5.5));
    assert_eq!(
        overall.letters_issued,
        counts([("reminder", 1), ("opinion", 4), ("recommendation", 1)])
    );
    assert_eq!(overall.opinion_letters, 4);
    assert_eq!(overall.opinion_letters_answered, 2);
    assert_eq!(overall.opinion_letters_rectified, 1);
    assert_eq!(overall.reply_rate, Some(0.5));
    assert_eq!(overall.rectification_rate, Some(0.25));
    assert_eq!(
        overall.closed_by_outcome,
        counts([
            ("rectified", 1),
            ("mediated", 1),
            ("arbitration", 0),
            ("litigation", 0),
            ("referred", 1),
            ("withdrawn", 0),
            ("unfounded", 1),
        ])
    );
    assert_eq!(
        overall.by_tier,
        counts([("three_party", 0), ("four_way", 0), ("five_way", 0)]),
        "no case was escalated"
    );

    // The first three weeks: A to D opened, A, C and D closed, E not yet there.
    let early = test.stats(Period {
        from: Some(day0()),
        to: Some(day(20)),
    });
    assert_eq!(early.cases, 4);
    assert_eq!(
        early.by_status,
        counts([
            ("open", 0),
            ("investigating", 0),
            ("awaiting_reply", 1),
            ("escalated", 0),
            ("closed", 3),
        ])
    );
    assert_eq!(
        early.by_category,
        counts([
            ("wage_arrears", 1),
            ("safety_hazard", 2),
            ("ppe_shortfall", 1)
        ])
    );
    assert_eq!(early.overdue, 1);
    assert_eq!(early.closed, 3);
    assert_eq!(early.median_days_to_close, Some(8.0));
    assert_eq!(
        early.letters_issued,
        counts([("reminder", 1), ("opinion", 3), ("recommendation", 1)])
    );
    assert_eq!(early.opinion_letters, 3);
    assert_eq!(early.opinion_letters_answered, 2);
    assert_eq!(early.opinion_letters_rectified, 1);
    assert_eq!(
        early.closed_by_outcome.get("referred"),
        Some(&0),
        "E was closed after the period"
    );
    assert_eq!(early.closed_by_outcome.get("unfounded"), Some(&1));
    assert_eq!(early.reply_rate, Some(2.0 / 3.0));
    assert_eq!(early.rectification_rate, Some(1.0 / 3.0));

    // From day 20 on: only E, whose opinion letter was never answered.
    let late = test.stats(Period {
        from: Some(day(20)),
        to: None,
    });
    assert_eq!(late.cases, 1);
    assert_eq!(late.by_status.get("closed"), Some(&1));
    assert_eq!(late.by_category, counts([("wage_arrears", 1)]));
    assert_eq!(
        late.overdue, 1,
        "overdue is counted now, whatever the period"
    );
    assert_eq!(late.closed, 1);
    assert_eq!(late.median_days_to_close, Some(1.0));
    assert_eq!(
        late.letters_issued,
        counts([("reminder", 0), ("opinion", 1), ("recommendation", 0)])
    );
    assert_eq!(late.reply_rate, Some(0.0));
    assert_eq!(late.rectification_rate, Some(0.0));

    // A period with nothing in it has no rates and no median rather than zeros.
    let empty = test.stats(Period {
        from: Some(day(100)),
        to: Some(day(200)),
    });
    assert_eq!(empty.cases, 0);
    assert_eq!(empty.median_days_to_close, None);
    assert_eq!(empty.reply_rate, None);
    assert_eq!(empty.rectification_rate, None);

    // The figures are for supervisors, admins and auditors.
    let auditor = test.caller("auditor", Role::Auditor, None).await;
    assert_eq!(
        test.app.stats(&auditor, Period::default()).unwrap(),
        overall
    );
    assert!(matches!(
        test.app.stats(&test.officer, Period::default()),
        Err(AppError::Forbidden(_))
    ));
}

// ----- (e) restart, (f) rebuild ----------------------------------------------------------------

/// Everything the read side answers, for comparing two states of the projection.
async fn snapshot(test: &TestApp) -> (Vec<Case>, Vec<Case>, Vec<Case>, Stats, Stats) {
    let all = test
        .list_all(&test.officer, &CaseFilter::default(), 200)
        .await;
    let overdue = test
        .list_all(
            &test.officer,
            &CaseFilter {
                overdue: Some(true),
                ..CaseFilter::default()
            },
            200,
        )
        .await;
    let search = test
        .list_all(
            &test.officer,
            &CaseFilter {
                q: Some("建材 粉尘".into()),
                region: Some("fucheng district".into()),
                ..CaseFilter::default()
            },
            3,
        )
        .await;
    let overall = test.stats(Period::default());
    let early = test.stats(Period {
        from: None,
        to: Some(day0() + Duration::hours(20)),
    });
    (all, overdue, search, overall, early)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_count_escalated_cases_by_the_highest_tier_they_reached() {
    let test = stats_scenario().await;
    // B is the one safety-hazard case still awaiting a reply.
    let b = test
        .app
        .list_cases(
            &test.caller("supervisor", Role::Supervisor, None).await,
            CaseFilter {
                category: Some(Category::SafetyHazard),
                status: Some(CaseStatus::AwaitingReply),
                ..CaseFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap()
        .items[0]
        .id;
    for tier in [Tier::ThreeParty, Tier::FourWay] {
        test.run(
            b,
            Command::Escalate {
                tier,
                departments: None,
                reason: "雇主拒不整改。".into(),
            },
        )
        .await;
    }
    test.catch_up().await;

    let stats = test.stats(Period::default());
    assert_eq!(
        stats.by_tier,
        counts([("three_party", 0), ("four_way", 1), ("five_way", 0)]),
        "a case counts once, under the highest tier it reached"
    );
    assert_eq!(stats.by_status.get("escalated"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_serves_the_same_lists_at_once_without_replaying_the_log() {
    a_restart_serves_the_same_lists_at_once_without_replaying_the_log_holding(AppOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_serves_the_same_lists_at_once_without_replaying_the_log_with_no_recent_cases_in_memory(
) {
    a_restart_serves_the_same_lists_at_once_without_replaying_the_log_holding(NO_RECENT_CASES)
        .await;
}

async fn a_restart_serves_the_same_lists_at_once_without_replaying_the_log_holding(
    options: AppOptions,
) {
    let (test, expected) = filter_scenario_with(options).await;
    let before = snapshot(&test).await;
    assert_eq!(before.0.len(), SCENARIO_CASES);
    let head = test.head();

    let test = test.restart().await;
    // No catch_up: the rows and the checkpoint came back from the keyspace.
    assert_eq!(test.head(), head);
    assert_eq!(test.app.case_projection().checkpoint(), head);
    assert_eq!(test.app.case_projection().len().unwrap(), SCENARIO_CASES);
    assert_eq!(snapshot(&test).await, before);
    // And there is nothing left to replay.
    assert_eq!(
        test.app
            .case_projection()
            .try_project_next(test.app.storage().log.as_ref())
            .await
            .unwrap(),
        caseledger_projections::Outcome::Idle
    );

    // A projection behind the log at shutdown resumes from its checkpoint, not from 0.
    let late = test
        .open("After the restart", Category::Other, "新案件", None)
        .await;
    let test = test.restart().await;
    assert_eq!(test.app.case_projection().checkpoint(), head);
    let mut steps = Vec::new();
    test.app
        .case_projection()
        .catch_up(test.app.storage().log.as_ref(), |checkpoint| {
            steps.push(checkpoint)
        })
        .await
        .unwrap();
    assert_eq!(steps, vec![test.head()]);
    let all = test
        .list_all(&test.officer, &CaseFilter::default(), 200)
        .await;
    assert_eq!(all.len(), SCENARIO_CASES + 1);
    assert_eq!(all.last().map(|case| case.id), Some(late));
    assert_eq!(
        ids(&all[..SCENARIO_CASES]),
        expected.iter().map(|case| case.id).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_catch_up_rebuild_identical_results() {
    reset_and_catch_up_rebuild_identical_results_holding(AppOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_catch_up_rebuild_identical_results_with_no_recent_cases_in_memory() {
    reset_and_catch_up_rebuild_identical_results_holding(NO_RECENT_CASES).await;
}

async fn reset_and_catch_up_rebuild_identical_results_holding(options: AppOptions) {
    let (test, _) = filter_scenario_with(options).await;
    let before = snapshot(&test).await;
    let stats_test = stats_scenario().await;
    let stats_before = stats_test.stats(Period::default());

    for test in [&test, &stats_test] {
        test.app.case_projection().reset().await.unwrap();
        assert_eq!(test.app.case_projection().checkpoint(), 0);
        assert!(test.app.case_projection().is_empty().unwrap());
        assert!(test
            .list_all(&test.officer, &CaseFilter::default(), 50)
            .await
            .is_empty());
        test.catch_up().await;
    }
    assert_eq!(snapshot(&test).await, before);
    assert_eq!(stats_test.stats(Period::default()), stats_before);

    // The rebuilt projection is also what a restart loads.
    let test = test.restart().await;
    assert_eq!(test.app.case_projection().checkpoint(), test.head());
    assert_eq!(snapshot(&test).await, before);
}

// ----- (g) the deadline watcher ---------------------------------------------------------------

fn missed_deadline_events(
    history: &[caseledger_store::Recorded<caseledger_app::StoredEvent>],
) -> Vec<(LetterId, DateTime<Utc>, ActorRole, String)> {
    history
        .iter()
        .filter_map(|recorded| match &recorded.event.event {
            CaseEvent::LetterDeadlineMissed {
                letter_id,
                deadline,
            } => Some((
                *letter_id,
                *deadline,
                recorded.event.actor.role,
                recorded.event.actor.name.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_watcher_records_each_missed_deadline_once_and_answers_clear_it() {
    let test = TestApp::spawn().await;
    let case_id = test
        .open(
            "某建材公司粉尘超标",
            Category::OccupationalDisease,
            "粉尘",
            None,
        )
        .await;
    let deadline = day(14);
    let letter_id = test
        .letter(case_id, LetterKind::Opinion, Some(deadline), None)
        .await;
    // Another case's letter, due later, must not be touched.
    let other = test
        .open("Other", Category::SafetyHazard, "later", None)
        .await;
    let other_letter = test
        .letter(other, LetterKind::Opinion, Some(day(30)), None)
        .await;
    test.catch_up().await;

    // Before the deadline, and exactly one second before it, nothing is due.
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 0);
    test.clock.set(deadline - Duration::seconds(1));
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 0);
    let head = test.head();

    test.clock.set(deadline + Duration::hours(1));
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 1);
    assert_eq!(test.head(), head + 1);
    let history = test.app.history(&test.admin, case_id).await.unwrap();
    assert_eq!(
        missed_deadline_events(&history),
        vec![(letter_id, deadline, ActorRole::System, "system".to_owned())]
    );
    assert!(history
        .last()
        .is_some_and(|recorded| recorded.event.actor.token_id.is_none()));

    // A second scan before the projection saw the first record meets the domain's refusal.
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 0);
    assert_eq!(test.head(), head + 1);

    test.catch_up().await;
    let case = test
        .app
        .case_projection()
        .get(case_id)
        .await
        .unwrap()
        .unwrap();
    assert!(case.overdue());
    assert_eq!(case.status(), CaseStatus::AwaitingReply);
    let overdue = test
        .list_all(
            &test.officer,
            &CaseFilter {
                overdue: Some(true),
                ..CaseFilter::default()
            },
            10,
        )
        .await;
    assert_eq!(ids(&overdue), vec![case_id]);
    assert_eq!(test.stats(Period::default()).overdue, 1);

    // Scanning again, later, appends nothing.
    test.clock.advance(Duration::days(2));
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 0);
    assert_eq!(test.head(), head + 1);

    // Nor after a restart.
    let test = test.restart().await;
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 0);
    assert_eq!(test.head(), head + 1);
    let history = test.app.history(&test.admin, case_id).await.unwrap();
    assert_eq!(missed_deadline_events(&history).len(), 1);
    assert!(test
        .app
        .case_projection()
        .get(case_id)
        .await
        .unwrap()
        .unwrap()
        .overdue());

    // The employer answers late: the case is no longer overdue.
    test.answer(case_id, letter_id, true).await;
    test.catch_up().await;
    let case = test
        .app
        .case_projection()
        .get(case_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!case.overdue());
    assert!(test
        .list_all(
            &test.officer,
            &CaseFilter {
                overdue: Some(true),
                ..CaseFilter::default()
            },
            10
        )
        .await
        .is_empty());
    assert_eq!(test.stats(Period::default()).overdue, 0);
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 0);

    // The other letter's deadline passes in its turn, and only it is recorded.
    test.clock.set(day(31));
    assert_eq!(test.app.scan_deadlines().await.unwrap(), 1);
    let history = test.app.history(&test.admin, other).await.unwrap();
    assert_eq!(
        missed_deadline_events(&history),
        vec![(
            other_letter,
            day(30),
            ActorRole::System,
            "system".to_owned()
        )]
    );
    let history = test.app.history(&test.admin, case_id).await.unwrap();
    assert_eq!(missed_deadline_events(&history).len(), 1);
}

// ----- concurrent steps -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_catch_ups_apply_every_event_exactly_once() {
    let test = TestApp::spawn().await;
    let mut opened = Vec::new();
    for n in 0..40 {
        let case_id = test
            .open(&format!("Case {n}"), Category::Other, "notes", None)
            .await;
        for note in 0..3 {
            test.run(
                case_id,
                Command::AddNote {
                    text: format!("note {note}"),
                },
            )
            .await;
        }
        opened.push(case_id);
    }
    // The worker and a caller (a test, a rebuild) stepping the same projection at once.
    let projection = test.app.case_projection().clone();
    let log = Arc::clone(&test.app.storage().log);
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let projection = projection.clone();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                for _ in 0..50 {
                    projection.project_next(log.as_ref(), 7).await.unwrap();
                }
            })
        })
        .collect();
    for racer in racers {
        racer.await.unwrap();
    }
    test.catch_up().await;
    for case_id in opened {
        let case = projection.get(case_id).await.unwrap().unwrap();
        assert_eq!(case.version, 4, "{case_id}");
        assert_eq!(case.notes.len(), 3, "{case_id}");
    }
}

/// With no memory for recent cases, a case leaves memory as soon as a persist wrote it, and is
/// read back from its row when an event, a view or a list page needs it. Commands, steps,
/// persists and reads racing one another must still leave every case exactly as a fold of its
/// own history, and no read may ever see a case go back to an earlier version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_read_back_from_their_rows_stay_exact_while_commands_steps_persists_and_reads_race() {
    races_holding(NO_RECENT_CASES).await;
}

/// The same with room for a few recent cases, so that cases read back from their rows are kept,
/// and dropped again, while events change them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_kept_after_a_read_stay_exact_while_commands_steps_persists_and_reads_race() {
    races_holding(AppOptions {
        recent_cases_bytes: 4 * 1024,
        ..AppOptions::default()
    })
    .await;
}

async fn races_holding(options: AppOptions) {
    const CASES: usize = 24;
    const WRITERS: usize = 4;
    const NOTES_EACH: usize = 40;
    let test = TestApp::spawn_with(options).await;
    let mut opened = Vec::new();
    for n in 0..CASES {
        opened.push(
            test.open(&format!("Case {n}"), Category::Other, "notes", None)
                .await,
        );
    }
    test.catch_up().await;
    let projection = test.app.case_projection().clone();
    assert!(projection.persist().await.unwrap());
    let log = Arc::clone(&test.app.storage().log);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let running = |stop: &Arc<std::sync::atomic::AtomicBool>| {
        !stop.load(std::sync::atomic::Ordering::Relaxed)
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let app = Arc::clone(&test.app);
            let admin = test.admin.clone();
            let opened = opened.clone();
            tokio::spawn(async move {
                for note in 0..NOTES_EACH {
                    let case_id = opened[(writer * 7 + note * 5) % CASES];
                    let command = Command::AddNote {
                        text: format!("writer {writer} note {note}"),
                    };
                    app.execute(&admin, case_id, command, None, None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let stepper = {
        let (projection, log, stop) = (projection.clone(), Arc::clone(&log), Arc::clone(&stop));
        tokio::spawn(async move {
            while running(&stop) {
                projection.project_next(log.as_ref(), 5).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let persister = {
        let (projection, stop) = (projection.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut written = 0;
            while running(&stop) {
                written += usize::from(projection.persist().await.unwrap());
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            written
        })
    };
    let reader = {
        let (projection, stop, opened) = (projection.clone(), Arc::clone(&stop), opened.clone());
        tokio::spawn(async move {
            let mut seen: HashMap<CaseId, u64> = HashMap::new();
            let mut reads = 0;
            while running(&stop) {
                let page = projection
                    .list(&CaseFilter::default(), None, CASES)
                    .await
                    .unwrap();
                assert_eq!(page.items.len(), CASES);
                let viewed = projection
                    .get(opened[reads % CASES])
                    .await
                    .unwrap()
                    .unwrap();
                for case in page.items.iter().chain(std::iter::once(&viewed)) {
                    let last = seen.entry(case.id).or_default();
                    assert!(case.version >= *last, "{} went back", case.id);
                    *last = case.version;
                }
                reads += 1;
            }
            reads
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    stepper.await.unwrap();
    let persists = persister.await.unwrap();
    let reads = reader.await.unwrap();
    assert!(
        persists > 1 && reads > 1,
        "{persists} persists, {reads} reads"
    );

    test.catch_up().await;
    let check = async |test: &TestApp| {
        let projection = test.app.case_projection();
        let listed = test
            .list_all(&test.officer, &CaseFilter::default(), 5)
            .await;
        assert_eq!(ids(&listed), opened);
        let mut notes = 0;
        for (case_id, listed) in opened.iter().zip(&listed) {
            let history = test.app.history(&test.admin, *case_id).await.unwrap();
            let folded = Case::fold(
                *case_id,
                history
                    .iter()
                    .map(|recorded| (&recorded.event.event, recorded.event.at)),
            );
            assert_eq!(
                projection.get(*case_id).await.unwrap().as_ref(),
                Some(&folded)
            );
            assert_eq!(listed, &folded);
            notes += folded.notes.len();
        }
        assert_eq!(notes, WRITERS * NOTES_EACH);
    };
    check(&test).await;
    // What was persisted is what a restart serves. (The store closes only once every
    // handle on it is gone.)
    assert!(projection.persist().await.unwrap());
    drop((projection, log));
    let test = test.restart().await;
    check(&test).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_of_another_format_version_is_rebuilt_from_the_log() {
    let (test, _) = filter_scenario().await;
    let before = snapshot(&test).await;
    // As if an older build had written the rows.
    test.app
        .storage()
        .case_projection
        .put(
            b"meta/version",
            &(caseledger_projections::PROJECTION_VERSION + 1),
        )
        .await
        .unwrap();
    let test = test.restart().await;
    assert_eq!(test.app.case_projection().checkpoint(), 0);
    assert!(test.app.case_projection().is_empty().unwrap());
    test.catch_up().await;
    assert_eq!(snapshot(&test).await, before);
    // The rebuilt rows carry the current version: the next start loads them as they are.
    let test = test.restart().await;
    assert_eq!(test.app.case_projection().checkpoint(), test.head());
    assert_eq!(snapshot(&test).await, before);
}
