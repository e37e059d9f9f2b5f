//! The working-day calendar through the service: `/readyz` stays ready and warns from
//! 1 December (in `--timezone`) when next year's official notice is missing, and
//! `--calendar-dir` brings that notice without a rebuild; a bad calendar file stops the start.
//!
//! Owns a clock that stands where the test puts it; the calendar's rules are tested in the
//! domain and the app.

use std::sync::{Arc, Mutex};

use caseledger::config::{ServeArgs, Settings, StoreSelection};
use caseledger::serve::Server;
use caseledger_app::Clock;
use chrono::{DateTime, TimeZone as _, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::spawn_app_on_clock;

/// A clock that stands still until the test moves it.
#[derive(Debug)]
pub(crate) struct StillClock(Mutex<DateTime<Utc>>);

impl StillClock {
    pub(crate) fn at(at: DateTime<Utc>) -> Arc<StillClock> {
        Arc::new(StillClock(Mutex::new(at)))
    }

    pub(crate) fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for StillClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

async fn readyz(address: &str) -> (StatusCode, Value) {
    let response = reqwest::get(format!("{address}/readyz")).await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn readyz_warns_from_the_first_of_december_and_stays_ready() {
    // 23:59 on 30 November 2026 in Beijing (the default --timezone).
    let clock = StillClock::at(Utc.with_ymd_and_hms(2026, 11, 30, 15, 59, 0).unwrap());
    let app = spawn_app_on_clock(clock.clone(), |_| {}).await;
    let (status, body) = readyz(&app.address).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert!(body.get("warnings").is_none(), "{body}");

    clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0).unwrap());
    let (status, body) = readyz(&app.address).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a missing calendar does not make it unready"
    );
    assert_eq!(body["status"], "ok");
    let warnings = body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{body}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains("no official notice for 2027") && warning.contains("--calendar-dir"),
        "{warning}"
    );
    // /healthz never carries it.
    let health: Value = reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));
}

#[tokio::test]
async fn a_calendar_dir_with_next_years_notice_quiets_the_warning() {
    let calendar_dir = tempfile::tempdir().unwrap();
    let notice = json!({"year": 2027, "papers": [], "days": [
        {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
    ]});
    std::fs::write(calendar_dir.path().join("2027.json"), notice.to_string()).unwrap();
    let clock = StillClock::at(Utc.with_ymd_and_hms(2026, 12, 10, 2, 0, 0).unwrap());
    let path = calendar_dir.path().to_owned();
    let app = spawn_app_on_clock(clock, |flags: &mut ServeArgs| {
        flags.calendar_dir = Some(path);
    })
    .await;
    let (status, body) = readyz(&app.address).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("warnings").is_none(), "{body}");
    let calendar = app.app.calendar();
    assert!(calendar.covers(2027));
    assert!(
        calendar.version().starts_with("holiday-cn@d4e53bf+dir:"),
        "{}",
        calendar.version()
    );
}

#[tokio::test]
async fn a_bad_calendar_file_stops_the_start_naming_the_file_and_entry() {
    let data_dir = tempfile::tempdir().unwrap();
    let calendar_dir = tempfile::tempdir().unwrap();
    let notice = json!({"year": 2027, "days": [
        {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
        {"name": "春节", "date": "2027-02-30", "isOffDay": true},
    ]});
    let file = calendar_dir.path().join("2027.json");
    std::fs::write(&file, notice.to_string()).unwrap();
    let mut settings = Settings::with_defaults(
        data_dir.path(),
        "127.0.0.1:0".parse().unwrap(),
        StoreSelection::Sled,
    );
    settings.calendar_dir = Some(calendar_dir.path().to_owned());
    let error = format!("{:#}", Server::build(settings, None).await.unwrap_err());
    assert!(
        error.contains("--calendar-dir")
            && error.contains(&file.display().to_string())
            && error.contains("days[1] (春节 \"2027-02-30\"): not a date"),
        "{error}"
    );
    // Nothing was opened: the data dir was not even made.
    assert_eq!(std::fs::read_dir(data_dir.path()).unwrap().count(), 0);
}
