//! The auditors' workbench below the console (issue #14, item 3): every page of the global log
//! — after or before any position, unfiltered, by type, by case and by both, at several page
//! sizes — holds exactly the matching events of the positions it says it covered, and its
//! links reach every matching event once; only auditors and admins may browse; a background
//! verification counts its progress and ends with the same verdict as `verify_log`.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;

use caseledger_app::{
    AppError, AppSetup, EventFilter, LogWindow, RunOutcome, Verification, VerificationRuns,
};
use caseledger_domain::{CaseId, Command, Role};
use common::{first_admin, issue, sled_app, wage_arrears_case};

#[tokio::test]
async fn every_page_of_the_log_holds_exactly_the_matching_events_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let app = sled_app(dir.path(), AppSetup::default()).await;
    let admin = first_admin(&app).await;
    let auditor = issue(&app, &admin, "auditor", Role::Auditor, None).await;
    let officer = issue(&app, &admin, "officer", Role::Officer, None).await;

    // Three cases whose events interleave: A gets a note after each of the others' events.
    let mut cases = Vec::new();
    for _ in 0..3 {
        cases.push(
            app.open_case(&admin, wage_arrears_case(), None)
                .await
                .unwrap()
                .case_id,
        );
    }
    for round in 0..4 {
        for (index, case) in cases.iter().enumerate() {
            if index == 0 || round % 2 == 0 {
                let note = Command::AddNote {
                    text: format!("note {round} on case {index}"),
                };
                app.execute(&admin, *case, note, None, None).await.unwrap();
            }
        }
    }
    let all = app.events(&auditor, 0, 1_000).await.unwrap();
    let head = all.len() as u64;
    assert_eq!(head, app.head().position.0);

    let case_a = cases[0];
    let filters = [
        EventFilter::default(),
        EventFilter::new(Some("NoteAdded"), None).unwrap(),
        EventFilter::new(Some("CaseOpened"), None).unwrap(),
        EventFilter::new(None, Some(case_a)).unwrap(),
        EventFilter::new(Some("NoteAdded"), Some(case_a)).unwrap(),
        EventFilter::new(None, Some(CaseId(uuid::Uuid::new_v4()))).unwrap(),
    ];
    for filter in filters {
        let matching = |from: u64, to: u64| -> Vec<u64> {
            all.iter()
                .filter(|recorded| recorded.position.0 >= from && recorded.position.0 <= to)
                .filter(|recorded| {
                    filter
                        .event_type
                        .is_none_or(|wanted| recorded.event.event.event_type() == wanted)
                        && filter
                            .case_id
                            .is_none_or(|case| recorded.event.case_id == case)
                })
                .map(|recorded| recorded.position.0)
                .collect()
        };
        let everything = matching(1, head);
        for limit in [1, 2, 5, 100] {
            let mut windows: Vec<LogWindow> = (0..=head + 1).map(LogWindow::After).collect();
            windows.extend((0..=head + 2).map(LogWindow::Before));
            for window in windows {
                let page = app
                    .browse_log(&auditor, window, filter, limit)
                    .await
                    .unwrap();
                let shown: Vec<u64> = page.events.iter().map(|e| e.position.0).collect();
                let context = format!("{filter:?} {window:?} limit {limit}");
                assert!(shown.len() <= limit, "{context}");
                assert_eq!(
                    shown,
                    matching(page.from_position, page.to_position),
                    "{context}: the page holds every match of what it covered"
                );
                match window {
                    LogWindow::After(after) => {
                        assert_eq!(page.from_position, after.min(head) + 1, "{context}")
                    }
                    LogWindow::Before(before) => assert_eq!(
                        page.to_position,
                        before.min(head + 1).saturating_sub(1),
                        "{context}"
                    ),
                }
                if shown.len() < limit {
                    // A page that is not full covered every match on its side.
                    match window {
                        LogWindow::After(after) => {
                            assert_eq!(shown, matching(after + 1, head), "{context}");
                        }
                        LogWindow::Before(before) => {
                            assert_eq!(shown, matching(1, before.saturating_sub(1)), "{context}");
                        }
                    }
                }
                assert!(!page.budget_spent, "{context}");
            }
            // Following the later links from the start meets every match once, in order.
            let mut seen = Vec::new();
            let mut window = LogWindow::After(0);
            loop {
                let page = app
                    .browse_log(&auditor, window, filter, limit)
                    .await
                    .unwrap();
                seen.extend(page.events.iter().map(|e| e.position.0));
                if !page.has_later {
                    break;
                }
                window = LogWindow::After(page.to_position);
            }
            assert_eq!(seen, everything, "{filter:?} forwards, limit {limit}");
            // And the earlier links from the end, likewise.
            let mut seen = Vec::new();
            let mut window = LogWindow::Before(u64::MAX);
            loop {
                let page = app
                    .browse_log(&auditor, window, filter, limit)
                    .await
                    .unwrap();
                let mut earlier: Vec<u64> = page.events.iter().map(|e| e.position.0).collect();
                earlier.extend(seen);
                seen = earlier;
                if !page.has_earlier {
                    break;
                }
                window = LogWindow::Before(page.from_position);
            }
            assert_eq!(seen, everything, "{filter:?} backwards, limit {limit}");
        }
    }

    // An unknown type is refused naming its field; only auditors and admins browse.
    assert!(matches!(
        EventFilter::new(Some("CaseExploded"), None),
        Err(AppError::Invalid { field, .. }) if field == "type"
    ));
    assert!(matches!(
        app.browse_log(&officer, LogWindow::After(0), EventFilter::default(), 10)
            .await,
        Err(AppError::Forbidden(_))
    ));
    assert!(app.audit_access(&admin).is_ok());
    assert!(matches!(
        app.audit_access(&officer),
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        app.audit_history_page(&officer, case_a, 0, 10).await,
        Err(AppError::Forbidden(_))
    ));
    let history = app
        .audit_history_page(&auditor, case_a, 0, 100)
        .await
        .unwrap();
    assert_eq!(
        history.events.len() as u64,
        all.iter().filter(|e| e.event.case_id == case_a).count() as u64
    );
}

#[tokio::test]
async fn a_background_verification_counts_its_progress_and_ends_with_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(sled_app(dir.path(), AppSetup::default()).await);
    let admin = first_admin(&app).await;
    let auditor = issue(&app, &admin, "auditor", Role::Auditor, None).await;
    let officer = issue(&app, &admin, "officer", Role::Officer, None).await;
    for _ in 0..5 {
        app.open_case(&admin, wage_arrears_case(), None)
            .await
            .unwrap();
    }
    let runs = Arc::new(VerificationRuns::default());
    assert_eq!(runs.status(&auditor).unwrap(), None);
    assert!(matches!(
        runs.start(&app, &officer),
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(runs.status(&officer), Err(AppError::Forbidden(_))));
    let started = runs.start(&app, &auditor).unwrap();
    assert_eq!(started.total, 5);
    assert_eq!(started.started_by, auditor.name);
    let finished = loop {
        let status = runs.status(&auditor).unwrap().unwrap();
        if !status.running() {
            break status;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(finished.checked, 5);
    // A start after the run ended starts another; a start during one answers the running one
    // (on this test's single-threaded runtime the new run's task has not run yet).
    let again = runs.start(&app, &admin).unwrap();
    assert!(again.running());
    assert_eq!(again.started_by, admin.name);
    let during = runs.start(&app, &auditor).unwrap();
    assert_eq!(during, again, "the running one, not a second");
    let expected = app.verify_log(&auditor).await.unwrap();
    assert!(matches!(expected, Verification::Intact { events: 5, .. }));
    assert_eq!(
        finished.finished.map(|(_, outcome)| outcome),
        Some(RunOutcome::Verified(expected))
    );
    // The counter a caller hands in ends at the number of events.
    let counted = std::sync::atomic::AtomicU64::new(0);
    app.verify_log_counting(&admin, &counted).await.unwrap();
    assert_eq!(counted.into_inner(), 5);
}
