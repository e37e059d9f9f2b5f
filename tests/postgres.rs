//! The real binary on the PostgreSQL store: `caseledger serve --store postgres://…` on a fresh
//! database opens a case and reads it back; a restart — with another data dir, as a second
//! instance would have — sees the case, the chain and the token again, because everything
//! lives in the database. Two instances on one database take concurrent commands into one
//! verifiable log, number letters without gaps, and hand webhook delivery over when one dies.
//!
//! The process comes from the shared harness (`support::binary`); the database from
//! `caseledger_store::conformance::ScratchDatabase` (server from `CASELEDGER_TEST_POSTGRES`).

use std::path::Path;
use std::time::Duration;

use caseledger_store::conformance::{postgres_or_skip, ScratchDatabase};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::binary::{serve_command, ServeProcess};
use crate::support::valid_case_body;

/// Starts the binary on the PostgreSQL database at `store` with `data_dir` and more flags.
fn start_on_postgres(store: &str, data_dir: &Path, flags: &[&str]) -> ServeProcess {
    let mut all = vec!["--store", store];
    all.extend_from_slice(flags);
    ServeProcess::start(data_dir, &all)
}

/// Whether `service` holds the leader lease, from its `/metrics`.
async fn is_leader(service: &ServeProcess, client: &reqwest::Client) -> bool {
    let text = client
        .get(format!("{}/metrics", service.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .any(|line| line.starts_with("caseledger_lease_held{lease=\"leader\"} 1"))
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
    if !postgres_or_skip("integration: serve on PostgreSQL").await {
        return;
    }
    let database = ScratchDatabase::create().await;
    let first_dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let service = start_on_postgres(database.url(), first_dir.path(), &[]);
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

    // Another data dir: the token, the case and the chain all come from the database. Its
    // own new signing key is refused, since the stored checkpoints were signed with the first
    // one; with the first one's key it starts.
    let second_dir = tempfile::tempdir().unwrap();
    let refused = serve_command(second_dir.path(), &["--store", database.url()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("signed with another key"), "{stderr}");
    // Every instance also wraps personal-data keys with the same key-encryption key.
    let key = first_dir.path().join("signing-key");
    let kek = first_dir.path().join("kek");
    let service = start_on_postgres(
        database.url(),
        second_dir.path(),
        &[
            "--signing-key",
            key.to_str().unwrap(),
            "--kek-file",
            kek.to_str().unwrap(),
        ],
    );
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

/// Two instances on one database, the second signing with the first one's key, as every
/// instance of a deployment must; the admin token and a client.
struct Pair {
    _database: ScratchDatabase,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    first: ServeProcess,
    second: ServeProcess,
    admin: String,
    client: reqwest::Client,
}

async fn start_pair() -> Pair {
    let database = ScratchDatabase::create().await;
    let first_dir = tempfile::tempdir().unwrap();
    let second_dir = tempfile::tempdir().unwrap();
    let schedule = ["--webhook-retry-schedule", "0s,1s,1s,1s,1s"];
    let first = start_on_postgres(database.url(), first_dir.path(), &schedule);
    let key = first_dir.path().join("signing-key");
    let kek = first_dir.path().join("kek");
    let mut flags = schedule.to_vec();
    flags.extend([
        "--signing-key",
        key.to_str().unwrap(),
        "--kek-file",
        kek.to_str().unwrap(),
    ]);
    let second = start_on_postgres(database.url(), second_dir.path(), &flags);
    assert!(
        !second_dir.path().join("initial-admin-token").exists(),
        "only the first instance issues the initial admin token"
    );
    let admin = std::fs::read_to_string(first_dir.path().join("initial-admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    Pair {
        _database: database,
        _dirs: (first_dir, second_dir),
        first,
        second,
        admin,
        client,
    }
}

impl Pair {
    /// Issues a token through the first instance and waits until the second knows it too
    /// (instances re-read the tokens every two seconds).
    async fn officer(&self) -> String {
        let issued: Value = self
            .client
            .post(format!("{}/v1/tokens", self.first.address))
            .bearer_auth(&self.admin)
            .json(&json!({"name": "officer on two instances", "role": "officer"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = issued["token"].as_str().unwrap().to_owned();
        let started = std::time::Instant::now();
        loop {
            let status = self
                .client
                .get(format!("{}/v1/cases", self.second.address))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status();
            if status == StatusCode::OK {
                return token;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the second instance never learnt the token ({status})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Sends one command with an idempotency key, again on 503 (a lost race the service gave up
/// on after its own retries), as a well-behaved client does; returns the accepted answer.
async fn command_until_accepted(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    path: &str,
    body: &Value,
    key: &str,
) -> Value {
    for _ in 0..50 {
        let response = client
            .post(format!("{address}{path}"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::OK | StatusCode::CREATED => return response.json().await.unwrap(),
            StatusCode::SERVICE_UNAVAILABLE => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("{path}: {other}: {}", response.text().await.unwrap()),
        }
    }
    panic!("{path} was refused 50 times");
}

async fn export(client: &reqwest::Client, address: &str, token: &str) -> Vec<Value> {
    client
        .get(format!("{address}/v1/audit/export"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_take_concurrent_commands_on_one_case_into_one_verifiable_log() {
    if !postgres_or_skip("integration: serve on PostgreSQL").await {
        return;
    }
    let pair = start_pair().await;
    let officer = pair.officer().await;
    let opened: Value = pair
        .client
        .post(format!("{}/v1/cases", pair.first.address))
        .bearer_auth(&officer)
        .json(&valid_case_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case_id = opened["case_id"].as_str().unwrap().to_owned();

    // 120 notes at once on the one case, every other one through each instance.
    let mut tasks = Vec::new();
    for n in 0..120 {
        let client = pair.client.clone();
        let address = if n % 2 == 0 {
            pair.first.address.clone()
        } else {
            pair.second.address.clone()
        };
        let token = officer.clone();
        let path = format!("/v1/cases/{case_id}/notes");
        tasks.push(tokio::spawn(async move {
            command_until_accepted(
                &client,
                &address,
                &token,
                &path,
                &json!({"text": format!("note {n}")}),
                &format!("note-{n}"),
            )
            .await
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap()["version"].as_u64().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(
        versions,
        (2..=121).collect::<Vec<u64>>(),
        "every note landed once, each at its own version"
    );

    // Both instances see one gapless, ordered, verifiable log with each note once — once each
    // has learnt of the other's last commits (an export runs up to the head its instance knows;
    // `?min_position=` is how a reader waits for a position).
    for address in [&pair.first.address, &pair.second.address] {
        let caught_up = pair
            .client
            .get(format!("{address}/v1/cases/{case_id}?min_position=121"))
            .bearer_auth(&pair.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(caught_up.status(), StatusCode::OK);
        let events = export(&pair.client, address, &pair.admin).await;
        let positions: Vec<u64> = events
            .iter()
            .map(|event| event["position"].as_u64().unwrap())
            .collect();
        assert_eq!(positions, (1..=121).collect::<Vec<u64>>());
        for (event, version) in events.iter().zip(1..) {
            assert_eq!(event["version"], json!(version));
        }
        let mut texts: Vec<String> = events[1..]
            .iter()
            .map(|event| event["data"]["text"].as_str().unwrap().to_owned())
            .collect();
        texts.sort();
        let mut expected: Vec<String> = (0..120).map(|n| format!("note {n}")).collect();
        expected.sort();
        assert_eq!(texts, expected);
        let verify: Value = pair
            .client
            .get(format!("{address}/v1/audit/verify"))
            .bearer_auth(&pair.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(verify["ok"], json!(true), "{verify}");
        assert_eq!(verify["events"], json!(121), "{verify}");
        let view: Value = pair
            .client
            .get(format!("{address}/v1/cases/{case_id}"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(view["version"], json!(121));
    }
    // Exactly one instance holds the leader lease.
    let leaders = [
        is_leader(&pair.first, &pair.client).await,
        is_leader(&pair.second, &pair.client).await,
    ];
    assert_eq!(leaders.iter().filter(|leader| **leader).count(), 1);

    // What an operator watches is on /metrics: request rates and latencies per route, append
    // latency, batch sizes, projection lag, the lease.
    let metrics = pair
        .client
        .get(format!("{}/metrics", pair.first.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "caseledger_http_requests_total{route=\"/v1/cases/{id}/notes\"",
        "caseledger_http_request_duration_seconds",
        "caseledger_append_duration_seconds",
        "caseledger_log_batch_appends",
        "caseledger_log_batch_events",
        "caseledger_projection_lag_events",
        "caseledger_lease_held{lease=\"leader\"}",
        "caseledger_log_head_position 121",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_number_letters_without_gaps() {
    if !postgres_or_skip("integration: letter numbers on two instances").await {
        return;
    }
    let pair = start_pair().await;
    let officer = pair.officer().await;
    let address = |n: usize| {
        if n.is_multiple_of(2) {
            pair.first.address.clone()
        } else {
            pair.second.address.clone()
        }
    };
    let opinion = json!({"kind": "opinion", "recipient": "涪城建材有限公司",
                         "content": "为研磨车间全部员工配发防尘口罩。"});
    let mut cases = Vec::new();
    for n in 0..65 {
        let opened = command_until_accepted(
            &pair.client,
            &address(n),
            &officer,
            "/v1/cases",
            &valid_case_body(),
            &format!("open-{n}"),
        )
        .await;
        cases.push(opened["case_id"].as_str().unwrap().to_owned());
    }

    // Sixty-four officers issue at once on cases of their own, half through each instance;
    // meanwhile eight letters race on the last case with the same If-Match, through both: one
    // is recorded and the others give their numbers back.
    let mut issuers = Vec::new();
    for (n, case) in cases.iter().take(64).enumerate() {
        let (client, address, token, body) = (
            pair.client.clone(),
            address(n),
            officer.clone(),
            opinion.clone(),
        );
        let path = format!("/v1/cases/{case}/letters");
        issuers.push(tokio::spawn(async move {
            command_until_accepted(&client, &address, &token, &path, &body, &format!("l-{n}"))
                .await;
        }));
    }
    let racing_case = cases[64].clone();
    let mut racers = Vec::new();
    for n in 0..8 {
        let request = pair
            .client
            .post(format!("{}/v1/cases/{racing_case}/letters", address(n)))
            .bearer_auth(&officer)
            .header("If-Match", "\"1\"")
            .json(&opinion);
        racers.push(tokio::spawn(async move {
            request.send().await.unwrap().status()
        }));
    }
    for issuer in issuers {
        issuer.await.unwrap();
    }
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap());
    }
    assert!(
        statuses.iter().all(|status| [
            StatusCode::OK,
            StatusCode::PRECONDITION_FAILED,
            StatusCode::SERVICE_UNAVAILABLE
        ]
        .contains(status)),
        "{statuses:?}"
    );
    let recorded = statuses
        .iter()
        .filter(|status| **status == StatusCode::OK)
        .count();
    assert_eq!(recorded, 1, "{statuses:?}");
    // Two more after the race, one through each instance: they take numbers given back first.
    for (n, case) in cases.iter().take(2).enumerate() {
        command_until_accepted(
            &pair.client,
            &address(n),
            &officer,
            &format!("/v1/cases/{case}/letters"),
            &opinion,
            &format!("after-{n}"),
        )
        .await;
    }

    // 65 openings and 67 letters: the first instance waits until it knows them all.
    let caught_up = pair
        .client
        .get(format!(
            "{}/v1/cases/{racing_case}?min_position=132",
            pair.first.address
        ))
        .bearer_auth(&pair.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(caught_up.status(), StatusCode::OK);
    let events = export(&pair.client, &pair.first.address, &pair.admin).await;
    assert_eq!(events.len(), 132);
    let year = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y");
    let prefix = format!("绵工监意〔{year}〕");
    let mut numbers: Vec<u64> = events
        .iter()
        .filter(|event| event["type"] == "SupervisionLetterIssued")
        .map(|event| {
            let number = event["data"]["number"].as_str().unwrap();
            number
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix('号'))
                .unwrap_or_else(|| panic!("{number}"))
                .parse()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=64 + 1 + 2).collect::<Vec<u64>>(),
        "every number once, none skipped, across both instances"
    );
}

/// What a webhook receiver got: each message's `webhook-id` and body.
#[derive(Clone, Default)]
struct Received(std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>);

async fn start_receiver() -> (String, Received) {
    use axum::routing::post;
    let received = Received::default();
    let router = axum::Router::new().route(
        "/hook",
        post({
            let received = received.clone();
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let received = received.clone();
                async move {
                    let id = headers
                        .get("webhook-id")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    received.0.lock().unwrap().push((id, body));
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, received)
}

impl Received {
    /// The log positions of the case events received (duplicates kept once).
    fn case_positions(&self) -> std::collections::BTreeSet<u64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, body)| {
                body["type"]
                    .as_str()
                    .is_some_and(|kind| kind.starts_with("case."))
            })
            .filter_map(|(_, body)| body["data"]["position"].as_u64())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_delivery_moves_to_the_other_instance_when_its_instance_is_killed() {
    if !postgres_or_skip("integration: serve on PostgreSQL").await {
        return;
    }
    let pair = start_pair().await;
    let (url, received) = start_receiver().await;
    let created = pair
        .client
        .post(format!("{}/v1/webhooks", pair.first.address))
        .bearer_auth(&pair.admin)
        .json(&json!({"url": url, "department": "hrss", "description": "failover"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let officer = pair.officer().await;
    let opened: Value = pair
        .client
        .post(format!("{}/v1/cases", pair.first.address))
        .bearer_auth(&officer)
        .json(&valid_case_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case_id = opened["case_id"].as_str().unwrap().to_owned();
    let referred = command_until_accepted(
        &pair.client,
        &pair.first.address,
        &officer,
        &format!("/v1/cases/{case_id}/refer"),
        &json!({"department": "hrss", "reason": "Social insurance arrears."}),
        "refer",
    )
    .await;
    let mut expected: std::collections::BTreeSet<u64> =
        [referred["position"].as_u64().unwrap()].into();
    for n in 0..5 {
        let finding = command_until_accepted(
            &pair.client,
            &pair.second.address,
            &officer,
            &format!("/v1/cases/{case_id}/findings"),
            &json!({"summary": format!("finding {n} before the failover")}),
            &format!("before-{n}"),
        )
        .await;
        expected.insert(finding["position"].as_u64().unwrap());
    }
    let waited = std::time::Instant::now();
    while !received.case_positions().is_superset(&expected) {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "the leader did not deliver: got {:?}, want {expected:?}",
            received.case_positions()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Kill the instance that delivers; the other carries on.
    let (leader, survivor) = if is_leader(&pair.first, &pair.client).await {
        (pair.first, pair.second)
    } else {
        assert!(
            is_leader(&pair.second, &pair.client).await,
            "one instance leads"
        );
        (pair.second, pair.first)
    };
    leader.kill();
    let killed_at = std::time::Instant::now();
    for n in 0..5 {
        let finding = command_until_accepted(
            &pair.client,
            &survivor.address,
            &officer,
            &format!("/v1/cases/{case_id}/findings"),
            &json!({"summary": format!("finding {n} after the failover")}),
            &format!("after-{n}"),
        )
        .await;
        expected.insert(finding["position"].as_u64().unwrap());
    }
    while !received.case_positions().is_superset(&expected) {
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "delivery did not move within 10 s: got {:?}, want {expected:?}",
            received.case_positions()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(is_leader(&survivor, &pair.client).await);
    // Nothing was skipped: every case event after the referral arrived, in a feed with no
    // positions but the case's own.
    let case_positions = received.case_positions();
    assert_eq!(
        case_positions, expected,
        "only the case's own events, none missing"
    );
    survivor.stop();
}
