//! The auditors' workbench (contract §8, auditors; auditors and admins): the global log a page
//! at a time with filters by type and case; a case's history with each event's `prev_hash` and
//! `hash`; the case as it stood at a version or a time; verifying the whole chain in the
//! background with its progress and result; the signed checkpoints with their signatures
//! checked; and the export download. Every page asks the app with the person's own caller, so
//! the roles and the withholding of personal data are the API's.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use caseledger_app::{
    letter_document_readable, AppError, Caller, EventFilter, LogWindow, TimeTravel,
};
use caseledger_domain::{Case, CaseId, EVENT_TYPES};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit_views::{CheckpointShown, HistoryRows, LogRows, RunShown};
use crate::error::ConsoleError;
use crate::forms::{FormError, Reading};
use crate::pages::case::case_id;
use crate::pages::render::render_page;
use crate::session::{cookie, SignedForm, SignedIn, SESSION_COOKIE};
use crate::state::ConsoleState;
use crate::views::{ComplainantShown, LetterShown};

/// The log page's sizes to choose from; the first is the default.
const LOG_PAGE_SIZES: [u64; 4] = [50, 100, 200, 25];
/// The largest log page.
const MAX_LOG_PAGE: u64 = 500;
/// A history page's default and largest size.
const HISTORY_PAGE: u64 = 100;
const MAX_HISTORY_PAGE: u64 = 500;
/// Checkpoints on one page.
const CHECKPOINT_PAGE: usize = 100;
/// Envelopes per chunk of the export download.
const EXPORT_PAGE: usize = 1_000;

/// The query's text, read as the form fields of a GET form (every value a string, so nothing
/// a person types fails before it is checked here).
fn read_query<T: Default + for<'de> Deserialize<'de>>(
    query: Option<&str>,
) -> Result<T, ConsoleError> {
    serde_html_form::from_str(query.unwrap_or_default()).map_err(|_| ConsoleError::BadForm)
}

/// An optional whole number of the query, at most `max`.
fn whole_number(reading: &mut Reading, field: &str, text: &str, max: u64) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<u64>() {
        Ok(value) if value <= max => Some(value),
        _ => {
            reading.errors.push(FormError::keyed(field, "error-number"));
            None
        }
    }
}

/// The audit pages are for auditors and admins: the app says who is.
fn audit_caller(signed_in: &SignedIn, state: &ConsoleState) -> Result<Caller, ConsoleError> {
    let caller = signed_in.caller();
    state.app.audit_access(caller)?;
    Ok(caller.clone())
}

/// `GET /console/audit`.
pub async fn home() -> Redirect {
    Redirect::to("/console/audit/log")
}

/// The log page's query.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LogQuery {
    pub after: String,
    pub before: String,
    pub limit: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub case: String,
}

impl LogQuery {
    /// The query of another page with these filters.
    fn at(&self, after: Option<u64>, before: Option<u64>) -> String {
        let page = LogQuery {
            after: after.map(|at| at.to_string()).unwrap_or_default(),
            before: before.map(|at| at.to_string()).unwrap_or_default(),
            ..self.clone()
        };
        let pairs: Vec<(&str, &str)> = [
            ("after", page.after.as_str()),
            ("before", page.before.as_str()),
            ("limit", page.limit.trim()),
            ("type", page.event_type.trim()),
            ("case", page.case.trim()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
        serde_html_form::to_string(pairs).unwrap_or_default()
    }
}

#[derive(Debug, Serialize)]
struct LogPageShown {
    query: LogQuery,
    errors: Vec<FormError>,
    rows: LogRows,
    /// `[type, label]` of every event type.
    type_options: Vec<[String; 2]>,
    /// `[size, size]` of the page sizes offered.
    sizes: Vec<[String; 2]>,
    limit: u64,
    from_position: u64,
    to_position: u64,
    head: u64,
    budget_spent: bool,
    earlier: Option<String>,
    later: Option<String>,
    oldest: String,
    newest: String,
}

/// `GET /console/audit/log`: a page of the global log; the newest events unless `after` or
/// `before` says where.
pub async fn log(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let caller = audit_caller(&signed_in, &state)?;
    let query: LogQuery = read_query(raw.as_deref())?;
    let mut reading = Reading::default();
    let after = whole_number(&mut reading, "after", &query.after, u64::MAX);
    let before = whole_number(&mut reading, "before", &query.before, u64::MAX);
    let limit = whole_number(&mut reading, "limit", &query.limit, MAX_LOG_PAGE)
        .filter(|limit| *limit > 0)
        .or_else(|| {
            if !query.limit.trim().is_empty() && reading.errors.is_empty() {
                reading
                    .errors
                    .push(FormError::keyed("limit", "error-number"));
            }
            None
        })
        .unwrap_or(LOG_PAGE_SIZES[0]);
    let case = match query.case.trim() {
        "" => None,
        text => match Uuid::try_parse(text) {
            Ok(id) => Some(CaseId(id)),
            Err(_) => {
                reading
                    .errors
                    .push(FormError::keyed("case", "error-audit-case-id"));
                None
            }
        },
    };
    let filter = match EventFilter::new(Some(&query.event_type), case) {
        Ok(filter) => Some(filter),
        Err(_) => {
            reading
                .errors
                .push(FormError::keyed("type", "error-choose"));
            None
        }
    };
    let window = match (after, before) {
        (Some(after), None) => LogWindow::After(after),
        (None, Some(before)) => LogWindow::Before(before),
        (None, None) => LogWindow::Before(u64::MAX),
        (Some(_), Some(_)) => {
            reading
                .errors
                .push(FormError::keyed("before", "error-audit-after-and-before"));
            LogWindow::Before(u64::MAX)
        }
    };
    let wording = state.wording(signed_in.visitor.lang);
    let outcome = reading.finish(|| filter);
    let (status, errors, page) = match outcome {
        Ok(filter) => {
            // A page size the app would clamp is a page size it takes as it is.
            let page = state
                .app
                .browse_log(&caller, window, filter, limit as usize)
                .await?;
            (StatusCode::OK, Vec::new(), Some(page))
        }
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, None),
    };
    let mut sizes = LOG_PAGE_SIZES.to_vec();
    sizes.sort_unstable();
    let sizes = sizes
        .into_iter()
        .map(|size| [size.to_string(), size.to_string()])
        .collect();
    let type_options = EVENT_TYPES
        .iter()
        .map(|event_type| {
            let label =
                state
                    .catalogs
                    .text(signed_in.visitor.lang, &format!("event-{event_type}"), None);
            [(*event_type).to_owned(), label]
        })
        .collect();
    let shown = LogPageShown {
        rows: LogRows::new(page.as_ref().map_or(&[], |page| &page.events), wording),
        earlier: page
            .as_ref()
            .filter(|page| page.has_earlier)
            .map(|page| query.at(None, Some(page.from_position))),
        later: page
            .as_ref()
            .filter(|page| page.has_later)
            .map(|page| query.at(Some(page.to_position), None)),
        oldest: query.at(Some(0), None),
        newest: query.at(None, None),
        from_position: page.as_ref().map_or(0, |page| page.from_position),
        to_position: page.as_ref().map_or(0, |page| page.to_position),
        head: page
            .as_ref()
            .map_or_else(|| state.app.head().position.0, |page| page.head),
        budget_spent: page.as_ref().is_some_and(|page| page.budget_spent),
        query,
        errors,
        type_options,
        sizes,
        limit,
    };
    render_page(
        &state,
        status,
        "audit_log.html",
        &signed_in.chrome("audit"),
        shown,
    )
}

/// The history page's query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HistoryQuery {
    pub after_version: String,
    pub limit: String,
}

#[derive(Debug, Serialize)]
struct HistoryPageShown<'a> {
    /// The case's title: the page shows nothing else of its state (the whole state of a long
    /// case, notes and all, would cost more to hand the template than the rows).
    title: &'a str,
    id: String,
    errors: Vec<FormError>,
    rows: HistoryRows,
    limit: u64,
    version: u64,
    after_version: u64,
    earlier: Option<u64>,
    later: Option<u64>,
    last_page: u64,
}

/// `GET /console/audit/cases/{id}/history`: a page of the case's events, oldest first.
pub async fn history(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let caller = audit_caller(&signed_in, &state)?;
    let id = case_id(&id)?;
    let query: HistoryQuery = read_query(raw.as_deref())?;
    let latest = state
        .app
        .audit_case_at(&caller, id, TimeTravel::Latest)
        .await?;
    let mut reading = Reading::default();
    let after_version = whole_number(
        &mut reading,
        "after_version",
        &query.after_version,
        u64::MAX,
    )
    .unwrap_or(0);
    let limit = match whole_number(&mut reading, "limit", &query.limit, MAX_HISTORY_PAGE) {
        Some(0) => {
            reading
                .errors
                .push(FormError::keyed("limit", "error-number"));
            HISTORY_PAGE
        }
        Some(limit) => limit,
        None => HISTORY_PAGE,
    };
    let wording = state.wording(signed_in.visitor.lang);
    let (status, errors, events, next) = match reading.finish(|| Some(())) {
        Ok(()) => {
            let page = state
                .app
                .audit_history_page(&caller, id, after_version, limit as usize)
                .await?;
            (
                StatusCode::OK,
                Vec::new(),
                page.events,
                page.next_after_version,
            )
        }
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, Vec::new(), None),
    };
    let version = latest.case.version;
    let shown = HistoryPageShown {
        id: id.0.to_string(),
        title: &latest.case.title,
        errors,
        rows: HistoryRows::new(&events, wording),
        limit,
        version,
        after_version,
        earlier: (after_version > 0).then(|| after_version.saturating_sub(limit)),
        later: next.filter(|next| *next < version),
        last_page: version.saturating_sub(limit),
    };
    render_page(
        &state,
        status,
        "audit_history.html",
        &signed_in.chrome("audit"),
        shown,
    )
}

/// The time-travel page's query.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct VersionsQuery {
    pub version: String,
    pub at: String,
}

#[derive(Debug, Serialize)]
struct VersionsPageShown<'a> {
    id: String,
    latest_version: u64,
    title: &'a str,
    query: VersionsQuery,
    errors: Vec<FormError>,
    case: Option<&'a Case>,
    status: Option<caseledger_domain::CaseStatus>,
    complainant: Option<ComplainantShown>,
    letters: Vec<LetterShown>,
    chain_position: u64,
    chain_hash: String,
    /// The version shown, and its neighbours for the stepper.
    version: u64,
    previous: Option<u64>,
    next: Option<u64>,
    as_of: bool,
}

/// `GET /console/audit/cases/{id}/versions`: the case as it stood after `version` or at the
/// office time `at`; the current state without either.
pub async fn versions(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let caller = audit_caller(&signed_in, &state)?;
    let id = case_id(&id)?;
    let query: VersionsQuery = read_query(raw.as_deref())?;
    let latest = state
        .app
        .audit_case_at(&caller, id, TimeTravel::Latest)
        .await?;
    let latest_version = latest.case.version;
    let mut reading = Reading::default();
    let version = whole_number(&mut reading, "version", &query.version, latest_version);
    if version == Some(0) {
        reading
            .errors
            .push(FormError::keyed("version", "error-number"));
    }
    let at = reading.local_time("at", &query.at, state.config.timezone);
    let travel = match (version, at) {
        (Some(_), Some(_)) => {
            reading
                .errors
                .push(FormError::keyed("at", "error-audit-version-or-time"));
            TimeTravel::Latest
        }
        (Some(version), None) => TimeTravel::AtVersion(version),
        (None, Some(at)) => TimeTravel::AsOf(at),
        (None, None) => TimeTravel::Latest,
    };
    let (status, view, errors) = match reading.finish(|| Some(travel)) {
        Ok(TimeTravel::Latest) => (StatusCode::OK, Some(latest.clone()), Vec::new()),
        Ok(travel) => match state.app.audit_case_at(&caller, id, travel).await {
            Ok(view) => (StatusCode::OK, Some(view), Vec::new()),
            // The case did not exist yet then.
            Err(AppError::NotFound(_)) => (
                StatusCode::NOT_FOUND,
                None,
                vec![FormError::keyed("at", "error-audit-before-opening")],
            ),
            Err(error) => return Err(error.into()),
        },
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, None, errors),
    };
    let now = state.app.now();
    let shown_version = view.as_ref().map_or(0, |view| view.case.version);
    let shown = VersionsPageShown {
        id: id.0.to_string(),
        latest_version,
        title: &latest.case.title,
        as_of: matches!(travel, TimeTravel::AsOf(_)),
        query,
        errors,
        case: view.as_ref().map(|view| &view.case),
        status: view.as_ref().map(|view| view.case.status()),
        complainant: view
            .as_ref()
            .map(|view| ComplainantShown::from(view.complainant.clone())),
        letters: view.as_ref().map_or_else(Vec::new, |view| {
            view.case
                .letters
                .iter()
                .map(|letter| {
                    LetterShown::new(letter, now, letter_document_readable(&caller, letter))
                })
                .collect()
        }),
        chain_position: view.as_ref().map_or(0, |view| view.chain.position),
        chain_hash: view
            .as_ref()
            .map(|view| view.chain.hash.clone())
            .unwrap_or_default(),
        version: shown_version,
        previous: (shown_version > 1).then(|| shown_version - 1),
        next: (shown_version > 0 && shown_version < latest_version).then(|| shown_version + 1),
    };
    render_page(
        &state,
        status,
        "audit_versions.html",
        &signed_in.chrome("audit"),
        shown,
    )
}

#[derive(Debug, Serialize)]
struct VerifyPageShown {
    run: Option<RunShown>,
    head: u64,
}

async fn verify_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    caller: &Caller,
    fragment: bool,
) -> Result<Response, ConsoleError> {
    let run = state.verification.status(caller)?.map(RunShown::from);
    let shown = VerifyPageShown {
        run,
        head: state.app.head().position.0,
    };
    let template = if fragment {
        "audit_run.html"
    } else {
        "audit_verify.html"
    };
    render_page(
        state,
        StatusCode::OK,
        template,
        &signed_in.chrome("audit"),
        shown,
    )
}

/// `GET /console/audit/verify`: the running or last verification, and the form to start one.
pub async fn verify(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
) -> Result<Response, ConsoleError> {
    let caller = audit_caller(&signed_in, &state)?;
    verify_page(&state, &signed_in, &caller, false).await
}

/// `GET /console/audit/verify/status`: the run's progress alone (what the page polls).
pub async fn verify_status(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
) -> Result<Response, ConsoleError> {
    let caller = audit_caller(&signed_in, &state)?;
    verify_page(&state, &signed_in, &caller, true).await
}

/// The start form carries nothing but its token.
#[derive(Debug, Default, Deserialize)]
pub struct StartForm {}

/// `POST /console/audit/verify`: starts a verification (or finds the one running) and shows it.
pub async fn start_verify(
    State(state): State<ConsoleState>,
    form: SignedForm<StartForm>,
) -> Result<Response, ConsoleError> {
    state.verification.start(&state.app, form.by.caller())?;
    Ok(Redirect::to("/console/audit/verify").into_response())
}

/// The checkpoints page's query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CheckpointsQuery {
    pub after: String,
}

#[derive(Debug, Serialize)]
struct CheckpointsPageShown {
    checkpoints: Vec<CheckpointShown>,
    public_key: Option<String>,
    errors: Vec<FormError>,
    after: u64,
    next_after: Option<u64>,
    valid: usize,
    invalid: usize,
}

/// `GET /console/audit/checkpoints`: the signed checkpoints, each signature checked now.
pub async fn checkpoints(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let caller = audit_caller(&signed_in, &state)?;
    let query: CheckpointsQuery = read_query(raw.as_deref())?;
    let mut reading = Reading::default();
    let after = whole_number(&mut reading, "after", &query.after, u64::MAX).unwrap_or(0);
    let (status, errors, checkpoints) = match reading.finish(|| Some(())) {
        Ok(()) => {
            let checked = state
                .app
                .checked_checkpoints(&caller, after, CHECKPOINT_PAGE)
                .await?;
            let shown: Vec<CheckpointShown> =
                checked.into_iter().map(CheckpointShown::from).collect();
            (StatusCode::OK, Vec::new(), shown)
        }
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, Vec::new()),
    };
    let valid = checkpoints.iter().filter(|shown| shown.valid).count();
    let shown = CheckpointsPageShown {
        next_after: (checkpoints.len() == CHECKPOINT_PAGE)
            .then(|| checkpoints.last().map(|last| last.position))
            .flatten(),
        invalid: checkpoints.len() - valid,
        valid,
        checkpoints,
        public_key: state.app.public_key(),
        errors,
        after,
    };
    render_page(
        &state,
        status,
        "audit_checkpoints.html",
        &signed_in.chrome("audit"),
        shown,
    )
}

/// `GET /console/audit/export`: the whole log as NDJSON, one envelope a line, exactly the
/// bytes the chain covers — what `GET /v1/audit/export` streams — up to the head at the
/// request, a page at a time. A session that ends meanwhile gets no further chunk.
pub async fn export(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    headers: axum::http::HeaderMap,
) -> Result<Response, ConsoleError> {
    let caller = audit_caller(&signed_in, &state)?;
    // The role is checked now, so a refusal is a page and not a broken download.
    state.app.export_page(&caller, 0, 0).await?;
    let end = state.app.head().position.0;
    let secret = cookie(&headers, SESSION_COOKIE)
        .unwrap_or_default()
        .to_owned();
    let cursor = ExportCursor {
        state,
        caller,
        secret,
        after: 0,
        end,
    };
    let stream = futures_util::stream::unfold(cursor, next_export_chunk);
    let filename = format!("caseledger-export-{end}.ndjson");
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

struct ExportCursor {
    state: ConsoleState,
    caller: Caller,
    /// The session's secret, checked before each chunk.
    secret: String,
    /// The position of the last envelope sent.
    after: u64,
    /// The head when the download started: the last position it sends.
    end: u64,
}

/// The download's next chunk: a page of envelopes.
async fn next_export_chunk(
    mut cursor: ExportCursor,
) -> Option<(Result<Bytes, std::io::Error>, ExportCursor)> {
    if cursor.after >= cursor.end {
        return None;
    }
    // Signed out or disabled meanwhile: the download breaks off, visibly incomplete.
    let live = matches!(cursor.state.app.session(&cursor.secret).await, Ok(Some(_)));
    if !live {
        tracing::info!("a console export stopped: its session ended");
        let end = cursor.after;
        return Some((
            Err(std::io::Error::other("the export's session ended")),
            ExportCursor { end, ..cursor },
        ));
    }
    let page = match cursor
        .state
        .app
        .export_page(&cursor.caller, cursor.after, EXPORT_PAGE)
        .await
    {
        Ok(page) => page,
        Err(error) => {
            tracing::error!(%error, "a console export stopped");
            let end = cursor.after;
            return Some((
                Err(std::io::Error::other("the export failed")),
                ExportCursor { end, ..cursor },
            ));
        }
    };
    let mut chunk = Vec::new();
    for (position, bytes) in page {
        if position.0 > cursor.end {
            cursor.after = cursor.end;
            break;
        }
        chunk.extend_from_slice(&bytes);
        chunk.push(b'\n');
        cursor.after = position.0;
    }
    if chunk.is_empty() {
        return None;
    }
    Some((Ok(Bytes::from(chunk)), cursor))
}
