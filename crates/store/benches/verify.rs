//! The `verify` benchmark: how many events per second [`ChainVerifier`] checks, against the raw
//! SHA-256 rate over the same bytes, measured in one run.
//!
//! This file owns the benchmark and nothing else. It builds [`EVENTS`] envelopes in memory
//! with [`seal`] — a mix of case events of realistic size (a `CaseOpened` with a sealed
//! complainant, notes with Chinese text, letters, assignments), the shapes the service writes —
//! and then times, each [`ROUNDS`] times, keeping the best round:
//! - `verify`: [`ChainVerifier::verify`] over every line, as `caseledger audit verify` does
//!   (the stored lines are canonical, so this is the fast path that hashes the bytes as they
//!   stand);
//! - `sha256`: SHA-256 of every line, nothing else — the ceiling of any verifier;
//! - `verify (fallback path)`: [`ChainVerifier::verify_reparsing`], the reference algorithm the
//!   fast path falls back to, so the difference shows in one run;
//! - and, to show where the fallback's time goes, its steps on their own: parsing each line
//!   into a `serde_json::Value`, and writing that value again as RFC 8785 JSON.
//!
//! Run it with `cargo bench -p caseledger-store --bench verify`. It is a plain `main`
//! (`harness = false`) rather than criterion: one pass over 200,000 events is the measurement.
#![allow(clippy::unwrap_used, reason = "benchmarks fail loudly")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use caseledger_store::chain::seal;
use caseledger_store::{ChainHash, ChainVerifier, Position, Version};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// How many envelopes.
const EVENTS: u64 = 200_000;
/// How many times each measurement runs; the best is reported.
const ROUNDS: usize = 3;

/// The `n`th event of a busy office: every tenth opens a case, the others are notes, letters
/// and assignments on it.
fn event(n: u64) -> Value {
    let case_id = format!("01a2251f-c36f-716f-98a8-{:012x}", n / 10);
    let common = json!({
        "id": format!("01a2251f-c373-75e7-bfdd-{n:012x}"),
        "case_id": case_id,
        "at": "2026-11-29T02:26:08.367264Z",
        "actor": {"token_id": "01a2251f-aa2e-7134-8270-395b443e0d6d", "name": "wang.fang",
                  "role": "officer", "department": null},
    });
    let (kind, data) = match n % 10 {
        0 => (
            "CaseOpened",
            json!({
                "title": "水泥厂粉尘防护口罩缺失 — dust masks missing at the cement plant",
                "category": "ppe_shortfall",
                "description": "四十名工人在没有呼吸防护的情况下研磨熟料。Forty workers grind \
                                clinker without respirators; the employer says masks are on order.",
                "source": "inspection",
                "employer": {"name": "Fucheng Cement Co., Ltd.",
                             "credit_code": "91110000600037341L", "credit_code_unverified": false},
                "region": "Fucheng District", "industry": "building_materials",
                "workers_affected": 40,
                "complainant": {"sealed": "QVubSNXMVOTl/L0WQkrKGCgv4EBG4IvdjWwJqM1r/2tnPVFEtVZTcpm\
                                           Z9LRolod4YzBUipA0BDDJEuo0fkSpk0WMq9wnR6bWk1CF+OF3sZkaIQ\
                                           vgx5Dl0c1OfsQyUTRJe971k59N7E883DyPOjCYVg=="},
            }),
        ),
        1 => (
            "OfficerAssigned",
            json!({"officer": "wang.fang", "previous": null}),
        ),
        2 | 6 => (
            "SupervisionLetterIssued",
            json!({
                "letter_id": format!("01a2251f-cc1b-7180-8a10-{n:012x}"),
                "number": format!("MY-2026-{:04}", n % 10_000),
                "kind": "opinion", "recipient": "Fucheng Cement Co., Ltd.",
                "content": "请于二十一日内为全部一线工人配备符合国家标准的防尘口罩，并书面回复整改情况。",
                "deadline": "2026-12-20T00:00:00Z", "department": null,
            }),
        ),
        3 | 7 => (
            "FindingRecorded",
            json!({"summary": "Site visit: 12 of 40 workers had masks; none were rated KN95.",
                   "hazard": "silica dust"}),
        ),
        _ => (
            "NoteAdded",
            json!({"text": format!("电话回访第{n}次：工会干部已与车间主任沟通，企业承诺本周内补发口罩。")}),
        ),
    };
    let mut event = common;
    event["type"] = kind.into();
    event["data"] = data;
    event
}

/// Seals [`EVENTS`] envelopes into one chain; returns their stored lines.
fn build_chain() -> Vec<Vec<u8>> {
    let mut previous = ChainHash::GENESIS;
    (1..=EVENTS)
        .map(|n| {
            let version = Version(n % 10 + 1);
            let (recorded, bytes) = seal(Position(n), version, &event(n), previous).unwrap();
            previous = recorded.hash;
            bytes
        })
        .collect()
}

/// The best of [`ROUNDS`] timings of `work`.
fn best_of(mut work: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .min()
        .unwrap()
}

fn report(name: &str, elapsed: Duration, bytes: usize) -> f64 {
    let seconds = elapsed.as_secs_f64();
    let rate = EVENTS as f64 / seconds;
    println!(
        "{name:<28} {:>9.3} s {:>12.0} events/s {:>9.1} MB/s",
        seconds,
        rate,
        bytes as f64 / seconds / 1e6
    );
    rate
}

fn main() {
    let started = Instant::now();
    let lines = build_chain();
    let sealing = started.elapsed();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    println!(
        "{EVENTS} envelopes, {:.1} MB, mean {} bytes a line, smallest {}, largest {}",
        bytes as f64 / 1e6,
        bytes / lines.len(),
        lines.iter().map(Vec::len).min().unwrap(),
        lines.iter().map(Vec::len).max().unwrap()
    );
    println!("best of {ROUNDS} rounds, one thread:");
    report("seal (build the chain)", sealing, bytes);

    let verify = best_of(|| {
        let mut verifier = ChainVerifier::new();
        for line in &lines {
            verifier.verify(black_box(line)).unwrap();
        }
        assert_eq!(verifier.head().position, Position(EVENTS));
    });
    let sha256 = best_of(|| {
        for line in &lines {
            black_box(Sha256::digest(black_box(line)));
        }
    });
    let fallback = best_of(|| {
        let mut verifier = ChainVerifier::new();
        for line in &lines {
            verifier.verify_reparsing(black_box(line)).unwrap();
        }
        assert_eq!(verifier.head().position, Position(EVENTS));
    });
    let values: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    let parse = best_of(|| {
        for line in &lines {
            black_box(serde_json::from_slice::<Value>(black_box(line)).unwrap());
        }
    });
    let canonicalise = best_of(|| {
        for value in &values {
            black_box(serde_jcs::to_vec(black_box(value)).unwrap());
        }
    });

    let verify_rate = report("verify (ChainVerifier)", verify, bytes);
    let sha256_rate = report("sha256 of each line", sha256, bytes);
    let fallback_rate = report("verify (fallback path)", fallback, bytes);
    report("  parse to serde_json::Value", parse, bytes);
    report("  RFC 8785 (serde_jcs)", canonicalise, bytes);
    println!(
        "verify / sha256 = {:.3} (verification runs at {:.1} % of the raw hashing rate)",
        verify_rate / sha256_rate,
        100.0 * verify_rate / sha256_rate
    );
    println!(
        "fallback / sha256 = {:.3}; verify is {:.1} times the fallback path",
        fallback_rate / sha256_rate,
        verify_rate / fallback_rate
    );
}
