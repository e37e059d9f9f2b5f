//! `caseledger audit export`: the log of a stopped service's data dir to an NDJSON file,
//! offline.
//!
//! This module owns the export file (written to `FILE.partial`, synced, renamed, so `FILE` is
//! either the whole export or absent) and the `exported N events …` line. Opening the data
//! dir's store is [`crate::data_dir`]'s; checking what was exported is `caseledger audit
//! verify`'s ([`super::verify`]). It changes nothing in the log.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use caseledger_app::StoredEvent;
use caseledger_store::{EventLog, Head, Position, SledLog};

use crate::cli::ExportArgs;
use crate::data_dir::open_log;
use crate::progress::progress_bar;

/// How many envelopes the export reads at a time.
pub const EXPORT_PAGE: usize = 1_000;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// How many events.
    pub events: u64,
    /// The log's head: the last event written.
    pub head: Head,
    /// The file.
    pub path: PathBuf,
}

impl Exported {
    /// `exported N events to FILE, head P HASH`.
    pub fn line(&self) -> String {
        format!(
            "exported {} events to {}, head {} {}",
            self.events,
            self.path.display(),
            self.head.position,
            self.head.hash
        )
    }
}

/// Runs `caseledger audit export`.
pub async fn run(args: &ExportArgs) -> anyhow::Result<()> {
    let log = open_log(&args.data_dir)?;
    let head = log.head();
    if args.after > head.position.0 {
        anyhow::bail!(
            "--after {} is beyond the log's last position {}",
            args.after,
            head.position
        );
    }
    let bar = progress_bar(head.position.0 - args.after, "exporting");
    let exported = export_log(&log, Position(args.after), &args.out, |events| {
        bar.set_position(events);
    })
    .await;
    bar.finish_and_clear();
    let exported = exported?;
    // Closing the log joins its writer thread: blocking work.
    tokio::task::spawn_blocking(move || drop(log))
        .await
        .context("closing the event log stopped unexpectedly")?;
    println!("{}", exported.line());
    Ok(())
}

/// Writes the events of `log` after `after`, up to its head when called, to `out`, one
/// envelope a line: to `out.partial` first, synced and then renamed, so `out` is either the
/// whole export or absent. Calls `progress` with the count after each page.
pub async fn export_log(
    log: &SledLog,
    after: Position,
    out: &Path,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Exported> {
    let head = log.head();
    let partial = partial_path(out);
    let file =
        File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let mut cursor = after;
    let mut events = 0u64;
    let written: anyhow::Result<()> = async {
        while cursor < head.position {
            let page = EventLog::<StoredEvent>::read_all_raw(log, cursor, EXPORT_PAGE)
                .await
                .with_context(|| format!("cannot read the log after position {cursor}"))?;
            if page.is_empty() {
                anyhow::bail!(
                    "the log ends at position {cursor}, before its head {}",
                    head.position
                );
            }
            for (position, bytes) in page {
                if position > head.position {
                    break;
                }
                writer.write_all(&bytes)?;
                writer.write_all(b"\n")?;
                cursor = position;
                events += 1;
            }
            progress(events);
        }
        let file = writer.into_inner().map_err(|error| error.into_error())?;
        file.sync_all()?;
        Ok(())
    }
    .await;
    if let Err(error) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(error.context(format!("cannot write the export to {}", partial.display())));
    }
    std::fs::rename(&partial, out)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), out.display()))?;
    let directory = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)
        .and_then(|directory| directory.sync_all())
        .with_context(|| format!("cannot sync the directory {}", directory.display()))?;
    Ok(Exported {
        events,
        head,
        path: out.to_owned(),
    })
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use crate::audit::verify::{verify_file, Verdict};
    use crate::testing::data_dir_with_events;

    #[tokio::test]
    async fn an_export_is_the_whole_log_and_verifies() {
        let data_dir = data_dir_with_events().await;
        let out = data_dir.path().join("export.ndjson");
        let log = open_log(data_dir.path()).unwrap();
        let mut reported = Vec::new();
        let exported = export_log(&log, Position(0), &out, |events| reported.push(events))
            .await
            .unwrap();
        assert_eq!(exported.events, 5);
        assert_eq!(exported.head, log.head());
        assert_eq!(reported, [5]);
        assert!(!partial_path(&out).exists());
        assert_eq!(
            exported.line(),
            format!(
                "exported 5 events to {}, head 5 {}",
                out.display(),
                log.head().hash
            )
        );
        let Verdict::Intact { events, head, .. } = verify_file(&out, None, |_| {}).unwrap() else {
            panic!("the export verifies")
        };
        assert_eq!((events, head), (5, log.head()));

        // --after: the rest of the log, which appended to the first part verifies whole.
        let first = data_dir.path().join("first.ndjson");
        let rest = data_dir.path().join("rest.ndjson");
        let text = std::fs::read_to_string(&out).unwrap();
        let first_two: String = text.split_inclusive('\n').take(2).collect();
        std::fs::write(&first, &first_two).unwrap();
        let exported = export_log(&log, Position(2), &rest, |_| {}).await.unwrap();
        assert_eq!(exported.events, 3);
        let joined = format!("{first_two}{}", std::fs::read_to_string(&rest).unwrap());
        assert_eq!(joined, text);
        tokio::task::spawn_blocking(move || drop(log))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn run_export_refuses_to_start_after_the_head() {
        let data_dir = data_dir_with_events().await;
        let out = data_dir.path().join("export.ndjson");
        let args = ExportArgs {
            data_dir: data_dir.path().to_owned(),
            out: out.clone(),
            after: 6,
        };
        let message = format!("{:#}", run(&args).await.unwrap_err());
        assert!(
            message.contains("beyond the log's last position 5"),
            "{message}"
        );
        assert!(!out.exists() && !partial_path(&out).exists());
        run(&ExportArgs { after: 5, ..args }).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"");
    }
}
