//! Signing in and out, choosing a password through a setup link, and the language switch.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use caseledger_app::AppError;
use caseledger_domain::Rejection;
use serde::{Deserialize, Serialize};

use super::render::render_failed;
use crate::error::ConsoleError;
use crate::i18n::Lang;
use crate::session::{
    cookie, set_cookie, SignedForm, Visitor, VisitorForm, FORM_COOKIE, LANG_COOKIE, SESSION_COOKIE,
};
use crate::state::ConsoleState;

/// A year, for the remembered language.
const LANG_COOKIE_SECONDS: u64 = 365 * 24 * 60 * 60;

/// Where to go after signing in: a console page, never another site.
fn local_next(next: Option<&str>) -> &str {
    match next {
        Some(next)
            if next.starts_with("/console/")
                && !next.starts_with("//")
                && !next.contains("://")
                && !next.starts_with("/console/sign-") =>
        {
            next
        }
        _ => "/console/",
    }
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Serialize)]
struct SignInPage<'a> {
    next: &'a str,
    login: &'a str,
    /// The catalog key of the message above the form, if any.
    message_key: Option<&'static str>,
    /// Minutes left of a lock.
    locked_minutes: Option<u64>,
    /// A password was just set.
    done: bool,
}

/// A fresh pre-session secret for the sign-in and setup forms, unless the browser has one.
fn form_secret(visitor: &Visitor) -> (String, bool) {
    match &visitor.form_secret {
        Some(secret) if secret.len() >= 32 => (secret.clone(), false),
        _ => {
            let secret = uuid::Uuid::new_v4().simple().to_string()
                + &uuid::Uuid::new_v4().simple().to_string();
            (secret, true)
        }
    }
}

/// Renders a page with a form posted before sign-in: its token comes from the browser's
/// pre-session secret, which is set now when the browser has none. `path` is what the
/// language switch comes back to.
fn render_visitor_form(
    state: &ConsoleState,
    visitor: &Visitor,
    (template, section, path): (&str, &'static str, &str),
    status: StatusCode,
    page: impl Serialize,
) -> Result<Response, ConsoleError> {
    let (secret, fresh) = form_secret(visitor);
    let mut visitor = visitor.clone();
    visitor.form_secret = Some(secret.clone());
    path.clone_into(&mut visitor.path);
    let body = state
        .templates
        .render(template, &visitor.chrome(section), page)
        .map_err(render_failed)?;
    let mut response = (status, Html(body)).into_response();
    if fresh {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&state.config, FORM_COOKIE, &secret, None),
        );
    }
    Ok(response)
}

fn render_sign_in(
    state: &ConsoleState,
    visitor: &Visitor,
    status: StatusCode,
    page: SignInPage<'_>,
) -> Result<Response, ConsoleError> {
    let path = visitor.path.clone();
    render_visitor_form(
        state,
        visitor,
        ("sign_in.html", "sign-in", &path),
        status,
        page,
    )
}

/// `GET /console/sign-in`: the form; a person signed in already goes on.
pub async fn sign_in_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Query(query): Query<SignInQuery>,
) -> Result<Response, ConsoleError> {
    let next = local_next(query.next.as_deref());
    if visitor.session.is_some() {
        return Ok(Redirect::to(next).into_response());
    }
    render_sign_in(
        &state,
        &visitor,
        StatusCode::OK,
        SignInPage {
            next,
            login: "",
            message_key: None,
            locked_minutes: None,
            done: query.done.is_some(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /console/sign-in`.
pub async fn sign_in(
    State(state): State<ConsoleState>,
    form: VisitorForm<SignInForm>,
) -> Result<Response, ConsoleError> {
    let VisitorForm {
        by: visitor,
        fields,
        ..
    } = form;
    let next = local_next(fields.next.as_deref());
    match state.app.sign_in(&fields.login, &fields.password).await {
        Ok(session) => {
            let mut response = Redirect::to(next).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&state.config, SESSION_COOKIE, &session.secret, None),
            );
            Ok(response)
        }
        Err(AppError::SignInRefused) => render_sign_in(
            &state,
            &visitor,
            StatusCode::UNAUTHORIZED,
            SignInPage {
                next,
                login: &fields.login,
                message_key: Some("sign-in-refused"),
                locked_minutes: None,
                done: false,
            },
        ),
        Err(AppError::SignInLocked {
            retry_after_seconds,
        }) => {
            let mut response = render_sign_in(
                &state,
                &visitor,
                StatusCode::TOO_MANY_REQUESTS,
                SignInPage {
                    next,
                    login: &fields.login,
                    message_key: Some("sign-in-locked"),
                    locked_minutes: Some(retry_after_seconds.div_ceil(60)),
                    done: false,
                },
            )?;
            if let Ok(value) = retry_after_seconds.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// `POST /console/sign-out`: ends the session here and in the store.
pub async fn sign_out(
    State(state): State<ConsoleState>,
    headers: axum::http::HeaderMap,
    form: SignedForm<NoFields>,
) -> Result<Response, ConsoleError> {
    let SignedForm {
        by: signed_in,
        fields: NoFields {},
        ..
    } = form;
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state.app.sign_out(secret).await?;
    }
    tracing::info!(user = %signed_in.caller().id.uuid(), "signed out");
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state.config, SESSION_COOKIE, "", Some(0)),
    );
    Ok(response)
}

#[derive(Debug, Serialize)]
struct SetupPage<'a> {
    login: &'a str,
    name: &'a str,
    token: &'a str,
    /// Field errors: (field, catalog key, the service's words).
    errors: Vec<FieldProblem>,
}

/// A field error as a form shows it beside its field.
#[derive(Debug, Clone, Serialize)]
pub struct FieldProblem {
    /// The field, as the app names it.
    pub field: String,
    /// The catalog key of the message, when one says it better.
    pub key: Option<&'static str>,
    /// The service's own words.
    pub message: String,
}

fn render_setup(
    state: &ConsoleState,
    visitor: &Visitor,
    status: StatusCode,
    page: SetupPage<'_>,
) -> Result<Response, ConsoleError> {
    // The setup link's token is in the path; the menu's language switch must not repeat it.
    render_visitor_form(
        state,
        visitor,
        ("setup.html", "setup", "/console/sign-in"),
        status,
        page,
    )
}

/// `GET /console/setup/{token}`: the form where a person chooses a password.
pub async fn setup_page(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Result<Response, ConsoleError> {
    let user = state.app.setup_link_user(&token).await?;
    render_setup(
        &state,
        &visitor,
        StatusCode::OK,
        SetupPage {
            login: &user.login,
            name: &user.name,
            token: &token,
            errors: Vec::new(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// The catalog key for a password the rules refuse.
fn password_problem_key(message: &str) -> Option<&'static str> {
    if message.contains("at least") {
        Some("password-too-short")
    } else if message.contains("at most") {
        Some("password-too-long")
    } else if message.contains("login") {
        Some("password-is-login")
    } else if message.contains("common") {
        Some("password-too-common")
    } else {
        None
    }
}

/// `POST /console/setup/{token}`.
pub async fn setup(
    State(state): State<ConsoleState>,
    Path(token): Path<String>,
    form: VisitorForm<SetupForm>,
) -> Result<Response, ConsoleError> {
    let VisitorForm {
        by: visitor,
        fields,
        ..
    } = form;
    let user = state.app.setup_link_user(&token).await?;
    let errors = if fields.password != fields.password_again {
        vec![FieldProblem {
            field: "password_again".into(),
            key: Some("password-mismatch"),
            message: "the two passwords differ".into(),
        }]
    } else {
        match state.app.complete_setup(&token, &fields.password).await {
            Ok(_) => return Ok(Redirect::to("/console/sign-in?done=1").into_response()),
            Err(AppError::Rejected(Rejection::Invalid(errors))) => errors
                .into_iter()
                .map(|error| FieldProblem {
                    key: password_problem_key(&error.message),
                    field: error.field,
                    message: error.message,
                })
                .collect(),
            Err(other) => return Err(other.into()),
        }
    };
    render_setup(
        &state,
        &visitor,
        StatusCode::UNPROCESSABLE_ENTITY,
        SetupPage {
            login: &user.login,
            name: &user.name,
            token: &token,
            errors,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct LanguageQuery {
    back: Option<String>,
}

/// `GET /console/language/{tag}?back=…`: remembers the language and goes back.
pub async fn switch_language(
    State(state): State<ConsoleState>,
    Path(tag): Path<String>,
    Query(query): Query<LanguageQuery>,
) -> Result<Response, ConsoleError> {
    let lang = Lang::from_tag(&tag).ok_or(ConsoleError::PageNotFound)?;
    let back = match query.back.as_deref() {
        Some("/console/sign-in") => "/console/sign-in".to_owned(),
        // The sign-in page keeps where it was to lead, if that is a console page.
        Some(back) if back.starts_with("/console/sign-in?") => {
            let next = serde_html_form::from_str::<SignInQuery>(&back["/console/sign-in?".len()..])
                .ok()
                .and_then(|query| query.next);
            match local_next(next.as_deref()) {
                "/console/" => "/console/sign-in".to_owned(),
                next => format!(
                    "/console/sign-in?next={}",
                    crate::error::form_urlencoded_component(next)
                ),
            }
        }
        other => local_next(other).to_owned(),
    };
    let mut response = Redirect::to(&back).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            &state.config,
            LANG_COOKIE,
            lang.tag(),
            Some(LANG_COOKIE_SECONDS),
        ),
    );
    Ok(response)
}
