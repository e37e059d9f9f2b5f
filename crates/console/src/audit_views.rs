//! What the auditors' pages show of the log, built from the app's values: the rows of the
//! global log and the entries of a case's history — written here as escaped HTML, as the case
//! tables are, so a page of hundreds of events costs little (`docs/benchmarks.md`) —, a hash
//! shortened with its full value at hand, a verification run and a signed checkpoint worded
//! for the reader. Events are shown as the log holds them: complainants' details only in their
//! sealed form. Nothing here decides anything.

use std::collections::HashMap;
use std::fmt::Write as _;

use caseledger_app::{
    CheckedCheckpoint, Recorded, RunOutcome, StoredEvent, Verification, VerificationStatus,
};
use chrono::{DateTime, SecondsFormat, Utc};
use minijinja::HtmlEscape as E;
use serde::Serialize;

use crate::templates::shown_minute;
use crate::views::Wording;

/// How many hex digits of a hash a row shows before its full value is opened.
pub const SHORT_HASH: usize = 12;

/// Writes `hash` shortened, its full value in a disclosure (keyboard-usable) and a tooltip.
fn write_hash(html: &mut String, hash: &str) {
    let short = hash.get(..SHORT_HASH).unwrap_or(hash);
    // Writing to a String cannot fail.
    let _ = write!(
        html,
        "<details class=\"hash\"><summary><code title=\"{full}\">{short}…</code></summary>\
         <code class=\"full-hash\">{full}</code></details>",
        full = E(hash),
        short = E(short),
    );
}

/// The event's type and its data as compact JSON, as the log holds them (personal data only
/// sealed): the event serialised once, its `data` member cut out of the text rather than built
/// as a value tree (the bulk of a long history page's cost otherwise).
fn type_and_data(recorded: &Recorded<StoredEvent>) -> (&'static str, String) {
    let event = &recorded.event.event;
    let event_type = event.event_type();
    let text = serde_json::to_string(event).unwrap_or_default();
    // An adjacently tagged enum writes `{"type":"<type>","data":<data>}`, tag first.
    let prefix = format!("{{\"type\":\"{event_type}\",\"data\":");
    let data = text
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('}'))
        .map_or_else(|| text.clone(), ToOwned::to_owned);
    (event_type, data)
}

/// Writes `text` as the content of an element: only `&`, `<` and `>` need escaping there (no
/// attribute is written with it), which keeps a JSON text readable and short.
fn write_text(html: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            other => html.push(other),
        }
    }
}

/// The messages a page of rows repeats (event types, roles), each looked up once a page.
struct Labels<'a> {
    wording: Wording<'a>,
    known: HashMap<String, String>,
}

impl<'a> Labels<'a> {
    fn new(wording: Wording<'a>) -> Self {
        Labels {
            wording,
            known: HashMap::new(),
        }
    }

    /// The message `key`, escaped for HTML.
    fn escaped(&mut self, key: String) -> &str {
        let wording = self.wording;
        self.known.entry(key).or_insert_with_key(|key| {
            E(&wording.catalogs.text(wording.lang, key, None)).to_string()
        })
    }
}

fn write_time(html: &mut String, at: DateTime<Utc>, wording: Wording<'_>) {
    let _ = write!(
        html,
        "<time datetime=\"{}\">{}</time>",
        at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        E(&shown_minute(at, wording.zone)),
    );
}

fn write_actor(html: &mut String, recorded: &Recorded<StoredEvent>, labels: &mut Labels<'_>) {
    let actor = &recorded.event.actor;
    let role = serde_json::to_value(actor.role)
        .ok()
        .and_then(|value| value.as_str().map(ToOwned::to_owned))
        .unwrap_or_default();
    let _ = write!(html, "{} · ", E(&actor.name));
    html.push_str(labels.escaped(format!("role-{role}")));
}

/// A page of the global log as table rows: position, time, type, case (a link to its audit
/// history), actor, hash.
#[derive(Debug, Clone, Serialize)]
pub struct LogRows {
    /// How many rows.
    pub len: usize,
    /// The `<tr>` rows.
    pub rows_html: String,
}

impl LogRows {
    /// The rows of `events`, oldest first.
    pub fn new(events: &[Recorded<StoredEvent>], wording: Wording<'_>) -> LogRows {
        let mut labels = Labels::new(wording);
        let mut html = String::with_capacity(events.len() * 700);
        for recorded in events {
            let case = recorded.event.case_id.0.to_string();
            let _ = write!(html, "<tr><td>{}</td><td>", recorded.position.0);
            write_time(&mut html, recorded.event.at, wording);
            let _ = write!(
                html,
                "</td><td>{}</td><td><a href=\"/console/audit/cases/{case}/history\" title=\"{case}\"><code>{}…</code></a></td><td>",
                labels.escaped(format!("event-{}", recorded.event.event.event_type())),
                E(case.get(..8).unwrap_or(&case)),
            );
            write_actor(&mut html, recorded, &mut labels);
            html.push_str("</td><td>");
            write_hash(&mut html, &recorded.hash.to_hex());
            html.push_str("</td></tr>\n");
        }
        LogRows {
            len: events.len(),
            rows_html: html,
        }
    }
}

/// A page of a case's history as table rows: version, position, time, type, actor,
/// `prev_hash`, `hash`, and the event's data.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRows {
    /// How many rows.
    pub len: usize,
    /// The `<tr>` rows.
    pub rows_html: String,
    /// The first and last versions shown.
    pub first_version: Option<u64>,
    /// The last version shown.
    pub last_version: Option<u64>,
}

impl HistoryRows {
    /// The rows of `events`, oldest first; `data_label` names each event's data disclosure.
    pub fn new(events: &[Recorded<StoredEvent>], wording: Wording<'_>) -> HistoryRows {
        let data_label = wording.catalogs.text(wording.lang, "audit-data", None);
        let at_version_label = wording
            .catalogs
            .text(wording.lang, "audit-see-version", None);
        let mut labels = Labels::new(wording);
        let mut html = String::with_capacity(events.len() * 1_800);
        for recorded in events {
            let (event_type, data) = type_and_data(recorded);
            let case = recorded.event.case_id.0;
            let version = recorded.version.0;
            let _ = write!(
                html,
                "<tr id=\"v{version}\"><td><a href=\"/console/audit/cases/{case}/versions?version={version}\" title=\"{}\">{version}</a></td><td>{}</td><td>",
                E(&at_version_label),
                recorded.position.0,
            );
            write_time(&mut html, recorded.event.at, wording);
            let _ = write!(
                html,
                "</td><td>{}</td><td>",
                labels.escaped(format!("event-{event_type}"))
            );
            write_actor(&mut html, recorded, &mut labels);
            html.push_str("</td><td>");
            write_hash(&mut html, &recorded.prev_hash.to_hex());
            html.push_str("</td><td>");
            write_hash(&mut html, &recorded.hash.to_hex());
            let _ = write!(
                html,
                "</td><td><details class=\"data\"><summary>{}</summary><pre>",
                E(&data_label),
            );
            write_text(&mut html, &data);
            html.push_str("</pre></details></td></tr>");
            html.push('\n');
        }
        HistoryRows {
            len: events.len(),
            rows_html: html,
            first_version: events.first().map(|recorded| recorded.version.0),
            last_version: events.last().map(|recorded| recorded.version.0),
        }
    }
}

/// A verification run as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunShown {
    pub running: bool,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    pub total: u64,
    pub checked: u64,
    /// Whole percent checked (100 for an empty log).
    pub percent: u64,
    pub finished_at: Option<DateTime<Utc>>,
    /// `intact`, `broken` or `failed` once finished.
    pub outcome: Option<&'static str>,
    pub events: Option<u64>,
    pub head_position: Option<u64>,
    pub head_hash: Option<String>,
    pub first_bad_position: Option<u64>,
    pub reason: Option<String>,
}

impl From<VerificationStatus> for RunShown {
    fn from(status: VerificationStatus) -> Self {
        let percent = status
            .checked
            .saturating_mul(100)
            .checked_div(status.total)
            .unwrap_or(100);
        let mut shown = RunShown {
            running: status.running(),
            started_at: status.started_at,
            started_by: status.started_by,
            total: status.total,
            checked: status.checked,
            percent,
            finished_at: None,
            outcome: None,
            events: None,
            head_position: None,
            head_hash: None,
            first_bad_position: None,
            reason: None,
        };
        if let Some((finished_at, outcome)) = status.finished {
            shown.finished_at = Some(finished_at);
            match outcome {
                RunOutcome::Verified(Verification::Intact { events, head }) => {
                    shown.outcome = Some("intact");
                    shown.events = Some(events);
                    shown.head_position = Some(head.position.0);
                    shown.head_hash = Some(head.hash.to_hex());
                    shown.checked = events;
                    shown.percent = 100;
                }
                RunOutcome::Verified(Verification::Broken(error)) => {
                    shown.outcome = Some("broken");
                    shown.first_bad_position = Some(error.position.0);
                    shown.reason = Some(error.fault.to_string());
                }
                RunOutcome::Failed => shown.outcome = Some("failed"),
            }
        }
        shown
    }
}

/// A signed checkpoint as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointShown {
    pub position: u64,
    pub tree_size: Option<u64>,
    pub root_hash: Option<String>,
    pub hash: String,
    /// When it was signed, as signed (RFC 3339), if it reads as a time.
    pub at: Option<DateTime<Utc>>,
    pub at_text: String,
    pub valid: bool,
    pub problem: Option<String>,
}

impl From<CheckedCheckpoint> for CheckpointShown {
    fn from(checked: CheckedCheckpoint) -> Self {
        CheckpointShown {
            position: checked.position,
            tree_size: checked.tree_size,
            root_hash: checked.root_hash,
            hash: checked.hash,
            at: DateTime::parse_from_rfc3339(&checked.at)
                .ok()
                .map(|at| at.with_timezone(&Utc)),
            at_text: checked.at,
            valid: checked.problem.is_none(),
            problem: checked.problem,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn a_hash_is_shortened_with_its_full_value_at_hand_and_escaped() {
        let mut html = String::new();
        let hash = "0123456789abcdef".repeat(4);
        write_hash(&mut html, &hash);
        assert!(html.contains("<code title=\"0123456789abcdef"), "{html}");
        assert!(html.contains(">0123456789ab…</code>"), "{html}");
        assert!(html.contains(&format!("<code class=\"full-hash\">{hash}</code>")));
        let mut hostile = String::new();
        write_hash(&mut hostile, "<script>\"");
        assert!(!hostile.contains("<script>"), "{hostile}");
    }

    #[test]
    fn event_data_is_written_as_text_with_markup_escaped() {
        let mut html = String::new();
        write_text(
            &mut html,
            r#"{"text":"<script>alert('x')</script> & \"so\""}"#,
        );
        assert_eq!(
            html,
            r#"{"text":"&lt;script&gt;alert('x')&lt;/script&gt; &amp; \"so\""}"#
        );
    }

    #[test]
    fn a_run_shows_its_progress_and_its_verdict() {
        let status = VerificationStatus {
            started_at: "2026-12-06T01:00:00Z".parse().unwrap(),
            started_by: "审计员".into(),
            total: 400,
            checked: 100,
            finished: None,
        };
        let shown = RunShown::from(status.clone());
        assert!(shown.running);
        assert_eq!((shown.checked, shown.total, shown.percent), (100, 400, 25));
        assert_eq!(shown.outcome, None);
        let empty = RunShown::from(VerificationStatus {
            total: 0,
            checked: 0,
            ..status
        });
        assert_eq!(empty.percent, 100);
    }
}
