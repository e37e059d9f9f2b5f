//! `caseledger demo` end to end: the real binary fills a fresh store, the real `serve` opens it,
//! and the office it made is checked as a person exploring it would meet it — every letter
//! kind, tier and outcome in the statistics, a chain that verifies, one erased complainant, and
//! only fictional ID numbers and credit codes.

use std::os::unix::fs::PermissionsExt as _;

use caseledger_domain::{check_credit_code, check_resident_id};
use serde_json::Value;

use crate::support::binary::{self, ServeProcess};
use crate::support::scratch_postgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_office_has_every_letter_kind_tier_and_outcome_and_only_fictional_people() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = scratch_postgres().await;
    let store: Vec<&str> = database
        .as_ref()
        .map(|database| vec!["--store", database.url()])
        .unwrap_or_default();

    let demo = binary::command()
        .args(["demo", "--data-dir"])
        .arg(data_dir.path())
        .args(&store)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&demo.stderr);
    assert!(demo.status.success(), "the demo fails: {stderr}");
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(stdout.contains("demo office ready: 200 cases"), "{stdout}");

    // The people's tokens are in a private file, and never in the log.
    let tokens_file = data_dir.path().join("demo-tokens");
    let mode = std::fs::metadata(&tokens_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let tokens: Vec<(String, String)> = std::fs::read_to_string(&tokens_file)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (fields[0].to_owned(), fields[3].to_owned())
        })
        .collect();
    for role in ["admin", "supervisor", "officer", "partner", "auditor"] {
        assert!(tokens.iter().any(|(r, _)| r == role), "no {role} token");
    }
    for (_, token) in &tokens {
        assert!(!stderr.contains(token.as_str()), "a token reached the log");
        assert!(!stdout.contains(token.as_str()), "a token reached stdout");
    }
    let token = |role: &str| {
        tokens
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, token)| token.clone())
            .unwrap()
    };

    // A second run refuses a store that is no longer empty, and changes nothing.
    let again = binary::command()
        .args(["demo", "--data-dir"])
        .arg(data_dir.path())
        .args(&store)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let service = ServeProcess::start(data_dir.path(), &store);
    let client = reqwest::Client::new();
    let get = |path: &str, token: String| {
        let path = path.to_owned();
        let request = client
            .get(format!("{}{path}", service.address))
            .bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.json::<Value>().await.unwrap()
        }
    };

    let head = get("/v1/audit/verify", token("auditor")).await;
    assert_eq!(head["ok"], true, "{head}");
    let events = head["events"].as_u64().unwrap();
    // An auditor's export of the demo verifies offline.
    let export = client
        .get(format!("{}/v1/audit/export", service.address))
        .bearer_auth(token("auditor"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let export_file = data_dir.path().join("demo-export.ndjson");
    std::fs::write(&export_file, &export).unwrap();
    let verified = binary::command()
        .args(["audit", "verify"])
        .arg(&export_file)
        .output()
        .unwrap();
    assert!(
        verified.status.success()
            && String::from_utf8_lossy(&verified.stdout)
                .starts_with(&format!("ok: {events} events")),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    let stats = get(
        &format!("/v1/stats?min_position={events}"),
        token("supervisor"),
    )
    .await;
    assert_eq!(stats["cases"], 200);
    for (figure, names) in [
        (
            "letters_issued",
            &["reminder", "opinion", "recommendation"][..],
        ),
        ("by_tier", &["three_party", "four_way", "five_way"][..]),
        (
            "closed_by_outcome",
            &[
                "rectified",
                "mediated",
                "arbitration",
                "litigation",
                "referred",
                "withdrawn",
                "unfounded",
            ][..],
        ),
    ] {
        for name in names {
            assert!(
                stats[figure][name].as_u64().unwrap() > 0,
                "no {figure}.{name} in the demo: {stats}"
            );
        }
    }
    assert!(stats["overdue"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["opinion_letters_answered"].as_u64().unwrap() > 0);
    assert!(
        stats["by_status"]["closed"].as_u64().unwrap() < 200,
        "some work is open"
    );

    // Every case, as an officer sees it: fictional ID numbers and credit codes only, and one
    // complainant erased.
    let today = chrono::Utc::now().date_naive();
    let mut cursor: Option<String> = None;
    let (mut seen, mut complainants, mut erased, mut reopened) = (0, 0, 0, 0);
    loop {
        let page = get(
            &format!(
                "/v1/cases?limit=200{}",
                cursor
                    .as_ref()
                    .map(|cursor| format!("&cursor={cursor}"))
                    .unwrap_or_default()
            ),
            token("officer"),
        )
        .await;
        for item in page["items"].as_array().unwrap() {
            seen += 1;
            let case = get(
                &format!("/v1/cases/{}", item["id"].as_str().unwrap()),
                token("officer"),
            )
            .await;
            let code = case["employer"]["credit_code"].as_str().unwrap();
            assert_eq!(
                &code[2..4],
                "99",
                "credit code {code} outside the demo's range"
            );
            assert!(check_credit_code(code).is_ok());
            assert!(case["employer"]["name"]
                .as_str()
                .unwrap()
                .starts_with("演示"));
            let complainant = &case["complainant"];
            if complainant["erased"] == true {
                erased += 1;
            } else if let Some(id_number) = complainant["id_number"].as_str() {
                complainants += 1;
                assert!(
                    id_number.starts_with("99"),
                    "ID number outside the demo's range"
                );
                assert!(check_resident_id(id_number, today).is_ok());
                assert!(complainant["phone"].as_str().unwrap().starts_with("000-"));
            }
            if case["reopened_count"].as_u64().unwrap_or(0) > 0 {
                reopened += 1;
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, 200);
    assert!(complainants > 50, "{complainants} cases name a complainant");
    assert_eq!(erased, 1, "one complainant's data was erased");
    assert!(reopened > 0, "no reopened case");

    // Partner departments received what was shared with them.
    let feed = get("/v1/feed?limit=10", token("partner")).await;
    assert!(!feed["messages"].as_array().unwrap().is_empty(), "{feed}");
    service.stop();
}
