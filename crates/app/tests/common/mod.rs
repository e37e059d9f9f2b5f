//! What the app's test binaries share: a clock the tests move by hand and the calendar of their
//! scenarios, a service over a temporary sled store, tokens, the loopback delivery settings
//! and a case to open. Each binary keeps what only it needs (its own harness struct, its
//! scenario's inputs).
#![allow(dead_code, reason = "each test binary uses a part of this module")]

use std::path::Path;
use std::sync::{Arc, Mutex};

use caseledger_app::webhooks::{parse_cidr, DeliveryConfig, EgressPolicy};
use caseledger_app::{App, AppSetup, Caller, Clock, OpenCase, Storage, SystemClock};
use caseledger_domain::{Category, Department, EmployerInput, Policy, Role, Source};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// A clock that stands still until the test moves it.
#[derive(Debug)]
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    /// A clock showing `start`.
    pub fn starting_at(start: DateTime<Utc>) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(start)))
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("the clock's lock") = at;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("the clock's lock") += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("the clock's lock")
    }
}

/// Monday 2 March 2026, 09:00 UTC: day 0 of every scenario.
pub fn day0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("a valid date")
}

/// Day `n` of a scenario, at 09:00 UTC.
pub fn day(n: i64) -> DateTime<Utc> {
    day0() + Duration::days(n)
}

/// The department named `name`.
pub fn department(name: &str) -> Department {
    Department::new(name).expect("a valid department name")
}

/// The service over a sled store in `dir`, on the system clock, built with `setup`.
pub async fn sled_app(dir: &Path, setup: AppSetup) -> App {
    let storage = Storage::open_sled(dir).expect("the sled store opens");
    App::with_setup(storage, Policy::default(), Arc::new(SystemClock), setup)
        .await
        .expect("the service starts")
}

/// The first admin of a fresh store.
pub async fn first_admin(app: &App) -> Caller {
    let issued = app
        .issue_initial_admin_token()
        .await
        .expect("the initial admin token is issued")
        .expect("a fresh store has no token yet");
    app.authenticate(&issued.token)
        .expect("the new token authenticates")
}

/// A new token of `role` issued by `admin`, as the caller it stands for.
pub async fn issue(
    app: &App,
    admin: &Caller,
    name: &str,
    role: Role,
    department: Option<Department>,
) -> Caller {
    let issued = app
        .issue_token(admin, name.into(), role, department)
        .await
        .expect("the token is issued");
    app.authenticate(&issued.token)
        .expect("the new token authenticates")
}

/// Delivery settings under which webhooks reach receivers on loopback, which deliveries reach
/// only because the allow list names it (as `--webhook-allow-cidr 127.0.0.0/8` would).
pub fn loopback_delivery() -> DeliveryConfig {
    DeliveryConfig {
        egress: EgressPolicy {
            allowed: vec![parse_cidr("127.0.0.0/8").expect("a CIDR")],
            require_https: false,
        },
        ..DeliveryConfig::default()
    }
}

/// A wage-arrears case without a complainant, found by an inspection.
pub fn wage_arrears_case() -> OpenCase {
    OpenCase {
        title: "欠薪".into(),
        category: Category::WageArrears,
        description: "三个月工资未发".into(),
        source: Source::Inspection,
        employer: employer(),
        region: None,
        industry: None,
        workers_affected: Some(12),
        complainant: None,
    }
}

/// The employer of the tests' cases, without a credit code.
pub fn employer() -> EmployerInput {
    EmployerInput {
        name: "绵阳某建材有限公司".into(),
        credit_code: None,
        credit_code_unverified: false,
    }
}
