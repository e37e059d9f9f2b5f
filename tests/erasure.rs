//! Erasure holds everywhere (contract §6a), against the real `caseledger serve`: after
//! `erase-personal-data` no read shows the complainant — the current view, time travel to
//! version 1 and to an instant before the erasure, history, replay, the export — and the chain
//! verifies (online and offline); a repeat answers 409 only after making sure; the register
//! lists the erasure; a backup taken before it and restored with `--erasures` shows none, a
//! backup taken after it shows none and holds no key; a crash injected between the event and
//! the key removal leaves the key gone after the restart; a copy of the data dir without the
//! key-encryption key opens nothing; keys stored in clear by older versions are wrapped at
//! start, and a KEK rotation rewraps them.
//!
//! Runs on sled, and on PostgreSQL with `CASELEDGER_TEST_STORE=postgres` where the store is the
//! point (everything but the copy of a data dir). Owns no harness beyond small helpers.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use caseledger_app::personal_data::StoredCaseKey;
use caseledger_app::{App, Caller, OpenCase, Storage, SystemClock};
use caseledger_domain::{Category, ComplainantInput, EmployerInput, Policy, Source};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::binary::{
    args, caseledger, initial_admin_token, serve_command, text, ServeProcess,
};
use crate::support::{scratch_postgres, valid_case_body, COMPLAINANT_NAME, COMPLAINANT_PHONE};

const CRASH_ENV: &str = caseledger_app::erasure::CRASH_AFTER_ERASURE_EVENT_ENV;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn get_text(client: &reqwest::Client, url: String, token: &str) -> (StatusCode, String) {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

async fn get_json(client: &reqwest::Client, url: String, token: &str) -> (StatusCode, Value) {
    let (status, body) = get_text(client, url, token).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn open_case(client: &reqwest::Client, address: &str, token: &str) -> String {
    let response = client
        .post(format!("{address}/v1/cases"))
        .bearer_auth(token)
        .json(&valid_case_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["case_id"].as_str().unwrap().to_owned()
}

async fn erase(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    case: &str,
    idempotency_key: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = client
        .post(format!("{address}/v1/cases/{case}/erase-personal-data"))
        .bearer_auth(token);
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The complainant of a case view as an admin sees it, at `query` (e.g. `?at_version=1`).
async fn complainant(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    case: &str,
    query: &str,
) -> Value {
    let (status, view) = get_json(client, format!("{address}/v1/cases/{case}{query}"), token).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view["complainant"].clone()
}

fn shows_personal_data(text: &str) -> bool {
    text.contains(COMPLAINANT_NAME) || text.contains(COMPLAINANT_PHONE)
}

async fn assert_chain_verifies(client: &reqwest::Client, address: &str, token: &str) {
    let (status, verify) = get_json(client, format!("{address}/v1/audit/verify"), token).await;
    assert_eq!(status, StatusCode::OK, "{verify}");
    assert_eq!(verify["ok"], json!(true), "{verify}");
}

/// Exports the log over HTTP and verifies it with the offline `caseledger audit verify`.
async fn assert_export_verifies_offline(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    file: &Path,
) -> String {
    let (status, export) = get_text(client, format!("{address}/v1/audit/export"), token).await;
    assert_eq!(status, StatusCode::OK);
    std::fs::write(file, &export).unwrap();
    let verified = caseledger(args(&[&"audit", &"verify", &file])).await;
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        String::from_utf8_lossy(&verified.stdout).starts_with("ok: "),
        "{}",
        text(&verified)
    );
    export
}

async fn backup(address: &str, token_file: &Path, out: &Path) {
    let output = caseledger(args(&[
        &"backup",
        &"--url",
        &address,
        &"--token-file",
        &token_file,
        &"--out",
        &out,
    ]))
    .await;
    assert!(output.status.success(), "{}", text(&output));
}

/// The base64 of a case id's bytes: how a snapshot names its personal-data key.
fn key_name(case: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Uuid::parse_str(case).unwrap().as_bytes())
}

/// Whether a backup's snapshot holds the personal-data key of `case`.
fn backup_holds_key(backup: &Path, case: &str) -> bool {
    let snapshot = std::fs::read_to_string(backup.join("snapshot.ndjson")).unwrap();
    let name = key_name(case);
    snapshot.lines().any(|line| {
        let record: Value = serde_json::from_str(line).unwrap();
        record["kind"] == "keyspace"
            && record["space"] == "personal_data_keys"
            && record["key"] == json!(name)
    })
}

/// Restores `backup` into `data_dir` (with `extra` flags), with the original's signing key and
/// KEK beside it, as an operator restores them from where they are kept.
async fn restore(backup: &Path, data_dir: &Path, original: &Path, extra: &[&str]) -> Output {
    let mut command = args(&[&"restore", &"--from", &backup, &"--data-dir", &data_dir]);
    command.extend(extra.iter().map(|flag| (*flag).to_owned()));
    let output = caseledger(command).await;
    assert!(output.status.success(), "{}", text(&output));
    std::fs::copy(original.join("signing-key"), data_dir.join("signing-key")).unwrap();
    output
}

/// The personal-data key of `case` as a store holds it (the service must be stopped on sled).
async fn stored_key(store: &StoreUnderTest, data_dir: &Path, case: &str) -> Option<Value> {
    let storage = match store {
        StoreUnderTest::Sled => {
            let dir = data_dir.join("sled");
            tokio::task::spawn_blocking(move || Storage::open_sled(&dir))
                .await
                .unwrap()
                .unwrap()
        }
        StoreUnderTest::Postgres(url) => Storage::open_postgres(url).await.unwrap(),
    };
    let key = storage
        .personal_data_keys
        .get::<Value>(Uuid::parse_str(case).unwrap().as_bytes())
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || drop(storage))
        .await
        .unwrap();
    key
}

enum StoreUnderTest {
    Sled,
    Postgres(String),
}

impl StoreUnderTest {
    fn flags(&self) -> Vec<&str> {
        match self {
            StoreUnderTest::Sled => Vec::new(),
            StoreUnderTest::Postgres(url) => vec!["--store", url.as_str()],
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_read_and_no_backup_shows_erased_personal_data() {
    let database = scratch_postgres().await;
    let store = match &database {
        Some(database) => StoreUnderTest::Postgres(database.url().to_owned()),
        None => StoreUnderTest::Sled,
    };
    let work = tempfile::tempdir().unwrap();
    let original = work.path().join("original");
    let client = client();
    let service = ServeProcess::start(&original, &store.flags());
    let address = service.address.clone();
    let admin = initial_admin_token(&original);
    let token_file = original.join("initial-admin-token");

    let erased = open_case(&client, &address, &admin).await;
    let kept = open_case(&client, &address, &admin).await;
    let note = client
        .post(format!("{address}/v1/cases/{erased}/notes"))
        .bearer_auth(&admin)
        .json(&json!({"text": "called back"}))
        .send()
        .await
        .unwrap();
    assert_eq!(note.status(), StatusCode::OK);
    let before_erasure = complainant(&client, &address, &admin, &erased, "?at_version=1").await;
    assert_eq!(before_erasure["name"], json!(COMPLAINANT_NAME));
    // Gaps on the clock on purpose, so the instant lies strictly between the note and the
    // erasure.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let instant_before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(Duration::from_millis(20)).await;

    // A backup before the erasure holds the key, as it should.
    let backup_before = work.path().join("backup-before");
    backup(&address, &token_file, &backup_before).await;
    assert!(backup_holds_key(&backup_before, &erased));

    // The erasure, then its repeats: the same Idempotency-Key answers the first answer, a new
    // request 409 naming the rule.
    let (status, first) = erase(&client, &address, &admin, &erased, Some("erase-1")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let erasure_position = first["position"].as_u64().unwrap();
    let (status, again) = erase(&client, &address, &admin, &erased, Some("erase-1")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["position"], first["position"]);
    for key in [None, Some("erase-2")] {
        let (status, problem) = erase(&client, &address, &admin, &erased, key).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(
            problem["rule"],
            json!("personal_data_already_erased"),
            "{problem}"
        );
    }

    // No read shows it: now, at version 1, at an instant before the erasure.
    for query in [
        String::new(),
        "?at_version=1".to_owned(),
        "?at_version=2".to_owned(),
        format!("?as_of={}", instant_before.replace('+', "%2B")),
    ] {
        let view = complainant(&client, &address, &admin, &erased, &query).await;
        assert_eq!(view["erased"], json!(true), "{query}: {view}");
        assert!(view.get("name").is_none(), "{query}: {view}");
    }
    let (status, history) = get_text(
        &client,
        format!("{address}/v1/cases/{erased}/history"),
        &admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!shows_personal_data(&history), "{history}");
    let (status, replay) = get_text(
        &client,
        format!("{address}/v1/cases/{erased}/replay"),
        &admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert!(!shows_personal_data(&replay), "{replay}");
    // The other case still shows its complainant.
    let other = complainant(&client, &address, &admin, &kept, "").await;
    assert_eq!(other["name"], json!(COMPLAINANT_NAME));

    // The chain verifies, online and offline.
    assert_chain_verifies(&client, &address, &admin).await;
    let export =
        assert_export_verifies_offline(&client, &address, &admin, &work.path().join("export"))
            .await;
    assert!(!shows_personal_data(&export));

    // The register: admins only, no personal data.
    let (status, register) =
        get_json(&client, format!("{address}/v1/admin/erasures"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{register}");
    let entries = register["erasures"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{register}");
    assert_eq!(entries[0]["case_id"], json!(erased));
    assert_eq!(entries[0]["position"], json!(erasure_position));
    assert!(entries[0]["erased_at"].is_string());
    assert!(!shows_personal_data(&register.to_string()));
    let officer: Value = client
        .post(format!("{address}/v1/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": "officer", "role": "officer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, _) = get_json(
        &client,
        format!("{address}/v1/admin/erasures"),
        officer["token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let register_file = work.path().join("erasures.json");
    std::fs::write(&register_file, register.to_string()).unwrap();

    // A backup after the erasure holds no key for the case (and the other's), in files only
    // their owner reads.
    let backup_after = work.path().join("backup-after");
    backup(&address, &token_file, &backup_after).await;
    assert!(!backup_holds_key(&backup_after, &erased));
    assert!(backup_holds_key(&backup_after, &kept));
    for file in ["snapshot.ndjson", "manifest.json"] {
        let mode = std::fs::metadata(backup_after.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    service.stop();
    let kek = original.join("kek");
    let kek_flag = ["--kek-file", kek.to_str().unwrap()];

    // The backup from before, restored with the register: the erased case shows nothing.
    let restored = work.path().join("restored-before");
    let output = restore(
        &backup_before,
        &restored,
        &original,
        &["--erasures", register_file.to_str().unwrap()],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 keys destroyed"),
        "{}",
        text(&output)
    );
    {
        let service = ServeProcess::start(&restored, &kek_flag);
        for query in ["", "?at_version=1"] {
            let view = complainant(&client, &service.address, &admin, &erased, query).await;
            assert_eq!(view["erased"], json!(true), "{view}");
            assert!(view.get("name").is_none(), "{view}");
        }
        let other = complainant(&client, &service.address, &admin, &kept, "").await;
        assert_eq!(other["name"], json!(COMPLAINANT_NAME));
        assert_chain_verifies(&client, &service.address, &admin).await;
        service.stop();
    }

    // Without the register, restore says what it does not apply.
    let unapplied = work.path().join("restored-unapplied");
    let output = restore(&backup_before, &unapplied, &original, &[]).await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("are not applied"),
        "{}",
        text(&output)
    );

    // The backup from after: nothing to open for the erased case.
    let restored = work.path().join("restored-after");
    restore(&backup_after, &restored, &original, &[]).await;
    let service = ServeProcess::start(&restored, &kek_flag);
    let view = complainant(&client, &service.address, &admin, &erased, "?at_version=1").await;
    assert_eq!(view["erased"], json!(true), "{view}");
    let other = complainant(&client, &service.address, &admin, &kept, "").await;
    assert_eq!(other["name"], json!(COMPLAINANT_NAME));
    assert_chain_verifies(&client, &service.address, &admin).await;
    assert_export_verifies_offline(
        &client,
        &service.address,
        &admin,
        &work.path().join("export-restored"),
    )
    .await;
    service.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_erasure_event_and_the_key_removal_leaves_the_key_gone_after_restart() {
    let database = scratch_postgres().await;
    let store = match &database {
        Some(database) => StoreUnderTest::Postgres(database.url().to_owned()),
        None => StoreUnderTest::Sled,
    };
    let work = tempfile::tempdir().unwrap();
    let data_dir = work.path().join("data");
    let client = client();
    let service = ServeProcess::start_with_env(&data_dir, &store.flags(), &[(CRASH_ENV, "1")]);
    let address = service.address.clone();
    let admin = initial_admin_token(&data_dir);
    let case = open_case(&client, &address, &admin).await;

    // The injected crash: the process aborts after the event, before the key goes.
    let response = client
        .post(format!("{address}/v1/cases/{case}/erase-personal-data"))
        .bearer_auth(&admin)
        .send()
        .await;
    assert!(response.is_err(), "the service died before answering");
    let exit = tokio::task::spawn_blocking(move || service.wait_for_exit())
        .await
        .unwrap();
    assert!(!exit.success(), "{exit}");
    assert!(
        stored_key(&store, &data_dir, &case).await.is_some(),
        "the crash left the key behind (else this test tests nothing)"
    );

    // The restart reconciles: the key is gone, the case reads erased at every version, a
    // repeat is 409, and the chain verifies.
    let service = ServeProcess::start(&data_dir, &store.flags());
    for query in ["", "?at_version=1"] {
        let view = complainant(&client, &service.address, &admin, &case, query).await;
        assert_eq!(view["erased"], json!(true), "{view}");
    }
    let (status, problem) = erase(&client, &service.address, &admin, &case, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (_, register) = get_json(
        &client,
        format!("{}/v1/admin/erasures", service.address),
        &admin,
    )
    .await;
    assert_eq!(
        register["erasures"][0]["case_id"],
        json!(case),
        "{register}"
    );
    assert_chain_verifies(&client, &service.address, &admin).await;
    assert_export_verifies_offline(
        &client,
        &service.address,
        &admin,
        &work.path().join("export"),
    )
    .await;
    service.stop();
    assert_eq!(stored_key(&store, &data_dir, &case).await, None);
}

/// Opens a case with a complainant through the library, with no key-encryption key: how a
/// store from before key wrapping holds its key (in clear).
/// Returns the case and the admin token.
async fn open_case_with_a_key_in_clear(sled_dir: &Path) -> (String, String) {
    let dir = sled_dir.to_owned();
    let storage = tokio::task::spawn_blocking(move || Storage::open_sled(&dir))
        .await
        .unwrap()
        .unwrap();
    let app = App::new(storage, Policy::default(), Arc::new(SystemClock))
        .await
        .unwrap();
    let issued = app.issue_initial_admin_token().await.unwrap().unwrap();
    let caller: Caller = app.authenticate(&issued.token).unwrap();
    let outcome = app
        .open_case(
            &caller,
            OpenCase {
                title: "From before key wrapping".into(),
                category: Category::WageArrears,
                description: "Wages unpaid since spring.".into(),
                source: Source::Hotline,
                employer: EmployerInput {
                    name: "Fucheng Building Materials Co., Ltd.".into(),
                    credit_code: None,
                    credit_code_unverified: false,
                },
                region: None,
                industry: None,
                workers_affected: None,
                complainant: Some(ComplainantInput {
                    name: COMPLAINANT_NAME.into(),
                    phone: Some(COMPLAINANT_PHONE.into()),
                    id_number: None,
                }),
            },
            None,
        )
        .await
        .unwrap();
    let key = app
        .storage()
        .personal_data_keys
        .get::<StoredCaseKey>(outcome.case_id.0.as_bytes())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(key, StoredCaseKey::Plain(_)));
    tokio::task::spawn_blocking(move || drop(app))
        .await
        .unwrap();
    (outcome.case_id.0.to_string(), issued.token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_data_dir_without_the_kek_opens_no_personal_data() {
    let work = tempfile::tempdir().unwrap();
    let original = work.path().join("original");
    std::fs::create_dir_all(&original).unwrap();
    // A store from before key wrapping: its key is in clear until the first start wraps it.
    let (old_case, admin) = open_case_with_a_key_in_clear(&original.join("sled")).await;
    let client = client();
    // It keeps working: the first start with a KEK wraps it, and the view opens.
    let service = ServeProcess::start(&original, &[]);
    let view = complainant(&client, &service.address, &admin, &old_case, "").await;
    assert_eq!(view["name"], json!(COMPLAINANT_NAME), "{view}");
    service.stop();
    let kek = original.join("kek");
    let mode = std::fs::metadata(&kek).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let stored = stored_key(&StoreUnderTest::Sled, &original, &old_case)
        .await
        .unwrap();
    assert!(stored.get("wrapped").is_some(), "{stored}");
    assert!(
        stored.get("key").is_none(),
        "the start wrapped the key: {stored}"
    );

    // A copy of the data dir without the KEK: the service refuses to start rather than make a
    // new KEK, and nothing in the copy holds a case key in clear.
    let copy = work.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    copy_dir(&original.join("sled"), &copy.join("sled"));
    std::fs::copy(original.join("signing-key"), copy.join("signing-key")).unwrap();
    let refused = serve_command(&copy, &[]).output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--kek-file"), "{stderr}");
    assert!(!copy.join("kek").exists());
    // Another KEK does not open the keys either.
    let stranger = work.path().join("stranger-kek");
    std::fs::write(
        &stranger,
        format!(
            "{}\n",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        ),
    )
    .unwrap();
    let refused = serve_command(&copy, &["--kek-file", stranger.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("wrapped by the key-encryption key"),
        "{stderr}"
    );

    // A rotation: the stranger becomes the KEK, the original the previous one; the keys are
    // rewrapped at start, and afterwards the new KEK alone opens them.
    let service = ServeProcess::start(
        &copy,
        &[
            "--kek-file",
            stranger.to_str().unwrap(),
            "--previous-kek-file",
            kek.to_str().unwrap(),
        ],
    );
    service.stop();
    let rotated = stored_key(&StoreUnderTest::Sled, &copy, &old_case)
        .await
        .unwrap();
    assert_ne!(rotated["kek"], stored["kek"], "{rotated}");
    let service = ServeProcess::start(&copy, &["--kek-file", stranger.to_str().unwrap()]);
    let view = complainant(&client, &service.address, &admin, &old_case, "").await;
    assert_eq!(view["name"], json!(COMPLAINANT_NAME), "{view}");
    service.stop();
    let refused = serve_command(&copy, &["--kek-file", kek.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "the old KEK no longer opens the rotated keys"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
