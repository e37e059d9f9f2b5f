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
