//! What the console's case forms post, and how it becomes the app's input: one struct per form
//! (field names are the domain's field paths, so a refusal lands beside its field), the reading
//! of vocabulary values, dates in the office's zone, and [`FormError`] — a field error with the
//! catalog key that tells it in an officer's words.
//!
//! Reading a form decides nothing: a value that is not a choice the form offered, or a date
//! that is not a date, is a field error; every rule is the domain's.

use std::str::FromStr;

use axum::http::StatusCode;
use caseledger_app::{AppError, OpenCase};
use caseledger_domain::{
    Category, Command, ComplainantInput, Department, EmployerInput, FieldError, LetterId,
    LetterKind, Outcome, Rejection, ServiceMethod, Source, Tier,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A field error as a page shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FormError {
    /// The field's name in the form (the domain's path, such as `employer.credit_code`).
    pub field: String,
    /// The catalog key that says what is wrong, where one does.
    pub key: Option<&'static str>,
    /// The service's own words (English), shown when no key does.
    pub message: String,
}

impl FormError {
    /// An error of this form, told by `key`.
    pub fn keyed(field: &str, key: &'static str) -> FormError {
        FormError {
            field: field.to_owned(),
            key: Some(key),
            message: String::new(),
        }
    }
}

/// The catalog key of a domain field error's message, where one fits.
fn message_key(message: &str) -> Option<&'static str> {
    let key = if message == "must not be empty" {
        "error-empty"
    } else if message.starts_with("must be in the future") {
        "error-future"
    } else if message.starts_with("must not be in the future") {
        "error-not-future"
    } else if message.starts_with("must not be before letter") {
        "error-before-letter"
    } else if message.starts_with("must be at most") {
        "error-too-long"
    } else if message.starts_with("must be a single line") {
        "error-single-line"
    } else if message.starts_with("must not contain control characters") {
        "error-control-characters"
    } else if message.contains("check character") {
        "error-check-character"
    } else if message.starts_with("must be 18 characters") {
        "error-length-18"
    } else if message.starts_with("unknown department") {
        "error-unknown-department"
    } else if message.contains("recommendation letter must name") {
        "error-recommendation-department"
    } else {
        return None;
    };
    Some(key)
}

/// The domain's field errors as a page shows them.
pub fn form_errors(errors: &[FieldError]) -> Vec<FormError> {
    errors
        .iter()
        .map(|error| FormError {
            field: error.field.clone(),
            key: message_key(&error.message),
            message: error.message.clone(),
        })
        .collect()
}

/// A form the service refused in a way the page shows beside the form, with what was typed:
/// bad fields, a rule of the case's state, a stale version, a key posted again with other
/// fields. Every other error is a problem page.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The page's status.
    pub status: StatusCode,
    /// Errors beside their fields.
    pub errors: Vec<FormError>,
    /// A message above the form (catalog key).
    pub alert_key: Option<String>,
    /// Whether the case had moved on since the form was shown.
    pub stale: bool,
}

impl Refusal {
    /// Errors found reading the form, before the service was asked.
    pub fn unread(errors: Vec<FormError>) -> Refusal {
        Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            alert_key: None,
            stale: false,
        }
    }

    /// How the page shows `error`, or `error` back when a problem page tells it.
    pub fn of(error: AppError) -> Result<Refusal, AppError> {
        let alert = |status, key: String, stale| Refusal {
            status,
            errors: Vec::new(),
            alert_key: Some(key),
            stale,
        };
        Ok(match error {
            AppError::Rejected(Rejection::Invalid(errors)) => Refusal::unread(form_errors(&errors)),
            AppError::Invalid { field, message } => {
                Refusal::unread(form_errors(&[FieldError::new(field, message)]))
            }
            AppError::Rejected(Rejection::Conflict { rule, .. }) => {
                alert(StatusCode::CONFLICT, format!("rule-{}", rule.code()), false)
            }
            AppError::PreconditionFailed { .. } => {
                alert(StatusCode::CONFLICT, "problem-stale".into(), true)
            }
            AppError::IdempotencyKeyReused => alert(
                StatusCode::UNPROCESSABLE_ENTITY,
                "problem-resubmitted".into(),
                false,
            ),
            other => return Err(other),
        })
    }
}

/// Collects the errors of reading a form.
#[derive(Debug, Default)]
pub struct Reading {
    /// What failed so far.
    pub errors: Vec<FormError>,
}

impl Reading {
    /// A vocabulary value the form offered as a choice.
    pub fn choice<T: FromStr>(&mut self, field: &str, text: &str) -> Option<T> {
        let text = text.trim();
        if text.is_empty() {
            self.errors.push(FormError::keyed(field, "error-choose"));
            return None;
        }
        match text.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.errors.push(FormError::keyed(field, "error-choose"));
                None
            }
        }
    }

    /// An optional department.
    pub fn department(&mut self, field: &str, text: &str) -> Option<Department> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        match Department::new(text) {
            Ok(department) => Some(department),
            Err(_) => {
                self.errors
                    .push(FormError::keyed(field, "error-unknown-department"));
                None
            }
        }
    }

    /// An optional whole number.
    pub fn number(&mut self, field: &str, text: &str) -> Option<u32> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        match text.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.errors.push(FormError::keyed(field, "error-number"));
                None
            }
        }
    }

    /// An optional local date and time (`YYYY-MM-DDTHH:MM`, as a `datetime-local` field sends
    /// it) in the office's zone.
    pub fn local_time(
        &mut self,
        field: &str,
        text: &str,
        zone: chrono_tz::Tz,
    ) -> Option<DateTime<Utc>> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
            .ok()
            .and_then(|local| zone.from_local_datetime(&local).earliest());
        match parsed {
            Some(time) => Some(time.with_timezone(&Utc)),
            None => {
                self.errors.push(FormError::keyed(field, "error-date-time"));
                None
            }
        }
    }

    /// A required local date and time, as [`Reading::local_time`] reads it.
    pub fn required_local_time(
        &mut self,
        field: &str,
        text: &str,
        zone: chrono_tz::Tz,
    ) -> Option<DateTime<Utc>> {
        if text.trim().is_empty() {
            self.errors.push(FormError::keyed(field, "error-empty"));
            return None;
        }
        self.local_time(field, text, zone)
    }

    /// A yes-or-no question answered with radio buttons valued `yes` and `no`.
    pub fn yes_or_no(&mut self, field: &str, text: &str) -> Option<bool> {
        match text {
            "yes" => Some(true),
            "no" => Some(false),
            _ => {
                self.errors.push(FormError::keyed(field, "error-choose"));
                None
            }
        }
    }

    /// An optional date (`YYYY-MM-DD`); `next_day` gives the start of the day after it (for an
    /// "until" that includes the day), else the start of the day, in the office's zone.
    pub fn local_day(
        &mut self,
        field: &str,
        text: &str,
        zone: chrono_tz::Tz,
        next_day: bool,
    ) -> Option<DateTime<Utc>> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|day| if next_day { day.succ_opt() } else { Some(day) })
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .and_then(|start| zone.from_local_datetime(&start).earliest());
        match parsed {
            Some(time) => Some(time.with_timezone(&Utc)),
            None => {
                self.errors.push(FormError::keyed(field, "error-date"));
                None
            }
        }
    }

    /// `value` when nothing failed.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Vec<FormError>> {
        if self.errors.is_empty() {
            value().ok_or_else(Vec::new)
        } else {
            Err(self.errors)
        }
    }
}

/// Text left empty as `None`.
fn optional(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The open-case form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct OpenCaseForm {
    pub title: String,
    pub category: String,
    pub description: String,
    pub source: String,
    #[serde(rename = "employer.name")]
    pub employer_name: String,
    #[serde(rename = "employer.credit_code")]
    pub employer_credit_code: String,
    #[serde(rename = "employer.credit_code_unverified")]
    pub employer_credit_code_unverified: String,
    pub region: String,
    pub industry: String,
    pub workers_affected: String,
    #[serde(rename = "complainant.name")]
    pub complainant_name: String,
    #[serde(rename = "complainant.phone")]
    pub complainant_phone: String,
    #[serde(rename = "complainant.id_number")]
    pub complainant_id_number: String,
    pub idempotency_key: String,
}

impl OpenCaseForm {
    /// The app's input, and the errors of reading it: where a choice or a number could not be
    /// read, the input holds a stand-in (`other`, none), so that the service can still check
    /// every other field and the form shows every error at once.
    pub fn read(&self) -> (OpenCase, Vec<FormError>) {
        let mut reading = Reading::default();
        let category = reading.choice::<Category>("category", &self.category);
        let source = reading.choice::<Source>("source", &self.source);
        let workers_affected = reading.number("workers_affected", &self.workers_affected);
        let complainant_given = [
            &self.complainant_name,
            &self.complainant_phone,
            &self.complainant_id_number,
        ]
        .iter()
        .any(|text| !text.trim().is_empty());
        let input = OpenCase {
            title: self.title.trim().to_owned(),
            category: category.unwrap_or(Category::Other),
            description: self.description.trim().to_owned(),
            source: source.unwrap_or(Source::Other),
            employer: EmployerInput {
                name: self.employer_name.trim().to_owned(),
                credit_code: optional(&self.employer_credit_code),
                credit_code_unverified: !self.employer_credit_code_unverified.is_empty(),
            },
            region: optional(&self.region),
            industry: optional(&self.industry),
            workers_affected,
            // A name is needed once any detail is given; the domain says so beside it.
            complainant: complainant_given.then(|| ComplainantInput {
                name: self.complainant_name.trim().to_owned(),
                phone: optional(&self.complainant_phone),
                id_number: optional(&self.complainant_id_number),
            }),
        };
        (input, reading.errors)
    }
}

/// A case command form, as posted. Every one carries the version of the case it was shown
/// with and the idempotency key of this rendering of the form; the rest are the fields of the
/// command it asks for (each form sends its own).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CommandForm {
    /// The case's version when the form was shown.
    pub version: u64,
    /// A key made when the form was rendered: posting it twice runs the command once.
    pub idempotency_key: String,
    pub officer: String,
    pub summary: String,
    pub hazard: String,
    pub kind: String,
    pub recipient: String,
    pub content: String,
    pub deadline: String,
    pub department: String,
    pub rectified: String,
    pub tier: String,
    pub departments: Vec<String>,
    pub reason: String,
    pub text: String,
    pub outcome: String,
    pub method: String,
    pub served_at: String,
    pub received_by: String,
    /// A ticked box: any value means yes.
    pub refused: String,
    pub tracking_number: String,
    /// The attachment holding the receipt of service (empty: none).
    pub receipt_attachment_id: String,
    pub visited_at: String,
    pub findings: String,
}

/// The commands a case page offers as forms, by the name of their path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandName {
    Assign,
    Findings,
    Letters,
    Escalate,
    Refer,
    Feedback,
    Notes,
    Close,
    Reopen,
}

impl FromStr for CommandName {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "assign" => CommandName::Assign,
            "findings" => CommandName::Findings,
            "letters" => CommandName::Letters,
            "escalate" => CommandName::Escalate,
            "refer" => CommandName::Refer,
            "feedback" => CommandName::Feedback,
            "notes" => CommandName::Notes,
            "close" => CommandName::Close,
            "reopen" => CommandName::Reopen,
            _ => return Err(()),
        })
    }
}

/// The commands on one letter (or a draft of one), by the last part of their path
/// (`/console/cases/{id}/letters/{letter_id}/{name}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetterCommandName {
    /// The employer's or department's answer.
    Answer,
    /// Its service (送达).
    Service,
    /// A follow-up visit (回访).
    FollowUp,
    /// A supervisor's sign-off of a draft.
    Approve,
    /// A supervisor sending a draft back.
    Return,
}

impl LetterCommandName {
    /// The name of its form on the page (and of the message that it is done), before the
    /// letter's id: `answer`, `service`, `follow_up`.
    pub const fn form(self) -> &'static str {
        match self {
            LetterCommandName::Answer => "answer",
            LetterCommandName::Service => "service",
            LetterCommandName::FollowUp => "follow_up",
            LetterCommandName::Approve => "approve",
            LetterCommandName::Return => "return",
        }
    }
}

impl FromStr for LetterCommandName {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "response" => LetterCommandName::Answer,
            "service" => LetterCommandName::Service,
            "follow-up" => LetterCommandName::FollowUp,
            "approve" => LetterCommandName::Approve,
            "return" => LetterCommandName::Return,
            _ => return Err(()),
        })
    }
}

impl CommandForm {
    /// The domain command this form asks for, or the errors of reading it.
    pub fn read(&self, name: CommandName, zone: chrono_tz::Tz) -> Result<Command, Vec<FormError>> {
        let mut reading = Reading::default();
        let text = |value: &str| value.trim().to_owned();
        match name {
            CommandName::Assign => reading.finish(|| {
                Some(Command::AssignOfficer {
                    officer: text(&self.officer),
                })
            }),
            CommandName::Findings => reading.finish(|| {
                Some(Command::RecordFinding {
                    summary: text(&self.summary),
                    hazard: optional(&self.hazard),
                })
            }),
            CommandName::Letters => {
                let kind = reading.choice::<LetterKind>("kind", &self.kind);
                let deadline = reading.local_time("deadline", &self.deadline, zone);
                let department = reading.department("department", &self.department);
                reading.finish(|| {
                    Some(Command::IssueLetter {
                        letter_id: LetterId(Uuid::now_v7()),
                        // The app allocates the number once the letter is accepted.
                        number: String::new(),
                        kind: kind?,
                        recipient: text(&self.recipient),
                        content: text(&self.content),
                        deadline,
                        department,
                    })
                })
            }
            CommandName::Escalate => {
                let tier = reading.choice::<Tier>("tier", &self.tier);
                let departments: Vec<Department> = self
                    .departments
                    .iter()
                    .filter_map(|name| reading.department("departments", name))
                    .collect();
                reading.finish(|| {
                    Some(Command::Escalate {
                        tier: tier?,
                        // None ticked: the tier's configured members.
                        departments: (!departments.is_empty()).then_some(departments),
                        reason: text(&self.reason),
                    })
                })
            }
            CommandName::Refer => {
                let department = reading.department("department", &self.department);
                if self.department.trim().is_empty() {
                    reading
                        .errors
                        .push(FormError::keyed("department", "error-choose"));
                }
                reading.finish(|| {
                    Some(Command::Refer {
                        department: department?,
                        reason: text(&self.reason),
                    })
                })
            }
            CommandName::Feedback => reading.finish(|| {
                Some(Command::RecordFeedback {
                    content: text(&self.content),
                    outcome: optional(&self.outcome),
                })
            }),
            CommandName::Notes => reading.finish(|| {
                Some(Command::AddNote {
                    text: text(&self.text),
                })
            }),
            CommandName::Close => {
                let outcome = reading.choice::<Outcome>("outcome", &self.outcome);
                reading.finish(|| {
                    Some(Command::Close {
                        outcome: outcome?,
                        summary: text(&self.summary),
                    })
                })
            }
            CommandName::Reopen => reading.finish(|| {
                Some(Command::Reopen {
                    reason: text(&self.reason),
                })
            }),
        }
    }

    /// The command `name` on the letter `letter_id`, or the errors of reading it.
    pub fn read_letter(
        &self,
        name: LetterCommandName,
        letter_id: LetterId,
        zone: chrono_tz::Tz,
    ) -> Result<Command, Vec<FormError>> {
        let mut reading = Reading::default();
        match name {
            LetterCommandName::Answer => {
                let rectified = reading.yes_or_no("rectified", &self.rectified);
                reading.finish(|| {
                    Some(Command::AnswerLetter {
                        letter_id,
                        rectified: rectified?,
                        content: self.content.trim().to_owned(),
                    })
                })
            }
            LetterCommandName::Service => {
                let method = reading.choice::<ServiceMethod>("method", &self.method);
                let served_at = reading.required_local_time("served_at", &self.served_at, zone);
                let receipt = match self.receipt_attachment_id.trim() {
                    "" => Some(None),
                    text => reading
                        .choice::<uuid::Uuid>("receipt_attachment_id", text)
                        .map(|id| Some(caseledger_domain::AttachmentId(id))),
                };
                reading.finish(|| {
                    Some(Command::ServeLetter {
                        letter_id,
                        method: method?,
                        served_at: served_at?,
                        received_by: optional(&self.received_by),
                        refused: !self.refused.is_empty(),
                        tracking_number: optional(&self.tracking_number),
                        receipt_attachment_id: receipt?,
                    })
                })
            }
            LetterCommandName::Approve => reading.finish(|| {
                Some(Command::ApproveLetter {
                    letter_id,
                    // The app allocates the number once the approval is known to be acceptable.
                    number: String::new(),
                })
            }),
            LetterCommandName::Return => reading.finish(|| {
                Some(Command::ReturnLetter {
                    letter_id,
                    reason: self.reason.trim().to_owned(),
                })
            }),
            LetterCommandName::FollowUp => {
                let visited_at = reading.required_local_time("visited_at", &self.visited_at, zone);
                let rectified = reading.yes_or_no("rectified", &self.rectified);
                reading.finish(|| {
                    Some(Command::RecordFollowUp {
                        letter_id,
                        visited_at: visited_at?,
                        findings: self.findings.trim().to_owned(),
                        rectified: rectified?,
                    })
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn a_deadline_is_read_in_the_office_zone() {
        let form = CommandForm {
            kind: "opinion".into(),
            deadline: "2026-12-20T17:00".into(),
            ..CommandForm::default()
        };
        let Command::IssueLetter { deadline, kind, .. } = form
            .read(CommandName::Letters, chrono_tz::Asia::Shanghai)
            .unwrap()
        else {
            panic!("not a letter");
        };
        assert_eq!(kind, LetterKind::Opinion);
        assert_eq!(deadline.unwrap().to_rfc3339(), "2026-12-20T09:00:00+00:00");
    }

    #[test]
    fn choices_not_offered_and_bad_dates_are_errors_beside_their_fields() {
        let form = CommandForm {
            kind: "petition".into(),
            deadline: "20 December".into(),
            department: "Not A Department".into(),
            ..CommandForm::default()
        };
        let errors = form
            .read(CommandName::Letters, chrono_tz::Asia::Shanghai)
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["kind", "deadline", "department"]);
        assert!(errors.iter().all(|error| error.key.is_some()));
    }

    #[test]
    fn a_service_is_read_in_the_office_zone_and_needs_method_and_time() {
        let letter_id = LetterId(Uuid::nil());
        let zone = chrono_tz::Asia::Shanghai;
        let form = CommandForm {
            method: "post".into(),
            served_at: "2026-12-04T09:30".into(),
            received_by: "  ".into(),
            refused: "yes".into(),
            tracking_number: " EMS1234 ".into(),
            ..CommandForm::default()
        };
        let command = form
            .read_letter(LetterCommandName::Service, letter_id, zone)
            .unwrap();
        let Command::ServeLetter {
            method,
            served_at,
            received_by,
            refused,
            tracking_number,
            ..
        } = command
        else {
            panic!("not a service");
        };
        assert_eq!(method, ServiceMethod::Post);
        assert_eq!(served_at.to_rfc3339(), "2026-12-04T01:30:00+00:00");
        assert_eq!(received_by, None);
        assert!(refused);
        assert_eq!(tracking_number.as_deref(), Some("EMS1234"));

        let errors = CommandForm::default()
            .read_letter(LetterCommandName::Service, letter_id, zone)
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["method", "served_at"]);
    }

    #[test]
    fn a_follow_up_needs_a_visit_time_and_a_yes_or_no() {
        let letter_id = LetterId(Uuid::nil());
        let form = CommandForm {
            visited_at: "yesterday".into(),
            rectified: "maybe".into(),
            ..CommandForm::default()
        };
        let errors = form
            .read_letter(
                LetterCommandName::FollowUp,
                letter_id,
                chrono_tz::Asia::Shanghai,
            )
            .unwrap_err();
        let shown: Vec<_> = errors
            .iter()
            .map(|error| (error.field.as_str(), error.key))
            .collect();
        assert_eq!(
            shown,
            [
                ("visited_at", Some("error-date-time")),
                ("rectified", Some("error-choose"))
            ]
        );
        assert_eq!("follow-up".parse(), Ok(LetterCommandName::FollowUp));
        assert_eq!(LetterCommandName::FollowUp.form(), "follow_up");
        assert!("answer".parse::<LetterCommandName>().is_err());
    }

    #[test]
    fn an_until_day_includes_the_whole_day() {
        let mut reading = Reading::default();
        let until = reading
            .local_day("to", "2026-12-05", chrono_tz::Asia::Shanghai, true)
            .unwrap();
        assert_eq!(until.to_rfc3339(), "2026-12-05T16:00:00+00:00");
    }

    #[test]
    fn domain_messages_get_their_keys() {
        let errors = form_errors(&[
            FieldError::new("title", "must not be empty"),
            FieldError::new("deadline", "must be in the future"),
            FieldError::new("title", "something new"),
        ]);
        assert_eq!(errors[0].key, Some("error-empty"));
        assert_eq!(errors[1].key, Some("error-future"));
        assert_eq!(errors[2].key, None);
    }

    #[test]
    fn the_open_case_form_keeps_the_complainant_out_when_none_is_given() {
        let form = OpenCaseForm {
            title: " Dust ".into(),
            category: "ppe_shortfall".into(),
            description: "No masks".into(),
            source: "walk_in".into(),
            employer_name: "Cement Co.".into(),
            ..OpenCaseForm::default()
        };
        let (open, errors) = form.read();
        assert!(errors.is_empty());
        assert_eq!(open.title, "Dust");
        assert!(open.complainant.is_none());
        let with_phone = OpenCaseForm {
            complainant_phone: "13800000000".into(),
            category: "petition".into(),
            ..form
        };
        let (open, errors) = with_phone.read();
        assert_eq!(
            open.complainant.unwrap().name,
            "",
            "the domain names the missing name"
        );
        assert_eq!(
            open.category,
            Category::Other,
            "a stand-in, for checking the rest"
        );
        assert_eq!(errors[0].field, "category");
    }
}
