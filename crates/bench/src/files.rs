//! `--only files`: attachments' throughput (issue 16) — a 20 MB file uploaded through
//! `POST /v1/cases/{id}/attachments` and downloaded back, against a plain copy of the same
//! bytes on the same disk (`std::fs::copy` into the service's data dir's parent, then
//! `fsync`, as an upload is durable before it is answered), in one run, alternating over
//! [`ROUNDS`] rounds so a neighbour's load falls on all three. Every upload's bytes differ (a
//! counter after the PDF magic), so none is answered as a repeat. Each download is checked for
//! its length; the report gives MB/s of each round's median and the ratio to the copy.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::body::Bytes;
use hyper::StatusCode;
use serde_json::Value;

use crate::client::{Call, Connection};
use crate::server::Service;
use crate::service_calls::{officer_token, open_one_case};

/// The file's size: the 20 MB.
const FILE_BYTES: usize = 20 * 1024 * 1024;
/// Rounds of copy, upload and download.
const ROUNDS: usize = 7;
/// The bar of issue 16: upload and download each at least this fraction of the copy's rate.
const BAR_RATIO: f64 = 0.3;

/// `FILE_BYTES` of a PDF: its magic, `round` in the next bytes, then bytes that do not repeat.
fn payload(round: u64) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%".to_vec();
    bytes.extend_from_slice(&round.to_le_bytes());
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ round;
    while bytes.len() < FILE_BYTES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(FILE_BYTES);
    bytes
}

/// One plain durable copy of `source` to `target`: how long it took.
fn copy_once(source: &Path, target: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    std::fs::copy(source, target).context("cannot copy the peer file")?;
    std::fs::File::open(target)
        .and_then(|file| file.sync_all())
        .context("cannot sync the copy")?;
    let elapsed = started.elapsed();
    std::fs::remove_file(target).context("cannot remove the copy")?;
    Ok(elapsed)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn megabytes_per_second(time: Duration) -> f64 {
    FILE_BYTES as f64 / (1024.0 * 1024.0) / time.as_secs_f64()
}

/// Runs the set against `service` and prints its table.
pub async fn run(service: &Service) -> anyhow::Result<()> {
    let mut setup = Connection::open(service.address).await?;
    let officer = officer_token(&mut setup, &service.admin_token).await?;
    let case = open_one_case(&mut setup, &officer).await?;
    let folder = service
        .data_dir()
        .parent()
        .context("the data dir has a parent")?
        .to_owned();
    let source = folder.join(format!("caseledger-bench-copy-{}.src", std::process::id()));
    let target = folder.join(format!("caseledger-bench-copy-{}.dst", std::process::id()));
    {
        let mut file = std::fs::File::create(&source).context("cannot write the peer file")?;
        file.write_all(&payload(u64::MAX))?;
        file.sync_all()?;
    }
    let upload_path = format!("/v1/cases/{case}/attachments?filename=bench.pdf&personal=false");
    let (mut copies, mut uploads, mut downloads) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        copies.push(copy_once(&source, &target)?);

        let body = Bytes::from(payload(round as u64));
        let started = Instant::now();
        let reply = setup
            .send(&Call::post(&upload_path, &officer, body))
            .await?;
        uploads.push(started.elapsed());
        anyhow::ensure!(
            reply.status == StatusCode::CREATED,
            "an upload answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        let added: Value = serde_json::from_slice(&reply.body)?;
        let id = added["attachment_id"]
            .as_str()
            .context("the upload names its attachment")?
            .to_owned();

        let download_path = format!("/v1/cases/{case}/attachments/{id}");
        let started = Instant::now();
        let reply = setup
            .send(&Call::get(&download_path, Some(&officer)))
            .await?;
        downloads.push(started.elapsed());
        anyhow::ensure!(
            reply.status == StatusCode::OK && reply.body.len() == FILE_BYTES,
            "a download answered {} with {} bytes",
            reply.status,
            reply.body.len()
        );
    }
    let _ = std::fs::remove_file(&source);
    let copy = median(copies);
    println!(
        "files: a {} MiB file, {ROUNDS} rounds, median of each (copy: std::fs::copy + fsync on the data dir's disk)",
        FILE_BYTES / (1024 * 1024)
    );
    println!(
        "{:<24} {:>10} {:>10} {:>14}",
        "", "ms", "MB/s", "ratio to copy"
    );
    let mut met = true;
    for (name, time) in [
        ("plain copy", copy),
        ("upload (POST)", median(uploads)),
        ("download (GET)", median(downloads)),
    ] {
        let ratio = copy.as_secs_f64() / time.as_secs_f64();
        if name != "plain copy" && ratio < BAR_RATIO {
            met = false;
        }
        println!(
            "{name:<24} {:>10.1} {:>10.1} {:>14.2}",
            time.as_secs_f64() * 1000.0,
            megabytes_per_second(time),
            ratio
        );
    }
    println!(
        "bar (upload and download each at least {BAR_RATIO} of the copy's rate): {}",
        if met { "MET" } else { "NOT MET" }
    );
    Ok(())
}
