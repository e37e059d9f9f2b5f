//! Crash tests with the real binary: `kill -9` the service while 16 clients send commands,
//! three times in a row; after each restart every acknowledged command is in the history with
//! its acknowledged version and position, the chain verifies, and the lists catch up.
//!
//! The process comes from the shared harness (`support::binary`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::support::binary::{initial_admin_token, ServeProcess};
use crate::support::valid_case_body;

/// Starts the binary on `data_dir`, and on the PostgreSQL database at `store` when given.
fn start_service(data_dir: &Path, store: Option<&str>) -> ServeProcess {
    match store {
        Some(store) => ServeProcess::start(data_dir, &["--store", store]),
        None => ServeProcess::start(data_dir, &[]),
    }
}

/// One acknowledged command: what the client was told.
#[derive(Debug, Clone)]
struct Acknowledged {
    case_id: String,
    version: u64,
    position: u64,
    text: String,
}

async fn officer_token(client: &reqwest::Client, address: &str, admin: &str) -> String {
    let response = client
        .post(format!("{address}/v1/tokens"))
        .bearer_auth(admin)
        .json(&json!({"name": "crash-test officer", "role": "officer"}))
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("token body");
    body["token"].as_str().expect("token").to_owned()
}

async fn open_cases(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    count: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let response = client
            .post(format!("{address}/v1/cases"))
            .bearer_auth(token)
            .json(&valid_case_body())
            .send()
            .await
            .expect("open request");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("open body");
        ids.push(body["case_id"].as_str().expect("case id").to_owned());
    }
    ids
}

/// 16 clients add notes until `enough` acknowledgements arrived, then the service is killed
/// while they are still sending.
async fn load_then_kill(
    service: ServeProcess,
    token: &str,
    cases: &[String],
    round: usize,
    enough: usize,
) -> Vec<Acknowledged> {
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut clients = Vec::new();
    for (index, case_id) in cases.iter().enumerate() {
        let client = client.clone();
        let address = service.address.clone();
        let token = token.to_owned();
        let case_id = case_id.clone();
        let acknowledged = Arc::clone(&acknowledged);
        clients.push(tokio::spawn(async move {
            for n in 0.. {
                let text = format!("round {round} client {index} note {n}");
                let sent = client
                    .post(format!("{address}/v1/cases/{case_id}/notes"))
                    .bearer_auth(&token)
                    .json(&json!({ "text": text }))
                    .send()
                    .await;
                let Ok(response) = sent else { return };
                if response.status() != StatusCode::OK {
                    return;
                }
                let Ok(body) = response.json::<Value>().await else {
                    return;
                };
                acknowledged.lock().await.push(Acknowledged {
                    case_id: case_id.clone(),
                    version: body["version"].as_u64().expect("version"),
                    position: body["position"].as_u64().expect("position"),
                    text,
                });
            }
        }));
    }
    // Wait for enough acknowledgements, then pull the plug mid-stream.
    for _ in 0..6000 {
        if acknowledged.lock().await.len() >= enough {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    service.kill();
    for client in clients {
        let _ = client.await;
    }
    let acknowledged = acknowledged.lock().await.clone();
    acknowledged
}

async fn check_everything_survived(
    client: &reqwest::Client,
    address: &str,
    admin: &str,
    acknowledged: &[Acknowledged],
) {
    let mut by_case: BTreeMap<&str, Vec<&Acknowledged>> = BTreeMap::new();
    for ack in acknowledged {
        by_case.entry(&ack.case_id).or_default().push(ack);
    }
    for (case_id, acks) in by_case {
        let history: Value = client
            .get(format!("{address}/v1/cases/{case_id}/history"))
            .bearer_auth(admin)
            .send()
            .await
            .expect("history request")
            .json()
            .await
            .expect("history body");
        let events = history["events"].as_array().expect("events");
        for ack in acks {
            let event = events
                .iter()
                .find(|event| event["version"].as_u64() == Some(ack.version))
                .unwrap_or_else(|| {
                    panic!(
                        "acknowledged version {} of case {case_id} is lost",
                        ack.version
                    )
                });
            assert_eq!(event["type"], "NoteAdded");
            assert_eq!(
                event["data"]["text"],
                ack.text.as_str(),
                "the acknowledged note is at its version"
            );
            assert_eq!(
                event["position"].as_u64(),
                Some(ack.position),
                "and at its position"
            );
        }
    }
    let verified: Value = client
        .get(format!("{address}/v1/audit/verify"))
        .bearer_auth(admin)
        .send()
        .await
        .expect("verify request")
        .json()
        .await
        .expect("verify body");
    assert_eq!(
        verified["ok"], true,
        "the chain verifies after the crash: {verified}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_command() {
    let data_dir = tempfile::tempdir().expect("data dir");
    let data: PathBuf = data_dir.path().to_owned();
    let client = reqwest::Client::new();
    let database = crate::support::scratch_postgres().await;
    let store = database.as_ref().map(|database| database.url());

    let service = start_service(&data, store);
    let admin = initial_admin_token(&data);
    let officer = officer_token(&client, &service.address, &admin).await;
    let cases = open_cases(&client, &service.address, &officer, 16).await;

    let mut all_acknowledged = Vec::new();
    let mut service = service;
    for round in 0..3 {
        let acknowledged = load_then_kill(service, &officer, &cases, round, 150).await;
        assert!(
            !acknowledged.is_empty(),
            "round {round} acknowledged commands before the kill"
        );
        all_acknowledged.extend(acknowledged);

        service = start_service(&data, store);
        check_everything_survived(&client, &service.address, &admin, &all_acknowledged).await;
    }

    // The lists catch up with the log after the crashes: every case is listed with its
    // latest version.
    let head: Value = client
        .get(format!("{}/readyz", service.address))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("readyz body");
    let head = head["head"].as_u64().expect("head");
    let list = client
        .get(format!(
            "{}/v1/cases?limit=200&min_position={head}",
            service.address
        ))
        .bearer_auth(&admin)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("list request");
    assert_eq!(list.status(), StatusCode::OK);
    let list: Value = list.json().await.expect("list body");
    assert_eq!(list["items"].as_array().expect("items").len(), cases.len());
}
