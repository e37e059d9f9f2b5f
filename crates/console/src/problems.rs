//! How a problem becomes a page. Handlers return [`ConsoleError`](crate::error::ConsoleError); its response carries the
//! problem as an extension, and [`render_problems`] (a middleware with the console's state)
//! renders it in the visitor's language — so a page never shows a raw error, and no input ends
//! in a 500.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ProblemToRender;
use crate::session::{lang_of, Visitor};
use crate::state::ConsoleState;

/// Renders every problem a console handler answered with as a page in the visitor's language.
pub async fn render_problems(
    State(state): State<ConsoleState>,
    request: Request,
    next: Next,
) -> Response {
    let lang = lang_of(request.headers());
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let Some(ProblemToRender(problem)) = response.extensions_mut().remove::<ProblemToRender>()
    else {
        return response;
    };
    let visitor = Visitor {
        lang,
        session: None,
        form_secret: None,
        path,
    };
    let chrome = visitor.chrome("problem");
    let body = state
        .templates
        .render("problem.html", &chrome, &problem)
        .unwrap_or_else(|error| {
            tracing::error!(%error, "the problem page did not render");
            String::from("<!doctype html><title>Error</title><p>Error</p>")
        });
    let status = response.status();
    let mut page = (status, axum::response::Html(body)).into_response();
    if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
        page.headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    if status == StatusCode::SERVICE_UNAVAILABLE
        && !page.headers().contains_key(header::RETRY_AFTER)
    {
        page.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    page
}
