//! The real binary's whole-store commands: `caseledger backup --url` from a running service
//! while commands are being written, `caseledger restore` into a fresh data dir, then the
//! restored service verifies its chain and serves the backed-up cases and tokens; `caseledger
//! store copy` sled → PostgreSQL → sled gives a byte-identical export and carries attached
//! files (a personal one and one not) that read back byte for byte, and refuses a target
//! that holds anything; a backup with a non-admin token is refused; an online backup of a
//! PostgreSQL store restores into sled.
//!
//! The processes come from the shared harness (`support::binary`); this owns only its
//! scenarios.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use caseledger_store::conformance::{postgres_or_skip, ScratchDatabase};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::binary::{args, caseledger, text, ServeProcess};
use crate::support::{assert_problem, spawn_app, valid_case_body, wait};

/// Copies the checkpoint signing key and the key-encryption key of one data dir into another:
/// every service on a store must sign with the key that signed its checkpoints, and open the
/// personal-data keys with the KEK that wrapped them. Neither is in a backup or a copy.
fn keep_signing_key(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("signing-key"), to.join("signing-key")).unwrap();
    std::fs::copy(from.join("kek"), to.join("kek")).unwrap();
}

async fn open_case(client: &reqwest::Client, address: &str, token: &str) -> Option<String> {
    let response = client
        .post(format!("{address}/v1/cases"))
        .bearer_auth(token)
        .json(&valid_case_body())
        .send()
        .await
        .ok()?;
    if response.status() != StatusCode::CREATED {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["case_id"].as_str().map(str::to_owned)
}

async fn get(client: &reqwest::Client, url: String, token: &str) -> (StatusCode, Value) {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The offline export of a stopped service's data dir, as bytes.
async fn export(data_dir: &Path, out: &Path) -> Vec<u8> {
    let output = caseledger(args(&[
        &"audit",
        &"export",
        &"--data-dir",
        &data_dir,
        &"--out",
        &out,
    ]))
    .await;
    assert!(output.status.success(), "{}", text(&output));
    std::fs::read(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_under_writes_restores_to_a_verified_store() {
    let work = tempfile::tempdir().unwrap();
    let original = work.path().join("original");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let service = ServeProcess::start(&original, &[]);
    let token_file = original.join("initial-admin-token");
    let admin = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    let address = service.address.clone();

    // Something in every kind of keyspace the backup must carry: tokens, a webhook, cases
    // (personal-data keys, letter counters come with letters; the cases' events).
    let (status, webhook) = {
        let response = client
            .post(format!("{address}/v1/webhooks"))
            .bearer_auth(&admin)
            .json(&json!({"url": "http://127.0.0.1:9/hook", "department": "hrss"}))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let before_backup = open_case(&client, &address, &admin).await.unwrap();

    // A non-admin token is refused, and the backup directory stays empty.
    let auditor: Value = client
        .post(format!("{address}/v1/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": "auditor", "role": "auditor"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let auditor_file = work.path().join("auditor-token");
    std::fs::write(&auditor_file, auditor["token"].as_str().unwrap()).unwrap();
    let refused_dir = work.path().join("refused");
    let refused = caseledger(args(&[
        &"backup",
        &"--url",
        &address,
        &"--token-file",
        &auditor_file,
        &"--out",
        &refused_dir,
    ]))
    .await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("403"), "{}", text(&refused));
    assert!(!refused_dir.join("manifest.json").exists());

    // Writers keep opening cases while the backup runs.
    let writing = Arc::new(AtomicBool::new(true));
    let opened_so_far = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..3 {
        let (client, address, admin, writing, opened_so_far) = (
            client.clone(),
            address.clone(),
            admin.clone(),
            Arc::clone(&writing),
            Arc::clone(&opened_so_far),
        );
        writers.push(tokio::spawn(async move {
            let mut opened = 0;
            while writing.load(Ordering::Relaxed) || opened < 20 {
                if open_case(&client, &address, &admin).await.is_some() {
                    opened += 1;
                    opened_so_far.fetch_add(1, Ordering::Relaxed);
                }
            }
            opened
        }));
    }
    // The backup starts once the writers are under way.
    wait::until("the writers open cases", Duration::from_secs(30), || {
        opened_so_far.load(Ordering::Relaxed) >= 3
    })
    .await;
    let backup_dir = work.path().join("backup");
    let backup = caseledger(args(&[
        &"backup",
        &"--url",
        &address,
        &"--token-file",
        &token_file,
        &"--out",
        &backup_dir,
    ]))
    .await;
    writing.store(false, Ordering::Relaxed);
    let mut opened = 0;
    for writer in writers {
        opened += writer.await.unwrap();
    }
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(
        String::from_utf8_lossy(&backup.stdout).contains("chain verified"),
        "{}",
        text(&backup)
    );
    assert!(opened >= 60);
    service.stop();

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(backup_dir.join("manifest.json")).unwrap()).unwrap();
    let backed_up = manifest["head"]["position"].as_u64().unwrap();
    assert!(backed_up >= 1, "{manifest}");
    assert!(manifest["counts"]["keyspace_entries"].as_u64().unwrap() >= 3);
    assert_eq!(
        manifest["rebuilt_keyspaces"],
        json!(["projection.cases", "audit.tree"])
    );

    // Restore into a fresh data dir; a second restore into it is refused.
    let restored = work.path().join("restored");
    let restore = caseledger(args(&[
        &"restore",
        &"--from",
        &backup_dir,
        &"--data-dir",
        &restored,
    ]))
    .await;
    assert!(restore.status.success(), "{}", text(&restore));
    let stdout = String::from_utf8_lossy(&restore.stdout);
    assert!(
        stdout.contains(&format!(
            "head {backed_up} {}",
            manifest["head"]["hash"].as_str().unwrap()
        )),
        "{}",
        text(&restore)
    );
    let again = caseledger(args(&[
        &"restore",
        &"--from",
        &backup_dir,
        &"--data-dir",
        &restored,
    ]))
    .await;
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("not empty"), "{}", text(&again));

    // The restored log is exactly the original's first `backed_up` events.
    let original_export = export(&original, &work.path().join("original.ndjson")).await;
    let restored_export = export(&restored, &work.path().join("restored.ndjson")).await;
    assert_eq!(
        restored_export
            .iter()
            .filter(|byte| **byte == b'\n')
            .count() as u64,
        backed_up
    );
    assert!(original_export.starts_with(&restored_export));

    // The restored service: the admin token, the webhook and the case from before the backup
    // are there, the chain verifies, the lists are rebuilt from the log. The signing key is
    // not in a backup (docs/operations.md): it is put back beside the store, as an operator
    // restores it from where it is kept.
    keep_signing_key(&original, &restored);
    let service = ServeProcess::start(&restored, &[]);
    assert!(!restored.join("initial-admin-token").exists());
    let (status, verify) = get(
        &client,
        format!("{}/v1/audit/verify", service.address),
        &admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verify["ok"], json!(true), "{verify}");
    assert_eq!(verify["events"], json!(backed_up), "{verify}");
    let (status, case) = get(
        &client,
        format!("{}/v1/cases/{before_backup}", service.address),
        &admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["title"], valid_case_body()["title"]);
    let (status, hook) = get(
        &client,
        format!(
            "{}/v1/webhooks/{}",
            service.address,
            webhook["id"].as_str().unwrap()
        ),
        &admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    let (status, list) = get(
        &client,
        format!("{}/v1/cases?min_position={backed_up}", service.address),
        &admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(!list["items"].as_array().unwrap().is_empty(), "{list}");
    // The restored store takes new commands after the backed-up head.
    let response = client
        .post(format!("{}/v1/cases", service.address))
        .bearer_auth(&admin)
        .json(&valid_case_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["position"], json!(backed_up + 1));
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_copy_sled_to_postgres_and_back_is_exact() {
    if !postgres_or_skip("integration: backups of PostgreSQL stores").await {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let service = ServeProcess::start(&source, &[]);
    let admin = std::fs::read_to_string(source.join("initial-admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    for _ in 0..5 {
        open_case(&client, &service.address, &admin).await.unwrap();
    }
    // Two files on a sixth case, a personal one and one not: sealed under different keys.
    let case = open_case(&client, &service.address, &admin).await.unwrap();
    let mut files = Vec::new();
    for (n, personal) in [(1u8, true), (2, false)] {
        let mut bytes = b"%PDF-1.7\n".to_vec();
        bytes.extend((0..300_000u32).map(|i| (i % 251) as u8 ^ n));
        let response = client
            .post(format!(
                "{}/v1/cases/{case}/attachments?filename=evidence-{n}.pdf&personal={personal}",
                service.address
            ))
            .bearer_auth(&admin)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let added: Value = response.json().await.unwrap();
        files.push((added["attachment_id"].as_str().unwrap().to_owned(), bytes));
    }
    service.stop();

    // The offline backup of a stopped service works too.
    let offline_backup = caseledger(args(&[
        &"backup",
        &"--data-dir",
        &source,
        &"--out",
        &work.path().join("offline-backup"),
    ]))
    .await;
    assert!(offline_backup.status.success(), "{}", text(&offline_backup));

    let database = ScratchDatabase::create().await;
    let to_postgres = caseledger(args(&[
        &"store",
        &"copy",
        &"--from",
        &source,
        &"--to",
        &database.url(),
    ]))
    .await;
    assert!(to_postgres.status.success(), "{}", text(&to_postgres));
    let summary = String::from_utf8_lossy(&to_postgres.stdout).into_owned();
    assert!(summary.contains("heads match"), "{summary}");
    assert!(summary.contains("copied 8 events"), "{summary}");

    // A second copy into the same database is refused.
    let refused = caseledger(args(&[
        &"store",
        &"copy",
        &"--from",
        &source,
        &"--to",
        &database.url(),
    ]))
    .await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("not empty"), "{}", text(&refused));

    let back = work.path().join("back");
    let to_sled = caseledger(args(&[
        &"store",
        &"copy",
        &"--from",
        &database.url(),
        &"--to",
        &back,
    ]))
    .await;
    assert!(to_sled.status.success(), "{}", text(&to_sled));
    assert_eq!(
        export(&source, &work.path().join("source.ndjson")).await,
        export(&back, &work.path().join("back.ndjson")).await
    );

    // The copy serves the same token and cases, signing with the same key.
    keep_signing_key(&source, &back);
    let service = ServeProcess::start(&back, &[]);
    let (status, list) = get(
        &client,
        format!("{}/v1/cases?min_position=8", service.address),
        &admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 6, "{list}");
    // The files came through PostgreSQL and back, each opening with its key, byte for byte.
    for (id, bytes) in &files {
        let response = client
            .get(format!(
                "{}/v1/cases/{case}/attachments/{id}",
                service.address
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.bytes().await.unwrap() == bytes.as_slice());
    }
    service.stop();
}

#[tokio::test]
async fn the_backup_endpoint_is_for_admins_and_streams_a_whole_snapshot() {
    let app = spawn_app().await;
    let case = app.open_valid_case(&app.admin_token).await;
    // Someone is signed in to the console: the backup keeps the account, not the session.
    crate::support::console_client::set_up_admin(&app).await;

    let anonymous = app
        .request(reqwest::Method::GET, "/v1/admin/backup", None)
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
    for role in ["auditor", "officer", "supervisor"] {
        let token = app.token(role, None).await;
        let refused = app.get("/v1/admin/backup", &token).await;
        let problem = assert_problem(refused, StatusCode::FORBIDDEN).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("back up"),
            "{problem}"
        );
    }

    let response = app.get("/v1/admin/backup", &app.admin_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let body = response.text().await.unwrap();
    let records: Vec<Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records[0], json!({"kind": "begin", "format": 1}));
    let end = records.last().unwrap();
    assert_eq!(end["kind"], json!("end"), "{end}");
    assert_eq!(end["head"]["position"], json!(1));
    let spaces: std::collections::BTreeSet<&str> = records
        .iter()
        .filter(|record| record["kind"] == "keyspace")
        .map(|record| record["space"].as_str().unwrap())
        .collect();
    assert!(spaces.contains("tokens"), "{spaces:?}");
    assert!(!spaces.contains("projection.cases"), "{spaces:?}");
    assert!(spaces.contains("users"), "{spaces:?}");
    assert!(
        !spaces.contains("sessions"),
        "a restored store starts with nobody signed in: {spaces:?}"
    );
    let event = records
        .iter()
        .find(|record| record["kind"] == "event")
        .unwrap();
    assert_eq!(event["position"], json!(1));
    assert_eq!(event["stream"], json!(case.to_string()));
    // The envelope is the exact stored line, as the audit export gives it.
    let export = app
        .get("/v1/audit/export", &app.admin_token)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(format!("{}\n", event["envelope"].as_str().unwrap()), export);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_of_a_postgres_store_restores_into_sled() {
    if !postgres_or_skip("integration: backups of PostgreSQL stores").await {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let database = ScratchDatabase::create().await;
    let data_dir = work.path().join("pg-data");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let service = ServeProcess::start(&data_dir, &["--store", database.url()]);
    let token_file = data_dir.join("initial-admin-token");
    let admin = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    let mut cases = Vec::new();
    for _ in 0..4 {
        cases.push(open_case(&client, &service.address, &admin).await.unwrap());
    }
    let backup_dir = work.path().join("backup");
    let backup = caseledger(args(&[
        &"backup",
        &"--url",
        &service.address,
        &"--token-file",
        &token_file,
        &"--out",
        &backup_dir,
    ]))
    .await;
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(
        String::from_utf8_lossy(&backup.stdout).contains("backed up 4 events"),
        "{}",
        text(&backup)
    );
    service.stop();

    let restored = work.path().join("restored");
    let restore = caseledger(args(&[
        &"restore",
        &"--from",
        &backup_dir,
        &"--data-dir",
        &restored,
    ]))
    .await;
    assert!(restore.status.success(), "{}", text(&restore));
    keep_signing_key(&data_dir, &restored);
    let service = ServeProcess::start(&restored, &[]);
    for case in &cases {
        let (status, view) = get(
            &client,
            format!("{}/v1/cases/{case}", service.address),
            &admin,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{view}");
    }
    service.stop();
}
