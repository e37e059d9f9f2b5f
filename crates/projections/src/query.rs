//! Queries over the case projection: filtered, searchable, cursor-paged lists in opening
//! order, and the statistics unions report upward.
//!
//! Filters are AND-ed. `q` splits on whitespace; every term must occur, case-insensitively, as
//! a substring of the title or the description — so Chinese text, which has no spaces between
//! words, is found by any part of it.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{Duration, Instant};

use caseledger_domain::{
    Case, CaseId, CaseStatus, Category, Department, LetterKind, Outcome, Tier,
};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::cases::CaseProjection;
use crate::cases::ProjectionError;
use crate::summary::CaseSummary;

/// Which cases a list returns. Every field set must match.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Where the case stands.
    pub status: Option<CaseStatus>,
    /// What it is about.
    pub category: Option<Category>,
    /// Assigned to one of these, exactly (a person may be assigned by login or by name);
    /// empty matches every case.
    pub assignees: Vec<String>,
    /// A department the case is shared with.
    pub department: Option<Department>,
    /// Whether an open letter's deadline was missed.
    pub overdue: Option<bool>,
    /// The region, case-insensitively.
    pub region: Option<String>,
    /// Opened at or after.
    pub opened_after: Option<DateTime<Utc>>,
    /// Opened before.
    pub opened_before: Option<DateTime<Utc>>,
    /// Free text: every whitespace-separated term must occur in the title or description.
    pub q: Option<String>,
}

/// Where a page starts: after the case with this id, in opening order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub CaseId);

impl Cursor {
    /// The cursor as clients see it: the last case id of the page, as 32 hex digits.
    pub fn encode(&self) -> String {
        self.0 .0.simple().to_string()
    }

    /// Parses [`Cursor::encode`]'s text.
    pub fn decode(text: &str) -> Option<Cursor> {
        if text.len() != 32 {
            return None;
        }
        Uuid::try_parse(text).ok().map(|id| Cursor(CaseId(id)))
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    /// The cases, in opening order.
    pub items: Vec<Case>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<Cursor>,
}

/// A period for statistics: `[from, to)`, either end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    /// From this instant on.
    pub from: Option<DateTime<Utc>>,
    /// Before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl Period {
    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| at >= from) && self.to.is_none_or(|to| at < to)
    }
}

/// The most distinct terms a search (`q`) may hold.
pub const MAX_SEARCH_TERMS: usize = 16;
/// The most characters one search term may have.
pub const MAX_SEARCH_TERM_CHARS: usize = 64;

/// Why a search text cannot be used: more than [`MAX_SEARCH_TERMS`] distinct terms, or a term
/// longer than [`MAX_SEARCH_TERM_CHARS`] characters. `None` when it can.
pub fn search_text_problem(q: &str) -> Option<String> {
    let mut terms = std::collections::BTreeSet::new();
    for term in q.split_whitespace() {
        let length = term.chars().count();
        if length > MAX_SEARCH_TERM_CHARS {
            return Some(format!(
                "each term may have at most {MAX_SEARCH_TERM_CHARS} characters; one has {length}"
            ));
        }
        terms.insert(term.to_lowercase());
        if terms.len() > MAX_SEARCH_TERMS {
            return Some(format!(
                "at most {MAX_SEARCH_TERMS} distinct whitespace-separated terms"
            ));
        }
    }
    None
}

/// How long one slice of a list's scan holds the projection's read lock at most (give or take
/// the few rows between two looks at the clock).
pub const SCAN_SLICE: Duration = Duration::from_millis(2);

/// How many rows a scan checks between two looks at the clock.
const CLOCK_EVERY_ROWS: usize = 16;

struct CompiledFilter<'a> {
    filter: &'a CaseFilter,
    terms: Vec<String>,
    region: Option<String>,
}

impl<'a> CompiledFilter<'a> {
    fn new(filter: &'a CaseFilter) -> Self {
        CompiledFilter {
            filter,
            terms: filter
                .q
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
            region: filter.region.as_deref().map(str::to_lowercase),
        }
    }

    fn matches(&self, case: &CaseSummary) -> bool {
        let filter = self.filter;
        if !case.opened {
            return false;
        }
        if filter.category.is_some() && case.category != filter.category {
            return false;
        }
        if !filter.assignees.is_empty()
            && !case.assignee.as_deref().is_some_and(|assignee| {
                filter
                    .assignees
                    .iter()
                    .any(|wanted| wanted.as_str() == assignee)
            })
        {
            return false;
        }
        if filter
            .department
            .as_ref()
            .is_some_and(|department| !case.is_shared_with(department))
        {
            return false;
        }
        if let Some(region) = &self.region {
            if case.region.as_deref() != Some(region.as_str()) {
                return false;
            }
        }
        if let Some(opened_at) = case.opened_at {
            if filter.opened_after.is_some_and(|after| opened_at < after)
                || filter
                    .opened_before
                    .is_some_and(|before| opened_at >= before)
            {
                return false;
            }
        }
        if filter.status.is_some_and(|status| case.status != status) {
            return false;
        }
        if filter
            .overdue
            .is_some_and(|overdue| case.overdue != overdue)
        {
            return false;
        }
        self.terms
            .iter()
            .all(|term| case.search_text.contains(term.as_str()))
    }
}

/// The figures unions report upward.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stats {
    /// Cases considered (opened in the period).
    pub cases: u64,
    /// Those cases by status.
    pub by_status: std::collections::BTreeMap<String, u64>,
    /// Those cases by category.
    pub by_category: std::collections::BTreeMap<String, u64>,
    /// Open cases with an overdue letter (now, whatever the period).
    pub overdue: u64,
    /// Cases closed in the period.
    pub closed: u64,
    /// Cases opened in the period, by the highest tier of the joint mechanism they reached
    /// (every tier, zero included); cases never escalated are not counted.
    pub by_tier: std::collections::BTreeMap<String, u64>,
    /// Cases closed in the period, by outcome (every outcome, zero included).
    pub closed_by_outcome: std::collections::BTreeMap<String, u64>,
    /// The median days from opening to closing of the cases closed in the period.
    pub median_days_to_close: Option<f64>,
    /// Letters issued in the period, by kind.
    pub letters_issued: std::collections::BTreeMap<String, u64>,
    /// Opinion letters issued in the period.
    pub opinion_letters: u64,
    /// Of those, answered by the employer.
    pub opinion_letters_answered: u64,
    /// Of those, answered with the violation corrected.
    pub opinion_letters_rectified: u64,
    /// answered / issued, for opinion letters of the period.
    pub reply_rate: Option<f64>,
    /// rectified / issued, for opinion letters of the period.
    pub rectification_rate: Option<f64>,
    /// Opinion letters of the period checked by a follow-up visit (回访).
    pub opinion_letters_followed_up: u64,
    /// Of those, found corrected by the latest visit: rectification confirmed, not only
    /// claimed in a reply.
    pub opinion_letters_rectification_confirmed: u64,
    /// confirmed / issued, for opinion letters of the period.
    pub confirmed_rectification_rate: Option<f64>,
    /// Letters of open cases whose deadline passed unanswered (now, whatever the period).
    pub overdue_letters: u64,
    /// Cases opened in the period, by region (lower-cased, as the `region` filter compares
    /// it); cases without a region are not counted.
    pub by_region: std::collections::BTreeMap<String, u64>,
    /// Cases opened in the period, by month (`YYYY-MM`, in the office's time zone): every
    /// month from the first to the last that saw a case opened or closed, zero included.
    pub opened_by_month: std::collections::BTreeMap<String, u64>,
    /// Cases closed in the period, by month, over the same months as `opened_by_month`.
    pub closed_by_month: std::collections::BTreeMap<String, u64>,
}

/// A month as the statistics count it: (year, month 1–12).
type Month = (i32, u32);

/// The month of `at` in `zone`.
fn month_in<Z: TimeZone>(at: DateTime<Utc>, zone: &Z) -> Month {
    let local = at.with_timezone(zone);
    (local.year(), local.month())
}

/// `opened` and `closed` over every month from the first to the last either names, zero
/// included, keyed `YYYY-MM`.
fn monthly(
    opened: &BTreeMap<Month, u64>,
    closed: &BTreeMap<Month, u64>,
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let first = opened.keys().chain(closed.keys()).min().copied();
    let last = opened.keys().chain(closed.keys()).max().copied();
    let (mut opened_by_month, mut closed_by_month) = (BTreeMap::new(), BTreeMap::new());
    let (Some(mut month), Some(last)) = (first, last) else {
        return (opened_by_month, closed_by_month);
    };
    while month <= last {
        let key = format!("{:04}-{:02}", month.0, month.1);
        opened_by_month.insert(key.clone(), opened.get(&month).copied().unwrap_or(0));
        closed_by_month.insert(key, closed.get(&month).copied().unwrap_or(0));
        month = if month.1 == 12 {
            (month.0 + 1, 1)
        } else {
            (month.0, month.1 + 1)
        };
    }
    (opened_by_month, closed_by_month)
}

impl CaseProjection {
    /// A page of the cases matching `filter`, in opening order, after `cursor`, with no time
    /// budget (see [`CaseProjection::list_within`]).
    pub async fn list(
        &self,
        filter: &CaseFilter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, ProjectionError> {
        self.list_within(filter, cursor, limit, None).await
    }

    /// A page of the cases matching `filter`, in opening order, after `cursor`, chosen before
    /// `deadline` or not at all ([`ProjectionError::BudgetSpent`]).
    ///
    /// The page is chosen from the summaries in memory, on a blocking thread (never on the
    /// async workers that answer other requests), a slice at a time: the read lock is held for
    /// at most about [`SCAN_SLICE`] and then let go, so the projection's follower — which needs
    /// the write lock to apply events — and readers queued behind it wait no longer than that,
    /// however long the whole scan takes. Rows are never removed, and each slice goes on after
    /// the last id the previous one saw, so a scan sees every case that was there when it
    /// started (and possibly newer ones). The cases on the page come from memory when held and
    /// from their rows otherwise, so each is at least as current as the projection was when
    /// the page was chosen.
    pub async fn list_within(
        &self,
        filter: &CaseFilter,
        cursor: Option<Cursor>,
        limit: usize,
        deadline: Option<Instant>,
    ) -> Result<Page, ProjectionError> {
        let projection = self.clone();
        let owned_filter = filter.clone();
        let (ids, more) = tokio::task::spawn_blocking(move || {
            projection.select(&owned_filter, cursor, limit, deadline)
        })
        .await
        .map_err(|_| ProjectionError::Poisoned)??;
        let next_cursor = if more {
            ids.last().map(|id| Cursor(*id))
        } else {
            None
        };
        let items = self.get_known(ids).await?;
        Ok(Page { items, next_cursor })
    }

    /// The ids of the page: up to `limit` matching cases after `cursor`, and whether more
    /// match. Blocking; see [`CaseProjection::list_within`].
    fn select(
        &self,
        filter: &CaseFilter,
        cursor: Option<Cursor>,
        limit: usize,
        deadline: Option<Instant>,
    ) -> Result<(Vec<CaseId>, bool), ProjectionError> {
        let compiled = CompiledFilter::new(filter);
        let mut after = cursor.map(|Cursor(id)| id);
        let mut ids = Vec::with_capacity(limit.min(256));
        loop {
            let slice_ends = Instant::now() + SCAN_SLICE;
            {
                let table = self.table()?;
                let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
                let mut rows = table.rows.range((lower, Bound::Unbounded));
                let mut seen: usize = 0;
                loop {
                    let Some((id, summary)) = rows.next() else {
                        return Ok((ids, false));
                    };
                    after = Some(*id);
                    if compiled.matches(summary) {
                        if ids.len() == limit {
                            return Ok((ids, true));
                        }
                        ids.push(*id);
                    }
                    seen += 1;
                    if seen.is_multiple_of(CLOCK_EVERY_ROWS) && Instant::now() >= slice_ends {
                        break;
                    }
                }
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                metrics::counter!("caseledger_search_budget_spent_total").increment(1);
                return Err(ProjectionError::BudgetSpent);
            }
            // Let a writer waiting for the lock have it before the next slice.
            std::thread::yield_now();
        }
    }

    /// Statistics over the cases matching `filter` (a region, a category), for `period`, in
    /// one scan; months are counted in `zone`, the office's time zone.
    pub fn stats<Z: TimeZone>(
        &self,
        filter: &CaseFilter,
        period: Period,
        zone: &Z,
    ) -> Result<Stats, ProjectionError> {
        let compiled = CompiledFilter::new(filter);
        let table = self.table()?;
        let mut stats = Stats::default();
        let mut days_to_close = Vec::new();
        // Counted under the vocabularies' static names, so the scan allocates nothing per case.
        let mut by_status: BTreeMap<&'static str, u64> = CaseStatus::ALL
            .iter()
            .map(|status| (status.as_str(), 0))
            .collect();
        let mut by_category: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut letters_issued: BTreeMap<&'static str, u64> = LetterKind::ALL
            .iter()
            .map(|kind| (kind.as_str(), 0))
            .collect();
        let mut by_tier: BTreeMap<&'static str, u64> =
            Tier::ALL.iter().map(|tier| (tier.as_str(), 0)).collect();
        let mut closed_by_outcome: BTreeMap<&'static str, u64> = Outcome::ALL
            .iter()
            .map(|outcome| (outcome.as_str(), 0))
            .collect();
        let mut by_region: BTreeMap<&str, u64> = BTreeMap::new();
        let mut opened_by_month: BTreeMap<Month, u64> = BTreeMap::new();
        let mut closed_by_month: BTreeMap<Month, u64> = BTreeMap::new();
        for case in table.rows.values().filter(|case| compiled.matches(case)) {
            if let Some(opened_at) = case.opened_at.filter(|at| period.contains(*at)) {
                stats.cases += 1;
                *opened_by_month
                    .entry(month_in(opened_at, zone))
                    .or_default() += 1;
                if let Some(region) = case.region.as_deref() {
                    *by_region.entry(region).or_default() += 1;
                }
                *by_status.entry(case.status.as_str()).or_default() += 1;
                if let Some(category) = case.category {
                    *by_category.entry(category.as_str()).or_default() += 1;
                }
                if let Some(tier) = case.tier {
                    *by_tier.entry(tier.as_str()).or_default() += 1;
                }
            }
            // Closed first: most cases are closed, and it spares the walk over their letters.
            if !case.is_closed() && case.overdue {
                stats.overdue += 1;
                stats.overdue_letters += u64::from(case.overdue_letters);
            }
            if let (Some(opened), Some(closed)) = (case.opened_at, case.closed_at) {
                if period.contains(closed) {
                    stats.closed += 1;
                    *closed_by_month.entry(month_in(closed, zone)).or_default() += 1;
                    if let Some(outcome) = case.outcome {
                        *closed_by_outcome.entry(outcome.as_str()).or_default() += 1;
                    }
                    days_to_close.push((closed - opened).num_seconds() as f64 / 86_400.0);
                }
            }
            for letter in case
                .letters
                .iter()
                .filter(|letter| period.contains(letter.issued_at))
            {
                *letters_issued.entry(letter.kind.as_str()).or_default() += 1;
                if letter.kind == LetterKind::Opinion {
                    stats.opinion_letters += 1;
                    if let Some(rectified) = letter.rectified {
                        stats.opinion_letters_answered += 1;
                        if rectified {
                            stats.opinion_letters_rectified += 1;
                        }
                    }
                    if let Some(confirmed) = letter.confirmed {
                        stats.opinion_letters_followed_up += 1;
                        if confirmed {
                            stats.opinion_letters_rectification_confirmed += 1;
                        }
                    }
                }
            }
        }
        let owned = |counts: BTreeMap<&'static str, u64>| {
            counts
                .into_iter()
                .map(|(name, count)| (name.to_owned(), count))
                .collect()
        };
        stats.by_status = owned(by_status);
        stats.by_category = owned(by_category);
        stats.letters_issued = owned(letters_issued);
        stats.by_tier = owned(by_tier);
        stats.closed_by_outcome = owned(closed_by_outcome);
        stats.by_region = by_region
            .into_iter()
            .map(|(region, count)| (region.to_owned(), count))
            .collect();
        (stats.opened_by_month, stats.closed_by_month) =
            monthly(&opened_by_month, &closed_by_month);
        stats.median_days_to_close = median(&mut days_to_close);
        if stats.opinion_letters > 0 {
            let issued = stats.opinion_letters as f64;
            stats.reply_rate = Some(stats.opinion_letters_answered as f64 / issued);
            stats.rectification_rate = Some(stats.opinion_letters_rectified as f64 / issued);
            stats.confirmed_rectification_rate =
                Some(stats.opinion_letters_rectification_confirmed as f64 / issued);
        }
        Ok(stats)
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn months_run_from_the_first_to_the_last_with_zeros_between() {
        let opened = BTreeMap::from([((2025, 11), 2), ((2026, 2), 1)]);
        let closed = BTreeMap::from([((2026, 1), 3)]);
        let (opened_by_month, closed_by_month) = monthly(&opened, &closed);
        let months: Vec<&str> = opened_by_month.keys().map(String::as_str).collect();
        assert_eq!(months, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert_eq!(
            opened_by_month.values().copied().collect::<Vec<_>>(),
            [2, 0, 0, 1]
        );
        assert_eq!(
            closed_by_month.values().copied().collect::<Vec<_>>(),
            [0, 0, 3, 0]
        );
    }

    #[test]
    fn no_cases_no_months() {
        let (opened, closed) = monthly(&BTreeMap::new(), &BTreeMap::new());
        assert!(opened.is_empty() && closed.is_empty());
    }

    #[test]
    fn a_month_is_the_office_s() {
        let at = DateTime::parse_from_rfc3339("2026-01-31T17:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(month_in(at, &Utc), (2026, 1));
        let shanghai = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        assert_eq!(month_in(at, &shanghai), (2026, 2));
    }
}
