//! The real binary on the PostgreSQL store: `caseledger serve --store postgres://…` on a fresh
//! database opens a case and reads it back; a restart — with another data dir, as a second
//! instance would have — sees the case, the chain and the token again, because everything
//! lives in the database.
//!
//! This owns its small process harness ([`Postgres`]); the database comes from
//! `caseledger_store::conformance::ScratchDatabase` (server from `CASELEDGER_TEST_POSTGRES`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use caseledger_store::conformance::ScratchDatabase;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::valid_case_body;

/// A `caseledger serve --store <url>` process on a free port.
struct Postgres {
    child: Child,
    address: String,
}

impl Postgres {
    /// Starts the binary on `store` with `data_dir` and waits for its "listening" line.
    fn start(store: &str, data_dir: &Path) -> Postgres {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--store",
                store,
                "--data-dir",
            ])
            .arg(data_dir)
            .env("CASELEDGER_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the caseledger binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(index) = line.find("caseledger listening on http://") {
                        let address = line[index + "caseledger listening on ".len()..]
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        let _ = sender.send(Ok(address));
                        sent = true;
                    } else if line.contains("ERROR") || line.contains("Error:") {
                        let _ = sender.send(Err(line.clone()));
                        sent = true;
                    }
                }
                // Keep draining stderr so the service never blocks on a full pipe.
            }
        });
        let address = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("the service says where it listens")
            .unwrap_or_else(|line| panic!("the service did not start: {line}"));
        Postgres { child, address }
    }

    /// SIGTERM and wait: the graceful stop of a deploy.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("the service exits");
        assert!(exit.success(), "a SIGTERM stop exits 0, got {exit}");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn case_view(client: &reqwest::Client, address: &str, token: &str, id: &str) -> Value {
    let response = client
        .get(format!("{address}/v1/cases/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn serve_on_postgres_keeps_cases_across_a_restart() {
    let database = ScratchDatabase::create().await;
    let first_dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let service = Postgres::start(database.url(), first_dir.path());
    let admin = std::fs::read_to_string(first_dir.path().join("initial-admin-token"))
        .expect("the first start on an empty database writes the initial admin token")
        .trim()
        .to_owned();
    let response = client
        .post(format!("{}/v1/cases", service.address))
        .bearer_auth(&admin)
        .json(&valid_case_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let opened: Value = response.json().await.unwrap();
    let case_id = opened["case_id"].as_str().unwrap().to_owned();
    assert_eq!(opened["position"], json!(1));
    let note = client
        .post(format!("{}/v1/cases/{case_id}/notes", service.address))
        .bearer_auth(&admin)
        .json(&json!({"text": "stored in PostgreSQL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(note.status(), StatusCode::OK);
    let before = case_view(&client, &service.address, &admin, &case_id).await;
    assert_eq!(before["version"], json!(2));
    assert_eq!(before["title"], valid_case_body()["title"]);
    service.stop();

    // Another data dir: the token, the case and the chain all come from the database.
    let second_dir = tempfile::tempdir().unwrap();
    let service = Postgres::start(database.url(), second_dir.path());
    assert!(
        !second_dir.path().join("initial-admin-token").exists(),
        "a database that holds a token gets no second initial token"
    );
    let after = case_view(&client, &service.address, &admin, &case_id).await;
    assert_eq!(after, before);
    let verify: Value = client
        .get(format!("{}/v1/audit/verify", service.address))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["ok"], json!(true), "{verify}");
    assert_eq!(verify["events"], json!(2), "{verify}");
    // The lists come from the projection, rebuilt or resumed from the database.
    let list: Value = client
        .get(format!("{}/v1/cases?min_position=2", service.address))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["id"], json!(case_id), "{list}");
    service.stop();
}
