//! Who is asking: the session cookie, the language cookie, and the extractors console
//! handlers take — [`Visitor`] (anyone), [`SignedIn`] (a person with a live session), and
//! [`SignedForm`] / [`VisitorForm`] (a posted form whose token and origin were checked).
//!
//! Cookies: `caseledger_session` (the session secret; the store keeps only its hash),
//! `caseledger_form` (before sign-in: the secret the sign-in and setup forms' token is derived
//! from), `caseledger_lang` (`zh-CN` or `en`). All are `HttpOnly`, `SameSite=Strict`, `Path=/`,
//! and `Secure` when the console is served over HTTPS.

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use caseledger_app::{form_token_matches, SessionCaller};
use serde::de::DeserializeOwned;

use crate::config::ConsoleConfig;
use crate::error::ConsoleError;
use crate::i18n::Lang;
use crate::security::check_origin;
use crate::state::ConsoleState;
use crate::templates::{Chrome, Person};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "caseledger_session";
/// The pre-session form cookie's name.
pub const FORM_COOKIE: &str = "caseledger_form";
/// The language cookie's name.
pub const LANG_COOKIE: &str = "caseledger_lang";

/// The largest form body read (every console form is far smaller).
const FORM_LIMIT_BYTES: usize = 256 * 1024;

/// The value of the cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// A `Set-Cookie` value for `name`; `max_age` in seconds, `None` for a session cookie, `Some(0)`
/// to remove it.
pub fn set_cookie(
    config: &ConsoleConfig,
    name: &str,
    value: &str,
    max_age: Option<u64>,
) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if config.secure_cookies {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// The language a request asks for: its cookie, else Chinese.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::from_tag)
        .unwrap_or_default()
}

/// The path and query of the request, for coming back to after sign-in or a language switch.
fn path_of(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| "/console/".to_owned(), |path| path.as_str().to_owned())
}

/// Anyone: the language, and the person if a live session is presented.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The page's language.
    pub lang: Lang,
    /// The person signed in, if any.
    pub session: Option<SessionCaller>,
    /// The pre-session form secret, if the browser holds one.
    pub form_secret: Option<String>,
    /// The request's path and query.
    pub path: String,
}

impl Visitor {
    /// The layout's values for a page of `section`.
    pub fn chrome(&self, section: &'static str) -> Chrome {
        Chrome {
            lang: self.lang,
            person: self.session.as_ref().map(person),
            form_token: match (&self.session, &self.form_secret) {
                (Some(session), _) => session.form_token.clone(),
                (None, Some(secret)) => caseledger_app::form_token(secret),
                (None, None) => String::new(),
            },
            section,
            path: self.path.clone(),
        }
    }
}

fn person(session: &SessionCaller) -> Person {
    Person {
        name: session.caller.name.clone(),
        login: session.login.clone(),
        role: session.caller.role.to_string(),
        department: session.caller.department.as_ref().map(ToString::to_string),
    }
}

impl<S> FromRequestParts<S> for Visitor
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ConsoleState::from_ref(state);
        let lang = lang_of(&parts.headers);
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(secret) => state
                .app
                .session(secret)
                .await
                .map_err(ConsoleError::from)?,
            None => None,
        };
        Ok(Visitor {
            lang,
            session,
            form_secret: cookie(&parts.headers, FORM_COOKIE).map(ToOwned::to_owned),
            path: path_of(parts),
        })
    }
}

/// A person with a live session. Without one, the page answers with the sign-in page's
/// address (`?next=` the page asked for).
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session.
    pub session: SessionCaller,
    /// Everything about the visitor.
    pub visitor: Visitor,
}

impl SignedIn {
    /// The person as the app's caller.
    pub fn caller(&self) -> &caseledger_app::Caller {
        &self.session.caller
    }

    /// The layout's values for a page of `section`.
    pub fn chrome(&self, section: &'static str) -> Chrome {
        self.visitor.chrome(section)
    }
}

impl<S> FromRequestParts<S> for SignedIn
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        match visitor.session.clone() {
            Some(session) => Ok(SignedIn { session, visitor }),
            None => Err(ConsoleError::SignInNeeded { next: visitor.path }),
        }
    }
}

/// The fields every console form carries beside its own.
#[derive(Debug, serde::Deserialize)]
struct FormToken {
    #[serde(rename = "_form_token", default)]
    form_token: String,
}

/// Reads a posted form after checking its origin, returning its token and its fields.
async fn read_form<T: DeserializeOwned>(
    request: Request,
    state: &ConsoleState,
) -> Result<(Parts, String, T, axum::body::Bytes), ConsoleError> {
    let (parts, body) = request.into_parts();
    check_origin(&parts.headers, &state.config)?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(ConsoleError::BadForm);
    }
    let bytes = axum::body::to_bytes(body, FORM_LIMIT_BYTES)
        .await
        .map_err(|_| ConsoleError::FormTooLarge)?;
    let token: FormToken =
        serde_html_form::from_bytes(&bytes).map_err(|_| ConsoleError::BadForm)?;
    // Repeated names (a group of checkboxes) read as a list.
    let fields: T = serde_html_form::from_bytes(&bytes).map_err(|_| {
        // Not the parser's words: they may quote what was typed, and a form may hold a
        // complainant's details.
        tracing::debug!(path = %parts.uri.path(), "a console form did not parse");
        ConsoleError::BadForm
    })?;
    Ok((parts, token.form_token, fields, bytes))
}

/// Who may post a form, and which cookie the form's token is bound to: the session cookie for
/// people signed in, the pre-session cookie for visitors (sign-in, setup).
pub trait FormPoster<S>: FromRequestParts<S, Rejection = ConsoleError> {
    /// The cookie whose secret the form token is derived from.
    const TOKEN_COOKIE: &'static str;
}

impl<S> FormPoster<S> for SignedIn
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
{
    const TOKEN_COOKIE: &'static str = SESSION_COOKIE;
}

impl<S> FormPoster<S> for Visitor
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
{
    const TOKEN_COOKIE: &'static str = FORM_COOKIE;
}

/// A form whose origin is the console's own and whose token belongs to the poster's cookie.
#[derive(Debug)]
pub struct CheckedForm<P, T> {
    /// Who posted it.
    pub by: P,
    /// Its fields.
    pub fields: T,
    /// The path it was posted to and its body, for binding its idempotency key to it.
    pub posted: Posted,
}

/// A form posted by a person signed in.
pub type SignedForm<T> = CheckedForm<SignedIn, T>;

/// A form posted before sign-in (sign-in, setup).
pub type VisitorForm<T> = CheckedForm<Visitor, T>;

/// Where a form was posted and what it held.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The path.
    pub path: String,
    /// The body as sent.
    pub body: axum::body::Bytes,
}

impl Posted {
    /// An idempotency key bound to this form: the same key posted with other fields is refused.
    pub fn idempotency(&self, key: &str) -> Option<caseledger_app::Idempotency> {
        let key = key.trim();
        (!key.is_empty()).then(|| {
            caseledger_app::Idempotency::for_request(
                format!("console:{key}"),
                "POST",
                &self.path,
                &self.body,
            )
        })
    }
}

impl<S, P, T> FromRequest<S> for CheckedForm<P, T>
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
    P: FormPoster<S>,
    T: DeserializeOwned + Send,
{
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let console = ConsoleState::from_ref(state);
        let (mut parts, token, fields, body) = read_form::<T>(request, &console).await?;
        let by = P::from_request_parts(&mut parts, state).await?;
        let secret = cookie(&parts.headers, P::TOKEN_COOKIE).unwrap_or_default();
        if secret.is_empty() || !form_token_matches(secret, &token) {
            return Err(ConsoleError::ForgedForm);
        }
        let posted = Posted {
            path: parts.uri.path().to_owned(),
            body,
        };
        Ok(CheckedForm { by, fields, posted })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn cookies_are_found_among_several_headers_and_pairs() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; caseledger_lang=en"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("caseledger_session=cls_x"),
        );
        assert_eq!(cookie(&headers, LANG_COOKIE), Some("en"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("cls_x"));
        assert_eq!(cookie(&headers, FORM_COOKIE), None);
        assert_eq!(lang_of(&headers), Lang::En);
        assert_eq!(lang_of(&HeaderMap::new()), Lang::ZhCn);
    }

    #[test]
    fn cookies_are_strict_http_only_and_secure_over_https() {
        let plain = set_cookie(&ConsoleConfig::default(), SESSION_COOKIE, "v", None);
        assert_eq!(
            plain,
            "caseledger_session=v; Path=/; HttpOnly; SameSite=Strict"
        );
        let secure = ConsoleConfig::new(chrono_tz::UTC, Some("https://cl.example.org/".into()));
        let cookie = set_cookie(&secure, LANG_COOKIE, "en", Some(0));
        assert_eq!(
            cookie,
            "caseledger_lang=en; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
        );
    }
}
