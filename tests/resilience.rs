//! Resilience of the real binary against its environment: a filling disk (the free-space
//! reserve refuses commands with 503, reads go on, nothing written is harmed, commands resume
//! when space returns, and a `kill -9` afterwards loses nothing acknowledged) and slow or
//! oversized clients (header trickle, stalled body, oversized body) on raw TCP.
//!
//! The process comes from the shared harness (`support::binary`), with the flags these tests
//! need; this owns the tmpfs it fills and the raw-TCP clients.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::binary::{initial_admin_token, ServeProcess};
use crate::support::{check_problem_shape, valid_case_body};

async fn officer_token(client: &reqwest::Client, address: &str, admin: &str) -> String {
    let response = client
        .post(format!("{address}/v1/tokens"))
        .bearer_auth(admin)
        .json(&json!({"name": "resilience officer", "role": "officer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    /// `None` (after saying why) where this process may not mount.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .stderr(Stdio::piped())
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Tmpfs { _dir: dir, path }),
            Ok(output) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs here ({}); the disk-full test needs root",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                None
            }
            Err(error) => {
                eprintln!("SKIPPED: cannot run mount ({error}); the disk-full test needs it");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes real bytes (a tmpfs does not allocate a sparse file) until `leave` bytes are free.
fn fill_until(path: &Path, filesystem: &Path, leave: u64) {
    let free = caseledger_store::SpaceGuard::available_bytes(filesystem).unwrap();
    assert!(free > leave, "{free} bytes free, cannot leave {leave}");
    let mut remaining = free - leave;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0xa5u8; 1024 * 1024];
    while remaining > 0 {
        let size = remaining.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..size]).unwrap();
        remaining -= size as u64;
    }
    file.sync_all().unwrap();
}

/// One acknowledged note: the case, the version and position the client was told, the text.
type Ack = (String, u64, u64, String);

async fn add_note(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    case_id: &str,
    text: &str,
) -> reqwest::Response {
    client
        .post(format!("{address}/v1/cases/{case_id}/notes"))
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap()
}

async fn add_notes(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    cases: &[String],
    label: &str,
) -> Vec<Ack> {
    let mut acks = Vec::new();
    for (index, case_id) in cases.iter().enumerate() {
        let text = format!("{label} note {index}");
        let response = add_note(client, address, token, case_id, &text).await;
        assert_eq!(response.status(), StatusCode::OK, "{label}");
        let body: Value = response.json().await.unwrap();
        acks.push((
            case_id.clone(),
            body["version"].as_u64().unwrap(),
            body["position"].as_u64().unwrap(),
            text,
        ));
    }
    acks
}

/// Every acknowledged note is in its case's history at its version and position, and the
/// whole chain verifies.
async fn check_acknowledged(client: &reqwest::Client, address: &str, admin: &str, acks: &[Ack]) {
    for (case_id, version, position, text) in acks {
        let history: Value = client
            .get(format!("{address}/v1/cases/{case_id}/history"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let event = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|event| event["version"].as_u64() == Some(*version))
            .unwrap_or_else(|| panic!("version {version} of {case_id} is lost"));
        assert_eq!(event["data"]["text"], text.as_str());
        assert_eq!(event["position"].as_u64(), Some(*position));
    }
    let verified: Value = client
        .get(format!("{address}/v1/audit/verify"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["ok"], true, "the chain verifies: {verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_commands_harms_nothing_and_recovers_without_a_restart() {
    let Some(tmpfs) = Tmpfs::mount("64m") else {
        return;
    };
    let data = tmpfs.path.join("data");
    let flags = ["--min-free-space", "16MiB"];
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let service = ServeProcess::start(&data, &flags);
    let address = service.address.clone();
    let admin = initial_admin_token(&data);
    let officer = officer_token(&client, &address, &admin).await;
    let mut cases = Vec::new();
    for _ in 0..4 {
        let response = client
            .post(format!("{address}/v1/cases"))
            .bearer_auth(&officer)
            .json(&valid_case_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        cases.push(body["case_id"].as_str().unwrap().to_owned());
    }
    let mut acks = add_notes(&client, &address, &officer, &cases, "before").await;

    // Another process fills the disk to 8 MiB free, below the 16 MiB reserve.
    let filler = tmpfs.path.join("filler");
    fill_until(&filler, &tmpfs.path, 8 * 1024 * 1024);
    // Past the store's 250 ms free-space cache on purpose: commands must meet a fresh reading.
    tokio::time::sleep(Duration::from_millis(400)).await;

    for case_id in &cases {
        let response = add_note(&client, &address, &officer, case_id, "refused").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            response.headers().contains_key("retry-after"),
            "a 503 says when to retry"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        check_problem_shape(&problem, StatusCode::SERVICE_UNAVAILABLE);
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("disk is nearly full"), "{detail}");
    }
    let refused_open = client
        .post(format!("{address}/v1/cases"))
        .bearer_auth(&officer)
        .json(&valid_case_body())
        .send()
        .await
        .unwrap();
    assert_eq!(refused_open.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Reads go on, and everything written before is intact.
    check_acknowledged(&client, &address, &admin, &acks).await;
    let case: Value = client
        .get(format!("{address}/v1/cases/{}", cases[0]))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(case["version"].as_u64(), Some(acks[0].1));

    // Space returns: commands succeed again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    // Past the store's 250 ms free-space cache on purpose, as above.
    tokio::time::sleep(Duration::from_millis(400)).await;
    acks.extend(add_notes(&client, &address, &officer, &cases, "after").await);
    check_acknowledged(&client, &address, &admin, &acks).await;

    // And a crash afterwards loses nothing acknowledged.
    service.kill();
    let service = ServeProcess::start(&data, &flags);
    check_acknowledged(&client, &service.address, &admin, &acks).await;
    acks.extend(add_notes(&client, &service.address, &officer, &cases, "restarted").await);
    check_acknowledged(&client, &service.address, &admin, &acks).await;
}

/// Reads whatever the server sends until it closes the connection or `limit` passes; returns
/// the bytes and whether the connection was closed.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while started.elapsed() < limit {
        match stream.read(&mut buffer) {
            Ok(0) => return (String::from_utf8_lossy(&received).into_owned(), true),
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&received).into_owned(), false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_oversized_clients_are_cut_off() {
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    let service = ServeProcess::start(
        &data,
        &[
            "--header-read-timeout",
            "1s",
            "--body-read-timeout",
            "1500ms",
        ],
    );
    let socket = service.socket();
    let admin = initial_admin_token(&data);

    tokio::task::spawn_blocking(move || {
        // 1. Trickled headers: one byte every 200 ms never completes the head within 1 s.
        let mut stream = TcpStream::connect(&socket).unwrap();
        let started = Instant::now();
        let head =
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        let mut closed_after = None;
        for byte in head {
            if stream.write_all(&[*byte]).is_err() {
                closed_after = Some(started.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            if started.elapsed() > Duration::from_secs(6) {
                break;
            }
        }
        let closed_after = closed_after.unwrap_or_else(|| {
            let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(3));
            assert!(closed, "a trickling client is disconnected");
            started.elapsed()
        });
        assert!(
            closed_after < Duration::from_secs(4),
            "closed after {closed_after:?}, the timeout is 1 s"
        );

        // 2. An idle connection that never sends a request is closed too.
        let mut idle = TcpStream::connect(&socket).unwrap();
        let started = Instant::now();
        let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(4));
        assert!(closed, "an idle connection is closed");
        assert!(started.elapsed() < Duration::from_secs(4));
        // So is a keep-alive connection left idle after a request.
        let mut kept = TcpStream::connect(&socket).unwrap();
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let started = Instant::now();
        let (answer, closed) = read_until_closed(&mut kept, Duration::from_secs(4));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(closed, "an idle keep-alive connection is closed");
        assert!(started.elapsed() < Duration::from_secs(4));

        // 3. An oversized body (declared beyond the 1 MiB limit) gets 413 problem+json.
        let mut stream = TcpStream::connect(&socket).unwrap();
        let body_size = 2 * 1024 * 1024;
        write!(
            stream,
            "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nContent-Length: {body_size}\r\n\r\n"
        )
        .unwrap();
        let _ = stream.write_all(&vec![b' '; 64 * 1024]);
        let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(answer.contains("payload-too-large"), "{answer}");
        drop(stream);

        // 3b. The same with a chunked body that only grows too large on the way.
        let mut stream = TcpStream::connect(&socket).unwrap();
        write!(
            stream,
            "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .unwrap();
        let chunk = vec![b' '; 256 * 1024];
        for _ in 0..6 {
            if write!(stream, "{:x}\r\n", chunk.len()).is_err()
                || stream.write_all(&chunk).is_err()
                || stream.write_all(b"\r\n").is_err()
            {
                break;
            }
        }
        let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("payload-too-large"), "{answer}");
        drop(stream);

        // 4. A body that stalls half-way is answered 408 problem+json, well before the 30 s
        //    request timeout.
        let mut stream = TcpStream::connect(&socket).unwrap();
        let started = Instant::now();
        write!(
            stream,
            "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"kind\":"
        )
        .unwrap();
        let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(6));
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(answer.contains("request-timeout"), "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "cut off after {:?}",
            started.elapsed()
        );

        // 5. A head beyond the header limit (64 KiB) gets 431.
        let mut stream = TcpStream::connect(&socket).unwrap();
        let big = "a".repeat(100 * 1024);
        let _ = write!(
            stream,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
        );
        let _ = stream.shutdown(Shutdown::Write);
        let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    })
    .await
    .unwrap();

    // The service is still healthy for ordinary clients.
    let health = reqwest::get(format!("{}/healthz", service.address))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
