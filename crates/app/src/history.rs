//! A case's history and its replay, read a page at a time: what `GET /v1/cases/{id}/history`
//! and `…/replay` stream or page, so that neither holds a whole history (nor, for the replay,
//! a copy of the case per event) in memory.
//!
//! This module owns who may see which events ([`HistoryAccess`]: partners from the event that
//! shared the case with their department on, without internal events) and the two cursors. It
//! knows nothing of HTTP: the API decides how pages become an answer.

use caseledger_domain::{Case, CaseId, Role, StoredEvent};
use caseledger_store::{Recorded, StreamId, Version};

use crate::access::require_role;
use crate::{App, AppError, Caller};

/// How many events one read of a case's stream takes at most.
pub const HISTORY_PAGE: usize = 500;

/// Which events of a case a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryAccess {
    /// The case.
    pub case_id: CaseId,
    /// The first version the caller sees (1, or for a partner the event that shared the case
    /// with its department).
    pub from_version: u64,
    /// Whether internal events (notes) are left out (partners).
    pub hide_internal: bool,
}

/// One page of a history.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The visible events, oldest first.
    pub events: Vec<Recorded<StoredEvent>>,
    /// The version to pass as `after_version` for the next page; `None` when the stream held
    /// nothing after this page when it was read.
    pub next_after_version: Option<u64>,
}

/// A replay being read: the case as it stands after the last step given out.
#[derive(Debug)]
pub struct ReplayCursor {
    access: HistoryAccess,
    case: Case,
}

impl ReplayCursor {
    /// The case's version after the last step given out (0 before the first).
    pub fn version(&self) -> u64 {
        self.case.version
    }
}

impl App {
    /// Who may see which events of `case_id`: 404 for a case the caller may not see. Reads
    /// the case's stream once, a page at a time, for partners (to find the event that shared
    /// it with them); for every other role only its first event.
    pub async fn history_access(
        &self,
        caller: &Caller,
        case_id: CaseId,
    ) -> Result<HistoryAccess, AppError> {
        let not_found = || AppError::NotFound("case".into());
        let Some(department) = caller
            .department
            .as_ref()
            .filter(|_| caller.role == Role::Partner)
        else {
            if caller.role == Role::Partner {
                // A partner without a department sees no case.
                return Err(not_found());
            }
            let first = self
                .storage
                .log
                .read_stream(StreamId(case_id.0), Version(1), 1)
                .await?;
            let opened = first.first().is_some_and(|recorded| {
                matches!(
                    recorded.event.event,
                    caseledger_domain::CaseEvent::CaseOpened { .. }
                )
            });
            return if opened {
                Ok(HistoryAccess {
                    case_id,
                    from_version: 1,
                    hide_internal: false,
                })
            } else {
                Err(not_found())
            };
        };
        // The first version at which the case is shared with the partner's department, and
        // whether it still is at the end. Notes never share a case, so they are dropped as the
        // fold goes: the fold holds the case's facts, not its notes.
        let mut case = Case::new(case_id);
        let mut shared_from = None;
        loop {
            let page = self
                .storage
                .log
                .read_stream(StreamId(case_id.0), Version(case.version + 1), HISTORY_PAGE)
                .await?;
            for recorded in &page {
                case.evolve(&recorded.event.event, recorded.event.at);
                if shared_from.is_none() && case.is_shared_with(department) {
                    shared_from = Some(recorded.version.0);
                }
            }
            case.notes = Vec::new();
            if page.len() < HISTORY_PAGE {
                break;
            }
        }
        match shared_from {
            Some(from_version) if case.opened && case.is_shared_with(department) => {
                Ok(HistoryAccess {
                    case_id,
                    from_version,
                    hide_internal: true,
                })
            }
            _ => Err(not_found()),
        }
    }

    /// Up to `limit` visible events of the case after version `after_version`, oldest first.
    /// Reads at most `limit` events of the stream (fewer are returned when some are not
    /// visible to the caller); `next_after_version` says where to go on.
    pub async fn history_page(
        &self,
        access: &HistoryAccess,
        after_version: u64,
        limit: usize,
    ) -> Result<HistoryPage, AppError> {
        let from = after_version.max(access.from_version.saturating_sub(1)) + 1;
        let events = self
            .storage
            .log
            .read_stream(StreamId(access.case_id.0), Version(from), limit.max(1))
            .await?;
        let next_after_version = match events.last() {
            Some(last) if events.len() >= limit.max(1) => Some(last.version.0),
            _ => None,
        };
        Ok(HistoryPage {
            events: events
                .into_iter()
                .filter(|recorded| !(access.hide_internal && recorded.event.event.is_internal()))
                .collect(),
            next_after_version,
        })
    }

    /// Starts a replay of `case_id` after `after_version` (0: from the start), for auditors and
    /// admins: the case folded up to that version, a page of the stream at a time.
    pub async fn replay_from(
        &self,
        caller: &Caller,
        case_id: CaseId,
        after_version: u64,
    ) -> Result<ReplayCursor, AppError> {
        // Visibility first, as for every case-scoped request: a partner asking about a case
        // not shared with it gets 404, not a 403 that would differ from an unknown case's.
        let access = self.history_access(caller, case_id).await?;
        require_role(caller, &[Role::Admin, Role::Auditor], "replay a case")?;
        let mut cursor = ReplayCursor {
            access,
            case: Case::new(case_id),
        };
        while cursor.case.version < after_version {
            let wanted = usize::try_from(after_version - cursor.case.version)
                .unwrap_or(HISTORY_PAGE)
                .min(HISTORY_PAGE);
            let folded = self.replay_next(&mut cursor, wanted, |_, _| {}).await?;
            if folded == 0 {
                break;
            }
        }
        Ok(cursor)
    }

    /// The next steps of a replay, at most `limit`: each event is folded into the cursor's
    /// case and handed to `step` with the case right after it (borrowed: no copy of the case
    /// is made here). Returns how many events were folded; 0 at the end of the stream.
    pub async fn replay_next(
        &self,
        cursor: &mut ReplayCursor,
        limit: usize,
        mut step: impl FnMut(&Recorded<StoredEvent>, &Case),
    ) -> Result<usize, AppError> {
        let events = self
            .storage
            .log
            .read_stream(
                StreamId(cursor.access.case_id.0),
                Version(cursor.case.version + 1),
                limit.clamp(1, HISTORY_PAGE),
            )
            .await?;
        for recorded in &events {
            cursor.case.evolve(&recorded.event.event, recorded.event.at);
            step(recorded, &cursor.case);
        }
        Ok(events.len())
    }
}
