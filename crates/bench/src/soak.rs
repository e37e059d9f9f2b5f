//! `caseledger-bench soak`: a bounded soak test of the real release `serve`.
//!
//! It starts the service on a fresh data dir, opens a set of cases, then drives a steady,
//! open-loop rate of mixed requests (notes on random cases, new cases, case reads and a list)
//! for the given duration. Latency is measured from each request's *scheduled* time, so a
//! stall shows up in the figures instead of silently lowering the rate. Every interval (a
//! minute by default) it samples the service's resident memory (`VmRSS` in
//! `/proc/<pid>/status`), the latency percentiles of that interval, the data dir's size and the
//! log's head, and prints a row; at the end it prints a verdict: RSS growth (mean of the last
//! half against the first half of the intervals after the warm-up — `--warm-up`, by default the
//! first interval when there are four or more — in which the service's bounded caches fill),
//! p99 drift (median p99 likewise), bytes on disk per event, and
//! every non-2xx answer. The run stops by itself after `--duration` and stops the service with
//! SIGTERM.
//!
//! This module owns the soak's command line, schedule, sampling and report; it reuses the load
//! benchmark's [`Service`] and [`Connection`] and nothing else of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hdrhistogram::Histogram;
use hyper::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::client::{Call, Connection};
use crate::load::{case_id, open_case_body};
use crate::server::Service;

/// The verdict's limits: RSS may grow this much from the first half to the second…
const MAX_RSS_GROWTH: f64 = 0.25;
/// …and the median p99 may grow by this factor.
const MAX_P99_DRIFT: f64 = 2.0;

/// Drives a real `caseledger serve` at a steady rate for a long time and reports memory,
/// latency and disk use per interval, with a verdict.
#[derive(Debug, Parser)]
#[command(name = "caseledger-bench soak")]
pub struct SoakArgs {
    /// The `caseledger` binary to start (build it with `cargo build --release --bin caseledger`).
    #[arg(long, default_value = "target/release/caseledger")]
    binary: PathBuf,
    /// Requests per second, e.g. `300` or `300/s`.
    #[arg(long, default_value = "300/s", value_parser = parse_rate)]
    rate: u32,
    /// How long to drive the service (e.g. `10m`, `90s`).
    #[arg(long, default_value = "10m", value_parser = crate::duration::parse_duration)]
    duration: Duration,
    /// How often to sample and print a row.
    #[arg(long, default_value = "60s", value_parser = crate::duration::parse_duration)]
    interval: Duration,
    /// Keep-alive connections that carry the requests.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Cases opened before the soak starts (notes and reads pick among them and the new ones).
    #[arg(long, default_value_t = 200)]
    cases: usize,
    /// Where the temporary data dir is made (the system's temporary directory by default).
    #[arg(long)]
    data_parent: Option<PathBuf>,
    /// The service's log filter (`CASELEDGER_LOG`); at least `info`, which carries the line
    /// that says where the service listens.
    #[arg(long, default_value = "info")]
    server_log: String,
    /// Seed of the request mix.
    #[arg(long, default_value_t = 8)]
    seed: u64,
    /// Intervals sampled within this time from the start are left out of the verdict: the
    /// service's caches (sled's page cache, `--case-cache`, the command path's cases) fill
    /// while the store grows, and only then is memory expected to stay flat. Default: the
    /// first interval, when there are four or more.
    #[arg(long, value_parser = crate::duration::parse_duration)]
    warm_up: Option<Duration>,
}

fn parse_rate(text: &str) -> Result<u32, String> {
    let number = text.trim().trim_end_matches("/s");
    match number.parse::<u32>() {
        Ok(rate) if (1..=100_000).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a rate such as 300 or 300/s (1 to 100000 per second)"
        )),
    }
}

/// One kind of request of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Note,
    Open,
    Read,
    List,
}

impl Kind {
    /// 50 % notes, 10 % new cases, 30 % case reads, 10 % lists.
    fn pick(rng: &mut StdRng) -> Kind {
        match rng.gen_range(0..10) {
            0..=4 => Kind::Note,
            5 => Kind::Open,
            6..=8 => Kind::Read,
            _ => Kind::List,
        }
    }
}

/// A request due at `due`.
struct Job {
    kind: Kind,
    due: Instant,
    case: usize,
    sequence: u64,
}

/// What the clients recorded since the last sample.
struct Window {
    latency: Histogram<u64>,
    statuses: BTreeMap<(Kind, u16), u64>,
    failures: u64,
}

impl Window {
    fn new() -> anyhow::Result<Window> {
        Ok(Window {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3)
                .context("cannot make a histogram")?,
            statuses: BTreeMap::new(),
            failures: 0,
        })
    }
}

/// One printed row.
struct Sample {
    at: Duration,
    requests: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    rss_kib: u64,
    disk_bytes: u64,
    head: u64,
    late: u64,
}

/// Runs the soak: `caseledger-bench soak [OPTIONS]`.
pub fn main(arguments: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let args = SoakArgs::parse_from(arguments);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the client runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let service = Service::start(
        &args.binary,
        None,
        args.data_parent.as_deref(),
        &args.server_log,
    )?;
    let data_dir = data_dir_of(service.pid())?;
    println!(
        "caseledger-bench soak: {} (pid {}) on http://{}, data dir {}, {}/s for {:?} over {} connections, {} cases first, sampled every {:?}",
        args.binary.display(),
        service.pid(),
        service.address,
        data_dir.display(),
        args.rate,
        args.duration,
        args.connections,
        args.cases,
        args.interval
    );
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        first_line_of("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into())
    );
    let result = soak(&service, &args, &data_dir).await;
    if let Err(error) = &result {
        eprintln!(
            "the soak failed: {error:#}\nthe service's last log lines:\n{}",
            service.log_tail()
        );
    }
    let status = service.stop()?;
    println!("service stopped with SIGTERM: {status}");
    let passed = result?;
    anyhow::ensure!(
        status.success(),
        "the service did not exit cleanly: {status}"
    );
    anyhow::ensure!(passed, "the soak's verdict is FAIL");
    Ok(())
}

async fn soak(service: &Service, args: &SoakArgs, data_dir: &Path) -> anyhow::Result<bool> {
    let address = service.address;
    let mut setup = Connection::open(address).await?;
    let admin = service.admin_token.clone();
    let body = json!({"name": "soak officer", "role": "officer"}).to_string();
    let reply = setup
        .send(&Call::post("/v1/tokens", &admin, body.into()))
        .await?;
    anyhow::ensure!(
        reply.status == StatusCode::CREATED,
        "token: {}",
        reply.status
    );
    let token: Value = serde_json::from_slice(&reply.body)?;
    let token = Arc::new(
        token["token"]
            .as_str()
            .context("the token answer has no token")?
            .to_owned(),
    );
    let cases = Arc::new(Mutex::new(Vec::with_capacity(args.cases)));
    for sequence in 0..args.cases {
        let reply = setup
            .send(&Call::post(
                "/v1/cases",
                &token,
                open_case_body(0, sequence as u64),
            ))
            .await?;
        anyhow::ensure!(
            reply.status == StatusCode::CREATED,
            "open: {}",
            reply.status
        );
        let id = case_id(&reply.body).context("the open answer has no case_id")?;
        lock(&cases).push(id);
    }

    let window = Arc::new(Mutex::new(Window::new()?));
    let (sender, receiver) = mpsc::channel::<Job>(args.rate as usize * 2);
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let mut clients = Vec::new();
    for connection in 0..args.connections {
        let receiver = Arc::clone(&receiver);
        let window = Arc::clone(&window);
        let cases = Arc::clone(&cases);
        let token = Arc::clone(&token);
        clients.push(tokio::spawn(async move {
            let mut client = Connection::open(address).await?;
            loop {
                let job = { receiver.lock().await.recv().await };
                let Some(job) = job else { break };
                let outcome = send(&mut client, &job, connection, &token, &cases).await;
                let waited = job.due.elapsed().as_micros().max(1) as u64;
                let mut window = lock(&window);
                let _ = window.latency.record(waited);
                match outcome {
                    Ok(status) => *window.statuses.entry((job.kind, status)).or_default() += 1,
                    Err(_) => window.failures += 1,
                }
            }
            anyhow::Ok(())
        }));
    }

    let started = Instant::now();
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut next_due = started;
    let mut next_sample = started + args.interval;
    let mut sequence = 0u64;
    let mut late = 0u64;
    let mut samples = Vec::new();
    let mut totals: BTreeMap<(Kind, u16), u64> = BTreeMap::new();
    let mut failures = 0u64;
    print_header();
    while started.elapsed() < args.duration {
        let now = Instant::now();
        if now >= next_sample {
            let sample = take_sample(
                service,
                &mut setup,
                data_dir,
                started,
                &window,
                &mut totals,
                &mut failures,
                std::mem::take(&mut late),
            )
            .await?;
            print_sample(&sample);
            samples.push(sample);
            next_sample += args.interval;
            continue;
        }
        if now < next_due {
            tokio::time::sleep_until((next_due.min(next_sample)).into()).await;
            continue;
        }
        let case_count = lock(&cases).len();
        let job = Job {
            kind: Kind::pick(&mut rng),
            due: next_due,
            case: rng.gen_range(0..case_count.max(1)),
            sequence,
        };
        sequence += 1;
        next_due += period;
        // A full queue means the service fell behind by two seconds: count it, do not wait.
        if sender.try_send(job).is_err() {
            late += 1;
        }
    }
    drop(sender);
    for client in clients {
        client.await.context("a client task failed")??;
    }
    let last = take_sample(
        service,
        &mut setup,
        data_dir,
        started,
        &window,
        &mut totals,
        &mut failures,
        late,
    )
    .await?;
    if last.requests > 0 {
        print_sample(&last);
        samples.push(last);
    }
    Ok(verdict(&samples, args.warm_up, &totals, failures))
}

async fn send(
    client: &mut Connection,
    job: &Job,
    connection: usize,
    token: &str,
    cases: &Mutex<Vec<String>>,
) -> anyhow::Result<u16> {
    let case = lock(cases).get(job.case).cloned().unwrap_or_default();
    let path;
    let call = match job.kind {
        Kind::Note => {
            path = format!("/v1/cases/{case}/notes");
            let body = json!({"text": format!("Soak note {connection}-{}: called the employer's HR office about the dust masks.", job.sequence)});
            Call::post(&path, token, body.to_string().into())
        }
        Kind::Open => Call::post("/v1/cases", token, open_case_body(connection, job.sequence)),
        Kind::Read => {
            path = format!("/v1/cases/{case}");
            Call::get(&path, Some(token))
        }
        Kind::List => Call::get("/v1/cases?limit=20", Some(token)),
    };
    let reply = client.send(&call).await?;
    if job.kind == Kind::Open && reply.status == StatusCode::CREATED {
        if let Some(id) = case_id(&reply.body) {
            lock(cases).push(id);
        }
    }
    Ok(reply.status.as_u16())
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the state of the run"
)]
async fn take_sample(
    service: &Service,
    setup: &mut Connection,
    data_dir: &Path,
    started: Instant,
    window: &Mutex<Window>,
    totals: &mut BTreeMap<(Kind, u16), u64>,
    failures: &mut u64,
    late: u64,
) -> anyhow::Result<Sample> {
    let taken = std::mem::replace(&mut *lock(window), Window::new()?);
    for (key, count) in &taken.statuses {
        *totals.entry(*key).or_default() += count;
    }
    *failures += taken.failures;
    // The setup connection idles between samples; the service may have closed it (its header
    // read timeout also bounds idle keep-alive), and `send` then reconnects: try once more.
    let ready = match setup.send(&Call::get("/readyz", None)).await {
        Ok(reply) => reply,
        Err(_) => setup.send(&Call::get("/readyz", None)).await?,
    };
    let head: Value = serde_json::from_slice(&ready.body).unwrap_or_default();
    let ms = |micros: u64| micros as f64 / 1000.0;
    Ok(Sample {
        at: started.elapsed(),
        requests: taken.latency.len(),
        p50_ms: ms(taken.latency.value_at_quantile(0.50)),
        p99_ms: ms(taken.latency.value_at_quantile(0.99)),
        max_ms: ms(taken.latency.max()),
        rss_kib: rss_kib(service.pid()).unwrap_or(0),
        disk_bytes: directory_size(data_dir),
        head: head["head"].as_u64().unwrap_or(0),
        late,
    })
}

fn print_header() {
    println!(
        "{:>7} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>6}",
        "t", "requests", "p50 ms", "p99 ms", "max ms", "RSS MiB", "disk MiB", "events", "late"
    );
}

fn print_sample(sample: &Sample) {
    println!(
        "{:>6.0}s {:>8} {:>9.2} {:>9.2} {:>9.1} {:>9.1} {:>10.1} {:>9} {:>6}",
        sample.at.as_secs_f64(),
        sample.requests,
        sample.p50_ms,
        sample.p99_ms,
        sample.max_ms,
        sample.rss_kib as f64 / 1024.0,
        sample.disk_bytes as f64 / (1024.0 * 1024.0),
        sample.head,
        sample.late
    );
}

/// Prints the verdict and whether it passed.
fn verdict(
    samples: &[Sample],
    warm_up: Option<Duration>,
    totals: &BTreeMap<(Kind, u16), u64>,
    failures: u64,
) -> bool {
    println!("answers by kind and status: {totals:?}; transport failures: {failures}");
    // Warm-up: caches and pools filling; by default the first interval, when there are enough.
    let steady = match warm_up {
        Some(warm_up) => {
            let start = samples.partition_point(|sample| sample.at <= warm_up);
            &samples[start..]
        }
        None if samples.len() >= 4 => &samples[1..],
        None => samples,
    };
    if steady.len() < 2 {
        println!("verdict: too short to judge (fewer than two samples after the warm-up)");
        return false;
    }
    let half = steady.len() / 2;
    let (first, last) = steady.split_at(half);
    let mean_rss =
        |part: &[Sample]| part.iter().map(|s| s.rss_kib as f64).sum::<f64>() / part.len() as f64;
    let rss_growth = mean_rss(last) / mean_rss(first).max(1.0) - 1.0;
    let median_p99 = |part: &[Sample]| {
        let mut values: Vec<f64> = part.iter().map(|s| s.p99_ms).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let p99_drift = median_p99(last) / median_p99(first).max(0.001);
    let end = samples.last().map_or((0, 0), |s| (s.disk_bytes, s.head));
    let bytes_per_event = end.0 as f64 / end.1.max(1) as f64;
    let server_errors: u64 = totals
        .iter()
        .filter(|((_, status), _)| *status >= 500)
        .map(|(_, count)| count)
        .sum();
    let late: u64 = samples.iter().map(|s| s.late).sum();
    let passed = rss_growth <= MAX_RSS_GROWTH
        && p99_drift <= MAX_P99_DRIFT
        && server_errors == 0
        && failures == 0
        && late == 0;
    println!(
        "verdict: {} — RSS {:+.1} % (last half against first of the {} intervals after the warm-up, limit {:+.0} %), p99 drift ×{:.2} (limit ×{:.1}), {:.0} bytes on disk per event ({} events, {:.1} MiB), {} 5xx, {} transport failures, {} requests late",
        if passed { "PASS" } else { "FAIL" },
        rss_growth * 100.0,
        steady.len(),
        MAX_RSS_GROWTH * 100.0,
        p99_drift,
        MAX_P99_DRIFT,
        bytes_per_event,
        end.1,
        end.0 as f64 / (1024.0 * 1024.0),
        server_errors,
        failures,
        late
    );
    passed
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The service's `--data-dir`, read from its command line in `/proc`.
fn data_dir_of(pid: u32) -> anyhow::Result<PathBuf> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .with_context(|| format!("cannot read /proc/{pid}/cmdline"))?;
    let args: Vec<&[u8]> = cmdline.split(|byte| *byte == 0).collect();
    let index = args
        .iter()
        .position(|arg| *arg == b"--data-dir")
        .context("the service has no --data-dir")?;
    let dir = args.get(index + 1).context("--data-dir without a value")?;
    Ok(PathBuf::from(String::from_utf8_lossy(dir).into_owned()))
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The bytes the files under `dir` occupy on disk (allocated blocks, so sparse files count as
/// what they use).
fn directory_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => directory_size(&entry.path()),
            Ok(metadata) => metadata.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

fn first_line_of(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn rates_parse_with_or_without_per_second() {
        assert_eq!(parse_rate("300/s"), Ok(300));
        assert_eq!(parse_rate("25"), Ok(25));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn this_process_has_a_resident_size_and_a_directory_has_a_size() {
        assert!(rss_kib(std::process::id()).unwrap() > 0);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![1u8; 10_000]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), vec![2u8; 10_000]).unwrap();
        assert!(directory_size(dir.path()) >= 20_000);
    }

    fn sample_at(minute: u64, rss_kib: u64, p99_ms: f64) -> Sample {
        Sample {
            at: Duration::from_secs(60 * minute),
            requests: 100,
            p50_ms: 1.0,
            p99_ms,
            max_ms: p99_ms,
            rss_kib,
            disk_bytes: 1_000_000,
            head: 1_000,
            late: 0,
        }
    }

    fn sample(rss_kib: u64, p99_ms: f64) -> Sample {
        sample_at(1, rss_kib, p99_ms)
    }

    #[test]
    fn the_verdict_fails_on_memory_growth_and_latency_drift() {
        let ok: BTreeMap<(Kind, u16), u64> = [((Kind::Note, 200), 10)].into();
        let steady = [sample(100_000, 5.0), sample(101_000, 5.5)];
        assert!(verdict(&steady, None, &ok, 0));
        let leaking = [sample(100_000, 5.0), sample(200_000, 5.0)];
        assert!(!verdict(&leaking, None, &ok, 0));
        let drifting = [sample(100_000, 5.0), sample(100_000, 50.0)];
        assert!(!verdict(&drifting, None, &ok, 0));
        let erring: BTreeMap<(Kind, u16), u64> = [((Kind::Note, 503), 1)].into();
        assert!(!verdict(&steady, None, &erring, 0));
        assert!(!verdict(&steady[..1], None, &ok, 0));
    }

    #[test]
    fn the_warm_up_is_left_out_of_the_verdict_and_growth_after_it_still_fails() {
        let ok: BTreeMap<(Kind, u16), u64> = [((Kind::Note, 200), 10)].into();
        // Caches fill in the first three minutes, then memory stays flat.
        let filling_then_flat: Vec<Sample> = [20_000, 40_000, 100_000, 101_000, 100_500, 101_500]
            .iter()
            .enumerate()
            .map(|(index, rss)| sample_at(index as u64 + 1, *rss, 5.0))
            .collect();
        assert!(!verdict(&filling_then_flat, None, &ok, 0));
        assert!(verdict(
            &filling_then_flat,
            Some(Duration::from_secs(180)),
            &ok,
            0
        ));
        // Growth after the warm-up fails as before.
        let growing: Vec<Sample> = [50_000, 80_000, 100_000, 130_000, 170_000, 220_000]
            .iter()
            .enumerate()
            .map(|(index, rss)| sample_at(index as u64 + 1, *rss, 5.0))
            .collect();
        assert!(!verdict(&growing, Some(Duration::from_secs(180)), &ok, 0));
        // A warm-up that leaves fewer than two intervals cannot be judged.
        assert!(!verdict(
            &filling_then_flat,
            Some(Duration::from_secs(330)),
            &ok,
            0
        ));
    }
}
