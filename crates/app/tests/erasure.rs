//! Erasure below HTTP: once the register names a case, no view opens its personal data at any
//! version, even while a key for it still exists (the window between the erasure event and the
//! key's removal, or an older store brought back); the start-up step removes such a key; a
//! key wrapped under a key-encryption key reads only through a keyring that holds it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use caseledger_app::erasure::{apply_erasures, Erasure};
use caseledger_app::personal_data::{Kek, Keyring, StoredCaseKey};
use caseledger_app::{App, AppSetup, Caller, ComplainantView, OpenCase, TimeTravel};
use caseledger_domain::{CaseId, ComplainantInput, Source};
use common::{sled_app, wage_arrears_case};

fn case_input() -> OpenCase {
    OpenCase {
        source: Source::Hotline,
        workers_affected: None,
        complainant: Some(ComplainantInput {
            name: "王秀英".into(),
            phone: Some("13912345678".into()),
            id_number: None,
        }),
        ..wage_arrears_case()
    }
}

async fn app(dir: &std::path::Path, keyring: Option<Keyring>) -> (App, Caller) {
    let setup = AppSetup {
        key_encryption: keyring.unwrap_or_default(),
        ..AppSetup::default()
    };
    let app = sled_app(dir, setup).await;
    let admin = match app.issue_initial_admin_token().await.unwrap() {
        Some(issued) => app.authenticate(&issued.token).unwrap(),
        None => panic!("one app per store in this test"),
    };
    (app, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_still_exists_opens_no_case_in_the_register() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::new(Kek::from_bytes(&[5; 32]), None);
    let (app, admin) = app(dir.path(), Some(keyring)).await;
    let opened = app.open_case(&admin, case_input(), None).await.unwrap();
    let case = opened.case_id;
    let view = app
        .case(&admin, case, TimeTravel::AtVersion(1))
        .await
        .unwrap();
    assert!(matches!(view.complainant, ComplainantView::Present(_)));
    let key: StoredCaseKey = app
        .storage()
        .personal_data_keys
        .get(case.0.as_bytes())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(key, StoredCaseKey::Wrapped { .. }));

    // The register names the case while its key is put back: no version opens.
    let erased = Erasure {
        case_id: case.0,
        erased_at: app.now(),
        position: opened.position,
    };
    assert_eq!(apply_erasures(app.storage(), &[erased]).await.unwrap(), 1);
    app.storage()
        .personal_data_keys
        .put(case.0.as_bytes(), &key)
        .await
        .unwrap();
    for at in [TimeTravel::Latest, TimeTravel::AtVersion(1)] {
        let view = app.case(&admin, case, at).await.unwrap();
        assert_eq!(view.complainant, ComplainantView::Erased, "{at:?}");
    }
    // The start-up step removes it.
    let upkeep = app.prepare_personal_data_keys().await.unwrap();
    assert_eq!(upkeep.keys_removed, 1);
    assert!(app
        .storage()
        .personal_data_keys
        .get::<StoredCaseKey>(case.0.as_bytes())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_erasure_removes_the_key_before_it_answers_and_a_repeat_makes_sure() {
    let dir = tempfile::tempdir().unwrap();
    let (app, admin) = app(dir.path(), None).await;
    let case: CaseId = app
        .open_case(&admin, case_input(), None)
        .await
        .unwrap()
        .case_id;
    let outcome = app.erase_personal_data(&admin, case, None).await.unwrap();
    let keys = &app.storage().personal_data_keys;
    assert!(keys
        .get::<StoredCaseKey>(case.0.as_bytes())
        .await
        .unwrap()
        .is_none());
    let register = app.erasures(&admin).await.unwrap();
    assert_eq!(register.len(), 1);
    assert_eq!(register[0].position, outcome.position);

    // A key that came back (say, a crash of an older version) goes with the repeat, which
    // still answers 409.
    let stored = StoredCaseKey::Plain(caseledger_app::personal_data::CaseKey::generate());
    keys.put(case.0.as_bytes(), &stored).await.unwrap();
    let repeat = app.erase_personal_data(&admin, case, None).await;
    assert!(
        matches!(
            repeat,
            Err(caseledger_app::AppError::Rejected(
                caseledger_domain::Rejection::Conflict { .. }
            ))
        ),
        "{repeat:?}"
    );
    assert!(keys
        .get::<StoredCaseKey>(case.0.as_bytes())
        .await
        .unwrap()
        .is_none());
}
