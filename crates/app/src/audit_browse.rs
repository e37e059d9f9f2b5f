//! The auditors' workbench below the console: the global log browsed a page at a time after or
//! before a position, narrowed to one event type or one case; a case's history and the case as
//! it stood, for the audit roles only; the signed checkpoints with each signature checked.
//!
//! A filtered page is found by a bounded scan: at most [`EVENT_SCAN_BUDGET`] events are looked
//! at per request, read [`SCAN_PAGE`] at a time, so a rare type in a long log never holds a
//! request for long nor the whole log in memory. A page says which positions it covered, so
//! the next one goes on from there whatever it found. One case's events are read from its own
//! stream (its positions found by a binary search over its versions), not from the whole log.
//! It knows nothing of HTTP or pages.

use caseledger_domain::{CaseId, Role, StoredEvent, EVENT_TYPES};
use caseledger_store::{Position, Recorded, StreamId, Version};

use crate::access::require_role;
use crate::history::{HistoryPage, HISTORY_PAGE};
use crate::reads::{CaseView, TimeTravel};
use crate::{App, AppError, Caller};

/// The most events one filtered page looks at.
pub const EVENT_SCAN_BUDGET: usize = 20_000;
/// How many events one read of a scan takes.
pub const SCAN_PAGE: usize = 1_000;

const AUDIT_ROLES: &[Role] = &[Role::Admin, Role::Auditor];

/// Which events a page of the global log holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events of this type (one of [`EVENT_TYPES`]).
    pub event_type: Option<&'static str>,
    /// Only events of this case.
    pub case_id: Option<CaseId>,
}

impl EventFilter {
    /// A filter of `event_type` (checked against [`EVENT_TYPES`]; empty: any) and `case_id`.
    pub fn new(event_type: Option<&str>, case_id: Option<CaseId>) -> Result<Self, AppError> {
        let event_type = match event_type.map(str::trim).filter(|text| !text.is_empty()) {
            None => None,
            Some(asked) => Some(
                EVENT_TYPES
                    .iter()
                    .copied()
                    .find(|known| *known == asked)
                    .ok_or_else(|| AppError::Invalid {
                        field: "type".into(),
                        message: format!("{asked:?} is not an event type"),
                    })?,
            ),
        };
        Ok(EventFilter {
            event_type,
            case_id,
        })
    }

    fn matches(&self, recorded: &Recorded<StoredEvent>) -> bool {
        self.event_type
            .is_none_or(|wanted| recorded.event.event.event_type() == wanted)
            && self
                .case_id
                .is_none_or(|case| recorded.event.case_id == case)
    }
}

/// Where a page of the log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogWindow {
    /// The first matching events after this position (0: from the start).
    After(u64),
    /// The last matching events before this position.
    Before(u64),
}

/// A page of the global log: every matching event between `from_position` and `to_position`
/// (inclusive), oldest first.
#[derive(Debug, Clone)]
pub struct LogPage {
    /// The matching events, in position order.
    pub events: Vec<Recorded<StoredEvent>>,
    /// The first position the page covers.
    pub from_position: u64,
    /// The last position the page covers (below `from_position` when it covers none).
    pub to_position: u64,
    /// Whether matching events may lie before the page (go on with `Before(from_position)`).
    pub has_earlier: bool,
    /// Whether events may lie after it (go on with `After(to_position)`).
    pub has_later: bool,
    /// The log's head when the page was read.
    pub head: u64,
    /// Whether the scan stopped at [`EVENT_SCAN_BUDGET`] before the page was full.
    pub budget_spent: bool,
}

/// A signed checkpoint with its signature checked against the service's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCheckpoint {
    /// The position attested.
    pub position: u64,
    /// The hash of the event there (hex).
    pub hash: String,
    /// When it was signed (as signed).
    pub at: String,
    /// The Merkle tree's size, when the checkpoint carries one.
    pub tree_size: Option<u64>,
    /// Its root hash (base64), likewise.
    pub root_hash: Option<String>,
    /// `None` when the signature (and its signed note) verify; else why not.
    pub problem: Option<String>,
}

impl App {
    /// `Ok` for the roles of the audit pages (auditors and admins), else `Forbidden`.
    pub fn audit_access(&self, caller: &Caller) -> Result<(), AppError> {
        require_role(caller, AUDIT_ROLES, "use the audit pages")
    }

    /// A page of the global log as `window` and `filter` ask, at most `limit` events (auditors
    /// and admins). See the module's note on how far one page looks.
    pub async fn browse_log(
        &self,
        caller: &Caller,
        window: LogWindow,
        filter: EventFilter,
        limit: usize,
    ) -> Result<LogPage, AppError> {
        require_role(caller, AUDIT_ROLES, "read the global event log")?;
        let limit = limit.clamp(1, SCAN_PAGE);
        let head = self.head().position.0;
        match filter.case_id {
            Some(case_id) => self.browse_case(case_id, window, filter, limit, head).await,
            None => self.browse_all(window, filter, limit, head).await,
        }
    }

    async fn browse_all(
        &self,
        window: LogWindow,
        filter: EventFilter,
        limit: usize,
        head: u64,
    ) -> Result<LogPage, AppError> {
        let mut found = Vec::new();
        let mut looked_at = 0;
        // Unfiltered, a read takes just what the page needs.
        let chunk = |found: usize| {
            if filter.event_type.is_none() {
                limit - found
            } else {
                SCAN_PAGE
            }
        };
        let (from_position, to_position) = match window {
            LogWindow::After(after) => {
                let start = after.min(head);
                let mut cursor = start;
                'scan: while cursor < head && found.len() < limit && looked_at < EVENT_SCAN_BUDGET {
                    let page = self
                        .storage
                        .log
                        .read_all(Position(cursor), chunk(found.len()))
                        .await?;
                    if page.is_empty() {
                        break;
                    }
                    for recorded in page {
                        if recorded.position.0 > head {
                            break 'scan;
                        }
                        cursor = recorded.position.0;
                        looked_at += 1;
                        if filter.matches(&recorded) {
                            found.push(recorded);
                            if found.len() == limit {
                                break 'scan;
                            }
                        }
                    }
                }
                (start + 1, cursor)
            }
            LogWindow::Before(before) => {
                let end = before.min(head + 1).saturating_sub(1);
                let mut cursor = end;
                'scan: while cursor >= 1 && found.len() < limit && looked_at < EVENT_SCAN_BUDGET {
                    let take = (chunk(found.len()) as u64).min(cursor);
                    let page = self
                        .storage
                        .log
                        .read_all(Position(cursor - take), take as usize)
                        .await?;
                    if page.is_empty() {
                        break;
                    }
                    for recorded in page.into_iter().rev() {
                        cursor = recorded.position.0 - 1;
                        looked_at += 1;
                        if filter.matches(&recorded) {
                            found.push(recorded);
                            if found.len() == limit {
                                break 'scan;
                            }
                        }
                    }
                }
                found.reverse();
                (cursor + 1, end)
            }
        };
        Ok(LogPage {
            budget_spent: found.len() < limit && looked_at >= EVENT_SCAN_BUDGET,
            events: found,
            has_earlier: from_position > 1,
            has_later: to_position < head,
            from_position,
            to_position,
            head,
        })
    }

    /// The position of the event at `version` of `stream` (which exists).
    async fn position_of(&self, stream: StreamId, version: u64) -> Result<u64, AppError> {
        let page = self
            .storage
            .log
            .read_stream(stream, Version(version), 1)
            .await?;
        page.first()
            .map(|recorded| recorded.position.0)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("version {version} is missing")))
    }

    /// The first version of `stream` (of `versions` events) whose position is after `position`;
    /// `versions + 1` when none is. A binary search: O(log n) reads of one event.
    async fn first_version_after(
        &self,
        stream: StreamId,
        versions: u64,
        position: u64,
    ) -> Result<u64, AppError> {
        let (mut low, mut high) = (1, versions + 1);
        while low < high {
            let middle = low + (high - low) / 2;
            if self.position_of(stream, middle).await? > position {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        Ok(low)
    }

    async fn browse_case(
        &self,
        case_id: CaseId,
        window: LogWindow,
        filter: EventFilter,
        limit: usize,
        head: u64,
    ) -> Result<LogPage, AppError> {
        let stream = StreamId(case_id.0);
        let versions = self
            .storage
            .log
            .stream_version(stream)
            .await?
            .map_or(0, |version| version.0);
        let mut found: Vec<Recorded<StoredEvent>> = Vec::new();
        let mut looked_at = 0;
        let page = |found: usize| {
            if filter.event_type.is_none() {
                limit - found
            } else {
                SCAN_PAGE
            }
        };
        // The versions looked at: `first..=last` (empty when last < first).
        let (first, last, from_position, to_position) = match window {
            LogWindow::After(after) => {
                let start = self.first_version_after(stream, versions, after).await?;
                let mut next = start;
                let mut to_position = after.min(head);
                'scan: while next <= versions
                    && found.len() < limit
                    && looked_at < EVENT_SCAN_BUDGET
                {
                    let events = self
                        .storage
                        .log
                        .read_stream(stream, Version(next), page(found.len()))
                        .await?;
                    if events.is_empty() {
                        break;
                    }
                    for recorded in events {
                        next = recorded.version.0 + 1;
                        to_position = recorded.position.0;
                        looked_at += 1;
                        if filter.matches(&recorded) {
                            found.push(recorded);
                            if found.len() == limit {
                                break 'scan;
                            }
                        }
                    }
                }
                (start, next - 1, after.min(head) + 1, to_position)
            }
            LogWindow::Before(before) => {
                let end = self
                    .first_version_after(stream, versions, before.saturating_sub(1))
                    .await?
                    - 1;
                let mut lowest = end + 1;
                let mut from_position = before;
                'scan: while lowest > 1 && found.len() < limit && looked_at < EVENT_SCAN_BUDGET {
                    let take = (page(found.len()) as u64).min(lowest - 1);
                    let events = self
                        .storage
                        .log
                        .read_stream(stream, Version(lowest - take), take as usize)
                        .await?;
                    if events.is_empty() {
                        break;
                    }
                    for recorded in events.into_iter().rev() {
                        lowest = recorded.version.0;
                        from_position = recorded.position.0;
                        looked_at += 1;
                        if filter.matches(&recorded) {
                            found.push(recorded);
                            if found.len() == limit {
                                break 'scan;
                            }
                        }
                    }
                }
                found.reverse();
                (
                    lowest,
                    end,
                    from_position,
                    before.min(head + 1).saturating_sub(1),
                )
            }
        };
        Ok(LogPage {
            budget_spent: found.len() < limit && looked_at >= EVENT_SCAN_BUDGET,
            events: found,
            has_earlier: first > 1 && versions > 0,
            has_later: last < versions,
            from_position,
            to_position,
            head,
        })
    }

    /// A page of a case's history for the audit pages (auditors and admins): every event after
    /// `after_version`, at most `limit`, none left out.
    pub async fn audit_history_page(
        &self,
        caller: &Caller,
        case_id: CaseId,
        after_version: u64,
        limit: usize,
    ) -> Result<HistoryPage, AppError> {
        require_role(caller, AUDIT_ROLES, "read the audit history")?;
        let access = self.history_access(caller, case_id).await?;
        self.history_page(&access, after_version, limit.clamp(1, HISTORY_PAGE))
            .await
    }

    /// The case as it stood at `at`, for the audit pages (auditors and admins): the same view
    /// as `GET /v1/cases/{id}?at_version=`/`?as_of=` gives the caller.
    pub async fn audit_case_at(
        &self,
        caller: &Caller,
        case_id: CaseId,
        at: TimeTravel,
    ) -> Result<CaseView, AppError> {
        require_role(caller, AUDIT_ROLES, "travel through a case's versions")?;
        if at == TimeTravel::AtVersion(0) {
            return Err(AppError::NotFound("case".into()));
        }
        self.case(caller, case_id, at).await
    }

    /// Signed checkpoints after `after`, at most `limit`, each signature checked now against
    /// the service's public key (auditors and admins).
    pub async fn checked_checkpoints(
        &self,
        caller: &Caller,
        after: u64,
        limit: usize,
    ) -> Result<Vec<CheckedCheckpoint>, AppError> {
        require_role(caller, AUDIT_ROLES, "check the signed checkpoints")?;
        let public_key = self.public_key();
        Ok(self
            .checkpoints(after, limit)
            .await?
            .into_iter()
            .map(|checkpoint| {
                let problem = match &public_key {
                    Some(key) => checkpoint.verify(key).err().map(|error| error.to_string()),
                    None => Some("this service has no signing key".to_owned()),
                };
                CheckedCheckpoint {
                    position: checkpoint.position.0,
                    hash: checkpoint.hash.to_hex(),
                    at: checkpoint.at,
                    tree_size: checkpoint.tree_size,
                    root_hash: checkpoint.root_hash,
                    problem,
                }
            })
            .collect())
    }
}
