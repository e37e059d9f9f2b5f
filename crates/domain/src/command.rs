//! What a caller asks of a case: [`Command`], who asks ([`Actor`]) and under which clock and
//! configuration ([`Context`]).
//!
//! This module owns the command shapes and the validation of a complainant's details before the
//! app seals them. It does not decide anything (that is [`crate::decide()`]) and it never sees a
//! complainant's details in clear inside a command: those arrive sealed by the app.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, OfficeDays};
use crate::checks::check_resident_id;
use crate::error::FieldError;
use crate::ids::{AttachmentId, LetterId};
use crate::limits;
use crate::policy::{Department, Policy};
use crate::vocab::{Category, LetterKind, Outcome, Role, ServiceMethod, Source, Tier};

/// Who runs a command. Names are kept out of the domain events; the app records the actor in
/// the event envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The actor's display name (an officer's name, `system` for the deadline watcher).
    pub name: String,
    /// What the actor may do.
    pub role: Role,
    /// The partner department of a `partner` actor.
    pub department: Option<Department>,
}

/// Everything a decision depends on besides the case and the command.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The current time, for deadlines.
    pub now: DateTime<Utc>,
    /// Today's date, for birth-date checks; the app passes `now`'s date.
    pub today: NaiveDate,
    /// Who runs the command.
    pub actor: &'a Actor,
    /// The configuration in force.
    pub policy: &'a Policy,
    /// The official working-day calendar, for deadlines in working days.
    pub calendar: &'a Calendar,
    /// The office's days (its `--timezone`): on which date a service falls, when a last day
    /// ends.
    pub office_days: &'a dyn OfficeDays,
}

/// A complainant's personal data as ciphertext, sealed by the app with the case's key.
///
/// Serialises as `{"sealed":"<base64>"}`; the domain never looks inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedPersonalData {
    /// The opaque ciphertext.
    pub sealed: String,
}

/// An attached file's name as recorded: in clear, or — for a file marked personal — sealed with
/// the case's personal-data key (a file name often names the worker), so that erasure takes
/// it too and auditors and partners never read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FileName {
    /// The name in clear.
    Plain(String),
    /// The name sealed by the app.
    Sealed(SealedPersonalData),
}

/// The employer named when a case is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmployerInput {
    /// The employer's name.
    pub name: String,
    /// Its unified social credit code, if known.
    pub credit_code: Option<String>,
    /// Asks to keep a credit code that fails its check (supervisors and admins only).
    pub credit_code_unverified: bool,
}

/// A complainant's details in clear, as the app receives them, before sealing.
///
/// `Debug` redacts every field, so these details cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplainantInput {
    /// Full name.
    pub name: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Resident identity number (GB 11643-1999).
    pub id_number: Option<String>,
}

impl fmt::Debug for ComplainantInput {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| if present { "<redacted>" } else { "<none>" };
        formatter
            .debug_struct("ComplainantInput")
            .field("name", &"<redacted>")
            .field("phone", &redacted(self.phone.is_some()))
            .field("id_number", &redacted(self.id_number.is_some()))
            .finish()
    }
}

impl ComplainantInput {
    /// Validates and normalises the details: a non-empty name of at most 100 characters, a
    /// phone number of 3–32 digits, spaces, `+`, `-` and parentheses, and a resident ID that
    /// passes [`check_resident_id`]. Blank optional fields become `None`. Every bad field is
    /// reported, as `complainant.name`, `complainant.phone` or `complainant.id_number`.
    pub fn validate(&self, today: NaiveDate) -> Result<ComplainantInput, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.push(FieldError::new("complainant.name", "must not be empty"));
        } else if let Some(message) = limits::too_long(name, limits::COMPLAINANT_NAME_MAX) {
            errors.push(FieldError::new("complainant.name", message));
        } else if name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "complainant.name",
                "must not contain control characters",
            ));
        }

        let phone = blank_to_none(self.phone.as_deref());
        if let Some(phone) = phone {
            let length = phone.chars().count();
            let allowed = |character: char| {
                character.is_ascii_digit() || matches!(character, ' ' | '+' | '-' | '(' | ')')
            };
            if !(limits::PHONE_MIN..=limits::PHONE_MAX).contains(&length) {
                errors.push(FieldError::new(
                    "complainant.phone",
                    format!(
                        "must be {} to {} characters long, found {length}",
                        limits::PHONE_MIN,
                        limits::PHONE_MAX
                    ),
                ));
            } else if !phone.chars().all(allowed) {
                errors.push(FieldError::new(
                    "complainant.phone",
                    "may contain only digits, spaces, '+', '-' and parentheses",
                ));
            }
        }

        let id_number = match blank_to_none(self.id_number.as_deref()) {
            None => None,
            Some(id_number) => match check_resident_id(id_number, today) {
                Ok(normalized) => Some(normalized),
                Err(error) => {
                    errors.push(FieldError::new("complainant.id_number", error.to_string()));
                    None
                }
            },
        };

        if errors.is_empty() {
            Ok(ComplainantInput {
                name: name.to_owned(),
                phone: phone.map(str::to_owned),
                id_number,
            })
        } else {
            Err(errors)
        }
    }
}

fn blank_to_none(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|value| !value.is_empty())
}

/// A request to change a case. Each accepted command yields exactly one event.
///
/// Texts are trimmed by [`crate::decide::decide`]; blank optional texts count as absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Command {
    /// Open a new case (`CaseOpened`).
    OpenCase {
        /// Short title, at most 200 characters.
        title: String,
        /// What the case is about.
        category: Category,
        /// Full description, at most 20,000 characters.
        description: String,
        /// How the case reached the union.
        source: Source,
        /// The employer concerned.
        employer: EmployerInput,
        /// Administrative region, at most 100 characters.
        region: Option<String>,
        /// Industry, at most 100 characters.
        industry: Option<String>,
        /// How many workers are affected, at most 10,000,000.
        workers_affected: Option<u32>,
        /// The complainant's details, sealed by the app.
        complainant: Option<SealedPersonalData>,
    },
    /// Assign the case to an officer (`OfficerAssigned`).
    AssignOfficer {
        /// The officer's name.
        officer: String,
    },
    /// Record a finding of the investigation (`FindingRecorded`).
    RecordFinding {
        /// What was found.
        summary: String,
        /// The hazard involved, if any.
        hazard: Option<String>,
    },
    /// Issue a supervision letter (`SupervisionLetterIssued`).
    IssueLetter {
        /// The new letter's id, made by the app.
        letter_id: LetterId,
        /// The letter number, allocated by the app (see [`crate::policy::NumberTemplate`]).
        number: String,
        /// Reminder, opinion or recommendation.
        kind: LetterKind,
        /// To whom the letter goes.
        recipient: String,
        /// The letter's text.
        content: String,
        /// When the answer is due; `None` takes the policy's default for the kind.
        deadline: Option<DateTime<Utc>>,
        /// The government department a recommendation letter goes to (recommendations only).
        department: Option<Department>,
    },
    /// Record the answer to an open letter (`LetterAnswered`).
    AnswerLetter {
        /// Which letter.
        letter_id: LetterId,
        /// Whether the violation was corrected.
        rectified: bool,
        /// The answer's text.
        content: String,
    },
    /// Record that an open letter's deadline passed unanswered (`LetterDeadlineMissed`); run by
    /// the deadline watcher.
    MarkDeadlineMissed {
        /// Which letter.
        letter_id: LetterId,
    },
    /// Escalate to a tier of the joint mechanism (`EscalatedToJointMechanism`).
    Escalate {
        /// The new tier, higher than the current one.
        tier: Tier,
        /// Participating departments; `None` takes the tier's configured members.
        departments: Option<Vec<Department>>,
        /// Why.
        reason: String,
    },
    /// Refer the case to a partner department (`ReferredToDepartment`).
    Refer {
        /// The department.
        department: Department,
        /// Why.
        reason: String,
    },
    /// Record a partner department's feedback (`DepartmentFeedbackRecorded`); the department is
    /// the actor's.
    RecordFeedback {
        /// The feedback.
        content: String,
        /// The department's outcome, in its own words.
        outcome: Option<String>,
    },
    /// Add a note (`NoteAdded`).
    AddNote {
        /// The note.
        text: String,
    },
    /// Close the case (`CaseClosed`).
    Close {
        /// How the case ended.
        outcome: Outcome,
        /// Closing summary.
        summary: String,
    },
    /// Reopen a closed case (`CaseReopened`).
    Reopen {
        /// Why.
        reason: String,
    },
    /// Erase the complainant's personal data (`PersonalDataErased`); the app destroys the key.
    ErasePersonalData,
    /// Record that a letter was served (`LetterServed`); a deadline counted from service
    /// starts on the office's date of `served_at`.
    ServeLetter {
        /// Which letter.
        letter_id: LetterId,
        /// How.
        method: ServiceMethod,
        /// When; not in the future, not before the letter was issued.
        served_at: DateTime<Utc>,
        /// Who received it.
        received_by: Option<String>,
        /// Whether the recipient refused it.
        refused: bool,
        /// The postal tracking number.
        tracking_number: Option<String>,
        /// The case's attachment holding the receipt of service, when there is one.
        receipt_attachment_id: Option<AttachmentId>,
    },
    /// Record a follow-up visit on a letter (`FollowUpRecorded`).
    RecordFollowUp {
        /// Which letter.
        letter_id: LetterId,
        /// When the visit took place; not in the future, not before the letter was issued.
        visited_at: DateTime<Utc>,
        /// What it found.
        findings: String,
        /// Whether the violation was found corrected.
        rectified: bool,
    },
    /// Sign off a drafted letter (`LetterApproved`): supervisors and admins.
    ApproveLetter {
        /// Which draft.
        letter_id: LetterId,
        /// Its number; allocated by the app once the approval is known to be acceptable.
        number: String,
    },
    /// Send a drafted letter back (`LetterReturned`): supervisors and admins.
    ReturnLetter {
        /// Which draft.
        letter_id: LetterId,
        /// Why.
        reason: String,
    },
    /// Attach a file whose bytes the app has stored (`AttachmentAdded`).
    AddAttachment {
        /// The new attachment's id, made by the app (it names the stored bytes).
        attachment_id: AttachmentId,
        /// The file's name (sealed by the app when `personal`).
        filename: FileName,
        /// The media type detected from the bytes.
        content_type: String,
        /// The size in bytes.
        size: u64,
        /// The SHA-256 of the bytes, lowercase hex.
        sha256: String,
        /// Whether the file holds personal data.
        personal: bool,
        /// Whether partner departments may read it (when not personal).
        shared: bool,
    },
    /// Mark an attachment as not relevant (`AttachmentWithdrawn`).
    WithdrawAttachment {
        /// Which attachment.
        attachment_id: AttachmentId,
        /// Why.
        reason: String,
    },
}

impl Command {
    /// Every command name, in declaration order.
    pub const NAMES: &'static [&'static str] = &[
        "OpenCase",
        "AssignOfficer",
        "RecordFinding",
        "IssueLetter",
        "AnswerLetter",
        "MarkDeadlineMissed",
        "Escalate",
        "Refer",
        "RecordFeedback",
        "AddNote",
        "Close",
        "Reopen",
        "ErasePersonalData",
        "ServeLetter",
        "RecordFollowUp",
        "ApproveLetter",
        "ReturnLetter",
        "AddAttachment",
        "WithdrawAttachment",
    ];

    /// The command's name, e.g. `IssueLetter`, for logs and metrics.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::OpenCase { .. } => "OpenCase",
            Self::AssignOfficer { .. } => "AssignOfficer",
            Self::RecordFinding { .. } => "RecordFinding",
            Self::IssueLetter { .. } => "IssueLetter",
            Self::AnswerLetter { .. } => "AnswerLetter",
            Self::MarkDeadlineMissed { .. } => "MarkDeadlineMissed",
            Self::Escalate { .. } => "Escalate",
            Self::Refer { .. } => "Refer",
            Self::RecordFeedback { .. } => "RecordFeedback",
            Self::AddNote { .. } => "AddNote",
            Self::Close { .. } => "Close",
            Self::Reopen { .. } => "Reopen",
            Self::ErasePersonalData => "ErasePersonalData",
            Self::ServeLetter { .. } => "ServeLetter",
            Self::RecordFollowUp { .. } => "RecordFollowUp",
            Self::ApproveLetter { .. } => "ApproveLetter",
            Self::ReturnLetter { .. } => "ReturnLetter",
            Self::AddAttachment { .. } => "AddAttachment",
            Self::WithdrawAttachment { .. } => "WithdrawAttachment",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).expect("a real date")
    }

    #[test]
    fn complainant_is_normalised() {
        let input = ComplainantInput {
            name: "  Li Wei ".to_owned(),
            phone: Some(" +86 (138) 0000-0000 ".to_owned()),
            id_number: Some(" ".to_owned()),
        };
        assert_eq!(
            input.validate(today()),
            Ok(ComplainantInput {
                name: "Li Wei".to_owned(),
                phone: Some("+86 (138) 0000-0000".to_owned()),
                id_number: None,
            })
        );
    }

    #[test]
    fn every_bad_complainant_field_is_reported() {
        let input = ComplainantInput {
            name: " ".to_owned(),
            phone: Some("12".to_owned()),
            id_number: Some("110105194912310021".to_owned()),
        };
        let errors = input.validate(today()).expect_err("three bad fields");
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "complainant.name",
                "complainant.phone",
                "complainant.id_number"
            ]
        );
        assert_eq!(
            errors[2].message,
            "check character is '1' but should be 'X'"
        );

        let input = ComplainantInput {
            name: "x".repeat(101),
            phone: Some("138 0000 000#".to_owned()),
            id_number: None,
        };
        assert_eq!(
            input.validate(today()).map_err(|errors| errors.len()),
            Err(2)
        );
    }

    #[test]
    fn complainant_debug_redacts_personal_data() {
        let input = ComplainantInput {
            name: "Li Wei".to_owned(),
            phone: Some("13800000000".to_owned()),
            id_number: None,
        };
        let debug = format!("{input:?}");
        assert!(!debug.contains("Li Wei"));
        assert!(!debug.contains("13800000000"));
    }

    #[test]
    fn command_names_are_listed() {
        assert_eq!(Command::ErasePersonalData.name(), "ErasePersonalData");
        assert_eq!(Command::NAMES.len(), 19);
    }
}
