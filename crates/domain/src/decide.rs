//! The rules: [`decide`] turns a command on a case into events, or a [`Rejection`].
//!
//! This module owns every business rule of contract §3–§4 that depends only on the case, the
//! command, the actor's role and department, the policy and the time. It does not load or store
//! anything, does not seal or read personal data, and does not check whether a partner may *see*
//! a case (the app answers 404 for cases not shared with a partner before calling `decide`).
//!
//! Checks run in a fixed order, so one command always gets the same answer:
//! 1. the actor's role may run this kind of command at all ([`authorize`]) — 403;
//! 2. the case exists (is opened) — 404 `case`; or for `OpenCase`, is not opened yet — 409;
//! 3. the case holds fewer events than [`Policy::max_case_events`] (erasure excepted) — 409;
//!    the case's lifecycle allows the command (closed / not closed) — 409;
//! 4. the letter named by the command exists — 404 `letter` (a draft: `letter draft`, 409 when
//!    it was sent back or is issued already);
//! 5. every field is valid, all reported at once — 422;
//! 6. rules that depend on valid input and the actor (credit-code override, reassignment) — 403;
//! 7. the remaining state rules — 409.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::calendar::{DeadlineRule, LastDay, PeriodStart};
use crate::case::{Case, ComplainantRecord, Letter, LetterDraft};
use crate::checks::{check_credit_code, normalize_credit_code};
use crate::command::{Command, Context, EmployerInput, FileName, SealedPersonalData};
use crate::error::{FieldError, Rejection, Rule};
use crate::event::{CaseEvent, Employer};
use crate::ids::{AttachmentId, LetterId};
use crate::limits;
use crate::policy::{Department, Policy};
use crate::vocab::{LetterKind, Outcome, Role, Tier};

/// Decides a command: the events it produces (exactly one when accepted), or why it is refused.
///
/// Pure: the same case, command and context always give the same answer.
pub fn decide(
    case: &Case,
    command: Command,
    context: &Context<'_>,
) -> Result<Vec<CaseEvent>, Rejection> {
    authorize(context.actor.role, &command)?;
    if let Command::OpenCase {
        title,
        category,
        description,
        source,
        employer,
        region,
        industry,
        workers_affected,
        complainant,
    } = command
    {
        if case.opened {
            return Err(Rejection::conflict(
                Rule::CaseAlreadyOpened,
                format!("case {} is already open", case.id),
            ));
        }
        let mut fields = Fields::default();
        let title = fields.required("title", &title, limits::TITLE_MAX, Lines::One);
        let description =
            fields.required("description", &description, limits::TEXT_MAX, Lines::Many);
        let (employer, override_error) = fields.employer(employer);
        let region = fields.optional("region", region, limits::REGION_MAX);
        let industry = fields.optional("industry", industry, limits::REGION_MAX);
        if let Some(count) = workers_affected {
            if count > limits::WORKERS_AFFECTED_MAX {
                fields.push(
                    "workers_affected",
                    format!("must be at most {}", limits::WORKERS_AFFECTED_MAX),
                );
            }
        }
        let complainant = complainant.map(|sealed| fields.sealed(sealed));
        fields.finish()?;
        if let Some(error) = override_error {
            if !is_supervisor(context.actor.role) {
                return Err(Rejection::forbidden(format!(
                    "only a supervisor or an admin may open a case with a credit code that fails \
                     its check ({error})"
                )));
            }
        }
        return Ok(vec![CaseEvent::CaseOpened {
            title,
            category,
            description,
            source,
            employer,
            region,
            industry,
            workers_affected,
            complainant,
        }]);
    }

    if !case.opened {
        return Err(Rejection::not_found("case"));
    }
    // Every command adds one event. Erasure is never refused for the case's size: a
    // complainant's right to it does not depend on how much work the case saw.
    if case.version >= context.policy.max_case_events
        && !matches!(command, Command::ErasePersonalData)
    {
        return Err(Rejection::conflict(
            Rule::CaseEventLimitReached,
            format!(
                "the case holds {} events, the most this service allows (max_case_events = {})",
                case.version, context.policy.max_case_events
            ),
        ));
    }
    let event = match command {
        // Handled above; repeated here so that the match stays exhaustive without a wildcard.
        Command::OpenCase { .. } => {
            return Err(Rejection::conflict(
                Rule::CaseAlreadyOpened,
                format!("case {} is already open", case.id),
            ))
        }
        Command::AssignOfficer { officer } => assign_officer(case, &officer, context)?,
        Command::RecordFinding { summary, hazard } => {
            ensure_not_closed(case)?;
            let mut fields = Fields::default();
            let summary = fields.required("summary", &summary, limits::TEXT_MAX, Lines::Many);
            let hazard = fields.optional("hazard", hazard, limits::SHORT_TEXT_MAX);
            fields.finish()?;
            CaseEvent::FindingRecorded { summary, hazard }
        }
        Command::IssueLetter {
            letter_id,
            number,
            kind,
            recipient,
            content,
            deadline,
            department,
        } => {
            ensure_not_closed(case)?;
            if case.letter(letter_id).is_some() || case.draft(letter_id).is_some() {
                return Err(Rejection::conflict(
                    Rule::LetterAlreadyIssued,
                    format!("letter {letter_id} was already issued on this case"),
                ));
            }
            let drafting = context.policy.letter_approval.drafts(kind);
            let asked_deadline = deadline;
            let mut fields = Fields::default();
            // A draft gets its number on approval.
            let number = if drafting {
                String::new()
            } else {
                fields.required("number", &number, limits::LETTER_NUMBER_MAX, Lines::One)
            };
            if !drafting && case.letters.iter().any(|letter| letter.number == number) {
                fields.push(
                    "number",
                    format!("letter number {number} is already used on this case"),
                );
            }
            let recipient = fields.required("recipient", &recipient, limits::NAME_MAX, Lines::One);
            let content = fields.required("content", &content, limits::TEXT_MAX, Lines::Many);
            let LetterDeadline {
                deadline,
                deadline_rule,
                last_day,
            } = fields.letter_deadline(deadline, kind, context);
            match (kind, &department) {
                (LetterKind::Reminder | LetterKind::Opinion, Some(_)) => fields.push(
                    "department",
                    format!("only a recommendation letter names a department, not a {kind} letter"),
                ),
                (LetterKind::Recommendation, None) => fields.push(
                    "department",
                    "a recommendation letter must name the government department it goes to",
                ),
                (LetterKind::Recommendation, Some(department)) => {
                    fields.known_department("department", department, context.policy);
                }
                (LetterKind::Reminder | LetterKind::Opinion, None) => {}
            }
            fields.finish()?;
            if kind == LetterKind::Recommendation && !case.has_unheeded_opinion() {
                return Err(Rejection::conflict(
                    Rule::RecommendationNeedsUnheededOpinion,
                    "no opinion letter of this case was answered without rectification or left \
                     past its deadline",
                ));
            }
            if drafting {
                CaseEvent::LetterDrafted {
                    letter_id,
                    kind,
                    recipient,
                    content,
                    deadline: asked_deadline,
                    department,
                }
            } else {
                CaseEvent::SupervisionLetterIssued {
                    letter_id,
                    number,
                    kind,
                    recipient,
                    content,
                    deadline,
                    department,
                    deadline_rule,
                    last_day,
                    // The app renders the document from the decided event and records its hash.
                    document_sha256: None,
                }
            }
        }
        Command::ApproveLetter { letter_id, number } => {
            ensure_not_closed(case)?;
            let draft = find_draft(case, letter_id)?;
            let mut fields = Fields::default();
            let number = fields.required("number", &number, limits::LETTER_NUMBER_MAX, Lines::One);
            if case.letters.iter().any(|letter| letter.number == number) {
                fields.push(
                    "number",
                    format!("letter number {number} is already used on this case"),
                );
            }
            // An explicit deadline asked for must still be ahead on approval.
            let LetterDeadline {
                deadline,
                deadline_rule,
                last_day,
            } = fields.letter_deadline(draft.deadline, draft.kind, context);
            fields.finish()?;
            if draft.kind == LetterKind::Recommendation && !case.has_unheeded_opinion() {
                return Err(Rejection::conflict(
                    Rule::RecommendationNeedsUnheededOpinion,
                    "no opinion letter of this case was answered without rectification or left \
                     past its deadline",
                ));
            }
            CaseEvent::LetterApproved {
                letter_id,
                number,
                kind: draft.kind,
                department: draft.department.clone(),
                deadline,
                deadline_rule,
                last_day,
                document_sha256: None,
            }
        }
        Command::ReturnLetter { letter_id, reason } => {
            ensure_not_closed(case)?;
            find_draft(case, letter_id)?;
            let mut fields = Fields::default();
            let reason = fields.required("reason", &reason, limits::TEXT_MAX, Lines::Many);
            fields.finish()?;
            CaseEvent::LetterReturned { letter_id, reason }
        }
        Command::AnswerLetter {
            letter_id,
            rectified,
            content,
        } => {
            // Allowed on a closed case too: an employer may reply after a case was closed as
            // referred or withdrawn, and the reply belongs in the record.
            let letter = find_letter(case, letter_id)?;
            let mut fields = Fields::default();
            let content = fields.required("content", &content, limits::TEXT_MAX, Lines::Many);
            fields.finish()?;
            ensure_open_letter(letter)?;
            CaseEvent::LetterAnswered {
                letter_id,
                rectified,
                content,
            }
        }
        Command::MarkDeadlineMissed { letter_id } => {
            ensure_not_closed(case)?;
            let letter = find_letter(case, letter_id)?;
            ensure_open_letter(letter)?;
            if letter.deadline_missed {
                return Err(Rejection::conflict(
                    Rule::DeadlineAlreadyMissed,
                    format!(
                        "the deadline of letter {} is already marked missed",
                        letter.number
                    ),
                ));
            }
            match letter.deadline {
                Some(deadline) if deadline <= context.now => CaseEvent::LetterDeadlineMissed {
                    letter_id,
                    deadline,
                },
                Some(deadline) => {
                    return Err(Rejection::conflict(
                        Rule::DeadlineNotPassed,
                        format!(
                            "letter {} is due at {}",
                            letter.number,
                            deadline.to_rfc3339()
                        ),
                    ))
                }
                None => {
                    return Err(Rejection::conflict(
                        Rule::DeadlineNotPassed,
                        format!("letter {} has no deadline", letter.number),
                    ))
                }
            }
        }
        Command::Escalate {
            tier,
            departments,
            reason,
        } => {
            ensure_not_closed(case)?;
            let mut fields = Fields::default();
            let reason = fields.required("reason", &reason, limits::TEXT_MAX, Lines::Many);
            let departments = fields.escalation_departments(tier, departments, context.policy);
            fields.finish()?;
            let previous_tier = case.escalation.as_ref().map(|escalation| escalation.tier);
            if let Some(previous) = previous_tier {
                if tier <= previous {
                    return Err(Rejection::conflict(
                        Rule::TierNotHigher,
                        format!(
                            "the case is already escalated to {previous}; {tier} is not higher"
                        ),
                    ));
                }
            }
            CaseEvent::EscalatedToJointMechanism {
                tier,
                departments,
                reason,
                previous_tier,
            }
        }
        Command::Refer { department, reason } => {
            ensure_not_closed(case)?;
            let mut fields = Fields::default();
            fields.known_department("department", &department, context.policy);
            let reason = fields.required("reason", &reason, limits::TEXT_MAX, Lines::Many);
            fields.finish()?;
            CaseEvent::ReferredToDepartment { department, reason }
        }
        Command::RecordFeedback { content, outcome } => {
            // Allowed on a closed case: a department's report often arrives after closing.
            let mut fields = Fields::default();
            let content = fields.required("content", &content, limits::TEXT_MAX, Lines::Many);
            let outcome = fields.optional("outcome", outcome, limits::SHORT_TEXT_MAX);
            fields.finish()?;
            let Some(department) = context.actor.department.clone() else {
                return Err(Rejection::conflict(
                    Rule::NotSharedWithDepartment,
                    "the actor belongs to no department",
                ));
            };
            if !case.is_shared_with(&department) {
                return Err(Rejection::conflict(
                    Rule::NotSharedWithDepartment,
                    format!("the case is not shared with {department}"),
                ));
            }
            CaseEvent::DepartmentFeedbackRecorded {
                department,
                content,
                outcome,
            }
        }
        Command::AddAttachment {
            attachment_id,
            filename,
            content_type,
            size,
            sha256,
            personal,
            shared,
        } => add_attachment(
            case,
            AttachmentAdded {
                attachment_id,
                filename,
                content_type,
                size,
                sha256,
                personal,
                shared,
            },
        )?,
        Command::WithdrawAttachment {
            attachment_id,
            reason,
        } => {
            let attachment = case
                .attachment(attachment_id)
                .ok_or_else(|| Rejection::not_found("attachment"))?;
            let mut fields = Fields::default();
            let reason = fields.required("reason", &reason, limits::TEXT_MAX, Lines::Many);
            fields.finish()?;
            if let Some(withdrawal) = &attachment.withdrawn {
                return Err(Rejection::conflict(
                    Rule::AttachmentAlreadyWithdrawn,
                    format!(
                        "the attachment was withdrawn at {}",
                        withdrawal.withdrawn_at.to_rfc3339()
                    ),
                ));
            }
            CaseEvent::AttachmentWithdrawn {
                attachment_id,
                reason,
                personal: attachment.personal,
                shared: attachment.shared,
            }
        }
        Command::AddNote { text } => {
            let mut fields = Fields::default();
            let text = fields.required("text", &text, limits::TEXT_MAX, Lines::Many);
            fields.finish()?;
            CaseEvent::NoteAdded { text }
        }
        Command::Close { outcome, summary } => {
            ensure_not_closed(case)?;
            let mut fields = Fields::default();
            let summary = fields.required("summary", &summary, limits::TEXT_MAX, Lines::Many);
            fields.finish()?;
            let awaiting = case
                .open_letters()
                .find(|letter| letter.kind == LetterKind::Opinion);
            if let Some(letter) = awaiting {
                if !matches!(outcome, Outcome::Referred | Outcome::Withdrawn) {
                    return Err(Rejection::conflict(
                        Rule::OpinionLetterAwaitingAnswer,
                        format!(
                            "opinion letter {} awaits the employer's answer; {outcome} is not \
                             allowed",
                            letter.number
                        ),
                    ));
                }
            }
            CaseEvent::CaseClosed { outcome, summary }
        }
        Command::Reopen { reason } => {
            if !case.is_closed() {
                return Err(Rejection::conflict(
                    Rule::CaseNotClosed,
                    "the case is not closed",
                ));
            }
            let mut fields = Fields::default();
            let reason = fields.required("reason", &reason, limits::TEXT_MAX, Lines::Many);
            fields.finish()?;
            CaseEvent::CaseReopened { reason }
        }
        Command::ServeLetter {
            letter_id,
            method,
            served_at,
            received_by,
            refused,
            tracking_number,
            receipt_attachment_id,
        } => {
            ensure_not_closed(case)?;
            let letter = find_letter(case, letter_id)?;
            let mut fields = Fields::default();
            fields.past_since("served_at", served_at, letter, context);
            // The receipt is evidence of the case: one of its files, not withdrawn.
            if let Some(receipt) = receipt_attachment_id {
                if case
                    .attachment(receipt)
                    .is_none_or(|attachment| attachment.withdrawn.is_some())
                {
                    fields.push(
                        "receipt_attachment_id",
                        format!("{receipt} is no attached file of this case"),
                    );
                }
            }
            let received_by = fields.optional("received_by", received_by, limits::NAME_MAX);
            let tracking_number =
                fields.optional("tracking_number", tracking_number, limits::NAME_MAX);
            let (deadline, last_day) = match (letter.deadline, letter.deadline_rule) {
                (None, Some(rule)) if rule.from == PeriodStart::Served => {
                    let start = context.office_days.date_of(served_at);
                    fields.counted("served_at", start, rule, context)
                }
                _ => (None, None),
            };
            fields.finish()?;
            if let Some(service) = &letter.served {
                return Err(Rejection::conflict(
                    Rule::LetterAlreadyServed,
                    format!(
                        "letter {} was served at {}",
                        letter.number,
                        service.served_at.to_rfc3339()
                    ),
                ));
            }
            CaseEvent::LetterServed {
                letter_id,
                method,
                served_at,
                received_by,
                refused,
                tracking_number,
                deadline,
                last_day,
                receipt_attachment_id,
            }
        }
        Command::RecordFollowUp {
            letter_id,
            visited_at,
            findings,
            rectified,
        } => {
            ensure_not_closed(case)?;
            let letter = find_letter(case, letter_id)?;
            let mut fields = Fields::default();
            fields.past_since("visited_at", visited_at, letter, context);
            let findings = fields.required("findings", &findings, limits::TEXT_MAX, Lines::Many);
            fields.finish()?;
            CaseEvent::FollowUpRecorded {
                letter_id,
                visited_at,
                findings,
                rectified,
            }
        }
        Command::ErasePersonalData => {
            match case.complainant {
                ComplainantRecord::Sealed(_) => CaseEvent::PersonalDataErased {},
                // Files marked personal are personal data too, with or without a complainant.
                ComplainantRecord::None
                    if case
                        .attachments
                        .iter()
                        .any(|attachment| attachment.personal) =>
                {
                    CaseEvent::PersonalDataErased {}
                }
                ComplainantRecord::None => return Err(Rejection::conflict(
                    Rule::NoPersonalData,
                    "the case was opened without complainant details and holds no personal files",
                )),
                ComplainantRecord::Erased => {
                    return Err(Rejection::conflict(
                        Rule::PersonalDataAlreadyErased,
                        "the complainant's details are already erased",
                    ))
                }
            }
        }
    };
    Ok(vec![event])
}

/// Whether `role` may run this kind of command at all, whatever the case and input.
///
/// Auditors change nothing; partners only record feedback, and only they do; only supervisors
/// and admins reopen; only admins erase personal data. Finer rules that depend on the case or
/// the input (reassigning someone else's case, overriding a failing credit code) are checked
/// by [`decide`].
pub fn authorize(role: Role, command: &Command) -> Result<(), Rejection> {
    let refusal = match (role, command) {
        (Role::Auditor, _) => Some("an auditor changes nothing"),
        (Role::Partner, Command::RecordFeedback { .. }) => None,
        (Role::Partner, _) => Some("a partner department may only record feedback"),
        (Role::Officer, Command::Reopen { .. }) => {
            Some("only a supervisor or an admin may reopen a case")
        }
        (Role::Officer, Command::ApproveLetter { .. } | Command::ReturnLetter { .. }) => {
            Some("only a supervisor or an admin signs letters off")
        }
        (Role::Officer | Role::Supervisor, Command::ErasePersonalData) => {
            Some("only an admin may erase personal data")
        }
        // Feedback is a partner department's answer; the union's own staff write notes.
        (Role::Admin | Role::Supervisor | Role::Officer, Command::RecordFeedback { .. }) => {
            Some("only a partner department records feedback")
        }
        (Role::Admin | Role::Supervisor | Role::Officer, _) => None,
    };
    match refusal {
        Some(reason) => Err(Rejection::forbidden(reason)),
        None => Ok(()),
    }
}

/// A failing credit code may be kept unverified only if it still looks like a code: older
/// registration numbers (15 digits, say) are, free text is not.
fn is_plausible_unverified_code(code: &str) -> bool {
    code.len() <= limits::UNVERIFIED_CREDIT_CODE_MAX
        && code
            .chars()
            .all(|character| character.is_ascii_alphanumeric())
}

fn is_supervisor(role: Role) -> bool {
    matches!(role, Role::Supervisor | Role::Admin)
}

fn assign_officer(
    case: &Case,
    officer: &str,
    context: &Context<'_>,
) -> Result<CaseEvent, Rejection> {
    ensure_not_closed(case)?;
    let mut fields = Fields::default();
    let officer = fields.required("officer", officer, limits::NAME_MAX, Lines::One);
    fields.finish()?;
    if let Some(current) = &case.assignee {
        if *current != context.actor.name && !is_supervisor(context.actor.role) {
            return Err(Rejection::forbidden(format!(
                "only a supervisor may reassign a case assigned to someone else ({current})"
            )));
        }
        if *current == officer {
            return Err(Rejection::conflict(
                Rule::AlreadyAssigned,
                format!("the case is already assigned to {officer}"),
            ));
        }
    }
    Ok(CaseEvent::OfficerAssigned {
        officer,
        previous: case.assignee.clone(),
    })
}

/// The fields of an `AddAttachment` command.
struct AttachmentAdded {
    attachment_id: AttachmentId,
    filename: FileName,
    content_type: String,
    size: u64,
    sha256: String,
    personal: bool,
    shared: bool,
}

/// Evidence may arrive at any time, closed cases included (like notes); a file is attached
/// once (by its SHA-256), and a case whose personal data is erased takes no personal files.
fn add_attachment(case: &Case, added: AttachmentAdded) -> Result<CaseEvent, Rejection> {
    let mut fields = Fields::default();
    match &added.filename {
        FileName::Plain(name) => {
            if let Some(message) = limits::file_name_problem(name) {
                fields.push("filename", message);
            }
            if added.personal {
                fields.push("filename", "a personal file's name is recorded sealed");
            }
        }
        FileName::Sealed(sealed) => {
            if !added.personal {
                fields.push("filename", "only a personal file's name is sealed");
            }
            if let Some(message) = limits::too_long(&sealed.sealed, limits::SEALED_MAX) {
                fields.push("filename", message);
            }
        }
    }
    let content_type = added.content_type.trim();
    if content_type.is_empty()
        || content_type.len() > limits::CONTENT_TYPE_MAX
        || !content_type.is_ascii()
        || !content_type.contains('/')
    {
        fields.push(
            "content_type",
            "must be a media type such as application/pdf",
        );
    }
    if added.sha256.len() != 64
        || !added
            .sha256
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    {
        fields.push("sha256", "must be 64 lowercase hexadecimal digits");
    }
    fields.finish()?;
    if case.attachment(added.attachment_id).is_some() {
        return Err(Rejection::conflict(
            Rule::AttachmentAlreadyAdded,
            format!("attachment {} is recorded already", added.attachment_id),
        ));
    }
    if let Some(same) = case
        .attachments
        .iter()
        .find(|attachment| attachment.sha256 == added.sha256 && attachment.withdrawn.is_none())
    {
        return Err(Rejection::conflict(
            Rule::AttachmentAlreadyAdded,
            format!(
                "the same file is attached already as {}",
                same.attachment_id
            ),
        ));
    }
    if added.personal && case.complainant == ComplainantRecord::Erased {
        return Err(Rejection::conflict(
            Rule::PersonalDataErased,
            "the case's personal data was erased",
        ));
    }
    Ok(CaseEvent::AttachmentAdded {
        attachment_id: added.attachment_id,
        filename: added.filename,
        content_type: content_type.to_owned(),
        size: added.size,
        sha256: added.sha256,
        personal: added.personal,
        shared: added.shared,
    })
}

fn ensure_not_closed(case: &Case) -> Result<(), Rejection> {
    match case.closed_at {
        Some(closed_at) => Err(Rejection::conflict(
            Rule::CaseClosed,
            format!("the case was closed at {}", closed_at.to_rfc3339()),
        )),
        None => Ok(()),
    }
}

fn find_letter(case: &Case, letter_id: LetterId) -> Result<&Letter, Rejection> {
    case.letter(letter_id)
        .ok_or_else(|| Rejection::not_found("letter"))
}

/// The draft `letter_id` awaiting sign-off: not found when there is none (an issued letter
/// included), refused when it was sent back.
fn find_draft(case: &Case, letter_id: LetterId) -> Result<&LetterDraft, Rejection> {
    if case.letter(letter_id).is_some() {
        return Err(Rejection::conflict(
            Rule::LetterAlreadyIssued,
            format!("letter {letter_id} is issued already"),
        ));
    }
    let draft = case
        .draft(letter_id)
        .ok_or_else(|| Rejection::not_found("letter draft"))?;
    if let Some(returned) = &draft.returned {
        return Err(Rejection::conflict(
            Rule::LetterDraftReturned,
            format!(
                "the draft was sent back at {}: {}",
                returned.returned_at.to_rfc3339(),
                returned.reason
            ),
        ));
    }
    Ok(draft)
}

fn ensure_open_letter(letter: &Letter) -> Result<(), Rejection> {
    if letter.is_open() {
        return Ok(());
    }
    let detail = if letter.kind == LetterKind::Reminder {
        format!(
            "letter {} is a reminder, which needs no answer",
            letter.number
        )
    } else {
        format!("letter {} is already answered", letter.number)
    };
    Err(Rejection::conflict(Rule::LetterNotOpen, detail))
}

/// The deadline a new letter is issued with.
struct LetterDeadline {
    deadline: Option<DateTime<Utc>>,
    deadline_rule: Option<DeadlineRule>,
    last_day: Option<LastDay>,
}

/// Whether a text may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lines {
    /// Names and titles: no control characters at all.
    One,
    /// Long texts: newlines and tabs allowed, other control characters not.
    Many,
}

/// Collects every field error of one command.
#[derive(Debug, Default)]
struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    fn finish(self) -> Result<(), Rejection> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Rejection::Invalid(self.errors))
        }
    }

    /// Checks a non-empty text and returns it trimmed.
    fn required(&mut self, field: &str, value: &str, max: usize, lines: Lines) -> String {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.push(field, "must not be empty");
        } else {
            self.text(field, trimmed, max, lines);
        }
        trimmed.to_owned()
    }

    /// Checks an optional one-line text and returns it trimmed; blank counts as absent.
    fn optional(&mut self, field: &str, value: Option<String>, max: usize) -> Option<String> {
        let trimmed = value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())?;
        self.text(field, trimmed, max, Lines::One);
        Some(trimmed.to_owned())
    }

    fn text(&mut self, field: &str, value: &str, max: usize, lines: Lines) {
        if let Some(message) = limits::too_long(value, max) {
            self.push(field, message);
        } else if value.chars().any(|character| {
            character.is_control()
                && (lines == Lines::One || !matches!(character, '\n' | '\r' | '\t'))
        }) {
            let message = match lines {
                Lines::One => "must be a single line without control characters",
                Lines::Many => "must not contain control characters other than newlines and tabs",
            };
            self.push(field, message);
        }
    }

    fn sealed(&mut self, sealed: SealedPersonalData) -> SealedPersonalData {
        if sealed.sealed.trim().is_empty() {
            self.push("complainant.sealed", "must not be empty");
        } else if let Some(message) = limits::too_long(&sealed.sealed, limits::SEALED_MAX) {
            self.push("complainant.sealed", message);
        }
        sealed
    }

    fn known_department(&mut self, field: &str, department: &Department, policy: &Policy) {
        if !policy.knows(department) {
            self.push(field, format!("unknown department '{department}'"));
        }
    }

    /// Checks the employer and its credit code. Returns the employer to record and, when a
    /// failing code is kept under `credit_code_unverified`, the check's error (which needs a
    /// supervisor).
    fn employer(&mut self, employer: EmployerInput) -> (Employer, Option<String>) {
        let name = self.required(
            "employer.name",
            &employer.name,
            limits::NAME_MAX,
            Lines::One,
        );
        let raw_code = employer
            .credit_code
            .as_deref()
            .map(str::trim)
            .filter(|code| !code.is_empty());
        let mut override_error = None;
        let mut unverified = false;
        let credit_code = match raw_code {
            None => {
                if employer.credit_code_unverified {
                    self.push(
                        "employer.credit_code_unverified",
                        "there is no credit_code to keep unverified",
                    );
                }
                None
            }
            // A code that passes is verified, whatever the client asked for.
            Some(raw) => match check_credit_code(raw) {
                Ok(code) => Some(code),
                Err(error) if employer.credit_code_unverified => match normalize_credit_code(raw) {
                    Ok(code) if is_plausible_unverified_code(&code) => {
                        override_error = Some(error.to_string());
                        unverified = true;
                        Some(code)
                    }
                    Ok(_) => {
                        self.push(
                            "employer.credit_code",
                            format!(
                                "{error}; an unverified code must still be at most {} ASCII \
                                 letters and digits",
                                limits::UNVERIFIED_CREDIT_CODE_MAX
                            ),
                        );
                        None
                    }
                    Err(error) => {
                        self.push("employer.credit_code", error.to_string());
                        None
                    }
                },
                Err(error) => {
                    self.push("employer.credit_code", error.to_string());
                    None
                }
            },
        };
        let employer = Employer {
            name,
            credit_code,
            credit_code_unverified: unverified,
        };
        (employer, override_error)
    }

    /// The deadline of a new letter: the given one, which must be in the future; else the
    /// kind's rule, counted from today when it runs from issue, or recorded for the service to
    /// count when it runs from service (the letter has no deadline until then).
    fn letter_deadline(
        &mut self,
        deadline: Option<DateTime<Utc>>,
        kind: LetterKind,
        context: &Context<'_>,
    ) -> LetterDeadline {
        let none = LetterDeadline {
            deadline: None,
            deadline_rule: None,
            last_day: None,
        };
        match (deadline, context.policy.deadline_rules.get(&kind)) {
            (Some(deadline), _) if deadline <= context.now => {
                self.push("deadline", "must be in the future");
                none
            }
            (Some(deadline), _) => LetterDeadline {
                deadline: Some(deadline),
                ..none
            },
            (None, None) => none,
            (None, Some(rule)) if rule.from == PeriodStart::Served => LetterDeadline {
                deadline_rule: Some(*rule),
                ..none
            },
            (None, Some(rule)) => {
                let today = context.office_days.date_of(context.now);
                let (deadline, last_day) = self.counted("deadline", today, *rule, context);
                LetterDeadline {
                    deadline,
                    last_day,
                    ..none
                }
            }
        }
    }

    /// The deadline and last day of `rule` counted from `start` on the calendar; a period
    /// beyond the last date there is is reported on `field`.
    fn counted(
        &mut self,
        field: &str,
        start: chrono::NaiveDate,
        rule: DeadlineRule,
        context: &Context<'_>,
    ) -> (Option<DateTime<Utc>>, Option<LastDay>) {
        let counted = context
            .calendar
            .last_day(start, rule.amount, rule.unit)
            .ok()
            .and_then(|last_day| {
                let end = context.office_days.end_of(last_day.date)?;
                Some((end, last_day))
            });
        match counted {
            Some((end, last_day)) => (Some(end), Some(last_day)),
            None => {
                self.push(
                    field,
                    format!(
                        "a period of {} {} from {start} would end after the last date there is",
                        rule.amount, rule.unit
                    ),
                );
                (None, None)
            }
        }
    }

    /// A time of something done to `letter` (its service, a follow-up visit): not in the
    /// future, and not before the minute the letter was issued — people write times to the
    /// minute, so a letter issued at 10:35:27 and handed over at once was served "at 10:35".
    fn past_since(
        &mut self,
        field: &str,
        time: DateTime<Utc>,
        letter: &Letter,
        context: &Context<'_>,
    ) {
        if time > context.now {
            self.push(field, "must not be in the future");
        } else if time
            < letter
                .issued_at
                .duration_trunc(TimeDelta::minutes(1))
                .unwrap_or(letter.issued_at)
        {
            self.push(
                field,
                format!(
                    "must not be before letter {} was issued ({})",
                    letter.number,
                    letter.issued_at.to_rfc3339()
                ),
            );
        }
    }

    /// The departments of an escalation: the given ones (known, deduplicated, in order) or the
    /// tier's configured members.
    fn escalation_departments(
        &mut self,
        tier: Tier,
        departments: Option<Vec<Department>>,
        policy: &Policy,
    ) -> Vec<Department> {
        let (given, field_of) = match departments {
            Some(given) => (given, true),
            None => (policy.tiers.get(&tier).cloned().unwrap_or_default(), false),
        };
        if given.is_empty() {
            let message = if field_of {
                "must name at least one department".to_owned()
            } else {
                format!("tier {tier} has no configured members; name the departments")
            };
            self.push("departments", message);
        }
        let mut unique: Vec<Department> = Vec::with_capacity(given.len());
        for (index, department) in given.into_iter().enumerate() {
            if field_of {
                self.known_department(&format!("departments[{index}]"), &department, policy);
            } else if !policy.knows(&department) {
                self.push(
                    "departments",
                    format!(
                        "configured member '{department}' of tier {tier} is not a known department"
                    ),
                );
            }
            if !unique.contains(&department) {
                unique.push(department);
            }
        }
        unique
    }
}
