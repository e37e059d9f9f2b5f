//! Fixtures shared by this package's unit tests: a data dir whose embedded log holds a few
//! events. Compiled for tests only.

#![allow(clippy::unwrap_used, reason = "test fixtures fail loudly on purpose")]

use caseledger_app::StoredEvent;
use caseledger_domain::{ActorRecord, CaseEvent, CaseId};
use caseledger_store::{EventLog, ExpectedVersion, SledLog, SledLogOptions, StreamId};
use chrono::{TimeZone as _, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::data_dir::sled_dir;

fn stored(case: u128, n: u32, event: serde_json::Value) -> StoredEvent {
    StoredEvent {
        id: Uuid::from_u128(1000 + u128::from(n)),
        case_id: CaseId(Uuid::from_u128(case)),
        at: Utc.with_ymd_and_hms(2026, 11, 29, 8, n, 0).unwrap(),
        actor: ActorRecord::system(),
        event: serde_json::from_value::<CaseEvent>(event).unwrap(),
    }
}

fn opened(case: u128, n: u32) -> StoredEvent {
    stored(
        case,
        n,
        json!({"type": "CaseOpened", "data": {
            "title": format!("case {case}"), "category": "wage_arrears",
            "description": "unpaid wages", "source": "hotline",
            "employer": {"name": "Acme", "credit_code": null, "credit_code_unverified": false},
            "region": null, "industry": null, "workers_affected": null, "complainant": null
        }}),
    )
}

fn note(case: u128, n: u32) -> StoredEvent {
    stored(
        case,
        n,
        json!({"type": "NoteAdded", "data": {"text": format!("note {n}")}}),
    )
}

/// A data dir whose log holds two cases, five events, the log closed again.
pub(crate) async fn data_dir_with_events() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let log = SledLog::open(&sled_dir(directory.path()), SledLogOptions::default()).unwrap();
    for (case, events) in [
        (1, vec![opened(1, 1), note(1, 2)]),
        (2, vec![opened(2, 3), note(2, 4), note(2, 5)]),
    ] {
        EventLog::<StoredEvent>::append(
            &log,
            StreamId(Uuid::from_u128(case)),
            ExpectedVersion::NoStream,
            events,
            None,
        )
        .await
        .unwrap()
        .unwrap();
    }
    tokio::task::spawn_blocking(move || drop(log))
        .await
        .unwrap();
    directory
}
