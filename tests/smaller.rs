//! The smaller hardening of issue #20 (item 7) against the real binary: `/metrics` behind a
//! token (`--metrics-token-file`).

use reqwest::StatusCode;

use crate::support::binary::{initial_admin_token, serve_command, ServeProcess};
use crate::support::check_problem_shape;

#[tokio::test]
async fn metrics_need_the_token_from_the_file_when_one_is_given() {
    let data = tempfile::tempdir().unwrap();
    let token_file = data.path().join("metrics-token");
    std::fs::write(&token_file, "scrape-me-0123456789abcdef\n").unwrap();
    let token_path = token_file.to_str().unwrap().to_owned();
    let service = ServeProcess::start(data.path(), &["--metrics-token-file", &token_path]);
    let client = reqwest::Client::new();
    let metrics = format!("{}/metrics", service.address);

    let refused = [
        client.get(&metrics).send().await.unwrap(),
        client
            .get(&metrics)
            .bearer_auth("scrape-me-0123456789abcdeX")
            .send()
            .await
            .unwrap(),
        client
            .get(&metrics)
            .bearer_auth("scrape-me")
            .send()
            .await
            .unwrap(),
        // An API token is not the metrics token.
        client
            .get(&metrics)
            .bearer_auth(initial_admin_token(data.path()))
            .send()
            .await
            .unwrap(),
    ];
    for response in refused {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let problem: serde_json::Value = response.json().await.unwrap();
        check_problem_shape(&problem, StatusCode::UNAUTHORIZED);
        assert!(!problem.to_string().contains("scrape-me"), "{problem}");
    }
    let answered = client
        .get(&metrics)
        .bearer_auth("scrape-me-0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    assert!(answered
        .text()
        .await
        .unwrap()
        .contains("caseledger_log_head_position"));
    // The other system routes stay open.
    let health = client
        .get(format!("{}/healthz", service.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    service.stop();

    // A token file too short to be a secret stops the start.
    std::fs::write(&token_file, "short\n").unwrap();
    let output = serve_command(data.path(), &["--metrics-token-file", &token_path])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 16 characters"));
}
