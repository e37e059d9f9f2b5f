//! The case commands, each `POST /v1/cases/{id}/<command>`: request type → domain command →
//! `App::execute` → [`CommandReply`]. State rules live in the domain; nothing is decided here.

use axum::extract::{OriginalUri, State};
use axum::http::{Method, StatusCode};
use caseledger_app::{Caller, Idempotency};
use caseledger_domain::{
    AttachmentId, CaseId, Command, LetterId, LetterKind, Outcome, ServiceMethod, Tier,
};
use uuid::Uuid;

use super::wire::{
    AssignRequest, CloseRequest, CommandReply, CommandResponse, EscalateRequest, FeedbackRequest,
    FindingRequest, FollowUpRequest, LetterRequest, LetterResponseRequest, LetterServiceRequest,
    NoteRequest, ReferRequest, ReopenRequest, ReturnLetterRequest,
};
use crate::error::{ApiError, CommandProblems};
use crate::extract::{
    Authenticated, CaseIdParam, CasePath, CommandHeaderParams, CommandHeaders, CommandInput,
    LetterPath,
};
use crate::state::AppState;
use crate::vocabulary::FieldErrors;

async fn run(
    state: &AppState,
    caller: &Caller,
    case: CaseId,
    command: Command,
    if_match: Option<u64>,
    idempotency: Option<Idempotency>,
) -> Result<CommandReply, ApiError> {
    let outcome = state
        .app
        .execute(caller, case, command, if_match, idempotency)
        .await?;
    Ok(CommandReply {
        status: StatusCode::OK,
        body: outcome.into(),
    })
}

/// Assigns the case to an officer (`OfficerAssigned`). Reassigning a case that someone else
/// holds needs a supervisor.
///
/// Roles: admin, supervisor, officer. Allowed while the case is not closed.
#[utoipa::path(post, path = "/v1/cases/{id}/assign", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams), request_body = AssignRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn assign_officer(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    input: CommandInput<AssignRequest>,
) -> Result<CommandReply, ApiError> {
    let command = Command::AssignOfficer {
        officer: input.body.officer,
    };
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Records a finding of the investigation (`FindingRecorded`).
///
/// Roles: admin, supervisor, officer. Allowed while the case is not closed.
#[utoipa::path(post, path = "/v1/cases/{id}/findings", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams), request_body = FindingRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn record_finding(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    input: CommandInput<FindingRequest>,
) -> Result<CommandReply, ApiError> {
    let command = Command::RecordFinding {
        summary: input.body.summary,
        hazard: input.body.hazard,
    };
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Issues a supervision letter (`SupervisionLetterIssued`) with the next number of its issuer,
/// kind and year, such as `绵工监意〔2026〕3号` (without gaps; letters issued before contract §9
/// keep numbers such as `MY-2026-0042`): a reminder (提示函, no answer needed), an opinion letter to the employer
/// (意见书) or a recommendation letter to a government department (建议书, which needs an
/// earlier opinion letter that was refused or went unanswered, names the department, and
/// shares the case with it).
///
/// Roles: admin, supervisor, officer. Allowed while the case is not closed; `deadline` must be
/// in the future.
#[utoipa::path(post, path = "/v1/cases/{id}/letters", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams), request_body = LetterRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn issue_letter(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    input: CommandInput<LetterRequest>,
) -> Result<CommandReply, ApiError> {
    let body = input.body;
    let mut errors = FieldErrors::default();
    let kind = errors.parse::<LetterKind>("kind", &body.kind);
    let department = errors.department("department", body.department.as_deref());
    let command = errors.finish(|| {
        Some(Command::IssueLetter {
            letter_id: LetterId(Uuid::now_v7()),
            // The app allocates the number once the letter is accepted.
            number: String::new(),
            kind: kind?,
            recipient: body.recipient,
            content: body.content,
            deadline: body.deadline,
            department,
        })
    })?;
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Records the answer to an open letter (`LetterAnswered`): whether the employer (or the
/// department) corrected the violation.
///
/// Roles: admin, supervisor, officer. Allowed while that letter is open.
#[utoipa::path(post, path = "/v1/cases/{id}/letters/{letter_id}/response", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, ("letter_id" = Uuid, Path, description = "The letter's id."), CommandHeaderParams),
    request_body = LetterResponseRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn answer_letter(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    LetterPath(id, letter_id): LetterPath,
    input: CommandInput<LetterResponseRequest>,
) -> Result<CommandReply, ApiError> {
    let command = Command::AnswerLetter {
        letter_id,
        rectified: input.body.rectified,
        content: input.body.content,
    };
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Records that a letter was served (`LetterServed`, 送达). A deadline counted from service
/// (the default for opinion and recommendation letters: 15 working days) starts the day after,
/// on the official calendar; the event records its last day and the calendar's version.
///
/// Roles: admin, supervisor, officer. Allowed once per letter, while the case is not closed.
#[utoipa::path(post, path = "/v1/cases/{id}/letters/{letter_id}/service", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, ("letter_id" = Uuid, Path, description = "The letter's id."), CommandHeaderParams),
    request_body = LetterServiceRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn serve_letter(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    LetterPath(id, letter_id): LetterPath,
    input: CommandInput<LetterServiceRequest>,
) -> Result<CommandReply, ApiError> {
    let body = input.body;
    let mut errors = FieldErrors::default();
    let method = errors.parse::<ServiceMethod>("method", &body.method);
    let command = errors.finish(|| {
        Some(Command::ServeLetter {
            letter_id,
            method: method?,
            served_at: body.served_at,
            received_by: body.received_by,
            refused: body.refused,
            tracking_number: body.tracking_number,
            receipt_attachment_id: body.receipt_attachment_id.map(AttachmentId),
        })
    })?;
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Records a follow-up visit (`FollowUpRecorded`, 回访) that checked whether a letter's
/// demands were met. Statistics count rectification confirmed by a visit apart from
/// rectification only claimed in a reply.
///
/// Roles: admin, supervisor, officer. Allowed while the case is not closed.
#[utoipa::path(post, path = "/v1/cases/{id}/letters/{letter_id}/follow-up", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, ("letter_id" = Uuid, Path, description = "The letter's id."), CommandHeaderParams),
    request_body = FollowUpRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn record_follow_up(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    LetterPath(id, letter_id): LetterPath,
    input: CommandInput<FollowUpRequest>,
) -> Result<CommandReply, ApiError> {
    let command = Command::RecordFollowUp {
        letter_id,
        visited_at: input.body.visited_at,
        findings: input.body.findings,
        rectified: input.body.rectified,
    };
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Signs off a drafted opinion or recommendation letter (`LetterApproved`, contract §9, with
/// `letters.approval = "supervisor"`): it is issued now — numbered, typeset and given its
/// deadline — as `POST …/letters` issues a letter without sign-off. No body.
///
/// Roles: admin, supervisor. A draft sent back is not approved (409 `letter_draft_returned`);
/// an unknown draft is 404.
#[utoipa::path(post, path = "/v1/cases/{id}/letters/{letter_id}/approve", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, ("letter_id" = Uuid, Path, description = "The draft's id (the letter's, once approved)."), CommandHeaderParams),
    responses((status = 200, description = "Approved; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn approve_letter(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    LetterPath(id, letter_id): LetterPath,
    OriginalUri(uri): OriginalUri,
    headers: CommandHeaders,
) -> Result<CommandReply, ApiError> {
    let idempotency = headers.idempotency_for(&Method::POST, uri.path());
    let command = Command::ApproveLetter {
        letter_id,
        // The app allocates the number once the approval is known to be acceptable.
        number: String::new(),
    };
    run(&state, &caller, id, command, headers.if_match, idempotency).await
}

/// Sends a drafted letter back with reasons (`LetterReturned`): it stays listed as returned
/// and is never issued; the officer drafts it again.
///
/// Roles: admin, supervisor.
#[utoipa::path(post, path = "/v1/cases/{id}/letters/{letter_id}/return", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, ("letter_id" = Uuid, Path, description = "The draft's id."), CommandHeaderParams),
    request_body = ReturnLetterRequest,
    responses((status = 200, description = "Sent back; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn return_letter(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    LetterPath(id, letter_id): LetterPath,
    input: CommandInput<ReturnLetterRequest>,
) -> Result<CommandReply, ApiError> {
    let command = Command::ReturnLetter {
        letter_id,
        reason: input.body.reason,
    };
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Escalates the case to a tier of the joint mechanism (`EscalatedToJointMechanism`) and
/// shares it with each participating department. Tiers only go up.
///
/// Roles: admin, supervisor, officer. Allowed while the case is not closed.
#[utoipa::path(post, path = "/v1/cases/{id}/escalate", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams), request_body = EscalateRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn escalate_case(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    input: CommandInput<EscalateRequest>,
) -> Result<CommandReply, ApiError> {
    let body = input.body;
    let mut errors = FieldErrors::default();
    let tier = errors.parse::<Tier>("tier", &body.tier);
    let departments = body.departments.map(|names| {
        names
            .iter()
            .enumerate()
            .filter_map(|(index, name)| {
                errors.department(&format!("departments[{index}]"), Some(name))
            })
            .collect::<Vec<_>>()
    });
    let command = errors.finish(|| {
        Some(Command::Escalate {
            tier: tier?,
            departments,
            reason: body.reason,
        })
    })?;
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Refers the case to a partner department (`ReferredToDepartment`) and shares it with it.
///
/// Roles: admin, supervisor, officer. Allowed while the case is not closed.
#[utoipa::path(post, path = "/v1/cases/{id}/refer", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams), request_body = ReferRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn refer_case(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    input: CommandInput<ReferRequest>,
) -> Result<CommandReply, ApiError> {
    let body = input.body;
    let mut errors = FieldErrors::default();
    let department = errors.department("department", Some(&body.department));
    let command = errors.finish(|| {
        Some(Command::Refer {
            department: department?,
            reason: body.reason,
        })
    })?;
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Records a partner department's feedback (`DepartmentFeedbackRecorded`).
///
/// Roles: partner (for cases shared with its department).
#[utoipa::path(post, path = "/v1/cases/{id}/feedback", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams), request_body = FeedbackRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn record_feedback(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    input: CommandInput<FeedbackRequest>,
) -> Result<CommandReply, ApiError> {
    let command = Command::RecordFeedback {
        content: input.body.content,
        outcome: input.body.outcome,
    };
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Adds an internal note (`NoteAdded`), at any time.
///
/// Roles: admin, supervisor, officer.
#[utoipa::path(post, path = "/v1/cases/{id}/notes", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams), request_body = NoteRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn add_note(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    input: CommandInput<NoteRequest>,
) -> Result<CommandReply, ApiError> {
    let command = Command::AddNote {
        text: input.body.text,
    };
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Closes the case with an outcome (`CaseClosed`). While an opinion letter awaits the
/// employer's answer, only `referred` and `withdrawn` may close it.
///
/// Roles: admin, supervisor, officer. Allowed while the case is not closed.
#[utoipa::path(post, path = "/v1/cases/{id}/close", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams), request_body = CloseRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn close_case(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    input: CommandInput<CloseRequest>,
) -> Result<CommandReply, ApiError> {
    let body = input.body;
    let mut errors = FieldErrors::default();
    let outcome = errors.parse::<Outcome>("outcome", &body.outcome);
    let command = errors.finish(|| {
        Some(Command::Close {
            outcome: outcome?,
            summary: body.summary,
        })
    })?;
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Reopens a closed case (`CaseReopened`).
///
/// Roles: admin, supervisor.
#[utoipa::path(post, path = "/v1/cases/{id}/reopen", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams), request_body = ReopenRequest,
    responses((status = 200, description = "Done; `ETag` is the new version.", body = CommandResponse), CommandProblems))]
pub async fn reopen_case(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    input: CommandInput<ReopenRequest>,
) -> Result<CommandReply, ApiError> {
    let command = Command::Reopen {
        reason: input.body.reason,
    };
    run(
        &state,
        &caller,
        id,
        command,
        input.if_match,
        input.idempotency,
    )
    .await
}

/// Erases the complainant's personal data (`PersonalDataErased`): the case's data key is
/// destroyed, so every sealed copy in the log becomes unreadable, while the chain — which
/// covers only the sealed form — still verifies. No body.
///
/// The erasure is complete when this answers: the key is gone, durably, and the case is in
/// the erasure register (`GET /v1/admin/erasures`); no read decrypts its data again, not even
/// `?at_version=`/`?as_of=` of a version before the erasure. A repeat makes sure the key is
/// gone before it answers: `409` with `rule` `personal_data_already_erased`, or, with the same
/// `Idempotency-Key`, the first answer again.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/cases/{id}/erase-personal-data", tag = "commands", security(("bearer" = [])),
    params(CaseIdParam, CommandHeaderParams),
    responses((status = 200, description = "Erased: the key is gone.", body = CommandResponse), CommandProblems))]
pub async fn erase_personal_data(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    CasePath(id): CasePath,
    OriginalUri(uri): OriginalUri,
    headers: CommandHeaders,
) -> Result<CommandReply, ApiError> {
    let idempotency = headers.idempotency_for(&Method::POST, uri.path());
    let outcome = state
        .app
        .erase_personal_data(&caller, id, idempotency)
        .await?;
    Ok(CommandReply {
        status: StatusCode::OK,
        body: outcome.into(),
    })
}
