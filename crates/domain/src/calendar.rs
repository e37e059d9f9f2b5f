//! The official working-day calendar and where a period ends on it (contract §9, Civil Code
//! arts. 201 and 203): [`Calendar`], made of the State Council's yearly notices
//! ([`CalendarYear`]); [`Calendar::last_day`], which counts a period in calendar or working
//! days; and [`DeadlineRule`], how a letter kind's default deadline is configured.
//!
//! It owns which days are working days and on which day a period ends. It reads no file and no
//! clock: the app loads the notices (the embedded holiday-cn data and `--calendar-dir`) and
//! hands them here, and every date is an argument. It knows nothing of letters: which rule a
//! letter kind follows, and whether it counts from issue or from service, is the caller's.
//!
//! Counting is arithmetic between the days the notices list, never a walk over every day, so a
//! period of any `u32` length answers at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// One year's notice: the holidays that are off and the weekend days made working days (调休).
///
/// A notice may list days at the end of December of the year before (the New Year holiday,
/// e.g. the 2023 notice lists 2022-12-31), so its days lie in its year or in the December
/// before it. Weekdays it does not list are working days; weekend days it does not list are
/// rest days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarYear {
    year: i32,
    rest_days: BTreeSet<NaiveDate>,
    working_days: BTreeSet<NaiveDate>,
}

impl CalendarYear {
    /// The notice for `year`: its official holidays that are off (`rest_days`) and its
    /// adjusted working days (`working_days`).
    ///
    /// Refused: a notice that lists no day (no notice yet: upstream publishes an empty file
    /// for a year before its notice), a day outside `year` and the December before it, and a
    /// day listed both ways.
    pub fn new(
        year: i32,
        rest_days: BTreeSet<NaiveDate>,
        working_days: BTreeSet<NaiveDate>,
    ) -> Result<CalendarYear, CalendarError> {
        if rest_days.is_empty() && working_days.is_empty() {
            return Err(CalendarError::EmptyYear { year });
        }
        let within = |date: &&NaiveDate| {
            // `date.year() + 1` stays within chrono's years; `year - 1` could overflow.
            date.year() == year || (date.year() + 1 == year && date.month() == 12)
        };
        if let Some(date) = rest_days.iter().chain(&working_days).find(|d| !within(d)) {
            return Err(CalendarError::DayOutsideYear { year, date: *date });
        }
        if let Some(date) = rest_days.intersection(&working_days).next() {
            return Err(CalendarError::RestAndWorking { year, date: *date });
        }
        Ok(CalendarYear {
            year,
            rest_days,
            working_days,
        })
    }

    /// The year of the notice.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The official holidays that are off, weekend days inside a holiday included.
    pub fn rest_days(&self) -> &BTreeSet<NaiveDate> {
        &self.rest_days
    }

    /// The weekend days made working days (调休).
    pub fn working_days(&self) -> &BTreeSet<NaiveDate> {
        &self.working_days
    }
}

/// A calendar that cannot be built: the notices contradict themselves or each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A notice that lists no day is no notice (upstream's placeholder for a coming year).
    #[error("the {year} calendar lists no day")]
    EmptyYear {
        /// The year.
        year: i32,
    },
    /// A notice lists a day outside its year and the December before it.
    #[error("the {year} calendar lists {date}, which is neither in {year} nor in the December before it")]
    DayOutsideYear {
        /// The notice's year.
        year: i32,
        /// The day.
        date: NaiveDate,
    },
    /// A notice lists a day both as a rest day and as a working day.
    #[error("the {year} calendar lists {date} both as a rest day and as a working day")]
    RestAndWorking {
        /// The notice's year.
        year: i32,
        /// The day.
        date: NaiveDate,
    },
    /// Two notices for the same year.
    #[error("the calendar has two notices for {year}")]
    DuplicateYear {
        /// The year.
        year: i32,
    },
    /// Two notices list the same day, one as a rest day and the other as a working day.
    #[error("the {first} and {second} calendars disagree on whether {date} is a working day")]
    NoticesDisagree {
        /// The day.
        date: NaiveDate,
        /// The notice that lists it first.
        first: i32,
        /// The notice that lists it otherwise.
        second: i32,
    },
}

/// The official working-day calendar: the notices it holds, identified by a version.
///
/// A day a notice lists is what the notice says; any other day is a working day from Monday to
/// Friday and a rest day on Saturday and Sunday. A year *is covered* when the calendar holds
/// its notice; a date is *settled* when the notice of its year is held and, for a date in
/// December, the next year's too (whose New Year holiday may move the end of December).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    version: String,
    years: BTreeMap<i32, CalendarYear>,
    /// Every day some notice lists, with whether it is a working day: the notices merged.
    listed: BTreeMap<NaiveDate, bool>,
}

impl Calendar {
    /// The calendar of these notices, named `version` (which identifies the data it was built
    /// from, e.g. `holiday-cn@d4e53bf`; every computed deadline records it).
    ///
    /// Refused: two notices for one year, and two notices that list one day differently.
    pub fn new(
        version: impl Into<String>,
        years: impl IntoIterator<Item = CalendarYear>,
    ) -> Result<Calendar, CalendarError> {
        let mut by_year = BTreeMap::new();
        for notice in years {
            let year = notice.year;
            if by_year.insert(year, notice).is_some() {
                return Err(CalendarError::DuplicateYear { year });
            }
        }
        let mut listed: BTreeMap<NaiveDate, (bool, i32)> = BTreeMap::new();
        for notice in by_year.values() {
            let days = (notice.rest_days.iter().map(|date| (*date, false)))
                .chain(notice.working_days.iter().map(|date| (*date, true)));
            for (date, working) in days {
                match listed.insert(date, (working, notice.year)) {
                    Some((earlier, first)) if earlier != working => {
                        return Err(CalendarError::NoticesDisagree {
                            date,
                            first,
                            second: notice.year,
                        })
                    }
                    _ => {}
                }
            }
        }
        Ok(Calendar {
            version: version.into(),
            years: by_year,
            listed: listed
                .into_iter()
                .map(|(date, (working, _))| (date, working))
                .collect(),
        })
    }

    /// What identifies the data this calendar was built from.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether the calendar holds the notice for `year`.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The years whose notices the calendar holds, in order.
    pub fn covered_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// Whether `date` is a working day: as a notice lists it, else Monday to Friday. In a year
    /// the calendar does not cover, that is the weekday rule alone.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.listed.get(&date) {
            Some(working) => *working,
            None => is_weekday(date),
        }
    }

    /// The last day of a period of `amount` `unit`s that starts on `start` (the day of issue
    /// or service), in the counting of the Civil Code:
    ///
    /// - the count starts the day after `start` (art. 201);
    /// - [`PeriodUnit::WorkingDays`] counts only working days, so the last day is the
    ///   `amount`th working day after `start`;
    /// - [`PeriodUnit::CalendarDays`] counts every day, and a last day that falls on a rest day
    ///   moves to the next working day (art. 203);
    /// - a period of 0 days, in either unit, ends on `start` itself, or on the next working day
    ///   when `start` is a rest day.
    ///
    /// The answer is `provisional` when a day the count had to judge — every day after `start`
    /// up to the last for working days; the day `amount` days on and the days it moved over for
    /// calendar days; `start` and the days it moved over for 0 — is not settled (its year's
    /// notice, or for a December day the next year's, is missing): the day may move once the
    /// notice is known. Err only when the period would end after [`NaiveDate::MAX`].
    ///
    /// ```
    /// use caseledger_domain::{Calendar, CalendarYear, PeriodUnit};
    /// use chrono::NaiveDate;
    ///
    /// let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    /// let national_day = CalendarYear::new(
    ///     2026,
    ///     (1..=7).map(|d| day(10, d)).collect(),
    ///     [day(9, 20), day(10, 10)].into(),
    /// )
    /// .unwrap();
    /// let calendar = Calendar::new("example", [national_day]).unwrap();
    /// // Served on Wednesday 30 September: the first working day after it is Thursday 8 October.
    /// let last = calendar.last_day(day(9, 30), 1, PeriodUnit::WorkingDays).unwrap();
    /// assert_eq!(last.date, day(10, 8));
    /// assert_eq!(last.calendar_version, "example");
    /// assert!(!last.provisional);
    /// // 2027's notice is missing, and a December day depends on it.
    /// let december = calendar.last_day(day(11, 30), 5, PeriodUnit::WorkingDays).unwrap();
    /// assert_eq!((december.date, december.provisional), (day(12, 7), true));
    /// ```
    pub fn last_day(
        &self,
        start: NaiveDate,
        amount: u32,
        unit: PeriodUnit,
    ) -> Result<LastDay, PeriodOutOfRange> {
        let out_of_range = PeriodOutOfRange {
            start,
            amount,
            unit,
        };
        let (first_judged, date) = match (amount, unit) {
            (0, _) => (Some(start), self.working_day_from(start)),
            (_, PeriodUnit::WorkingDays) => (
                start.succ_opt(),
                self.nth_working_day_after(start, u64::from(amount)),
            ),
            (_, PeriodUnit::CalendarDays) => {
                let on = start.checked_add_days(Days::new(u64::from(amount)));
                (on, on.and_then(|on| self.working_day_from(on)))
            }
        };
        let (Some(first_judged), Some(date)) = (first_judged, date) else {
            return Err(out_of_range);
        };
        Ok(LastDay {
            date,
            provisional: !self.settles(first_judged, date),
            calendar_version: self.version.clone(),
        })
    }

    /// Whether every date from `first` to `last` is settled: the notices of all their years
    /// are held, and the next year's when `last` is in December (an earlier December's next
    /// year is among their years already).
    fn settles(&self, first: NaiveDate, last: NaiveDate) -> bool {
        let (from, to) = (first.year(), last.year());
        let to = if last.month() == 12 { to + 1 } else { to };
        if from > to {
            return true;
        }
        // Only covered years are counted, so this is as long as the calendar, not the period.
        let covered = self.years.range(from..=to).count();
        usize::try_from(i64::from(to) - i64::from(from) + 1).is_ok_and(|span| covered == span)
    }

    /// `date` when it is a working day, else the next working day after it; none past
    /// [`NaiveDate::MAX`].
    fn working_day_from(&self, date: NaiveDate) -> Option<NaiveDate> {
        if self.is_working_day(date) {
            Some(date)
        } else {
            self.nth_working_day_after(date, 1)
        }
    }

    /// The `n`th (at least 1) working day after `after`; none past [`NaiveDate::MAX`].
    ///
    /// Between two days the notices list, the weekday rule holds, so the count jumps from
    /// listed day to listed day and counts the weekdays between them arithmetically.
    fn nth_working_day_after(&self, after: NaiveDate, n: u64) -> Option<NaiveDate> {
        let mut position = after;
        let mut remaining = n;
        let beyond = |date: NaiveDate| (Bound::Excluded(date), Bound::Unbounded);
        while let Some((&listed, &working)) = self.listed.range(beyond(position)).next() {
            // `listed` is the next listed day, so every day strictly between is plain.
            let gap = u64::try_from((listed - position).num_days()).ok()?;
            let plain = weekdays_following(position, gap - 1);
            if remaining <= plain {
                break;
            }
            remaining -= plain;
            if working {
                remaining -= 1;
                if remaining == 0 {
                    return Some(listed);
                }
            }
            position = listed;
        }
        nth_weekday_after(position, remaining)
    }
}

/// Monday to Friday.
fn is_weekday(date: NaiveDate) -> bool {
    date.weekday().num_days_from_monday() < 5
}

/// How many of the `span` days after `after` fall Monday to Friday.
fn weekdays_following(after: NaiveDate, span: u64) -> u64 {
    let weekday = u64::from(after.weekday().num_days_from_monday());
    let partial = (1..=span % 7)
        .filter(|offset| (weekday + offset) % 7 < 5)
        .count();
    span / 7 * 5 + partial as u64
}

/// The `n`th (at least 1) day from Monday to Friday after `after`; none past
/// [`NaiveDate::MAX`].
fn nth_weekday_after(after: NaiveDate, n: u64) -> Option<NaiveDate> {
    // Every whole week holds five weekdays; the last one to five are found by stepping.
    let whole_weeks = n.saturating_sub(1) / 5;
    let mut remaining = n - whole_weeks * 5;
    let mut day = after.checked_add_days(Days::new(whole_weeks.checked_mul(7)?))?;
    loop {
        day = day.succ_opt()?;
        if is_weekday(day) {
            remaining = remaining.saturating_sub(1);
            if remaining == 0 {
                return Some(day);
            }
        }
    }
}

/// The office's days in time: on which date of the office an instant falls, and when a date
/// of the office ends. The app's `--timezone` is one; any [`chrono::TimeZone`] is.
pub trait OfficeDays: Send + Sync + fmt::Debug {
    /// The office's date at `time`.
    fn date_of(&self, time: DateTime<Utc>) -> NaiveDate;
    /// The instant `date` ends in the office (the next day's first instant): a deadline whose
    /// last day is `date` has passed from then on. `None` past the last date there is.
    fn end_of(&self, date: NaiveDate) -> Option<DateTime<Utc>>;
}

impl<Zone> OfficeDays for Zone
where
    Zone: TimeZone + Send + Sync + fmt::Debug,
{
    fn date_of(&self, time: DateTime<Utc>) -> NaiveDate {
        time.with_timezone(self).date_naive()
    }

    fn end_of(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        let next = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
        // A zone that skips midnight (a daylight-saving jump) starts the day at the first
        // instant that exists; one that repeats it, at the earlier.
        let local = (0..=180)
            .filter_map(|minutes| next.checked_add_signed(chrono::Duration::minutes(minutes)))
            .find_map(|local| self.from_local_datetime(&local).earliest())?;
        Some(local.with_timezone(&Utc))
    }
}

/// Where a period ends, and on what calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastDay {
    /// The last day of the period: the deadline is the end of it.
    pub date: NaiveDate,
    /// A day the count judged is not settled (its year's notice, or for December the next
    /// year's, is missing), so the date may move once the notice is known.
    pub provisional: bool,
    /// The [`Calendar::version`] the count used.
    pub calendar_version: String,
}

/// A period that would end after the last date there is ([`NaiveDate::MAX`]); no real
/// deadline gets here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a period of {amount} {unit} from {start} would end after the last date there is")]
pub struct PeriodOutOfRange {
    /// The period's start.
    pub start: NaiveDate,
    /// Its length.
    pub amount: u32,
    /// Its unit.
    pub unit: PeriodUnit,
}

/// What a period is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodUnit {
    /// Every day counts; a last day on a rest day moves to the next working day.
    CalendarDays,
    /// Only working days count.
    WorkingDays,
}

impl fmt::Display for PeriodUnit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            PeriodUnit::CalendarDays => "calendar days",
            PeriodUnit::WorkingDays => "working days",
        })
    }
}

/// The day a letter's period starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodStart {
    /// The day the letter is issued.
    Issued,
    /// The day it is served (送达); until then it has no deadline.
    Served,
}

/// A letter kind's default deadline, as configured: `{"amount": 15, "unit": "working_days",
/// "from": "served"}`. [`Calendar::last_day`] turns it into a date once its start is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineRule {
    /// How many days.
    pub amount: u32,
    /// Counted in calendar or working days.
    pub unit: PeriodUnit,
    /// From issue or from service.
    pub from: PeriodStart,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn weekdays_following_counts_whole_weeks_and_the_rest() {
        // 2026-10-09 is a Friday.
        let friday = date("2026-10-09");
        assert_eq!(weekdays_following(friday, 0), 0);
        assert_eq!(weekdays_following(friday, 2), 0, "Saturday and Sunday");
        assert_eq!(weekdays_following(friday, 3), 1, "then Monday");
        assert_eq!(weekdays_following(friday, 7), 5);
        assert_eq!(weekdays_following(friday, 14 + 3), 11);
    }

    #[test]
    fn nth_weekday_after_steps_over_weekends_and_stops_at_the_end_of_dates() {
        let friday = date("2026-10-09");
        assert_eq!(nth_weekday_after(friday, 1), Some(date("2026-10-12")));
        assert_eq!(nth_weekday_after(friday, 5), Some(date("2026-10-16")));
        assert_eq!(nth_weekday_after(friday, 6), Some(date("2026-10-19")));
        assert_eq!(nth_weekday_after(NaiveDate::MAX, 1), None);
        assert_eq!(nth_weekday_after(friday, u64::MAX), None);
    }
}
