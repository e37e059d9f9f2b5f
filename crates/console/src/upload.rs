//! A file posted from a console form (`multipart/form-data`), read as a stream: [`SignedUpload`]
//! checks the origin, the session and the form's token — which the form sends before the file,
//! as a page's hidden fields come first — and hands over the few small fields and the file
//! part itself, unread, for the app to stream into the store. A file that comes before the
//! token is refused as a forged form: nothing of it is read.

use std::collections::BTreeMap;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header;
use caseledger_app::form_token_matches;

use crate::error::ConsoleError;
use crate::security::check_origin;
use crate::session::{cookie, SignedIn, SESSION_COOKIE};
use crate::state::ConsoleState;

/// The name of the file's part.
pub const FILE_FIELD: &str = "file";

/// The most small fields read before the file, and the longest of each.
const MAX_FIELDS: usize = 16;
const MAX_FIELD_BYTES: usize = 1024;

/// A file form posted by a person signed in, its token checked.
pub struct SignedUpload {
    /// Who posted it.
    pub by: SignedIn,
    /// The fields before the file (its token left out).
    pub fields: BTreeMap<String, String>,
    /// The file's name as the browser sent it, and its part, unread; `None` when the form held
    /// no file (or an empty file input).
    pub file: Option<(String, multer::Field<'static>)>,
}

impl std::fmt::Debug for SignedUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedUpload")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("file", &self.file.is_some())
            .finish_non_exhaustive()
    }
}

impl<S> FromRequest<S> for SignedUpload
where
    ConsoleState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let console = ConsoleState::from_ref(state);
        let (mut parts, body) = request.into_parts();
        check_origin(&parts.headers, &console.config)?;
        let boundary = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| multer::parse_boundary(value).ok())
            .ok_or(ConsoleError::BadForm)?;
        let by = SignedIn::from_request_parts(&mut parts, state).await?;
        let secret = cookie(&parts.headers, SESSION_COOKIE)
            .unwrap_or_default()
            .to_owned();
        let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
        let mut token = None;
        let mut fields = BTreeMap::new();
        let mut file = None;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|_| ConsoleError::BadForm)?
        {
            let name = field.name().unwrap_or_default().to_owned();
            if name == FILE_FIELD {
                if token.is_none() {
                    return Err(ConsoleError::ForgedForm);
                }
                let filename = field.file_name().unwrap_or_default().to_owned();
                if !filename.is_empty() {
                    file = Some((filename, field));
                }
                break;
            }
            if fields.len() >= MAX_FIELDS {
                return Err(ConsoleError::FormTooLarge);
            }
            let value = small_text(field).await?;
            if name == "_form_token" {
                token = Some(value);
            } else {
                fields.insert(name, value);
            }
        }
        let token = token.unwrap_or_default();
        if secret.is_empty() || !form_token_matches(&secret, &token) {
            return Err(ConsoleError::ForgedForm);
        }
        Ok(SignedUpload { by, fields, file })
    }
}

/// A small field's text, refused beyond [`MAX_FIELD_BYTES`].
async fn small_text(mut field: multer::Field<'static>) -> Result<String, ConsoleError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| ConsoleError::BadForm)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_FIELD_BYTES {
            return Err(ConsoleError::FormTooLarge);
        }
    }
    String::from_utf8(bytes).map_err(|_| ConsoleError::BadForm)
}
