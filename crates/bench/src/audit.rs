//! `--only audit`: the auditor's history page of a 1,000-event case beside the JSON history of
//! the same case, in one run (issue 14: both within 2×).
//!
//! It opens one case and adds notes until it holds [`EVENTS`] events, makes a console auditor
//! and signs them in over plain HTTP as a browser does, checks that the history page shows the
//! API's hashes, and then measures each page and its API peers with the same connections and
//! duration, alternating over the console set's rounds. The comparison table is the console
//! set's.
//!
//! This module owns the auditor's sign-in and the audit pairs; the timing is [`crate::load`]'s.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use hyper::body::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::client::{Call, Connection};
use crate::console::{
    encode_form, expect, expect_success, form_of, measure, merge_rounds, page_text,
    print_comparison, Pair, Target,
};
use crate::load::{Bounds, Outcome, Workload};
use crate::server::Service;

/// Events of the measured case: its opening and notes.
const EVENTS: usize = 1_000;
/// The console auditor.
const AUDITOR_LOGIN: &str = "bench.auditor";
const AUDITOR_PASSWORD: &str = "bench auditor's long passphrase 2026";
/// Each pair is measured this many times, console and API alternating.
const ROUNDS: usize = 2;

/// Runs the audit set on `service`, each scenario within `bounds`.
pub async fn run(service: &Service, bounds: Bounds) -> anyhow::Result<()> {
    let address = service.address;
    let admin = Arc::new(service.admin_token.clone());
    let mut setup = Connection::open(address).await?;
    let auditor_token = Arc::new(auditor_token(&mut setup, &admin).await?);
    let case = long_case(&mut setup, &admin).await?;
    crate::service_calls::settle(&mut setup, &admin).await?;
    let session = Arc::new(sign_in_auditor(&mut setup, &admin, address).await?);
    check_history_page(&mut setup, &session, &auditor_token, &case).await?;

    let page = |path: String| Target {
        label: format!("GET {path}"),
        workload: Workload::Page {
            path,
            cookie: Arc::clone(&session),
        },
        token: None,
    };
    let api = |path: String| Target {
        label: format!("GET {path}"),
        workload: Workload::Query { path },
        token: Some(Arc::clone(&auditor_token)),
    };
    let history = format!("/console/audit/cases/{case}/history");
    let pairs = [
        Pair {
            name: "history page, 100 events",
            console: page(history.clone()),
            api: vec![api(format!("/v1/cases/{case}/history?limit=100"))],
            note: "the page's default: the first 100 events with both hashes and their data",
        },
        Pair {
            name: "history page, 500 events",
            console: page(format!("{history}?limit=500")),
            api: vec![api(format!("/v1/cases/{case}/history?limit=500"))],
            note: "the page's largest size beside the same page of JSON",
        },
        Pair {
            name: "history page vs whole history",
            console: page(history.clone()),
            api: vec![api(format!("/v1/cases/{case}/history"))],
            note: "the default page beside all 1,000 events of JSON, streamed",
        },
    ];
    println!(
        "the auditor's history page beside the JSON history: one case of {EVENTS} events, {} connections, {:?} per scenario after a {:?} warm-up, {ROUNDS} rounds alternating",
        bounds.connections, bounds.duration, bounds.warmup
    );
    crate::report::print_header();
    let mut measured: Vec<(String, Outcome)> = Vec::new();
    for round in 1..=ROUNDS {
        for pair in &pairs {
            for target in std::iter::once(&pair.console).chain(&pair.api) {
                let outcome = measure(service, target, bounds).await?;
                crate::report::print_row(&format!("[{round}] {}", target.label), &outcome, None);
                measured.push((target.label.clone(), outcome));
            }
        }
    }
    let merged = merge_rounds(measured)?;
    println!();
    print_comparison(&pairs, &merged, 1);
    Ok(())
}

/// A new auditor token, issued with the admin token.
async fn auditor_token(connection: &mut Connection, admin: &str) -> anyhow::Result<String> {
    let body = Bytes::from(json!({"name": "benchmark auditor", "role": "auditor"}).to_string());
    let reply = connection
        .send(&Call::post("/v1/tokens", admin, body))
        .await?;
    expect(&reply, StatusCode::CREATED, "issuing the auditor's token")?;
    let value: Value = serde_json::from_slice(&reply.body).context("the token answer")?;
    value["token"]
        .as_str()
        .map(str::to_owned)
        .context("the token answer has no token")
}

/// Opens a case with a complainant and adds notes until it holds [`EVENTS`] events; its id.
async fn long_case(connection: &mut Connection, admin: &str) -> anyhow::Result<String> {
    let body = json!({
        "title": "Dust masks at the kiln line",
        "category": "ppe_shortfall",
        "description": "Workers at the kiln line report that no dust masks were issued since March.",
        "source": "inspection",
        "employer": {"name": "Fucheng Building Materials Co., Ltd."},
        "complainant": {"name": "王秀英", "phone": "13912345678"}
    });
    let reply = connection
        .send(&Call::post(
            "/v1/cases",
            admin,
            Bytes::from(body.to_string()),
        ))
        .await?;
    expect(&reply, StatusCode::CREATED, "opening the measured case")?;
    let value: Value = serde_json::from_slice(&reply.body).context("the case answer")?;
    let case = value["case_id"]
        .as_str()
        .context("the case answer has no case_id")?
        .to_owned();
    let started = std::time::Instant::now();
    for number in 2..=EVENTS {
        let note = json!({
            "text": format!("Visit {number}: spoke with the line supervisor; masks were promised for Friday, the register is incomplete."),
        });
        let path = format!("/v1/cases/{case}/notes");
        let reply = connection
            .send(&Call::post(&path, admin, Bytes::from(note.to_string())))
            .await?;
        expect_success(&reply, &format!("note {number} on {case}"))?;
    }
    eprintln!(
        "seeding: {EVENTS} events on case {case} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(case)
}

/// Makes the console auditor with the admin token and signs them in as a browser does; returns
/// the `Cookie` header of their session.
async fn sign_in_auditor(
    connection: &mut Connection,
    admin: &str,
    address: SocketAddr,
) -> anyhow::Result<String> {
    let origin = format!("http://{address}");
    let body = json!({"login": AUDITOR_LOGIN, "name": "Bench Auditor", "role": "auditor"});
    let reply = connection
        .send(&Call::post(
            "/v1/users",
            admin,
            Bytes::from(body.to_string()),
        ))
        .await?;
    expect(&reply, StatusCode::CREATED, "creating the console auditor")?;
    let value: Value = serde_json::from_slice(&reply.body).context("the new user's answer")?;
    let setup_url = value["setup_url"]
        .as_str()
        .context("the new user's answer has no setup_url")?;
    let setup_path = &setup_url[setup_url
        .find("/console/setup/")
        .context("the setup_url has no /console/setup/ path")?..];
    let (form_cookie, form_token) = form_of(connection, setup_path, None).await?;
    let fields = [
        ("_form_token", form_token.as_str()),
        ("password", AUDITOR_PASSWORD),
        ("password_again", AUDITOR_PASSWORD),
    ];
    let reply = connection
        .send(&Call::form(
            setup_path,
            Some(&form_cookie),
            &origin,
            encode_form(&fields),
        ))
        .await?;
    expect(
        &reply,
        StatusCode::SEE_OTHER,
        "choosing the auditor's password",
    )?;
    let (sign_in_cookie, form_token) =
        form_of(connection, "/console/sign-in", Some(&form_cookie)).await?;
    let fields = [
        ("_form_token", form_token.as_str()),
        ("login", AUDITOR_LOGIN),
        ("password", AUDITOR_PASSWORD),
        ("next", "/console/"),
    ];
    let reply = connection
        .send(&Call::form(
            "/console/sign-in",
            Some(&sign_in_cookie),
            &origin,
            encode_form(&fields),
        ))
        .await?;
    expect(&reply, StatusCode::SEE_OTHER, "signing the auditor in")?;
    reply
        .set_cookies
        .iter()
        .find(|pair| pair.starts_with("caseledger_session=cls_"))
        .cloned()
        .context("signing in set no caseledger_session cookie")
}

/// Before measuring: the history page shows every hash of the API's page, and no complainant.
async fn check_history_page(
    connection: &mut Connection,
    session: &str,
    auditor_token: &str,
    case: &str,
) -> anyhow::Result<()> {
    let api = format!("/v1/cases/{case}/history?limit=500");
    let reply = connection
        .send(&Call::get(&api, Some(auditor_token)))
        .await?;
    expect(&reply, StatusCode::OK, &api)?;
    let value: Value = serde_json::from_slice(&reply.body).context("a history answer")?;
    let events = value["events"].as_array().context("no events")?;
    anyhow::ensure!(events.len() == 500, "{api} holds {} events", events.len());
    let page = page_text(
        connection,
        &format!("/console/audit/cases/{case}/history?limit=500"),
        session,
    )
    .await?;
    for event in events {
        let hash = event["hash"].as_str().context("an event without hash")?;
        anyhow::ensure!(
            page.contains(hash),
            "the history page lacks the hash {hash}"
        );
    }
    anyhow::ensure!(
        !page.contains("王秀英") && !page.contains("13912345678"),
        "the history page shows the complainant"
    );
    Ok(())
}
