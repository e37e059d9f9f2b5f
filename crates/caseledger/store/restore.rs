//! `caseledger restore`: a backup into a fresh data dir, offline, verifying the chain, then the
//! live service's erasure register applied to it.
//!
//! This module owns the order of a restore — the manifest and the erasure register read before
//! anything is written, the snapshot imported with its SHA-256 checked against the manifest, the
//! restored store reopened and verified, the erased cases' keys destroyed — and its summary. The
//! backup's files are [`super::backup`]'s.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::Path;

use anyhow::Context as _;
use caseledger_store::snapshot::{SnapshotRecord, SNAPSHOT_FORMAT};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::backup::{hex_digest, Manifest, MANIFEST_FILE};
use super::location::Location;
use super::opened::{check_heads, counts_line, head_text, importer_for, verify_written};
use crate::cli::RestoreArgs;
use crate::data_dir;
use crate::progress::Progress;

/// How many snapshot records a restore imports at a time.
const RESTORE_CHUNK: usize = 1_000;

/// Runs `caseledger restore`.
pub async fn run(args: &RestoreArgs) -> anyhow::Result<()> {
    let manifest_path = args.from.join(MANIFEST_FILE);
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(&manifest_path).with_context(|| {
            format!(
                "cannot read {} (an incomplete backup?)",
                manifest_path.display()
            )
        })?)
        .with_context(|| format!("{} is not a backup manifest", manifest_path.display()))?;
    if manifest.format != SNAPSHOT_FORMAT {
        anyhow::bail!(
            "the backup has format {}; this build restores format {SNAPSHOT_FORMAT}",
            manifest.format
        );
    }
    // The register is read before anything is written, so a bad file costs nothing.
    let erasures = args.erasures.as_deref().map(read_erasures).transpose()?;
    let target = Location::DataDir(args.data_dir.clone());
    let mut importer = importer_for(&target).await?;
    let mut progress = Progress::new("restoring", Some(manifest.head.position.0));
    let imported: anyhow::Result<()> = async {
        let snapshot = args.from.join(&manifest.snapshot);
        let file =
            File::open(&snapshot).with_context(|| format!("cannot open {}", snapshot.display()))?;
        let mut lines = BufReader::with_capacity(1 << 20, file);
        let mut hasher = Sha256::new();
        let mut line = Vec::new();
        let mut chunk = Vec::with_capacity(RESTORE_CHUNK);
        let mut events = 0;
        let mut number = 0u64;
        loop {
            line.clear();
            if lines.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            number += 1;
            hasher.update(&line);
            let record: SnapshotRecord = serde_json::from_slice(&line).with_context(|| {
                format!(
                    "line {number} of {} is not a snapshot record",
                    snapshot.display()
                )
            })?;
            if matches!(record, SnapshotRecord::Event { .. }) {
                events += 1;
            }
            chunk.push(record);
            if chunk.len() == RESTORE_CHUNK {
                importer.apply(std::mem::take(&mut chunk)).await?;
                progress.set(events);
            }
        }
        importer.apply(chunk).await?;
        let digest = hex_digest(hasher);
        if digest != manifest.sha256 {
            anyhow::bail!(
                "{} has SHA-256 {digest}, but the manifest says {}: the backup is damaged",
                snapshot.display(),
                manifest.sha256
            );
        }
        Ok(())
    }
    .await;
    progress.finish();
    if let Err(error) = imported {
        importer.abort().await;
        return Err(error.context(format!("restoring {} failed", args.from.display())));
    }
    let restored = importer
        .finish()
        .await
        .context("finishing the restore failed")?;
    let verified = verify_written(&target).await?;
    check_heads(manifest.head, restored.head, verified)?;
    println!(
        "restored {} into {}: chain verified, head {} (as in the manifest)",
        counts_line(&restored.counts),
        args.data_dir.display(),
        head_text(verified)
    );
    match &erasures {
        Some(erasures) => {
            let removed = apply_erasures_to(&args.data_dir, erasures).await?;
            println!(
                "applied {} erasures of the register: {removed} keys destroyed",
                erasures.len()
            );
        }
        None => eprintln!(
            "warning: restored without --erasures: erasures made after this backup was taken \
             ({}) are not applied, and the personal data they erased can be read again. Give \
             the live service's register (GET /v1/admin/erasures) with --erasures FILE.",
            manifest.created_at
        ),
    }
    Ok(())
}

/// The erasure register a restore applies: the JSON of `GET /v1/admin/erasures`.
#[derive(Debug, Deserialize)]
struct ErasureRegister {
    erasures: Vec<caseledger_app::erasure::Erasure>,
}

fn read_erasures(path: &Path) -> anyhow::Result<Vec<caseledger_app::erasure::Erasure>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the erasure register {}", path.display()))?;
    let register: ErasureRegister = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not an erasure register (the JSON of GET /v1/admin/erasures)",
            path.display()
        )
    })?;
    Ok(register.erasures)
}

/// Destroys, in the restored store in `data_dir`, the key of every case in `erasures`.
async fn apply_erasures_to(
    data_dir: &Path,
    erasures: &[caseledger_app::erasure::Erasure],
) -> anyhow::Result<u64> {
    let sled_dir = data_dir::sled_dir(data_dir);
    let storage =
        tokio::task::spawn_blocking(move || caseledger_app::Storage::open_sled(&sled_dir))
            .await
            .context("opening the restored store stopped unexpectedly")??;
    let removed = caseledger_app::erasure::apply_erasures(&storage, erasures)
        .await
        .with_context(|| {
            format!(
                "cannot apply the erasure register to the restored store: {} may still hold \
                 keys of erased cases, so do not start it; remove it and restore again",
                data_dir.display()
            )
        });
    let _ = tokio::task::spawn_blocking(move || drop(storage)).await;
    removed
}
