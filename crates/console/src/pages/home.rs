//! The console's front page for a person signed in.

use axum::extract::State;
use axum::response::Html;
use serde::Serialize;

use crate::error::ConsoleError;
use crate::session::SignedIn;
use crate::state::ConsoleState;

#[derive(Debug, Serialize)]
struct HomePage {}

/// `GET /console/`.
pub async fn home(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
) -> Result<Html<String>, ConsoleError> {
    let body = state
        .templates
        .render("home.html", &signed_in.chrome("home"), HomePage {})
        .map_err(render_failed)?;
    Ok(Html(body))
}

/// A template that failed to render: a fault of the console, logged, shown as the internal
/// problem page.
pub fn render_failed(error: minijinja::Error) -> ConsoleError {
    ConsoleError::App(caseledger_app::AppError::Internal(anyhow::anyhow!(
        "a console template failed: {error:#}"
    )))
}
