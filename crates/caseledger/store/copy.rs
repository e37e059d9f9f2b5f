//! `caseledger store copy`: a whole store into an empty one, exactly, sled → PostgreSQL or
//! back.
//!
//! The source's chain is verified while it is read, the target's import checks it again as it
//! writes, and the finished target is reopened and its whole chain verified; the heads
//! (position and hash) of both sides must match. The case projection is never copied: the
//! service rebuilds it from the log at its first start
//! ([`caseledger_app::backup::REBUILT_KEYSPACES`]).

use anyhow::Context as _;
use caseledger_app::backup::snapshot_reader;
use caseledger_store::snapshot::SnapshotCounts;
use caseledger_store::Head;

use super::location::Location;
use super::opened::{
    check_heads, counts_line, events_in, head_text, importer_for, verify_written, Opened,
};
use crate::cli::CopyArgs;
use crate::progress::Progress;

/// Runs `caseledger store copy`.
pub async fn run(args: &CopyArgs) -> anyhow::Result<()> {
    if args.from == args.to {
        anyhow::bail!("--from and --to are the same store");
    }
    let source = Opened::open(&args.from)
        .await
        .with_context(|| format!("source {}", args.from))?;
    let copied = copy_into(&source, &args.to).await;
    source.close().await;
    let (source_head, counts, target_head) = copied?;
    println!(
        "source {}: chain verified while reading, head {}",
        args.from,
        head_text(source_head)
    );
    println!(
        "target {}: chain verified after writing, head {}",
        args.to,
        head_text(target_head)
    );
    println!("copied {}", counts_line(&counts));
    println!("heads match");
    Ok(())
}

/// Copies `source` into the empty store at `to`, then verifies the target; returns the
/// source's head, the counts and the verified target head.
async fn copy_into(source: &Opened, to: &Location) -> anyhow::Result<(Head, SnapshotCounts, Head)> {
    let mut importer = importer_for(to).await?;
    let mut reader = snapshot_reader(source.snapshot());
    let mut progress = Progress::new("copying", Some(source.head().position.0));
    let mut events = 0;
    let copied: anyhow::Result<()> = async {
        while let Some(records) = reader
            .next_chunk()
            .await
            .context("reading the source failed")?
        {
            events += events_in(&records);
            importer
                .apply(records)
                .await
                .context("writing the target failed")?;
            progress.set(events);
        }
        Ok(())
    }
    .await;
    progress.finish();
    if let Err(error) = copied {
        importer.abort().await;
        return Err(error);
    }
    let source_head = reader.head();
    drop(reader);
    let imported = importer
        .finish()
        .await
        .context("finishing the target failed")?;
    let target_head = verify_written(to).await?;
    check_heads(source_head, imported.head, target_head)?;
    Ok((source_head, imported.counts, target_head))
}
