//! `caseledger audit verify FILE [--public-key KEY --checkpoints FILE2] [--attachments DIR]`:
//! checks the hash chain of an export offline, that it agrees with the service's signed
//! checkpoints, and that downloaded files are recorded in it (`super::attachments`).
//!
//! This module owns verifying an NDJSON export read line by line ([`ExportLines`], from
//! `super::lines`), in constant memory whatever its size: feeding each line to the store's
//! [`ChainVerifier`], checking every signed
//! checkpoint the export covers ([`Witnesses`]) as the stream passes its position, and turning
//! the result into a [`Verdict`] and an exit code. It needs no server and no data dir, and it
//! trusts nothing in its input: a broken export is a `bad:` verdict (exit 1), an unreadable key
//! or checkpoints file is an error (exit 2), and neither is ever a panic. The checkpoints are
//! the only thing held in memory, as a map by position: there is one per thousand events.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal as _, Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use caseledger_store::note::{SignedNote, VerifierKey};
use caseledger_store::tree::Frontier;
use caseledger_store::{ChainVerifier, Checkpoint, Head};
use serde::Deserialize;

pub use super::lines::{ExportLine, ExportLines, MAX_LINE_BYTES};
use crate::cli::VerifyArgs;

/// How many events between two progress lines on a terminal.
pub const PROGRESS_EVERY: u64 = 100_000;

/// The largest checkpoints file read (there is one checkpoint, about 250 bytes, per thousand
/// events: this is room for billions of events).
pub const MAX_CHECKPOINTS_BYTES: u64 = 256 * 1024 * 1024;

/// How many checkpoints of the export were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckpointTally {
    /// Checkpoints at positions the export holds: signature valid, hash equal to the export's.
    pub verified: u64,
    /// Checkpoints after the export's last position (a truncated export is a valid prefix).
    pub beyond: u64,
    /// Of the verified checkpoints, those that also stated the Merkle tree's root, checked
    /// against the root computed from the export.
    pub roots: u64,
    /// The largest tree size whose checkpoint enough witnesses co-signed, when witnesses
    /// were asked for.
    pub witnessed: Option<u64>,
}

/// The outcome of verifying an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The whole file is an intact chain from position 1, and it agrees with every checkpoint
    /// it covers.
    Intact {
        /// How many events it holds.
        events: u64,
        /// The last position and its hash (position 0 and 64 zeros for an empty file).
        head: Head,
        /// The checkpoints checked, when any were given.
        checkpoints: Option<CheckpointTally>,
    },
    /// The chain is broken at `position`, or disagrees there with a signed checkpoint.
    Broken {
        /// The first bad position.
        position: u64,
        /// Why.
        reason: String,
    },
    /// A checkpoint at a position the export covers does not carry a valid signature.
    BadCheckpointSignature {
        /// The checkpoint's position.
        position: u64,
    },
    /// The chain is intact and agrees with its checkpoints, but no checkpoint it covers was
    /// co-signed by as many of the given witnesses as required.
    NotWitnessed {
        /// How many were required.
        required: usize,
        /// The most any covered checkpoint had.
        best: usize,
    },
}

impl Verdict {
    /// The first line printed on stdout: `ok: N events, head <position> <hash>`,
    /// `bad: position P: <reason>` or `bad: checkpoint at position P: bad signature`.
    pub fn line(&self) -> String {
        match self {
            Verdict::Intact { events, head, .. } => {
                format!("ok: {events} events, head {} {}", head.position, head.hash)
            }
            Verdict::Broken { position, reason } => format!("bad: position {position}: {reason}"),
            Verdict::BadCheckpointSignature { position } => {
                format!("bad: checkpoint at position {position}: bad signature")
            }
            Verdict::NotWitnessed { required, best } => format!(
                "bad: no checkpoint the export covers is co-signed by {required} of the given \
                 witnesses (at most {best})"
            ),
        }
    }

    /// Every line printed on stdout: [`Verdict::line`], then, when checkpoints were checked,
    /// `checkpoints: K verified, M beyond the export`.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.line()];
        if let Verdict::Intact {
            checkpoints: Some(tally),
            ..
        } = self
        {
            lines.push(format!(
                "checkpoints: {} verified, {} beyond the export",
                tally.verified, tally.beyond
            ));
            if tally.roots > 0 {
                lines.push(format!(
                    "merkle roots: {} checkpoints' roots agree with the export",
                    tally.roots
                ));
            }
            if let Some(size) = tally.witnessed {
                lines.push(format!("witnessed: tree size {size} co-signed"));
            }
        }
        lines
    }

    /// 0 for an intact chain, 1 for a broken one.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Verdict::Intact { .. } => ExitCode::SUCCESS,
            Verdict::Broken { .. }
            | Verdict::BadCheckpointSignature { .. }
            | Verdict::NotWitnessed { .. } => ExitCode::FAILURE,
        }
    }
}

/// The service's signed checkpoints and the public key that verifies them: what an auditor
/// holds apart from the export. Checkpoints are kept by position (several at one position are
/// all checked).
#[derive(Debug, Clone, Default)]
pub struct Witnesses {
    public_key: String,
    by_position: BTreeMap<u64, Vec<Checkpoint>>,
    /// Independent witnesses whose cosignatures a covered checkpoint must carry, and how many.
    cosigners: Vec<VerifierKey>,
    min_cosigners: usize,
}

/// `GET /v1/audit/public-key`.
#[derive(Deserialize)]
struct PublicKeyDocument {
    #[serde(default)]
    algorithm: Option<String>,
    public_key: String,
}

impl Witnesses {
    /// Checkpoints checked with `public_key` (standard base64 of the 32-byte Ed25519 key).
    pub fn new(public_key: &str, checkpoints: impl IntoIterator<Item = Checkpoint>) -> Self {
        let mut by_position: BTreeMap<u64, Vec<Checkpoint>> = BTreeMap::new();
        for checkpoint in checkpoints {
            let same_position = by_position.entry(checkpoint.position.0).or_default();
            if !same_position.contains(&checkpoint) {
                same_position.push(checkpoint);
            }
        }
        Witnesses {
            public_key: public_key.to_owned(),
            by_position,
            cosigners: Vec::new(),
            min_cosigners: 0,
        }
    }

    /// Requires some covered checkpoint to be co-signed by `min` of `cosigners`.
    pub fn with_cosigners(mut self, cosigners: Vec<VerifierKey>, min: usize) -> Self {
        self.cosigners = cosigners;
        self.min_cosigners = min;
        self
    }

    /// How many of the required witnesses co-signed `checkpoint`'s note.
    fn cosignatures(&self, checkpoint: &Checkpoint) -> usize {
        checkpoint
            .note
            .as_deref()
            .and_then(|note| SignedNote::parse(note).ok())
            .map_or(0, |note| note.count_cosignatures(&self.cosigners))
    }

    /// Reads `--public-key KEY` and `--checkpoints FILE2`.
    pub fn load(public_key: &str, checkpoints: &Path) -> anyhow::Result<Witnesses> {
        let public_key = read_public_key(public_key)?;
        let checkpoints = read_checkpoints_file(checkpoints)?;
        Ok(Witnesses::new(&public_key, checkpoints))
    }

    /// How many distinct checkpoints there are.
    pub fn len(&self) -> usize {
        self.by_position.values().map(Vec::len).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_position.is_empty()
    }
}

/// The public key given as `KEY`: the base64 key itself, the JSON of
/// `GET /v1/audit/public-key`, or a file holding either. Returns the key in standard base64.
pub fn read_public_key(argument: &str) -> anyhow::Result<String> {
    let path = Path::new(argument);
    if path.is_file() {
        let text = read_capped(path, 64 * 1024)
            .with_context(|| format!("cannot read the public key file {}", path.display()))?;
        return parse_public_key(&text).with_context(|| {
            format!(
                "the public key file {} holds neither a base64 Ed25519 public key nor the JSON \
                 of GET /v1/audit/public-key",
                path.display()
            )
        });
    }
    parse_public_key(argument).context(
        "--public-key is neither a base64 Ed25519 public key, nor the JSON of \
         GET /v1/audit/public-key, nor a readable file holding one of them",
    )
}

fn parse_public_key(text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    let key = if text.starts_with('{') {
        let document: PublicKeyDocument =
            serde_json::from_str(text).context("the JSON has no string `public_key`")?;
        if let Some(algorithm) = document.algorithm {
            if !algorithm.eq_ignore_ascii_case("ed25519") {
                anyhow::bail!("the key's algorithm is {algorithm:?}, not ed25519");
            }
        }
        document.public_key
    } else {
        text.to_owned()
    };
    let key = caseledger_store::encoding::parse_ed25519_public_key(&key)
        .map_err(|error| anyhow::anyhow!("the public key is {error}"))?;
    Ok(caseledger_store::encoding::encode_base64_32(key.as_bytes()))
}

/// Reads the checkpoints file: the JSON of `GET /v1/audit/checkpoints`
/// (`{"checkpoints":[…]}`), a JSON array of checkpoints, or NDJSON, one checkpoint a line.
/// Each checkpoint may also be an `audit.checkpoint` webhook message, whose `data` is the
/// checkpoint.
pub fn read_checkpoints_file(path: &Path) -> anyhow::Result<Vec<Checkpoint>> {
    let text = read_capped(path, MAX_CHECKPOINTS_BYTES)
        .with_context(|| format!("cannot read the checkpoints file {}", path.display()))?;
    parse_checkpoints(&text)
        .with_context(|| format!("the checkpoints file {} is not usable", path.display()))
}

/// Parses the text of a checkpoints file (see [`read_checkpoints_file`]).
pub fn parse_checkpoints(text: &str) -> anyhow::Result<Vec<Checkpoint>> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => checkpoints_from(items, "item"),
        Ok(serde_json::Value::Object(mut object)) => match object.remove("checkpoints") {
            Some(serde_json::Value::Array(items)) => checkpoints_from(items, "item"),
            Some(_) => anyhow::bail!("`checkpoints` is not an array"),
            // A single line of NDJSON.
            None => Ok(vec![
                checkpoint_from(serde_json::Value::Object(object)).context("line 1")?
            ]),
        },
        Ok(_) => anyhow::bail!(
            "expected the JSON of GET /v1/audit/checkpoints, a JSON array of checkpoints, or \
             one checkpoint object a line"
        ),
        Err(whole) => {
            // Not one JSON document: NDJSON, or garbage.
            let mut checkpoints = Vec::new();
            for (index, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let value: serde_json::Value = serde_json::from_str(line).map_err(|error| {
                    if index == 0 {
                        anyhow::anyhow!(
                            "neither JSON ({whole}) nor one checkpoint object a line (line 1: \
                             {error})"
                        )
                    } else {
                        anyhow::anyhow!("line {}: not JSON: {error}", index + 1)
                    }
                })?;
                checkpoints
                    .push(checkpoint_from(value).with_context(|| format!("line {}", index + 1))?);
            }
            Ok(checkpoints)
        }
    }
}

fn checkpoints_from(items: Vec<serde_json::Value>, what: &str) -> anyhow::Result<Vec<Checkpoint>> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| checkpoint_from(item).with_context(|| format!("{what} {}", index + 1)))
        .collect()
}

fn checkpoint_from(mut value: serde_json::Value) -> anyhow::Result<Checkpoint> {
    // An `audit.checkpoint` webhook message carries the checkpoint in `data`.
    if value.get("type").and_then(serde_json::Value::as_str) == Some("audit.checkpoint") {
        if let Some(data) = value.get_mut("data") {
            value = data.take();
        }
    }
    let checkpoint: Checkpoint = serde_json::from_value(value).context(
        "not a checkpoint {\"position\",\"hash\",\"at\",\"signature\"} (position a whole \
         number, hash 64 hex digits, at and signature strings)",
    )?;
    if checkpoint.position.0 == 0 {
        anyhow::bail!("a checkpoint's position is at least 1");
    }
    Ok(checkpoint)
}

/// Parses `--witness` verifier keys (`name+keyid+base64` of a cosignature key).
pub fn read_verifier_keys(keys: &[String]) -> anyhow::Result<Vec<VerifierKey>> {
    keys.iter()
        .map(|text| {
            let key = VerifierKey::parse(text.trim())
                .with_context(|| format!("--witness {text} is not a verifier key"))?;
            anyhow::ensure!(
                key.kind == caseledger_store::note::KeyKind::Cosignature,
                "--witness {text} is not a witness's cosignature key (type 0x04)"
            );
            Ok(key)
        })
        .collect()
}

/// `--min-witnesses`, checked against how many `--witness` keys there are (all by default).
pub fn min_witnesses(given: Option<usize>, keys: usize) -> anyhow::Result<usize> {
    let min = given.unwrap_or(keys);
    anyhow::ensure!(
        min <= keys,
        "--min-witnesses {min} asks for more witnesses than the {keys} --witness keys given"
    );
    anyhow::ensure!(
        given.is_none() || keys > 0,
        "--min-witnesses needs --witness keys"
    );
    Ok(min)
}

pub(crate) fn read_capped(path: &Path, limit: u64) -> anyhow::Result<String> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        anyhow::bail!("it is a directory");
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        anyhow::bail!("it is larger than {limit} bytes");
    }
    String::from_utf8(bytes).context("it is not UTF-8 text")
}

/// Runs `caseledger audit verify`: prints the verdict on stdout and returns its exit code.
/// An error (a file cannot be read or makes no sense) is for `main` to report with exit code 2.
pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let witnesses = match (&args.public_key, &args.checkpoints) {
        (Some(public_key), Some(checkpoints)) => {
            let cosigners = read_verifier_keys(&args.witnesses)?;
            let min = min_witnesses(args.min_witnesses, cosigners.len())?;
            Some(Witnesses::load(public_key, checkpoints)?.with_cosigners(cosigners, min))
        }
        (None, None) => None,
        _ => anyhow::bail!("--public-key and --checkpoints go together"),
    };
    if let Some(witnesses) = &witnesses {
        eprintln!(
            "checking the export against {} signed checkpoints",
            witnesses.len()
        );
    }
    let started = Instant::now();
    let verdict = verify_file(&args.file, witnesses.as_ref(), |events| {
        if io::stderr().is_terminal() {
            eprintln!("verified {events} events…");
        }
    })?;
    let events = match &verdict {
        Verdict::Intact { events, .. } => *events,
        Verdict::Broken { position, .. } | Verdict::BadCheckpointSignature { position } => {
            position.saturating_sub(1)
        }
        Verdict::NotWitnessed { .. } => 0,
    };
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("checked {events} events in {seconds:.2} s");
    if let Verdict::Intact {
        checkpoints: Some(tally),
        ..
    } = &verdict
    {
        if tally.verified == 0 && tally.beyond > 0 {
            eprintln!(
                "note: the export ends before the first checkpoint; only its hash chain was checked"
            );
        }
    }
    let mut lines = verdict.lines();
    let mut exit = verdict.exit_code();
    if let Some(dir) = &args.attachments {
        if matches!(verdict, Verdict::Intact { .. }) {
            let recorded = super::attachments::recorded_attachments(open_export(&args.file)?)?;
            let checks = super::attachments::check_folder(dir, &recorded)?;
            let unknown = checks.iter().filter(|check| !check.is_recorded()).count();
            lines.extend(checks.iter().map(super::attachments::FileCheck::line));
            lines.push(format!(
                "attachments: {} of {} files recorded in the export",
                checks.len() - unknown,
                checks.len()
            ));
            if unknown > 0 {
                exit = ExitCode::FAILURE;
            }
        } else {
            lines.push("attachments: not checked against a broken chain".to_owned());
        }
    }
    let mut stdout = io::stdout().lock();
    for line in lines {
        writeln!(stdout, "{line}").context("cannot write the verdict to stdout")?;
    }
    stdout
        .flush()
        .context("cannot write the verdict to stdout")?;
    Ok(exit)
}

/// Verifies the export at `path`, against `witnesses` when given, calling `progress` with the
/// count every [`PROGRESS_EVERY`] events.
pub fn verify_file(
    path: &Path,
    witnesses: Option<&Witnesses>,
    progress: impl FnMut(u64),
) -> anyhow::Result<Verdict> {
    let reader = open_export(path)?;
    verify_reader(reader, witnesses, progress)
        .with_context(|| format!("cannot read the export {}", path.display()))
}

/// Opens an export file for reading, refusing a directory.
pub fn open_export(path: &Path) -> anyhow::Result<BufReader<File>> {
    let file =
        File::open(path).with_context(|| format!("cannot open the export {}", path.display()))?;
    if file
        .metadata()
        .with_context(|| format!("cannot read the export {}", path.display()))?
        .is_dir()
    {
        anyhow::bail!(
            "cannot read the export {}: it is a directory",
            path.display()
        );
    }
    Ok(BufReader::with_capacity(1 << 20, file))
}

/// Verifies an export read from `reader`, line by line. A final line without a newline counts;
/// any other line that is not an envelope (blank lines included) breaks the chain.
pub fn verify_reader(
    reader: impl BufRead,
    witnesses: Option<&Witnesses>,
    progress: impl FnMut(u64),
) -> io::Result<Verdict> {
    verify_lines(reader, witnesses, PROGRESS_EVERY, progress)
}

fn verify_lines(
    reader: impl BufRead,
    witnesses: Option<&Witnesses>,
    progress_every: u64,
    mut progress: impl FnMut(u64),
) -> io::Result<Verdict> {
    let mut verifier = ChainVerifier::new();
    // The Merkle tree of the chain's hashes so far, to check the roots checkpoints state.
    let mut tree = Frontier::new();
    let mut best_cosigned = 0usize;
    let mut lines = ExportLines::new(reader);
    // The checkpoints in position order; the next one waits for its position to come by.
    let mut pending = witnesses
        .map(|witnesses| witnesses.by_position.iter())
        .into_iter()
        .flatten()
        .peekable();
    let public_key = witnesses.map_or("", |witnesses| witnesses.public_key.as_str());
    let mut tally = CheckpointTally::default();
    let mut events = 0u64;
    while let Some(line) = lines.next_line()? {
        let position = events + 1;
        let ExportLine::Line(line) = line else {
            return Ok(Verdict::Broken {
                position,
                reason: format!("line longer than {MAX_LINE_BYTES} bytes: not an envelope"),
            });
        };
        let head = match verifier.verify(line) {
            Ok(head) => head,
            Err(error) => {
                return Ok(Verdict::Broken {
                    position: error.position.0,
                    reason: error.fault.to_string(),
                })
            }
        };
        events = position;
        if witnesses.is_some() {
            tree.push(&head.hash.0);
        }
        if let Some(checkpoints) = pending.next_if(|(at, _)| **at == position).map(|(_, c)| c) {
            for checkpoint in checkpoints {
                if checkpoint.verify(public_key).is_err() {
                    return Ok(Verdict::BadCheckpointSignature { position });
                }
                if checkpoint.hash != head.hash {
                    return Ok(Verdict::Broken {
                        position,
                        reason: format!("disagrees with signed checkpoint at position {position}"),
                    });
                }
                if checkpoint.root_hash.is_some() {
                    if checkpoint.root() != Some(tree.root()) {
                        return Ok(Verdict::Broken {
                            position,
                            reason: format!(
                                "the Merkle root of the export's first {position} events \
                                 disagrees with the signed checkpoint at tree size {position}"
                            ),
                        });
                    }
                    tally.roots += 1;
                }
                if let Some(witnesses) = witnesses.filter(|w| !w.cosigners.is_empty()) {
                    let count = witnesses.cosignatures(checkpoint);
                    best_cosigned = best_cosigned.max(count);
                    if count >= witnesses.min_cosigners {
                        tally.witnessed = Some(position);
                    }
                }
                tally.verified += 1;
            }
        }
        if events.is_multiple_of(progress_every) {
            progress(events);
        }
    }
    tally.beyond = pending
        .map(|(_, checkpoints)| checkpoints.len() as u64)
        .sum();
    if let Some(witnesses) = witnesses.filter(|w| !w.cosigners.is_empty()) {
        if tally.witnessed.is_none() {
            return Ok(Verdict::NotWitnessed {
                required: witnesses.min_cosigners,
                best: best_cosigned,
            });
        }
    }
    Ok(Verdict::Intact {
        events,
        head: verifier.head(),
        checkpoints: witnesses.map(|_| tally),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use caseledger_store::chain::seal;
    use caseledger_store::checkpoint::public_key_base64;
    use caseledger_store::{ChainHash, Position, Version};
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    use super::*;

    const AT: &str = "2026-11-29T08:00:00.000000Z";

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    /// An export of `count` notes, and the head after each position (index 0 = position 1).
    fn export_with_heads(count: u64) -> (Vec<u8>, Vec<Head>) {
        let mut previous = ChainHash::GENESIS;
        let mut export = Vec::new();
        let mut heads = Vec::new();
        for n in 1..=count {
            let event = json!({"type": "NoteAdded", "data": {"text": format!("note {n}")}});
            let (recorded, bytes) = seal(Position(n), Version(n), &event, previous).unwrap();
            previous = recorded.hash;
            heads.push(Head {
                position: Position(n),
                hash: recorded.hash,
            });
            export.extend_from_slice(&bytes);
            export.push(b'\n');
        }
        (export, heads)
    }

    fn export_of(count: u64) -> Vec<u8> {
        export_with_heads(count).0
    }

    fn verdict_of(bytes: &[u8]) -> Verdict {
        verify_reader(bytes, None, |_| {}).unwrap()
    }

    fn checked_against(bytes: &[u8], checkpoints: Vec<Checkpoint>) -> Verdict {
        let witnesses = Witnesses::new(&public_key_base64(&key()), checkpoints);
        verify_reader(bytes, Some(&witnesses), |_| {}).unwrap()
    }

    fn signed(head: Head) -> Checkpoint {
        Checkpoint::sign(&key(), head, AT.into())
    }

    #[test]
    fn an_empty_export_is_an_empty_chain() {
        let verdict = verdict_of(b"");
        assert_eq!(
            verdict.line(),
            format!("ok: 0 events, head 0 {}", "0".repeat(64))
        );
        assert_eq!(verdict.exit_code(), ExitCode::SUCCESS);
    }

    #[test]
    fn an_intact_export_reports_its_head() {
        let export = export_of(3);
        let Verdict::Intact {
            events,
            head,
            checkpoints: None,
        } = verdict_of(&export)
        else {
            panic!("an intact export verifies")
        };
        assert_eq!(events, 3);
        assert_eq!(head.position, Position(3));
        let last_line = export.split(|byte| *byte == b'\n').nth(2).unwrap();
        let last: serde_json::Value = serde_json::from_slice(last_line).unwrap();
        assert_eq!(
            verdict_of(&export).lines(),
            [format!(
                "ok: 3 events, head 3 {}",
                last["hash"].as_str().unwrap()
            )]
        );

        // The newline after the last envelope is optional.
        assert_eq!(verdict_of(&export[..export.len() - 1]), verdict_of(&export));
    }

    #[test]
    fn a_tampered_export_names_the_first_bad_position() {
        let export = String::from_utf8(export_of(4)).unwrap();
        let edited = export.replace("note 3", "note X");
        let verdict = verdict_of(edited.as_bytes());
        assert_eq!(
            verdict.line(),
            "bad: position 3: hash does not match the content (the event was edited)"
        );
        assert_eq!(verdict.exit_code(), ExitCode::FAILURE);

        let lines: Vec<&str> = export.lines().collect();
        let dropped = [lines[0], lines[2], lines[3]].join("\n");
        assert!(verdict_of(dropped.as_bytes())
            .line()
            .starts_with("bad: position 2: expected position 2, found 3"));
    }

    #[test]
    fn garbage_is_a_verdict_not_a_panic() {
        let intact = export_of(2);
        let garbage: &[&[u8]] = &[
            b"\n",
            b"not json\n",
            b"[1,2,3]\n",
            b"{}\n",
            b"{\"position\": -1}\n",
            b"{\"position\": 1, \"hash\": \"zz\"}\n",
            b"\xff\xfe\x00garbage",
            b"{\"position\": 1e400}",
        ];
        for bytes in garbage {
            let verdict = verdict_of(bytes);
            assert!(
                matches!(verdict, Verdict::Broken { position: 1, .. }),
                "{:?}: {verdict:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // A blank line between envelopes is not an envelope.
        let mut with_blank = intact.clone();
        with_blank.extend_from_slice(b"\n");
        assert!(matches!(
            verdict_of(&with_blank),
            Verdict::Broken { position: 3, .. }
        ));
    }

    #[test]
    fn progress_is_reported_at_every_multiple() {
        let mut calls = Vec::new();
        let verdict =
            verify_lines(&export_of(7)[..], None, 3, |events| calls.push(events)).unwrap();
        assert!(matches!(verdict, Verdict::Intact { events: 7, .. }));
        assert_eq!(calls, [3, 6]);
    }

    #[test]
    fn unreadable_files_are_errors() {
        let directory = tempfile::tempdir().unwrap();
        let missing = directory.path().join("missing.ndjson");
        let error = verify_file(&missing, None, |_| {}).unwrap_err();
        assert!(format!("{error:#}").contains("cannot open the export"));
        let error = verify_file(directory.path(), None, |_| {}).unwrap_err();
        assert!(format!("{error:#}").contains("cannot read the export"));

        let file = directory.path().join("export.ndjson");
        std::fs::write(&file, export_of(2)).unwrap();
        assert!(matches!(
            verify_file(&file, None, |_| {}).unwrap(),
            Verdict::Intact { events: 2, .. }
        ));
    }

    #[test]
    fn every_checkpoint_the_export_covers_is_verified() {
        let (export, heads) = export_with_heads(5);
        let verdict = checked_against(&export, vec![signed(heads[1]), signed(heads[4])]);
        assert_eq!(
            verdict.lines(),
            [
                format!("ok: 5 events, head 5 {}", heads[4].hash),
                "checkpoints: 2 verified, 0 beyond the export".to_owned()
            ]
        );
        assert_eq!(verdict.exit_code(), ExitCode::SUCCESS);

        // No checkpoints at all is still a verdict on the chain.
        assert_eq!(
            checked_against(&export, Vec::new()).lines()[1],
            "checkpoints: 0 verified, 0 beyond the export"
        );
    }

    #[test]
    fn a_truncated_export_leaves_later_checkpoints_unchecked_but_counted() {
        let (export, heads) = export_with_heads(5);
        let first_three: usize = export
            .split_inclusive(|byte| *byte == b'\n')
            .take(3)
            .map(<[u8]>::len)
            .sum();
        let checkpoints = vec![signed(heads[1]), signed(heads[3]), signed(heads[4])];
        let verdict = checked_against(&export[..first_three], checkpoints);
        assert_eq!(
            verdict.lines(),
            [
                format!("ok: 3 events, head 3 {}", heads[2].hash),
                "checkpoints: 1 verified, 2 beyond the export".to_owned()
            ]
        );
        assert_eq!(verdict.exit_code(), ExitCode::SUCCESS);
    }

    #[test]
    fn a_forged_checkpoint_is_a_bad_signature() {
        let (export, heads) = export_with_heads(5);
        // Another key signed it.
        let stranger = SigningKey::from_bytes(&[8; 32]);
        let forged = Checkpoint::sign(&stranger, heads[2], AT.into());
        let verdict = checked_against(&export, vec![signed(heads[1]), forged]);
        assert_eq!(
            verdict.line(),
            "bad: checkpoint at position 3: bad signature"
        );
        assert_eq!(verdict.exit_code(), ExitCode::FAILURE);

        // Its signed fields were changed after signing.
        let mut moved = signed(heads[2]);
        moved.at = "2026-11-30T08:00:00.000000Z".into();
        assert_eq!(
            checked_against(&export, vec![moved]).line(),
            "bad: checkpoint at position 3: bad signature"
        );

        // Its signature is not even base64.
        let mut garbled = signed(heads[2]);
        garbled.signature = "!!".into();
        assert_eq!(
            checked_against(&export, vec![garbled]).line(),
            "bad: checkpoint at position 3: bad signature"
        );
    }

    #[test]
    fn an_export_that_disagrees_with_a_checkpoint_is_caught_at_its_position() {
        // The service signed one history; the export shows another, consistently rehashed.
        let (_, signed_history) = export_with_heads(4);
        let mut previous = ChainHash::GENESIS;
        let mut rewritten = Vec::new();
        for n in 1..=4u64 {
            let text = if n == 2 {
                "rewritten".to_owned()
            } else {
                format!("note {n}")
            };
            let event = json!({"type": "NoteAdded", "data": {"text": text}});
            let (recorded, bytes) = seal(Position(n), Version(n), &event, previous).unwrap();
            previous = recorded.hash;
            rewritten.extend_from_slice(&bytes);
            rewritten.push(b'\n');
        }
        // On its own the rewritten chain verifies…
        assert!(matches!(verdict_of(&rewritten), Verdict::Intact { .. }));
        // …but not against what the service signed.
        let checkpoints = vec![signed(signed_history[0]), signed(signed_history[2])];
        let verdict = checked_against(&rewritten, checkpoints);
        assert_eq!(
            verdict.line(),
            "bad: position 3: disagrees with signed checkpoint at position 3"
        );
        assert_eq!(verdict.exit_code(), ExitCode::FAILURE);
    }

    #[test]
    fn a_broken_chain_is_reported_before_its_checkpoint() {
        let (export, heads) = export_with_heads(4);
        let edited = String::from_utf8(export)
            .unwrap()
            .replace("note 3", "note X");
        let verdict = checked_against(edited.as_bytes(), vec![signed(heads[2])]);
        assert_eq!(
            verdict.line(),
            "bad: position 3: hash does not match the content (the event was edited)"
        );
    }

    #[test]
    fn checkpoints_are_read_in_every_published_shape() {
        let (_, heads) = export_with_heads(3);
        let checkpoints = vec![signed(heads[0]), signed(heads[2])];
        let as_json = |checkpoint: &Checkpoint| serde_json::to_string(checkpoint).unwrap();
        let listed = format!(
            r#"{{"checkpoints":[{},{}]}}"#,
            as_json(&checkpoints[0]),
            as_json(&checkpoints[1])
        );
        let array = format!(
            "[{},{}]",
            as_json(&checkpoints[0]),
            as_json(&checkpoints[1])
        );
        let ndjson = format!(
            "{}\n\n{}\n",
            as_json(&checkpoints[0]),
            as_json(&checkpoints[1])
        );
        let webhook = format!(
            r#"{{"type":"audit.checkpoint","timestamp":"{AT}","data":{}}}"#,
            as_json(&checkpoints[1])
        );
        for text in [&listed, &array, &ndjson] {
            assert_eq!(parse_checkpoints(text).unwrap(), checkpoints, "{text}");
        }
        assert_eq!(
            parse_checkpoints(&webhook).unwrap(),
            [checkpoints[1].clone()]
        );
        assert_eq!(parse_checkpoints("").unwrap(), []);
        assert_eq!(parse_checkpoints(r#"{"checkpoints":[]}"#).unwrap(), []);
    }

    #[test]
    fn garbage_checkpoints_are_clear_errors() {
        let (_, heads) = export_with_heads(1);
        let good = serde_json::to_string(&signed(heads[0])).unwrap();
        for (text, expected) in [
            ("not json", "neither JSON"),
            ("42", "expected the JSON of GET /v1/audit/checkpoints"),
            (r#"{"checkpoints": 3}"#, "`checkpoints` is not an array"),
            (r#"[{"position": 1}]"#, "item 1"),
            (&format!("{good}\n{{oops"), "line 2: not JSON"),
            (&format!("{good}\n{{\"position\":\"x\"}}"), "line 2"),
            (
                &good.replace(r#""position":1"#, r#""position":0"#),
                "at least 1",
            ),
            (
                &good.replace(&heads[0].hash.to_hex(), "abc"),
                "not a checkpoint",
            ),
        ] {
            let error = parse_checkpoints(text).unwrap_err();
            assert!(format!("{error:#}").contains(expected), "{text}: {error:#}");
        }
    }

    #[test]
    fn the_public_key_is_read_in_every_published_shape() {
        let key = public_key_base64(&key());
        let directory = tempfile::tempdir().unwrap();
        let bare = directory.path().join("key.txt");
        std::fs::write(&bare, format!("{key}\n")).unwrap();
        let document = directory.path().join("public-key.json");
        std::fs::write(
            &document,
            format!(r#"{{"algorithm":"ed25519","public_key":"{key}"}}"#),
        )
        .unwrap();
        for argument in [
            key.clone(),
            format!(" {key}\n"),
            bare.display().to_string(),
            document.display().to_string(),
            format!(r#"{{"public_key":"{key}"}}"#),
        ] {
            assert_eq!(read_public_key(&argument).unwrap(), key, "{argument}");
        }

        let rsa = directory.path().join("rsa.json");
        std::fs::write(
            &rsa,
            format!(r#"{{"algorithm":"rsa","public_key":"{key}"}}"#),
        )
        .unwrap();
        let short = directory.path().join("short");
        std::fs::write(&short, "c2hvcnQ=").unwrap();
        for argument in [
            "no such file or key".to_owned(),
            "c2hvcnQ=".to_owned(),
            rsa.display().to_string(),
            short.display().to_string(),
            directory.path().display().to_string(),
        ] {
            let error = read_public_key(&argument).unwrap_err();
            assert!(
                format!("{error:#}").contains("neither a base64 Ed25519 public key"),
                "{argument}: {error:#}"
            );
        }
    }

    #[test]
    fn load_names_the_unreadable_checkpoints_file() {
        let directory = tempfile::tempdir().unwrap();
        let key = public_key_base64(&key());
        let missing = directory.path().join("missing.json");
        let error = Witnesses::load(&key, &missing).unwrap_err();
        assert!(format!("{error:#}").contains("cannot read the checkpoints file"));
        let binary = directory.path().join("binary");
        std::fs::write(&binary, b"\xff\xfe").unwrap();
        let error = Witnesses::load(&key, &binary).unwrap_err();
        assert!(format!("{error:#}").contains("not UTF-8"), "{error:#}");
    }

    /// The fenced code blocks of a Markdown text, without their fences.
    fn code_blocks(markdown: &str) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in markdown.lines() {
            if line.starts_with("```") {
                match current.take() {
                    Some(lines) => blocks.push(lines.join("\n")),
                    None => current = Some(Vec::new()),
                }
            } else if let Some(lines) = &mut current {
                lines.push(line);
            }
        }
        blocks
    }

    #[test]
    fn the_worked_example_in_docs_audit_md_is_true() {
        let doc = include_str!("../../../docs/audit.md");
        let (_, after_marker) = doc.split_once("<!-- example-export").unwrap();
        let export = code_blocks(after_marker).remove(0);
        let blocks = code_blocks(doc);
        let find = |prefix: &str| {
            blocks
                .iter()
                .find(|block| block.starts_with(prefix))
                .unwrap()
                .clone()
        };
        let public_key = read_public_key(&find(r#"{"algorithm""#)).unwrap();
        let checkpoints = parse_checkpoints(&find(r#"{"checkpoints""#)).unwrap();
        let witnesses = Witnesses::new(&public_key, checkpoints);
        let verdict = verify_reader(export.as_bytes(), Some(&witnesses), |_| {}).unwrap();
        assert_eq!(
            verdict.lines(),
            [
                "ok: 3 events, head 3 48e80bcef9eec263f6f69c8757007f2a543231b191aacbbc23ccae2dc0cdb96b",
                "checkpoints: 2 verified, 0 beyond the export"
            ]
        );

        // Each "hashed bytes" block hashes to the hash of its line of the export.
        let hashes: Vec<String> = export
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                value["hash"].as_str().unwrap().to_owned()
            })
            .collect();
        let mut checked = 0;
        for block in &blocks {
            let Some((prev_hash, canonical)) = block.split_once('\n') else {
                continue;
            };
            let Some(prev_hash) = ChainHash::from_hex(prev_hash) else {
                continue;
            };
            let hash = caseledger_store::chain::link_hash(&prev_hash, canonical.as_bytes());
            assert_eq!(hash.to_hex(), hashes[checked], "block {}", checked + 1);
            checked += 1;
        }
        assert_eq!(checked, 3);

        // The signed bytes shown are those of the second checkpoint.
        let signed = find(r#"{"at""#);
        let second = &witnesses.by_position[&3][0];
        assert_eq!(
            signed.as_bytes(),
            Checkpoint::signed_bytes(second.position, &second.hash, &second.at)
        );
    }

    #[test]
    fn duplicate_checkpoints_count_once_and_conflicting_ones_are_both_checked() {
        let (export, heads) = export_with_heads(3);
        let once = signed(heads[1]);
        let verdict = checked_against(&export, vec![once.clone(), once]);
        assert_eq!(
            verdict.lines()[1],
            "checkpoints: 1 verified, 0 beyond the export"
        );

        // Two signed statements about position 2 that cannot both be true.
        let other = Head {
            position: Position(2),
            hash: ChainHash([1; 32]),
        };
        let verdict = checked_against(&export, vec![signed(heads[1]), signed(other)]);
        assert_eq!(
            verdict.line(),
            "bad: position 2: disagrees with signed checkpoint at position 2"
        );
    }
}
