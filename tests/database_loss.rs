//! A lost database is a 503, not a 500: the real binary on a PostgreSQL cluster of the test's
//! own (created here on a port in 5441–5449, never the machine's main cluster), crashed with
//! `pg_ctl stop -m immediate` under 16 concurrent writers and brought back 3 s later.
//!
//! This owns [`OwnCluster`] (initdb, start, crash, remove — as the `postgres` user when the
//! tests run as root, since initdb refuses root) and the crash scenario; the service comes from
//! [`crate::support::binary`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::binary::{initial_admin_token, ServeProcess};
use crate::support::{valid_case_body, wait};

/// Where the PostgreSQL 15 server binaries are (`CASELEDGER_TEST_PG_BIN` overrides).
fn postgres_binaries() -> PathBuf {
    std::env::var_os("CASELEDGER_TEST_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// A PostgreSQL cluster of one test: its own data directory, port and socket directory,
/// stopped and removed when dropped — also when the test fails.
struct OwnCluster {
    bin: PathBuf,
    /// Holds `data/`, the server log and the socket; removed on drop.
    root: tempfile::TempDir,
    port: u16,
    /// Whether commands run as the `postgres` user (the tests run as root).
    as_postgres: bool,
}

impl OwnCluster {
    /// Creates and starts a cluster, or `None` (after saying so loudly) when the PostgreSQL
    /// binaries are absent outside CI. In CI (`CASELEDGER_REQUIRE_POSTGRES=1`, as `.ci/run` sets) their
    /// absence fails the test.
    fn create() -> Option<OwnCluster> {
        let bin = postgres_binaries();
        if !bin.join("initdb").exists() || !bin.join("pg_ctl").exists() {
            let message = format!(
                "the PostgreSQL server binaries are not in {} (set CASELEDGER_TEST_PG_BIN)",
                bin.display()
            );
            assert!(
                std::env::var("CASELEDGER_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{message}: this test is required in CI"
            );
            // Straight to the process's stderr: the test harness captures only `eprintln!`.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr().lock(),
                "SKIPPED (no PostgreSQL binaries): a_lost_database_is_a_503_and_comes_back — \
                 {message}; CASELEDGER_REQUIRE_POSTGRES=1 makes it required"
            );
            return None;
        }
        let as_postgres = is_root();
        let root = tempfile::Builder::new()
            .prefix("caseledger-own-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        if as_postgres {
            let owned = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(root.path())
                .status()
                .unwrap();
            assert!(owned.success(), "chown of the cluster's directory");
        }
        let port = (5441..=5449)
            .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
            .expect("a free port in 5441–5449 for the test's own PostgreSQL cluster");
        let cluster = OwnCluster {
            bin,
            root,
            port,
            as_postgres,
        };
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        cluster.start();
        Some(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The URL of the cluster's `postgres` database.
    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// Runs one of the server binaries (as `postgres` when the tests run as root) and
    /// asserts it succeeded.
    fn run(&self, program: &str, args: &[&str]) {
        let status = self.command(program, args).status().unwrap();
        assert!(status.success(), "{program} {args:?} failed: {status}");
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command
            .args(args)
            .current_dir(self.root.path())
            .stdout(std::process::Stdio::null());
        command
    }

    /// Starts the server and waits until it takes connections.
    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.root.path().display()
        );
        let log = self.root.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data_dir().to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
    }

    /// Crashes the server: `pg_ctl stop -m immediate` (no checkpoint, crash recovery at the
    /// next start).
    fn crash(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data_dir().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .command(
                "pg_ctl",
                &["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"],
            )
            .stderr(std::process::Stdio::null())
            .status();
        // The TempDir removes the directory (root may; otherwise it is ours).
    }
}

/// Whether this process runs as root (initdb refuses to).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// What the writers saw.
#[derive(Default)]
struct Tally {
    /// Answers by status code.
    statuses: BTreeMap<u16, u64>,
    /// Every answer that must never happen, with its body.
    forbidden: Vec<String>,
    /// Acknowledged notes: (position, case id, text).
    acknowledged: Vec<(u64, String, String)>,
    /// When a command was last acknowledged.
    last_acknowledged: Option<Instant>,
}

/// Adds notes to `case_id` until `stop`, each with its own `Idempotency-Key`, retried with the
/// same key after a 503 until it is answered otherwise.
async fn write_notes(
    client: reqwest::Client,
    address: String,
    token: String,
    case_id: String,
    writer: usize,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let text = format!("writer {writer} note {n}");
        let key = format!("loss-{writer}-{n}");
        loop {
            let answer = client
                .post(format!("{address}/v1/cases/{case_id}/notes"))
                .bearer_auth(&token)
                .header("Idempotency-Key", &key)
                .json(&json!({ "text": text }))
                .send()
                .await;
            let response = match answer {
                Ok(response) => response,
                Err(error) => {
                    tally
                        .lock()
                        .unwrap()
                        .forbidden
                        .push(format!("transport failure: {error}"));
                    return;
                }
            };
            let status = response.status();
            let retry_after = response.headers().get("retry-after").cloned();
            let body = response.text().await.unwrap_or_default();
            let unavailable = {
                let mut tally = tally.lock().unwrap();
                *tally.statuses.entry(status.as_u16()).or_default() += 1;
                match status {
                    StatusCode::OK | StatusCode::CREATED => {
                        let answer: Value = serde_json::from_str(&body).unwrap();
                        let position = answer["position"].as_u64().unwrap();
                        tally
                            .acknowledged
                            .push((position, case_id.clone(), text.clone()));
                        tally.last_acknowledged = Some(Instant::now());
                        false
                    }
                    StatusCode::SERVICE_UNAVAILABLE => {
                        if retry_after.is_none() {
                            tally
                                .forbidden
                                .push(format!("503 without Retry-After: {body}"));
                        }
                        true
                    }
                    other => {
                        tally.forbidden.push(format!("{other}: {body}"));
                        return;
                    }
                }
            };
            if !unavailable {
                break;
            }
            if stop.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_database_is_a_503_and_comes_back() {
    let Some(cluster) = OwnCluster::create() else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let url = cluster.url();
    let service = ServeProcess::start(data_dir.path(), &["--store", &url]);
    let token = initial_admin_token(data_dir.path());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let address = service.address.clone();

    // One case per writer, so that writers never race for a version.
    let mut cases = Vec::new();
    for _ in 0..16 {
        let response = client
            .post(format!("{address}/v1/cases"))
            .bearer_auth(&token)
            .json(&valid_case_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let opened: Value = response.json().await.unwrap();
        cases.push(opened["case_id"].as_str().unwrap().to_owned());
    }

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let writers: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(writer, case_id)| {
            tokio::spawn(write_notes(
                client.clone(),
                address.clone(),
                token.clone(),
                case_id.clone(),
                writer,
                Arc::clone(&stop),
                Arc::clone(&tally),
            ))
        })
        .collect();
    // `/readyz` every 100 ms: (when, status).
    let readiness = Arc::new(Mutex::new(Vec::<(Instant, u16)>::new()));
    let prober = {
        let client = client.clone();
        let address = address.clone();
        let stop = Arc::clone(&stop);
        let readiness = Arc::clone(&readiness);
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let status = client
                    .get(format!("{address}/readyz"))
                    .send()
                    .await
                    .map(|response| response.status().as_u16())
                    .unwrap_or(0);
                readiness.lock().unwrap().push((Instant::now(), status));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // The writers are under way before the crash: a few acknowledgements each, on average.
    wait::until("the writers write", Duration::from_secs(30), || {
        tally.lock().unwrap().acknowledged.len() >= 4 * cases.len()
    })
    .await;
    let acknowledged_before = tally.lock().unwrap().acknowledged.len();
    assert!(
        acknowledged_before > 0,
        "the writers write before the crash"
    );
    let crashed_at = Instant::now();
    tokio::task::block_in_place(|| cluster.crash());
    // The outage itself: the database stays away this long on purpose, under the writers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restarting_at = Instant::now();
    tokio::task::block_in_place(|| cluster.start());
    let restarted_at = Instant::now();

    // Writes are accepted again within seconds of the database's return.
    let deadline = restarted_at + Duration::from_secs(15);
    let recovered_at = loop {
        let last = tally.lock().unwrap().last_acknowledged;
        if let Some(last) = last.filter(|last| *last > restarted_at) {
            break last;
        }
        assert!(
            Instant::now() < deadline,
            "no command was accepted within 15 s of the database's return"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Keep writing for a while on the recovered database: a stretch of load, on purpose.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    prober.await.unwrap();

    let tally = std::mem::take(&mut *tally.lock().unwrap());
    eprintln!(
        "answers by status: {:?}; acknowledged {} ({} before the crash); recovered {:?} after \
         the database took connections again",
        tally.statuses,
        tally.acknowledged.len(),
        acknowledged_before,
        recovered_at.saturating_duration_since(restarted_at)
    );
    assert!(tally.forbidden.is_empty(), "{:#?}", tally.forbidden);
    assert!(
        tally
            .statuses
            .keys()
            .all(|status| [200, 201, 503].contains(status)),
        "{:?}",
        tally.statuses
    );
    assert!(
        tally.statuses.get(&503).copied().unwrap_or(0) > 0,
        "the writers met the lost database: {:?}",
        tally.statuses
    );

    // `/readyz` said 503 while the database was down, and 200 again afterwards.
    let readiness = std::mem::take(&mut *readiness.lock().unwrap());
    assert!(
        readiness
            .iter()
            .filter(|(at, _)| *at < crashed_at)
            .all(|(_, status)| *status == 200),
        "ready before the crash: {readiness:?}"
    );
    let while_down: Vec<u16> = readiness
        .iter()
        .filter(|(at, _)| *at > crashed_at + Duration::from_millis(500) && *at < restarting_at)
        .map(|(_, status)| *status)
        .collect();
    assert!(!while_down.is_empty());
    assert!(
        while_down.iter().all(|status| *status == 503),
        "/readyz while the database was down: {while_down:?}"
    );
    assert_eq!(
        readiness.last().map(|(_, status)| *status),
        Some(200),
        "ready again at the end"
    );

    // Nothing acknowledged is lost: every acknowledged note is in the log at its position.
    let export = client
        .get(format!("{address}/v1/audit/export"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    let export = export.text().await.unwrap();
    let by_position: BTreeMap<u64, Value> = export
        .lines()
        .map(|line| {
            let envelope: Value = serde_json::from_str(line).unwrap();
            (envelope["position"].as_u64().unwrap(), envelope)
        })
        .collect();
    for (position, case_id, text) in &tally.acknowledged {
        let envelope = by_position
            .get(position)
            .unwrap_or_else(|| panic!("acknowledged position {position} is missing"));
        assert_eq!(envelope["case_id"], json!(case_id), "{envelope}");
        assert_eq!(envelope["type"], json!("NoteAdded"), "{envelope}");
        assert_eq!(envelope["data"]["text"], json!(text), "{envelope}");
    }
    // And the chain verifies over the whole log.
    let verify: Value = client
        .get(format!("{address}/v1/audit/verify"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["ok"], json!(true), "{verify}");
    assert_eq!(
        verify["events"].as_u64().unwrap(),
        by_position.len() as u64,
        "{verify}"
    );
    service.stop();
    drop(cluster);
}
