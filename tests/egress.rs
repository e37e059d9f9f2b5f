//! Webhooks cannot reach the internal network (issue #20, item 3), over HTTP and against the
//! real binary: an endpoint whose host is an internal IP literal is refused with a 422 naming
//! `url`; one whose name resolves to loopback (`localhost`) is refused at delivery, so a real
//! receiver on loopback that counts requests gets nothing, and is delivered to once the binary
//! runs with its CIDR allowed. Nothing here sends a packet beyond 127.0.0.0/8 and ::1: the
//! private, link-local and CGNAT ranges are tested by unit tests and a resolver stub in the
//! webhooks crate and `crates/app/tests/webhooks.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::binary::{initial_admin_token, ServeProcess};
use crate::support::{assert_invalid_field, spawn_app, valid_case_body};

#[tokio::test]
async fn internal_ip_literals_are_refused_with_a_problem_naming_url() {
    // spawn_app allows 127.0.0.0/8 for the other tests' receivers; everything else internal
    // stays refused.
    let app = spawn_app().await;
    for url in [
        "http://[::1]:9/hook",
        "http://0.0.0.0:9/hook",
        "http://[::ffff:0.0.0.0]/hook",
        "http://10.0.0.1/hook",
        "http://172.16.5.4/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://100.64.0.1/hook",
    ] {
        let response = app
            .post(
                "/v1/webhooks",
                &app.admin_token,
                &json!({"url": url, "department": "hrss"}),
            )
            .await;
        let problem = assert_invalid_field(response, "url").await;
        assert!(
            problem.to_string().contains("may not reach"),
            "{url}: {problem}"
        );
    }
    let listed = app.get("/v1/webhooks", &app.admin_token).await;
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(
        listed["items"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "{listed}"
    );
}

/// A receiver on 127.0.0.1 that counts every request it gets.
async fn counting_receiver() -> (u16, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    let router = axum::Router::new().fallback(move || {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, count)
}

/// Polls `GET path` until `done` holds for its body, at most 20 s; returns the last body.
async fn wait_for(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let body: Value = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done(&body) || started.elapsed() > Duration::from_secs(20) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_loopback_until_its_cidr_is_allowed() {
    let data = tempfile::tempdir().unwrap();
    let schedule = ["--webhook-retry-schedule", "0s,1s,1s,1s,1s,1s,1s,1s"];
    let (port, received) = counting_receiver().await;
    let client = reqwest::Client::new();

    // No allow list: the literals are refused at registration, `localhost` at delivery.
    let service = ServeProcess::start_with_env(data.path(), &schedule, &[]);
    let admin = initial_admin_token(data.path());
    let base = service.address.clone();
    for literal in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://0.0.0.0:{port}/hook"),
    ] {
        let response = client
            .post(format!("{base}/v1/webhooks"))
            .bearer_auth(&admin)
            .json(&json!({"url": literal, "department": "hrss"}))
            .send()
            .await
            .unwrap();
        assert_invalid_field(response, "url").await;
    }
    let created: Value = client
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&admin)
        .json(&json!({"url": format!("http://localhost:{port}/hook"), "department": "hrss"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook = created["id"]
        .as_str()
        .expect("the endpoint is registered")
        .to_owned();
    let case: Value = client
        .post(format!("{base}/v1/cases"))
        .bearer_auth(&admin)
        .json(&valid_case_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case_id = case["case_id"].as_str().unwrap().to_owned();
    let referred = client
        .post(format!("{base}/v1/cases/{case_id}/refer"))
        .bearer_auth(&admin)
        .json(&json!({"department": "hrss", "reason": "wage arrears"}))
        .send()
        .await
        .unwrap();
    assert_eq!(referred.status(), StatusCode::OK);
    let deliveries_url = format!("{base}/v1/webhooks/{webhook}/deliveries");
    let deliveries = wait_for(&client, &deliveries_url, &admin, |body| {
        body["items"]
            .as_array()
            .is_some_and(|items| items.len() >= 2)
    })
    .await;
    let items = deliveries["items"].as_array().unwrap();
    assert!(items.len() >= 2, "{deliveries}");
    for attempt in items {
        assert_eq!(attempt["outcome"], "failed", "{attempt}");
        assert_eq!(attempt["status_code"], Value::Null, "{attempt}");
        let error = attempt["error"].as_str().unwrap();
        assert!(
            error.contains("refused") && error.contains("loopback"),
            "{error}"
        );
    }
    assert_eq!(
        received.load(Ordering::SeqCst),
        0,
        "the receiver got a request"
    );
    service.stop();

    // The same store with 127.0.0.0/8 allowed: the waiting message arrives.
    let service = ServeProcess::start_with_env(
        data.path(),
        &schedule,
        &[("CASELEDGER_WEBHOOK_ALLOW_CIDR", "127.0.0.0/8")],
    );
    let deliveries_url = format!("{}/v1/webhooks/{webhook}/deliveries", service.address);
    let deliveries = wait_for(&client, &deliveries_url, &admin, |body| {
        body["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|item| item["outcome"] == "delivered"))
    })
    .await;
    assert!(
        deliveries["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["outcome"] == "delivered" && item["status_code"] == 204),
        "{deliveries}"
    );
    assert!(received.load(Ordering::SeqCst) >= 1);
    service.stop();
}
