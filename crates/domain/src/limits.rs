//! Length limits of command fields, counted in characters (not bytes).
//!
//! This module owns the numbers, so the API can document them; applying them is
//! [`crate::decide()`]'s job.

/// Longest case title.
pub const TITLE_MAX: usize = 200;
/// Longest long text: description, letter content, summaries, reasons, notes, feedback.
pub const TEXT_MAX: usize = 20_000;
/// Longest name: employer, officer, letter recipient.
pub const NAME_MAX: usize = 200;
/// Longest region or industry.
pub const REGION_MAX: usize = 100;
/// Longest hazard of a finding, and longest outcome of a department's feedback.
pub const SHORT_TEXT_MAX: usize = 1_000;
/// Longest letter number.
pub const LETTER_NUMBER_MAX: usize = 64;
/// Longest sealed personal-data ciphertext.
pub const SEALED_MAX: usize = 100_000;
/// Longest credit code a supervisor may keep although it fails its check.
pub const UNVERIFIED_CREDIT_CODE_MAX: usize = 32;
/// Most workers a case may say are affected.
pub const WORKERS_AFFECTED_MAX: u32 = 10_000_000;
/// Longest attachment file name.
pub const FILE_NAME_MAX: usize = 255;
/// Longest detected content type of an attachment.
pub const CONTENT_TYPE_MAX: usize = 100;
/// Longest complainant name.
pub const COMPLAINANT_NAME_MAX: usize = 100;
/// Shortest complainant phone number.
pub const PHONE_MIN: usize = 3;
/// Longest complainant phone number.
pub const PHONE_MAX: usize = 32;

/// The default of [`crate::Policy::max_case_events`]: the most events one case holds. The
/// number in force is configuration (`--max-case-events`); this is only its default.
pub const DEFAULT_MAX_CASE_EVENTS: u64 = 10_000;

/// The message for a text longer than `max` characters, or `None` when it fits.
pub(crate) fn too_long(text: &str, max: usize) -> Option<String> {
    let length = text.chars().count();
    (length > max).then(|| format!("must be at most {max} characters, found {length}"))
}

/// Why `name` cannot name an attached file, or `None` when it can: not empty, one line, at most
/// [`FILE_NAME_MAX`] characters, no control characters, no path (`/`, `\\`) and not `.` or `..`.
/// The app checks a personal file's name with this before sealing it; [`crate::decide()`]
/// checks every name in clear.
pub fn file_name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("must not be empty".into());
    }
    if let Some(message) = too_long(name, FILE_NAME_MAX) {
        return Some(message);
    }
    if name.chars().any(char::is_control) {
        return Some("must not contain control characters or line breaks".into());
    }
    if name.contains(['/', '\\']) {
        return Some("must be a file name without a path (no '/' or '\\')".into());
    }
    if name == "." || name == ".." {
        return Some("must be a file name, not '.' or '..'".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_one_plain_name() {
        assert_eq!(file_name_problem("工资表 2026-03.pdf"), None);
        for bad in ["", "  ", "a/b.pdf", "..\\x", "..", "a\nb", "a\u{0}b"] {
            assert!(file_name_problem(bad).is_some(), "{bad:?} is refused");
        }
        assert!(file_name_problem(&"名".repeat(FILE_NAME_MAX)).is_none());
        assert!(file_name_problem(&"名".repeat(FILE_NAME_MAX + 1)).is_some());
    }
}
