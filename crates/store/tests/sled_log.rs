//! The sled backend against the conformance suite, the shared model-based property test with
//! restarts (`model`), and the refusal to open a broken log.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

mod model;

use std::path::PathBuf;

use async_trait::async_trait;
use caseledger_store::conformance::{self, Harness, TestEvent};
use caseledger_store::{EventLog, ExpectedVersion, Position, SledLog, StoreError, StreamId};
use proptest::prelude::*;
use tempfile::TempDir;

struct SledHarness {
    dirs: Vec<TempDir>,
}

impl SledHarness {
    fn current_dir(&self) -> PathBuf {
        self.dirs.last().unwrap().path().join("log")
    }
}

#[async_trait]
impl Harness for SledHarness {
    type Log = SledLog;

    async fn fresh(&mut self) -> SledLog {
        self.dirs.push(tempfile::tempdir().unwrap());
        SledLog::open(&self.current_dir(), Default::default()).unwrap()
    }

    async fn reopen(&mut self, log: SledLog) -> SledLog {
        drop(log);
        SledLog::open(&self.current_dir(), Default::default()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_keyspace_writes_never_go_backwards() {
    let dir = TempDir::new().unwrap();
    let log = SledLog::open(dir.path(), Default::default()).unwrap();
    let keyspace = log.keyspace("projection").unwrap();
    conformance::guarded_writes_never_go_backwards(&keyspace, &keyspace.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_passes_the_conformance_suite() {
    conformance::run_all(&mut SledHarness { dirs: Vec::new() }).await;
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Writes `count` events to a fresh log in `dir` and closes it.
fn write_events(dir: &std::path::Path, count: u64) {
    runtime().block_on(async {
        let log = SledLog::open(dir, Default::default()).unwrap();
        let stream = StreamId(uuid::Uuid::now_v7());
        for n in 1..=count {
            log.append(
                stream,
                ExpectedVersion::Any,
                vec![TestEvent::numbered(n)],
                None,
            )
            .await
            .unwrap()
            .unwrap();
        }
    });
}

/// Rewrites one stored event with raw sled access, as an attacker or a bad disk would.
fn tamper(dir: &std::path::Path, position: u64, change: impl FnOnce(Vec<u8>) -> Option<Vec<u8>>) {
    // sled's background I/O threads may hold the closed log's file lock for a moment longer.
    let started = std::time::Instant::now();
    let db = loop {
        match sled::open(dir) {
            Err(error) if started.elapsed() < std::time::Duration::from_secs(5) => {
                assert!(
                    error.to_string().contains("could not acquire lock"),
                    "{error}"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            opened => break opened.unwrap(),
        }
    };
    let events = db.open_tree("log.events").unwrap();
    let key = position.to_be_bytes();
    let old = events.get(key).unwrap().unwrap().to_vec();
    match change(old) {
        Some(new) => events.insert(key, new).unwrap(),
        None => events.remove(key).unwrap(),
    };
    db.flush().unwrap();
}

fn open_error(dir: &std::path::Path) -> StoreError {
    SledLog::open(dir, Default::default()).unwrap_err()
}

#[test]
fn an_edited_event_in_the_tail_is_refused_at_start_naming_its_position() {
    let dir = tempfile::tempdir().unwrap();
    write_events(dir.path(), 20);
    tamper(dir.path(), 17, |bytes| {
        Some(
            String::from_utf8(bytes)
                .unwrap()
                .replace("事件 17", "事件 71")
                .into_bytes(),
        )
    });
    match open_error(dir.path()) {
        StoreError::Corrupt { position, reason } => {
            assert_eq!(position, Position(17));
            assert!(reason.contains("edited"), "{reason}");
        }
        other => panic!("expected a corrupt log, got {other}"),
    }
}

#[test]
fn a_missing_event_in_the_tail_is_refused_at_start_naming_its_position() {
    let dir = tempfile::tempdir().unwrap();
    write_events(dir.path(), 20);
    tamper(dir.path(), 12, |_| None);
    match open_error(dir.path()) {
        StoreError::Corrupt { position, .. } => assert_eq!(position, Position(12)),
        other => panic!("expected a corrupt log, got {other}"),
    }
}

#[test]
fn a_garbled_last_event_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    write_events(dir.path(), 5);
    tamper(dir.path(), 5, |mut bytes| {
        bytes.truncate(bytes.len() / 2);
        Some(bytes)
    });
    let error = open_error(dir.path());
    assert!(
        matches!(
            error,
            StoreError::Corrupt {
                position: Position(5),
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("position 5"));
}

#[test]
fn an_intact_log_reopens_with_its_head() {
    let dir = tempfile::tempdir().unwrap();
    write_events(dir.path(), 30);
    let log = SledLog::open(dir.path(), Default::default()).unwrap();
    assert_eq!(log.head().position, Position(30));
    let verified = runtime()
        .block_on(log.verify_chain(|_| {}))
        .unwrap()
        .unwrap();
    assert_eq!(verified, log.head());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_log_behaves_like_its_model(ops in prop::collection::vec(model::op(), 1..40)) {
        let mut harness = SledHarness { dirs: Vec::new() };
        runtime().block_on(model::the_log_behaves_like_its_model(&mut harness, ops))?;
    }
}
