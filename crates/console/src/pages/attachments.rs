//! A case's files in the console: uploading one (streamed from the form into the store, never
//! held whole), downloading it as the API serves it to the same person, and withdrawing one
//! with a reason. What is kept and who may read what is the app's
//! (`caseledger_app::attachments`); these handlers read the request, call the app and answer.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use caseledger_app::{AppError, NewAttachment};
use caseledger_domain::{AttachmentId, Command};
use uuid::Uuid;

use super::case::{case_id, run};
use crate::error::ConsoleError;
use crate::forms::{CommandForm, FormError};
use crate::session::{SignedForm, SignedIn};
use crate::state::ConsoleState;
use crate::upload::SignedUpload;

fn attachment_id(text: &str) -> Result<AttachmentId, ConsoleError> {
    Uuid::try_parse(text)
        .map(AttachmentId)
        .map_err(|_| ConsoleError::PageNotFound)
}

/// Whether a checkbox was ticked (`on`, as browsers send it).
fn ticked(value: Option<&String>) -> bool {
    value.is_some_and(|value| matches!(value.as_str(), "on" | "true" | "1"))
}

/// `POST /console/cases/{id}/attachments`: the file of the upload form, `personal` and
/// `shared` as ticked. The same bytes attached already answer as done: the file is there.
pub async fn upload(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    upload: SignedUpload,
) -> Result<Response, ConsoleError> {
    let id = case_id(&id)?;
    let SignedUpload { by, fields, file } = upload;
    let Some((filename, part)) = file else {
        return Err(AppError::Invalid {
            field: "file".into(),
            message: "choose a file to attach".into(),
        }
        .into());
    };
    let new = NewAttachment {
        filename,
        personal: ticked(fields.get("personal")),
        shared: ticked(fields.get("shared")),
        declared_size: None,
    };
    state.app.add_attachment(by.caller(), id, new, part).await?;
    Ok(Redirect::to(&format!(
        "/console/cases/{}?done=attached#attachments",
        id.0
    ))
    .into_response())
}

/// `GET /console/cases/{id}/attachments/{attachment_id}`: the file, to save (never shown in
/// the page's origin: `attachment`, `nosniff`).
pub async fn download(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path((id, attachment)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let id = case_id(&id)?;
    let attachment_id = attachment_id(&attachment)?;
    let file = state
        .app
        .attachment_file(signed_in.caller(), id, attachment_id)
        .await?;
    let size = file.attachment.size;
    let headers = [
        (header::CONTENT_TYPE, file.attachment.content_type.clone()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"attachment-{}\"", attachment_id.0),
        ),
        (header::CONTENT_LENGTH, size.to_string()),
        (header::ETAG, format!("\"{}\"", file.attachment.sha256)),
    ];
    Ok((headers, Body::from_stream(file.read(0..size))).into_response())
}

/// `POST /console/cases/{id}/attachments/{attachment_id}/withdraw`: marks the file not
/// relevant, with the reason typed.
pub async fn withdraw(
    State(state): State<ConsoleState>,
    Path((id, attachment)): Path<(String, String)>,
    form: SignedForm<CommandForm>,
) -> Result<Response, ConsoleError> {
    let id = case_id(&id)?;
    let attachment_id = attachment_id(&attachment)?;
    let reason = form.fields.reason.trim().to_owned();
    let command: Result<Command, Vec<FormError>> = Ok(Command::WithdrawAttachment {
        attachment_id,
        reason,
    });
    let form_name = format!("withdraw-{}", attachment_id.0);
    run(&state, form, id, form_name, "withdrawn", command).await
}
