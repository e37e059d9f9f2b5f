//! Proofs for auditors (contract §11), end to end: checkpoints that state the Merkle root as
//! JSON and as a signed note; inclusion and consistency proofs as each role may ask; two
//! witnesses (the real `caseledger witness`) co-signing as the log grows; the offline
//! `caseledger audit verify-inclusion`, `verify-consistency` and `verify --witness` accepting
//! what is true and naming what is not; and a log rewritten behind the service's back (offline,
//! through a backup edited and restored) refused by the witness that signed the old one.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::binary::{args, caseledger, initial_admin_token, text, ServeProcess};
use crate::support::{assert_invalid_field, expect_status, spawn_app, TestApp};

/// Makes the checkpoint worker sign one now: the last one is made to look a minute old.
async fn checkpoint_now(app: &TestApp, minutes_later: i64) -> u64 {
    let made = app
        .app
        .try_checkpoint(chrono::Utc::now() + chrono::Duration::minutes(minutes_later))
        .await
        .unwrap();
    let checkpoint = made.last().expect("a checkpoint is due");
    assert!(
        checkpoint.note.is_some(),
        "a checkpoint now carries its note"
    );
    checkpoint.position.0
}

async fn get_text(app: &TestApp, path: &str, token: &str) -> String {
    let response = app.get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.text().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    expect_status(app.get(path, token).await, StatusCode::OK).await
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// `caseledger witness --init`: the key file and the public key it printed.
async fn new_witness(dir: &Path, name: &str) -> (PathBuf, String, String) {
    let key = dir.join(format!("{}.key", name.replace('/', "_")));
    let output = caseledger(args(&[
        &"witness", &"--init", &"--key", &key, &"--name", &name,
    ]))
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let printed = String::from_utf8(output.stdout).unwrap();
    let field = |label: &str| {
        printed
            .lines()
            .find_map(|line| line.strip_prefix(label))
            .unwrap_or_else(|| panic!("{label} in {printed}"))
            .trim()
            .to_owned()
    };
    (key, field("public key:"), field("verifier key:"))
}

async fn run_witness(url: &str, token_file: &Path, key: &Path, name: &str) -> std::process::Output {
    caseledger(args(&[
        &"witness",
        &"--url",
        &url,
        &"--token-file",
        &token_file,
        &"--key",
        &key,
        &"--name",
        &name,
    ]))
    .await
}

#[tokio::test]
async fn two_witnesses_cosign_and_an_auditor_checks_events_and_growth_offline() {
    let app = spawn_app().await;
    let dir = TempDir::new().unwrap();
    let officer = app.token("officer", None).await;
    let auditor = app.token("auditor", None).await;
    let hrss = app.token("partner", Some("hrss")).await;
    let health = app.token("partner", Some("health")).await;
    let shared = app.open_valid_case(&officer).await;
    app.command(
        shared,
        "refer",
        &officer,
        &json!({"department": "hrss", "reason": "wage arrears"}),
        StatusCode::OK,
    )
    .await;
    for _ in 0..3 {
        app.open_valid_case(&officer).await;
    }
    let first_size = checkpoint_now(&app, 2).await;

    // Two witnesses are registered by the admin, and co-sign.
    let token_file = write(dir.path(), "partner-token", &hrss);
    let mut verifier_keys = Vec::new();
    let mut keys = Vec::new();
    for name in [
        "hrss.example.gov.cn/witness",
        "justice.example.gov.cn/witness",
    ] {
        let (key, public_key, verifier_key) = new_witness(dir.path(), name).await;
        let registered = expect_status(
            app.post(
                "/v1/audit/witnesses",
                &app.admin_token,
                &json!({"name": name, "public_key": public_key}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(registered["verifier_key"], verifier_key.as_str());
        let output = run_witness(&app.address, &token_file, &key, name).await;
        assert!(output.status.success(), "{}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stdout).contains(&format!("tree size {first_size}")),
            "{}",
            text(&output)
        );
        verifier_keys.push(verifier_key);
        keys.push((key, name));
    }
    // Only an admin registers; the same name twice is a conflict.
    let response = app
        .post(
            "/v1/audit/witnesses",
            &auditor,
            &json!({"name": "x", "public_key": "AAAA"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_invalid_field(
        app.post(
            "/v1/audit/witnesses",
            &app.admin_token,
            &json!({"name": "bad name", "public_key": base64::engine::general_purpose::STANDARD.encode([9u8; 32])}),
        )
        .await,
        "name",
    )
    .await;
    let listed = get_json(&app, "/v1/audit/witnesses", &auditor).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    let first_note = get_text(&app, "/v1/audit/checkpoint", &auditor).await;
    assert_eq!(
        first_note
            .lines()
            .filter(|line| line.starts_with("— "))
            .count(),
        3,
        "the service's signature and two cosignatures:\n{first_note}"
    );
    let mut body = first_note.lines();
    assert!(body.next().unwrap().starts_with("caseledger/"));
    assert_eq!(body.next().unwrap(), first_size.to_string());

    // A cosignature that is not a registered witness's valid signature is refused.
    let response = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/audit/checkpoints/{first_size}/cosignatures"),
            Some(&hrss),
        )
        .body("— stranger.example/witness AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
        .send()
        .await
        .unwrap();
    assert_invalid_field(response, "cosignature").await;
    let second_cosignature = first_note
        .lines()
        .filter(|line| line.starts_with("— "))
        .nth(2)
        .unwrap()
        .to_owned();
    let response = app
        .request(
            reqwest::Method::POST,
            "/v1/audit/checkpoints/1/cosignatures",
            Some(&hrss),
        )
        .body(second_cosignature)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(
            response.status(),
            StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY
        ),
        "a cosignature of another checkpoint does not verify here: {}",
        response.status()
    );

    // The log grows; a new checkpoint; both witnesses check the growth and co-sign again.
    for _ in 0..5 {
        app.open_valid_case(&officer).await;
    }
    let second_size = checkpoint_now(&app, 4).await;
    assert!(second_size > first_size);
    for (key, name) in &keys {
        let output = run_witness(&app.address, &token_file, key, name).await;
        assert!(output.status.success(), "{}", text(&output));
    }
    let second_note = get_text(&app, "/v1/audit/checkpoint", &auditor).await;
    let old_note = get_text(
        &app,
        &format!("/v1/audit/checkpoint?tree_size={first_size}"),
        &auditor,
    )
    .await;
    assert_eq!(old_note, first_note);

    // verify-inclusion: the event that shared the case with hrss, as hrss may ask for it.
    let history = get_json(&app, &format!("/v1/cases/{shared}/history"), &officer).await;
    let referral = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "ReferredToPartner" || event["version"] == 2)
        .unwrap()
        .clone();
    let position = referral["position"].as_u64().unwrap();
    let proof = get_json(
        &app,
        &format!("/v1/audit/proof/inclusion?position={position}"),
        &hrss,
    )
    .await;
    assert_eq!(proof["tree_size"], second_size);
    assert_eq!(proof["leaf_index"], position - 1);
    // health's feed does not carry that event: not found, as over the feed.
    let response = app
        .get(
            &format!("/v1/audit/proof/inclusion?position={position}"),
            &health,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Officers ask for no proofs; bad numbers name their field.
    assert_eq!(
        app.get("/v1/audit/proof/inclusion?position=1", &officer)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_invalid_field(
        app.get("/v1/audit/proof/inclusion?position=0", &auditor)
            .await,
        "position",
    )
    .await;
    assert_invalid_field(
        app.get(
            "/v1/audit/proof/inclusion?position=1&tree_size=99999",
            &auditor,
        )
        .await,
        "tree_size",
    )
    .await;
    assert_invalid_field(
        app.get("/v1/audit/proof/consistency?from=0&to=2", &auditor)
            .await,
        "from",
    )
    .await;

    let public_key = get_json(&app, "/v1/audit/public-key", &auditor).await["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    // The event as an export line: the stored bytes.
    let export = get_text(&app, "/v1/audit/export", &auditor).await;
    let line = export.lines().nth(position as usize - 1).unwrap();
    let event_file = write(dir.path(), "event.json", line);
    let proof_file = write(dir.path(), "inclusion.json", &proof.to_string());
    let checkpoint_file = write(dir.path(), "checkpoint.txt", &second_note);
    let verify_inclusion = |event: PathBuf, min: &'static str| {
        let mut parts: Vec<String> = args(&[
            &"audit",
            &"verify-inclusion",
            &event,
            &"--proof",
            &proof_file,
            &"--checkpoint",
            &checkpoint_file,
            &"--public-key",
            &public_key,
            &"--min-witnesses",
            &min,
        ]);
        for key in &verifier_keys {
            parts.push("--witness".into());
            parts.push(key.clone());
        }
        caseledger(parts)
    };
    let output = verify_inclusion(event_file.clone(), "2").await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .starts_with(&format!("ok: the event at position {position}")),
        "{}",
        text(&output)
    );
    // An edited event (its hash no longer its content's) and another event are refused.
    let edited = write(
        dir.path(),
        "edited.json",
        &line.replace("wage arrears", "nothing at all"),
    );
    let output = verify_inclusion(edited, "2").await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let other = write(dir.path(), "other.json", export.lines().next().unwrap());
    let output = verify_inclusion(other, "2").await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("bad: "));

    // verify-consistency between the two checkpoints, and not the other way round.
    let consistency = get_json(
        &app,
        &format!("/v1/audit/proof/consistency?from={first_size}&to={second_size}"),
        &hrss,
    )
    .await;
    let old_file = write(dir.path(), "old.txt", &first_note);
    let consistency_file = write(dir.path(), "consistency.json", &consistency.to_string());
    let output = caseledger(args(&[
        &"audit",
        &"verify-consistency",
        &"--old",
        &old_file,
        &"--new",
        &checkpoint_file,
        &"--proof",
        &consistency_file,
        &"--public-key",
        &public_key,
    ]))
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let output = caseledger(args(&[
        &"audit",
        &"verify-consistency",
        &"--old",
        &checkpoint_file,
        &"--new",
        &old_file,
        &"--proof",
        &consistency_file,
        &"--public-key",
        &public_key,
    ]))
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        said.contains(&first_size.to_string()) && said.contains(&second_size.to_string()),
        "the refusal names the sizes: {said}"
    );

    // The whole export against the checkpoints, their roots and both witnesses.
    let export_file = write(dir.path(), "export.ndjson", &export);
    let checkpoints = get_text(&app, "/v1/audit/checkpoints", &auditor).await;
    let checkpoints_file = write(dir.path(), "checkpoints.json", &checkpoints);
    let mut parts = args(&[
        &"audit",
        &"verify",
        &export_file,
        &"--public-key",
        &public_key,
        &"--checkpoints",
        &checkpoints_file,
        &"--min-witnesses",
        &"2",
    ]);
    for key in &verifier_keys {
        parts.push("--witness".into());
        parts.push(key.clone());
    }
    let output = caseledger(parts).await;
    assert!(output.status.success(), "{}", text(&output));
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        said.contains("checkpoints' roots agree with the export"),
        "{said}"
    );
    assert!(
        said.contains(&format!("witnessed: tree size {second_size} co-signed")),
        "{said}"
    );
}

/// Re-seals every envelope of a snapshot from `from` on after `edit` changed the one at
/// `from`, so the chain verifies again: a thorough forger's rewrite.
fn rewrite_snapshot(snapshot: &str, from: u64, edit: impl Fn(&mut Value)) -> String {
    use caseledger_store::chain::seal_object;
    use caseledger_store::{ChainHash, Position, Version};

    let mut previous = ChainHash::GENESIS;
    let mut out = String::new();
    let mut head = None;
    let mut keyspace_entries = 0u64;
    for line in snapshot.lines() {
        let mut record: Value = serde_json::from_str(line).unwrap();
        match record["kind"].as_str().unwrap() {
            "event" => {
                let mut envelope: Value =
                    serde_json::from_str(record["envelope"].as_str().unwrap()).unwrap();
                let position = envelope["position"].as_u64().unwrap();
                if position >= from {
                    if position == from {
                        edit(&mut envelope);
                    }
                    let version = envelope["version"].as_u64().unwrap();
                    let mut object = envelope.as_object().unwrap().clone();
                    for member in ["position", "version", "prev_hash", "hash"] {
                        object.remove(member);
                    }
                    let (hash, bytes) =
                        seal_object(Position(position), Version(version), object, previous)
                            .unwrap();
                    record["envelope"] = Value::String(String::from_utf8(bytes).unwrap());
                    previous = hash;
                } else {
                    previous = ChainHash::from_hex(envelope["hash"].as_str().unwrap()).unwrap();
                }
                head = Some((position, previous));
            }
            "keyspace" => {
                // The checkpoints (and their cosignatures) would betray the rewrite: a thorough
                // forger drops them.
                let space = record["space"].as_str().unwrap();
                if space.starts_with("audit.checkpoints") || space == "audit.cosignatures" {
                    continue;
                }
                keyspace_entries += 1;
            }
            "end" => {
                let (position, hash) = head.unwrap();
                record["head"] = json!({"position": position, "hash": hash.to_hex()});
                record["keyspace_entries"] = json!(keyspace_entries);
            }
            _ => {}
        }
        out.push_str(&record.to_string());
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn a_log_rewritten_behind_the_services_back_is_refused_by_its_witness() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let server = ServeProcess::start(&data, &[]);
    let url = format!("http://{}", server.socket());
    let admin = initial_admin_token(&data);
    let client = reqwest::Client::new();
    let post = |path: &str, token: &str, body: Value| {
        client
            .post(format!("{url}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let admin = admin.as_str();
    let token = |body: Value| async move {
        expect_status(
            post("/v1/tokens", admin, body).await.unwrap(),
            StatusCode::CREATED,
        )
        .await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let officer = token(json!({"name": "o", "role": "officer"})).await;
    let partner = token(json!({"name": "w", "role": "partner", "department": "hrss"})).await;
    for _ in 0..3 {
        expect_status(
            post("/v1/cases", &officer, crate::support::valid_case_body())
                .await
                .unwrap(),
            StatusCode::CREATED,
        )
        .await;
    }
    // The first checkpoint is signed as soon as there is an event.
    let old_note = served_note(&client, &url, &partner).await;
    assert!(!old_note.is_empty(), "a checkpoint note is served");
    let old_size: u64 = old_note.lines().nth(1).unwrap().parse().unwrap();

    let (key, public_key, _) = new_witness(dir.path(), "hrss.example.gov.cn/witness").await;
    expect_status(
        post(
            "/v1/audit/witnesses",
            admin,
            json!({"name": "hrss.example.gov.cn/witness", "public_key": public_key}),
        )
        .await
        .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let token_file = write(dir.path(), "token", &partner);
    let output = run_witness(&url, &token_file, &key, "hrss.example.gov.cn/witness").await;
    assert!(output.status.success(), "{}", text(&output));
    server.stop();

    // Offline: back up, rewrite the first event and re-seal the chain, restore elsewhere.
    let backup = dir.path().join("backup");
    let output = caseledger(args(&[&"backup", &"--data-dir", &data, &"--out", &backup])).await;
    assert!(output.status.success(), "{}", text(&output));
    let snapshot_path = backup.join("snapshot.ndjson");
    let snapshot = std::fs::read_to_string(&snapshot_path).unwrap();
    let forged = rewrite_snapshot(&snapshot, 1, |envelope| {
        envelope["at"] = json!("2020-01-01T00:00:00Z");
    });
    std::fs::write(&snapshot_path, &forged).unwrap();
    let manifest_path = backup.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let last: Value = serde_json::from_str(forged.lines().last().unwrap()).unwrap();
    manifest["head"] = last["head"].clone();
    if let Some(entries) = last.get("keyspace_entries") {
        manifest["counts"]["keyspace_entries"] = entries.clone();
    }
    manifest["sha256"] = json!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        forged.as_bytes()
    )));
    manifest["bytes"] = json!(forged.len());
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let forged_data = dir.path().join("forged");
    let output = caseledger(args(&[
        &"restore",
        &"--from",
        &backup,
        &"--data-dir",
        &forged_data,
    ]))
    .await;
    assert!(output.status.success(), "{}", text(&output));
    for file in ["signing-key", "kek"] {
        if data.join(file).exists() {
            std::fs::copy(data.join(file), forged_data.join(file)).unwrap();
        }
    }

    let server = ServeProcess::start(&forged_data, &[]);
    let url = format!("http://{}", server.socket());
    let new_note = served_note(&client, &url, &partner).await;
    assert!(!new_note.is_empty(), "the forged log signs a checkpoint");
    assert_ne!(new_note, old_note);

    let output = run_witness(&url, &token_file, &key, "hrss.example.gov.cn/witness").await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("REFUSED"), "{}", text(&output));
    assert!(stderr.contains(&old_size.to_string()), "{}", text(&output));

    // The auditor's offline check fails too, naming the sizes.
    let new_size: u64 = new_note.lines().nth(1).unwrap().parse().unwrap();
    let proof = if new_size > old_size {
        let response = client
            .get(format!(
                "{url}/v1/audit/proof/consistency?from={old_size}&to={new_size}"
            ))
            .bearer_auth(&partner)
            .send()
            .await
            .unwrap();
        response.text().await.unwrap()
    } else {
        json!({"hashes": []}).to_string()
    };
    let output = caseledger(args(&[
        &"audit",
        &"verify-consistency",
        &"--old",
        &write(dir.path(), "old.txt", &old_note),
        &"--new",
        &write(dir.path(), "new.txt", &new_note),
        &"--proof",
        &write(dir.path(), "proof.json", &proof),
        &"--public-key",
        &public_key_of(&data),
    ]))
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        said.contains(&old_size.to_string()) && said.contains(&new_size.to_string()),
        "{said}"
    );
    server.stop();
}

/// The newest checkpoint note the service at `url` serves, once it has signed one.
async fn served_note(client: &reqwest::Client, url: &str, token: &str) -> String {
    for _ in 0..200 {
        let response = client
            .get(format!("{url}/v1/audit/checkpoint"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            return response.text().await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    String::new()
}

/// The checkpoints' public key of the data dir's signing key.
fn public_key_of(data: &Path) -> String {
    let seed = std::fs::read_to_string(data.join("signing-key")).unwrap();
    let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(seed.trim())
        .unwrap()
        .try_into()
        .unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes())
}
