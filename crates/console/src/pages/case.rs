//! The case page — facts, employer, complainant (for those allowed), letters with their
//! deadlines, escalation, sharing, referrals, feedback, notes, and the timeline — and every
//! command of contract §4 as a form on it. Each form sends the version it was shown with: when
//! the case moved on meanwhile, nothing is written and the page shows the new state with the
//! form as it was filled in, saying so.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use caseledger_app::{letter_document_readable, TimeTravel};
use caseledger_domain::{Case, CaseId, LetterId, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::forms::{CommandForm, CommandName, FormError, LetterCommandName, Refusal};
use crate::pages::render::render_page;
use crate::session::{SignedForm, SignedIn};
use crate::state::ConsoleState;
use crate::views::{
    tiers_above, timeline, AttachmentShown, Choices, ComplainantShown, LetterShown, TimelineEntry,
    TIMELINE_LIMIT,
};

/// A form that was posted and not carried out, shown again on the page.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    /// Which form: a command's name, or a letter command's and the letter's id
    /// (`answer-<letter id>`, `service-…`, `follow_up-…`).
    pub form: String,
    /// What was typed.
    pub values: CommandForm,
    /// Errors beside the fields.
    pub errors: Vec<FormError>,
    /// A message above the form (catalog key).
    pub alert_key: Option<String>,
    /// Whether the case had moved on since the form was shown.
    pub stale: bool,
}

/// Which forms the page offers the reader (the service still checks every command).
#[derive(Debug, Clone, Serialize)]
struct Offered {
    work: bool,
    reopen: bool,
    feedback: bool,
    /// Approving and returning drafted letters.
    sign_off: bool,
    /// Erasing the complainant's personal data (a page of its own that asks to confirm).
    erase: bool,
}

#[derive(Debug, Serialize)]
struct CasePage<'a> {
    case: &'a Case,
    id: String,
    status: caseledger_domain::CaseStatus,
    deadline: Option<chrono::DateTime<chrono::Utc>>,
    overdue: bool,
    closed: bool,
    letters: Vec<LetterShown>,
    attachments: Vec<AttachmentShown>,
    /// The files a service may name as its receipt: `[id, name]`, the files not withdrawn.
    receipt_choices: Vec<[String; 2]>,
    /// The ids of the files the reader may download.
    downloadable: Vec<String>,
    /// For a partner department: the event that shared the case with it (what follows it is
    /// the timeline it sees).
    shared_event: Option<TimelineEntry>,
    complainant: ComplainantShown,
    timeline: Vec<TimelineEntry>,
    events: usize,
    timeline_limit: usize,
    chain_position: u64,
    chain_hash: String,
    choices: Choices,
    tiers_above: Vec<&'static str>,
    offered: Offered,
    /// The form rendered open because the reader asked for it (`?form=`), if any; every other
    /// form but one sent back is folded and fetched when opened.
    open_form: Option<String>,
    /// The version the forms send: the one the reader was shown (`?version=` of a form
    /// fetched into a page shown earlier), else the case's.
    form_version: u64,
    /// Now in the office's zone, as a `datetime-local` field takes it (the default time of a
    /// service or a visit, and the latest allowed).
    now_local: String,
    /// A fresh idempotency key for each form on the page.
    keys: BTreeMap<String, String>,
    submitted: Option<Submitted>,
    done: Option<String>,
}

/// The case id of a path, or the page does not exist.
pub(super) fn case_id(text: &str) -> Result<CaseId, ConsoleError> {
    Uuid::try_parse(text)
        .map(CaseId)
        .map_err(|_| ConsoleError::PageNotFound)
}

/// Renders the case page as it stands now.
async fn case_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    id: CaseId,
    status: StatusCode,
    submitted: Option<Submitted>,
    shown: Shown,
) -> Result<Response, ConsoleError> {
    let caller = signed_in.caller();
    let view = state.app.case(caller, id, TimeTravel::Latest).await?;
    let now = state.app.now();
    let case = &view.case;
    // Only the newest events of the timeline are read, however long the history.
    let access = state.app.history_access(caller, id).await?;
    let newest = state
        .app
        .history_page(
            &access,
            case.version.saturating_sub(TIMELINE_LIMIT as u64),
            TIMELINE_LIMIT,
        )
        .await?;
    let mut keys = BTreeMap::new();
    for name in [
        "assign",
        "assign_me",
        "findings",
        "letters",
        "escalate",
        "refer",
        "feedback",
        "notes",
        "close",
        "reopen",
    ] {
        keys.insert(name.to_owned(), Uuid::new_v4().to_string());
    }
    for letter in &case.letters {
        let id = letter.letter_id.0;
        keys.insert(format!("follow_up-{id}"), Uuid::new_v4().to_string());
        if letter.served.is_none() {
            keys.insert(format!("service-{id}"), Uuid::new_v4().to_string());
        }
        if letter.is_open() {
            keys.insert(format!("answer-{id}"), Uuid::new_v4().to_string());
        }
    }
    for attachment in case
        .attachments
        .iter()
        .filter(|file| file.withdrawn.is_none())
    {
        keys.insert(
            format!("withdraw-{}", attachment.attachment_id.0),
            Uuid::new_v4().to_string(),
        );
    }
    for draft in case.drafts.iter().filter(|draft| draft.returned.is_none()) {
        let id = draft.letter_id.0;
        keys.insert(format!("approve-{id}"), Uuid::new_v4().to_string());
        keys.insert(format!("return-{id}"), Uuid::new_v4().to_string());
    }
    let works = matches!(caller.role, Role::Officer | Role::Supervisor | Role::Admin);
    // A partner sees the case from the event that shared it with its department on: that
    // event heads its page, however long the history since.
    let shared_event = if access.hide_internal {
        let first = state
            .app
            .history_page(&access, access.from_version.saturating_sub(1), 1)
            .await?;
        timeline(&first.events).into_iter().next()
    } else {
        None
    };
    let attachments = state
        .app
        .attachments(caller, id)
        .await?
        .into_iter()
        .map(|view| AttachmentShown::new(view, caller.role))
        .collect::<Vec<_>>();
    let downloadable = attachments
        .iter()
        .filter(|file| file.downloadable)
        .map(|file| file.attachment_id.clone())
        .collect();
    let receipt_choices = attachments
        .iter()
        .filter(|file| file.withdrawn.is_none())
        .map(|file| {
            let name = file
                .filename
                .clone()
                .unwrap_or_else(|| format!("{}…", file.sha256.get(..12).unwrap_or_default()));
            [file.attachment_id.clone(), name]
        })
        .collect();
    let page = CasePage {
        id: case.id.0.to_string(),
        status: case.status(),
        deadline: case.deadline(),
        overdue: case.overdue(),
        closed: case.is_closed(),
        letters: case
            .letters
            .iter()
            .map(|letter| LetterShown::new(letter, now, letter_document_readable(caller, letter)))
            .collect(),
        attachments,
        receipt_choices,
        complainant: view.complainant.clone().into(),
        timeline: timeline(&newest.events),
        events: usize::try_from(case.version).unwrap_or(usize::MAX),
        timeline_limit: TIMELINE_LIMIT,
        chain_position: view.chain.position,
        chain_hash: view.chain.hash.clone(),
        choices: Choices::new(state.app.policy()),
        tiers_above: tiers_above(case),
        offered: Offered {
            work: works,
            reopen: matches!(caller.role, Role::Supervisor | Role::Admin),
            feedback: caller.role == Role::Partner,
            sign_off: matches!(caller.role, Role::Supervisor | Role::Admin),
            erase: caller.role == Role::Admin
                && !matches!(view.complainant, caseledger_app::ComplainantView::Erased),
        },
        shared_event,
        downloadable,
        open_form: shown.open_form,
        // A version ahead of the case's is no version the reader saw.
        form_version: shown
            .form_version
            .filter(|version| *version <= case.version)
            .unwrap_or(case.version),
        now_local: now
            .with_timezone(&state.config.timezone)
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
        keys,
        submitted,
        done: shown.done,
        case,
    };
    render_page(state, status, "case.html", &signed_in.chrome("cases"), page)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CaseQuery {
    done: String,
    /// A form to show open.
    form: String,
    /// The version the page that asks for the form was showing.
    version: Option<u64>,
}

/// What a page shows besides the case: a form to open, the version its forms send, the
/// message that a command is done.
#[derive(Debug, Default)]
struct Shown {
    open_form: Option<String>,
    form_version: Option<u64>,
    done: Option<String>,
}

/// `GET /console/cases/{id}`.
pub async fn show(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let id = case_id(&id)?;
    let query: CaseQuery =
        serde_html_form::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    // Only the names of the forms: anything else is not shown.
    let done = query
        .done
        .parse::<CommandName>()
        .ok()
        .map(|_| query.done.clone())
        .or_else(|| {
            matches!(
                query.done.as_str(),
                "opened"
                    | "answer"
                    | "service"
                    | "follow_up"
                    | "approve"
                    | "return"
                    | "drafted"
                    | "attached"
                    | "withdrawn"
                    | "erased"
            )
            .then(|| query.done.clone())
        });
    // A form's name is a command's, or a letter command's with a letter id; the template
    // matches it against the forms it offers, so anything else opens nothing.
    let open_form = (!query.form.is_empty()
        && query.form.len() <= 64
        && query
            .form
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then_some(query.form);
    let shown = Shown {
        open_form,
        form_version: query.version,
        done,
    };
    case_page(&state, &signed_in, id, StatusCode::OK, None, shown).await
}

/// Runs `command` from a posted form: on success back to the case page, which then says it is
/// done; otherwise the page again with the form as filled in and what stopped it.
pub(super) async fn run(
    state: &ConsoleState,
    form: SignedForm<CommandForm>,
    id: CaseId,
    form_name: String,
    done: &str,
    command: Result<caseledger_domain::Command, Vec<FormError>>,
) -> Result<Response, ConsoleError> {
    let SignedForm {
        by: signed_in,
        fields,
        posted,
    } = form;
    let refusal = match command {
        Ok(command) => {
            let idempotency = posted.idempotency(&fields.idempotency_key);
            let version = Some(fields.version);
            match state
                .app
                .execute(signed_in.caller(), id, command, version, idempotency)
                .await
            {
                Ok(outcome) => {
                    // A letter that went for sign-off is drafted, not issued.
                    let done = if outcome.events.iter().any(|event| event == "LetterDrafted") {
                        "drafted"
                    } else {
                        done
                    };
                    return Ok(
                        Redirect::to(&format!("/console/cases/{}?done={done}", id.0))
                            .into_response(),
                    );
                }
                Err(error) => Refusal::of(error)?,
            }
        }
        Err(errors) => Refusal::unread(errors),
    };
    let shown = Submitted {
        form: form_name,
        values: fields,
        errors: refusal.errors,
        alert_key: refusal.alert_key,
        stale: refusal.stale,
    };
    case_page(
        state,
        &signed_in,
        id,
        refusal.status,
        Some(shown),
        Shown::default(),
    )
    .await
}

/// `POST /console/cases/{id}/{command}`.
pub async fn command(
    State(state): State<ConsoleState>,
    Path((id, name)): Path<(String, String)>,
    form: SignedForm<CommandForm>,
) -> Result<Response, ConsoleError> {
    let id = case_id(&id)?;
    let command_name: CommandName = name.parse().map_err(|()| ConsoleError::PageNotFound)?;
    let command = form.fields.read(command_name, state.config.timezone);
    run(&state, form, id, name.clone(), &name, command).await
}

/// `GET /console/cases/{id}/letters/{letter_id}/document`: the letter's PDF, as the API
/// serves it, for the signed-in person (the same visibility).
pub async fn letter_document(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    Path((id, letter)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let id = case_id(&id)?;
    let letter_id = Uuid::try_parse(&letter)
        .map(LetterId)
        .map_err(|_| ConsoleError::PageNotFound)?;
    let pdf = state
        .app
        .letter_pdf(signed_in.caller(), id, letter_id)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"letter-{}.pdf\"", letter_id.0),
            ),
            (header::ETAG, format!("\"{}\"", pdf.sha256)),
        ],
        pdf.bytes,
    )
        .into_response())
}

/// `POST /console/cases/{id}/letters/{letter_id}/{command}`: the answer (`response`), the
/// service (`service`), a follow-up visit (`follow-up`), or a supervisor's sign-off of a draft
/// (`approve`, `return`).
pub async fn letter_command(
    State(state): State<ConsoleState>,
    Path((id, letter, name)): Path<(String, String, String)>,
    form: SignedForm<CommandForm>,
) -> Result<Response, ConsoleError> {
    let id = case_id(&id)?;
    let letter_id = Uuid::try_parse(&letter)
        .map(LetterId)
        .map_err(|_| ConsoleError::PageNotFound)?;
    let name: LetterCommandName = name.parse().map_err(|()| ConsoleError::PageNotFound)?;
    let command = form
        .fields
        .read_letter(name, letter_id, state.config.timezone);
    let form_name = format!("{}-{}", name.form(), letter_id.0);
    run(&state, form, id, form_name, name.form(), command).await
}
