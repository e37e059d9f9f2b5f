//! The supervisor's dashboard and the auditor's history pages beside their JSON API peers
//! (issue 14: "server time of the dashboard at 100,000 cases and of the auditor's history page
//! of a 1,000-event case … against the JSON API in one run; both within 2×"). Part of the
//! `--only console` set, measured in the same run as the officer's pages.
//!
//! It makes a console supervisor and auditor (and a token of each role for the API peers),
//! writes [`LONG_CASE_NOTES`] notes on one case so it has 1,000 events, checks that each page
//! holds what its peer answers, and gives [`crate::console`] the pairs to measure: the
//! dashboard for this year (in the office's zone, `Asia/Shanghai`) against `GET /v1/stats` for
//! the same instants; the history page of the long case against `GET /v1/cases/{id}/history`
//! with the same paging (the first page, the largest page the console offers, and the last).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{Datelike, FixedOffset, Utc};
use hyper::body::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::client::{Call, Connection};
use crate::people::{expect, expect_success, page_text, sign_in, Pair, Person, Target};

/// Notes written on the long case: with its opening, 1,000 events.
const LONG_CASE_NOTES: u64 = 999;
/// Notes between two progress lines.
const NOTES_STEP: u64 = 250;
/// The console's largest history page (`MAX_HISTORY_PAGE` of the auditor's pages).
const LARGEST_HISTORY_PAGE: u64 = 500;
/// Whole-log reads (statistics among them) the API runs at once for one token; more answer 429.
const STATS_READS_PER_TOKEN: usize = 2;
/// The office's offset from UTC: the service's default zone, `Asia/Shanghai`, keeps no summer
/// time.
const OFFICE_OFFSET_SECONDS: i32 = 8 * 3600;

const SUPERVISOR: Person = Person {
    login: "bench.supervisor",
    name: "Bench Supervisor",
    role: "supervisor",
};
const AUDITOR: Person = Person {
    login: "bench.auditor",
    name: "Bench Auditor",
    role: "auditor",
};

/// What the supervisor's and the auditor's pages are measured with.
pub struct Workbench {
    supervisor_session: Arc<String>,
    supervisor_token: Arc<String>,
    auditor_session: Arc<String>,
    auditor_token: Arc<String>,
    /// The case with 1,000 events.
    long_case: String,
    /// This year in the office: `(year, from, to)`, the instants as RFC 3339 with the office's
    /// offset.
    year: (i32, String, String),
}

/// Makes the supervisor and the auditor, signs them in, and gives one of `cases` its 1,000
/// events.
pub async fn prepare(
    connection: &mut Connection,
    admin: &str,
    address: SocketAddr,
    cases: &[String],
) -> anyhow::Result<Workbench> {
    let supervisor_session = sign_in(connection, admin, address, SUPERVISOR).await?;
    let auditor_session = sign_in(connection, admin, address, AUDITOR).await?;
    let supervisor_token =
        crate::service_calls::token_for_role(connection, admin, "supervisor").await?;
    let auditor_token = crate::service_calls::token_for_role(connection, admin, "auditor").await?;
    // Not a case of the officer's queue (those are spread from the first one on).
    let long_case = cases
        .get(1)
        .context("at least two cases are needed")?
        .clone();
    let started = std::time::Instant::now();
    for number in 1..=LONG_CASE_NOTES {
        let note = json!({
            "text": format!("Visit {number}: the dust masks of the kiln line were checked against the issue register."),
        });
        let path = format!("/v1/cases/{long_case}/notes");
        let reply = connection
            .send(&Call::post(&path, admin, Bytes::from(note.to_string())))
            .await?;
        expect_success(&reply, &format!("note {number} on {long_case}"))?;
        if number % NOTES_STEP == 0 || number == LONG_CASE_NOTES {
            eprintln!(
                "the long case: {} of {} events in {:.0} s",
                number + 1,
                LONG_CASE_NOTES + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(Workbench {
        supervisor_session: Arc::new(supervisor_session),
        supervisor_token: Arc::new(supervisor_token),
        auditor_session: Arc::new(auditor_session),
        auditor_token: Arc::new(auditor_token),
        long_case,
        year: office_year()?,
    })
}

/// This year in the office, and the instants that bound it.
fn office_year() -> anyhow::Result<(i32, String, String)> {
    let offset = FixedOffset::east_opt(OFFICE_OFFSET_SECONDS).context("the office's offset")?;
    let year = Utc::now().with_timezone(&offset).year();
    Ok((
        year,
        format!("{year}-01-01T00:00:00+08:00"),
        format!("{}-01-01T00:00:00+08:00", year + 1),
    ))
}

impl Workbench {
    fn dashboard_path(&self) -> String {
        let (year, _, _) = &self.year;
        format!("/console/dashboard?period=range&from={year}-01-01&to={year}-12-31")
    }

    fn stats_path(&self) -> String {
        let (_, from, to) = &self.year;
        format!(
            "/v1/stats?from={}&to={}",
            from.replace('+', "%2B"),
            to.replace('+', "%2B")
        )
    }

    /// The history pages measured, each as `(console query, API query)`.
    fn history_pages(&self) -> [(String, String); 3] {
        let last = LONG_CASE_NOTES + 1 - 100;
        [
            (String::new(), "?limit=100".to_owned()),
            (
                format!("?limit={LARGEST_HISTORY_PAGE}"),
                format!("?limit={LARGEST_HISTORY_PAGE}"),
            ),
            (
                format!("?after_version={last}&limit=100"),
                format!("?after_version={last}&limit=100"),
            ),
        ]
    }

    /// The pairs to measure.
    pub fn pairs(&self) -> Vec<Pair> {
        let history = |query: &str| {
            Target::page(
                format!("/console/audit/cases/{}/history{query}", self.long_case),
                &self.auditor_session,
            )
        };
        let history_api = |query: &str| {
            Target::api(
                format!("/v1/cases/{}/history{query}", self.long_case),
                &self.auditor_token,
            )
        };
        let [first, largest, last] = self.history_pages();
        vec![
            Pair {
                name: "supervisors' dashboard",
                console: Target::page(self.dashboard_path(), &self.supervisor_session),
                api: vec![Target::api(self.stats_path(), &self.supervisor_token)],
                note: "this year's figures of every case, with the charts; 2 connections, as many as the API lets one token scan at once",
                connections: Some(STATS_READS_PER_TOKEN),
            },
            Pair {
                name: "auditor's history, first page",
                console: history(&first.0),
                api: vec![history_api(&first.1)],
                note: "100 of the case's 1,000 events, with prev_hash and hash",
                connections: None,
            },
            Pair {
                name: "auditor's history, 500 events",
                console: history(&largest.0),
                api: vec![history_api(&largest.1)],
                note: "the largest page the console offers",
                connections: None,
            },
            Pair {
                name: "auditor's history, last page",
                console: history(&last.0),
                api: vec![history_api(&last.1)],
                note: "events 901–1,000",
                connections: None,
            },
        ]
    }
}

/// Before measuring: the dashboard shows `/v1/stats`' case count and its charts, and each
/// history page shows every hash its API peer answers (a fast empty page would prove nothing).
pub async fn check(connection: &mut Connection, workbench: &Workbench) -> anyhow::Result<()> {
    let stats_path = workbench.stats_path();
    let reply = connection
        .send(&Call::get(&stats_path, Some(&workbench.supervisor_token)))
        .await?;
    expect(&reply, StatusCode::OK, &stats_path)?;
    let stats: Value = serde_json::from_slice(&reply.body).context("the /v1/stats answer")?;
    let cases = stats["cases"]
        .as_u64()
        .context("/v1/stats has no case count")?;
    let dashboard = page_text(
        connection,
        &workbench.dashboard_path(),
        &workbench.supervisor_session,
    )
    .await?;
    anyhow::ensure!(
        cases > 0 && dashboard.contains(&cases.to_string()) && dashboard.contains("<svg"),
        "the dashboard does not show the {cases} cases /v1/stats counts, with its charts"
    );

    for (page_query, api_query) in workbench.history_pages() {
        let api_path = format!("/v1/cases/{}/history{api_query}", workbench.long_case);
        let reply = connection
            .send(&Call::get(&api_path, Some(&workbench.auditor_token)))
            .await?;
        expect(&reply, StatusCode::OK, &api_path)?;
        let history: Value = serde_json::from_slice(&reply.body).context("a history answer")?;
        let hashes: Vec<&str> = history["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|event| event["hash"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        anyhow::ensure!(
            hashes.len() >= 100,
            "{api_path} answers {} events",
            hashes.len()
        );
        let page_path = format!(
            "/console/audit/cases/{}/history{page_query}",
            workbench.long_case
        );
        let page = page_text(connection, &page_path, &workbench.auditor_session).await?;
        let shown = hashes.iter().filter(|hash| page.contains(**hash)).count();
        anyhow::ensure!(
            shown == hashes.len(),
            "{page_path} shows {shown} of the {} hashes {api_path} answers",
            hashes.len()
        );
    }
    Ok(())
}
