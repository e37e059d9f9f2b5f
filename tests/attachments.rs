//! Files attached to cases (contract §10) through the API, on sled and on PostgreSQL: a 20 MB
//! file read back identically and by ranges, bad uploads refused with nothing kept, who reads
//! which file, withdrawal, erasure of a personal file, partners' feed; and with the real
//! binary (on the suite's store), a 26 MB upload refused while streaming without the service
//! holding it, and a `kill -9` in the middle of an upload leaving neither a half file nor an
//! event.

use std::time::Duration;

use reqwest::header::{
    CONTENT_DISPOSITION, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION, RANGE,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use caseledger_store::conformance::ScratchDatabase;

use crate::support::binary::{args, caseledger, initial_admin_token, text, ServeProcess};
use crate::support::{
    assert_problem, expect_status, scratch_postgres, spawn_app, spawn_app_on_clock, TestApp,
};

/// `size` bytes of a PDF: its magic, then bytes no two chunks share.
fn pdf_bytes(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn attachments_path(case: Uuid) -> String {
    format!("/v1/cases/{case}/attachments")
}

async fn upload(
    app: &TestApp,
    case: Uuid,
    token: &str,
    query: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.request(
        Method::POST,
        &format!("{}?{query}", attachments_path(case)),
        Some(token),
    )
    .header(CONTENT_TYPE, "application/octet-stream")
    .body(bytes)
    .send()
    .await
    .unwrap()
}

async fn download(
    app: &TestApp,
    path: &str,
    token: &str,
    range: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.request(Method::GET, path, Some(token));
    if let Some(range) = range {
        request = request.header(RANGE, range);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

async fn listed(app: &TestApp, case: Uuid, token: &str) -> Vec<Value> {
    expect_status(
        app.get(&attachments_path(case), token).await,
        StatusCode::OK,
    )
    .await["attachments"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_20_mb_file_is_kept_encrypted_and_read_back_whole_and_by_ranges() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let case = app.open_valid_case(&officer).await;
    let bytes = pdf_bytes(20 * 1024 * 1024);
    let digest = sha256(&bytes);

    let response = upload(
        &app,
        case,
        &officer,
        "filename=%E5%B7%A5%E8%B5%84%E8%A1%A8.pdf&personal=false",
        bytes.clone(),
    )
    .await;
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let added = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(added["sha256"], json!(digest));
    assert_eq!(added["size"], json!(bytes.len()));
    assert_eq!(added["content_type"], "application/pdf");
    assert_eq!(added["filename"], "工资表.pdf");
    assert_eq!(added["personal"], json!(false));
    assert_eq!(added["version"], json!(2));
    let id = added["attachment_id"].as_str().unwrap();
    assert_eq!(location, format!("{}/{id}", attachments_path(case)));

    // The chain records what an auditor checks a copy against.
    let history = expect_status(
        app.get(&format!("/v1/cases/{case}/history"), &officer)
            .await,
        StatusCode::OK,
    )
    .await;
    let event = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "AttachmentAdded")
        .unwrap()
        .clone();
    assert_eq!(event["data"]["sha256"], json!(digest), "{event}");

    let (status, headers, body) = download(&app, &location, &officer, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), bytes.len());
    assert!(body == bytes, "the file reads back byte for byte");
    assert_eq!(headers[ETAG], format!("\"{digest}\"").as_str());
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers[CONTENT_TYPE], "application/pdf");
    let disposition = headers[CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%E5%B7%A5%E8%B5%84%E8%A1%A8.pdf"),
        "{disposition}"
    );

    // Ranges: the start, the end, across a chunk boundary (256 KiB), and past the end.
    for (range, expected) in [
        ("bytes=0-99", 0..100),
        ("bytes=-100", bytes.len() - 100..bytes.len()),
        ("bytes=262100-262200", 262_100..262_201),
        ("bytes=10485760-", 10_485_760..bytes.len()),
    ] {
        let (status, headers, body) = download(&app, &location, &officer, Some(range)).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert!(body == bytes[expected.clone()], "{range}");
        assert_eq!(
            headers[CONTENT_RANGE],
            format!(
                "bytes {}-{}/{}",
                expected.start,
                expected.end - 1,
                bytes.len()
            )
            .as_str()
        );
    }
    let response = app
        .request(Method::GET, &location, Some(&officer))
        .header(RANGE, format!("bytes={}-", bytes.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()[CONTENT_RANGE],
        format!("bytes */{}", bytes.len()).as_str()
    );
    assert_problem(response, StatusCode::RANGE_NOT_SATISFIABLE).await;
    let response = app
        .request(Method::GET, &location, Some(&officer))
        .header(IF_NONE_MATCH, format!("\"{digest}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    // The same bytes again: the attachment there, nothing recorded.
    let again = expect_status(
        upload(
            &app,
            case,
            &officer,
            "filename=copy.pdf&personal=false",
            bytes,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["attachment_id"], json!(id));
    assert_eq!(listed(&app, case, &officer).await.len(), 1);
    assert_eq!(
        app.event_types(case, &officer).await,
        ["CaseOpened", "AttachmentAdded"]
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_and_keep_nothing() {
    let app = spawn_app_on_clock(std::sync::Arc::new(caseledger_app::SystemClock), |flags| {
        flags.attachment_max = Some(1024 * 1024);
    })
    .await;
    let officer = app.token("officer", None).await;
    let case = app.open_valid_case(&officer).await;

    // An executable named .pdf: its bytes say what it is.
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(4096, 0x90);
    let refused = assert_problem(
        upload(&app, case, &officer, "filename=invoice.pdf", elf).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("application/pdf"),
        "the problem names what is taken: {refused}"
    );

    // Over the limit, told by Content-Length, and noticed while streaming (no length).
    assert_problem(
        upload(
            &app,
            case,
            &officer,
            "filename=big.pdf",
            pdf_bytes(1024 * 1024 + 1),
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    let streamed = futures::stream::iter(
        pdf_bytes(2 * 1024 * 1024)
            .chunks(64 * 1024)
            .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = app
        .request(
            Method::POST,
            &format!("{}?filename=big.pdf", attachments_path(case)),
            Some(&officer),
        )
        .body(reqwest::Body::wrap_stream(streamed))
        .send()
        .await;
    // The service may answer and close before the client has sent everything.
    if let Ok(response) = response {
        assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    }

    // Names.
    for (query, field) in [
        ("filename=a%2Fb.pdf", "filename"),
        ("filename=%20", "filename"),
        ("filename=..", "filename"),
    ] {
        let problem = assert_problem(
            upload(&app, case, &officer, query, pdf_bytes(100)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let problem = assert_problem(
        upload(&app, case, &officer, "personal=false", pdf_bytes(100)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(problem.to_string().contains("filename"), "{problem}");
    assert_problem(
        upload(
            &app,
            case,
            &officer,
            "filename=a.pdf&personal=maybe",
            pdf_bytes(100),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    // No such case; a role that attaches nothing.
    assert_problem(
        upload(
            &app,
            Uuid::now_v7(),
            &officer,
            "filename=a.pdf",
            pdf_bytes(100),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let auditor = app.token("auditor", None).await;
    assert_problem(
        upload(&app, case, &auditor, "filename=a.pdf", pdf_bytes(100)).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    assert!(listed(&app, case, &officer).await.is_empty());
    assert_eq!(app.event_types(case, &officer).await, ["CaseOpened"]);
    // Text, and an empty text file, are files too.
    let text = expect_status(
        upload(
            &app,
            case,
            &officer,
            "filename=notes.txt",
            "走访记录\n".as_bytes().to_vec(),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(text["content_type"], "text/plain");
}

/// A case shared with `hrss` holding three files: shared, not shared, and personal (asked to
/// be shared, which a personal file never is).
async fn shared_case(app: &TestApp, officer: &str) -> (Uuid, [String; 3]) {
    let case = app.open_valid_case(officer).await;
    app.command(
        case,
        "refer",
        officer,
        &json!({"department": "hrss", "reason": "wage arrears"}),
        StatusCode::OK,
    )
    .await;
    let mut ids = Vec::new();
    for (n, query) in [
        "filename=photo-shared.pdf&personal=false&shared=true",
        "filename=internal.pdf&personal=false",
        "filename=%E5%BC%A0%E4%B8%89%E5%B7%A5%E8%B5%84%E6%9D%A1.pdf&shared=true",
    ]
    .into_iter()
    .enumerate()
    {
        let added = expect_status(
            upload(app, case, officer, query, pdf_bytes(1000 + n)).await,
            StatusCode::CREATED,
        )
        .await;
        ids.push(added["attachment_id"].as_str().unwrap().to_owned());
    }
    (case, ids.try_into().unwrap())
}

#[tokio::test]
async fn each_role_reads_only_the_files_it_may() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let (case, [shared, internal, personal]) = shared_case(&app, &officer).await;
    let path = |id: &str| format!("{}/{id}", attachments_path(case));

    // Officers see every file and every name.
    let all = listed(&app, case, &officer).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[2]["filename"], "张三工资条.pdf");
    assert_eq!(all[2]["personal"], json!(true));
    assert_eq!(
        all[2]["shared"],
        json!(false),
        "a personal file is never shared"
    );

    // The partner: only the shared file that is not personal; 404 for the rest, as for none.
    let hrss = app.token("partner", Some("hrss")).await;
    let seen = listed(&app, case, &hrss).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["attachment_id"], json!(shared));
    let (status, _, body) = download(&app, &path(&shared), &hrss, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, pdf_bytes(1000));
    for id in [&internal, &personal] {
        let response = app.get(&path(id), &hrss).await;
        let problem = assert_problem(response, StatusCode::NOT_FOUND).await;
        assert!(problem["detail"].as_str().unwrap().contains("attachment"));
    }
    let justice = app.token("partner", Some("justice")).await;
    assert_problem(
        app.get(&attachments_path(case), &justice).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The auditor: every file's metadata, a personal file's name withheld; bytes of files
    // not marked personal only.
    let auditor = app.token("auditor", None).await;
    let audited = listed(&app, case, &auditor).await;
    assert_eq!(audited.len(), 3);
    assert_eq!(audited[2]["filename"], Value::Null);
    assert!(!audited.iter().any(|file| file.to_string().contains("张三")));
    for id in [&shared, &internal] {
        assert_eq!(
            download(&app, &path(id), &auditor, None).await.0,
            StatusCode::OK
        );
    }
    assert_problem(
        app.get(&path(&personal), &auditor).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // The log holds the personal file's name only sealed.
    let history = app
        .get(&format!("/v1/cases/{case}/history"), &auditor)
        .await
        .text()
        .await
        .unwrap();
    assert!(!history.contains("张三工资条"), "{history}");

    // hrss's feed carries the shared file, with where to read it, and nothing of the others.
    let mut messages = Vec::new();
    for _ in 0..100 {
        let feed = expect_status(
            app.get("/v1/feed?after=0&limit=100", &hrss).await,
            StatusCode::OK,
        )
        .await;
        messages = feed["messages"].as_array().unwrap().clone();
        if messages
            .iter()
            .any(|message| message["body"]["type"] == "case.AttachmentAdded")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attached: Vec<&Value> = messages
        .iter()
        .filter(|message| message["body"]["type"] == "case.AttachmentAdded")
        .collect();
    assert_eq!(attached.len(), 1, "{messages:?}");
    assert_eq!(
        attached[0]["body"]["data"]["document"],
        json!({"path": path(&shared), "media_type": "application/pdf",
               "sha256": sha256(&pdf_bytes(1000))})
    );
    assert!(!serde_json::to_string(&messages)
        .unwrap()
        .contains(&internal));
}

#[tokio::test]
async fn withdrawn_files_stay_listed_and_readable() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let (case, [shared, _, _]) = shared_case(&app, &officer).await;
    let withdraw = format!("attachments/{shared}/withdraw");
    app.command(
        case,
        &withdraw,
        &officer,
        &json!({"reason": "拍的是另一车间"}),
        StatusCode::OK,
    )
    .await;
    let files = listed(&app, case, &officer).await;
    assert_eq!(files[0]["withdrawn"]["reason"], "拍的是另一车间");
    let conflict = assert_problem(
        app.post(
            &format!("/v1/cases/{case}/{withdraw}"),
            &officer,
            &json!({"reason": "again"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(conflict["rule"], "attachment_already_withdrawn");
    let invalid = assert_problem(
        app.post(
            &format!("/v1/cases/{case}/attachments/{}/withdraw", Uuid::now_v7()),
            &officer,
            &json!({"reason": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(invalid["detail"].as_str().unwrap().contains("attachment"));
    let (status, _, body) = download(
        &app,
        &format!("{}/{shared}", attachments_path(case)),
        &officer,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, pdf_bytes(1000));
    // Withdrawn bytes may be attached again, as a new attachment.
    let again = expect_status(
        upload(
            &app,
            case,
            &officer,
            "filename=again.pdf&personal=false",
            pdf_bytes(1000),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(again["attachment_id"], json!(shared));
}

#[tokio::test]
async fn erasure_makes_a_personal_file_unreadable_and_keeps_its_record() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let (case, [shared, _, personal]) = shared_case(&app, &officer).await;
    let digest = sha256(&pdf_bytes(1002));
    expect_status(
        app.post(
            &format!("/v1/cases/{case}/erase-personal-data"),
            &app.admin_token,
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let path = format!("{}/{personal}", attachments_path(case));
    let gone = assert_problem(app.get(&path, &officer).await, StatusCode::GONE).await;
    assert!(
        gone["detail"].as_str().unwrap().contains("erased"),
        "{gone}"
    );
    let files = listed(&app, case, &officer).await;
    assert_eq!(files[2]["sha256"], json!(digest));
    assert_eq!(files[2]["erased"], json!(true));
    assert_eq!(files[2]["filename"], Value::Null, "its name went with it");
    // A file not marked personal is unaffected; no new personal file is taken.
    let (status, _, _) = download(
        &app,
        &format!("{}/{shared}", attachments_path(case)),
        &officer,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let refused = assert_problem(
        upload(&app, case, &officer, "filename=more.pdf", pdf_bytes(5000)).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(refused["rule"], "personal_data_erased");
    let verify = expect_status(
        app.get("/v1/audit/verify", &app.admin_token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(verify["ok"], json!(true), "{verify}");
}

/// The peak resident memory of process `pid`, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .unwrap();
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap();
    kib * 1024
}

async fn binary_case(client: &reqwest::Client, address: &str, token: &str) -> String {
    let response = client
        .post(format!("{address}/v1/cases"))
        .bearer_auth(token)
        .json(&crate::support::valid_case_body())
        .send()
        .await
        .unwrap();
    let body = expect_status(response, StatusCode::CREATED).await;
    body["case_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_26_mb_upload_is_refused_while_streaming_and_never_held() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = scratch_postgres().await;
    let service = ServeProcess::start(data_dir.path(), &store_flags(database.as_ref()));
    let address = format!("http://{}", service.socket());
    let token = initial_admin_token(data_dir.path());
    let client = reqwest::Client::new();
    let case = binary_case(&client, &address, &token).await;
    // Warm up with a 6 MB file, 24 chunks: every pooled PostgreSQL connection has carried a
    // chunk (and keeps the buffers it grew for one), so the peak below is the big upload's
    // alone. Holding 26 MB would raise it by far more than the 12 MB allowed.
    let response = client
        .post(format!(
            "{address}/v1/cases/{case}/attachments?filename=a.pdf"
        ))
        .bearer_auth(&token)
        .body(pdf_bytes(6 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::CREATED).await;
    let before = peak_rss(service.pid());

    // 26 MB without a Content-Length: the limit is met while streaming.
    let big = pdf_bytes(26 * 1024 * 1024);
    let stream = futures::stream::iter(
        big.chunks(256 * 1024)
            .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = client
        .post(format!(
            "{address}/v1/cases/{case}/attachments?filename=big.pdf"
        ))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    if let Ok(response) = response {
        assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    }
    let grown = peak_rss(service.pid()).saturating_sub(before);
    assert!(
        grown < 12 * 1024 * 1024,
        "the service's peak memory grew by {grown} bytes for a 26 MB upload"
    );
    let response = client
        .get(format!("{address}/v1/cases/{case}/attachments"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let files = expect_status(response, StatusCode::OK).await;
    assert_eq!(files["attachments"].as_array().unwrap().len(), 1);
    let logs = service.stop();
    assert!(!logs.contains("panicked"), "{logs}");
}

#[tokio::test]
async fn a_kill_9_during_an_upload_leaves_no_half_file_and_no_event() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = scratch_postgres().await;
    let flags = store_flags(database.as_ref());
    let service = ServeProcess::start(data_dir.path(), &flags);
    let address = format!("http://{}", service.socket());
    let token = initial_admin_token(data_dir.path());
    let client = reqwest::Client::new();
    let case = binary_case(&client, &address, &token).await;

    // 8 MB go out, then the body waits; the service is killed meanwhile.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_of(receiver));
    let upload = tokio::spawn({
        let client = client.clone();
        let url = format!("{address}/v1/cases/{case}/attachments?filename=cut.pdf");
        let token = token.clone();
        async move { client.post(url).bearer_auth(token).body(body).send().await }
    });
    for chunk in pdf_bytes(8 * 1024 * 1024).chunks(256 * 1024) {
        sender.send(Ok(chunk.to_vec())).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    service.kill();
    drop(sender);
    assert!(
        upload.await.unwrap().is_err(),
        "the upload never got an answer"
    );

    // Restarted on the same store. On PostgreSQL other instances may be mid-upload, so the
    // start sweeps nothing and the hourly sweep takes the bytes after an hour; on sled the
    // start sweeps at once.
    let service = ServeProcess::start(data_dir.path(), &flags);
    let address = format!("http://{}", service.socket());
    let response = client
        .get(format!("{address}/v1/cases/{case}/attachments"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let files = expect_status(response, StatusCode::OK).await;
    assert_eq!(files["attachments"], json!([]), "no half file is visible");
    let response = client
        .get(format!("{address}/v1/cases/{case}/history"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let history = expect_status(response, StatusCode::OK).await;
    assert_eq!(history["events"].as_array().unwrap().len(), 1, "{history}");
    // The same file uploads whole afterwards.
    let response = client
        .post(format!(
            "{address}/v1/cases/{case}/attachments?filename=cut.pdf"
        ))
        .bearer_auth(&token)
        .body(pdf_bytes(8 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::CREATED).await;
    let logs = service.stop();
    if database.is_none() {
        assert!(
            logs.contains("removed the bytes of uploads a stop cut off"),
            "the start says what it swept: {logs}"
        );
    }
}

/// `--store <url>` for the scratch database, when the suite runs on PostgreSQL.
fn store_flags(database: Option<&ScratchDatabase>) -> Vec<&str> {
    match database {
        Some(database) => vec!["--store", database.url()],
        None => Vec::new(),
    }
}

/// The items `receiver` yields, as a stream.
fn tokio_stream_of<T: Send + 'static>(
    receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

#[tokio::test]
async fn an_auditor_checks_downloaded_files_against_the_exported_chain() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let (case, [shared, internal, _]) = shared_case(&app, &officer).await;
    let auditor = app.token("auditor", None).await;
    let folder = tempfile::tempdir().unwrap();
    for (n, id) in [&shared, &internal].into_iter().enumerate() {
        let (status, _, bytes) = download(
            &app,
            &format!("{}/{id}", attachments_path(case)),
            &auditor,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        // Names do not matter: the bytes do.
        std::fs::write(folder.path().join(format!("evidence-{n}.bin")), bytes).unwrap();
    }
    let export = app
        .get("/v1/audit/export", &auditor)
        .await
        .bytes()
        .await
        .unwrap();
    let export_file = folder.path().with_extension("ndjson");
    std::fs::write(&export_file, &export).unwrap();
    let verify = || {
        caseledger(args(&[
            &"audit",
            &"verify",
            &export_file,
            &"--attachments",
            &folder.path(),
        ]))
    };
    let output = verify().await;
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("is attachment {shared} of case {case}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("attachments: 2 of 2 files recorded"),
        "{stdout}"
    );

    // A file changed by one byte is recorded nowhere.
    let mut forged = pdf_bytes(1000);
    forged[500] ^= 1;
    std::fs::write(folder.path().join("evidence-0.bin"), forged).unwrap();
    let output = verify().await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("evidence-0.bin: SHA-256") && stdout.contains("is in no AttachmentAdded"),
        "{stdout}"
    );
    std::fs::remove_file(export_file).unwrap();
}

#[tokio::test]
async fn a_letters_receipt_of_service_is_an_attached_file() {
    let app = spawn_app().await;
    let officer = app.token("officer", None).await;
    let case = app.open_valid_case(&officer).await;
    app.command(
        case,
        "letters",
        &officer,
        &json!({"kind": "opinion", "recipient": "涪城建材有限公司",
                "content": "为研磨车间全部员工配发防尘口罩。"}),
        StatusCode::OK,
    )
    .await;
    let view = app.case(case, &officer).await;
    let letter = view["letters"][0]["letter_id"].as_str().unwrap().to_owned();
    let receipt = expect_status(
        upload(
            &app,
            case,
            &officer,
            "filename=%E9%80%81%E8%BE%BE%E5%9B%9E%E8%AF%81.pdf&personal=false",
            pdf_bytes(4000),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["attachment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let service = |receipt: &str| {
        json!({"method": "in_person", "served_at": chrono::Utc::now(),
               "received_by": "李伟", "receipt_attachment_id": receipt})
    };
    let refused = assert_problem(
        app.post(
            &format!("/v1/cases/{case}/letters/{letter}/service"),
            &officer,
            &service(&Uuid::now_v7().to_string()),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        refused["errors"][0]["field"], "receipt_attachment_id",
        "{refused}"
    );
    app.command(
        case,
        &format!("letters/{letter}/service"),
        &officer,
        &service(&receipt),
        StatusCode::OK,
    )
    .await;
    let view = app.case(case, &officer).await;
    assert_eq!(
        view["letters"][0]["service"]["receipt_attachment_id"],
        json!(receipt)
    );
}
