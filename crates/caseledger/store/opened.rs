//! The stores the whole-store commands read and write: an existing store opened for reading
//! ([`Opened`]), an empty target opened for import ([`importer_for`]), the check that a written
//! target verifies with the source's head ([`verify_written`], [`check_heads`]), and the summary
//! lines all three commands print.
//!
//! This module owns no command; `copy`, `backup` and `restore` each use what they need of it.

use std::sync::Arc;

use anyhow::Context as _;
use caseledger_app::backup::REBUILT_KEYSPACES;
use caseledger_store::snapshot::{Importer, SnapshotCounts, SnapshotRecord, SnapshotSource};
use caseledger_store::{Head, PostgresLog, PostgresLogOptions, SledLog};

use super::location::Location;
use crate::data_dir;

/// An opened store.
pub(crate) enum Opened {
    Sled(SledLog),
    Postgres(PostgresLog),
}

impl Opened {
    /// Opens an existing store: a data dir must already hold one.
    pub(crate) async fn open(location: &Location) -> anyhow::Result<Opened> {
        match location {
            Location::DataDir(dir) => {
                let dir = dir.clone();
                let log = tokio::task::spawn_blocking(move || data_dir::open_log(&dir))
                    .await
                    .context("opening the event log stopped unexpectedly")??;
                Ok(Opened::Sled(log))
            }
            Location::Postgres(url) => Ok(Opened::Postgres(
                PostgresLog::open(url, PostgresLogOptions::default())
                    .await
                    .context("cannot open the PostgreSQL event log")?,
            )),
        }
    }

    pub(crate) fn snapshot(&self) -> Arc<dyn SnapshotSource> {
        match self {
            Opened::Sled(log) => Arc::new(log.clone()),
            Opened::Postgres(log) => Arc::new(log.clone()),
        }
    }

    pub(crate) fn head(&self) -> Head {
        match self {
            Opened::Sled(log) => log.head(),
            Opened::Postgres(log) => log.head(),
        }
    }

    /// Verifies the whole chain and returns its head.
    pub(crate) async fn verify(&self) -> anyhow::Result<Head> {
        let verdict = match self {
            Opened::Sled(log) => log.verify_chain(|_| {}).await,
            Opened::Postgres(log) => log.verify_chain(|_| {}).await,
        }
        .context("cannot read the log to verify it")?;
        verdict.map_err(|error| {
            anyhow::anyhow!(
                "the chain is broken at position {}: {}",
                error.position,
                error.fault
            )
        })
    }

    /// Closes the store; sled's writer thread is joined off the async executor.
    pub(crate) async fn close(self) {
        if let Opened::Sled(log) = self {
            let _ = tokio::task::spawn_blocking(move || drop(log)).await;
        }
    }
}

/// An empty target opened for import.
pub(crate) async fn importer_for(location: &Location) -> anyhow::Result<Importer> {
    let importer = match location {
        Location::DataDir(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Importer::sled(&data_dir::sled_dir(dir)).await
        }
        Location::Postgres(url) => Importer::postgres(url).await,
    };
    importer.map_err(|error| anyhow::Error::new(error).context(format!("target {location}")))
}

/// Reopens a written target and verifies its whole chain.
pub(crate) async fn verify_written(location: &Location) -> anyhow::Result<Head> {
    let target = Opened::open(location)
        .await
        .with_context(|| format!("reopening the target {location}"))?;
    let verified = target
        .verify()
        .await
        .with_context(|| format!("verifying the target {location}"));
    target.close().await;
    verified
}

pub(crate) fn check_heads(source: Head, imported: Head, target: Head) -> anyhow::Result<()> {
    if source != imported || source != target {
        anyhow::bail!(
            "the heads differ: source {}, imported {}, target {}",
            head_text(source),
            head_text(imported),
            head_text(target)
        );
    }
    Ok(())
}

pub(crate) fn events_in(records: &[SnapshotRecord]) -> u64 {
    records
        .iter()
        .filter(|record| matches!(record, SnapshotRecord::Event { .. }))
        .count() as u64
}

pub(crate) fn counts_line(counts: &SnapshotCounts) -> String {
    format!(
        "{} events, {} keyspace entries, {} idempotency records ({} left to rebuild from the log)",
        counts.events,
        counts.keyspace_entries,
        counts.idempotency_records,
        REBUILT_KEYSPACES.join(", ")
    )
}

pub(crate) fn head_text(head: Head) -> String {
    format!("{} {}", head.position, head.hash)
}
