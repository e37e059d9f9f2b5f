//! The console's people and what a benchmark does as them: their accounts made and signed in
//! over plain HTTP as a browser does (setup link, form token, form cookie, `Origin`, session
//! cookie), a page read under a session, the answers checked, and the measured pairs — a
//! console page beside the API reads that give the same data. Shared by the officer's pages
//! ([`crate::console`]) and the supervisor's and auditor's ([`crate::workbench`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use hyper::body::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::client::{Call, Connection, Reply};
use crate::load::Workload;

/// Long, not a common password; every person of the benchmark has it.
const PASSWORD: &str = "bench officer's long passphrase 2026";

/// A console account the benchmark makes and signs in.
#[derive(Debug, Clone, Copy)]
pub struct Person {
    pub login: &'static str,
    pub name: &'static str,
    pub role: &'static str,
}

/// One measured request: a console page or an API read.
#[derive(Debug, Clone)]
pub struct Target {
    pub label: String,
    pub workload: Workload,
    /// The API token, or `None` for a console page (the session cookie is in the workload).
    pub token: Option<Arc<String>>,
}

impl Target {
    /// `GET path` under the console session whose `Cookie` header is `cookie`.
    pub fn page(path: String, cookie: &Arc<String>) -> Target {
        Target {
            label: format!("GET {path}"),
            workload: Workload::Page {
                path,
                cookie: Arc::clone(cookie),
            },
            token: None,
        }
    }

    /// `GET path` with the API token `token`.
    pub fn api(path: String, token: &Arc<String>) -> Target {
        Target {
            label: format!("GET {path}"),
            workload: Workload::Query { path },
            token: Some(Arc::clone(token)),
        }
    }
}

/// A console page and the API reads that give the same data.
pub struct Pair {
    pub name: &'static str,
    pub console: Target,
    pub api: Vec<Target>,
    pub note: &'static str,
    /// At most this many connections for both sides (`None`: the run's): a read the API lets
    /// one token run only so many of at once (statistics: 2) is measured at that concurrency.
    pub connections: Option<usize>,
}

/// Makes `person`'s console account with the admin token and signs them in as a browser does;
/// returns the `Cookie` header of their session (`caseledger_session=cls_…`).
pub async fn sign_in(
    connection: &mut Connection,
    admin: &str,
    address: SocketAddr,
    person: Person,
) -> anyhow::Result<String> {
    let origin = format!("http://{address}");
    let body = json!({"login": person.login, "name": person.name, "role": person.role});
    let reply = connection
        .send(&Call::post(
            "/v1/users",
            admin,
            Bytes::from(body.to_string()),
        ))
        .await?;
    expect(
        &reply,
        StatusCode::CREATED,
        &format!("creating the console {}", person.role),
    )?;
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
        ("password", PASSWORD),
        ("password_again", PASSWORD),
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
        &format!("choosing the {}'s password", person.role),
    )?;

    let (sign_in_cookie, form_token) =
        form_of(connection, "/console/sign-in", Some(&form_cookie)).await?;
    let fields = [
        ("_form_token", form_token.as_str()),
        ("login", person.login),
        ("password", PASSWORD),
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
    expect(
        &reply,
        StatusCode::SEE_OTHER,
        &format!("signing the {} in", person.role),
    )?;
    anyhow::ensure!(
        reply.location.as_deref() == Some("/console/"),
        "signing in led to {:?}, not the work queue",
        reply.location
    );
    reply
        .set_cookies
        .iter()
        .find(|pair| pair.starts_with("caseledger_session=cls_"))
        .cloned()
        .context("signing in set no caseledger_session cookie")
}

/// Gets a page with a form: the cookies a browser would then send (`cookie` updated with any
/// it set) and the form's `_form_token`.
async fn form_of(
    connection: &mut Connection,
    path: &str,
    cookie: Option<&str>,
) -> anyhow::Result<(String, String)> {
    let reply = connection.send(&Call::page(path, cookie)).await?;
    expect(&reply, StatusCode::OK, path)?;
    let mut jar: BTreeMap<String, String> = BTreeMap::new();
    for pair in cookie
        .into_iter()
        .flat_map(|cookie| cookie.split("; "))
        .chain(reply.set_cookies.iter().map(String::as_str))
    {
        if let Some((name, value)) = pair.split_once('=') {
            jar.insert(name.to_owned(), value.to_owned());
        }
    }
    let cookies: Vec<String> = jar
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let page = String::from_utf8_lossy(&reply.body);
    let token = hidden_value(&page, "_form_token")
        .with_context(|| format!("{path} has no _form_token field"))?;
    Ok((cookies.join("; "), token))
}

/// The `value` of the `<input … name="NAME" value="…">` of `page`, its entities decoded.
fn hidden_value(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!("name=\"{name}\""))?;
    let rest = &page[at..];
    let start = rest.find("value=\"")? + "value=\"".len();
    let end = rest[start..].find('"')? + start;
    Some(
        rest[start..end]
            .replace("&#x2f;", "/")
            .replace("&#x3d;", "=")
            .replace("&#x2b;", "+")
            .replace("&amp;", "&"),
    )
}

fn encode_form(fields: &[(&str, &str)]) -> Bytes {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.extend_pairs(fields);
    Bytes::from(serializer.finish())
}

pub fn expect(reply: &Reply, status: StatusCode, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        reply.status == status,
        "{what} answered {} (expected {status}): {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
            .chars()
            .take(400)
            .collect::<String>()
    );
    Ok(())
}

pub fn expect_success(reply: &Reply, what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        reply.status.is_success(),
        "{what} answered {}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
            .chars()
            .take(400)
            .collect::<String>()
    );
    Ok(())
}

pub async fn page_text(
    connection: &mut Connection,
    path: &str,
    session: &str,
) -> anyhow::Result<String> {
    let reply = connection.send(&Call::page(path, Some(session))).await?;
    expect(&reply, StatusCode::OK, path)?;
    Ok(String::from_utf8_lossy(&reply.body).into_owned())
}
