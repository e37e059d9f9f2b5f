//! Delivery throughput to a fast local receiver: how many messages a second the delivery worker
//! signs, POSTs and records, for one endpoint and for ten endpoints at once.
//!
//! Setup (not timed): a sled log in a temporary directory with one case shared with `hrss` and
//! `EVENTS` findings on it, the feed projected, and an axum receiver on 127.0.0.1 that answers
//! 200 at once. Timed: every endpoint drained from the start of its feed, each on its own task
//! (as the worker's lanes run), through the real HTTP client, signing and cursor writes.
//! Run with `cargo bench -p caseledger-webhooks --bench delivery`; it prints one line per
//! configuration, the median of `RUNS` runs.
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark's setup fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use caseledger_domain::{
    ActorRecord, CaseEvent, CaseId, Category, Department, Employer, Source, StoredEvent,
};
use caseledger_store::{EventLog, ExpectedVersion, SledLog, StreamId};
use caseledger_webhooks::{
    parse_cidr, validate_endpoint, Deliverer, DeliveryConfig, DeliveryOutcome, EgressPolicy,
    FeedCursor, FeedProjection, NewEndpoint, NoJitter, Registry,
};
use chrono::Utc;
use uuid::Uuid;

/// Messages in the feed, per endpoint.
const EVENTS: usize = 2_000;
/// Runs per configuration.
const RUNS: usize = 3;

async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(|_body: axum::body::Bytes| async { axum::http::StatusCode::OK }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/hook")
}

fn stored(case_id: CaseId, event: CaseEvent) -> StoredEvent {
    StoredEvent {
        id: Uuid::now_v7(),
        case_id,
        at: Utc::now(),
        actor: ActorRecord::system(),
        event,
    }
}

/// A log with one case shared with `hrss` and `EVENTS - 1` findings after the sharing.
async fn populated_log(dir: &std::path::Path) -> SledLog {
    let log = SledLog::open(dir, Default::default()).unwrap();
    let case_id = CaseId(Uuid::now_v7());
    let mut events = vec![
        stored(
            case_id,
            CaseEvent::CaseOpened {
                title: "Benchmark".into(),
                category: Category::WageArrears,
                description: "Wages unpaid".into(),
                source: Source::Hotline,
                employer: Employer::default(),
                region: None,
                industry: None,
                workers_affected: Some(10),
                complainant: None,
            },
        ),
        stored(
            case_id,
            CaseEvent::ReferredToDepartment {
                department: Department::new("hrss").unwrap(),
                reason: "benchmark".into(),
            },
        ),
    ];
    for n in 0..EVENTS - 1 {
        events.push(stored(
            case_id,
            CaseEvent::FindingRecorded {
                summary: format!("finding {n}: payroll records for the month are missing"),
                hazard: None,
            },
        ));
    }
    for chunk in events.chunks(500) {
        log.append(
            StreamId(case_id.0),
            ExpectedVersion::Any,
            chunk.to_vec(),
            None,
        )
        .await
        .unwrap()
        .unwrap();
    }
    log
}

/// Drains `endpoints` endpoints from the start of the feed; returns the elapsed time.
async fn run(log: &SledLog, feed: &FeedProjection, url: &str, endpoints: usize) -> Duration {
    let suffix = Uuid::now_v7().simple().to_string();
    let registry = Registry::load(
        log.keyspace(&format!("bench.endpoints.{suffix}")).unwrap(),
        log.keyspace(&format!("bench.state.{suffix}")).unwrap(),
    )
    .await
    .unwrap();
    // The receiver runs on loopback, which deliveries may reach only when allowed.
    let loopback = EgressPolicy {
        allowed: vec![parse_cidr("127.0.0.0/8").unwrap()],
        require_https: false,
    };
    let mut ids = Vec::new();
    for _ in 0..endpoints {
        let valid = validate_endpoint(
            NewEndpoint {
                url: url.to_owned(),
                department: "hrss".into(),
                event_types: None,
                description: None,
            },
            |_| true,
            &loopback,
        )
        .unwrap();
        let created = registry
            .create(valid, FeedCursor::start(), Utc::now())
            .await
            .unwrap();
        ids.push(created.endpoint.id);
    }
    let deliverer = Arc::new(
        Deliverer::new(
            registry,
            feed.clone(),
            DeliveryConfig {
                egress: loopback,
                ..DeliveryConfig::default()
            },
            Arc::new(caseledger_domain::SystemClock),
            Arc::new(NoJitter),
        )
        .unwrap(),
    );
    let started = Instant::now();
    let lanes: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let deliverer = Arc::clone(&deliverer);
            tokio::spawn(async move { deliverer.deliver_until_blocked(id).await.unwrap() })
        })
        .collect();
    for lane in lanes {
        assert_eq!(lane.await.unwrap(), DeliveryOutcome::Idle);
    }
    started.elapsed()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let log = populated_log(dir.path()).await;
        let feed = FeedProjection::load(
            log.keyspace("bench.feed").unwrap(),
            [Department::new("hrss").unwrap()],
        )
        .await
        .unwrap();
        let projecting = Instant::now();
        feed.catch_up(&log).await.unwrap();
        let projected = projecting.elapsed();
        println!(
            "feed projection: {EVENTS} messages in {:.0} ms ({:.0} events/s)",
            projected.as_secs_f64() * 1e3,
            (EVENTS + 1) as f64 / projected.as_secs_f64()
        );
        let url = receiver().await;
        // Warm up the client's connection pool and the page cache.
        run(&log, &feed, &url, 1).await;
        for endpoints in [1, 10] {
            let mut times: Vec<Duration> = Vec::new();
            for _ in 0..RUNS {
                times.push(run(&log, &feed, &url, endpoints).await);
            }
            times.sort();
            let median = times[RUNS / 2];
            let messages = EVENTS * endpoints;
            println!(
                "delivery, {endpoints} endpoint(s): {messages} messages in {:.0} ms: {:.0} \
                 messages/s in all, {:.0} per endpoint (median of {RUNS})",
                median.as_secs_f64() * 1e3,
                messages as f64 / median.as_secs_f64(),
                EVENTS as f64 / median.as_secs_f64()
            );
        }
    });
}
