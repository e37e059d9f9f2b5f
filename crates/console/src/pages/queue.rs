//! The front page: for officers, supervisors and admins, the work queue (the open cases
//! assigned to them, letters overdue or due within three days first); for a partner
//! department, the cases shared with it and its feed; for others a greeting and where to go.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use caseledger_app::CaseFilter;
use caseledger_domain::Role;
use serde::Serialize;

use crate::error::ConsoleError;
use crate::pages::render::render_page;
use crate::session::SignedIn;
use crate::state::ConsoleState;
use crate::views::{CaseRow, CaseTable};

/// Shared cases on a partner department's front page.
const PARTNER_HOME_LIMIT: usize = 50;

#[derive(Debug, Serialize)]
struct QueuePage {
    has_queue: bool,
    partner: bool,
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
    } else if caller.role == Role::Partner {
        // A partner department's front page: the cases shared with it (the app lists no
        // other), the first page of them.
        state
            .app
            .list_cases(caller, CaseFilter::default(), None, PARTNER_HOME_LIMIT)
            .await?
            .items
            .iter()
            .map(|case| CaseRow::new(case, None, wording))
            .collect()
    } else {
        Vec::new()
    };
    let cases = CaseTable::new(&rows, has_queue, wording);
    render_page(
        &state,
        StatusCode::OK,
        "queue.html",
        &signed_in.chrome("queue"),
        QueuePage {
            has_queue,
            partner: caller.role == Role::Partner,
            cases,
            limit: caseledger_app::WORK_QUEUE_LIMIT,
        },
    )
}
