//! `caseledger backup`: the whole store into a new directory, from a stopped service's data
//! dir or online from a running service's `GET /v1/admin/backup`.
//!
//! A backup is a directory with `snapshot.ndjson` (the store crate's snapshot records
//! ([`caseledger_store::snapshot`]), one a line) and `manifest.json` (format, head, counts and the
//! snapshot's SHA-256, written last, so a backup without it is incomplete). This module owns
//! those two files and the check of the records as they stream by (format, order, chain, end
//! record); `caseledger restore` ([`super::restore`]) reads them back.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use caseledger_app::backup::{snapshot_reader, REBUILT_KEYSPACES};
use caseledger_store::snapshot::{SnapshotCounts, SnapshotRecord, SNAPSHOT_FORMAT};
use caseledger_store::{ChainVerifier, Head};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::location::Location;
use super::opened::{counts_line, events_in, head_text, Opened};
use crate::cli::BackupArgs;
use crate::progress::Progress;

/// The snapshot file in a backup directory.
pub const SNAPSHOT_FILE: &str = "snapshot.ndjson";
/// The manifest file in a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";

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

pub(crate) fn hex_digest(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Runs `caseledger backup`.
pub async fn run(args: &BackupArgs) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use caseledger_store::Position;

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
