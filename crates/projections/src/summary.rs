//! What the case projection keeps in memory for every case: the few facts that lists filter
//! on, search matches, statistics count and the deadline watcher looks at — a few hundred bytes
//! a case, however long its history. The case's full state (findings, letters' texts, notes)
//! lives in the projection's keyspace and, while it is being worked on, in
//! [`crate::details::Details`].

use caseledger_domain::{
    Case, CaseStatus, Category, Department, LetterId, LetterKind, Outcome, Tier,
};
use chrono::{DateTime, Utc};

/// A letter as statistics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LetterFacts {
    pub(crate) kind: LetterKind,
    pub(crate) issued_at: DateTime<Utc>,
    /// `None` while unanswered; otherwise whether the answer said the violation was corrected.
    pub(crate) rectified: Option<bool>,
    /// `None` before a follow-up visit; otherwise whether the latest visit found the violation
    /// corrected.
    pub(crate) confirmed: Option<bool>,
}

/// One case's facts, derived from its full state by [`CaseSummary::of`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaseSummary {
    pub(crate) opened: bool,
    pub(crate) opened_at: Option<DateTime<Utc>>,
    pub(crate) closed_at: Option<DateTime<Utc>>,
    pub(crate) status: CaseStatus,
    pub(crate) category: Option<Category>,
    /// The highest tier of the joint mechanism the case reached, if it was escalated.
    pub(crate) tier: Option<Tier>,
    /// How the case ended, while closed.
    pub(crate) outcome: Option<Outcome>,
    /// Whether an open letter's deadline was recorded as missed.
    pub(crate) overdue: bool,
    /// How many open letters' deadlines were recorded as missed.
    pub(crate) overdue_letters: u16,
    pub(crate) assignee: Option<Box<str>>,
    /// The region, lowercased, as the `region` filter compares it.
    pub(crate) region: Option<Box<str>>,
    pub(crate) shared_with: Box<[Department]>,
    pub(crate) letters: Box<[LetterFacts]>,
    /// See [`Case::pending_deadlines`].
    pub(crate) pending_deadlines: Box<[(LetterId, DateTime<Utc>)]>,
    /// Title and description, lowercased, for `q`.
    pub(crate) search_text: Box<str>,
}

impl CaseSummary {
    /// The facts of `case`.
    pub(crate) fn of(case: &Case) -> CaseSummary {
        let search_text = format!("{}\n{}", case.title, case.description)
            .to_lowercase()
            .into();
        CaseSummary::with_search_text(case, search_text)
    }

    /// Brings the facts up to `case`, whose title and description are unchanged since these
    /// facts were taken (only `CaseOpened` sets them): the search text is kept, not rebuilt.
    pub(crate) fn refresh(&mut self, case: &Case) {
        let search_text = std::mem::take(&mut self.search_text);
        *self = CaseSummary::with_search_text(case, search_text);
    }

    fn with_search_text(case: &Case, search_text: Box<str>) -> CaseSummary {
        CaseSummary {
            opened: case.opened,
            opened_at: case.opened_at,
            closed_at: case.closed_at,
            status: case.status(),
            category: case.category,
            tier: case.escalation.as_ref().map(|escalation| escalation.tier),
            outcome: case.outcome,
            overdue: case.overdue(),
            overdue_letters: case
                .open_letters()
                .filter(|letter| letter.deadline_missed)
                .count()
                .try_into()
                .unwrap_or(u16::MAX),
            assignee: case.assignee.as_deref().map(Box::from),
            region: case
                .region
                .as_deref()
                .map(|region| region.to_lowercase().into()),
            shared_with: case.shared_with.iter().cloned().collect(),
            letters: case
                .letters
                .iter()
                .map(|letter| LetterFacts {
                    kind: letter.kind,
                    issued_at: letter.issued_at,
                    rectified: letter.answered.as_ref().map(|answer| answer.rectified),
                    confirmed: letter.follow_ups.last().map(|visit| visit.rectified),
                })
                .collect(),
            pending_deadlines: case.pending_deadlines().collect(),
            search_text,
        }
    }

    /// Whether the case is shared with `department`.
    pub(crate) fn is_shared_with(&self, department: &Department) -> bool {
        self.shared_with.contains(department)
    }

    /// Whether the case is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }

    /// The letters to mark missed at `now` (see [`Case::deadlines_to_mark`]).
    pub(crate) fn deadlines_to_mark(
        &self,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = LetterId> + '_ {
        self.pending_deadlines
            .iter()
            .filter(move |(_, deadline)| *deadline <= now)
            .map(|(letter_id, _)| *letter_id)
    }
}
