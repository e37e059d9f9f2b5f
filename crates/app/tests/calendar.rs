//! The service's working-day calendar: the one it is built with (or the embedded one), today in
//! the office's time zone by the service's clock, and the readiness warning from 1 December
//! when next year's official notice is missing.
//!
//! Owns no fixtures beyond its calendars; the loader's rules are tested beside it
//! (`src/calendar.rs`), the counting in the domain.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

mod common;

use std::sync::Arc;

use caseledger_app::{App, AppSetup, Clock, Storage};
use caseledger_domain::{Calendar, CalendarYear, Policy};
use chrono::{NaiveDate, TimeZone as _, Utc};
use common::TestClock;

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

async fn app_on(dir: &std::path::Path, clock: &Arc<TestClock>, setup: AppSetup) -> App {
    let storage = Storage::open_sled(dir).unwrap();
    App::with_setup(
        storage,
        Policy::default(),
        Arc::clone(clock) as Arc<dyn Clock>,
        setup,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_embedded_calendar_warns_of_a_missing_next_year_from_the_first_of_december() {
    let dir = tempfile::tempdir().unwrap();
    // 23:59 on 30 November in Beijing.
    let clock = TestClock::starting_at(Utc.with_ymd_and_hms(2026, 11, 30, 15, 59, 0).unwrap());
    let app = app_on(dir.path(), &clock, AppSetup::default()).await;
    assert_eq!(app.calendar().version(), "holiday-cn@d4e53bf");
    assert_eq!(app.timezone(), chrono_tz::Asia::Shanghai);
    assert_eq!(app.today(), date("2026-11-30"));
    assert_eq!(app.readiness_warnings(), Vec::<String>::new());

    // Midnight in Beijing: 1 December, and 2027's notice is not in the embedded data.
    clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0).unwrap());
    assert_eq!(app.today(), date("2026-12-01"));
    let warnings = app.readiness_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("no official notice for 2027")
            && warnings[0].contains("holiday-cn@d4e53bf"),
        "{warnings:?}"
    );

    // Still in 2027, without its notice, the warning stays.
    clock.set(Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0).unwrap());
    assert!(app.readiness_warnings()[0].contains("for 2027:"));
}

#[tokio::test]
async fn the_office_time_zone_decides_when_december_begins() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::starting_at(Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0).unwrap());
    let setup = AppSetup {
        timezone: chrono_tz::UTC,
        ..AppSetup::default()
    };
    let app = app_on(dir.path(), &clock, setup).await;
    // 16:00 UTC on 30 November is already 1 December in Beijing, not in UTC.
    assert_eq!(app.today(), date("2026-11-30"));
    assert!(app.readiness_warnings().is_empty());
    clock.set(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
    assert_eq!(app.readiness_warnings().len(), 1);
}

#[tokio::test]
async fn a_calendar_that_covers_next_year_gives_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::starting_at(Utc.with_ymd_and_hms(2026, 12, 15, 1, 0, 0).unwrap());
    let new_year = |year: i32| {
        let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        CalendarYear::new(year, [first].into(), [].into()).unwrap()
    };
    let calendar = Calendar::new("test-2026-2027", [new_year(2026), new_year(2027)]).unwrap();
    let setup = AppSetup {
        calendar: Some(calendar.clone()),
        ..AppSetup::default()
    };
    let app = app_on(dir.path(), &clock, setup).await;
    assert_eq!(app.calendar(), &calendar);
    assert!(app.readiness_warnings().is_empty());
    // A year later, 2028 is missing.
    clock.set(Utc.with_ymd_and_hms(2027, 12, 15, 1, 0, 0).unwrap());
    let warnings = app.readiness_warnings();
    assert!(
        warnings.len() == 1
            && warnings[0].contains("for 2028")
            && warnings[0].contains("test-2026-2027"),
        "{warnings:?}"
    );
}
