//! Rendering a page for a handler: the template, the layout's values and the page's own, and a
//! template that fails to render shown as the internal problem page (and logged).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::error::ConsoleError;
use crate::state::ConsoleState;
use crate::templates::Chrome;

/// A template that failed to render: a fault of the console, logged, shown as the internal
/// problem page.
pub fn render_failed(error: minijinja::Error) -> ConsoleError {
    ConsoleError::App(caseledger_app::AppError::Internal(anyhow::anyhow!(
        "a console template failed: {error:#}"
    )))
}

/// The page `template` with `status`.
pub fn render_page(
    state: &ConsoleState,
    status: StatusCode,
    template: &str,
    chrome: &Chrome,
    page: impl Serialize,
) -> Result<Response, ConsoleError> {
    let body = state
        .templates
        .render(template, chrome, page)
        .map_err(render_failed)?;
    Ok((status, Html(body)).into_response())
}
