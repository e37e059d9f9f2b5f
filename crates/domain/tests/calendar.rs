//! The working-day calendar and the counting of periods on it: real dates from the State
//! Council's 2025 and 2026 notices (as holiday-cn's `2025.json` and `2026.json` list them; the
//! app's tests check the embedded files say the same), then properties over those notices and
//! over random ones, against a model that walks the days one by one.
//!
//! Owns the calendar fixtures; the counting itself lives in `src/calendar.rs`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

use std::collections::BTreeSet;

use caseledger_domain::{
    Calendar, CalendarError, CalendarYear, DeadlineRule, LastDay, PeriodOutOfRange, PeriodStart,
    PeriodUnit,
};
use chrono::{Datelike, Days, NaiveDate};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::json;

use PeriodUnit::{CalendarDays, WorkingDays};

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Every day from `first` to `last`, both included.
fn span(first: &str, last: &str) -> Vec<NaiveDate> {
    let (first, last) = (date(first), date(last));
    first.iter_days().take_while(|day| *day <= last).collect()
}

fn days(ranges: &[(&str, &str)]) -> BTreeSet<NaiveDate> {
    ranges
        .iter()
        .flat_map(|(first, last)| span(first, last))
        .collect()
}

/// The 2025 notice (gov.cn, zhengceku 202411/content_6986383).
fn notice_2025() -> CalendarYear {
    let rest = days(&[
        ("2025-01-01", "2025-01-01"),
        ("2025-01-28", "2025-02-04"),
        ("2025-04-04", "2025-04-06"),
        ("2025-05-01", "2025-05-05"),
        ("2025-05-31", "2025-06-02"),
        ("2025-10-01", "2025-10-08"),
    ]);
    let working = [
        "2025-01-26",
        "2025-02-08",
        "2025-04-27",
        "2025-09-28",
        "2025-10-11",
    ];
    CalendarYear::new(2025, rest, working.map(date).into()).unwrap()
}

/// The 2026 notice (gov.cn, zhengceku 202511/content_7047091).
fn notice_2026() -> CalendarYear {
    let rest = days(&[
        ("2026-01-01", "2026-01-03"),
        ("2026-02-15", "2026-02-23"),
        ("2026-04-04", "2026-04-06"),
        ("2026-05-01", "2026-05-05"),
        ("2026-06-19", "2026-06-21"),
        ("2026-09-25", "2026-09-27"),
        ("2026-10-01", "2026-10-07"),
    ]);
    let working = [
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ];
    CalendarYear::new(2026, rest, working.map(date).into()).unwrap()
}

/// 2025 and 2026: 2027's notice is not published yet.
fn official() -> Calendar {
    Calendar::new("test@2025-2026", [notice_2025(), notice_2026()]).unwrap()
}

fn last(calendar: &Calendar, start: &str, amount: u32, unit: PeriodUnit) -> (NaiveDate, bool) {
    let LastDay {
        date,
        provisional,
        calendar_version,
    } = calendar.last_day(date(start), amount, unit).unwrap();
    assert_eq!(calendar_version, calendar.version());
    (date, provisional)
}

#[test]
fn the_notices_say_which_days_work() {
    let calendar = official();
    // Adjusted working days (调休): a Saturday before the Spring Festival, a Sunday before
    // National Day.
    assert_eq!(date("2026-02-14").weekday(), chrono::Weekday::Sat);
    assert!(calendar.is_working_day(date("2026-02-14")));
    assert_eq!(date("2026-09-20").weekday(), chrono::Weekday::Sun);
    assert!(calendar.is_working_day(date("2026-09-20")));
    // The Spring Festival is off from 15 to 23 February, weekdays included.
    assert!(span("2026-02-15", "2026-02-23")
        .into_iter()
        .all(|day| !calendar.is_working_day(day)));
    assert!(calendar.is_working_day(date("2026-02-24")));
    // National Day: 1 to 7 October off, then Thursday 8 October works.
    assert!(span("2026-10-01", "2026-10-07")
        .into_iter()
        .all(|day| !calendar.is_working_day(day)));
    assert!(calendar.is_working_day(date("2026-10-08")));
    // Days no notice lists follow the week.
    assert!(calendar.is_working_day(date("2026-03-02")));
    assert!(!calendar.is_working_day(date("2026-03-07")));
    assert!(calendar.covers(2026) && !calendar.covers(2027));
    assert_eq!(calendar.covered_years().collect::<Vec<_>>(), [2025, 2026]);
}

#[test]
fn working_days_from_a_friday_before_national_day() {
    let calendar = official();
    // Friday 26 September 2025: Sunday the 28th works, 1 to 8 October are off, Saturday the
    // 11th works.
    let served = "2025-09-26";
    assert_eq!(
        last(&calendar, served, 1, WorkingDays),
        (date("2025-09-28"), false)
    );
    assert_eq!(
        last(&calendar, served, 3, WorkingDays),
        (date("2025-09-30"), false)
    );
    assert_eq!(
        last(&calendar, served, 4, WorkingDays),
        (date("2025-10-09"), false)
    );
    assert_eq!(
        last(&calendar, served, 6, WorkingDays),
        (date("2025-10-11"), false)
    );
    // Friday 18 September 2026, an opinion letter's default of 15 working days: Sunday the
    // 20th works, the Mid-Autumn Festival (25–27) and National Day (1–7 October) do not,
    // Saturday 10 October does.
    assert_eq!(
        last(&calendar, "2026-09-18", 1, WorkingDays),
        (date("2026-09-20"), false)
    );
    assert_eq!(
        last(&calendar, "2026-09-18", 15, WorkingDays),
        (date("2026-10-15"), false)
    );
}

#[test]
fn an_adjusted_working_weekend_counts() {
    let calendar = official();
    // Thursday 12 February 2026: Friday the 13th, Saturday the 14th (调休), then the holiday
    // to the 23rd.
    assert_eq!(
        last(&calendar, "2026-02-12", 1, WorkingDays),
        (date("2026-02-13"), false)
    );
    assert_eq!(
        last(&calendar, "2026-02-12", 2, WorkingDays),
        (date("2026-02-14"), false)
    );
    assert_eq!(
        last(&calendar, "2026-02-12", 3, WorkingDays),
        (date("2026-02-24"), false)
    );
    // A period served on the adjusted working Saturday counts from the Tuesday after the
    // holiday.
    assert_eq!(
        last(&calendar, "2026-02-14", 1, WorkingDays),
        (date("2026-02-24"), false)
    );
}

#[test]
fn a_calendar_day_period_ending_on_a_rest_day_moves_to_the_next_working_day() {
    let calendar = official();
    // 21 September + 10 days = 1 October, National Day: the period ends on Thursday 8 October.
    assert_eq!(
        last(&calendar, "2026-09-21", 10, CalendarDays),
        (date("2026-10-08"), false)
    );
    // Ending on an ordinary working day, it does not move.
    assert_eq!(
        last(&calendar, "2026-09-14", 10, CalendarDays),
        (date("2026-09-24"), false)
    );
    // Ending on an adjusted working Saturday (28 February), it does not move either.
    assert_eq!(
        last(&calendar, "2026-02-13", 15, CalendarDays),
        (date("2026-02-28"), false)
    );
    // Ending on an ordinary Sunday, it moves to Monday.
    assert_eq!(
        last(&calendar, "2026-03-01", 7, CalendarDays),
        (date("2026-03-09"), false)
    );
}

#[test]
fn a_period_that_reaches_a_year_without_notice_is_provisional() {
    let calendar = official();
    // Into January 2027, whose notice is missing.
    assert_eq!(
        last(&calendar, "2026-12-20", 15, WorkingDays),
        (date("2027-01-08"), true)
    );
    // December 2026 is settled only with 2027's notice (its New Year holiday may move the end
    // of December), so a December last day is provisional too; November is not.
    assert_eq!(
        last(&calendar, "2026-11-30", 1, WorkingDays),
        (date("2026-12-01"), true)
    );
    assert_eq!(
        last(&calendar, "2026-11-20", 5, WorkingDays),
        (date("2026-11-27"), false)
    );
    assert_eq!(
        last(&calendar, "2026-11-01", 45, CalendarDays),
        (date("2026-12-16"), true)
    );
    // A December 2025 day is settled: 2026's notice is known.
    assert_eq!(
        last(&calendar, "2025-12-01", 5, WorkingDays),
        (date("2025-12-08"), false)
    );
    // Before the first notice, the same.
    assert_eq!(
        last(&calendar, "2024-12-30", 1, WorkingDays),
        (date("2024-12-31"), true)
    );
    // A calendar-day period judges only its last day and the days it moves over: one that
    // starts in 2024 and ends in 2025 is settled.
    assert_eq!(
        last(&calendar, "2024-12-30", 10, CalendarDays),
        (date("2025-01-09"), false)
    );
    // A year without notice counts Monday to Friday: 1 January 2027 is a Friday.
    assert!(calendar.is_working_day(date("2027-01-01")));
}

#[test]
fn a_period_of_no_days_ends_on_its_start_or_the_next_working_day() {
    let calendar = official();
    for unit in [WorkingDays, CalendarDays] {
        assert_eq!(
            last(&calendar, "2026-02-13", 0, unit),
            (date("2026-02-13"), false)
        );
        assert_eq!(
            last(&calendar, "2026-02-14", 0, unit),
            (date("2026-02-14"), false)
        );
        assert_eq!(
            last(&calendar, "2026-02-21", 0, unit),
            (date("2026-02-24"), false)
        );
    }
}

#[test]
fn a_notice_may_settle_the_december_before_its_year() {
    // The 2019 notice made Saturday 29 December 2018 a working day and the 30th and 31st
    // holidays (holiday-cn's 2019.json).
    let notice_2019 = CalendarYear::new(
        2019,
        days(&[("2018-12-30", "2019-01-01")]),
        [date("2018-12-29")].into(),
    )
    .unwrap();
    let notice_2018 =
        CalendarYear::new(2018, days(&[("2018-10-01", "2018-10-07")]), [].into()).unwrap();
    let both = Calendar::new("2018-2019", [notice_2018.clone(), notice_2019.clone()]).unwrap();
    assert!(both.is_working_day(date("2018-12-29")));
    assert_eq!(
        last(&both, "2018-12-28", 1, WorkingDays),
        (date("2018-12-29"), false)
    );
    assert_eq!(
        last(&both, "2018-12-28", 2, WorkingDays),
        (date("2019-01-02"), false)
    );
    // Without 2019's notice, 2018's December follows the week, provisionally.
    let only_2018 = Calendar::new("2018", [notice_2018]).unwrap();
    assert_eq!(
        last(&only_2018, "2018-12-28", 1, WorkingDays),
        (date("2018-12-31"), true)
    );
}

#[test]
fn a_period_past_the_last_date_there_is_is_an_error() {
    let calendar = official();
    let near_the_end = NaiveDate::MAX.checked_sub_days(Days::new(3)).unwrap();
    for unit in [WorkingDays, CalendarDays] {
        assert_eq!(
            calendar.last_day(near_the_end, 10, unit),
            Err(PeriodOutOfRange {
                start: near_the_end,
                amount: 10,
                unit
            })
        );
        assert!(calendar
            .last_day(date("2026-01-01"), u32::MAX, unit)
            .is_err());
    }
    // Long periods are counted, not walked, and are provisional past the last notice.
    let long = calendar
        .last_day(date("2026-01-01"), 10_000_000, WorkingDays)
        .unwrap();
    assert!(long.provisional);
    assert!(long.date.year() > 40_000);
}

#[test]
fn notices_that_contradict_themselves_or_each_other_are_refused() {
    let rest: BTreeSet<_> = [date("2026-10-01")].into();
    assert_eq!(
        CalendarYear::new(2027, BTreeSet::new(), BTreeSet::new()),
        Err(CalendarError::EmptyYear { year: 2027 })
    );
    assert_eq!(
        CalendarYear::new(2027, rest.clone(), BTreeSet::new()),
        Err(CalendarError::DayOutsideYear {
            year: 2027,
            date: date("2026-10-01")
        })
    );
    assert_eq!(
        CalendarYear::new(i32::MIN, rest.clone(), BTreeSet::new()),
        Err(CalendarError::DayOutsideYear {
            year: i32::MIN,
            date: date("2026-10-01")
        })
    );
    assert_eq!(
        CalendarYear::new(2026, rest.clone(), rest.clone()),
        Err(CalendarError::RestAndWorking {
            year: 2026,
            date: date("2026-10-01")
        })
    );
    assert_eq!(
        Calendar::new("twice", [notice_2026(), notice_2026()]),
        Err(CalendarError::DuplicateYear { year: 2026 })
    );
    // The 2027 notice making 31 December 2026 a working day, which the 2026 one says is off.
    let mut rest_2026 = notice_2026().rest_days().clone();
    rest_2026.insert(date("2026-12-31"));
    let off = CalendarYear::new(2026, rest_2026, notice_2026().working_days().clone()).unwrap();
    let on = CalendarYear::new(2027, BTreeSet::new(), [date("2026-12-31")].into()).unwrap();
    assert_eq!(
        Calendar::new("disagree", [off, on]),
        Err(CalendarError::NoticesDisagree {
            date: date("2026-12-31"),
            first: 2026,
            second: 2027
        })
    );
}

#[test]
fn deadline_rules_read_and_write_the_configured_shape() {
    let rule = DeadlineRule {
        amount: 15,
        unit: WorkingDays,
        from: PeriodStart::Served,
    };
    let written = json!({"amount": 15, "unit": "working_days", "from": "served"});
    assert_eq!(serde_json::to_value(rule).unwrap(), written);
    assert_eq!(
        serde_json::from_value::<DeadlineRule>(written).unwrap(),
        rule
    );
    let issued: DeadlineRule =
        serde_json::from_value(json!({"amount": 30, "unit": "calendar_days", "from": "issued"}))
            .unwrap();
    assert_eq!(
        (issued.unit, issued.from),
        (CalendarDays, PeriodStart::Issued)
    );
    for wrong in [
        json!({"amount": 15, "unit": "weeks", "from": "served"}),
        json!({"amount": -1, "unit": "working_days", "from": "served"}),
        json!({"amount": 15, "unit": "working_days", "from": "served", "days": 3}),
    ] {
        assert!(serde_json::from_value::<DeadlineRule>(wrong).is_err());
    }
}

// --- Properties -------------------------------------------------------------------------

/// Whether the calendar settles `day`: its year's notice, and for December the next one's.
fn settled(calendar: &Calendar, day: NaiveDate) -> bool {
    calendar.covers(day.year()) && (day.month() != 12 || calendar.covers(day.year() + 1))
}

/// The model: walks the days one by one.
fn walked(
    calendar: &Calendar,
    start: NaiveDate,
    amount: u32,
    unit: PeriodUnit,
) -> (NaiveDate, bool) {
    let mut judged = Vec::new();
    let mut day = start;
    match (amount, unit) {
        (0, _) => judged.push(day),
        (_, CalendarDays) => {
            day = start + Days::new(u64::from(amount));
            judged.push(day);
        }
        (_, WorkingDays) => {
            let mut counted = 0;
            while counted < amount {
                day = day.succ_opt().unwrap();
                judged.push(day);
                counted += u32::from(calendar.is_working_day(day));
            }
        }
    }
    while !calendar.is_working_day(day) {
        day = day.succ_opt().unwrap();
        judged.push(day);
    }
    let provisional = judged.iter().any(|judged| !settled(calendar, *judged));
    (day, provisional)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/calendar.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// A start between mid-2024 and mid-2027: before, across and after the 2025–2026 notices.
fn start() -> impl Strategy<Value = NaiveDate> {
    (0u64..3 * 366).prop_map(|offset| date("2024-06-01") + Days::new(offset))
}

fn unit() -> impl Strategy<Value = PeriodUnit> {
    prop_oneof![Just(WorkingDays), Just(CalendarDays)]
}

/// A random notice for `year`: up to 60 listed days, each off or working, some in the December
/// before it.
fn random_notice(year: i32) -> impl Strategy<Value = Option<CalendarYear>> {
    let first = NaiveDate::from_ymd_opt(year - 1, 12, 1).unwrap();
    prop::collection::btree_map(0u64..396, any::<bool>(), 0..60).prop_map(move |listed| {
        let mut rest = BTreeSet::new();
        let mut working = BTreeSet::new();
        for (offset, is_working) in listed {
            let day = first + Days::new(offset);
            if day.year() <= year {
                if is_working { &mut working } else { &mut rest }.insert(day);
            }
        }
        CalendarYear::new(year, rest, working).ok()
    })
}

/// Random notices for some of 2025, 2026 and 2027 (that agree on the Decembers they share).
fn random_calendar() -> impl Strategy<Value = Calendar> {
    (
        prop::option::of(random_notice(2025)),
        prop::option::of(random_notice(2026)),
        prop::option::of(random_notice(2027)),
    )
        .prop_filter_map("the notices disagree on a December day", |notices| {
            let notices = [notices.0, notices.1, notices.2];
            Calendar::new("random", notices.into_iter().flatten().flatten()).ok()
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_last_day_is_never_a_rest_day(start in start(), amount in 0u32..400, unit in unit()) {
        let calendar = official();
        let last = calendar.last_day(start, amount, unit).unwrap();
        prop_assert!(calendar.is_working_day(last.date), "{last:?}");
    }

    #[test]
    fn more_working_days_end_strictly_later(start in start(), amount in 1u32..400) {
        let calendar = official();
        let shorter = calendar.last_day(start, amount, WorkingDays).unwrap();
        let longer = calendar.last_day(start, amount + 1, WorkingDays).unwrap();
        prop_assert!(shorter.date < longer.date, "{shorter:?} then {longer:?}");
        // And a period of no days never ends after one of one day.
        let none = calendar.last_day(start, 0, WorkingDays).unwrap();
        let one = calendar.last_day(start, 1, WorkingDays).unwrap();
        prop_assert!(none.date <= one.date);
    }

    #[test]
    fn long_periods_end_strictly_later_too(start in start(), amount in 1u32..60_000_000) {
        let calendar = official();
        let shorter = calendar.last_day(start, amount, WorkingDays).unwrap();
        let longer = calendar.last_day(start, amount + 1, WorkingDays).unwrap();
        prop_assert!(shorter.date < longer.date, "{shorter:?} then {longer:?}");
        prop_assert!(calendar.is_working_day(longer.date));
    }

    #[test]
    fn a_calendar_day_period_ends_no_earlier_than_its_days(
        start in start(),
        amount in 0u32..400,
    ) {
        let calendar = official();
        let last = calendar.last_day(start, amount, CalendarDays).unwrap();
        prop_assert!(last.date >= start + Days::new(u64::from(amount)), "{last:?}");
        // Working days are never fewer days than calendar days.
        let working = calendar.last_day(start, amount, WorkingDays).unwrap();
        prop_assert!(working.date >= last.date, "{working:?} before {last:?}");
    }

    #[test]
    fn counting_agrees_with_walking_the_official_calendar(
        start in start(),
        amount in 0u32..400,
        unit in unit(),
    ) {
        let calendar = official();
        let last = calendar.last_day(start, amount, unit).unwrap();
        prop_assert_eq!((last.date, last.provisional), walked(&calendar, start, amount, unit));
    }

    #[test]
    fn counting_agrees_with_walking_any_calendar(
        calendar in random_calendar(),
        start in start(),
        amount in 0u32..400,
        unit in unit(),
    ) {
        let last = calendar.last_day(start, amount, unit).unwrap();
        prop_assert_eq!((last.date, last.provisional), walked(&calendar, start, amount, unit));
        prop_assert!(calendar.is_working_day(last.date));
    }
}
