//! The commands that work on a stopped service's data dir: `caseledger audit export` and
//! `caseledger projections rebuild`.
//!
//! This module owns opening a data dir's embedded store from outside the service (refusing a
//! missing one instead of creating it, and explaining a lock held by a running service), the
//! export file (written to `FILE.partial`, synced, renamed), and the progress bars on a
//! terminal. It does not verify what it exports — `caseledger audit verify` does — and it
//! changes nothing in the log.

use std::fs::File;
use std::io::{BufWriter, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use caseledger_app::{App, Storage, StoredEvent, SystemClock};
use caseledger_store::{EventLog, Head, Position, SledLog, SledLogOptions, StoreError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{ExportArgs, RebuildArgs};
use crate::config::Config;
use crate::serve::SLED_DIR;

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

/// The sled directory of `data_dir`, which must exist: an offline command never creates a
/// store.
fn sled_dir_of(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let sled_dir = data_dir.join(SLED_DIR);
    if !sled_dir.is_dir() {
        anyhow::bail!(
            "{} holds no event log (there is no {}); give the --data-dir of the service",
            data_dir.display(),
            sled_dir.display()
        );
    }
    Ok(sled_dir)
}

/// Explains a locked store ([`StoreError::Locked`]): a running service holds the data dir.
fn explain_open_error(error: anyhow::Error, data_dir: &Path) -> anyhow::Error {
    if matches!(
        error.downcast_ref::<StoreError>(),
        Some(StoreError::Locked { .. })
    ) {
        error.context(format!(
            "the data dir {} is in use, most likely by a running `caseledger serve`: stop the \
             service first (the embedded store allows one process at a time), or export from \
             the running service with GET /v1/audit/export",
            data_dir.display()
        ))
    } else {
        error.context(format!(
            "cannot open the event log in {}",
            data_dir.display()
        ))
    }
}

/// Opens the event log of a stopped service's data dir.
pub fn open_log(data_dir: &Path) -> anyhow::Result<SledLog> {
    let sled_dir = sled_dir_of(data_dir)?;
    SledLog::open(&sled_dir, SledLogOptions::default())
        .map_err(|error| explain_open_error(error.into(), data_dir))
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub(crate) fn progress_bar(length: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar
}

/// Runs `caseledger audit export`.
pub async fn run_export(args: &ExportArgs) -> anyhow::Result<()> {
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

/// Runs `caseledger projections rebuild`.
pub async fn run_rebuild(args: &RebuildArgs) -> anyhow::Result<()> {
    let policy = Config::load_or_default(args.config.as_deref())?
        .policy()
        .context("invalid configuration")?;
    let sled_dir = sled_dir_of(&args.data_dir)?;
    let data_dir = args.data_dir.clone();
    let storage = tokio::task::spawn_blocking(move || Storage::open_sled(&sled_dir))
        .await
        .context("opening the store stopped unexpectedly")?
        .map_err(|error| explain_open_error(error, &data_dir))?;
    let app = App::new(storage, policy, Arc::new(SystemClock))
        .await
        .context("cannot load the service's state")?;
    let head = app.head();
    let bar = progress_bar(head.position.0, "rebuilding");
    let rebuilt = rebuild_case_projection(&app, |position| bar.set_position(position)).await;
    bar.finish_and_clear();
    let cases = rebuilt?;
    tokio::task::spawn_blocking(move || drop(app))
        .await
        .context("closing the store stopped unexpectedly")?;
    println!(
        "rebuilt the case projection: {cases} cases, up to position {}",
        head.position
    );
    Ok(())
}

/// Forgets the case projection and folds the whole log into it again; returns how many cases
/// it holds.
pub async fn rebuild_case_projection(
    app: &App,
    progress: impl FnMut(u64),
) -> anyhow::Result<usize> {
    let projection = app.case_projection();
    projection
        .reset()
        .await
        .context("cannot reset the case projection")?;
    let log = Arc::clone(&app.storage().log);
    projection
        .catch_up(log.as_ref(), progress)
        .await
        .context("cannot rebuild the case projection")?;
    projection
        .len()
        .context("cannot count the rebuilt case projection")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use caseledger_domain::{ActorRecord, CaseEvent, CaseId};
    use caseledger_store::{ExpectedVersion, StreamId};
    use chrono::{TimeZone as _, Utc};
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::verify::{verify_file, Verdict};

    fn stored(case: u128, n: u32, event: serde_json::Value) -> StoredEvent {
        StoredEvent {
            id: Uuid::from_u128(1000 + u128::from(n)),
            case_id: CaseId(Uuid::from_u128(case)),
            at: Utc.with_ymd_and_hms(2026, 11, 29, 8, n, 0).unwrap(),
            actor: ActorRecord::system(),
            event: serde_json::from_value::<CaseEvent>(event).unwrap(),
        }
    }

    fn opened(case: u128, n: u32) -> StoredEvent {
        stored(
            case,
            n,
            json!({"type": "CaseOpened", "data": {
                "title": format!("case {case}"), "category": "wage_arrears",
                "description": "unpaid wages", "source": "hotline",
                "employer": {"name": "Acme", "credit_code": null, "credit_code_unverified": false},
                "region": null, "industry": null, "workers_affected": null, "complainant": null
            }}),
        )
    }

    fn note(case: u128, n: u32) -> StoredEvent {
        stored(
            case,
            n,
            json!({"type": "NoteAdded", "data": {"text": format!("note {n}")}}),
        )
    }

    /// A data dir whose log holds two cases, five events, the log closed again.
    async fn data_dir_with_events() -> tempfile::TempDir {
        let directory = tempfile::tempdir().unwrap();
        let log =
            SledLog::open(&directory.path().join(SLED_DIR), SledLogOptions::default()).unwrap();
        for (case, events) in [
            (1, vec![opened(1, 1), note(1, 2)]),
            (2, vec![opened(2, 3), note(2, 4), note(2, 5)]),
        ] {
            EventLog::<StoredEvent>::append(
                &log,
                StreamId(Uuid::from_u128(case)),
                ExpectedVersion::NoStream,
                events,
                None,
            )
            .await
            .unwrap()
            .unwrap();
        }
        tokio::task::spawn_blocking(move || drop(log))
            .await
            .unwrap();
        directory
    }

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
    async fn a_data_dir_in_use_or_missing_is_explained() {
        let data_dir = data_dir_with_events().await;
        let running = open_log(data_dir.path()).unwrap();
        let error = open_log(data_dir.path()).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("is in use"), "{message}");
        assert!(message.contains("stop the service first"), "{message}");
        tokio::task::spawn_blocking(move || drop(running))
            .await
            .unwrap();

        let empty = tempfile::tempdir().unwrap();
        let message = format!("{:#}", open_log(empty.path()).unwrap_err());
        assert!(message.contains("holds no event log"), "{message}");
        assert!(!empty.path().join(SLED_DIR).exists(), "nothing was created");
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
        let message = format!("{:#}", run_export(&args).await.unwrap_err());
        assert!(
            message.contains("beyond the log's last position 5"),
            "{message}"
        );
        assert!(!out.exists() && !partial_path(&out).exists());
        run_export(&ExportArgs { after: 5, ..args }).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"");
    }

    #[tokio::test]
    async fn the_case_projection_is_rebuilt_from_the_log() {
        let data_dir = data_dir_with_events().await;
        let storage = Storage::open_sled(&data_dir.path().join(SLED_DIR)).unwrap();
        let app = App::new(
            storage,
            Config::default().policy().unwrap(),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let mut progress = Vec::new();
        let cases = rebuild_case_projection(&app, |position| progress.push(position))
            .await
            .unwrap();
        assert_eq!(cases, 2);
        assert_eq!(progress.last(), Some(&5));
        let case = app
            .case_projection()
            .get(CaseId(Uuid::from_u128(2)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((case.version, case.notes.len()), (3, 2));
        tokio::task::spawn_blocking(move || drop(app))
            .await
            .unwrap();
    }
}
