//! The front page: for officers, supervisors and admins, the work queue (the open cases
//! assigned to them, letters overdue or due within three days first); for others a greeting
//! and where to go.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use caseledger_domain::Role;
use serde::Serialize;

use crate::error::ConsoleError;
use crate::pages::render::render_page;
use crate::session::SignedIn;
use crate::state::ConsoleState;
use crate::views::{CaseRow, CaseTable};

#[derive(Debug, Serialize)]
struct QueuePage {
    has_queue: bool,
    cases: CaseTable,
    limit: usize,
}

/// `GET /console/`.
pub async fn queue(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
) -> Result<Response, ConsoleError> {
    let caller = signed_in.caller();
    let has_queue = matches!(caller.role, Role::Officer | Role::Supervisor | Role::Admin);
    let wording = state.wording(signed_in.visitor.lang);
    let rows: Vec<CaseRow> = if has_queue {
        // A case is assigned to a person by login or by name.
        let names = [signed_in.session.login.as_str(), caller.name.as_str()];
        state
            .app
            .work_queue(caller, &names)
            .await?
            .iter()
            .map(|queued| CaseRow::new(&queued.case, Some(queued.urgency), wording))
            .collect()
    } else {
        Vec::new()
    };
    let cases = CaseTable::new(&rows, true, wording);
    render_page(
        &state,
        StatusCode::OK,
        "queue.html",
        &signed_in.chrome("queue"),
        QueuePage {
            has_queue,
            cases,
            limit: caseledger_app::WORK_QUEUE_LIMIT,
        },
    )
}
