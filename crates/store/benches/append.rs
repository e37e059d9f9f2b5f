//! The `append` benchmark: how many durable events per second the sled log's group commit
//! delivers, against the raw `fdatasync` rate of the same disk, and the PostgreSQL log's beside
//! it in the same run.
//!
//! This file owns the benchmark and nothing else. In one run it measures
//! - `raw_fdatasync`: write ~500 bytes to a file, then `File::sync_data`, per iteration — the
//!   ceiling of any design that flushes once per event;
//! - `durable_append/writers=1`: one task appending one ~500-byte JSON event at a time to the
//!   sled log, each append returning only once durable (one event per flush);
//! - `durable_append/writers=16` and `writers=64`: that many concurrent tasks, each appending
//!   one event at a time to its own stream, so the writer thread can batch them;
//! - `durable_append_postgres/writers=1`, `16`, `64`: the same on the PostgreSQL log, each
//!   append returning once its transaction committed (durable under the server's
//!   `synchronous_commit` and `fsync`, which the run prints). The server is the one tests use
//!   (`CASELEDGER_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/postgres`); each
//!   case gets a fresh database, dropped afterwards. Without a reachable server these cases are
//!   skipped with a message.
//!
//! Everything on disk lives under one temporary directory made in [`std::env::temp_dir`], so the
//! raw file and the sled stores share a filesystem. Each `durable_append` case gets a fresh store
//! on a multi-thread tokio runtime with 2 workers, and prints the commits it observed (moves of
//! the durable head: one per sync for sled, one per transaction for PostgreSQL) and how many
//! events each made durable, so the batch sizes can be read off the run.
#![allow(clippy::unwrap_used, reason = "benchmarks fail loudly")]

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caseledger_store::conformance::ScratchDatabase;
use caseledger_store::{
    EventLog, ExpectedVersion, PostgresLog, PostgresLogOptions, SledLog, SledLogOptions, StreamId,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::Value;

/// The size of one serialised event, before the log wraps it into its envelope.
const EVENT_BYTES: usize = 500;
/// The concurrent writers of the `durable_append` cases.
const WRITERS: [usize; 3] = [1, 16, 64];
/// The tokio worker threads; the machine has 2 cores.
const WORKER_THREADS: usize = 2;

/// A case-like JSON event that serialises to exactly [`EVENT_BYTES`] bytes.
fn event() -> Value {
    let mut event = serde_json::json!({
        "type": "LetterReceived",
        "case_id": "0190f3a4-7b1c-7d2e-9f00-3a5b6c7d8e9f",
        "received_at": "2024-07-01T09:30:00Z",
        "sender": "Employer Ltd, Human Resources",
        "channel": "post",
        "summary": "",
    });
    let bare = serde_json::to_vec(&event).unwrap().len();
    event["summary"] = Value::String("x".repeat(EVENT_BYTES - bare));
    assert_eq!(serde_json::to_vec(&event).unwrap().len(), EVENT_BYTES);
    event
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()
        .unwrap()
}

/// The raw rate: append ~500 bytes to a file and `fdatasync` it, once per iteration.
fn raw_fdatasync(c: &mut Criterion, dir: &Path) {
    let mut file = File::create(dir.join("raw-fdatasync")).unwrap();
    let payload = serde_json::to_vec(&event()).unwrap();
    let mut group = c.benchmark_group("raw_fdatasync");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_fdatasync", |b| {
        b.iter(|| {
            file.write_all(&payload).unwrap();
            file.sync_data().unwrap();
        });
    });
    group.finish();
}

/// Durable appends by `writers` concurrent tasks, each to its own stream, one event per append.
fn durable_append(c: &mut Criterion, dir: &Path) {
    let runtime = runtime();
    let event = event();
    let mut group = c.benchmark_group("durable_append");
    group.throughput(Throughput::Elements(1));
    for writers in WRITERS {
        let log = SledLog::open(
            &dir.join(format!("writers-{writers}")),
            SledLogOptions::default(),
        )
        .unwrap();
        let streams: Vec<StreamId> = (0..writers)
            .map(|_| StreamId(uuid::Uuid::now_v7()))
            .collect();
        let commits = Arc::new(Mutex::new(Vec::new()));
        let counter = runtime.spawn(record_commits(log.clone(), Arc::clone(&commits)));

        group.bench_function(
            BenchmarkId::from_parameter(format!("writers={writers}")),
            |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let log = log.clone();
                    let streams = streams.clone();
                    let event = event.clone();
                    async move { append_concurrently(&log, &streams, &event, iters).await }
                });
            },
        );

        counter.abort();
        eprintln!(
            "durable_append/writers={writers}: {}",
            commit_summary(&commits)
        );
    }
    group.finish();
}

/// The same durable appends on the PostgreSQL log, each case on a fresh database.
fn durable_append_postgres(c: &mut Criterion) {
    let runtime = runtime();
    let probe = match runtime.block_on(ScratchDatabase::try_create()) {
        Ok(database) => database,
        Err(reason) => {
            eprintln!("durable_append_postgres: skipped, {reason}");
            return;
        }
    };
    let settings = runtime.block_on(server_settings(probe.url()));
    eprintln!("durable_append_postgres: server {settings}");
    drop(probe);
    let event = event();
    let mut group = c.benchmark_group("durable_append_postgres");
    group.throughput(Throughput::Elements(1));
    for writers in WRITERS {
        let database = runtime.block_on(ScratchDatabase::try_create()).unwrap();
        let log = runtime
            .block_on(PostgresLog::open(
                database.url(),
                PostgresLogOptions::default(),
            ))
            .unwrap();
        let streams: Vec<StreamId> = (0..writers)
            .map(|_| StreamId(uuid::Uuid::now_v7()))
            .collect();
        let commits = Arc::new(Mutex::new(Vec::new()));
        let counter = runtime.spawn(record_commits(log.clone(), Arc::clone(&commits)));

        group.bench_function(
            BenchmarkId::from_parameter(format!("writers={writers}")),
            |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let log = log.clone();
                    let streams = streams.clone();
                    let event = event.clone();
                    async move { append_concurrently(&log, &streams, &event, iters).await }
                });
            },
        );

        counter.abort();
        eprintln!(
            "durable_append_postgres/writers={writers}: {}",
            commit_summary(&commits)
        );
        drop(log);
        drop(database);
    }
    group.finish();
}

/// The server's settings that decide what a commit means, for the record of the run.
async fn server_settings(url: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut settings = Vec::new();
    for name in [
        "server_version",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
    ] {
        let row = client
            .query_one(&format!("SHOW {name}"), &[])
            .await
            .unwrap();
        settings.push(format!("{name}={}", row.get::<_, String>(0)));
    }
    settings.join(" ")
}

/// Appends `total` events split across one task per stream and returns the wall time.
async fn append_concurrently<L: EventLog<Value> + Clone + 'static>(
    log: &L,
    streams: &[StreamId],
    event: &Value,
    total: u64,
) -> Duration {
    let writers = streams.len() as u64;
    let start = Instant::now();
    let tasks: Vec<_> = streams
        .iter()
        .enumerate()
        .map(|(index, &stream)| {
            // The first `total % writers` writers take one append more.
            let appends = total / writers + u64::from((index as u64) < total % writers);
            let log = log.clone();
            let event = event.clone();
            tokio::spawn(async move {
                for _ in 0..appends {
                    EventLog::<Value>::append(
                        &log,
                        stream,
                        ExpectedVersion::Any,
                        vec![event.clone()],
                        None,
                    )
                    .await
                    .unwrap()
                    .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

/// Records the moves of the durable head, one per commit (for sled, one per sync), as the number
/// of events each made durable. A watch channel may fold two moves into one, so the count is a
/// lower bound on commits (and the sizes an upper bound on the batch sizes).
async fn record_commits<L: EventLog<Value>>(log: L, commits: Arc<Mutex<Vec<u64>>>) {
    let mut head = EventLog::<Value>::subscribe(&log);
    let mut last = head.borrow_and_update().position.0;
    while head.changed().await.is_ok() {
        let now = head.borrow_and_update().position.0;
        commits.lock().unwrap().push(now - last);
        last = now;
    }
}

/// What a case's commits looked like: how many, and how many events each made durable.
fn commit_summary(commits: &Mutex<Vec<u64>>) -> String {
    let mut sizes = commits.lock().unwrap().clone();
    sizes.sort_unstable();
    let events: u64 = sizes.iter().sum();
    let quantile = |q: f64| {
        let index = (sizes.len().saturating_sub(1) as f64 * q).round() as usize;
        sizes.get(index).copied().unwrap_or(0)
    };
    format!(
        "{events} events in {} observed commits, events per commit: mean {:.1}, p10 {}, \
         median {}, p90 {}, max {}",
        sizes.len(),
        events as f64 / sizes.len().max(1) as f64,
        quantile(0.1),
        quantile(0.5),
        quantile(0.9),
        quantile(1.0),
    )
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::Builder::new()
        .prefix("caseledger-append-bench-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    eprintln!("benchmark files in {}", dir.path().display());
    raw_fdatasync(c, dir.path());
    durable_append(c, dir.path());
    durable_append_postgres(c);
}

criterion_group! {
    name = append;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = benches
}
criterion_main!(append);
