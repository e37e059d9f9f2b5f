//! The page templates (minijinja, embedded in the binary and compiled at start) and what they
//! may call: `t("key", name=value…)` for a message in the page's language, the filters
//! `when` (a UTC time shown in the office's zone, to the minute) and `day` (its date).
//!
//! Every page extends `layout.html`, which reads `chrome` ([`Chrome`]: language, the person
//! signed in, the form token, which part of the console is open). Autoescaping is on for every
//! template, so nothing a person typed is ever markup.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fluent_bundle::{FluentArgs, FluentValue};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, ErrorKind, State};
use serde::Serialize;

use crate::i18n::{Catalogs, Lang};

/// Every template, by name. A page added to the console adds its file here.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("problem.html", include_str!("../templates/problem.html")),
    ("sign_in.html", include_str!("../templates/sign_in.html")),
    ("setup.html", include_str!("../templates/setup.html")),
    ("queue.html", include_str!("../templates/queue.html")),
    ("cases.html", include_str!("../templates/cases.html")),
    (
        "case_results.html",
        include_str!("../templates/case_results.html"),
    ),
    (
        "open_case.html",
        include_str!("../templates/open_case.html"),
    ),
    ("case.html", include_str!("../templates/case.html")),
    ("users.html", include_str!("../templates/users.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    (
        "audit_nav.html",
        include_str!("../templates/audit_nav.html"),
    ),
    (
        "audit_log.html",
        include_str!("../templates/audit_log.html"),
    ),
    (
        "audit_history.html",
        include_str!("../templates/audit_history.html"),
    ),
    (
        "audit_versions.html",
        include_str!("../templates/audit_versions.html"),
    ),
    (
        "audit_run.html",
        include_str!("../templates/audit_run.html"),
    ),
    (
        "audit_verify.html",
        include_str!("../templates/audit_verify.html"),
    ),
    (
        "audit_checkpoints.html",
        include_str!("../templates/audit_checkpoints.html"),
    ),
    ("tokens.html", include_str!("../templates/tokens.html")),
    (
        "token_revoke.html",
        include_str!("../templates/token_revoke.html"),
    ),
    ("webhooks.html", include_str!("../templates/webhooks.html")),
    ("webhook.html", include_str!("../templates/webhook.html")),
    (
        "webhook_delete.html",
        include_str!("../templates/webhook_delete.html"),
    ),
    ("erase.html", include_str!("../templates/erase.html")),
    ("erasures.html", include_str!("../templates/erasures.html")),
    ("feed.html", include_str!("../templates/feed.html")),
];

/// What the layout needs on every page.
#[derive(Debug, Clone, Serialize)]
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// The person signed in, if any.
    pub person: Option<Person>,
    /// The token this page's forms carry.
    pub form_token: String,
    /// Which part of the console the page belongs to (`queue`, `cases`, …), for the menu.
    pub section: &'static str,
    /// The path of this page, for the language switch to come back to.
    pub path: String,
}

/// The person signed in, as the layout shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// Their name.
    pub name: String,
    /// Their login.
    pub login: String,
    /// Their role (`officer`, …).
    pub role: String,
    /// A partner's department.
    pub department: Option<String>,
}

/// The compiled templates.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

/// The language a template renders in: its `chrome.lang`.
fn lang_of(state: &State<'_, '_>) -> Lang {
    state
        .lookup("chrome")
        .and_then(|chrome| chrome.get_attr("lang").ok())
        .and_then(|lang| lang.as_str().and_then(Lang::from_tag))
        .unwrap_or_default()
}

fn to_fluent(value: &Value) -> FluentValue<'static> {
    if let Some(number) = value.as_i64() {
        FluentValue::from(number)
    } else if let Some(text) = value.as_str() {
        FluentValue::from(text.to_owned())
    } else {
        FluentValue::from(value.to_string())
    }
}

/// A time as pages show it: to the minute, in the office's zone.
pub fn shown_minute(time: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    time.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A time's date as pages show it, in the office's zone.
pub fn shown_day(time: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    time.with_timezone(&zone).format("%Y-%m-%d").to_string()
}

/// A deadline as pages show it: one at the very end of a day in the office — the end of a last
/// day counted on the calendar — as that day ("2026-04-27 当日结束前"), for midnight would name
/// the day after; any other to the minute.
pub fn shown_deadline(
    time: DateTime<Utc>,
    zone: chrono_tz::Tz,
    catalogs: &Catalogs,
    lang: Lang,
) -> String {
    let local = time.with_timezone(&zone);
    let last_day = (local.time() == chrono::NaiveTime::MIN)
        .then(|| local.date_naive().pred_opt())
        .flatten();
    match last_day {
        Some(day) => {
            let mut args = FluentArgs::new();
            args.set("day", day.format("%Y-%m-%d").to_string());
            catalogs.text(lang, "deadline-end-of-day", Some(&args))
        }
        None => shown_minute(time, zone),
    }
}

/// A UTC time, as the serialiser writes one, parsed back.
fn parse_time(value: &Value) -> Result<DateTime<Utc>, minijinja::Error> {
    let text = value.as_str().ok_or_else(|| {
        minijinja::Error::new(ErrorKind::InvalidOperation, "a time must be a string")
    })?;
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| minijinja::Error::new(ErrorKind::InvalidOperation, error.to_string()))
}

impl Templates {
    /// Compiles every template; fails on the first that does not compile.
    pub fn load(catalogs: Arc<Catalogs>, zone: chrono_tz::Tz) -> anyhow::Result<Templates> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|error| anyhow::anyhow!("template {name}: {error:#}"))?;
        }
        let labels = Arc::clone(&catalogs);
        let deadlines = Arc::clone(&catalogs);
        env.add_function(
            "label",
            move |state: &State<'_, '_>, prefix: &str, value: Value| -> String {
                // A configured name without a message of its own (a department added in the
                // configuration file) is shown as it is.
                let Some(value) = value.as_str().map(ToOwned::to_owned) else {
                    return String::new();
                };
                let key = format!("{prefix}{value}");
                if labels.has(&key) {
                    labels.text(lang_of(state), &key, None)
                } else {
                    value
                }
            },
        );
        env.add_function(
            "t",
            move |state: &State<'_, '_>,
                  key: &str,
                  kwargs: Kwargs|
                  -> Result<String, minijinja::Error> {
                let mut args = FluentArgs::new();
                for name in kwargs.args() {
                    let value: Value = kwargs.get(name)?;
                    args.set(name.to_owned(), to_fluent(&value));
                }
                kwargs.assert_all_used()?;
                let args = (args.iter().next().is_some()).then_some(&args);
                Ok(catalogs.text(lang_of(state), key, args))
            },
        );
        env.add_filter(
            "when",
            move |value: Value| -> Result<String, minijinja::Error> {
                if value.is_none() || value.is_undefined() {
                    return Ok(String::new());
                }
                Ok(shown_minute(parse_time(&value)?, zone))
            },
        );
        env.add_filter(
            "due",
            move |state: &State<'_, '_>, value: Value| -> Result<String, minijinja::Error> {
                if value.is_none() || value.is_undefined() {
                    return Ok(String::new());
                }
                Ok(shown_deadline(
                    parse_time(&value)?,
                    zone,
                    &deadlines,
                    lang_of(state),
                ))
            },
        );
        env.add_filter(
            "day",
            move |value: Value| -> Result<String, minijinja::Error> {
                if value.is_none() || value.is_undefined() {
                    return Ok(String::new());
                }
                Ok(shown_day(parse_time(&value)?, zone))
            },
        );
        Ok(Templates { env })
    }

    /// Renders the template `name` with `chrome` and the page's own values as `page`.
    pub fn render(
        &self,
        name: &str,
        chrome: &Chrome,
        page: impl Serialize,
    ) -> Result<String, minijinja::Error> {
        let template = self.env.get_template(name)?;
        template.render(minijinja::context! {
            chrome => Value::from_serialize(chrome),
            page => Value::from_serialize(&page),
        })
    }
}

/// Every message key the templates name in a `t("…")` call.
#[cfg(test)]
pub(crate) fn keys_in_templates() -> Vec<(&'static str, String)> {
    let mut keys = Vec::new();
    for (name, source) in TEMPLATES {
        for quote in ['"', '\''] {
            let opening = format!("t({quote}");
            let mut from = 0;
            while let Some(at) = source[from..].find(&opening) {
                let start = from + at;
                from = start + opening.len();
                // `t(` itself, not the end of `input(` or `select(`.
                let called = source[..start]
                    .chars()
                    .next_back()
                    .is_none_or(|before| !before.is_alphanumeric() && before != '_');
                let rest = &source[from..];
                if let (true, Some(end)) = (called, rest.find(quote)) {
                    let key = &rest[..end];
                    // A key built from a prefix (`"role-" ~ role`) is checked by its own test.
                    if !key.ends_with('-') {
                        keys.push((*name, key.to_owned()));
                    }
                }
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    #[test]
    fn a_deadline_at_the_end_of_a_day_is_shown_as_that_day() {
        let catalogs = Catalogs::load().unwrap();
        let zone = chrono_tz::Asia::Shanghai;
        let end_of_27_april = "2026-04-27T16:00:00Z".parse().unwrap();
        assert_eq!(
            shown_deadline(end_of_27_april, zone, &catalogs, Lang::ZhCn),
            "2026-04-27 当日结束前"
        );
        assert_eq!(
            shown_deadline(end_of_27_april, zone, &catalogs, Lang::En),
            "by the end of 2026-04-27"
        );
        let five_pm = "2026-04-27T09:00:00Z".parse().unwrap();
        assert_eq!(
            shown_deadline(five_pm, zone, &catalogs, Lang::ZhCn),
            "2026-04-27 17:00"
        );
    }

    #[test]
    fn every_key_a_template_asks_for_is_in_the_catalogs() {
        let catalogs = Catalogs::load().unwrap();
        let keys = keys_in_templates();
        assert!(keys.len() > 10);
        let missing: Vec<_> = keys.iter().filter(|(_, key)| !catalogs.has(key)).collect();
        assert!(missing.is_empty(), "missing in the catalogs: {missing:?}");
    }

    #[test]
    fn every_value_a_template_labels_by_prefix_has_its_message() {
        use caseledger_domain::{
            CaseStatus, Category, LetterKind, Outcome, Policy, Role, Rule, Source, Tier,
            EVENT_TYPES,
        };
        let catalogs = Catalogs::load().unwrap();
        let mut keys: Vec<String> = Vec::new();
        keys.extend(
            Category::ALL
                .iter()
                .map(|v| format!("category-{}", v.as_str())),
        );
        keys.extend(Source::ALL.iter().map(|v| format!("source-{}", v.as_str())));
        keys.extend(
            CaseStatus::ALL
                .iter()
                .map(|v| format!("status-{}", v.as_str())),
        );
        keys.extend(
            Outcome::ALL
                .iter()
                .map(|v| format!("outcome-{}", v.as_str())),
        );
        keys.extend(
            LetterKind::ALL
                .iter()
                .map(|v| format!("kind-{}", v.as_str())),
        );
        keys.extend(Tier::ALL.iter().map(|v| format!("tier-{}", v.as_str())));
        keys.extend(Role::ALL.iter().map(|v| format!("role-{}", v.as_str())));
        keys.push("role-system".into());
        keys.extend(Rule::ALL.iter().map(|v| format!("rule-{}", v.code())));
        keys.extend(EVENT_TYPES.iter().map(|v| format!("event-{v}")));
        keys.extend(
            Policy::default()
                .departments
                .iter()
                .map(|v| format!("department-{v}")),
        );
        for urgency in ["overdue", "due_soon", "waiting", "no_deadline"] {
            keys.push(format!("urgency-{urgency}"));
        }
        keys.extend(
            caseledger_domain::ServiceMethod::ALL
                .iter()
                .map(|v| format!("method-{}", v.as_str())),
        );
        for from in ["served", "issued"] {
            for unit in ["working_days", "calendar_days"] {
                keys.push(format!("letter-deadline-rule-{from}-{unit}"));
            }
        }
        for state in [
            "no_answer_needed",
            "awaiting_service",
            "awaiting",
            "overdue",
            "rectified",
            "not_rectified",
        ] {
            keys.push(format!("letter-state-{state}"));
        }
        for state in ["awaiting", "returned"] {
            keys.push(format!("draft-state-{state}"));
        }
        for state in ["none", "withheld", "erased"] {
            keys.push(format!("complainant-{state}"));
        }
        for status in ["pending_setup", "active", "disabled"] {
            keys.push(format!("user-status-{status}"));
        }
        for done in [
            "opened",
            "assign",
            "findings",
            "letters",
            "answer",
            "escalate",
            "refer",
            "feedback",
            "notes",
            "close",
            "reopen",
            "service",
            "follow_up",
            "erased",
        ] {
            keys.push(format!("done-{done}"));
        }
        for status in ["active", "failing"] {
            keys.push(format!("webhook-status-{status}"));
        }
        let missing: Vec<_> = keys.iter().filter(|key| !catalogs.has(key)).collect();
        assert!(missing.is_empty(), "missing in the catalogs: {missing:?}");
    }

    #[test]
    fn times_are_shown_in_the_office_zone() {
        let templates = Templates::load(
            Arc::new(Catalogs::load().unwrap()),
            chrono_tz::Asia::Shanghai,
        )
        .unwrap();
        let shown = templates
            .env
            .render_str(
                "{{ at | when }} {{ at | day }}",
                minijinja::context! { at => "2026-12-04T18:30:00Z" },
            )
            .unwrap();
        assert_eq!(shown, "2026-12-05 02:30 2026-12-05");
    }
}
