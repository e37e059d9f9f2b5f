//! The `rebuild` benchmark: how fast the case projection rebuilds from the log, against the
//! rate at which the same process merely reads and deserialises the log (the ceiling), and how
//! fast the list queries answer at 100,000 cases.
//!
//! This file owns the benchmark and nothing else; it is a plain `main` (`harness = false`) that
//! prints a table, because its phases run once each over one large generated store. In one run:
//! 1. **generate** 100,000 cases × 10 events = 1,000,000 events straight into a [`SledLog`]
//!    (no decider, no app): each case is opened, assigned, investigated, sent an opinion letter
//!    that is answered or missed, noted, referred or escalated now and then, and mostly closed.
//!    Cases open 15 minutes apart and their events follow over ten days, so, as in a real
//!    office, about a thousand cases are active at any point of the log and consecutive events
//!    mostly belong to different cases. Appends go in concurrent chunks so group commit can
//!    batch them.
//! 2. **ceiling**: read the whole log with `read_all` pages of 50,000 events (the size of
//!    `catch_up`'s pages), decoding each event and doing nothing else.
//! 3. **rebuild**: `reset()` then `catch_up` of the case projection, which decodes the same
//!    pages, folds every event into its case and writes the changed rows and the checkpoint per
//!    step. Phases 2 and 3 run three times, interleaved, so that both meet the same state of the
//!    caches; each pass is printed, and the ratio of the totals.
//! 4. **queries** at 100,000 cases: median and p99 of 200 runs each of a filtered page
//!    (status + category, limit 50), a text search whose term occurs in ~1% of the cases
//!    (limit 50), a search that matches nothing (a full scan), and the statistics (also a full
//!    scan).
//!
//! Run it with `cargo bench -p caseledger-projections --bench rebuild`. `REBUILD_CASES=2000`
//! makes a quick smoke run, `REBUILD_PASSES=N` repeats phases 2 and 3 N times (for a
//! profiler); the store lives in a temporary directory under
//! [`std::env::temp_dir`] and is removed at the end.
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use caseledger_domain::{
    ActorRecord, ActorRole, CaseEvent, CaseId, CaseStatus, Category, Department, Employer,
    LetterId, LetterKind, Outcome, Source, StoredEvent, Tier,
};
use caseledger_projections::{CaseFilter, CaseProjection, Period};
use caseledger_store::{EventLog, ExpectedVersion, Position, SledLog, SledLogOptions, StreamId};
use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

/// Events per case; every case gets exactly this many, so the log has `cases × 10` events.
const EVENTS_PER_CASE: usize = 10;
/// The schedule is appended in chunks of this many events, all appends of a chunk at once.
const CHUNK_EVENTS: usize = 4_096;
/// The page size of the ceiling's reads: the size of `catch_up`'s pages.
const READ_PAGE: usize = 50_000;
/// Runs per query.
const QUERY_RUNS: usize = 200;
/// The term of the ~1% text search; it occurs in no other generated text.
const RARE_TERM: &str = "矽肺";

/// A small, fast, deterministic generator (SplitMix64), so every run builds the same log.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 1, 2, 8, 0, 0).unwrap()
}

/// When case `case` opened: 15 minutes after the previous one.
fn opened_at(case: usize) -> DateTime<Utc> {
    base_time() + chrono::Duration::minutes(15 * case as i64)
}

/// When event `step` of case `case` happened: a day or so after the one before.
fn event_at(case: usize, step: usize) -> DateTime<Utc> {
    let jitter = (mix((case * 31 + step) as u64) % 120) as i64;
    opened_at(case) + chrono::Duration::hours(24 * step as i64) + chrono::Duration::minutes(jitter)
}

/// Case ids are UUID v7 from the opening time, so their order is the opening order.
fn case_id(case: usize) -> CaseId {
    let millis = opened_at(case).timestamp_millis() as u64;
    let random = mix(case as u64).to_be_bytes();
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&random);
    CaseId(uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid())
}

fn letter_id(case: usize, step: usize) -> LetterId {
    LetterId(Uuid::from_u64_pair(mix(case as u64 ^ 0xABCD), step as u64))
}

fn department(name: &str) -> Department {
    Department::new(name).unwrap()
}

const REGIONS: [&str; 8] = [
    "Fucheng District",
    "Youxian District",
    "Anzhou District",
    "Jiangyou City",
    "Santai County",
    "Yanting County",
    "Zitong County",
    "Pingwu County",
];

const TITLES: [(&str, &str); 8] = [
    (
        "某建材公司粉尘超标",
        "车间粉尘浓度超过国家职业接触限值，工人未配发合格的防尘口罩，除尘设施长期停用。",
    ),
    (
        "Wage arrears at a textile mill",
        "Forty workers report three months of unpaid wages; the employer cites late payments from buyers.",
    ),
    (
        "某物流园区超时加班",
        "司机连续驾驶超过规定时长，加班费未按规定支付，劳动合同约定的休息日被取消。",
    ),
    (
        "Scaffolding without guard rails",
        "Inspection found scaffolding on the north site without guard rails or toe boards; two near misses last month.",
    ),
    (
        "某化工厂劳动防护用品缺失",
        "反应釜操作岗位未配发防毒面具和防护手套，岗前培训记录缺失。",
    ),
    (
        "Social insurance contributions unpaid",
        "The employer stopped paying social insurance for seasonal staff in March; workers learned of it at the clinic.",
    ),
    (
        "某餐饮企业未签劳动合同",
        "多名服务员入职超过一个月仍未签订书面劳动合同，工资低于当地最低工资标准。",
    ),
    (
        "Noise exposure in the stamping shop",
        "Measured levels of 92 dB(A) at the presses; hearing protection is issued but not enforced.",
    ),
];

fn officer(case: usize) -> String {
    format!("officer-{:02}", mix(case as u64 ^ 0x0FF1CE) % 24)
}

/// Event `step` of case `case`, in its envelope.
fn stored_event(case: usize, step: usize) -> StoredEvent {
    let roll = mix((case as u64) << 8 | step as u64);
    let at = event_at(case, step);
    let event = match step {
        0 => {
            let (title, description) = TITLES[case % TITLES.len()];
            let description = if mix(case as u64 ^ 0x5EA2C4).is_multiple_of(100) {
                format!("{description} 已有两名工人被诊断为{RARE_TERM}。")
            } else {
                description.to_owned()
            };
            CaseEvent::CaseOpened {
                title: title.to_owned(),
                category: Category::ALL[(roll % Category::ALL.len() as u64) as usize],
                description,
                source: Source::ALL[(roll >> 8) as usize % Source::ALL.len()],
                employer: Employer {
                    name: format!("绵阳某企业{:05}有限公司", case % 20_000),
                    credit_code: None,
                    credit_code_unverified: false,
                },
                region: Some(REGIONS[(roll >> 16) as usize % REGIONS.len()].to_owned()),
                industry: Some("building_materials".to_owned()),
                workers_affected: Some((roll >> 24) as u32 % 500 + 1),
                complainant: None,
            }
        }
        1 => CaseEvent::OfficerAssigned {
            officer: officer(case),
            previous: None,
        },
        2 | 8 => CaseEvent::FindingRecorded {
            summary: "现场检查发现问题属实，已拍照取证并制作询问笔录。".to_owned(),
            hazard: roll.is_multiple_of(2).then(|| "silica dust".to_owned()),
        },
        3 => CaseEvent::NoteAdded {
            text: "Called the employer's HR manager; a meeting is set for next week.".to_owned(),
        },
        4 => CaseEvent::SupervisionLetterIssued {
            letter_id: letter_id(case, 4),
            number: format!("MY-{}-{:05}", at.format("%Y"), case % 100_000),
            kind: LetterKind::Opinion,
            recipient: format!("绵阳某企业{:05}有限公司", case % 20_000),
            content: "请贵单位于收到本意见书之日起十五个工作日内整改并书面答复。".to_owned(),
            deadline: Some(at + chrono::Duration::days(21)),
            department: None,
            deadline_rule: None,
            last_day: None,
            document_sha256: None,
        },
        // Four in five employers answer, most of them having rectified; the rest miss the
        // deadline.
        5 if !roll.is_multiple_of(5) => CaseEvent::LetterAnswered {
            letter_id: letter_id(case, 4),
            rectified: !roll.is_multiple_of(3),
            content: "我单位已按要求完成整改，附整改报告。".to_owned(),
        },
        5 => CaseEvent::LetterDeadlineMissed {
            letter_id: letter_id(case, 4),
            deadline: event_at(case, 4) + chrono::Duration::days(21),
        },
        6 => match roll % 10 {
            0..=2 => CaseEvent::ReferredToDepartment {
                department: department("labour_inspection"),
                reason: "需劳动保障监察部门依法查处。".to_owned(),
            },
            3 => CaseEvent::EscalatedToJointMechanism {
                tier: Tier::ThreeParty,
                departments: vec![
                    department("arbitration"),
                    department("justice"),
                    department("labour_inspection"),
                ],
                reason: "Employer refuses to rectify.".to_owned(),
                previous_tier: None,
            },
            _ => CaseEvent::NoteAdded {
                text: "复查：整改措施已落实。".to_owned(),
            },
        },
        7 => CaseEvent::NoteAdded {
            text: "Follow-up visit done; workers confirm the change.".to_owned(),
        },
        // Four in five cases are closed by their tenth event.
        _ if !roll.is_multiple_of(5) => CaseEvent::CaseClosed {
            outcome: Outcome::ALL[(roll >> 8) as usize % 4],
            summary: "经督促，用人单位已整改到位，结案。".to_owned(),
        },
        _ => CaseEvent::NoteAdded {
            text: "Still waiting for the arbitration hearing.".to_owned(),
        },
    };
    StoredEvent {
        id: Uuid::from_u64_pair(case as u64, step as u64),
        case_id: case_id(case),
        at,
        actor: ActorRecord {
            token_id: None,
            user_id: None,
            name: officer(case),
            role: ActorRole::Officer,
            department: None,
        },
        event,
    }
}

/// Appends every event of every case in time order; returns the log's head.
async fn generate(log: &SledLog, cases: usize) -> u64 {
    let mut schedule: Vec<(DateTime<Utc>, usize, usize)> = (0..cases)
        .flat_map(|case| (0..EVENTS_PER_CASE).map(move |step| (event_at(case, step), case, step)))
        .collect();
    schedule.sort_unstable();
    for chunk in schedule.chunks(CHUNK_EVENTS) {
        // A case's events within one chunk go in one append, so they stay in order.
        let mut by_case: HashMap<usize, Vec<StoredEvent>> = HashMap::new();
        let mut order = Vec::new();
        for &(_, case, step) in chunk {
            by_case
                .entry(case)
                .or_insert_with(|| {
                    order.push(case);
                    Vec::new()
                })
                .push(stored_event(case, step));
        }
        let mut appends = tokio::task::JoinSet::new();
        for case in order {
            let events = by_case.remove(&case).unwrap();
            let log = log.clone();
            appends.spawn(async move {
                log.append(
                    StreamId(case_id(case).0),
                    ExpectedVersion::Any,
                    events,
                    None,
                )
                .await
                .unwrap()
                .unwrap();
            });
        }
        while let Some(done) = appends.join_next().await {
            done.unwrap();
        }
    }
    EventLog::<StoredEvent>::head(log).position.0
}

/// The ceiling: read and decode every event, nothing else. Returns how many were read.
async fn read_everything(log: &SledLog) -> u64 {
    let mut after = Position::ZERO;
    let mut read = 0;
    loop {
        let page: Vec<caseledger_store::Recorded<StoredEvent>> =
            log.read_all(after, READ_PAGE).await.unwrap();
        let Some(last) = page.last() else {
            return read;
        };
        after = last.position;
        read += page.len() as u64;
        std::hint::black_box(&page);
    }
}

struct Latency {
    median: Duration,
    p99: Duration,
    items: usize,
}

async fn measure(mut query: impl AsyncFnMut() -> usize) -> Latency {
    let mut items = query().await;
    let mut times: Vec<Duration> = Vec::with_capacity(QUERY_RUNS);
    for _ in 0..QUERY_RUNS {
        let started = Instant::now();
        items = std::hint::black_box(query().await);
        times.push(started.elapsed());
    }
    times.sort();
    Latency {
        median: times[times.len() / 2],
        p99: times[(times.len() * 99).div_ceil(100) - 1],
        items,
    }
}

fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown memory".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    format!("{cores} cores ({model}), {memory}")
}

fn main() {
    let cases: usize = std::env::var("REBUILD_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let passes: usize = std::env::var("REBUILD_PASSES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3);
    runtime.block_on(run(cases, passes));
}

async fn run(cases: usize, passes: usize) {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path(), SledLogOptions::default()).unwrap();
    println!("machine: {}", machine());
    println!("store:   {} (sled, default options)", dir.path().display());

    let started = Instant::now();
    let events = generate(&log, cases).await;
    let generation = started.elapsed();
    assert_eq!(events, (cases * EVENTS_PER_CASE) as u64);
    println!(
        "generate: {events} events of {cases} cases in {:.1} s ({:.0} events/s)",
        generation.as_secs_f64(),
        rate(events, generation)
    );

    let projection = CaseProjection::load(log.keyspace("projection.cases").unwrap())
        .await
        .unwrap();
    let mut ceilings = Vec::new();
    let mut rebuilds = Vec::new();
    for pass in 1..=passes {
        let started = Instant::now();
        assert_eq!(read_everything(&log).await, events);
        let ceiling = started.elapsed();
        ceilings.push(ceiling);

        let started = Instant::now();
        projection.reset().await.unwrap();
        projection.catch_up(&log, |_| {}).await.unwrap();
        let rebuild = started.elapsed();
        rebuilds.push(rebuild);
        assert_eq!(projection.checkpoint(), events);
        assert_eq!(projection.len().unwrap(), cases);
        println!(
            "pass {pass}: ceiling {:.2} s = {:.0} events/s; rebuild {:.2} s = {:.0} events/s; \
             ratio {:.2}",
            ceiling.as_secs_f64(),
            rate(events, ceiling),
            rebuild.as_secs_f64(),
            rate(events, rebuild),
            ceiling.as_secs_f64() / rebuild.as_secs_f64(),
        );
    }

    let ceiling: Duration = ceilings.iter().sum();
    let rebuild: Duration = rebuilds.iter().sum();
    println!(
        "all passes: ceiling {:.0} events/s, rebuild {:.0} events/s, ratio {:.2}",
        rate(events * passes as u64, ceiling),
        rate(events * passes as u64, rebuild),
        ceiling.as_secs_f64() / rebuild.as_secs_f64()
    );

    let filtered = CaseFilter {
        status: Some(CaseStatus::Closed),
        category: Some(Category::SafetyHazard),
        ..CaseFilter::default()
    };
    let rare = CaseFilter {
        q: Some(RARE_TERM.to_owned()),
        ..CaseFilter::default()
    };
    let nothing = CaseFilter {
        q: Some("石棉 asbestos".to_owned()),
        ..CaseFilter::default()
    };
    let rare_total = projection
        .list(&rare, None, cases)
        .await
        .unwrap()
        .items
        .len();
    let queries = [
        ("status=closed&category=safety_hazard, limit 50", filtered),
        ("q (matches ~1% of cases), limit 50", rare),
        ("q that matches nothing (full scan), limit 50", nothing),
    ];
    println!(
        "queries at {} cases ({QUERY_RUNS} runs each; the ~1% term matches {rare_total}):",
        projection.len().unwrap()
    );
    println!("| query | items | median | p99 |");
    println!("|---|---|---|---|");
    for (name, filter) in &queries {
        let latency =
            measure(async || projection.list(filter, None, 50).await.unwrap().items.len()).await;
        println!(
            "| {name} | {} | {:.3} ms | {:.3} ms |",
            latency.items,
            latency.median.as_secs_f64() * 1e3,
            latency.p99.as_secs_f64() * 1e3
        );
    }
    let latency = measure(async || {
        projection
            .stats(&CaseFilter::default(), Period::default(), &chrono::Utc)
            .unwrap()
            .cases as usize
    })
    .await;
    println!(
        "| stats, whole period (full scan) | {} | {:.3} ms | {:.3} ms |",
        latency.items,
        latency.median.as_secs_f64() * 1e3,
        latency.p99.as_secs_f64() * 1e3
    );
}
