//! The read side: a case as a caller may see it, now or at an earlier point; a case's events;
//! the lists, search and statistics the case projection answers; the global log.
//!
//! The current state of a case starts from the projection's copy and folds the events after it;
//! earlier states fold the stream from the start. Which cases and fields a caller may see is
//! `access`'s to say. It knows nothing of HTTP.

use std::time::Duration;

use caseledger_domain::{
    Case, CaseId, Category, ComplainantInput, ComplainantRecord, Letter, LetterId, Role,
    StoredEvent,
};
use caseledger_projections::{CaseFilter, Cursor, Page, Period, Stats};
use caseledger_store::{Position, Recorded, StreamId, Version};
use chrono::{DateTime, Utc};

use crate::access::{may_see_personal_data, require_role};
use crate::app::App;
use crate::error::AppError;
use crate::letter_documents::{kept_document, LetterPdf};
use crate::personal_data::StoredCaseKey;
use crate::tokens::Caller;

/// The most events read from a stream at once.
/// Who may read statistics.
pub const STATS_ROLES: &[Role] = &[Role::Admin, Role::Supervisor, Role::Auditor];

/// What statistics cover besides their period: the cases of one region (compared as the case
/// list's `region` filter does, case-insensitively) and of one category; `None` for every one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsScope {
    /// Only cases of this region.
    pub region: Option<String>,
    /// Only cases of this category.
    pub category: Option<Category>,
}

pub(crate) const STREAM_READ_LIMIT: usize = 1_000_000;

/// Which state of a case to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeTravel {
    /// The current state.
    Latest,
    /// The state right after version N.
    AtVersion(u64),
    /// The state as it stood at an instant.
    AsOf(DateTime<Utc>),
}

/// A point of the hash chain: ties a view to a verifiable export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPoint {
    /// The global position of the last event folded into the view.
    pub position: u64,
    /// That event's hash.
    pub hash: String,
}

/// How a reader sees the complainant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComplainantView {
    /// The case names no complainant.
    None,
    /// The caller may not see personal data (partners, auditors).
    Withheld,
    /// The data was erased.
    Erased,
    /// The details, for officers, supervisors and admins.
    Present(ComplainantInput),
}

/// A case as a caller may see it.
#[derive(Debug, Clone)]
pub struct CaseView {
    /// The folded case.
    pub case: Case,
    /// The complainant, as the caller may see it.
    pub complainant: ComplainantView,
    /// The chain point of the view's last event.
    pub chain: ChainPoint,
}

impl App {
    /// Folds the case's stream up to `at`; `NotFound` when the case did not exist then.
    pub(crate) async fn load(
        &self,
        case_id: CaseId,
        at: TimeTravel,
    ) -> Result<(Case, Option<Recorded<StoredEvent>>), AppError> {
        // The current state starts from the projection's copy of the case, when it has one,
        // and folds only the events after it — read from the log, so the result is as current
        // as the log itself. The copy's own last event is read again for its chain point.
        // Earlier states fold the stream from the start.
        let snapshot = match at {
            TimeTravel::Latest => self
                .cases
                .get(case_id)
                .await
                .map_err(|error| AppError::Internal(error.into()))?,
            _ => None,
        };
        let (mut case, from) = match snapshot {
            Some(case) => {
                let from = case.version;
                (case, from)
            }
            None => (Case::new(case_id), 1),
        };
        let events = self
            .storage
            .log
            .read_stream(StreamId(case_id.0), Version(from), STREAM_READ_LIMIT)
            .await?;
        let mut last = None;
        for recorded in events {
            let include = match at {
                TimeTravel::Latest => true,
                TimeTravel::AtVersion(version) => recorded.version.0 <= version,
                TimeTravel::AsOf(instant) => recorded.event.at <= instant,
            };
            if !include {
                break;
            }
            if recorded.version.0 > case.version {
                case.evolve(&recorded.event.event, recorded.event.at);
            }
            last = Some(recorded);
        }
        if at != TimeTravel::Latest && last.is_none() {
            return Err(AppError::NotFound("case".into()));
        }
        Ok((case, last))
    }

    /// A case as the caller may see it, now or at an earlier point.
    pub async fn case(
        &self,
        caller: &Caller,
        case_id: CaseId,
        at: TimeTravel,
    ) -> Result<CaseView, AppError> {
        let (mut case, last) = self.load(case_id, at).await?;
        self.ensure_visible(caller, &case)?;
        if caller.role == Role::Partner {
            // The union's internal notes and its unsigned drafts are not a department's to
            // read, on any page or answer.
            case.notes.clear();
            case.drafts.clear();
        }
        // A partner sees a case from the moment it was shared, so time travel to before
        // that moment shows nothing to it.
        let last = last.ok_or_else(|| AppError::NotFound("case".into()))?;
        let complainant = self.complainant_view(caller, &case).await?;
        Ok(CaseView {
            case,
            complainant,
            chain: ChainPoint {
                position: last.position.0,
                hash: last.hash.to_hex(),
            },
        })
    }

    async fn complainant_view(
        &self,
        caller: &Caller,
        case: &Case,
    ) -> Result<ComplainantView, AppError> {
        Ok(match &case.complainant {
            ComplainantRecord::None => ComplainantView::None,
            _ if !may_see_personal_data(caller.role) => ComplainantView::Withheld,
            ComplainantRecord::Erased => ComplainantView::Erased,
            // The register, not the version shown, says whether the data is erased: time
            // travel to before an erasure opens nothing either, whatever keys still exist.
            ComplainantRecord::Sealed(_) if self.is_erased(case.id).await? => {
                ComplainantView::Erased
            }
            ComplainantRecord::Sealed(sealed) => {
                let key: Option<StoredCaseKey> = self
                    .storage
                    .personal_data_keys
                    .get(case.id.0.as_bytes())
                    .await?;
                match key {
                    Some(key) => ComplainantView::Present(
                        self.keyring().open(case.id, &key)?.open(case.id, sealed)?,
                    ),
                    None => ComplainantView::Erased,
                }
            }
        })
    }

    /// A case's events, oldest first. Partners see them from the event that shared the case
    /// with their department on, without the union's internal notes.
    pub async fn history(
        &self,
        caller: &Caller,
        case_id: CaseId,
    ) -> Result<Vec<Recorded<StoredEvent>>, AppError> {
        let events = self
            .storage
            .log
            .read_stream(StreamId(case_id.0), Version(1), STREAM_READ_LIMIT)
            .await?;
        let mut case = Case::new(case_id);
        let mut shared_from = None;
        for (index, recorded) in events.iter().enumerate() {
            case.evolve(&recorded.event.event, recorded.event.at);
            if shared_from.is_none() {
                if let Some(department) = &caller.department {
                    if case.is_shared_with(department) {
                        shared_from = Some(index);
                    }
                }
            }
        }
        self.ensure_visible(caller, &case)?;
        Ok(match caller.role {
            Role::Partner => events
                .into_iter()
                .skip(shared_from.unwrap_or(0))
                .filter(|recorded| !recorded.event.event.is_internal())
                .collect(),
            _ => events,
        })
    }

    /// Waits until the case projection includes `position`, at most `timeout`.
    pub async fn wait_for_projection(
        &self,
        position: u64,
        timeout: Duration,
    ) -> Result<(), AppError> {
        if self.cases.wait_for(position, timeout).await {
            Ok(())
        } else {
            Err(AppError::Unavailable {
                reason: format!(
                    "the case lists have not reached position {position} yet (they are at {})",
                    self.cases.checkpoint()
                ),
                retry_after_seconds: 1,
            })
        }
    }

    /// A page of the cases the caller may see that match `filter`, in opening order. Partners
    /// see only cases shared with their department.
    pub async fn list_cases(
        &self,
        caller: &Caller,
        mut filter: CaseFilter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, AppError> {
        if caller.role == Role::Partner {
            match (&filter.department, &caller.department) {
                (Some(asked), Some(own)) if asked != own => {
                    return Ok(Page {
                        items: Vec::new(),
                        next_cursor: None,
                    })
                }
                (_, own) => filter.department = own.clone(),
            }
            if filter.department.is_none() {
                return Err(AppError::Forbidden(
                    "a partner token needs a department".into(),
                ));
            }
        }
        let started = tokio::time::Instant::now();
        let deadline = started + self.search_budget;
        let spent = || AppError::Unavailable {
            reason: format!(
                "the search did not finish within its budget of {} ms; narrow it with filters \
                 or fewer terms, or retry",
                self.search_budget.as_millis()
            ),
            retry_after_seconds: 1,
        };
        let _slot = tokio::time::timeout_at(deadline, self.scan_slots.acquire())
            .await
            .map_err(|_| spent())?
            .map_err(|error| AppError::Internal(error.into()))?;
        match self
            .cases
            .list_within(&filter, cursor, limit, Some(deadline.into_std()))
            .await
        {
            Ok(page) => Ok(page),
            Err(caseledger_projections::ProjectionError::BudgetSpent) => Err(spent()),
            Err(error) => Err(AppError::Internal(error.into())),
        }
    }

    /// The figures unions report upward (supervisors, admins and auditors), over every case.
    /// A scan of every case's summary: callers on an async runtime run it on a blocking thread.
    pub fn stats(&self, caller: &Caller, period: Period) -> Result<Stats, AppError> {
        self.stats_within(caller, period, &StatsScope::default())
    }

    /// Whether `caller` may read statistics: `Forbidden` when not (what a page asks before
    /// reading anything else of a request for figures).
    pub fn check_may_read_stats(&self, caller: &Caller) -> Result<(), AppError> {
        require_role(caller, STATS_ROLES, "read statistics")
    }

    /// The figures unions report upward for `period` over the cases of `scope` (one region,
    /// one category), with months counted in the office's time zone — what `GET /v1/stats`
    /// answers and the console's dashboard shows and downloads. Supervisors, admins and
    /// auditors; a scan of every case's summary, so callers on an async runtime run it on a
    /// blocking thread.
    pub fn stats_within(
        &self,
        caller: &Caller,
        period: Period,
        scope: &StatsScope,
    ) -> Result<Stats, AppError> {
        self.check_may_read_stats(caller)?;
        let filter = CaseFilter {
            region: scope.region.clone(),
            category: scope.category,
            ..CaseFilter::default()
        };
        self.cases
            .stats(&filter, period, &self.timezone())
            .map_err(|error| AppError::Internal(error.into()))
    }

    /// The global log after `after`, at most `limit` events (auditors and admins).
    pub async fn events(
        &self,
        caller: &Caller,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded<StoredEvent>>, AppError> {
        require_role(
            caller,
            &[Role::Admin, Role::Auditor],
            "read the global event log",
        )?;
        Ok(self.storage.log.read_all(Position(after), limit).await?)
    }
}

/// Whether `caller` may read the PDF of `letter` (of a case it may see): partners only the
/// documents of letters addressed to their department, every other role all of them.
pub fn letter_document_readable(caller: &Caller, letter: &Letter) -> bool {
    caller.role != Role::Partner
        || (letter.department.is_some() && letter.department == caller.department)
}

impl App {
    /// The PDF of letter `letter_id` of case `case_id`, as kept when it was issued. Partners
    /// read only the documents of letters addressed to their department, and a letter without
    /// a document (a reminder, or one issued before contract §9) is not found.
    pub async fn letter_pdf(
        &self,
        caller: &Caller,
        case_id: CaseId,
        letter_id: LetterId,
    ) -> Result<LetterPdf, AppError> {
        let view = self.case(caller, case_id, TimeTravel::Latest).await?;
        let letter = view
            .case
            .letter(letter_id)
            .filter(|letter| letter_document_readable(caller, letter))
            .ok_or_else(|| AppError::NotFound("letter".into()))?;
        let sha256 = letter
            .document_sha256
            .clone()
            .ok_or_else(|| AppError::NotFound("letter document".into()))?;
        let bytes = kept_document(
            &self.storage.document_files,
            &self.storage.documents,
            &sha256,
            &letter.number,
        )
        .await?;
        Ok(LetterPdf {
            bytes,
            sha256,
            number: letter.number.clone(),
        })
    }
}
