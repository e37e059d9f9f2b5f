//! `caseledger audit verify FILE --attachments DIR`: checks downloaded files against the chain.
//! Every file in `DIR` (and its subfolders) must hash, by SHA-256, to the `sha256` of an
//! `AttachmentAdded` event of the export — so a file an auditor holds is proved to be the one
//! recorded, whatever it is named. The export's chain is verified first (`super::verify`); a
//! file is checked only against a chain that holds.
//!
//! This module owns reading the export's attachment events (one more pass over the file, in
//! constant memory but for one entry per attachment) and hashing the files, a buffer at a time.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, Read as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::lines::{ExportLine, ExportLines};

/// An attachment as the export records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The event's log position.
    pub position: u64,
    /// The case.
    pub case_id: String,
    /// The attachment's id.
    pub attachment_id: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What one file in the folder proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCheck {
    /// Its bytes are those of a recorded attachment.
    Recorded {
        /// The file.
        path: PathBuf,
        /// Its SHA-256.
        sha256: String,
        /// Which attachment.
        attachment: Recorded,
    },
    /// Its SHA-256 is in no `AttachmentAdded` of the export.
    Unknown {
        /// The file.
        path: PathBuf,
        /// Its SHA-256.
        sha256: String,
    },
}

impl FileCheck {
    /// One line for stdout: `ok: <file> is attachment <id> of case <case> (position P)` or
    /// `bad: <file>: SHA-256 <hex> is in no AttachmentAdded of the export`.
    pub fn line(&self) -> String {
        match self {
            FileCheck::Recorded {
                path, attachment, ..
            } => format!(
                "ok: {} is attachment {} of case {} (position {}, {} bytes)",
                path.display(),
                attachment.attachment_id,
                attachment.case_id,
                attachment.position,
                attachment.size
            ),
            FileCheck::Unknown { path, sha256 } => format!(
                "bad: {}: SHA-256 {sha256} is in no AttachmentAdded of the export",
                path.display()
            ),
        }
    }

    /// Whether the file is a recorded attachment.
    pub fn is_recorded(&self) -> bool {
        matches!(self, FileCheck::Recorded { .. })
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    position: u64,
    case_id: String,
    #[serde(default)]
    data: Option<AttachmentData>,
}

#[derive(Deserialize)]
struct AttachmentData {
    attachment_id: String,
    sha256: String,
    size: u64,
}

/// Every attachment the export at `reader` records, by SHA-256 (the first when the same bytes
/// are recorded on several cases). Lines that are not attachment events are skipped unread
/// beyond their type; the chain was verified before.
pub fn recorded_attachments(reader: impl BufRead) -> anyhow::Result<HashMap<String, Recorded>> {
    let mut lines = ExportLines::new(reader);
    let mut recorded = HashMap::new();
    while let Some(line) = lines.next_line()? {
        let ExportLine::Line(line) = line else {
            continue;
        };
        // Most lines are not attachments: look for the type before parsing the whole line.
        if !line
            .windows(br#""type":"AttachmentAdded""#.len())
            .any(|window| window == br#""type":"AttachmentAdded""#)
        {
            continue;
        }
        let envelope: Envelope =
            serde_json::from_slice(line).context("an AttachmentAdded line is not an envelope")?;
        if envelope.kind != "AttachmentAdded" {
            continue;
        }
        let Some(data) = envelope.data else {
            continue;
        };
        recorded.entry(data.sha256).or_insert(Recorded {
            position: envelope.position,
            case_id: envelope.case_id,
            attachment_id: data.attachment_id,
            size: data.size,
        });
    }
    Ok(recorded)
}

/// Checks every file under `dir` against `recorded`, in path order.
pub fn check_folder(
    dir: &Path,
    recorded: &HashMap<String, Recorded>,
) -> anyhow::Result<Vec<FileCheck>> {
    let mut files = Vec::new();
    collect_files(dir, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let sha256 = sha256_of(&path)?;
            Ok(match recorded.get(&sha256) {
                Some(attachment) => FileCheck::Recorded {
                    path,
                    sha256,
                    attachment: attachment.clone(),
                },
                None => FileCheck::Unknown { path, sha256 },
            })
        })
        .collect()
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read the folder {}", dir.display()))?;
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        if kind.is_dir() {
            collect_files(&entry.path(), files)?;
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    Ok(())
}

/// The SHA-256 of the file at `path`, lowercase hex, read a megabyte at a time.
fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file
            .read(&mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    fn line(position: u64, kind: &str, data: &str) -> String {
        format!(
            r#"{{"case_id":"c-{position}","data":{data},"position":{position},"type":"{kind}"}}"#
        )
    }

    #[test]
    fn files_are_matched_by_their_bytes_whatever_their_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("renamed.bin"), b"payroll").unwrap();
        std::fs::create_dir(dir.path().join("more")).unwrap();
        std::fs::write(dir.path().join("more").join("forged.pdf"), b"payro11").unwrap();
        let digest = hex::encode(Sha256::digest(b"payroll"));
        let export = [
            line(1, "CaseOpened", r#"{"title":"t"}"#),
            line(
                2,
                "AttachmentAdded",
                &format!(r#"{{"attachment_id":"a-1","sha256":"{digest}","size":7}}"#),
            ),
        ]
        .join("\n");
        let recorded = recorded_attachments(export.as_bytes()).unwrap();
        assert_eq!(recorded.len(), 1);
        let checks = check_folder(dir.path(), &recorded).unwrap();
        assert_eq!(checks.len(), 2);
        assert!(!checks[0].is_recorded(), "{}", checks[0].line());
        assert!(checks[0].line().starts_with("bad: "));
        assert!(checks[1].is_recorded());
        assert!(
            checks[1]
                .line()
                .contains("attachment a-1 of case c-2 (position 2, 7 bytes)"),
            "{}",
            checks[1].line()
        );
    }
}
