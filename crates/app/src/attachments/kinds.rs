//! What files the service takes: the size limit and the media types, detected from a file's
//! first bytes with `infer` (never from its name or the uploader's `Content-Type`).

/// The default of [`AttachmentLimits::max_bytes`]: 25 MiB.
pub const DEFAULT_ATTACHMENT_MAX: u64 = 25 * 1024 * 1024;

/// The media types taken by default: PDF, JPEG, PNG, WebP, HEIC (`image/heif`, as `infer`
/// names it), DOCX, XLSX, ODT and plain text.
pub const DEFAULT_ACCEPTED_TYPES: &[&str] = &[
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heif",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "text/plain",
];

/// The media type of plain text, which `infer` does not detect (text has no magic number).
pub const PLAIN_TEXT: &str = "text/plain";

/// Which files the service takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// The most bytes one file may have (`--attachment-max`).
    pub max_bytes: u64,
    /// The media types taken (`[attachments] accepted_types`).
    pub accepted: Vec<String>,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits {
            max_bytes: DEFAULT_ATTACHMENT_MAX,
            accepted: DEFAULT_ACCEPTED_TYPES
                .iter()
                .map(|kind| (*kind).to_owned())
                .collect(),
        }
    }
}

impl AttachmentLimits {
    /// Whether files of `media_type` are taken.
    pub fn accepts(&self, media_type: &str) -> bool {
        self.accepted.iter().any(|accepted| accepted == media_type)
    }
}

/// The media type of a file that begins with `head` (its first bytes, as many as there are up
/// to one chunk): what `infer` recognises, else plain text when the bytes are UTF-8 text, else
/// none.
pub fn detect(head: &[u8]) -> Option<String> {
    if let Some(kind) = infer::get(head) {
        return Some(kind.mime_type().to_owned());
    }
    is_text(head).then(|| PLAIN_TEXT.to_owned())
}

/// Whether `head` reads as UTF-8 text without control characters other than tab, line breaks
/// and form feed; a character cut at the end of `head` is allowed.
fn is_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return false;
    }
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // Cut inside a character at the end: the valid part must be all but those bytes.
        Err(error) if error.error_len().is_none() && head.len() - error.valid_up_to() < 4 => {
            match std::str::from_utf8(&head[..error.valid_up_to()]) {
                Ok(text) => text,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    text.chars().all(|character| {
        !character.is_control() || matches!(character, '\t' | '\n' | '\r' | '\u{c}')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(
            detect(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj").as_deref(),
            Some("application/pdf")
        );
        assert_eq!(
            detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").as_deref(),
            Some("image/png")
        );
        assert_eq!(
            detect("工资表\t三月\r\n张三\t4200\n".as_bytes()).as_deref(),
            Some(PLAIN_TEXT)
        );
        // An executable says so, whatever its name.
        let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
        elf.resize(64, 0);
        let detected = detect(&elf);
        assert!(detected.is_some());
        assert!(!AttachmentLimits::default().accepts(detected.as_deref().unwrap_or_default()));
        assert_eq!(
            detect(b"MZ\x90\0\x03\0\0\0").as_deref(),
            Some("application/vnd.microsoft.portable-executable")
        );
        assert_eq!(detect(b"\0\x01\x02binary"), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn text_cut_inside_a_character_is_still_text() {
        let text = "劳动合同".as_bytes();
        assert!(is_text(&text[..text.len() - 1]));
        assert!(!is_text(b"\xff\xfe"));
    }
}
