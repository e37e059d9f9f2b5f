//! The `proofs` benchmark: how long an inclusion or a consistency proof takes to answer from
//! the stored Merkle tree of a 1,000,000-event sled log, against reading the same event by
//! position from the same log, in one run.
//!
//! This file owns the benchmark and nothing else. It appends [`EVENTS`] events of about 500
//! bytes to a sled log in a temporary directory ([`BATCH`] events an append), builds the tree
//! ([`MerkleTree::catch_up`], timed: what a first start on an old log costs), then, for the same
//! [`SAMPLES`] random positions (a fixed seed), times each of
//! - `read_by_position`: `read_all(position - 1, 1)`, the event itself — the peer;
//! - `inclusion_proof`: the proof of that event in the tree of all [`EVENTS`] leaves;
//! - `consistency_proof`: from a tree of that many leaves to the whole tree;
//! - `root`: the root of the tree of that many leaves,
//!
//! each on a warm store (one untimed pass first), and prints the mean and the 99th percentile
//! in microseconds with the ratio to the peer. Every proof is checked once against the root,
//! so the figures are of proofs that verify. Run it with `cargo bench -p caseledger-store
//! --bench proofs` (a plain `main`, `harness = false`).
#![allow(clippy::unwrap_used, reason = "benchmarks fail loudly")]

use std::time::{Duration, Instant};

use caseledger_store::tree::{leaf_hash, verify_consistency, verify_inclusion};
use caseledger_store::{EventLog, ExpectedVersion, MerkleTree, Position, SledLog, StreamId};
use serde_json::{json, Value};

/// How many events the log holds.
const EVENTS: u64 = 1_000_000;
/// How many events one append carries while the log is filled.
const BATCH: u64 = 1_000;
/// How many positions each measurement samples.
const SAMPLES: usize = 20_000;

fn event(n: u64) -> Value {
    json!({
        "type": "NoteAdded",
        "case_id": format!("01a2251f-c36f-716f-98a8-{:012x}", n / 1000),
        "at": "2026-11-29T02:26:08.367264Z",
        "actor": {"name": "wang.fang", "role": "officer"},
        "data": {"text": format!("第 {n} 条记录：现场检查发现粉尘超标，企业承诺整改。{}", "x".repeat(300))},
    })
}

/// A small deterministic generator (xorshift), so every run samples the same positions.
struct Positions(u64);

impl Positions {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        1 + self.0 % EVENTS
    }
}

fn summary(name: &str, mut times: Vec<Duration>, peer_mean: Option<f64>) -> f64 {
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / times.len() as f64;
    let p99 = times[times.len() * 99 / 100].as_secs_f64() * 1e6;
    let ratio = peer_mean.map_or(String::new(), |peer| {
        format!("  {:.2}× the read", mean / peer)
    });
    println!("{name:<20} mean {mean:>8.1} µs   p99 {p99:>8.1} µs{ratio}");
    mean
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open(dir.path(), Default::default()).unwrap();
    let started = Instant::now();
    let stream = StreamId(uuid::Uuid::now_v7());
    let mut version = 0u64;
    while version < EVENTS {
        let events: Vec<Value> = (version + 1..=version + BATCH).map(event).collect();
        let expected = if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(caseledger_store::Version(version))
        };
        log.append(stream, expected, events, None)
            .await
            .unwrap()
            .unwrap();
        version += BATCH;
    }
    println!(
        "appended {EVENTS} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let tree = MerkleTree::new(log.keyspace("audit.tree").unwrap());
    let started = Instant::now();
    assert_eq!(
        tree.catch_up(&log as &dyn EventLog<Value>, Position(EVENTS))
            .await
            .unwrap(),
        EVENTS
    );
    println!(
        "built the tree of {EVENTS} leaves in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let root = tree.root(EVENTS).await.unwrap();

    // Every kind of answer verifies, once, before anything is timed.
    let mut positions = Positions(0x9e37_79b9_7f4a_7c15);
    for _ in 0..100 {
        let position = positions.next();
        let event = EventLog::<Value>::read_all(&log, Position(position - 1), 1)
            .await
            .unwrap();
        let proof = tree
            .inclusion_proof(position - 1, EVENTS)
            .await
            .unwrap()
            .unwrap();
        verify_inclusion(
            position - 1,
            EVENTS,
            &leaf_hash(&event[0].hash.0),
            &proof,
            &root,
        )
        .unwrap();
        let old_root = tree.root(position).await.unwrap();
        let proof = tree
            .consistency_proof(position, EVENTS)
            .await
            .unwrap()
            .unwrap();
        verify_consistency(position, EVENTS, &old_root, &root, &proof).unwrap();
    }

    for pass in ["warm-up", "measured"] {
        let sample: Vec<u64> = {
            let mut positions = Positions(0x2545_f491_4f6c_dd1d);
            (0..SAMPLES).map(|_| positions.next()).collect()
        };
        let mut reads = Vec::with_capacity(SAMPLES);
        let mut inclusions = Vec::with_capacity(SAMPLES);
        let mut consistencies = Vec::with_capacity(SAMPLES);
        let mut roots = Vec::with_capacity(SAMPLES);
        for &position in &sample {
            let started = Instant::now();
            let event = EventLog::<Value>::read_all(&log, Position(position - 1), 1)
                .await
                .unwrap();
            reads.push(started.elapsed());
            std::hint::black_box(event);

            let started = Instant::now();
            let proof = tree
                .inclusion_proof(position - 1, EVENTS)
                .await
                .unwrap()
                .unwrap();
            inclusions.push(started.elapsed());
            std::hint::black_box(proof);

            let started = Instant::now();
            let proof = tree
                .consistency_proof(position, EVENTS)
                .await
                .unwrap()
                .unwrap();
            consistencies.push(started.elapsed());
            std::hint::black_box(proof);

            let started = Instant::now();
            let root = tree.root(position).await.unwrap();
            roots.push(started.elapsed());
            std::hint::black_box(root);
        }
        if pass == "measured" {
            println!("{SAMPLES} random positions of {EVENTS}, tree of {EVENTS} leaves:");
            let peer = summary("read_by_position", reads, None);
            summary("inclusion_proof", inclusions, Some(peer));
            summary("consistency_proof", consistencies, Some(peer));
            summary("root", roots, Some(peer));
        }
    }
}
