//! The load generator: a [`Workload`] run over N keep-alive connections, one task each, requests
//! back to back (a closed loop), bounded by a duration and a request count; its [`Outcome`]:
//! throughput, latency histograms and every status seen.
//!
//! This module owns what each scenario sends and how it is timed. It knows nothing of the
//! process under test beyond its address, nor of how figures are printed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{json, Value};

use crate::client::{BodyKind, Call, Connection};

/// A valid unified social credit code (test-vectors.md).
const CREDIT_CODE: &str = "91110000600037341L";
/// A valid resident identity number (the standard's own example).
const ID_NUMBER: &str = "11010519491231002X";
/// One case in this many mentions silicosis (矽肺), the term of the search scenario.
pub const SEARCH_TERM_EVERY: u64 = 100;
/// The search scenario's term, URL-encoded: 矽肺 (silicosis).
pub const SEARCH_TERM_QUERY: &str = "%E7%9F%BD%E8%82%BA";

/// What each connection sends, over and over.
#[derive(Debug, Clone)]
pub enum Workload {
    /// `GET /healthz`: the HTTP ceiling of the machine.
    Healthz,
    /// `POST /v1/cases`, each with a complainant (sealed with a new per-case key).
    OpenCases,
    /// `POST /v1/cases/{id}/notes` on a case chosen uniformly from `cases`.
    NotesUniform {
        /// The cases.
        cases: Arc<Vec<String>>,
    },
    /// `POST /v1/cases/{id}/notes`, every connection on the same case.
    HotCase {
        /// The case.
        case: String,
        /// Send `If-Match` with the version last seen; on 412 re-read the case
        /// (`GET /v1/cases/{id}`) and try again.
        if_match: bool,
    },
    /// `GET /v1/cases/{id}` on a case chosen uniformly from `cases`.
    ReadCase {
        /// The cases.
        cases: Arc<Vec<String>>,
    },
    /// `GET path` (a list or a search).
    Query {
        /// Path and query.
        path: String,
    },
    /// `GET path` of a console page, as a browser signed in asks for it (no token).
    Page {
        /// Path and query.
        path: String,
        /// The `Cookie` header with the session.
        cookie: Arc<String>,
    },
}

/// Bounds of one run.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Connections, one task each.
    pub connections: usize,
    /// Requests before this much time are sent but not counted.
    pub warmup: Duration,
    /// How long the measured part lasts.
    pub duration: Duration,
    /// At most this many measured units in all (split evenly over the connections).
    pub max_units: u64,
}

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// The measured units that succeeded (2xx; for `If-Match`, commands that finally landed).
    pub ok: u64,
    /// Every request sent in the measured part (for `If-Match`: the POSTs, not the re-reads).
    pub requests: u64,
    /// From the end of the warm-up to the last task's end.
    pub elapsed: Duration,
    /// The latency of each measured request, in microseconds.
    pub latency: Histogram<u64>,
    /// For `If-Match`: from a command's first attempt to its success, re-reads included.
    pub command_latency: Option<Histogram<u64>>,
    /// Count of each status of the measured requests.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection errors).
    pub errors: u64,
    /// The first such error, to explain it.
    pub first_error: Option<String>,
    /// The first measured answer outside 2xx (and 412 for `If-Match`), status and body.
    pub first_refusal: Option<String>,
    /// For `If-Match`: `GET`s made to re-read the version after a 412.
    pub rereads: u64,
    /// Cases opened (by [`Workload::OpenCases`], warm-up included), in order.
    pub opened: Vec<String>,
    /// CPU time the service used in the measured part (all its threads), when known.
    pub server_cpu: Option<Duration>,
    /// CPU time this client used in the measured part, when known.
    pub client_cpu: Option<Duration>,
}

impl Outcome {
    /// Successful units a second.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ok as f64 / seconds
        } else {
            0.0
        }
    }

    /// The service's CPU time per request, in microseconds.
    pub fn server_cpu_per_request(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.requests > 0).then(|| cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }

    /// How many cores the service kept busy on average.
    pub fn server_cores(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        let seconds = self.elapsed.as_secs_f64();
        (seconds > 0.0).then(|| cpu.as_secs_f64() / seconds)
    }

    /// How often `status` was answered.
    pub fn count(&self, status: StatusCode) -> u64 {
        self.statuses
            .get(&status.as_u16())
            .copied()
            .unwrap_or_default()
    }
}

/// Per task: what it saw.
struct Tally {
    ok: u64,
    requests: u64,
    latency: Histogram<u64>,
    command_latency: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    first_error: Option<String>,
    first_refusal: Option<String>,
    rereads: u64,
    opened: Vec<String>,
    finished: Instant,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min, three significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds are valid")
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// CPU time (user + system, all threads) of process `pid` ("self" for this one), from
/// `/proc/<pid>/stat`, in clock ticks of 1/100 s (Linux's fixed `USER_HZ`).
pub fn process_cpu(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it start past its `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

/// Runs `workload` within `bounds` against the service at `address` (process `server_pid`),
/// as `token`.
pub async fn run(
    address: SocketAddr,
    server_pid: u32,
    token: Arc<String>,
    workload: Workload,
    bounds: Bounds,
) -> anyhow::Result<Outcome> {
    anyhow::ensure!(bounds.connections > 0, "at least one connection");
    // Every connection is open before the clock starts.
    let mut connections = Vec::with_capacity(bounds.connections);
    for _ in 0..bounds.connections {
        connections.push(Connection::open(address).await?);
    }
    let per_task = bounds.max_units.div_ceil(bounds.connections as u64).max(1);
    let measure_from = Instant::now() + bounds.warmup;
    let deadline = measure_from + bounds.duration;
    let server = server_pid.to_string();
    let cpu_at_start = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        (process_cpu(&server), process_cpu("self"))
    });
    let mut tasks = Vec::with_capacity(bounds.connections);
    for (index, connection) in connections.into_iter().enumerate() {
        let token = Arc::clone(&token);
        let workload = workload.clone();
        tasks.push(tokio::spawn(async move {
            drive(
                connection,
                &token,
                &workload,
                index,
                measure_from,
                deadline,
                per_task,
            )
            .await
        }));
    }
    let mut outcome = Outcome {
        ok: 0,
        requests: 0,
        elapsed: Duration::ZERO,
        latency: histogram(),
        command_latency: matches!(workload, Workload::HotCase { if_match: true, .. })
            .then(histogram),
        statuses: BTreeMap::new(),
        errors: 0,
        first_error: None,
        first_refusal: None,
        rereads: 0,
        opened: Vec::new(),
        server_cpu: None,
        client_cpu: None,
    };
    let mut last_finish = measure_from;
    for task in tasks {
        let tally = task.await.context("a load task panicked")?;
        outcome.ok += tally.ok;
        outcome.requests += tally.requests;
        outcome
            .latency
            .add(&tally.latency)
            .context("merging histograms")?;
        if let Some(command_latency) = outcome.command_latency.as_mut() {
            command_latency
                .add(&tally.command_latency)
                .context("merging histograms")?;
        }
        for (status, count) in tally.statuses {
            *outcome.statuses.entry(status).or_default() += count;
        }
        outcome.errors += tally.errors;
        if outcome.first_error.is_none() {
            outcome.first_error = tally.first_error;
        }
        if outcome.first_refusal.is_none() {
            outcome.first_refusal = tally.first_refusal;
        }
        outcome.rereads += tally.rereads;
        outcome.opened.extend(tally.opened);
        last_finish = last_finish.max(tally.finished);
    }
    outcome.elapsed = last_finish.saturating_duration_since(measure_from);
    let (server_start, client_start) = cpu_at_start.await.context("the CPU probe panicked")?;
    let server_pid = server_pid.to_string();
    outcome.server_cpu = server_start
        .zip(process_cpu(&server_pid))
        .map(|(start, end)| end.saturating_sub(start));
    outcome.client_cpu = client_start
        .zip(process_cpu("self"))
        .map(|(start, end)| end.saturating_sub(start));
    Ok(outcome)
}

/// One connection's loop.
async fn drive(
    mut connection: Connection,
    token: &str,
    workload: &Workload,
    index: usize,
    measure_from: Instant,
    deadline: Instant,
    max_units: u64,
) -> Tally {
    let mut tally = Tally {
        ok: 0,
        requests: 0,
        latency: histogram(),
        command_latency: histogram(),
        statuses: BTreeMap::new(),
        errors: 0,
        first_error: None,
        first_refusal: None,
        rereads: 0,
        opened: Vec::new(),
        finished: measure_from,
    };
    let mut random = StdRng::seed_from_u64(index as u64);
    let mut sequence: u64 = 0;
    // For `If-Match`: the version this connection last saw of the hot case.
    let mut known_version: Option<u64> = None;
    let mut units: u64 = 0;
    loop {
        let now = Instant::now();
        if now >= deadline || units >= max_units {
            break;
        }
        let measured = now >= measure_from;
        sequence += 1;
        match workload {
            Workload::Healthz => {
                let call = Call::get("/healthz", None);
                one(&mut connection, &call, measured, &mut tally).await;
            }
            Workload::OpenCases => {
                let body = open_case_body(index, sequence);
                let call = Call::post("/v1/cases", token, body);
                if let Some(body) = one(&mut connection, &call, measured, &mut tally).await {
                    if let Some(id) = case_id(&body) {
                        tally.opened.push(id);
                    }
                }
            }
            Workload::NotesUniform { cases } => {
                let case = &cases[random.gen_range(0..cases.len())];
                let path = format!("/v1/cases/{case}/notes");
                let call = Call::post(&path, token, note_body(index, sequence));
                one(&mut connection, &call, measured, &mut tally).await;
            }
            Workload::HotCase {
                case,
                if_match: false,
            } => {
                let path = format!("/v1/cases/{case}/notes");
                let call = Call::post(&path, token, note_body(index, sequence));
                one(&mut connection, &call, measured, &mut tally).await;
            }
            Workload::HotCase {
                case,
                if_match: true,
            } => {
                conditional_command(
                    &mut connection,
                    token,
                    case,
                    note_body(index, sequence),
                    &mut known_version,
                    measured,
                    deadline,
                    &mut tally,
                )
                .await;
            }
            Workload::ReadCase { cases } => {
                let case = &cases[random.gen_range(0..cases.len())];
                let path = format!("/v1/cases/{case}");
                let call = Call::get(&path, Some(token));
                one(&mut connection, &call, measured, &mut tally).await;
            }
            Workload::Query { path } => {
                let call = Call::get(path, Some(token));
                one(&mut connection, &call, measured, &mut tally).await;
            }
            Workload::Page { path, cookie } => {
                let call = Call::page(path, Some(cookie));
                one(&mut connection, &call, measured, &mut tally).await;
            }
        }
        if measured {
            units += 1;
        }
    }
    tally.finished = Instant::now();
    tally
}

/// A refusal for the report: its status and the start of its body.
fn describe(status: &StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(300).collect();
    format!("{status}: {text}")
}

/// Sends one request and records it when `measured`; returns the body of a 2xx answer.
async fn one(
    connection: &mut Connection,
    call: &Call<'_>,
    measured: bool,
    tally: &mut Tally,
) -> Option<Bytes> {
    let started = Instant::now();
    let sent = connection.send(call).await;
    let elapsed = started.elapsed();
    match sent {
        Ok(reply) => {
            if measured {
                tally.requests += 1;
                let _ = tally.latency.record(micros(elapsed));
                *tally.statuses.entry(reply.status.as_u16()).or_default() += 1;
                if reply.status.is_success() {
                    tally.ok += 1;
                } else if tally.first_refusal.is_none() {
                    tally.first_refusal = Some(describe(&reply.status, &reply.body));
                }
            }
            reply.status.is_success().then_some(reply.body)
        }
        Err(error) => {
            if measured {
                tally.requests += 1;
                tally.errors += 1;
            }
            if tally.first_error.is_none() {
                tally.first_error = Some(format!("{error:#}"));
            }
            None
        }
    }
}

/// One command with `If-Match`: sent with the version last seen; on 412 the case is re-read
/// (`GET`, its `ETag`) and the command sent again, until it lands or the run ends.
#[allow(
    clippy::too_many_arguments,
    reason = "one loop's state, passed apart to keep the borrows simple"
)]
async fn conditional_command(
    connection: &mut Connection,
    token: &str,
    case: &str,
    body: Bytes,
    known_version: &mut Option<u64>,
    measured: bool,
    deadline: Instant,
    tally: &mut Tally,
) {
    let command_path = format!("/v1/cases/{case}/notes");
    let case_path = format!("/v1/cases/{case}");
    let started = Instant::now();
    loop {
        if known_version.is_none() {
            if Instant::now() >= deadline {
                return;
            }
            let reread = connection.send(&Call::get(&case_path, Some(token))).await;
            if measured {
                tally.rereads += 1;
            }
            match reread {
                Ok(reply) if reply.status == StatusCode::OK => *known_version = reply.etag,
                Ok(_) | Err(_) => return,
            }
        }
        let call = Call {
            method: Method::POST,
            path: &command_path,
            token: Some(token),
            body: Some(body.clone()),
            body_kind: BodyKind::Json,
            if_match: *known_version,
            cookie: None,
            origin: None,
        };
        let sent_at = Instant::now();
        let sent = connection.send(&call).await;
        let elapsed = sent_at.elapsed();
        let reply = match sent {
            Ok(reply) => reply,
            Err(error) => {
                if measured {
                    tally.requests += 1;
                    tally.errors += 1;
                }
                if tally.first_error.is_none() {
                    tally.first_error = Some(format!("{error:#}"));
                }
                *known_version = None;
                return;
            }
        };
        if measured {
            tally.requests += 1;
            let _ = tally.latency.record(micros(elapsed));
            *tally.statuses.entry(reply.status.as_u16()).or_default() += 1;
        }
        if reply.status.is_success() {
            *known_version = reply.etag;
            if measured {
                tally.ok += 1;
                let _ = tally.command_latency.record(micros(started.elapsed()));
            }
            return;
        }
        // 412 (or anything else): the version is stale; re-read it before trying again.
        *known_version = None;
        if reply.status != StatusCode::PRECONDITION_FAILED {
            return;
        }
    }
}

/// The body of a new case; one case in [`SEARCH_TERM_EVERY`] mentions silicosis (矽肺).
pub fn open_case_body(connection: usize, sequence: u64) -> Bytes {
    let silicosis = if (connection as u64 * 7919 + sequence).is_multiple_of(SEARCH_TERM_EVERY) {
        " 两名工人疑似矽肺，要求职业病诊断。"
    } else {
        ""
    };
    let body = json!({
        "title": format!("Dust masks missing on kiln line {connection}-{sequence}"),
        "category": "ppe_shortfall",
        "description": format!(
            "Workers on kiln line {connection}-{sequence} report that no dust masks were issued since March.{silicosis}"
        ),
        "source": "hotline",
        "employer": {"name": "Fucheng Building Materials Co., Ltd.", "credit_code": CREDIT_CODE},
        "region": "Fucheng District",
        "industry": "building_materials",
        "workers_affected": 40,
        "complainant": {"name": "王秀英", "phone": "13912345678", "id_number": ID_NUMBER}
    });
    Bytes::from(body.to_string())
}

/// A note of about 150 bytes.
fn note_body(connection: usize, sequence: u64) -> Bytes {
    let body = json!({
        "text": format!(
            "Called the employer's HR office: dust masks promised for Friday; follow-up visit planned (load {connection}-{sequence})."
        )
    });
    Bytes::from(body.to_string())
}

/// The `case_id` of a command's answer.
pub fn case_id(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value["case_id"].as_str().map(str::to_owned)
}
