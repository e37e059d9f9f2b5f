//! The model-based property test every backend runs: random appends (right and stale
//! expectations), stream reads, log reads and restarts against a `Vec` + `BTreeMap` model, on a
//! fresh log from the backend's [`Harness`]. Shared by `sled_log.rs` and `postgres_log.rs`; it
//! owns the operations, their strategy and the model, not any backend.

use std::collections::BTreeMap;

use caseledger_store::conformance::{Harness, TestEvent};
use caseledger_store::{AppendRejected, EventLog, ExpectedVersion, Position, StreamId, Version};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// One step of the model-based test.
#[derive(Debug, Clone)]
pub enum Op {
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
pub enum Expectation {
    Any,
    NoStream,
    /// The stream's current version plus this offset (so both right and stale guesses occur).
    Offset(i64),
}

pub fn op() -> impl Strategy<Value = Op> {
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

/// Runs `ops` on a fresh log of `harness` and checks every outcome against the model.
pub async fn the_log_behaves_like_its_model<H: Harness>(
    harness: &mut H,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let stream_ids: Vec<StreamId> = (0..4).map(|_| StreamId(uuid::Uuid::now_v7())).collect();
    let mut log = harness.fresh().await;
    let mut model = Model::default();
    let mut counter = 0u64;
    for op in ops {
        match op {
            Op::Append {
                stream,
                expectation,
                count,
            } => {
                let current = model
                    .streams
                    .get(&stream)
                    .map(|p| p.len() as u64)
                    .unwrap_or(0);
                let expected = match expectation {
                    Expectation::Any => ExpectedVersion::Any,
                    Expectation::NoStream => ExpectedVersion::NoStream,
                    Expectation::Offset(offset) => {
                        ExpectedVersion::Exact(Version(current.saturating_add_signed(offset)))
                    }
                };
                let events: Vec<TestEvent> = (0..count)
                    .map(|_| {
                        counter += 1;
                        TestEvent::numbered(counter)
                    })
                    .collect();
                let result = log
                    .append(stream_ids[stream], expected, events.clone(), None)
                    .await
                    .unwrap();
                let admitted = expected.admits((current > 0).then_some(Version(current)));
                match result {
                    Ok(committed) => {
                        prop_assert!(admitted);
                        prop_assert_eq!(committed.first_position.0, model.log.len() as u64 + 1);
                        for event in events {
                            model.log.push((stream, event));
                            model
                                .streams
                                .entry(stream)
                                .or_default()
                                .push(model.log.len() as u64);
                        }
                        prop_assert_eq!(
                            committed.last_version.0,
                            model.streams[&stream].len() as u64
                        );
                    }
                    Err(AppendRejected::VersionConflict { actual, .. }) => {
                        prop_assert!(!admitted);
                        prop_assert_eq!(actual.map(|v| v.0).unwrap_or(0), current);
                    }
                    Err(other) => prop_assert!(false, "unexpected {other}"),
                }
            }
            Op::ReadStream { stream, from } => {
                let read: Vec<caseledger_store::Recorded<TestEvent>> = log
                    .read_stream(stream_ids[stream], Version(from), 100)
                    .await
                    .unwrap();
                let positions = model.streams.get(&stream).cloned().unwrap_or_default();
                let expected: Vec<u64> = positions
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| (*index as u64 + 1) >= from)
                    .map(|(_, position)| *position)
                    .collect();
                prop_assert_eq!(
                    read.iter().map(|r| r.position.0).collect::<Vec<_>>(),
                    expected
                );
                for recorded in &read {
                    prop_assert_eq!(
                        &recorded.event,
                        &model.log[recorded.position.0 as usize - 1].1
                    );
                }
            }
            Op::ReadAll { after, limit } => {
                let read: Vec<caseledger_store::Recorded<TestEvent>> =
                    log.read_all(Position(after), limit).await.unwrap();
                let expected: Vec<u64> = ((after + 1)..=(model.log.len() as u64))
                    .take(limit)
                    .collect();
                prop_assert_eq!(
                    read.iter().map(|r| r.position.0).collect::<Vec<_>>(),
                    expected
                );
            }
            Op::Restart => {
                log = harness.reopen(log).await;
            }
        }
        prop_assert_eq!(log.head().position.0, model.log.len() as u64);
    }
    Ok(())
}
