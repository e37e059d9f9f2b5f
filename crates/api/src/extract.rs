//! Extractors: authentication, JSON bodies and query strings that fail in our problem shape,
//! command headers (`If-Match`, `Idempotency-Key`), case and account ids in paths and the base
//! of the links an answer gives, with the OpenAPI parameters that document those headers and
//! paths.
//!
//! Parsing and validation of the wire format live here so handlers stay thin. A body that is
//! not JSON is a 400; JSON of the wrong shape (missing field, wrong type, unknown enum value)
//! is a 422 naming the field, found with `serde_path_to_error`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use caseledger_app::{Caller, Idempotency};
use caseledger_domain::{AttachmentId, CaseId, LetterId};
use serde::de::DeserializeOwned;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{RefOr, Required};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::{ApiError, ProblemField};
use crate::state::AppState;

/// The caller, authenticated by `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    /// Counts the request against the token's rate, or, without a valid token, against the
    /// client address's (both 429 when over). A token that could not be checked (503 while a
    /// shared store's tokens are stale) is not an invalid one: it counts against no address.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match authenticate(parts, state) {
            Ok(caller) => {
                state.guards.check_token(caller.id.uuid())?;
                Ok(Authenticated(caller))
            }
            Err(refusal) => {
                let invalid_token = refusal.status() == StatusCode::UNAUTHORIZED;
                if let Some(ConnectInfo(peer)) = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .filter(|_| invalid_token)
                {
                    state.guards.check_address(peer.ip())?;
                }
                Err(refusal)
            }
        }
    }
}

fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <token>`"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| {
            // The scheme name is case-insensitive (RFC 9110 §11.1).
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        })
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
    // Fails closed: 503 while a shared store's tokens could not be re-read for too long.
    state
        .app
        .check_token(token)?
        .ok_or_else(|| ApiError::unauthorized("the token is unknown or revoked"))
}

/// A JSON body of type `T`, with a fingerprint of the request for idempotency.
#[derive(Debug)]
pub struct ApiJson<T> {
    /// The decoded body.
    pub value: T,
    /// SHA-256 over method, path and body.
    pub fingerprint: String,
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Decodes JSON: syntax errors are 400, shape errors 422 with the field's path.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first: a body that is not JSON at all (trailing garbage included) is a 400 even
    // when its readable prefix already has a field of the wrong shape.
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(not_json(&error));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                ApiError::invalid(vec![ProblemField {
                    field: field_of(&path, &message),
                    message,
                }])
            }
            _ => not_json(&inner),
        }
    })
}

fn not_json(error: &serde_json::Error) -> ApiError {
    ApiError::bad_request(
        format!("the body is not valid JSON: {error}"),
        Some(("body", error.to_string())),
    )
}

/// The field a shape error is about. serde reports a missing field at its parent's path, with
/// the name only in the message, so the name is added to the path here.
fn field_of(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'));
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (".", None) => "body".to_owned(),
        // An unknown member with an empty name (`{"": 1}`): name the object that holds it.
        ("", None) => "body".to_owned(),
        (path, None) => match path.strip_suffix('.') {
            Some(parent) if !parent.is_empty() => parent.to_owned(),
            Some(_) => "body".to_owned(),
            None => path.to_owned(),
        },
    }
}

/// serde's messages end in "at line 1 column 42", which says nothing useful about a field.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !is_json(&content_type) {
            return Err(ApiError::bad_request(
                "the body must be JSON, sent with `Content-Type: application/json`",
                Some((
                    "Content-Type",
                    format!("expected application/json, got '{content_type}'"),
                )),
            ));
        }
        // A declared length beyond the limit is refused before a byte of the body is read.
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > state.config.body_limit_bytes as u64) {
            return Err(ApiError::payload_too_large(state.config.body_limit_bytes));
        }
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        // A client that stalls mid-body is cut off well before the request timeout.
        let bytes = tokio::time::timeout(
            state.config.body_read_timeout,
            Bytes::from_request(request, state),
        )
        .await
        .map_err(|_| ApiError::body_timeout(state.config.body_read_timeout))?
        .map_err(|rejection| body_rejection(rejection, state))?;
        let value = decode_json(&bytes)?;
        Ok(ApiJson {
            value,
            fingerprint: caseledger_app::request_fingerprint(method.as_str(), &path, &bytes),
        })
    }
}

fn body_rejection(rejection: BytesRejection, state: &AppState) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(state.config.body_limit_bytes)
    } else {
        ApiError::bad_request(format!("the body could not be read: {rejection}"), None)
    }
}

/// A command request: its JSON body and the optional `If-Match` and `Idempotency-Key` headers.
#[derive(Debug)]
pub struct CommandInput<T> {
    /// The decoded body.
    pub body: T,
    /// The version named by `If-Match`.
    pub if_match: Option<u64>,
    /// The idempotency key with the request's fingerprint.
    pub idempotency: Option<Idempotency>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CommandInput<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let headers = CommandHeaders::from_request_parts(&mut parts, state).await?;
        let json = ApiJson::<T>::from_request(Request::from_parts(parts, body), state).await?;
        Ok(CommandInput {
            body: json.value,
            if_match: headers.if_match,
            idempotency: headers.idempotency_key.map(|key| Idempotency {
                key,
                fingerprint: json.fingerprint,
            }),
        })
    }
}

/// `If-Match` and `Idempotency-Key`, for commands without a body.
#[derive(Debug, Default)]
pub struct CommandHeaders {
    /// The version named by `If-Match`.
    pub if_match: Option<u64>,
    /// The raw idempotency key.
    pub idempotency_key: Option<String>,
}

impl CommandHeaders {
    /// The idempotency key bound to a bodiless request on `path`.
    pub fn idempotency_for(&self, method: &Method, path: &str) -> Option<Idempotency> {
        self.idempotency_key
            .clone()
            .map(|key| Idempotency::for_request(key, method.as_str(), path, b""))
    }
}

impl FromRequestParts<AppState> for CommandHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let if_match = match parts.headers.get(header::IF_MATCH) {
            None => None,
            Some(value) => Some(
                parse_if_match(value.to_str().unwrap_or_default()).ok_or_else(|| {
                    ApiError::bad_request(
                        "If-Match must name one version as an ETag, e.g. `\"3\"`",
                        Some(("If-Match", "expected a quoted version number".into())),
                    )
                })?,
            ),
        };
        let idempotency_key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(value) => {
                let key = value.to_str().unwrap_or_default().trim();
                if key.is_empty() || key.len() > 255 {
                    return Err(ApiError::bad_request(
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                        Some((
                            "Idempotency-Key",
                            "expected 1 to 255 visible ASCII characters".into(),
                        )),
                    ));
                }
                Some(key.to_owned())
            }
        };
        Ok(CommandHeaders {
            if_match,
            idempotency_key,
        })
    }
}

fn parse_if_match(value: &str) -> Option<u64> {
    let value = value.trim();
    let value = value.strip_prefix("W/").unwrap_or(value);
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    inner.parse().ok()
}

/// A query string of type `T` that fails as a 400 problem naming the parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                let field = error.path().to_string();
                let field = if field == "." {
                    "query".to_owned()
                } else {
                    field
                };
                ApiError::bad_request(
                    format!("invalid query parameter: {}", error.inner()),
                    Some((&field, error.inner().to_string())),
                )
            })
    }
}

/// A case id in the path. A malformed id names no case: 404.
#[derive(Debug, Clone, Copy)]
pub struct CasePath(pub CaseId);

impl<S: Send + Sync> FromRequestParts<S> for CasePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(CasePath(CaseId(
            path_uuid(parts, state, "id", "case").await?,
        )))
    }
}

/// An account id in the path (`{user_id}`). A malformed id names no account: 404.
#[derive(Debug, Clone, Copy)]
pub struct UserPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for UserPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(UserPath(path_uuid(parts, state, "user_id", "user").await?))
    }
}

/// The UUID in the path parameter `param`; a 404 for `what` when it is missing or malformed.
async fn path_uuid<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    param: &str,
    what: &str,
) -> Result<Uuid, ApiError> {
    let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::not_found(what))?;
    params
        .iter()
        .find(|(name, _)| name == param)
        .and_then(|(_, value)| Uuid::parse_str(value).ok())
        .ok_or_else(|| ApiError::not_found(what))
}

/// A case id and a letter id in the path.
#[derive(Debug, Clone, Copy)]
pub struct LetterPath(pub CaseId, pub LetterId);

impl<S: Send + Sync> FromRequestParts<S> for LetterPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let CasePath(case) = CasePath::from_request_parts(parts, state).await?;
        let letter = path_uuid(parts, state, "letter_id", "letter").await?;
        Ok(LetterPath(case, LetterId(letter)))
    }
}

/// A case id and an attachment id in the path.
#[derive(Debug, Clone, Copy)]
pub struct AttachmentPath(pub CaseId, pub AttachmentId);

impl<S: Send + Sync> FromRequestParts<S> for AttachmentPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let CasePath(case) = CasePath::from_request_parts(parts, state).await?;
        let attachment = path_uuid(parts, state, "attachment_id", "attachment").await?;
        Ok(AttachmentPath(case, AttachmentId(attachment)))
    }
}

/// The `{id}` path parameter, for the OpenAPI document.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CaseIdParam {
    /// The case's id (a UUID); a malformed id is a 404 like an unknown one.
    #[allow(dead_code, reason = "read by the OpenAPI derive only")]
    id: Uuid,
}

/// The optional headers of every command.
#[derive(Debug)]
pub struct CommandHeaderParams;

impl IntoParams for CommandHeaderParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("If-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "The case version (`ETag`) this command builds on, e.g. `\"3\"`; 412 when the case has moved on.",
                ))
                .schema(Some(pattern_schema(IF_MATCH_PATTERN, None)))
                .build(),
            idempotency_key_param(),
        ]
    }
}

/// An `If-Match` the command extractor accepts: one quoted version number, optionally weak.
const IF_MATCH_PATTERN: &str = r#"^(W/)?"[0-9]{1,19}"$"#;
/// An `Idempotency-Key` the extractor accepts: 1 to 255 visible ASCII characters (spaces only
/// inside, since HTTP trims a header value's ends).
const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]([ -~]{0,253}[!-~])?$";

/// The optional `Idempotency-Key` header, for opening a case.
#[derive(Debug)]
pub struct IdempotencyKeyParam;

impl IntoParams for IdempotencyKeyParam {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![idempotency_key_param()]
    }
}

fn idempotency_key_param() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Repeat-safe retries (per token, kept at least 24 h): the same key and body return the first answer; another body → 422.",
        ))
        .schema(Some(pattern_schema(IDEMPOTENCY_KEY_PATTERN, Some(255))))
        .build()
}

fn pattern_schema(
    pattern: &str,
    max_length: Option<usize>,
) -> RefOr<utoipa::openapi::schema::Schema> {
    RefOr::T(
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(pattern))
            .max_length(max_length)
            .into(),
    )
}

/// The base of the links an answer gives (setup links): the public URL when one is configured
/// (`--public-url`), else `http://` and the request's `Host` — the address the client reached
/// the service at, as the console takes it too. A `Host` that is not a plain `host[:port]` (a
/// DNS name, an IPv4 address or a bracketed IPv6 address, and a numeric port) is not echoed
/// into a link: the base is then empty and links are relative to the service's address.
#[derive(Debug, Clone)]
pub struct PublicBase(pub String);

impl FromRequestParts<AppState> for PublicBase {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| parts.uri.authority().map(|authority| authority.as_str()));
        Ok(PublicBase(
            caseledger_app::public_base(state.public_url.as_deref(), host, "http")
                .unwrap_or_default(),
        ))
    }
}
