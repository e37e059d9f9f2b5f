//! `caseledger-bench`: the HTTP load benchmark of issue 8.
//!
//! It starts the real `caseledger serve` (release build) on a fresh data dir and a loopback
//! port, drives it with N keep-alive connections (one task each, requests back to back), and
//! prints throughput and p50/p99/p99.9 latency for each scenario — `GET /healthz` (the HTTP
//! ceiling of this machine, measured in the same run), opening cases, notes on 1,000 cases
//! chosen uniformly, notes on one hot case without and with `If-Match`, case reads, a list and
//! a search — each also as a ratio to the ceiling. Every scenario is bounded by time and by a
//! request count, and the service is stopped with SIGTERM at the end.
//!
//! `--only console` measures the console's pages beside the JSON API instead (see [`console`]);
//! `--only files` the attachments' upload and download against a plain file copy ([`files`]).
//!
//! Modules: [`server`] (the process), [`client`] (one keep-alive connection), [`load`] (the
//! workloads and their timing), [`console`] (the console set), [`workbench`] (its supervisor's
//! and auditor's pages), [`people`] (their sign-in and the measured pairs), [`files`] (the attachments'
//! set), [`report`] (the table's rows),
//! [`service_calls`] (requests made around the measurements). This file owns the command line
//! and the order of scenarios.

mod client;
mod console;
mod duration;
mod files;
mod load;
mod people;
mod report;
mod server;
mod service_calls;
mod soak;
mod workbench;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

use crate::client::Connection;
use crate::duration::parse_duration;
use crate::load::{Bounds, Outcome, Workload};
use crate::report::{millis, print_header, print_row};
use crate::server::Service;
use crate::service_calls::{count_cases, officer_token, open_one_case, settle};

/// The bar of issue 8: durable commands on 1,000 cases at this fraction of the ceiling…
const BAR_RATIO: f64 = 0.20;
/// …with a p99 under this many milliseconds.
const BAR_P99_MS: f64 = 25.0;

/// The `--only` name of the console set.
const CONSOLE_SET: &str = "console";
/// The `--only` name of the attachments' set.
const FILES_SET: &str = "files";

/// Drives a real `caseledger serve` over HTTP and reports throughput and latency per scenario,
/// each against the `GET /healthz` ceiling measured in the same run.
#[derive(Debug, Parser)]
#[command(name = "caseledger-bench", version)]
struct Args {
    /// The `caseledger` binary to start (build it with `cargo build --release --bin caseledger`).
    #[arg(long, default_value = "target/release/caseledger")]
    binary: PathBuf,
    /// Keep-alive connections, one client task each.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long each scenario is measured (e.g. `10s`, `500ms`, `1m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// How long each scenario runs before it is measured.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// At most this many measured requests (or commands) per scenario.
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
    /// How many cases the uniform scenarios spread over.
    #[arg(long, default_value_t = 1_000)]
    cases: usize,
    /// Passed to `serve --store` (e.g. `postgres://…`); the embedded sled store when left out.
    #[arg(long)]
    store: Option<String>,
    /// Where the temporary data dir is made (the system's temporary directory by default).
    /// Put it on the disk whose durability you mean to measure.
    #[arg(long)]
    data_parent: Option<PathBuf>,
    /// The service's log filter (`CASELEDGER_LOG`).
    #[arg(long, default_value = "info")]
    server_log: String,
    /// Measure durable commands on PostgreSQL and on sled side by side instead of the full
    /// set: for each store in turn (sled first, then `serve --store URL`), a fresh service, its
    /// `/healthz` ceiling, and notes on the uniform cases, each as a ratio to the ceiling of the
    /// same run. The URL must name an empty database the benchmark may fill.
    #[arg(long, value_name = "POSTGRES_URL", conflicts_with_all = ["store", "only"])]
    compare_store: Option<String>,
    /// Run only these scenarios (comma-separated): healthz, open, notes, hot, hot-if-match,
    /// read, list, search. Cases are still opened, unmeasured, when a later scenario needs them.
    /// `console` (alone) is a set of its own: `--cases` cases seeded, then each console page of
    /// an officer, the supervisors' dashboard and the auditor's history of a 1,000-event case
    /// beside the JSON API read of the same data, in one run. `files` (alone):
    /// a 20 MB attachment uploaded and downloaded against a plain copy of it on the same disk.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    // `caseledger-bench soak …` is the soak test (see `soak`); anything else is the benchmark.
    if std::env::args().nth(1).as_deref() == Some("soak") {
        return soak::main(std::env::args().skip(1));
    }
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the client runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(url) = &args.compare_store {
        return compare_stores(&args, url).await;
    }
    for set in [CONSOLE_SET, FILES_SET] {
        anyhow::ensure!(
            !args.only.iter().any(|name| name == set) || args.only.len() == 1,
            "--only {set} is a set of its own: name no other scenario with it"
        );
    }
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|only| only == name);
    let bounds = Bounds {
        connections: args.connections,
        warmup: args.warmup,
        duration: args.duration,
        max_units: args.max_requests,
    };
    let service = Service::start(
        &args.binary,
        args.store.as_deref(),
        args.data_parent.as_deref(),
        &args.server_log,
    )?;
    println!(
        "caseledger-bench: {} (pid {}) on http://{}, store {}, {} connections, {:?} per scenario after a {:?} warm-up, client threads {}",
        args.binary.display(),
        service.pid(),
        service.address,
        args.store.as_deref().unwrap_or("sled (embedded)"),
        args.connections,
        args.duration,
        args.warmup,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    );
    let result = if args.only.iter().any(|name| name == CONSOLE_SET) {
        console::run(&service, args.cases, bounds).await
    } else if args.only.iter().any(|name| name == FILES_SET) {
        files::run(&service).await
    } else {
        scenarios(&service, &args, bounds, &wanted).await
    };
    if let Err(error) = &result {
        eprintln!(
            "the benchmark failed: {error:#}\nthe service's last log lines:\n{}",
            service.log_tail()
        );
    }
    let status = service.stop()?;
    println!("service stopped with SIGTERM: {status}");
    result?;
    anyhow::ensure!(
        status.success(),
        "the service did not exit cleanly: {status}"
    );
    Ok(())
}

/// One line of the report.
struct Row {
    name: String,
    outcome: Outcome,
}

async fn scenarios(
    service: &Service,
    args: &Args,
    bounds: Bounds,
    wanted: &dyn Fn(&str) -> bool,
) -> anyhow::Result<()> {
    let address = service.address;
    let admin = Arc::new(service.admin_token.clone());
    let mut setup = Connection::open(address).await?;
    let officer = Arc::new(officer_token(&mut setup, &admin).await?);
    let mut rows: Vec<Row> = Vec::new();
    let mut ceiling: Option<f64> = None;

    let mut report = |name: &str, outcome: Outcome, ceiling: Option<f64>| {
        print_row(name, &outcome, ceiling);
        rows.push(Row {
            name: name.to_owned(),
            outcome,
        });
    };
    println!(
        "(srv µs/rq: the service's CPU time, all threads, per measured request; srv cr / cli cr: cores the service / this client kept busy)"
    );
    print_header();

    if wanted("healthz") {
        let outcome = load::run(
            address,
            service.pid(),
            Arc::clone(&admin),
            Workload::Healthz,
            bounds,
        )
        .await?;
        ceiling = Some(outcome.rate());
        report("GET /healthz (ceiling)", outcome, ceiling);
    }

    let needs_cases = ["notes", "read", "list", "search"]
        .iter()
        .any(|name| wanted(name));
    let mut cases: Vec<String> = Vec::new();
    if wanted("open") {
        let outcome = load::run(
            address,
            service.pid(),
            Arc::clone(&officer),
            Workload::OpenCases,
            bounds,
        )
        .await?;
        cases.extend(outcome.opened.iter().cloned());
        report("POST /v1/cases (open)", outcome, ceiling);
        settle(&mut setup, &admin).await?;
    }
    if needs_cases && cases.len() < args.cases {
        // Not measured: enough cases for the uniform scenarios.
        let missing = (args.cases - cases.len()) as u64;
        let fill = Bounds {
            warmup: Duration::ZERO,
            duration: Duration::from_secs(600),
            max_units: missing,
            ..bounds
        };
        let outcome = load::run(
            address,
            service.pid(),
            Arc::clone(&officer),
            Workload::OpenCases,
            fill,
        )
        .await?;
        anyhow::ensure!(
            outcome.opened.len() as u64 >= missing,
            "could open only {} of {missing} cases: {:?} {:?}",
            outcome.opened.len(),
            outcome.statuses,
            outcome.first_error
        );
        cases.extend(outcome.opened);
        settle(&mut setup, &admin).await?;
    }
    cases.truncate(args.cases);
    let cases = Arc::new(cases);

    if wanted("notes") {
        let workload = Workload::NotesUniform {
            cases: Arc::clone(&cases),
        };
        let outcome = load::run(
            address,
            service.pid(),
            Arc::clone(&officer),
            workload,
            bounds,
        )
        .await?;
        report(
            &format!("POST notes, {} cases uniform", cases.len()),
            outcome,
            ceiling,
        );
        settle(&mut setup, &admin).await?;
    }
    for (name, if_match) in [("hot", false), ("hot-if-match", true)] {
        if !wanted(name) {
            continue;
        }
        let case = open_one_case(&mut setup, &officer).await?;
        let workload = Workload::HotCase { case, if_match };
        let outcome = load::run(
            address,
            service.pid(),
            Arc::clone(&officer),
            workload,
            bounds,
        )
        .await?;
        let label = if if_match {
            "POST notes, 1 hot case, If-Match"
        } else {
            "POST notes, 1 hot case"
        };
        report(label, outcome, ceiling);
        settle(&mut setup, &admin).await?;
    }
    if wanted("read") {
        let workload = Workload::ReadCase {
            cases: Arc::clone(&cases),
        };
        let outcome = load::run(
            address,
            service.pid(),
            Arc::clone(&officer),
            workload,
            bounds,
        )
        .await?;
        report(
            &format!("GET /v1/cases/{{id}}, {} cases", cases.len()),
            outcome,
            ceiling,
        );
    }
    if wanted("list") {
        let workload = Workload::Query {
            path: "/v1/cases?status=open&limit=50".into(),
        };
        let outcome = load::run(
            address,
            service.pid(),
            Arc::clone(&officer),
            workload,
            bounds,
        )
        .await?;
        report("GET /v1/cases?status=open&limit=50", outcome, ceiling);
    }
    if wanted("search") {
        let workload = Workload::Query {
            path: format!("/v1/cases?q={}&limit=50", load::SEARCH_TERM_QUERY),
        };
        let outcome = load::run(
            address,
            service.pid(),
            Arc::clone(&officer),
            workload,
            bounds,
        )
        .await?;
        report("GET /v1/cases?q=矽肺&limit=50", outcome, ceiling);
    }
    if wanted("healthz") {
        let outcome = load::run(
            address,
            service.pid(),
            Arc::clone(&admin),
            Workload::Healthz,
            bounds,
        )
        .await?;
        report("GET /healthz (again, at the end)", outcome, ceiling);
    }

    let total_cases = count_cases(&mut setup, &admin).await.unwrap_or_default();
    println!();
    println!("cases in the store at the end: {total_cases}");
    print_details(&rows);
    if let Some(ceiling) = ceiling {
        if let Some(row) = rows
            .iter()
            .find(|row| row.name.starts_with("POST notes,") && row.name.ends_with("uniform"))
        {
            let ratio = row.outcome.rate() / ceiling;
            let p99 = millis(&row.outcome.latency, 99.0);
            let met = ratio >= BAR_RATIO && p99 < BAR_P99_MS;
            println!(
                "issue 8's bar (commands on {} cases ≥ {:.0} % of /healthz, p99 < {BAR_P99_MS} ms): {:.1} % at p99 {p99:.2} ms — {}",
                cases.len(),
                BAR_RATIO * 100.0,
                ratio * 100.0,
                if met { "MET" } else { "NOT MET" }
            );
        }
    }
    Ok(())
}

/// `--compare-store`: the notes-on-uniform-cases scenario on sled and on PostgreSQL, each on
/// its own fresh service, each against its own `/healthz` ceiling and the first one's.
async fn compare_stores(args: &Args, postgres_url: &str) -> anyhow::Result<()> {
    let bounds = Bounds {
        connections: args.connections,
        warmup: args.warmup,
        duration: args.duration,
        max_units: args.max_requests,
    };
    println!(
        "caseledger-bench --compare-store: notes on {} cases, {} connections, {:?} per scenario after a {:?} warm-up; sled, then PostgreSQL",
        args.cases, args.connections, args.duration, args.warmup
    );
    print_header();
    let mut first_ceiling: Option<f64> = None;
    let mut summary = Vec::new();
    for (label, store) in [("sled", None), ("PostgreSQL", Some(postgres_url))] {
        let service = Service::start(
            &args.binary,
            store,
            args.data_parent.as_deref(),
            &args.server_log,
        )?;
        let measured = measure_store(&service, args, bounds, label).await;
        if let Err(error) = &measured {
            eprintln!(
                "the {label} run failed: {error:#}\nthe service's last log lines:\n{}",
                service.log_tail()
            );
        }
        let status = service.stop()?;
        let (ceiling, notes) = measured?;
        anyhow::ensure!(
            status.success(),
            "the {label} service did not exit cleanly: {status}"
        );
        print_row(&format!("[{label}] GET /healthz (ceiling)"), &ceiling, None);
        let own = ceiling.rate();
        let first = *first_ceiling.get_or_insert(own);
        print_row(
            &format!("[{label}] POST notes, {} cases uniform", args.cases),
            &notes,
            Some(own),
        );
        for (what, outcome) in [("ceiling", &ceiling), ("notes", &notes)] {
            if let Some(refusal) = &outcome.first_refusal {
                println!("[{label}] {what}: first answer outside 2xx: {refusal}");
            }
            if let Some(error) = &outcome.first_error {
                println!("[{label}] {what}: first connection error: {error}");
            }
        }
        summary.push((label, notes.rate(), own, first, notes.latency.clone()));
    }
    println!();
    for (label, rate, own, first, latency) in summary {
        println!(
            "{label}: {rate:.0} durable notes/s = {:.1} % of its own ceiling ({own:.0}/s), {:.1} % of the first ceiling ({first:.0}/s); p50 {:.2} ms, p99 {:.2} ms",
            rate / own * 100.0,
            rate / first * 100.0,
            millis(&latency, 50.0),
            millis(&latency, 99.0),
        );
    }
    Ok(())
}

/// On one fresh service: the ceiling, then (after opening the cases, unmeasured) the notes.
async fn measure_store(
    service: &Service,
    args: &Args,
    bounds: Bounds,
    label: &str,
) -> anyhow::Result<(Outcome, Outcome)> {
    let address = service.address;
    let admin = Arc::new(service.admin_token.clone());
    let mut setup = Connection::open(address).await?;
    let officer = Arc::new(officer_token(&mut setup, &admin).await?);
    let ceiling = load::run(
        address,
        service.pid(),
        Arc::clone(&admin),
        Workload::Healthz,
        bounds,
    )
    .await?;
    let fill = Bounds {
        warmup: Duration::ZERO,
        duration: Duration::from_secs(600),
        max_units: args.cases as u64,
        ..bounds
    };
    let opened = load::run(
        address,
        service.pid(),
        Arc::clone(&officer),
        Workload::OpenCases,
        fill,
    )
    .await?;
    anyhow::ensure!(
        opened.opened.len() >= args.cases,
        "{label}: could open only {} of {} cases: {:?} {:?}",
        opened.opened.len(),
        args.cases,
        opened.statuses,
        opened.first_error
    );
    let mut cases = opened.opened;
    cases.truncate(args.cases);
    settle(&mut setup, &admin).await?;
    let notes = load::run(
        address,
        service.pid(),
        Arc::clone(&officer),
        Workload::NotesUniform {
            cases: Arc::new(cases),
        },
        bounds,
    )
    .await?;
    Ok((ceiling, notes))
}

fn print_details(rows: &[Row]) {
    for row in rows {
        if let Some(error) = &row.outcome.first_error {
            println!("{}: first connection error: {error}", row.name);
        }
        if let Some(refusal) = &row.outcome.first_refusal {
            println!("{}: first answer outside 2xx: {refusal}", row.name);
        }
    }
}
