//! The case list (every filter and the search of contract §4, a page at a time; htmx asks for
//! the results alone when a filter changes) and opening a case (errors beside their fields).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use caseledger_app::{search_text_problem, AppError, CaseFilter, Cursor};
use caseledger_domain::{CaseStatus, Category, Rejection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::forms::{form_errors, FormError, OpenCaseForm, Reading, Refusal};
use crate::pages::render::render_page;
use crate::session::{SignedForm, SignedIn};
use crate::state::ConsoleState;
use crate::views::{CaseRow, CaseTable, Choices};

/// Cases on one page of the list.
const LIST_PAGE: usize = 50;

/// The list's filters as the filter form sends them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ListFilters {
    pub status: String,
    pub category: String,
    pub assignee: String,
    pub department: String,
    pub overdue: String,
    pub region: String,
    pub opened_from: String,
    pub opened_to: String,
    pub q: String,
    pub cursor: String,
}

impl ListFilters {
    /// The app's filter and cursor, or the errors beside the filter fields.
    fn read(&self, zone: chrono_tz::Tz) -> Result<(CaseFilter, Option<Cursor>), Vec<FormError>> {
        let mut reading = Reading::default();
        let status = (!self.status.is_empty())
            .then(|| reading.choice::<CaseStatus>("status", &self.status))
            .flatten();
        let category = (!self.category.is_empty())
            .then(|| reading.choice::<Category>("category", &self.category))
            .flatten();
        let department = reading.department("department", &self.department);
        let overdue = match self.overdue.as_str() {
            "" => None,
            "yes" => Some(true),
            "no" => Some(false),
            _ => {
                reading
                    .errors
                    .push(FormError::keyed("overdue", "error-choose"));
                None
            }
        };
        let opened_after = reading.local_day("opened_from", &self.opened_from, zone, false);
        let opened_before = reading.local_day("opened_to", &self.opened_to, zone, true);
        let q = self.q.trim();
        if let Some(problem) = search_text_problem(q) {
            reading.errors.push(FormError {
                field: "q".into(),
                key: Some("error-search"),
                message: problem,
            });
        }
        let cursor = match self.cursor.as_str() {
            "" => None,
            text => {
                let cursor = Cursor::decode(text);
                if cursor.is_none() {
                    reading
                        .errors
                        .push(FormError::keyed("cursor", "error-choose"));
                }
                cursor
            }
        };
        let text = |value: &str| {
            let value = value.trim();
            (!value.is_empty()).then(|| value.to_owned())
        };
        reading.finish(|| {
            Some((
                CaseFilter {
                    status,
                    category,
                    assignees: text(&self.assignee).into_iter().collect(),
                    department,
                    overdue,
                    region: text(&self.region),
                    opened_after,
                    opened_before,
                    q: text(q),
                },
                cursor,
            ))
        })
    }

    /// The query of the next page: these filters with `cursor`.
    fn with_cursor(&self, cursor: String) -> String {
        serde_html_form::to_string(ListFilters {
            cursor,
            ..self.clone()
        })
        .unwrap_or_default()
    }
}

#[derive(Debug, Serialize)]
struct ListPage {
    filters: ListFilters,
    errors: Vec<FormError>,
    cases: CaseTable,
    next_query: Option<String>,
    first_page: bool,
    choices: Choices,
}

/// `GET /console/cases`: the whole page, or with `HX-Request` the results alone.
pub async fn list(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let filters: ListFilters = serde_html_form::from_str(query.as_deref().unwrap_or_default())
        .map_err(|_| ConsoleError::BadForm)?;
    let wording = state.wording(signed_in.visitor.lang);
    let (status, errors, cases, next_query) = match filters.read(state.config.timezone) {
        Ok((filter, cursor)) => {
            let page = state
                .app
                .list_cases(signed_in.caller(), filter, cursor, LIST_PAGE)
                .await?;
            let next_query = page
                .next_cursor
                .map(|cursor| filters.with_cursor(cursor.encode()));
            let rows: Vec<CaseRow> = page
                .items
                .iter()
                .map(|case| CaseRow::new(case, None, wording))
                .collect();
            (StatusCode::OK, Vec::new(), rows, next_query)
        }
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, Vec::new(), None),
    };
    let partial = headers.contains_key("hx-request") && !headers.contains_key("hx-boosted");
    let page = ListPage {
        first_page: filters.cursor.is_empty(),
        filters,
        errors,
        cases: CaseTable::new(&cases, false, wording),
        next_query,
        choices: Choices::new(state.app.policy()),
    };
    let template = if partial {
        "case_results.html"
    } else {
        "cases.html"
    };
    render_page(&state, status, template, &signed_in.chrome("cases"), page)
}

#[derive(Debug, Serialize)]
struct OpenCasePage {
    form: OpenCaseForm,
    errors: Vec<FormError>,
    alert_key: Option<String>,
    choices: Choices,
    may_override_credit_code: bool,
}

/// The open-case form: empty, or as filled in with what the service refused.
fn open_case_page(
    state: &ConsoleState,
    signed_in: &SignedIn,
    mut form: OpenCaseForm,
    refused: Option<Refusal>,
) -> Result<Response, ConsoleError> {
    // Every rendering of the form gets its own key: posting it twice opens one case.
    form.idempotency_key = Uuid::new_v4().to_string();
    let (status, errors, alert_key) = match refused {
        Some(refusal) => (refusal.status, refusal.errors, refusal.alert_key),
        None => (StatusCode::OK, Vec::new(), None),
    };
    let page = OpenCasePage {
        form,
        errors,
        alert_key,
        choices: Choices::new(state.app.policy()),
        may_override_credit_code: matches!(
            signed_in.caller().role,
            caseledger_domain::Role::Supervisor | caseledger_domain::Role::Admin
        ),
    };
    render_page(
        state,
        status,
        "open_case.html",
        &signed_in.chrome("new"),
        page,
    )
}

/// `GET /console/cases/new`.
pub async fn new_case(
    State(state): State<ConsoleState>,
    signed_in: SignedIn,
) -> Result<Response, ConsoleError> {
    open_case_page(&state, &signed_in, OpenCaseForm::default(), None)
}

/// `POST /console/cases`: opens the case and shows it, or shows the form again with what was
/// typed and the errors beside their fields.
pub async fn open_case(
    State(state): State<ConsoleState>,
    form: SignedForm<OpenCaseForm>,
) -> Result<Response, ConsoleError> {
    let SignedForm {
        by: signed_in,
        fields,
        posted,
    } = form;
    let (input, mut errors) = fields.read();
    if !errors.is_empty() {
        // Some fields could not be read: the service checks the rest, so that every error
        // shows at once; nothing is written.
        if let Err(AppError::Rejected(Rejection::Invalid(more))) =
            state.app.check_open_case(signed_in.caller(), &input)
        {
            let read: Vec<String> = errors.iter().map(|error| error.field.clone()).collect();
            errors.extend(
                form_errors(&more)
                    .into_iter()
                    .filter(|error| !read.contains(&error.field)),
            );
        }
        return open_case_page(&state, &signed_in, fields, Some(Refusal::unread(errors)));
    }
    let idempotency = posted.idempotency(&fields.idempotency_key);
    match state
        .app
        .open_case(signed_in.caller(), input, idempotency)
        .await
    {
        Ok(outcome) => Ok(Redirect::to(&format!(
            "/console/cases/{}?done=opened",
            outcome.case_id.0
        ))
        .into_response()),
        Err(error) => open_case_page(&state, &signed_in, fields, Some(Refusal::of(error)?)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use std::sync::Arc;

    use super::*;
    use crate::i18n::{Catalogs, Lang};
    use crate::templates::{Chrome, Person, Templates};

    /// What rendering the case list costs, part by part: `cargo test --release -p
    /// caseledger-console -- --ignored --nocapture list_rendering_cost`. Prints; asserts
    /// nothing about time (docs/benchmarks.md keeps the figures).
    #[test]
    #[ignore = "a measurement, run by hand"]
    fn list_rendering_cost() {
        let catalogs = Arc::new(Catalogs::load().unwrap());
        let templates = Templates::load(Arc::clone(&catalogs), chrono_tz::Asia::Shanghai).unwrap();
        let row = CaseRow {
            id: uuid::Uuid::now_v7().to_string(),
            title: "水泥厂粉尘岗位未配发防尘口罩".into(),
            status: caseledger_domain::CaseStatus::Investigating,
            status_label: "调查中".into(),
            category_label: "劳动防护用品不足".into(),
            assignee: Some("li.ming".into()),
            employer: "绵阳某水泥有限公司".into(),
            opened_at: Some(chrono::Utc::now()),
            opened_day: "2026-12-06".into(),
            deadline: Some(chrono::Utc::now()),
            deadline_shown: "2026-12-25 当日结束前".into(),
            overdue: false,
            urgency: None,
            urgency_label: String::new(),
        };
        let wording = crate::views::Wording {
            catalogs: &catalogs,
            lang: Lang::ZhCn,
            zone: chrono_tz::Asia::Shanghai,
        };
        let rows = vec![row; 50];
        let started = std::time::Instant::now();
        for _ in 0..2000 {
            std::hint::black_box(CaseTable::new(&rows, false, wording));
        }
        println!("50 rows written: {:?}", started.elapsed() / 2000);
        let page = ListPage {
            filters: ListFilters::default(),
            errors: Vec::new(),
            cases: CaseTable::new(&rows, false, wording),
            next_query: Some("cursor=abc".into()),
            first_page: true,
            choices: Choices::new(&caseledger_domain::Policy::default()),
        };
        let chrome = Chrome {
            lang: Lang::ZhCn,
            person: Some(Person {
                name: "李明".into(),
                login: "li.ming".into(),
                role: "officer".into(),
                department: None,
            }),
            form_token: "token".into(),
            section: "cases",
            path: "/console/cases".into(),
        };
        for template in ["cases.html", "case_results.html"] {
            let runs = 2000;
            let started = std::time::Instant::now();
            let mut bytes = 0;
            for _ in 0..runs {
                bytes += templates.render(template, &chrome, &page).unwrap().len();
            }
            let each = started.elapsed() / runs;
            println!(
                "{template}: {each:?} a render, {} bytes",
                bytes / runs as usize
            );
        }
        let started = std::time::Instant::now();
        for _ in 0..2000 {
            std::hint::black_box(minijinja::Value::from_serialize(&page));
        }
        println!(
            "the page as a template value: {:?}",
            started.elapsed() / 2000
        );
    }
}
