//! `/v1/feed`: a partner department's feed, pulled (contract §7) — exactly the messages its
//! webhook endpoints receive, in the same order and format, for departments that cannot accept
//! inbound HTTP or that need to catch up.

use axum::extract::State;
use axum::Json;
use caseledger_app::webhooks::MAX_FEED_PAGE;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ReadProblems};
use crate::extract::{ApiQuery, Authenticated};
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 100;

/// The feed route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(read_feed))
}

/// Paging through the feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Return messages after this log position (0 = from the start); pass the previous page's
    /// `next_after`.
    #[serde(default)]
    pub after: Option<u64>,
    /// About this many messages (1–1000, default 100); a page never ends between an event and
    /// the audit checkpoints filed at the same position, so it may hold a few more.
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One message of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedMessageResponse {
    /// The `webhook-id` the message is delivered with (the event's id, or
    /// `checkpoint-<position>`); stable, so a department can drop duplicates.
    pub webhook_id: String,
    /// Where the message sits in the feed: the event's log position; an audit checkpoint sits
    /// at the position of the first event projected after it was issued, before that event.
    pub position: u64,
    /// The message body, exactly as a webhook POSTs it: `{"type","timestamp","data"}`.
    /// `case.<EventType>` messages have `data = {"case_id","position","version","event"}`,
    /// where `event` is the envelope of `GET /v1/events` with every sealed complainant value
    /// replaced by `null` (so it does not re-hash to its `hash` when the case names a
    /// complainant), plus `"case"` — the case view as it then stood, without complainant or
    /// internal notes — in the message of the event that shared the case with the department.
    /// A `case.SupervisionLetterIssued` or `case.LetterApproved` message of a letter addressed
    /// to a department also has
    /// `"document": {"path","media_type","sha256"}`: where the addressed department reads the
    /// letter's PDF with its token (`GET /v1/cases/{id}/letters/{letter_id}/document`).
    /// `audit.checkpoint` messages have `data = {"position","hash","at","signature",
    /// "public_key"}`. Internal notes (`NoteAdded`) never reach a department.
    #[schema(value_type = Object)]
    pub body: Box<RawValue>,
}

/// `GET /v1/feed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedResponse {
    /// Messages in feed order.
    pub messages: Vec<FeedMessageResponse>,
    /// Pass as `after` for the next page; null when this page is empty (ask again with the
    /// same `after` later).
    pub next_after: Option<u64>,
}

/// The caller's department's feed: the messages its webhooks carry, in the same order and
/// format — the events of the cases shared with the department, from the event that shares
/// each case on, and every signed audit checkpoint. Nothing is skipped: paging with
/// `next_after` sees every message once.
///
/// Roles: partner.
#[utoipa::path(get, path = "/v1/feed", tag = "webhooks", security(("bearer" = [])),
    params(FeedQuery),
    responses((status = 200, description = "A page of the feed.", body = FeedResponse), ReadProblems))]
pub async fn read_feed(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<FeedQuery>,
) -> Result<Json<FeedResponse>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_FEED_PAGE {
        return Err(ApiError::bad_request(
            format!("limit must be between 1 and {MAX_FEED_PAGE}"),
            Some(("limit", format!("must be between 1 and {MAX_FEED_PAGE}"))),
        ));
    }
    let page = state
        .app
        .feed_page(&caller, query.after.unwrap_or(0), limit)
        .await?;
    let messages = page
        .entries
        .into_iter()
        .map(|entry| {
            let body = RawValue::from_string(entry.message.body)
                .map_err(|error| ApiError::internal(&format!("a stored feed message: {error}")))?;
            Ok(FeedMessageResponse {
                webhook_id: entry.message.webhook_id,
                position: entry.key.group,
                body,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(FeedResponse {
        messages,
        next_after: page.next_after,
    }))
}
