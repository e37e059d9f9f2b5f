//! `caseledger audit verify FILE`: checks the hash chain of an export offline.
//!
//! This module owns reading an NDJSON export line by line, in constant memory whatever its size,
//! feeding each line to the store's [`ChainVerifier`], and turning the result into a
//! [`Verdict`] and an exit code. It needs no server and no data dir, and it trusts nothing in
//! the file: garbage is a `bad:` verdict, never a panic. It does not verify signed checkpoints
//! yet.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal as _, Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use caseledger_store::{ChainVerifier, Head};

use crate::cli::VerifyArgs;

/// The longest line accepted. Envelopes are far smaller (request bodies are limited to about
/// 1 MiB); the cap keeps memory bounded on a file that is not an export at all.
pub const MAX_LINE_BYTES: u64 = 64 * 1024 * 1024;

/// How many events between two progress lines on a terminal.
pub const PROGRESS_EVERY: u64 = 100_000;

/// The outcome of verifying an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The whole file is an intact chain from position 1.
    Intact {
        /// How many events it holds.
        events: u64,
        /// The last position and its hash (position 0 and 64 zeros for an empty file).
        head: Head,
    },
    /// The chain is broken at `position`.
    Broken {
        /// The first bad position.
        position: u64,
        /// Why.
        reason: String,
    },
}

impl Verdict {
    /// The line printed on stdout: `ok: N events, head <position> <hash>` or
    /// `bad: position P: <reason>`.
    pub fn line(&self) -> String {
        match self {
            Verdict::Intact { events, head } => {
                format!("ok: {events} events, head {} {}", head.position, head.hash)
            }
            Verdict::Broken { position, reason } => format!("bad: position {position}: {reason}"),
        }
    }

    /// 0 for an intact chain, 1 for a broken one.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Verdict::Intact { .. } => ExitCode::SUCCESS,
            Verdict::Broken { .. } => ExitCode::FAILURE,
        }
    }
}

/// Runs `caseledger audit verify`: prints the verdict on stdout and returns its exit code.
/// An error (the file cannot be read) is for `main` to report with exit code 2.
pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    if args.public_key.is_some() || args.checkpoints.is_some() {
        anyhow::bail!(
            "checkpoint verification is not available yet; run `caseledger audit verify {}` \
             without --public-key and --checkpoints to check the hash chain alone",
            args.file.display()
        );
    }
    let started = Instant::now();
    let verdict = verify_file(&args.file, |events| {
        if io::stderr().is_terminal() {
            eprintln!("verified {events} events…");
        }
    })?;
    let events = match &verdict {
        Verdict::Intact { events, .. } => *events,
        Verdict::Broken { position, .. } => position.saturating_sub(1),
    };
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("checked {events} events in {seconds:.2} s");
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", verdict.line()).context("cannot write the verdict to stdout")?;
    stdout
        .flush()
        .context("cannot write the verdict to stdout")?;
    Ok(verdict.exit_code())
}

/// Verifies the export at `path`, calling `progress` with the count every
/// [`PROGRESS_EVERY`] events.
pub fn verify_file(path: &Path, progress: impl FnMut(u64)) -> anyhow::Result<Verdict> {
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
    verify_reader(BufReader::with_capacity(1 << 20, file), progress)
        .with_context(|| format!("cannot read the export {}", path.display()))
}

/// Verifies an export read from `reader`, line by line. A final line without a newline counts;
/// any other line that is not an envelope (blank lines included) breaks the chain.
pub fn verify_reader(reader: impl BufRead, progress: impl FnMut(u64)) -> io::Result<Verdict> {
    verify_lines(reader, PROGRESS_EVERY, progress)
}

fn verify_lines(
    mut reader: impl BufRead,
    progress_every: u64,
    mut progress: impl FnMut(u64),
) -> io::Result<Verdict> {
    let mut verifier = ChainVerifier::new();
    // One buffer for every line: memory stays at the longest line, whatever the file's size.
    let mut line = Vec::new();
    let mut events = 0u64;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        let position = events + 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if read as u64 > MAX_LINE_BYTES {
            return Ok(Verdict::Broken {
                position,
                reason: format!("line longer than {MAX_LINE_BYTES} bytes: not an envelope"),
            });
        }
        if let Err(error) = verifier.verify(&line) {
            return Ok(Verdict::Broken {
                position: error.position.0,
                reason: error.fault.to_string(),
            });
        }
        events = position;
        if events % progress_every == 0 {
            progress(events);
        }
    }
    Ok(Verdict::Intact {
        events,
        head: verifier.head(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use caseledger_store::chain::seal;
    use caseledger_store::{ChainHash, Position, Version};
    use serde_json::json;

    use super::*;

    fn export_of(count: u64) -> Vec<u8> {
        let mut previous = ChainHash::GENESIS;
        let mut export = Vec::new();
        for n in 1..=count {
            let event = json!({"type": "NoteAdded", "data": {"text": format!("note {n}")}});
            let (recorded, bytes) = seal(Position(n), Version(n), &event, previous).unwrap();
            previous = recorded.hash;
            export.extend_from_slice(&bytes);
            export.push(b'\n');
        }
        export
    }

    fn verdict_of(bytes: &[u8]) -> Verdict {
        verify_reader(bytes, |_| {}).unwrap()
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
        let Verdict::Intact { events, head } = verdict_of(&export) else {
            panic!("an intact export verifies")
        };
        assert_eq!(events, 3);
        assert_eq!(head.position, Position(3));
        let last_line = export.split(|byte| *byte == b'\n').nth(2).unwrap();
        let last: serde_json::Value = serde_json::from_slice(last_line).unwrap();
        assert_eq!(
            verdict_of(&export).line(),
            format!("ok: 3 events, head 3 {}", last["hash"].as_str().unwrap())
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
        let verdict = verify_lines(&export_of(7)[..], 3, |events| calls.push(events)).unwrap();
        assert!(matches!(verdict, Verdict::Intact { events: 7, .. }));
        assert_eq!(calls, [3, 6]);
    }

    #[test]
    fn unreadable_files_are_errors() {
        let directory = tempfile::tempdir().unwrap();
        let missing = directory.path().join("missing.ndjson");
        let error = verify_file(&missing, |_| {}).unwrap_err();
        assert!(format!("{error:#}").contains("cannot open the export"));
        let error = verify_file(directory.path(), |_| {}).unwrap_err();
        assert!(format!("{error:#}").contains("cannot read the export"));

        let file = directory.path().join("export.ndjson");
        std::fs::write(&file, export_of(2)).unwrap();
        assert!(matches!(
            verify_file(&file, |_| {}).unwrap(),
            Verdict::Intact { events: 2, .. }
        ));
    }
}
