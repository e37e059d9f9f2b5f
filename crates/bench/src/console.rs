//! `--only console`: the console's pages beside the JSON API for the same data, in one run
//! (issue 13, item 7; issue 14's dashboard and auditor history, with [`crate::workbench`]).
//!
//! It seeds the cases through `POST /v1/cases` (admin token, many connections, progress on
//! stderr), makes console people and signs them in over plain HTTP as a browser does
//! (setup link, form token, form cookie, `Origin`, session cookie), gives the officer a queue
//! (assignments, opinion letters, notes on the case whose page is measured), and then measures
//! each console page and its API peer with the same connections and duration, alternating them
//! over [`ROUNDS`] rounds so a neighbour's load falls on both. Every measured answer must be
//! 200. The report gives throughput, p50 and p99 of each, and the ratio console/API of the time
//! per request (at the same concurrency, the inverse of throughput).
//!
//! This module owns the officer's workloads, the rounds and the comparison table; people's
//! sign-in is [`crate::people`]'s, the supervisor's and auditor's pages [`crate::workbench`]'s,
//! the timing itself [`crate::load`]'s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hyper::body::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::client::{Call, Connection};
use crate::load::{self, Bounds, Outcome, Workload};
use crate::people::{expect, expect_success, page_text, sign_in, Pair, Person, Target};
use crate::server::Service;

/// Connections used to seed the cases (not measured).
const SEED_CONNECTIONS: usize = 32;
/// Cases opened per seeding step, between two progress lines.
const SEED_STEP: u64 = 5_000;
/// The console officer's login (the queue reads cases assigned under login or name).
const OFFICER_LOGIN: &str = "bench.officer";
/// The console officer.
const OFFICER: Person = Person {
    login: OFFICER_LOGIN,
    name: "Bench Officer",
    role: "officer",
};
/// Cases assigned to the officer, spread evenly over all the cases.
const ASSIGNED: usize = 50;
/// Of those, cases with an opinion letter waiting for an answer.
const WITH_LETTER: usize = 20;
/// Notes on the case whose page is measured.
const NOTES_ON_MEASURED_CASE: usize = 5;
/// Each pair is measured this many times, console and API alternating.
const ROUNDS: usize = 2;
/// The filtered search: the category every seeded case has, and silicosis (矽肺, in 1 % of them).
const FILTERED_QUERY: &str = "category=ppe_shortfall&q=%E7%9F%BD%E8%82%BA";
/// The bar of issue 13: a console page's time at most this many times its API peer's.
const BAR_RATIO: f64 = 2.0;

/// Runs the console set on `service` with `cases` cases, each scenario within `bounds`.
pub async fn run(service: &Service, cases: usize, bounds: Bounds) -> anyhow::Result<()> {
    let address = service.address;
    let admin = Arc::new(service.admin_token.clone());
    let mut setup = Connection::open(address).await?;
    let officer_token = Arc::new(crate::service_calls::officer_token(&mut setup, &admin).await?);

    let opened = seed_cases(service, &admin, cases).await?;
    let session = sign_in(&mut setup, &admin, address, OFFICER).await?;
    let measured_case = give_queue(&mut setup, &admin, &opened).await?;
    let workbench = crate::workbench::prepare(&mut setup, &admin, address, &opened).await?;
    crate::service_calls::settle(&mut setup, &admin).await?;
    check_pages(&mut setup, &session, &officer_token, &measured_case).await?;
    crate::workbench::check(&mut setup, &workbench).await?;

    let cookie = Arc::new(session);
    let page = |path: String| Target::page(path, &cookie);
    let api = |path: String| Target::api(path, &officer_token);
    let mut pairs = vec![
        Pair {
            name: "work queue",
            console: page("/console/".into()),
            api: vec![api(format!("/v1/cases?assignee={OFFICER_LOGIN}&limit=200"))],
            note: "the page lists the cases assigned by login or by name: one list scan",
            connections: None,
        },
        Pair {
            name: "case list",
            console: page("/console/cases".into()),
            api: vec![api("/v1/cases?limit=50".into())],
            note: "the newest 50 cases",
            connections: None,
        },
        Pair {
            name: "case list, filtered and searched",
            console: page(format!("/console/cases?{FILTERED_QUERY}")),
            api: vec![api(format!("/v1/cases?{FILTERED_QUERY}&limit=50"))],
            note: "50 cases of about 5,000 read",
            connections: None,
        },
        Pair {
            name: "case page",
            console: page(format!("/console/cases/{measured_case}")),
            api: vec![
                api(format!("/v1/cases/{measured_case}")),
                api(format!("/v1/cases/{measured_case}/history")),
            ],
            note: "the page shows the case and its timeline: against the sum of both reads",
            connections: None,
        },
    ];
    pairs.extend(workbench.pairs());

    println!(
        "console pages beside the JSON API: {cases} cases, {} connections, {:?} per scenario after a {:?} warm-up, {ROUNDS} rounds alternating",
        bounds.connections, bounds.duration, bounds.warmup
    );
    crate::report::print_header();
    let mut measured: Vec<(String, Outcome)> = Vec::new();
    for round in 1..=ROUNDS {
        for pair in &pairs {
            for target in std::iter::once(&pair.console).chain(&pair.api) {
                let bounds = Bounds {
                    connections: pair.connections.unwrap_or(bounds.connections),
                    ..bounds
                };
                let outcome = measure(service, target, bounds).await?;
                crate::report::print_row(&format!("[{round}] {}", target.label), &outcome, None);
                measured.push((target.label.clone(), outcome));
            }
        }
    }
    let merged = merge_rounds(measured)?;
    println!();
    print_comparison(&pairs, &merged, cases);
    Ok(())
}

/// Measures one target and insists that every answer was 200.
async fn measure(service: &Service, target: &Target, bounds: Bounds) -> anyhow::Result<Outcome> {
    let token = target.token.clone().unwrap_or_default();
    let outcome = load::run(
        service.address,
        service.pid(),
        token,
        target.workload.clone(),
        bounds,
    )
    .await?;
    anyhow::ensure!(
        outcome.errors == 0
            && outcome.requests > 0
            && outcome.count(StatusCode::OK) == outcome.requests,
        "{}: not every answer was 200: {:?}, {} errors; {:?} {:?}",
        target.label,
        outcome.statuses,
        outcome.errors,
        outcome.first_refusal,
        outcome.first_error
    );
    Ok(outcome)
}

/// The rounds of each target as one outcome: requests and time added up, histograms merged.
fn merge_rounds(measured: Vec<(String, Outcome)>) -> anyhow::Result<BTreeMap<String, Outcome>> {
    let mut merged: BTreeMap<String, Outcome> = BTreeMap::new();
    for (label, outcome) in measured {
        match merged.get_mut(&label) {
            None => {
                merged.insert(label, outcome);
            }
            Some(total) => {
                total.ok += outcome.ok;
                total.requests += outcome.requests;
                total.elapsed += outcome.elapsed;
                total
                    .latency
                    .add(&outcome.latency)
                    .context("merging histograms")?;
                total.server_cpu = total.server_cpu.zip(outcome.server_cpu).map(|(a, b)| a + b);
                total.client_cpu = total.client_cpu.zip(outcome.client_cpu).map(|(a, b)| a + b);
            }
        }
    }
    Ok(merged)
}

/// Seconds of service time per request at the measured concurrency: the inverse of throughput.
fn time_per_request(outcome: &Outcome) -> f64 {
    let rate = outcome.rate();
    if rate > 0.0 {
        1.0 / rate
    } else {
        f64::INFINITY
    }
}

fn print_comparison(pairs: &[Pair], merged: &BTreeMap<String, Outcome>, cases: usize) {
    println!("all rounds together ({cases} cases; time/rq = 1 / throughput at this concurrency):");
    println!(
        "{:<34} {:<62} {:>8} {:>8} {:>8} {:>9}",
        "page", "request", "rq/s", "p50 ms", "p99 ms", "time/rq"
    );
    let mut verdicts = Vec::new();
    for pair in pairs {
        let console = &merged[&pair.console.label];
        let row = |name: &str, label: &str, outcome: &Outcome| {
            println!(
                "{:<34} {:<62} {:>8.0} {:>8.2} {:>8.2} {:>7.2}ms",
                name,
                label,
                outcome.rate(),
                crate::report::millis(&outcome.latency, 50.0),
                crate::report::millis(&outcome.latency, 99.0),
                time_per_request(outcome) * 1000.0
            );
        };
        row(pair.name, &pair.console.label, console);
        let mut api_time = 0.0;
        let mut api_p50 = 0.0;
        for target in &pair.api {
            let outcome = &merged[&target.label];
            row("", &target.label, outcome);
            api_time += time_per_request(outcome);
            api_p50 += crate::report::millis(&outcome.latency, 50.0);
        }
        let ratio = time_per_request(console) / api_time;
        let p50_ratio = crate::report::millis(&console.latency, 50.0) / api_p50;
        let first_api = &merged[&pair.api[0].label];
        let alone = (pair.api.len() > 1).then(|| {
            format!(
                "; against the first read alone {:.2}×",
                time_per_request(console) / time_per_request(first_api)
            )
        });
        println!(
            "{:<34} ratio console/API: {ratio:.2}× by time per request, {p50_ratio:.2}× by p50{} ({})",
            "",
            alone.unwrap_or_default(),
            pair.note
        );
        verdicts.push((pair.name, ratio));
    }
    println!();
    for (name, ratio) in verdicts {
        println!(
            "the bar ({name}: at most {BAR_RATIO}× the API's time): {ratio:.2}× — {}",
            if ratio <= BAR_RATIO { "MET" } else { "NOT MET" }
        );
    }
}

/// Opens `cases` cases with the admin token, [`SEED_STEP`] at a time, saying how far it got.
async fn seed_cases(
    service: &Service,
    admin: &Arc<String>,
    cases: usize,
) -> anyhow::Result<Vec<String>> {
    let mut opened: Vec<String> = Vec::with_capacity(cases);
    let started = std::time::Instant::now();
    while opened.len() < cases {
        let missing = (cases - opened.len()) as u64;
        let step = Bounds {
            connections: SEED_CONNECTIONS,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(600),
            max_units: missing.min(SEED_STEP),
        };
        let outcome = load::run(
            service.address,
            service.pid(),
            Arc::clone(admin),
            Workload::OpenCases,
            step,
        )
        .await?;
        anyhow::ensure!(
            !outcome.opened.is_empty(),
            "seeding opened no case: {:?} {:?} {:?}",
            outcome.statuses,
            outcome.first_refusal,
            outcome.first_error
        );
        opened.extend(outcome.opened);
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "seeding: {} of {cases} cases opened in {seconds:.0} s ({:.0}/s)",
            opened.len().min(cases),
            opened.len() as f64 / seconds.max(0.001)
        );
    }
    opened.truncate(cases);
    Ok(opened)
}

/// Assigns [`ASSIGNED`] cases spread over all of them to the officer, issues an opinion letter
/// on [`WITH_LETTER`] of them, and writes notes on one of those; returns that case, the one
/// whose page is measured.
async fn give_queue(
    connection: &mut Connection,
    admin: &str,
    cases: &[String],
) -> anyhow::Result<String> {
    anyhow::ensure!(
        cases.len() >= ASSIGNED,
        "at least {ASSIGNED} cases are needed"
    );
    let stride = cases.len() / ASSIGNED;
    let assigned: Vec<&String> = cases.iter().step_by(stride).take(ASSIGNED).collect();
    let assign = Bytes::from(json!({"officer": OFFICER_LOGIN}).to_string());
    for (index, case) in assigned.iter().enumerate() {
        let path = format!("/v1/cases/{case}/assign");
        let reply = connection
            .send(&Call::post(&path, admin, assign.clone()))
            .await?;
        expect_success(&reply, &format!("assigning {case}"))?;
        if index < WITH_LETTER {
            let letter = json!({
                "kind": "opinion",
                "recipient": "Fucheng Building Materials Co., Ltd.",
                "content": "1. Issue dust masks (KN95) to every worker of the kiln line within 7 days.\n2. Keep the issue register for inspection.",
            });
            let path = format!("/v1/cases/{case}/letters");
            let reply = connection
                .send(&Call::post(&path, admin, Bytes::from(letter.to_string())))
                .await?;
            expect_success(&reply, &format!("a letter on {case}"))?;
        }
    }
    let measured = assigned[WITH_LETTER / 2].clone();
    for number in 1..=NOTES_ON_MEASURED_CASE {
        let note = json!({
            "text": format!("Visit {number}: spoke with the line supervisor; masks were promised for Friday, the register is incomplete."),
        });
        let path = format!("/v1/cases/{measured}/notes");
        let reply = connection
            .send(&Call::post(&path, admin, Bytes::from(note.to_string())))
            .await?;
        expect_success(&reply, &format!("a note on {measured}"))?;
    }
    Ok(measured)
}

/// Before measuring: each page holds what its API peer answers (a fast empty page would prove
/// nothing).
async fn check_pages(
    connection: &mut Connection,
    session: &str,
    officer_token: &str,
    measured_case: &str,
) -> anyhow::Result<()> {
    let checks = [
        (
            "/console/".to_owned(),
            format!("/v1/cases?assignee={OFFICER_LOGIN}&limit=200"),
            Some(ASSIGNED),
        ),
        (
            "/console/cases".to_owned(),
            "/v1/cases?limit=50".to_owned(),
            Some(50),
        ),
        // 1 % of the cases match: 50 at 5,000 cases and more, fewer in a smaller run.
        (
            format!("/console/cases?{FILTERED_QUERY}"),
            format!("/v1/cases?{FILTERED_QUERY}&limit=50"),
            None,
        ),
    ];
    for (page, api, expected) in checks {
        let reply = connection
            .send(&Call::get(&api, Some(officer_token)))
            .await?;
        expect(&reply, StatusCode::OK, &api)?;
        let value: Value = serde_json::from_slice(&reply.body).context("a list answer")?;
        let ids: Vec<&str> = value["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item["id"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        anyhow::ensure!(
            !ids.is_empty() && expected.is_none_or(|expected| ids.len() == expected),
            "{api} lists {} cases, not {expected:?}",
            ids.len()
        );
        let text = page_text(connection, &page, session).await?;
        let shown = ids.iter().filter(|id| text.contains(**id)).count();
        anyhow::ensure!(
            shown == ids.len(),
            "{page} shows {shown} of the {} cases {api} lists",
            ids.len()
        );
    }
    let case_page = page_text(
        connection,
        &format!("/console/cases/{measured_case}"),
        session,
    )
    .await?;
    anyhow::ensure!(
        case_page.contains("Visit 5: spoke with the line supervisor"),
        "the case page does not show the case's notes"
    );
    Ok(())
}
