//! How long idempotency records live in the service (issue #20, item 7): the configured period
//! never goes below the contract's 24 hours, so the sweep leaves a fresh key alone and it
//! still replays. That expired records are removed, from sled and from PostgreSQL, and their
//! keys start anew is the store conformance check
//! `expired_idempotency_records_are_gone_and_fresh_ones_replay`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::time::Duration;

use caseledger_app::{AppOptions, AppSetup, Idempotency};
use common::{first_admin, sled_app, wage_arrears_case};

#[tokio::test]
async fn a_period_below_a_day_is_raised_to_a_day_and_the_sweep_spares_a_fresh_key() {
    let dir = tempfile::tempdir().unwrap();
    let setup = AppSetup {
        options: AppOptions {
            idempotency_ttl: Duration::from_secs(1),
            ..AppOptions::default()
        },
        ..AppSetup::default()
    };
    let app = sled_app(dir.path(), setup).await;
    let admin = first_admin(&app).await;
    let key = || {
        Some(Idempotency {
            key: "open-once".into(),
            fingerprint: "the same request".into(),
        })
    };
    let first = app
        .open_case(&admin, wage_arrears_case(), key())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.expire_idempotency_records().await.unwrap(), 0);
    let again = app
        .open_case(&admin, wage_arrears_case(), key())
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.case_id, first.case_id);
    assert_eq!(again.position, first.position);
    assert_eq!(app.head().position.0, first.position);
}
