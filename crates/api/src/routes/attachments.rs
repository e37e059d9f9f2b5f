//! `/v1/cases/{id}/attachments`: files attached to a case as evidence (contract §10) —
//! upload (the body streamed to the app, never held whole), list, download with ranges, and
//! withdrawal; the handlers and their wire types. What is kept, how, and who may read it is
//! the app's (`caseledger_app::attachments`).

use std::ops::Range;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_app::{AddedAttachment, AttachmentView, NewAttachment};
use caseledger_domain::{AttachmentWithdrawal, Command};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, CommandProblems, ReadProblems};
use crate::extract::{
    ApiQuery, AttachmentPath, Authenticated, CaseIdParam, CasePath, CommandHeaderParams,
    CommandInput,
};
use crate::routes::commands::wire::{CommandReply, CommandResponse};
use crate::state::AppState;

/// The attachment routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(upload_attachment, list_attachments))
        .routes(routes!(download_attachment))
        .routes(routes!(withdraw_attachment))
}

/// The query of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, at most 255 characters, without a path. A personal file's name is
    /// recorded sealed.
    pub filename: String,
    /// Whether the file holds personal data (default `true`): sealed with the case's
    /// personal-data key, erased with it, its bytes never shown to auditors or partners.
    #[serde(default = "personal_by_default")]
    pub personal: bool,
    /// Whether partner departments the case is shared with may read it (default `false`;
    /// only files not marked personal are ever shared).
    #[serde(default)]
    pub shared: bool,
}

fn personal_by_default() -> bool {
    true
}

/// An attached file, as the reader may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentResponse {
    /// Its id.
    pub attachment_id: Uuid,
    /// Its name; `null` for a personal file's name to a reader who may not see personal data,
    /// and once the case's personal data is erased.
    pub filename: Option<String>,
    /// The media type detected from its bytes.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, lowercase hex (as recorded in `AttachmentAdded`).
    pub sha256: String,
    /// Whether it holds personal data.
    pub personal: bool,
    /// Whether partner departments may read it.
    pub shared: bool,
    /// When it was attached.
    pub added_at: DateTime<Utc>,
    /// Set once it was withdrawn (marked not relevant); it stays listed and readable.
    pub withdrawn: Option<WithdrawalResponse>,
    /// True when its bytes are gone for good: a personal file of an erased case.
    pub erased: bool,
    /// The case's version after the upload, when this request recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The log position of `AttachmentAdded`, when this request recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

/// Why and when an attachment was withdrawn.
#[derive(Debug, Serialize, ToSchema)]
pub struct WithdrawalResponse {
    /// Why.
    pub reason: String,
    /// When.
    pub withdrawn_at: DateTime<Utc>,
}

impl From<AttachmentView> for AttachmentResponse {
    fn from(view: AttachmentView) -> Self {
        AttachmentResponse {
            attachment_id: view.attachment_id.0,
            filename: view.filename,
            content_type: view.content_type,
            size: view.size,
            sha256: view.sha256,
            personal: view.personal,
            shared: view.shared,
            added_at: view.added_at,
            withdrawn: view.withdrawn.map(
                |AttachmentWithdrawal {
                     reason,
                     withdrawn_at,
                 }| WithdrawalResponse {
                    reason,
                    withdrawn_at,
                },
            ),
            erased: view.erased,
            version: None,
            position: None,
        }
    }
}

/// A case's attachments.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentList {
    /// Oldest first, withdrawn ones included.
    pub attachments: Vec<AttachmentResponse>,
}

/// `POST /v1/cases/{id}/attachments/{attachment_id}/withdraw`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Why the file is not relevant.
    pub reason: String,
}

/// The bytes of a file, for the OpenAPI document.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(#[allow(dead_code, reason = "read by the OpenAPI derive only")] Vec<u8>);

/// Attaches a file to the case (`AttachmentAdded`): the request's body is the file, with any
/// `Content-Type` (the type recorded is detected from the bytes). Streamed into the store
/// encrypted; the event is recorded only once the bytes are durable. The same bytes attached
/// to the case already (and not withdrawn) answer 200 with that attachment and record nothing.
/// Without `Idempotency-Key`: a repeated upload is recognised by its bytes.
///
/// Roles: admin, supervisor, officer. Allowed on closed cases too.
#[utoipa::path(post, path = "/v1/cases/{id}/attachments", tag = "attachments", security(("bearer" = [])),
    params(CaseIdParam, UploadQuery),
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "The file's bytes, up to `--attachment-max` (default 25 MiB); any content type."),
    responses(
        (status = 201, description = "Attached. `Location` is the file's address, `ETag` the case's new version.", body = AttachmentResponse),
        (status = 200, description = "The same bytes are attached to the case already: that attachment; nothing was recorded.", body = AttachmentResponse),
        (status = 413, description = "Larger than `--attachment-max`, told by `Content-Length` or noticed while streaming; nothing was kept.", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The bytes are of a type the service does not take; nothing was kept.", body = crate::error::Problem, content_type = "application/problem+json"),
        CommandProblems))]
pub async fn upload_attachment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let declared_size = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let new = NewAttachment {
        filename: query.filename,
        personal: query.personal,
        shared: query.shared,
        declared_size,
    };
    let AddedAttachment {
        attachment,
        outcome,
    } = state
        .app
        .add_attachment(&caller, id, new, body.into_data_stream())
        .await?;
    let location = format!(
        "/v1/cases/{}/attachments/{}",
        id.0, attachment.attachment_id.0
    );
    let mut body = AttachmentResponse::from(attachment);
    let status = match &outcome {
        Some(outcome) => {
            body.version = Some(outcome.version);
            body.position = Some(outcome.position);
            StatusCode::CREATED
        }
        None => StatusCode::OK,
    };
    let mut response = (status, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if let Some(Ok(etag)) =
        outcome.map(|outcome| HeaderValue::from_str(&format!("\"{}\"", outcome.version)))
    {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// The case's attachments, oldest first, withdrawn ones included.
///
/// Roles: admin, supervisor, officer and auditor see all (a personal file's name only the
/// first three); a partner sees only the shared files not marked personal, of a case shared
/// with it.
#[utoipa::path(get, path = "/v1/cases/{id}/attachments", tag = "attachments", security(("bearer" = [])),
    params(CaseIdParam),
    responses((status = 200, description = "The attachments.", body = AttachmentList), ReadProblems))]
pub async fn list_attachments(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
) -> Result<Json<AttachmentList>, ApiError> {
    let attachments = state.app.attachments(&caller, id).await?;
    Ok(Json(AttachmentList {
        attachments: attachments.into_iter().map(Into::into).collect(),
    }))
}

/// A file's bytes, exactly as uploaded (checked chunk by chunk as they are read):
/// `Content-Disposition: attachment`, `X-Content-Type-Options: nosniff`, an `ETag` of its
/// SHA-256, and single byte ranges (`Range: bytes=…`, answered 206; 416 outside the file).
///
/// Roles: admin, supervisor, officer read every file; an auditor only files not marked
/// personal (403 for those); a partner only the shared files not marked personal of a case
/// shared with it (404 for any other, as for one that does not exist). A personal file of an
/// erased case is 410: its record and SHA-256 remain.
#[utoipa::path(get, path = "/v1/cases/{id}/attachments/{attachment_id}", tag = "attachments", security(("bearer" = [])),
    params(CaseIdParam, ("attachment_id" = Uuid, Path, description = "The attachment's id."),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`, `bytes=1024-` or `bytes=-512`."),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy already held.")),
    responses(
        (status = 200, description = "The whole file.", body = FileBytes, content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for; `Content-Range` says which.", body = FileBytes, content_type = "application/octet-stream"),
        (status = 304, description = "The copy held is the file."),
        (status = 410, description = "A personal file of a case whose personal data was erased.", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range lies outside the file; `Content-Range: bytes */<size>`.", body = crate::error::Problem, content_type = "application/problem+json"),
        ReadProblems))]
pub async fn download_attachment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AttachmentPath(id, attachment_id): AttachmentPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let file = state
        .app
        .attachment_file(&caller, id, attachment_id)
        .await?;
    let attachment = &file.attachment;
    let etag = format!("\"{}\"", attachment.sha256);
    let held = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut common = HeaderMap::new();
    insert(&mut common, header::ETAG, &etag);
    insert(&mut common, header::CACHE_CONTROL, "private, no-cache");
    insert(&mut common, header::ACCEPT_RANGES, "bytes");
    insert(&mut common, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if held {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let size = attachment.size;
    // A range is honoured only while the copy it continues is this file (If-Range).
    let range_applies = headers
        .get(header::IF_RANGE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.trim() == etag);
    let range = match headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
    {
        Some(value) if range_applies => match byte_range(value, size) {
            RangeAsked::Whole => None,
            RangeAsked::Part(range) => Some(range),
            RangeAsked::Unsatisfiable => {
                let mut response = ApiError::range_not_satisfiable(size).into_response();
                insert(
                    response.headers_mut(),
                    header::CONTENT_RANGE,
                    &format!("bytes */{size}"),
                );
                return Ok(response);
            }
        },
        _ => None,
    };
    insert(&mut common, header::CONTENT_TYPE, &attachment.content_type);
    insert(
        &mut common,
        header::CONTENT_DISPOSITION,
        &content_disposition(attachment.attachment_id.0, attachment.filename.as_deref()),
    );
    let (status, bytes) = match range {
        Some(range) => {
            insert(
                &mut common,
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{size}", range.start, range.end - 1),
            );
            (StatusCode::PARTIAL_CONTENT, range)
        }
        None => (StatusCode::OK, 0..size),
    };
    insert(
        &mut common,
        header::CONTENT_LENGTH,
        &(bytes.end - bytes.start).to_string(),
    );
    Ok((status, common, Body::from_stream(file.read(bytes))).into_response())
}

/// Marks an attachment not relevant (`AttachmentWithdrawn`), with a reason. It stays listed,
/// withdrawn, and its bytes stay readable; nothing is deleted.
///
/// Roles: admin, supervisor, officer.
#[utoipa::path(post, path = "/v1/cases/{id}/attachments/{attachment_id}/withdraw", tag = "attachments", security(("bearer" = [])),
    params(CaseIdParam, ("attachment_id" = Uuid, Path, description = "The attachment's id."), CommandHeaderParams),
    request_body = WithdrawRequest,
    responses((status = 200, description = "Withdrawn; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn withdraw_attachment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    AttachmentPath(id, attachment_id): AttachmentPath,
    input: CommandInput<WithdrawRequest>,
) -> Result<CommandReply, ApiError> {
    let command = Command::WithdrawAttachment {
        attachment_id,
        reason: input.body.reason,
    };
    let outcome = state
        .app
        .execute(&caller, id, command, input.if_match, input.idempotency)
        .await?;
    Ok(CommandReply {
        status: StatusCode::OK,
        body: outcome.into(),
    })
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// `attachment`, with a plain ASCII name made of the id and a `filename*` (RFC 6266, RFC 8187)
/// carrying the real name when the reader may see it.
fn content_disposition(id: Uuid, filename: Option<&str>) -> String {
    let extension = filename
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension)
        .filter(|extension| {
            !extension.is_empty()
                && extension.len() <= 8
                && extension.bytes().all(|byte| byte.is_ascii_alphanumeric())
        });
    let fallback = match extension {
        Some(extension) => format!("attachment-{id}.{extension}"),
        None => format!("attachment-{id}"),
    };
    match filename {
        Some(name) => format!(
            "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
            rfc8187(name)
        ),
        None => format!("attachment; filename=\"{fallback}\""),
    }
}

/// `value` percent-encoded as RFC 8187 asks: every byte but `attr-char` as `%XX`.
fn rfc8187(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsked {
    /// No range this service honours (not bytes, several ranges, or malformed): the whole file.
    Whole,
    /// This part.
    Part(Range<u64>),
    /// A range wholly outside the file.
    Unsatisfiable,
}

fn byte_range(value: &str, size: u64) -> RangeAsked {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsked::Whole;
    };
    if spec.contains(',') {
        return RangeAsked::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsked::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |text: &str| text.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // The last N bytes.
        (true, false) => match parse(last) {
            Some(0) => RangeAsked::Unsatisfiable,
            Some(suffix) if size > 0 => RangeAsked::Part(size.saturating_sub(suffix)..size),
            Some(_) => RangeAsked::Unsatisfiable,
            None => RangeAsked::Whole,
        },
        (false, true) => match parse(first) {
            Some(start) if start < size => RangeAsked::Part(start..size),
            Some(_) => RangeAsked::Unsatisfiable,
            None => RangeAsked::Whole,
        },
        (false, false) => match (parse(first), parse(last)) {
            (Some(start), Some(end)) if start <= end && start < size => {
                RangeAsked::Part(start..end.min(size - 1) + 1)
            }
            (Some(start), Some(end)) if start <= end => RangeAsked::Unsatisfiable,
            _ => RangeAsked::Whole,
        },
        (true, true) => RangeAsked::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(byte_range("bytes=0-99", 1000), RangeAsked::Part(0..100));
        assert_eq!(byte_range("bytes=900-", 1000), RangeAsked::Part(900..1000));
        assert_eq!(byte_range("bytes=-100", 1000), RangeAsked::Part(900..1000));
        assert_eq!(byte_range("bytes=-5000", 1000), RangeAsked::Part(0..1000));
        assert_eq!(
            byte_range("bytes=990-2000", 1000),
            RangeAsked::Part(990..1000)
        );
        assert_eq!(byte_range("bytes=1000-", 1000), RangeAsked::Unsatisfiable);
        assert_eq!(
            byte_range("bytes=1000-1001", 1000),
            RangeAsked::Unsatisfiable
        );
        assert_eq!(byte_range("bytes=-0", 1000), RangeAsked::Unsatisfiable);
        assert_eq!(byte_range("bytes=5-1", 1000), RangeAsked::Whole);
        assert_eq!(byte_range("bytes=0-1,5-6", 1000), RangeAsked::Whole);
        assert_eq!(byte_range("items=0-1", 1000), RangeAsked::Whole);
        assert_eq!(byte_range("bytes=x-1", 1000), RangeAsked::Whole);
    }

    #[test]
    fn names_travel_encoded_beside_a_plain_fallback() {
        let id = Uuid::nil();
        assert_eq!(
            content_disposition(id, Some("工资表 3月.pdf")),
            "attachment; filename=\"attachment-00000000-0000-0000-0000-000000000000.pdf\"; \
             filename*=UTF-8''%E5%B7%A5%E8%B5%84%E8%A1%A8%203%E6%9C%88.pdf"
        );
        assert_eq!(
            content_disposition(id, None),
            "attachment; filename=\"attachment-00000000-0000-0000-0000-000000000000\""
        );
        assert!(!content_disposition(id, Some("a\";b.pdf")).contains("a\";"));
    }
}
