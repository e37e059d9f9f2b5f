//! The handlers of `/v1/cases`: opening a case, reading it (now or as it stood), its history,
//! the case list and the statistics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_app::{search_text_problem, CaseFilter, Cursor, Period, StatsScope, TimeTravel};
use caseledger_domain::{CaseStatus, Category, Role};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::wire::{
    etag, CaseListResponse, CaseResponse, HistoryResponse, OpenCaseRequest, StatsResponse,
};
use crate::error::{ApiError, CommandProblems, ListProblems, ProblemField, ReadProblems};
use crate::extract::{
    ApiQuery, Authenticated, CaseIdParam, CasePath, CommandInput, IdempotencyKeyParam, LetterPath,
};
use crate::routes::commands::wire::{CommandReply, CommandResponse};
use crate::state::AppState;
use crate::vocabulary::{category_schema, status_schema, FieldErrors};

/// Read-your-writes: wait for the log to include a position before answering.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Answer only once the view includes this log position (from a command's response), or
    /// 503 with `Retry-After` after a short wait.
    #[serde(default)]
    pub min_position: Option<u64>,
}

/// Which state of the case to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// The case as it stood right after this version.
    #[serde(default)]
    pub at_version: Option<u64>,
    /// The case as it stood at this instant (RFC 3339).
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
    /// Read-your-writes (see `ReadQuery`).
    #[serde(default)]
    pub min_position: Option<u64>,
}

/// Waits for `min_position`, bounded by the configured read wait.
pub async fn wait_for(state: &AppState, min_position: Option<u64>) -> Result<(), ApiError> {
    if let Some(position) = min_position {
        state
            .app
            .wait_for_position(position, state.config.read_wait)
            .await?;
    }
    Ok(())
}

/// Opens a case. The complainant's details are validated (resident ID check characters and
/// birth date), sealed with a key of the case's own, and never logged.
///
/// Roles: admin, supervisor, officer. Only supervisors and admins may use
/// `employer.credit_code_unverified`.
#[utoipa::path(post, path = "/v1/cases", tag = "cases", security(("bearer" = [])),
    request_body = OpenCaseRequest,
    params(IdempotencyKeyParam),
    responses((status = 201, description = "Opened; `Location` names the case, `ETag` its version.", body = CommandResponse), CommandProblems))]
pub async fn open_case(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    input: CommandInput<OpenCaseRequest>,
) -> Result<CommandReply, ApiError> {
    let open = input.body.into_input()?;
    let outcome = state
        .app
        .open_case(&caller, open, input.idempotency)
        .await?;
    Ok(CommandReply {
        status: StatusCode::CREATED,
        body: outcome.into(),
    })
}

/// A case as it stands, or as it stood (`at_version`, `as_of`), with the chain point of its
/// last event. Complainant details are shown to admins, supervisors and officers only; partner
/// departments see only cases shared with them, without internal notes.
///
/// Roles: all.
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(CaseIdParam, CaseQuery),
    responses((status = 200, description = "The case; `ETag` is its version.", body = CaseResponse), ReadProblems))]
pub async fn get_case(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    ApiQuery(query): ApiQuery<CaseQuery>,
) -> Result<Response, ApiError> {
    let at = match (query.at_version, query.as_of) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "use at_version or as_of, not both",
                Some(("as_of", "cannot be combined with at_version".into())),
            ))
        }
        (Some(0), None) => return Err(ApiError::not_found("case")),
        (Some(version), None) => TimeTravel::AtVersion(version),
        (None, Some(instant)) => TimeTravel::AsOf(instant),
        (None, None) => TimeTravel::Latest,
    };
    wait_for(&state, query.min_position).await?;
    let view = state.app.case(&caller, id, at).await?;
    let version = view.case.version;
    let body = CaseResponse::new(view, caller.role != Role::Partner);
    let mut response = Json(body).into_response();
    if let Some(etag) = etag(version) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// Paging through a case's history or replay (an extension of v1: without these parameters
/// the whole history is answered, streamed).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only events with a version after this one (a page's `next_after_version`).
    #[serde(default)]
    pub after_version: Option<u64>,
    /// At most this many events (history: 1–1000, default 100; replay: 1–100, default 20).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Read-your-writes (see `ReadQuery`).
    #[serde(default)]
    pub min_position: Option<u64>,
}

const MAX_HISTORY_PAGE: usize = 1_000;
/// How many events a streamed history reads at a time: what the server holds of it at once
/// (envelopes are at most a few tens of KB each).
const STREAM_PAGE: usize = 100;
const DEFAULT_HISTORY_PAGE: usize = 100;

/// The page size asked for, `None` for the whole answer (no paging parameter given).
pub fn page_size(
    after_version: Option<u64>,
    limit: Option<usize>,
    default: usize,
    max: usize,
) -> Result<Option<usize>, ApiError> {
    match (after_version, limit) {
        (None, None) => Ok(None),
        (_, Some(limit)) if limit == 0 || limit > max => Err(bad_parameter(
            "limit",
            format!("must be between 1 and {max}"),
        )),
        (_, limit) => Ok(Some(limit.unwrap_or(default))),
    }
}

/// The case's events, oldest first, each in the hash-chained envelope. Partner departments see
/// the events from the one that shared the case with them on, without internal notes.
///
/// Without `after_version` or `limit`, the whole history, streamed (the server holds a page
/// of it at a time); with either, one page and `next_after_version` (an extension of v1).
///
/// Roles: all (partners: shared cases only).
#[utoipa::path(get, path = "/v1/cases/{id}/history", tag = "cases", security(("bearer" = [])),
    params(CaseIdParam, HistoryQuery),
    responses((status = 200, description = "The history, or a page of it.", body = HistoryResponse), ReadProblems))]
pub async fn case_history(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let page = page_size(
        query.after_version,
        query.limit,
        DEFAULT_HISTORY_PAGE,
        MAX_HISTORY_PAGE,
    )?;
    wait_for(&state, query.min_position).await?;
    let access = state.app.history_access(&caller, id).await?;
    if let Some(limit) = page {
        let page = state
            .app
            .history_page(&access, query.after_version.unwrap_or(0), limit)
            .await?;
        return Ok(Json(HistoryResponse {
            case_id: id.0,
            events: page.events,
            next_after_version: Some(page.next_after_version),
        })
        .into_response());
    }
    let head = format!("{{\"case_id\":\"{}\",\"events\":[", id.0);
    let stream = futures_util::stream::unfold(
        HistoryStream::Head {
            state,
            access,
            head,
        },
        next_history_chunk,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// Where a streamed history stands.
enum HistoryStream {
    /// Nothing sent yet.
    Head {
        state: AppState,
        access: caseledger_app::HistoryAccess,
        head: String,
    },
    /// Events up to `after` sent; `first` while none was.
    Events {
        state: AppState,
        access: caseledger_app::HistoryAccess,
        after: u64,
        first: bool,
    },
    /// The closing bracket sent.
    Done,
}

async fn next_history_chunk(
    stream: HistoryStream,
) -> Option<(Result<axum::body::Bytes, std::io::Error>, HistoryStream)> {
    match stream {
        HistoryStream::Head {
            state,
            access,
            head,
        } => Some((
            Ok(head.into()),
            HistoryStream::Events {
                state,
                access,
                after: 0,
                first: true,
            },
        )),
        HistoryStream::Events {
            state,
            access,
            after,
            mut first,
        } => {
            let page = match state.app.history_page(&access, after, STREAM_PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    // Headers are sent: the stream breaks off, so the client sees an
                    // incomplete answer rather than a complete-looking one.
                    tracing::error!(%error, "a streamed history stopped");
                    return Some((
                        Err(std::io::Error::other("the history failed")),
                        HistoryStream::Done,
                    ));
                }
            };
            let mut chunk = Vec::new();
            for event in &page.events {
                if !first {
                    chunk.push(b',');
                }
                first = false;
                if let Err(error) = serde_json::to_writer(&mut chunk, event) {
                    tracing::error!(%error, "a streamed history stopped");
                    return Some((
                        Err(std::io::Error::other("the history failed")),
                        HistoryStream::Done,
                    ));
                }
            }
            let next = match page.next_after_version {
                Some(after) => HistoryStream::Events {
                    state,
                    access,
                    after,
                    first,
                },
                None => {
                    chunk.extend_from_slice(b"]}");
                    HistoryStream::Done
                }
            };
            Some((Ok(chunk.into()), next))
        }
        HistoryStream::Done => None,
    }
}

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

/// The filters of a case list; all given filters must match.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// open, investigating, awaiting_reply, escalated or closed.
    #[serde(default)]
    #[param(schema_with = status_schema)]
    pub status: Option<String>,
    /// A category, e.g. `wage_arrears`.
    #[serde(default)]
    #[param(schema_with = category_schema)]
    pub category: Option<String>,
    /// The assigned officer, exactly.
    #[serde(default)]
    pub assignee: Option<String>,
    /// A department the case is shared with.
    #[serde(default)]
    #[param(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub department: Option<String>,
    /// Whether an open letter's deadline was missed.
    #[serde(default)]
    pub overdue: Option<bool>,
    /// The region, case-insensitively.
    #[serde(default)]
    pub region: Option<String>,
    /// Opened at or after this instant (RFC 3339).
    #[serde(default)]
    pub opened_after: Option<DateTime<Utc>>,
    /// Opened before this instant (RFC 3339).
    #[serde(default)]
    pub opened_before: Option<DateTime<Utc>>,
    /// Text search: every whitespace-separated term must occur, case-insensitively, in the
    /// title or the description (Chinese text without spaces is found by any part of it).
    /// At most 16 distinct terms of at most 64 characters each (422 naming `q` beyond). A
    /// search that does not finish within the service's search budget is answered 503 with
    /// `Retry-After`.
    #[serde(default)]
    pub q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Answer only once the list includes this log position, or 503 with `Retry-After`.
    #[serde(default)]
    pub min_position: Option<u64>,
}

fn bad_parameter(field: &str, message: String) -> ApiError {
    ApiError::bad_request(format!("{field}: {message}"), Some((field, message)))
}

/// Lists cases in opening order, filtered and searched, a page at a time. Partner departments
/// see only the cases shared with them.
///
/// Roles: all.
#[utoipa::path(get, path = "/v1/cases", tag = "cases", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of cases.", body = CaseListResponse), ListProblems))]
pub async fn list_cases(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<CaseListResponse>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(bad_parameter(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let mut errors = FieldErrors::default();
    let status = query
        .status
        .as_deref()
        .and_then(|text| errors.parse::<CaseStatus>("status", text));
    let category = query
        .category
        .as_deref()
        .and_then(|text| errors.parse::<Category>("category", text));
    let department = errors.department("department", query.department.as_deref());
    errors.into_bad_request()?;
    if let Some(problem) = query.q.as_deref().and_then(search_text_problem) {
        return Err(ApiError::invalid(vec![ProblemField {
            field: "q".into(),
            message: problem,
        }]));
    }
    let cursor = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            Cursor::decode(text)
                .ok_or_else(|| bad_parameter("cursor", "not a cursor from this API".into()))?,
        ),
    };
    if let Some(position) = query.min_position {
        state
            .app
            .wait_for_projection(position, state.config.read_wait)
            .await?;
    }
    let filter = CaseFilter {
        status,
        category,
        assignees: query.assignee.into_iter().collect(),
        department,
        overdue: query.overdue,
        region: query.region,
        opened_after: query.opened_after,
        opened_before: query.opened_before,
        q: query.q,
    };
    let page = state.app.list_cases(&caller, filter, cursor, limit).await?;
    let include_notes = caller.role != Role::Partner;
    Ok(Json(CaseListResponse {
        items: page
            .items
            .into_iter()
            .map(|case| CaseResponse::summary(case, include_notes))
            .collect(),
        next_cursor: page.next_cursor.map(|cursor| cursor.encode()),
    }))
}

/// The period of statistics.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// From this instant on (RFC 3339).
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// Answer only once the figures include this log position.
    #[serde(default)]
    pub min_position: Option<u64>,
    /// Extension: only cases of this region, case-insensitively (as the case list's `region`).
    #[serde(default)]
    pub region: Option<String>,
    /// Extension: only cases of this category, e.g. `wage_arrears` (400 naming `category` for
    /// another word).
    #[serde(default)]
    #[param(schema_with = category_schema)]
    pub category: Option<String>,
}

/// Counts by status and category, overdue count, median days to close, letters issued by
/// kind, and the employers' reply and rectification rates for opinion letters — optionally
/// for a period (cases opened, cases closed and letters issued within it).
///
/// Roles: admin, supervisor, auditor.
///
/// Extensions: `region` and `category` count only the cases of one region and one category;
/// the answer also holds cases opened and closed per month in the office's time zone
/// (`--timezone`), cases by region and the letters overdue now, all from the same scan. The
/// console's dashboard shows and downloads exactly these figures.
#[utoipa::path(get, path = "/v1/stats", tag = "cases", security(("bearer" = [])),
    params(StatsQuery),
    responses((status = 200, description = "The figures.", body = StatsResponse), ReadProblems))]
pub async fn case_stats(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> Result<Json<StatsResponse>, ApiError> {
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if from >= to {
            return Err(bad_parameter("to", "must be after `from`".into()));
        }
    }
    let mut errors = FieldErrors::default();
    let category = query
        .category
        .as_deref()
        .filter(|text| !text.is_empty())
        .and_then(|text| errors.parse::<Category>("category", text));
    errors.into_bad_request()?;
    let scope = StatsScope {
        region: query
            .region
            .map(|region| region.trim().to_owned())
            .filter(|region| !region.is_empty()),
        category,
    };
    if let Some(position) = query.min_position {
        state
            .app
            .wait_for_projection(position, state.config.read_wait)
            .await?;
    }
    let period = Period {
        from: query.from,
        to: query.to,
    };
    // A scan of every case: on a blocking thread, not on the workers answering other requests,
    // and no more of them at once per token than the whole-log read bound allows.
    let _slot = state.guards.whole_log_read(caller.id.uuid())?;
    let app = state.app.clone();
    let stats = tokio::task::spawn_blocking(move || app.stats_within(&caller, period, &scope))
        .await
        .map_err(|error| ApiError::internal(&error))??;
    Ok(Json(stats.into()))
}

/// The PDF of an opinion or recommendation letter, exactly as rendered when it was issued
/// (contract §9): its SHA-256 is the letter's `document_sha256`, and the `ETag`; a request
/// with that `If-None-Match` is answered 304. Reminders, and letters issued before §9, have no
/// document (404).
///
/// Roles: admin, supervisor, officer, auditor; a partner reads only the documents of letters
/// addressed to its department, of cases shared with it (anything else is 404).
#[utoipa::path(get, path = "/v1/cases/{id}/letters/{letter_id}/document", tag = "cases", security(("bearer" = [])),
    params(CaseIdParam, ("letter_id" = Uuid, Path, description = "The letter's id."),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy already held.")),
    responses(
        (status = 200, description = "The PDF. `ETag` is its SHA-256 in quotes; `Content-Disposition` names the file after the letter's id.", content_type = "application/pdf", body = super::wire::PdfDocument),
        (status = 304, description = "The copy held is the document."),
        ReadProblems))]
pub async fn letter_document(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    LetterPath(id, letter_id): LetterPath,
    headers: header::HeaderMap,
) -> Result<Response, ApiError> {
    let pdf = state.app.letter_pdf(&caller, id, letter_id).await?;
    let etag = format!("\"{}\"", pdf.sha256);
    let held = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let disposition = format!("inline; filename=\"letter-{}.pdf\"", letter_id.0);
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "private, no-cache".to_owned()),
    ];
    if held {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((
        common,
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        pdf.bytes,
    )
        .into_response())
}
