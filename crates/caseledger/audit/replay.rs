//! `caseledger audit replay FILE --case ID`: a case replayed event by event from an export,
//! offline, so an auditor can follow it without trusting the server at all.
//!
//! This module owns reading the export (verifying its whole hash chain on the way, with the
//! store's [`ChainVerifier`]), folding the case's events with the domain's `Case::evolve`, and
//! the output: one JSON line per event, `{"position","version","type","at","actor","case"}`.
//! The lines are held back until the whole export has verified — a case has few events, the
//! export may have millions — so a broken export prints nothing but its `bad:` line. It
//! decrypts nothing: complainants' details stay sealed, as the export holds them.

use std::io::{self, BufRead, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use caseledger_domain::{ActorRecord, Case, CaseId, StoredEvent};
use caseledger_store::{ChainVerifier, Position, Recorded, Version};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::verify::{open_export, ExportLine, ExportLines, MAX_LINE_BYTES};
use crate::cli::ReplayArgs;

/// The outcome of replaying a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Replay {
    /// The export verified; one JSON line ([`Step`]) per event of the case, oldest first.
    Steps(Vec<String>),
    /// The export is broken at `position`: `bad: position P: <reason>`.
    Broken {
        /// The first bad position.
        position: u64,
        /// Why.
        reason: String,
    },
}

/// One line of output: an event of the case, and the case right after it.
#[derive(Debug, Serialize)]
pub struct Step<'a> {
    /// The event's global position.
    pub position: Position,
    /// The case's version after the event.
    pub version: Version,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// When the command was accepted.
    pub at: DateTime<Utc>,
    /// Who ran it.
    pub actor: &'a ActorRecord,
    /// The case right after the event.
    pub case: &'a Case,
}

/// Only the stream of an envelope, to skip other cases' events cheaply.
#[derive(Deserialize)]
struct StreamOnly {
    #[serde(default)]
    case_id: Option<CaseId>,
}

/// Runs `caseledger audit replay`: prints the steps on stdout, or the `bad:` line on stderr and
/// exit 1. Errors (unreadable file, no such case) are for `main`, with exit 2.
pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let reader = open_export(&args.file)?;
    let replay = replay_reader(reader, args.case_id)
        .with_context(|| format!("cannot replay from the export {}", args.file.display()))?;
    match replay {
        Replay::Broken { position, reason } => {
            eprintln!("bad: position {position}: {reason}");
            eprintln!("the export is broken; refusing to replay from it");
            Ok(ExitCode::FAILURE)
        }
        Replay::Steps(steps) => {
            let mut stdout = io::stdout().lock();
            for step in &steps {
                writeln!(stdout, "{step}").context("cannot write to stdout")?;
            }
            stdout.flush().context("cannot write to stdout")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Replays `case_id` from an export read from `reader`, verifying the whole chain.
pub fn replay_reader(reader: impl BufRead, case_id: CaseId) -> anyhow::Result<Replay> {
    let mut lines = ExportLines::new(reader);
    let mut verifier = ChainVerifier::new();
    let mut case = Case::new(case_id);
    let mut steps = Vec::new();
    while let Some(line) = lines.next_line()? {
        let position = verifier.head().position.0 + 1;
        let ExportLine::Line(line) = line else {
            return Ok(Replay::Broken {
                position,
                reason: format!("line longer than {MAX_LINE_BYTES} bytes: not an envelope"),
            });
        };
        if let Err(error) = verifier.verify(line) {
            return Ok(Replay::Broken {
                position: error.position.0,
                reason: error.fault.to_string(),
            });
        }
        // The line verified, so it is a JSON object; only the stream is read here.
        let stream: StreamOnly = serde_json::from_slice(line)
            .with_context(|| format!("position {position}: `case_id` is not a UUID"))?;
        if stream.case_id != Some(case_id) {
            continue;
        }
        let recorded: Recorded<StoredEvent> = serde_json::from_slice(line).with_context(|| {
            format!(
                "position {position}: this caseledger cannot read the event (written by a \
                     newer version?)"
            )
        })?;
        let stored = &recorded.event;
        case.evolve(&stored.event, stored.at);
        let step = Step {
            position: recorded.position,
            version: recorded.version,
            event_type: stored.event.event_type(),
            at: stored.at,
            actor: &stored.actor,
            case: &case,
        };
        steps.push(
            serde_json::to_string(&step)
                .with_context(|| format!("position {position}: cannot write the step"))?,
        );
    }
    if steps.is_empty() {
        anyhow::bail!(
            "the export holds no event of case {case_id} ({} events verified)",
            verifier.head().position
        );
    }
    Ok(Replay::Steps(steps))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use caseledger_domain::CaseEvent;
    use caseledger_store::chain::seal;
    use caseledger_store::{ChainHash, Position, Version};
    use chrono::{TimeZone as _, Utc};
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn case_id(n: u128) -> CaseId {
        CaseId(Uuid::from_u128(n))
    }

    /// An export interleaving two cases: each opened, then given a note.
    fn export() -> Vec<u8> {
        let mut previous = ChainHash::GENESIS;
        let mut bytes = Vec::new();
        let mut position = 0;
        for (case, version, event) in [
            (1, 1, opened("First")),
            (2, 1, opened("Second")),
            (1, 2, note("looked into it")),
            (2, 2, note("other case")),
        ] {
            position += 1;
            let stored = StoredEvent {
                id: Uuid::from_u128(100 + position as u128),
                case_id: case_id(case),
                at: Utc
                    .with_ymd_and_hms(2026, 11, 29, 8, position as u32, 0)
                    .unwrap(),
                actor: ActorRecord::system(),
                event,
            };
            let (recorded, line) =
                seal(Position(position), Version(version), &stored, previous).unwrap();
            previous = recorded.hash;
            bytes.extend_from_slice(&line);
            bytes.push(b'\n');
        }
        bytes
    }

    fn opened(title: &str) -> CaseEvent {
        serde_json::from_value(json!({
            "type": "CaseOpened",
            "data": {
                "title": title, "category": "wage_arrears", "description": "unpaid wages",
                "source": "hotline",
                "employer": {"name": "Acme", "credit_code": null, "credit_code_unverified": false},
                "region": null, "industry": null, "workers_affected": null, "complainant": null
            }
        }))
        .unwrap()
    }

    fn note(text: &str) -> CaseEvent {
        serde_json::from_value(json!({"type": "NoteAdded", "data": {"text": text}})).unwrap()
    }

    #[test]
    fn a_case_is_replayed_step_by_step_from_a_verified_export() {
        let Replay::Steps(lines) = replay_reader(&export()[..], case_id(1)).unwrap() else {
            panic!("the export verifies")
        };
        assert!(lines[0].starts_with(r#"{"position":1,"version":1,"type":"CaseOpened","at":"#));
        let steps: Vec<serde_json::Value> = lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0]["position"], 1);
        assert_eq!(steps[0]["version"], 1);
        assert_eq!(steps[0]["type"], "CaseOpened");
        assert_eq!(steps[0]["at"], "2026-11-29T08:01:00Z");
        assert_eq!(steps[0]["actor"]["name"], "system");
        assert_eq!(steps[0]["case"]["title"], "First");
        assert_eq!(steps[0]["case"]["version"], 1);
        assert_eq!(steps[1]["position"], 3);
        assert_eq!(steps[1]["type"], "NoteAdded");
        assert_eq!(steps[1]["case"]["version"], 2);
        assert_eq!(steps[1]["case"]["notes"].as_array().unwrap().len(), 1);
        assert_eq!(steps[1]["case"]["title"], "First");
    }

    #[test]
    fn a_broken_export_is_refused_even_after_the_cases_events() {
        let edited = String::from_utf8(export())
            .unwrap()
            .replace("other case", "edited");
        assert_eq!(
            replay_reader(edited.as_bytes(), case_id(1)).unwrap(),
            Replay::Broken {
                position: 4,
                reason: "hash does not match the content (the event was edited)".into()
            }
        );
    }

    #[test]
    fn an_unknown_case_and_garbage_are_errors_not_panics() {
        let error = replay_reader(&export()[..], case_id(3)).unwrap_err();
        assert!(
            format!("{error:#}").contains("holds no event of case"),
            "{error:#}"
        );
        assert!(matches!(
            replay_reader(&b"garbage\n"[..], case_id(1)).unwrap(),
            Replay::Broken { position: 1, .. }
        ));

        // A well-chained envelope that is not a case event of this version.
        let foreign = json!({"type": "FromTheFuture", "case_id": case_id(1), "data": {}});
        let (_, line) = seal(Position(1), Version(1), &foreign, ChainHash::GENESIS).unwrap();
        let error = replay_reader(&line[..], case_id(1)).unwrap_err();
        assert!(format!("{error:#}").contains("position 1"), "{error:#}");
    }
}
