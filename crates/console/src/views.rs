//! What the console's pages show of cases, built from the app's values: a row of a list or of
//! the work queue, the letters with where each stands, the complainant as the reader may see
//! them, the timeline of events, and the choices the forms offer. Serialised for the templates;
//! nothing here decides anything.

use caseledger_app::{ComplainantView, Recorded, StoredEvent};
use caseledger_domain::{
    Case, CaseStatus, Category, DeadlineRule, FollowUp, LastDay, Letter, LetterAnswer, LetterKind,
    LetterService, Outcome, Policy, Role, ServiceMethod, Source, Tier, Urgency,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::i18n::{Catalogs, Lang};
use crate::templates::{shown_day, shown_deadline};

/// How a page words the values it shows in lists: the messages of the reader's language and
/// the office's time zone. A list's rows are worded here, once each, rather than by a template
/// call per cell (the case list's rendering cost, `docs/benchmarks.md`).
#[derive(Debug, Clone, Copy)]
pub struct Wording<'a> {
    /// The message catalogs.
    pub catalogs: &'a Catalogs,
    /// The reader's language.
    pub lang: Lang,
    /// The office's time zone.
    pub zone: chrono_tz::Tz,
}

impl Wording<'_> {
    fn message(&self, key: &str) -> String {
        self.catalogs.text(self.lang, key, None)
    }
}

/// A case as a row of the case list or the work queue, worded for its reader.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    pub id: String,
    pub title: String,
    pub status: CaseStatus,
    pub status_label: String,
    pub category_label: String,
    pub assignee: Option<String>,
    pub employer: String,
    pub opened_at: Option<DateTime<Utc>>,
    pub opened_day: String,
    pub deadline: Option<DateTime<Utc>>,
    pub deadline_shown: String,
    pub overdue: bool,
    pub urgency: Option<Urgency>,
    pub urgency_label: String,
}

impl CaseRow {
    /// The row of `case`, with its urgency in a work queue.
    pub fn new(case: &Case, urgency: Option<Urgency>, wording: Wording<'_>) -> CaseRow {
        let status = case.status();
        let deadline = case.deadline();
        CaseRow {
            id: case.id.0.to_string(),
            title: case.title.clone(),
            status,
            status_label: wording.message(&format!("status-{status}")),
            category_label: case
                .category
                .map(|category| wording.message(&format!("category-{category}")))
                .unwrap_or_default(),
            assignee: case.assignee.clone(),
            employer: case.employer.name.clone(),
            opened_at: case.opened_at,
            opened_day: case
                .opened_at
                .map(|time| shown_day(time, wording.zone))
                .unwrap_or_default(),
            deadline,
            deadline_shown: deadline
                .map(|time| shown_deadline(time, wording.zone, wording.catalogs, wording.lang))
                .unwrap_or_default(),
            overdue: case.overdue(),
            urgency,
            urgency_label: urgency
                .map(|urgency| wording.message(urgency_key(urgency)))
                .unwrap_or_default(),
        }
    }
}

/// A table of cases (the case list, the work queue), its rows already written as HTML. The
/// template keeps the table's frame (caption, headings); the rows — fifty on a page, through a
/// template engine the bulk of the page's cost — are written here, every value escaped as the
/// template would (`docs/benchmarks.md`, "Console pages beside the JSON API").
#[derive(Debug, Clone, Serialize)]
pub struct CaseTable {
    /// How many rows.
    pub len: usize,
    /// Whether it has the urgency column (the work queue).
    pub urgent: bool,
    /// The `<tr>` rows.
    pub rows_html: String,
}

impl CaseTable {
    /// The table of `rows`, with the urgency column when `urgent`.
    pub fn new(rows: &[CaseRow], urgent: bool, wording: Wording<'_>) -> CaseTable {
        use minijinja::HtmlEscape as E;
        use std::fmt::Write as _;
        let overdue = wording.message("overdue");
        let mut html = String::with_capacity(rows.len() * 640);
        for case in rows {
            // Writing to a String cannot fail.
            let _ = write!(
                html,
                "<tr{}>",
                if case.overdue || case.urgency == Some(Urgency::Overdue) {
                    " class=\"overdue\""
                } else {
                    ""
                }
            );
            if urgent {
                let urgency = case.urgency.map(urgency_key).unwrap_or_default();
                let _ = write!(
                    html,
                    "<td><span class=\"badge {}\">{}</span></td>",
                    E(urgency),
                    E(&case.urgency_label)
                );
            }
            let _ = write!(
                html,
                "<td><a href=\"/console/cases/{}\">{}</a></td>\
                 <td><span class=\"badge status-{}\">{}</span></td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>",
                E(&case.id),
                E(&case.title),
                E(case.status.as_str()),
                E(&case.status_label),
                E(&case.category_label),
                E(&case.employer),
                E(case.assignee.as_deref().unwrap_or("—")),
            );
            match case.deadline {
                Some(deadline) => {
                    let _ = write!(
                        html,
                        "<time datetime=\"{}\">{}</time>",
                        deadline.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                        E(&case.deadline_shown)
                    );
                    if case.overdue {
                        let _ = write!(
                            html,
                            " <strong class=\"overdue-mark\">{}</strong>",
                            E(&overdue)
                        );
                    }
                }
                None => html.push('—'),
            }
            html.push_str("</td><td>");
            if let Some(opened_at) = case.opened_at {
                let _ = write!(
                    html,
                    "<time datetime=\"{}\">{}</time>",
                    opened_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    E(&case.opened_day)
                );
            }
            html.push_str("</td></tr>\n");
        }
        CaseTable {
            len: rows.len(),
            urgent,
            rows_html: html,
        }
    }
}

/// The message of an urgency (`urgency-overdue`, …).
fn urgency_key(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::Overdue => "urgency-overdue",
        Urgency::DueSoon => "urgency-due_soon",
        Urgency::Waiting => "urgency-waiting",
        Urgency::NoDeadline => "urgency-no_deadline",
    }
}

/// Where a letter stands, for its mark on the page.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterState {
    /// A reminder: no answer is expected.
    NoAnswerNeeded,
    /// Its deadline counts from service, and it is not served yet.
    AwaitingService,
    /// Awaiting its answer, before the deadline.
    Awaiting,
    /// Awaiting its answer, the deadline passed.
    Overdue,
    /// Answered: corrected.
    Rectified,
    /// Answered: not corrected.
    NotRectified,
}

/// A file attached to the case, as the case page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentShown {
    pub attachment_id: String,
    /// `None`: a personal file's name the reader may not see, or one erased.
    pub filename: Option<String>,
    pub content_type: String,
    /// The size for people: `812 B`, `34.5 KB`, `20.0 MB`.
    pub size: String,
    pub sha256: String,
    pub personal: bool,
    pub shared: bool,
    pub added_at: DateTime<Utc>,
    pub withdrawn: Option<caseledger_domain::AttachmentWithdrawal>,
    pub erased: bool,
    /// Whether the reader may download its bytes (not an auditor for a personal file, nobody
    /// once erased).
    pub downloadable: bool,
}

impl AttachmentShown {
    /// What the page shows of `view` to a reader of `role`.
    pub fn new(view: caseledger_app::AttachmentView, role: Role) -> AttachmentShown {
        AttachmentShown {
            attachment_id: view.attachment_id.0.to_string(),
            downloadable: !(view.erased || (view.personal && role == Role::Auditor)),
            filename: view.filename,
            content_type: view.content_type,
            size: size_for_people(view.size),
            sha256: view.sha256,
            personal: view.personal,
            shared: view.shared,
            added_at: view.added_at,
            withdrawn: view.withdrawn,
            erased: view.erased,
        }
    }
}

/// A size in bytes as people read it, in units of 1024.
pub fn size_for_people(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    // The integer part and one decimal, rounded down.
    let tenths = |unit: u64, name: &str| {
        let tenths = bytes.saturating_mul(10) / unit;
        format!("{}.{} {name}", tenths / 10, tenths % 10)
    };
    match bytes {
        bytes if bytes < KB => format!("{bytes} B"),
        bytes if bytes < MB => tenths(KB, "KB"),
        _ => tenths(MB, "MB"),
    }
}

/// A letter as the case page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LetterShown {
    pub letter_id: String,
    pub number: String,
    pub kind: LetterKind,
    pub recipient: String,
    pub content: String,
    pub department: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    /// The deadline's last day on the official calendar, where one was counted.
    pub last_day: Option<LastDay>,
    /// The rule its deadline will be counted by once served (none once counted).
    pub deadline_rule: Option<DeadlineRule>,
    pub answered: Option<LetterAnswer>,
    pub served: Option<LetterService>,
    pub follow_ups: Vec<FollowUp>,
    /// Whether its PDF is kept (letters issued before contract §9 have none) and the reader
    /// may read it.
    pub has_document: bool,
    pub state: LetterState,
    pub open: bool,
}

impl LetterShown {
    /// `letter` as it stands at `now`; `document_readable`: whether the reader may read its
    /// PDF (the app says: a partner only those addressed to it).
    pub fn new(letter: &Letter, now: DateTime<Utc>, document_readable: bool) -> LetterShown {
        let passed = letter.deadline.is_some_and(|deadline| deadline <= now);
        let state = match &letter.answered {
            Some(answer) if answer.rectified => LetterState::Rectified,
            Some(_) => LetterState::NotRectified,
            None if letter.kind == LetterKind::Reminder => LetterState::NoAnswerNeeded,
            None if letter.deadline_missed || passed => LetterState::Overdue,
            None if letter.deadline.is_none()
                && letter.served.is_none()
                && letter.deadline_rule.is_some() =>
            {
                LetterState::AwaitingService
            }
            None => LetterState::Awaiting,
        };
        LetterShown {
            letter_id: letter.letter_id.0.to_string(),
            number: letter.number.clone(),
            kind: letter.kind,
            recipient: letter.recipient.clone(),
            content: letter.content.clone(),
            department: letter.department.as_ref().map(ToString::to_string),
            issued_at: letter.issued_at,
            deadline: letter.deadline,
            last_day: letter.last_day.clone(),
            deadline_rule: letter.deadline_rule.filter(|_| letter.deadline.is_none()),
            answered: letter.answered.clone(),
            served: letter.served.clone(),
            follow_ups: letter.follow_ups.clone(),
            has_document: letter.document_sha256.is_some() && document_readable,
            state,
            open: letter.is_open(),
        }
    }
}

/// The complainant as the reader may see them.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ComplainantShown {
    /// The case names no complainant.
    None,
    /// Not for this reader.
    Withheld,
    /// Erased.
    Erased,
    /// The details.
    Present {
        name: String,
        phone: Option<String>,
        id_number: Option<String>,
    },
}

impl From<ComplainantView> for ComplainantShown {
    fn from(view: ComplainantView) -> Self {
        match view {
            ComplainantView::None => ComplainantShown::None,
            ComplainantView::Withheld => ComplainantShown::Withheld,
            ComplainantView::Erased => ComplainantShown::Erased,
            ComplainantView::Present(details) => ComplainantShown::Present {
                name: details.name,
                phone: details.phone,
                id_number: details.id_number,
            },
        }
    }
}

/// One event of the timeline: who did what, when.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub version: u64,
    pub position: u64,
    pub at: DateTime<Utc>,
    #[serde(rename = "type")]
    pub event_type: String,
    pub actor_name: String,
    pub actor_role: caseledger_domain::ActorRole,
    /// The event's data without sealed personal data (the templates show the parts each type
    /// has: a note's text, a letter's number, a reason).
    pub data: Value,
}

/// The most events a case page's timeline shows, newest first.
pub const TIMELINE_LIMIT: usize = 200;

/// The timeline of `events`, newest first, at most [`TIMELINE_LIMIT`].
pub fn timeline(events: &[Recorded<StoredEvent>]) -> Vec<TimelineEntry> {
    events
        .iter()
        .rev()
        .take(TIMELINE_LIMIT)
        .map(|recorded| {
            let stored = &recorded.event;
            let mut envelope = serde_json::to_value(&stored.event).unwrap_or(Value::Null);
            let event_type = envelope
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut data = envelope
                .get_mut("data")
                .map(Value::take)
                .unwrap_or(Value::Null);
            if let Some(fields) = data.as_object_mut() {
                fields.remove("complainant");
            }
            TimelineEntry {
                version: recorded.version.0,
                position: recorded.position.0,
                at: stored.at,
                event_type,
                actor_name: stored.actor.name.clone(),
                actor_role: stored.actor.role,
                data,
            }
        })
        .collect()
}

/// The choices the case forms offer.
#[derive(Debug, Clone, Serialize)]
pub struct Choices {
    pub categories: Vec<&'static str>,
    pub sources: Vec<&'static str>,
    pub statuses: Vec<&'static str>,
    pub outcomes: Vec<&'static str>,
    pub letter_kinds: Vec<&'static str>,
    pub service_methods: Vec<&'static str>,
    pub tiers: Vec<&'static str>,
    pub departments: Vec<String>,
}

impl Choices {
    /// The vocabulary, and the departments `policy` knows.
    pub fn new(policy: &Policy) -> Choices {
        Choices {
            categories: Category::ALL.iter().map(|value| value.as_str()).collect(),
            sources: Source::ALL.iter().map(|value| value.as_str()).collect(),
            statuses: CaseStatus::ALL.iter().map(|value| value.as_str()).collect(),
            outcomes: Outcome::ALL.iter().map(|value| value.as_str()).collect(),
            letter_kinds: LetterKind::ALL.iter().map(|value| value.as_str()).collect(),
            service_methods: ServiceMethod::ALL
                .iter()
                .map(|value| value.as_str())
                .collect(),
            tiers: Tier::ALL.iter().map(|value| value.as_str()).collect(),
            departments: policy.departments.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The tiers of the joint mechanism above the case's current one.
pub fn tiers_above(case: &Case) -> Vec<&'static str> {
    Tier::ALL
        .iter()
        .filter(|tier| {
            case.escalation
                .as_ref()
                .is_none_or(|escalation| **tier > escalation.tier)
        })
        .map(|tier| tier.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn a_case_table_escapes_every_value_and_marks_overdue_rows() {
        let catalogs = Catalogs::load().unwrap();
        let wording = Wording {
            catalogs: &catalogs,
            lang: Lang::ZhCn,
            zone: chrono_tz::Asia::Shanghai,
        };
        let row = CaseRow {
            id: "0193".into(),
            title: "<script>alert(1)</script> & \"quotes\"".into(),
            status: CaseStatus::Investigating,
            status_label: "调查中".into(),
            category_label: "欠薪".into(),
            assignee: None,
            employer: "A<B>".into(),
            opened_at: Some("2026-12-06T01:02:03Z".parse().unwrap()),
            opened_day: "2026-12-06".into(),
            deadline: Some("2026-12-25T16:00:00Z".parse().unwrap()),
            deadline_shown: "2026-12-25 当日结束前".into(),
            overdue: true,
            urgency: Some(Urgency::Overdue),
            urgency_label: "已逾期".into(),
        };
        let table = CaseTable::new(&[row], true, wording);
        assert_eq!(table.len, 1);
        let html = table.rows_html;
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; &quot;quotes&quot;")
        );
        assert!(html.contains("<td>A&lt;B&gt;</td><td>—</td>"), "{html}");
        assert!(html.starts_with(
            "<tr class=\"overdue\"><td><span class=\"badge urgency-overdue\">已逾期</span></td>"
        ));
        assert!(html.contains("<time datetime=\"2026-12-25T16:00:00Z\">2026-12-25 当日结束前</time> <strong class=\"overdue-mark\">"));
        assert!(html.contains("<a href=\"/console/cases/0193\">"));
    }
}
