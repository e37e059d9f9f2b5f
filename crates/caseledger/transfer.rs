//! Whole-store copies from the command line: `caseledger store copy` (sled ⇄ PostgreSQL),
//! `caseledger backup` (from a stopped service's data dir, or online from a running service's
//! `GET /v1/admin/backup`) and `caseledger restore` (a backup into a fresh data dir).
//!
//! All three move the store crate's snapshot records ([`caseledger_store::import`]): the
//! source's chain is verified while it is read, the target's import checks it again as it
//! writes, and the finished target is reopened and its whole chain verified; the heads
//! (position and hash) of both sides must match. A backup is a directory with
//! `snapshot.ndjson` (the records, one a line) and `manifest.json` (format, head, counts and the
//! snapshot's SHA-256, written last, so a backup without it is incomplete). The case projection
//! is never copied: the service rebuilds it from the log at its first start
//! ([`caseledger_app::backup::REBUILT_KEYSPACES`]). This module owns those files, the progress
//! display (a bar on a terminal, a line every 10 % otherwise) and the summaries printed on
//! stdout.

use std::fmt;
use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context as _;
use caseledger_app::backup::{snapshot_reader, REBUILT_KEYSPACES};
use caseledger_store::import::{
    Importer, SnapshotCounts, SnapshotRecord, SnapshotSource, SNAPSHOT_FORMAT,
};
use caseledger_store::{ChainVerifier, Head, PostgresLog, PostgresLogOptions, SledLog};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::cli::{BackupArgs, CopyArgs, RestoreArgs};
use crate::config::StoreSelection;
use crate::serve::SLED_DIR;

/// The snapshot file in a backup directory.
pub const SNAPSHOT_FILE: &str = "snapshot.ndjson";
/// The manifest file in a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// How many snapshot records a restore imports at a time.
const RESTORE_CHUNK: usize = 1_000;

/// Where a store is: a data dir (the embedded store in its `sled/`) or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// The data dir of a (stopped) service.
    DataDir(PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

impl FromStr for Location {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err("give a data dir or a postgres:// URL".into());
        }
        if text.contains("://") {
            return match text.parse::<StoreSelection>()? {
                StoreSelection::Postgres(url) => Ok(Location::Postgres(url)),
                StoreSelection::Sled => Err("give a data dir or a postgres:// URL".into()),
            };
        }
        Ok(Location::DataDir(PathBuf::from(text)))
    }
}

impl fmt::Display for Location {
    /// Shows the location without any password.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::DataDir(dir) => write!(formatter, "{} (sled)", dir.display()),
            Location::Postgres(url) => {
                write!(formatter, "{}", StoreSelection::Postgres(url.clone()))
            }
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Location({self})")
    }
}

/// An opened store.
enum Opened {
    Sled(SledLog),
    Postgres(PostgresLog),
}

impl Opened {
    /// Opens an existing store: a data dir must already hold one.
    async fn open(location: &Location) -> anyhow::Result<Opened> {
        match location {
            Location::DataDir(dir) => {
                let dir = dir.clone();
                let log = tokio::task::spawn_blocking(move || crate::offline::open_log(&dir))
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

    fn snapshot(&self) -> Arc<dyn SnapshotSource> {
        match self {
            Opened::Sled(log) => Arc::new(log.clone()),
            Opened::Postgres(log) => Arc::new(log.clone()),
        }
    }

    fn head(&self) -> Head {
        match self {
            Opened::Sled(log) => log.head(),
            Opened::Postgres(log) => log.head(),
        }
    }

    /// Verifies the whole chain and returns its head.
    async fn verify(&self) -> anyhow::Result<Head> {
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
    async fn close(self) {
        if let Opened::Sled(log) = self {
            let _ = tokio::task::spawn_blocking(move || drop(log)).await;
        }
    }
}

/// An empty target opened for import.
async fn importer_for(location: &Location) -> anyhow::Result<Importer> {
    let importer = match location {
        Location::DataDir(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Importer::sled(&dir.join(SLED_DIR)).await
        }
        Location::Postgres(url) => Importer::postgres(url).await,
    };
    importer.map_err(|error| anyhow::Error::new(error).context(format!("target {location}")))
}

/// Progress on stderr: a bar on a terminal, otherwise a line every tenth of the way (or every
/// 100,000 events when the total is unknown).
struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    total: Option<u64>,
    reported: u64,
}

impl Progress {
    fn new(what: &'static str, total: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let template = if total.is_some() {
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}, {eta} left)"
            } else {
                "{msg} [{elapsed_precise}] {spinner} {pos} events ({per_sec})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.set_message(what);
            bar
        });
        Progress {
            bar,
            what,
            total,
            reported: 0,
        }
    }

    fn set(&mut self, events: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(events);
            return;
        }
        let step = match self.total {
            Some(total) => (total / 10).max(1),
            None => 100_000,
        };
        if events >= self.reported + step {
            self.reported = events;
            match self.total {
                Some(total) => eprintln!("{}: {events}/{total} events", self.what),
                None => eprintln!("{}: {events} events", self.what),
            }
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn events_in(records: &[SnapshotRecord]) -> u64 {
    records
        .iter()
        .filter(|record| matches!(record, SnapshotRecord::Event { .. }))
        .count() as u64
}

fn counts_line(counts: &SnapshotCounts) -> String {
    format!(
        "{} events, {} keyspace entries, {} idempotency records ({} left to rebuild from the log)",
        counts.events,
        counts.keyspace_entries,
        counts.idempotency_records,
        REBUILT_KEYSPACES.join(", ")
    )
}

fn head_text(head: Head) -> String {
    format!("{} {}", head.position, head.hash)
}

/// Runs `caseledger store copy`.
pub async fn run_copy(args: &CopyArgs) -> anyhow::Result<()> {
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

/// Reopens a written target and verifies its whole chain.
async fn verify_written(location: &Location) -> anyhow::Result<Head> {
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

fn check_heads(source: Head, imported: Head, target: Head) -> anyhow::Result<()> {
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

/// What `manifest.json` of a backup says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The snapshot format ([`SNAPSHOT_FORMAT`]).
    pub format: u32,
    /// When the backup finished (RFC 3339).
    pub created_at: String,
    /// Where it came from (a data dir, or the service's URL).
    pub source: String,
    /// The head of the log in the backup.
    pub head: Head,
    /// What the backup holds.
    pub counts: SnapshotCounts,
    /// The file with the snapshot records.
    pub snapshot: String,
    /// The SHA-256 of that file, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The keyspaces left out, rebuilt from the log at the first start.
    pub rebuilt_keyspaces: Vec<String>,
}

/// Checks the records of a snapshot as they stream by, without writing them anywhere: the
/// format, the order, the chain and the end record.
struct StreamCheck {
    verifier: ChainVerifier,
    begun: bool,
    end: Option<(Head, SnapshotCounts)>,
    counts: SnapshotCounts,
}

impl StreamCheck {
    fn new() -> StreamCheck {
        StreamCheck {
            verifier: ChainVerifier::new(),
            begun: false,
            end: None,
            counts: SnapshotCounts::default(),
        }
    }

    fn check(&mut self, record: &SnapshotRecord) -> anyhow::Result<()> {
        if self.end.is_some() {
            anyhow::bail!("records follow the end record");
        }
        match record {
            SnapshotRecord::Begin { format } => {
                if self.begun || *format != SNAPSHOT_FORMAT {
                    anyhow::bail!("an unexpected begin record (format {format})");
                }
                self.begun = true;
            }
            _ if !self.begun => anyhow::bail!("the first record is not the begin record"),
            SnapshotRecord::Keyspace { .. } => self.counts.keyspace_entries += 1,
            SnapshotRecord::Idempotency { .. } => self.counts.idempotency_records += 1,
            SnapshotRecord::Event {
                position, envelope, ..
            } => {
                let head = self.verifier.verify(envelope.as_bytes()).map_err(|error| {
                    anyhow::anyhow!(
                        "the chain breaks at position {}: {}",
                        error.position,
                        error.fault
                    )
                })?;
                if head.position != *position {
                    anyhow::bail!(
                        "event record {position} holds the envelope of {}",
                        head.position
                    );
                }
                self.counts.events += 1;
            }
            SnapshotRecord::End {
                head,
                events,
                keyspace_entries,
                idempotency_records,
            } => {
                let counts = SnapshotCounts {
                    events: *events,
                    keyspace_entries: *keyspace_entries,
                    idempotency_records: *idempotency_records,
                };
                if *head != self.verifier.head() || counts != self.counts {
                    anyhow::bail!(
                        "the end record (head {}, {counts:?}) disagrees with the records (head \
                         {}, {:?})",
                        head_text(*head),
                        head_text(self.verifier.head()),
                        self.counts
                    );
                }
                self.end = Some((*head, counts));
            }
        }
        Ok(())
    }

    fn finished(&self) -> anyhow::Result<(Head, SnapshotCounts)> {
        self.end.ok_or_else(|| {
            anyhow::anyhow!("the snapshot ends without its end record: it is incomplete")
        })
    }
}

/// A backup directory being written: the snapshot to `snapshot.ndjson.partial`, renamed when
/// complete, then the manifest.
struct BackupWriter {
    dir: PathBuf,
    partial: PathBuf,
    writer: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
    check: StreamCheck,
}

impl BackupWriter {
    fn create(dir: &Path) -> anyhow::Result<BackupWriter> {
        let empty = match std::fs::read_dir(dir) {
            Ok(mut entries) => entries.next().is_none(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", dir.display()))
            }
        };
        if !empty {
            anyhow::bail!(
                "{} is not empty; a backup goes into a new or empty directory",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let partial = dir.join(format!("{SNAPSHOT_FILE}.partial"));
        let file = create_private(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        Ok(BackupWriter {
            dir: dir.to_owned(),
            partial,
            writer: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
            check: StreamCheck::new(),
        })
    }

    fn write(&mut self, record: &SnapshotRecord) -> anyhow::Result<()> {
        self.check.check(record)?;
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        self.hasher.update(&line);
        self.bytes += line.len() as u64;
        Ok(())
    }

    fn finish(self, source: String) -> anyhow::Result<Manifest> {
        let (head, counts) = self.check.finished()?;
        let file = self
            .writer
            .into_inner()
            .map_err(|error| error.into_error())?;
        file.sync_all()?;
        let snapshot = self.dir.join(SNAPSHOT_FILE);
        std::fs::rename(&self.partial, &snapshot)?;
        let manifest = Manifest {
            format: SNAPSHOT_FORMAT,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            source,
            head,
            counts,
            snapshot: SNAPSHOT_FILE.into(),
            sha256: hex_digest(self.hasher),
            bytes: self.bytes,
            rebuilt_keyspaces: REBUILT_KEYSPACES
                .iter()
                .map(|name| (*name).into())
                .collect(),
        };
        let partial = self.dir.join(format!("{MANIFEST_FILE}.partial"));
        let mut file = create_private(&partial)?;
        serde_json::to_writer_pretty(&mut file, &manifest)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&partial, self.dir.join(MANIFEST_FILE))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(manifest)
    }

    /// Removes what was written after a failure.
    fn discard(self) {
        drop(self.writer);
        let _ = std::fs::remove_file(&self.partial);
    }
}

/// A new file, readable by its owner only (0600) from its first moment: a backup holds token
/// hashes, webhook secrets and wrapped personal-data keys.
fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

fn hex_digest(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Runs `caseledger backup`.
pub async fn run_backup(args: &BackupArgs) -> anyhow::Result<()> {
    let mut backup = BackupWriter::create(&args.out)?;
    let written = match (&args.data_dir, &args.url) {
        (Some(data_dir), _) => backup_data_dir(data_dir, &mut backup).await,
        (None, Some(url)) => {
            let token_file = args
                .token_file
                .as_deref()
                .context("--url needs --token-file")?;
            backup_url(url, token_file, &mut backup).await
        }
        (None, None) => Err(anyhow::anyhow!("give --data-dir or --url")),
    };
    let source = match written {
        Ok(source) => source,
        Err(error) => {
            backup.discard();
            return Err(error.context(format!("the backup to {} failed", args.out.display())));
        }
    };
    let manifest = backup
        .finish(source)
        .with_context(|| format!("cannot finish the backup in {}", args.out.display()))?;
    println!(
        "backed up {} to {}: chain verified, head {}",
        counts_line(&manifest.counts),
        args.out.display(),
        head_text(manifest.head)
    );
    Ok(())
}

/// Writes the snapshot of a stopped service's data dir; returns the source's description.
async fn backup_data_dir(data_dir: &Path, backup: &mut BackupWriter) -> anyhow::Result<String> {
    let source = Opened::open(&Location::DataDir(data_dir.to_owned())).await?;
    let mut reader = snapshot_reader(source.snapshot());
    let mut progress = Progress::new("backing up", Some(source.head().position.0));
    let mut events = 0;
    let written: anyhow::Result<()> = async {
        while let Some(records) = reader.next_chunk().await.context("reading the store")? {
            events += events_in(&records);
            for record in &records {
                backup.write(record)?;
            }
            progress.set(events);
        }
        Ok(())
    }
    .await;
    progress.finish();
    drop(reader);
    source.close().await;
    written?;
    Ok(format!("data dir {}", data_dir.display()))
}

/// Streams `GET {url}/v1/admin/backup` into the backup; returns the source's description.
async fn backup_url(
    url: &str,
    token_file: &Path,
    backup: &mut BackupWriter,
) -> anyhow::Result<String> {
    let token = std::fs::read_to_string(token_file)
        .with_context(|| format!("cannot read the token file {}", token_file.display()))?;
    let token = token.trim();
    if token.is_empty() {
        anyhow::bail!("the token file {} is empty", token_file.display());
    }
    let endpoint = format!("{}/v1/admin/backup", url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .context("cannot build the HTTP client")?;
    let mut response = client
        .get(&endpoint)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|problem| {
                problem["detail"]
                    .as_str()
                    .or(problem["title"].as_str())
                    .map(str::to_owned)
            })
            .unwrap_or(body);
        anyhow::bail!("{endpoint} answered {status}: {detail}");
    }
    let mut progress = Progress::new("backing up", None);
    let mut pending: Vec<u8> = Vec::new();
    let mut events = 0;
    let streamed: anyhow::Result<()> = async {
        while let Some(chunk) = response
            .chunk()
            .await
            .context("the backup stream broke off (the service logs why)")?
        {
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|byte| *byte == b'\n') {
                let line = &pending[start..start + end];
                let record: SnapshotRecord = serde_json::from_slice(line)
                    .context("the service sent a line that is not a snapshot record")?;
                if matches!(record, SnapshotRecord::Event { .. }) {
                    events += 1;
                }
                backup.write(&record)?;
                start += end + 1;
            }
            pending.drain(..start);
            progress.set(events);
        }
        if !pending.is_empty() {
            anyhow::bail!("the backup stream ends in the middle of a line");
        }
        Ok(())
    }
    .await;
    progress.finish();
    streamed?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// Runs `caseledger restore`.
pub async fn run_restore(args: &RestoreArgs) -> anyhow::Result<()> {
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
    let sled_dir = data_dir.join(SLED_DIR);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use caseledger_store::Position;

    #[test]
    fn locations_are_data_dirs_or_postgres_urls() {
        assert_eq!(
            "/srv/caseledger".parse::<Location>().unwrap(),
            Location::DataDir(PathBuf::from("/srv/caseledger"))
        );
        let url = "postgres://u:secret@db/caseledger";
        let location: Location = url.parse().unwrap();
        assert_eq!(location, Location::Postgres(url.into()));
        assert!(!location.to_string().contains("secret"));
        assert!("mysql://u@h/d".parse::<Location>().is_err());
        assert!("".parse::<Location>().is_err());
    }

    #[test]
    fn a_stream_check_needs_begin_first_and_end_last() {
        let mut check = StreamCheck::new();
        assert!(check
            .check(&SnapshotRecord::Idempotency {
                key: "k".into(),
                record: serde_json::from_value(serde_json::json!({
                    "fingerprint": "f", "recorded_at_unix": 0,
                    "committed": {"stream": uuid_nil(), "first_version": 1, "last_version": 1,
                                  "first_position": 1, "last_position": 1}
                }))
                .unwrap(),
            })
            .is_err());
        let mut check = StreamCheck::new();
        check
            .check(&SnapshotRecord::Begin {
                format: SNAPSHOT_FORMAT,
            })
            .unwrap();
        assert!(check.finished().is_err());
        check
            .check(&SnapshotRecord::End {
                head: Head::EMPTY,
                events: 0,
                keyspace_entries: 0,
                idempotency_records: 0,
            })
            .unwrap();
        assert_eq!(check.finished().unwrap().0, Head::EMPTY);
        let wrong = SnapshotRecord::End {
            head: Head {
                position: Position(1),
                hash: Head::EMPTY.hash,
            },
            events: 1,
            keyspace_entries: 0,
            idempotency_records: 0,
        };
        let mut check = StreamCheck::new();
        check
            .check(&SnapshotRecord::Begin {
                format: SNAPSHOT_FORMAT,
            })
            .unwrap();
        assert!(check.check(&wrong).is_err());
    }

    fn uuid_nil() -> String {
        "00000000-0000-0000-0000-000000000000".into()
    }
}
