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
async fn keyspace_creations_and_blobs() {
    let dir = TempDir::new().unwrap();
    let log = SledLog::open(dir.path(), Default::default()).unwrap();
    let keyspace = log.keyspace("keys").unwrap();
    let blobs = (log.blobs("files.test"), log.blobs("files.test"));
    conformance::creations_and_blobs(&keyspace, &keyspace.clone(), blobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merkle_tree_follows_the_log() {
    let dir = TempDir::new().unwrap();
    let log = SledLog::open(dir.path(), Default::default()).unwrap();
    let keyspace = log.keyspace("audit.tree").unwrap();
    conformance::merkle_tree_follows_the_log(&log, (&keyspace, &keyspace.clone())).await;
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
                let error = StoreError::from_sled_open(error, dir);
                assert!(matches!(error, StoreError::Locked { .. }), "{error}");
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

/// Appends one numbered event to `stream` and returns the whole outcome.
async fn append_numbered(
    log: &SledLog,
    stream: StreamId,
    n: u64,
) -> Result<Result<caseledger_store::Committed, caseledger_store::AppendRejected>, StoreError> {
    log.append(
        stream,
        ExpectedVersion::Any,
        vec![TestEvent::numbered(n)],
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_keyspace_sync_stops_appends_until_restart() {
    let dir = TempDir::new().unwrap();
    let stream = StreamId(uuid::Uuid::now_v7());
    let log = SledLog::open(dir.path(), Default::default()).unwrap();
    let tokens = log.keyspace("tokens").unwrap();
    append_numbered(&log, stream, 1).await.unwrap().unwrap();
    tokens.put(b"kept", &"before the failure").await.unwrap();
    assert_eq!(log.stopped(), None);

    // The next sync fails, and it is a keyspace write's, not the log's.
    log.inject_sync_failures(1);
    let failed = tokens
        .put(b"lost", &"during the failure")
        .await
        .unwrap_err();
    assert!(matches!(failed, StoreError::Poisoned(_)), "{failed:?}");
    assert!(
        log.stopped().unwrap().contains("injected"),
        "{:?}",
        log.stopped()
    );

    // The failure is sticky: the log refuses appends although the injected failure is spent
    // and a sync would now succeed (Linux may report the next fsync as successful after losing
    // the pages of the failed one) — every append, several times over, and every keyspace
    // write, durable or not.
    for n in 2..5 {
        let refused = append_numbered(&log, stream, n).await;
        assert!(
            matches!(refused, Err(StoreError::Poisoned(_))),
            "{refused:?}"
        );
    }
    assert_eq!(log.head().position, Position(1));
    for durable in [true, false] {
        let refused = tokens
            .apply(vec![(b"other".to_vec(), Some(b"1".to_vec()))], durable)
            .await;
        assert!(
            matches!(refused, Err(StoreError::Poisoned(_))),
            "{refused:?}"
        );
    }
    let refused = tokens.increment(b"counter").await;
    assert!(
        matches!(refused, Err(StoreError::Poisoned(_))),
        "{refused:?}"
    );
    let refused = tokens.apply_guarded(b"guard", 1, Vec::new(), true).await;
    assert!(
        matches!(refused, Err(StoreError::Poisoned(_))),
        "{refused:?}"
    );
    // Reads go on.
    let events: Vec<caseledger_store::Recorded<TestEvent>> =
        log.read_all(Position::ZERO, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    drop(tokens);
    drop(log);

    // A restart recovers from what is durable and takes appends again.
    let log = SledLog::open(dir.path(), Default::default()).unwrap();
    assert_eq!(log.stopped(), None);
    EventLog::<TestEvent>::check_available(&log).await.unwrap();
    let tokens = log.keyspace("tokens").unwrap();
    assert_eq!(
        tokens.get::<String>(b"kept").await.unwrap().as_deref(),
        Some("before the failure")
    );
    let committed = append_numbered(&log, stream, 2).await.unwrap().unwrap();
    assert_eq!(committed.last_position, Position(2));
    assert_eq!(committed.last_version.0, 2);
    tokens.put(b"after", &"the restart").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_log_sync_stops_keyspace_writes_too() {
    let dir = TempDir::new().unwrap();
    let stream = StreamId(uuid::Uuid::now_v7());
    let log = SledLog::open(dir.path(), Default::default()).unwrap();
    let counters = log.keyspace("counters").unwrap();
    log.inject_sync_failures(1);
    let refused = append_numbered(&log, stream, 1).await;
    assert!(
        matches!(refused, Err(StoreError::Poisoned(_))),
        "{refused:?}"
    );
    let refused = counters.increment(b"letters").await;
    assert!(
        matches!(refused, Err(StoreError::Poisoned(_))),
        "{refused:?}"
    );
    let refused = append_numbered(&log, stream, 1).await;
    assert!(
        matches!(refused, Err(StoreError::Poisoned(_))),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_free_space_reserve_guards_keyspace_writes() {
    let dir = TempDir::new().unwrap();
    let options = caseledger_store::SledLogOptions {
        // More than any disk holds: every write is below the reserve.
        min_free_space_bytes: u64::MAX,
        ..Default::default()
    };
    let log = SledLog::open(dir.path(), options).unwrap();
    let tokens = log.keyspace("tokens").unwrap();
    for refused in [
        tokens.put(b"token", &"x").await,
        tokens
            .apply(vec![(b"row".to_vec(), Some(b"1".to_vec()))], false)
            .await,
        tokens.increment(b"counter").await.map(|_| ()),
        tokens
            .apply_guarded(b"guard", 1, Vec::new(), true)
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(
                refused,
                Err(StoreError::InsufficientSpace {
                    reserve_bytes: u64::MAX,
                    ..
                })
            ),
            "{refused:?}"
        );
    }
    assert_eq!(tokens.get::<String>(b"token").await.unwrap(), None);
    // A refusal is not a failure: nothing is poisoned, and it lifts with the reserve.
    assert_eq!(log.stopped(), None);
    drop(tokens);
    drop(log);
    let log = SledLog::open(dir.path(), Default::default()).unwrap();
    log.keyspace("tokens")
        .unwrap()
        .put(b"token", &"x")
        .await
        .unwrap();
}
