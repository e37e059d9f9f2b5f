//! The sled backend against the conformance suite, a model-based property test with restarts,
//! and the refusal to open a broken log.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use caseledger_store::conformance::{self, Harness, TestEvent};
use caseledger_store::{
    AppendRejected, EventLog, ExpectedVersion, Position, SledLog, StoreError, StreamId, Version,
};
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
    let db = sled::open(dir).unwrap();
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

/// One step of the model-based test.
#[derive(Debug, Clone)]
enum Op {
    Append {
        stream: usize,
        expectation: Expectation,
        count: u64,
    },
    ReadStream {
        stream: usize,
        from: u64,
    },
    ReadAll {
        after: u64,
        limit: usize,
    },
    Restart,
}

#[derive(Debug, Clone)]
enum Expectation {
    Any,
    NoStream,
    /// The stream's current version plus this offset (so both right and stale guesses occur).
    Offset(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let expectation = prop_oneof![
        Just(Expectation::Any),
        Just(Expectation::NoStream),
        (-1i64..=1).prop_map(Expectation::Offset),
    ];
    prop_oneof![
        6 => (0usize..4, expectation, 1u64..4).prop_map(|(stream, expectation, count)| Op::Append { stream, expectation, count }),
        2 => (0usize..4, 0u64..6).prop_map(|(stream, from)| Op::ReadStream { stream, from }),
        2 => (0u64..30, 1usize..10).prop_map(|(after, limit)| Op::ReadAll { after, limit }),
        1 => Just(Op::Restart),
    ]
}

/// The model: every event in position order, and each stream's positions.
#[derive(Default)]
struct Model {
    log: Vec<(usize, TestEvent)>,
    streams: BTreeMap<usize, Vec<u64>>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_log_behaves_like_its_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let stream_ids: Vec<StreamId> = (0..4).map(|_| StreamId(uuid::Uuid::now_v7())).collect();
        runtime().block_on(async {
            let mut log = SledLog::open(&path, Default::default()).unwrap();
            let mut model = Model::default();
            let mut counter = 0u64;
            for op in ops {
                match op {
                    Op::Append { stream, expectation, count } => {
                        let current = model.streams.get(&stream).map(|p| p.len() as u64).unwrap_or(0);
                        let expected = match expectation {
                            Expectation::Any => ExpectedVersion::Any,
                            Expectation::NoStream => ExpectedVersion::NoStream,
                            Expectation::Offset(offset) => {
                                ExpectedVersion::Exact(Version(current.saturating_add_signed(offset)))
                            }
                        };
                        let events: Vec<TestEvent> = (0..count).map(|_| { counter += 1; TestEvent::numbered(counter) }).collect();
                        let result = log.append(stream_ids[stream], expected, events.clone(), None).await.unwrap();
                        let admitted = expected.admits((current > 0).then_some(Version(current)));
                        match result {
                            Ok(committed) => {
                                prop_assert!(admitted);
                                prop_assert_eq!(committed.first_position.0, model.log.len() as u64 + 1);
                                for event in events {
                                    model.log.push((stream, event));
                                    model.streams.entry(stream).or_default().push(model.log.len() as u64);
                                }
                                prop_assert_eq!(committed.last_version.0, model.streams[&stream].len() as u64);
                            }
                            Err(AppendRejected::VersionConflict { actual, .. }) => {
                                prop_assert!(!admitted);
                                prop_assert_eq!(actual.map(|v| v.0).unwrap_or(0), current);
                            }
                            Err(other) => prop_assert!(false, "unexpected {other}"),
                        }
                    }
                    Op::ReadStream { stream, from } => {
                        let read: Vec<caseledger_store::Recorded<TestEvent>> = log.read_stream(stream_ids[stream], Version(from), 100).await.unwrap();
                        let positions = model.streams.get(&stream).cloned().unwrap_or_default();
                        let expected: Vec<u64> = positions.iter().enumerate()
                            .filter(|(index, _)| (*index as u64 + 1) >= from)
                            .map(|(_, position)| *position)
                            .collect();
                        prop_assert_eq!(read.iter().map(|r| r.position.0).collect::<Vec<_>>(), expected);
                        for recorded in &read {
                            prop_assert_eq!(&recorded.event, &model.log[recorded.position.0 as usize - 1].1);
                        }
                    }
                    Op::ReadAll { after, limit } => {
                        let read: Vec<caseledger_store::Recorded<TestEvent>> = log.read_all(Position(after), limit).await.unwrap();
                        let expected: Vec<u64> = ((after + 1)..=(model.log.len() as u64)).take(limit).collect();
                        prop_assert_eq!(read.iter().map(|r| r.position.0).collect::<Vec<_>>(), expected);
                    }
                    Op::Restart => {
                        drop(log);
                        log = SledLog::open(&path, Default::default()).unwrap();
                    }
                }
                prop_assert_eq!(log.head().position.0, model.log.len() as u64);
            }
            Ok(())
        })?;
    }
}
