//! Why a command was refused: [`Rejection`], its field errors and the state [`Rule`]s.
//!
//! This module owns the business rejections only. The domain cannot fail for I/O reasons, so
//! nothing here wraps an I/O error; mapping rejections to HTTP statuses belongs to the API.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One invalid field of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Path of the field, such as `employer.credit_code`, `deadline` or `departments[1]`.
    pub field: String,
    /// What is wrong, in English, without repeating the field name.
    pub message: String,
}

impl FieldError {
    /// Makes a field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.field, self.message)
    }
}

/// Why [`crate::decide::decide`] refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Semantically invalid input (HTTP 422), every bad field at once.
    #[error("invalid input: {}", display_fields(.0))]
    Invalid(Vec<FieldError>),
    /// The actor's role may not do this (HTTP 403).
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why, as a sentence.
        reason: String,
    },
    /// The case (not opened yet) or a letter does not exist (HTTP 404).
    #[error("{what} not found")]
    NotFound {
        /// What is missing: `case` or `letter`.
        what: String,
    },
    /// The command is not allowed in the case's current state (HTTP 409).
    #[error("{rule}: {detail}")]
    Conflict {
        /// The rule that refused it.
        rule: Rule,
        /// What in this case broke the rule.
        detail: String,
    },
}

impl Rejection {
    /// A [`Rejection::Forbidden`] with this reason.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::Forbidden {
            reason: reason.into(),
        }
    }

    /// A [`Rejection::NotFound`] for this kind of thing.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// A [`Rejection::Conflict`] under this rule.
    pub fn conflict(rule: Rule, detail: impl Into<String>) -> Self {
        Self::Conflict {
            rule,
            detail: detail.into(),
        }
    }

    /// A [`Rejection::Invalid`] with a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

fn display_fields(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A rule about the case's state that a command may break (HTTP 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A case is opened once.
    CaseAlreadyOpened,
    /// A closed case takes no further work until reopened.
    CaseClosed,
    /// Only a closed case can be reopened.
    CaseNotClosed,
    /// The letter is a reminder or already answered.
    LetterNotOpen,
    /// The letter's deadline has not passed (or it has none).
    DeadlineNotPassed,
    /// The letter's deadline was already marked missed.
    DeadlineAlreadyMissed,
    /// Escalation only goes up a tier.
    TierNotHigher,
    /// Feedback only on a case shared with the actor's department.
    NotSharedWithDepartment,
    /// An open opinion letter allows closing only as referred or withdrawn.
    OpinionLetterAwaitingAnswer,
    /// A recommendation letter needs an opinion letter the employer did not heed.
    RecommendationNeedsUnheededOpinion,
    /// The complainant's personal data is already erased.
    PersonalDataAlreadyErased,
    /// The case holds no complainant personal data.
    NoPersonalData,
    /// The case is already assigned to that officer.
    AlreadyAssigned,
    /// A letter with that id was already issued on this case.
    LetterAlreadyIssued,
    /// The case holds as many events as the policy allows (`Policy::max_case_events`).
    CaseEventLimitReached,
    /// A letter is served once; its service is recorded already.
    LetterAlreadyServed,
    /// A draft a supervisor sent back is neither approved nor returned again.
    LetterDraftReturned,
    /// The same file (by SHA-256) is attached to the case already.
    AttachmentAlreadyAdded,
    /// An attachment is withdrawn once.
    AttachmentAlreadyWithdrawn,
    /// A case whose personal data is erased takes no new personal files.
    PersonalDataErased,
}

impl Rule {
    /// Every rule.
    pub const ALL: &'static [Self] = &[
        Self::CaseAlreadyOpened,
        Self::CaseClosed,
        Self::CaseNotClosed,
        Self::LetterNotOpen,
        Self::DeadlineNotPassed,
        Self::DeadlineAlreadyMissed,
        Self::TierNotHigher,
        Self::NotSharedWithDepartment,
        Self::OpinionLetterAwaitingAnswer,
        Self::RecommendationNeedsUnheededOpinion,
        Self::PersonalDataAlreadyErased,
        Self::NoPersonalData,
        Self::AlreadyAssigned,
        Self::LetterAlreadyIssued,
        Self::CaseEventLimitReached,
        Self::LetterAlreadyServed,
        Self::LetterDraftReturned,
        Self::AttachmentAlreadyAdded,
        Self::AttachmentAlreadyWithdrawn,
        Self::PersonalDataErased,
    ];

    /// The stable snake_case code, for problem details and clients.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::CaseAlreadyOpened => "case_already_opened",
            Self::CaseClosed => "case_closed",
            Self::CaseNotClosed => "case_not_closed",
            Self::LetterNotOpen => "letter_not_open",
            Self::DeadlineNotPassed => "deadline_not_passed",
            Self::DeadlineAlreadyMissed => "deadline_already_missed",
            Self::TierNotHigher => "tier_not_higher",
            Self::NotSharedWithDepartment => "not_shared_with_department",
            Self::OpinionLetterAwaitingAnswer => "opinion_letter_awaiting_answer",
            Self::RecommendationNeedsUnheededOpinion => "recommendation_needs_unheeded_opinion",
            Self::PersonalDataAlreadyErased => "personal_data_already_erased",
            Self::NoPersonalData => "no_personal_data",
            Self::AlreadyAssigned => "already_assigned",
            Self::LetterAlreadyIssued => "letter_already_issued",
            Self::CaseEventLimitReached => "case_event_limit_reached",
            Self::LetterAlreadyServed => "letter_already_served",
            Self::LetterDraftReturned => "letter_draft_returned",
            Self::AttachmentAlreadyAdded => "attachment_already_added",
            Self::AttachmentAlreadyWithdrawn => "attachment_already_withdrawn",
            Self::PersonalDataErased => "personal_data_erased",
        }
    }

    /// The rule as a sentence.
    pub const fn sentence(&self) -> &'static str {
        match self {
            Self::CaseAlreadyOpened => "a case can be opened only once",
            Self::CaseClosed => "a closed case takes no further work until it is reopened",
            Self::CaseNotClosed => "only a closed case can be reopened",
            Self::LetterNotOpen => {
                "only an opinion or recommendation letter that still awaits its answer can be \
                 answered or marked overdue"
            }
            Self::DeadlineNotPassed => {
                "a letter's deadline can be marked missed only once it has passed"
            }
            Self::DeadlineAlreadyMissed => "a letter's missed deadline is recorded only once",
            Self::TierNotHigher => "escalation through the joint mechanism only goes up a tier",
            Self::NotSharedWithDepartment => {
                "a department may give feedback only on a case shared with it"
            }
            Self::OpinionLetterAwaitingAnswer => {
                "a case with an opinion letter awaiting the employer's answer may only be closed \
                 as referred or withdrawn"
            }
            Self::RecommendationNeedsUnheededOpinion => {
                "a recommendation letter may follow only an opinion letter that the employer \
                 refused, did not act on, or left unanswered past its deadline"
            }
            Self::PersonalDataAlreadyErased => "personal data can be erased only once",
            Self::NoPersonalData => "there must be complainant personal data to erase",
            Self::AlreadyAssigned => {
                "a case can be assigned only to an officer it is not already assigned to"
            }
            Self::LetterAlreadyIssued => "each letter id is issued only once",
            Self::CaseEventLimitReached => {
                "a case holds at most the configured number of events; open a new case for \
                 further work (erasing personal data is always allowed)"
            }
            Self::LetterAlreadyServed => "a letter is served once; its service is recorded",
            Self::LetterDraftReturned => {
                "a draft sent back is final; draft the letter again to have it signed off"
            }
            Self::AttachmentAlreadyAdded => "a file is attached to a case only once",
            Self::AttachmentAlreadyWithdrawn => "an attachment is withdrawn only once",
            Self::PersonalDataErased => {
                "a case whose personal data is erased takes no new personal files"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.sentence())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_codes_match_their_serde_names() {
        for rule in Rule::ALL {
            let json = serde_json::to_string(rule).expect("a rule serialises");
            assert_eq!(json, format!("\"{}\"", rule.code()));
        }
    }

    #[test]
    fn rejections_display_as_sentences() {
        let rejection = Rejection::Invalid(vec![
            FieldError::new("title", "must not be empty"),
            FieldError::new("departments[1]", "unknown department 'x'"),
        ]);
        assert_eq!(
            rejection.to_string(),
            "invalid input: title: must not be empty; departments[1]: unknown department 'x'"
        );
        assert_eq!(
            Rejection::conflict(Rule::CaseClosed, "closed on 2026-11-29").to_string(),
            "a closed case takes no further work until it is reopened: closed on 2026-11-29"
        );
        assert_eq!(
            Rejection::not_found("letter").to_string(),
            "letter not found"
        );
    }
}
