//! A partner department's feed (contract §7, `GET /v1/feed`): exactly the messages its
//! webhooks carry, in the same order, a page at a time — each with its position, type, time,
//! case and the body as delivered. The app decides what the department's feed holds (the
//! events of the cases shared with it, from the sharing event on, without personal data, and
//! the signed audit checkpoints); this page only shows it.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ConsoleError;
use crate::pages::render::render_page;
use crate::session::SignedIn;
use crate::state::ConsoleState;

/// Messages on one page of the feed.
const FEED_PAGE: usize = 50;

/// One message as the page shows it.
#[derive(Debug, Serialize)]
struct MessageShown {
    webhook_id: String,
    position: u64,
    kind: String,
    /// The case event's type, for `case.…` messages.
    event: Option<String>,
    timestamp: Option<String>,
    case_id: Option<String>,
    /// The body exactly as delivered.
    body: String,
}

impl MessageShown {
    fn new(webhook_id: String, position: u64, body: &str) -> MessageShown {
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let kind = parsed["type"].as_str().unwrap_or_default().to_owned();
        MessageShown {
            webhook_id,
            position,
            event: kind.strip_prefix("case.").map(str::to_owned),
            kind,
            timestamp: parsed["timestamp"].as_str().map(str::to_owned),
            case_id: parsed["data"]["case_id"].as_str().map(str::to_owned),
            body: body.to_owned(),
        }
    }
}

#[derive(Debug, Serialize)]
struct FeedPageShown {
    messages: Vec<MessageShown>,
    after: u64,
    next_after: Option<u64>,
    department: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FeedQuery {
    after: String,
}

/// `GET /console/feed?after=N`.
pub async fn feed(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let query: FeedQuery =
        serde_html_form::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    // An `after` that is not a position reads from the start.
    let after = query.after.trim().parse::<u64>().unwrap_or(0);
    let caller = signed_in.caller();
    let page = state.app.feed_page(caller, after, FEED_PAGE).await?;
    let messages = page
        .entries
        .into_iter()
        .map(|entry| {
            MessageShown::new(
                entry.message.webhook_id,
                entry.key.group,
                &entry.message.body,
            )
        })
        .collect();
    render_page(
        &state,
        StatusCode::OK,
        "feed.html",
        &signed_in.chrome("feed"),
        FeedPageShown {
            messages,
            after,
            next_after: page.next_after,
            department: caller.department.as_ref().map(ToString::to_string),
        },
    )
}
