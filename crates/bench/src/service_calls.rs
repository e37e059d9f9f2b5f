//! Requests the scenarios make around their measurements: a token of a role, one case, the
//! wait for the projections to catch up, the count of cases. Shared by the full set
//! (`main.rs`) and the console set (`console.rs`).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::body::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::client::{Call, Connection};
use crate::load;

/// A new officer token, issued with the admin token.
pub async fn officer_token(connection: &mut Connection, admin: &str) -> anyhow::Result<String> {
    token_for_role(connection, admin, "officer").await
}

/// A new token of `role` (not `partner`, which needs a department), issued with the admin
/// token.
pub async fn token_for_role(
    connection: &mut Connection,
    admin: &str,
    role: &str,
) -> anyhow::Result<String> {
    let body =
        Bytes::from(json!({"name": format!("load-benchmark {role}"), "role": role}).to_string());
    let reply = connection
        .send(&Call::post("/v1/tokens", admin, body))
        .await?;
    anyhow::ensure!(
        reply.status == StatusCode::CREATED,
        "issuing the {role}'s token answered {}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    let value: Value = serde_json::from_slice(&reply.body).context("the token answer")?;
    value["token"]
        .as_str()
        .map(str::to_owned)
        .context("the token answer has no token")
}

/// Opens one case as `officer`; its id.
pub async fn open_one_case(connection: &mut Connection, officer: &str) -> anyhow::Result<String> {
    let reply = connection
        .send(&Call::post(
            "/v1/cases",
            officer,
            load::open_case_body(usize::MAX / 2, 1),
        ))
        .await?;
    anyhow::ensure!(
        reply.status == StatusCode::CREATED,
        "opening a case answered {}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    load::case_id(&reply.body).context("the answer names no case")
}

/// Waits until the projections have caught up with the log, so that one scenario's background
/// work does not run into the next one's measurement.
pub async fn settle(connection: &mut Connection, admin: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let reply = connection.send(&Call::get("/readyz", None)).await?;
    let value: Value = serde_json::from_slice(&reply.body).context("the /readyz answer")?;
    let head = value["head"].as_u64().context("/readyz names no head")?;
    let path = format!("/v1/cases?limit=1&min_position={head}");
    loop {
        let reply = connection.send(&Call::get(&path, Some(admin))).await?;
        if reply.status == StatusCode::OK {
            return Ok(());
        }
        anyhow::ensure!(
            reply.status == StatusCode::SERVICE_UNAVAILABLE
                && started.elapsed() < Duration::from_secs(300),
            "the case lists did not catch up with position {head}: {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
}

/// How many cases the service holds.
pub async fn count_cases(connection: &mut Connection, admin: &str) -> anyhow::Result<u64> {
    let reply = connection
        .send(&Call::get("/v1/stats", Some(admin)))
        .await?;
    let value: Value = serde_json::from_slice(&reply.body).context("the /v1/stats answer")?;
    value["cases"]
        .as_u64()
        .context("/v1/stats has no case count")
}
