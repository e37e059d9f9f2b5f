//! An officer's work queue: the cases assigned to them that are not closed, the most urgent
//! first — letters overdue, then letters due within three days ([`caseledger_domain::DUE_SOON`]),
//! then the rest by their nearest deadline, then the oldest. It knows nothing of HTTP.

use caseledger_domain::{Case, CaseStatus, Role, Urgency};
use caseledger_projections::{CaseFilter, Cursor};

use crate::access::require_role;
use crate::app::App;
use crate::error::AppError;
use crate::tokens::Caller;

/// The most cases a work queue holds; an officer with more sees the most urgent of them.
pub const WORK_QUEUE_LIMIT: usize = 500;

/// A page of the case list read while building a queue.
const QUEUE_READ_PAGE: usize = 200;

/// One case of a work queue, with how urgent it is.
#[derive(Debug, Clone)]
pub struct QueuedCase {
    /// The case.
    pub case: Case,
    /// How urgent its open letters make it.
    pub urgency: Urgency,
}

impl App {
    /// The open cases assigned under any of `assignee_names` (a person is assigned by login or
    /// by name), most urgent first, at most [`WORK_QUEUE_LIMIT`]. Officers, supervisors and
    /// admins.
    pub async fn work_queue(
        &self,
        caller: &Caller,
        assignee_names: &[&str],
    ) -> Result<Vec<QueuedCase>, AppError> {
        require_role(
            caller,
            &[Role::Admin, Role::Supervisor, Role::Officer],
            "have a work queue",
        )?;
        let now = self.now();
        let filter = CaseFilter {
            assignees: assignee_names
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
            ..CaseFilter::default()
        };
        if filter.assignees.is_empty() {
            return Ok(Vec::new());
        }
        let mut queued: Vec<QueuedCase> = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = self
                .list_cases(caller, filter.clone(), cursor, QUEUE_READ_PAGE)
                .await?;
            queued.extend(
                page.items
                    .into_iter()
                    .filter(|case| case.status() != CaseStatus::Closed)
                    .map(|case| QueuedCase {
                        urgency: case.urgency(now),
                        case,
                    }),
            );
            match page.next_cursor {
                Some(next) if queued.len() < WORK_QUEUE_LIMIT * 4 => cursor = Some(next),
                _ => break,
            }
        }
        queued.sort_by(|a, b| {
            (a.urgency, a.case.deadline(), a.case.opened_at).cmp(&(
                b.urgency,
                b.case.deadline(),
                b.case.opened_at,
            ))
        });
        queued.truncate(WORK_QUEUE_LIMIT);
        Ok(queued)
    }
}
