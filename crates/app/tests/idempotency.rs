//! How long idempotency records live in the service (issue #20, item 7): the configured period
//! never goes below the contract's 24 hours, so the sweep leaves a fresh key alone and it
//! still replays. That expired records are removed, from sled and from PostgreSQL, and their
//! keys start anew is the store conformance check
//! `expired_idempotency_records_are_gone_and_fresh_ones_replay`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::time::Duration;

use caseledger_app::{App, AppOptions, Idempotency, OpenCase, Storage, SystemClock};
use caseledger_domain::{Category, EmployerInput, Policy, Source};

fn case_input() -> OpenCase {
    OpenCase {
        title: "Wages unpaid".into(),
        category: Category::WageArrears,
        description: "Three months of wages unpaid".into(),
        source: Source::Hotline,
        employer: EmployerInput {
            name: "某建材有限公司".into(),
            credit_code: None,
            credit_code_unverified: false,
        },
        region: None,
        industry: None,
        workers_affected: None,
        complainant: None,
    }
}

#[tokio::test]
async fn a_period_below_a_day_is_raised_to_a_day_and_the_sweep_spares_a_fresh_key() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::with_options(
        Storage::open_sled(dir.path()).unwrap(),
        Policy::default(),
        Arc::new(SystemClock),
        AppOptions {
            idempotency_ttl: Duration::from_secs(1),
            ..AppOptions::default()
        },
    )
    .await
    .unwrap();
    let issued = app.issue_initial_admin_token().await.unwrap().unwrap();
    let admin = app.authenticate(&issued.token).unwrap();
    let key = || {
        Some(Idempotency {
            key: "open-once".into(),
            fingerprint: "the same request".into(),
        })
    };
    let first = app.open_case(&admin, case_input(), key()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.expire_idempotency_records().await.unwrap(), 0);
    let again = app.open_case(&admin, case_input(), key()).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.case_id, first.case_id);
    assert_eq!(again.position, first.position);
    assert_eq!(app.head().position.0, first.position);
}
