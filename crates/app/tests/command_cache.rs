//! The command path's per-case state cache, seen from outside: commands decided on a cached
//! state must behave exactly as if the case had been loaded from the log, also when the log
//! moved on behind the service's back (as another instance on the same PostgreSQL database
//! would move it). Here the "other instance" is a direct append to the same sled log.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;

use caseledger_app::{App, AppError, AppSetup, Caller};
use caseledger_domain::{
    ActorRecord, CaseEvent, CaseId, Command, Outcome, Rejection, Role, StoredEvent,
};
use caseledger_store::{ExpectedVersion, StreamId, Version};
use common::{first_admin, issue, sled_app, wage_arrears_case};
use uuid::Uuid;

struct Harness {
    app: App,
    officer: Caller,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let app = sled_app(dir.path(), AppSetup::default()).await;
    let admin = first_admin(&app).await;
    let officer = issue(&app, &admin, "Li Wei", Role::Officer, None).await;
    Harness {
        app,
        officer,
        _dir: dir,
    }
}

fn note(text: &str) -> Command {
    Command::AddNote { text: text.into() }
}

impl Harness {
    async fn open(&self) -> CaseId {
        self.app
            .open_case(&self.officer, wage_arrears_case(), None)
            .await
            .unwrap()
            .case_id
    }

    async fn run(
        &self,
        case: CaseId,
        command: Command,
        if_match: Option<u64>,
    ) -> Result<u64, AppError> {
        self.app
            .execute(&self.officer, case, command, if_match, None)
            .await
            .map(|outcome| outcome.version)
    }

    /// Appends `event` to the case's stream without going through this service.
    async fn append_behind_its_back(&self, case: CaseId, at_version: u64, event: CaseEvent) {
        let stored = StoredEvent {
            id: Uuid::now_v7(),
            case_id: case,
            at: self.app.now(),
            actor: ActorRecord::system(),
            event,
        };
        let committed = self
            .app
            .storage()
            .log
            .append(
                StreamId(case.0),
                ExpectedVersion::after(Version(at_version)),
                vec![stored],
                None,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(committed.last_version, Version(at_version + 1));
    }
}

#[tokio::test]
async fn commands_in_a_row_land_on_consecutive_versions() {
    let harness = harness().await;
    let case = harness.open().await;
    for expected in 2..=20 {
        assert_eq!(
            harness.run(case, note("跟进"), None).await.unwrap(),
            expected
        );
    }
    // `If-Match` against the version the previous command left.
    assert_eq!(harness.run(case, note("核实"), Some(20)).await.unwrap(), 21);
    let view = harness
        .app
        .case(&harness.officer, case, caseledger_app::TimeTravel::Latest)
        .await
        .unwrap();
    assert_eq!(view.case.version, 21);
    assert_eq!(view.case.notes.len(), 20);
}

#[tokio::test]
async fn a_change_behind_the_service_s_back_is_seen_by_the_next_command() {
    let harness = harness().await;
    let case = harness.open().await;
    assert_eq!(harness.run(case, note("first"), None).await.unwrap(), 2);
    // Another writer adds version 3; the service's cached state is at 2.
    harness
        .append_behind_its_back(
            case,
            2,
            CaseEvent::NoteAdded {
                text: "elsewhere".into(),
            },
        )
        .await;

    // A command without `If-Match` lands after it, not over it.
    assert_eq!(harness.run(case, note("second"), None).await.unwrap(), 4);

    // Another writer closes the case: a command the closed case refuses is refused, although
    // the service last saw the case open.
    harness
        .append_behind_its_back(
            case,
            4,
            CaseEvent::CaseClosed {
                outcome: Outcome::Withdrawn,
                summary: "撤回".into(),
            },
        )
        .await;
    let refused = harness
        .run(
            case,
            Command::AssignOfficer {
                officer: "Li Wei".into(),
            },
            None,
        )
        .await;
    assert!(
        matches!(refused, Err(AppError::Rejected(Rejection::Conflict { .. }))),
        "{refused:?}"
    );

    // Reopened behind its back: the refusal above must not have stuck either.
    harness
        .append_behind_its_back(
            case,
            5,
            CaseEvent::CaseReopened {
                reason: "新证据".into(),
            },
        )
        .await;
    let assigned = harness
        .run(
            case,
            Command::AssignOfficer {
                officer: "Li Wei".into(),
            },
            None,
        )
        .await;
    assert_eq!(assigned.unwrap(), 7);
}

#[tokio::test]
async fn if_match_is_checked_against_the_log_not_only_the_cache() {
    let harness = harness().await;
    let case = harness.open().await;
    assert_eq!(harness.run(case, note("first"), None).await.unwrap(), 2);
    // A stale version: 412 naming the current one.
    let stale = harness.run(case, note("stale"), Some(1)).await;
    assert!(
        matches!(
            stale,
            Err(AppError::PreconditionFailed {
                expected: 1,
                current: 2
            })
        ),
        "{stale:?}"
    );
    // The log moves to 3 behind the service's back: `If-Match: 3` is current, although the
    // cache says 2, and `If-Match: 2` is stale, although the cache says it is current.
    harness
        .append_behind_its_back(
            case,
            2,
            CaseEvent::NoteAdded {
                text: "elsewhere".into(),
            },
        )
        .await;
    let behind = harness.run(case, note("behind"), Some(2)).await;
    assert!(
        matches!(
            behind,
            Err(AppError::PreconditionFailed {
                expected: 2,
                current: 3
            })
        ),
        "{behind:?}"
    );
    assert_eq!(
        harness.run(case, note("current"), Some(3)).await.unwrap(),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_on_one_case_all_land_once_each() {
    let harness = Arc::new(harness().await);
    let case = harness.open().await;
    let tasks: Vec<_> = (0..32)
        .map(|n| {
            let harness = Arc::clone(&harness);
            tokio::spawn(async move { harness.run(case, note(&format!("note {n}")), None).await })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=33).collect::<Vec<u64>>());
}
