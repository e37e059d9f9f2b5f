//! The supervisors' dashboard (contract §8, issue #14) over plain HTTP: cases with letters,
//! replies, follow-ups, a missed deadline and closures over several months, regions and
//! categories, seeded through the API on a clock the test moves; then, for presets and ranges
//! with and without filters, every figure of the page, of the CSV and of the XLSX (read back
//! with calamine, and once through LibreOffice) equals `GET /v1/stats` for the same period and
//! filters. Bad periods give a clear page with a 4xx and change nothing; roles that may not
//! read statistics are refused. (The same in a real browser: `console_browser_dashboard`.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use caseledger_domain::Role;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::calendar::StillClock;
use crate::support::console_client::{location, person_signed_in, Browser};
use crate::support::fixtures::valid_case_body;
use crate::support::{expect_status, spawn_app_on_clock, TestApp};

/// The office's zone in the tests (the default `--timezone`).
const OFFICE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A person of `role` named 张主管, signed in to the console.
pub(crate) async fn signed_in_as(app: &TestApp, login: &str, role: Role) -> Browser {
    person_signed_in(app, login, "张主管", role, None).await.0
}

/// An instant in the office's zone.
fn office_time(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    OFFICE
        .with_ymd_and_hms(year, month, day, hour, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// The service with its seeded cases, and the last position written.
pub(crate) struct Seeded {
    pub app: TestApp,
    pub clock: Arc<StillClock>,
    pub officer: String,
    pub position: u64,
}

impl Seeded {
    async fn open(&mut self, title: &str, region: &str, category: &str) -> Uuid {
        let mut body = valid_case_body();
        body["title"] = json!(title);
        body["region"] = json!(region);
        body["category"] = json!(category);
        let response = self.app.open_case(&self.officer, &body).await;
        let answer = expect_status(response, StatusCode::CREATED).await;
        self.position = answer["position"].as_u64().unwrap();
        answer["case_id"].as_str().unwrap().parse().unwrap()
    }

    async fn command(&mut self, case: Uuid, command: &str, body: Value) -> Value {
        let answer = self
            .app
            .command(case, command, &self.officer, &body, StatusCode::OK)
            .await;
        self.position = answer["position"].as_u64().unwrap();
        answer
    }

    /// Issues a letter of `kind`, due in `days` when given; returns its id.
    async fn letter(&mut self, case: Uuid, kind: &str, days: Option<i64>) -> String {
        let mut body = json!({"kind": kind, "recipient": "绵阳某水泥有限公司",
            "content": "请于期限内整改。"});
        if let Some(days) = days {
            body["deadline"] =
                json!((self.clock_now() + chrono::Duration::days(days)).to_rfc3339());
        }
        if kind == "recommendation" {
            body["department"] = json!("labour_inspection");
            body["recipient"] = json!("绵阳市劳动保障监察支队");
        }
        self.command(case, "letters", body).await;
        let case = self.app.case(case, &self.officer).await;
        case["letters"].as_array().unwrap().last().unwrap()["letter_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn clock_now(&self) -> DateTime<Utc> {
        use caseledger_app::Clock as _;
        self.clock.now()
    }
}

/// Cases over January to March 2026 in three regions and four categories: opened, answered,
/// followed up, closed, one letter past its deadline; the clock left at 25 March 2026.
pub(crate) async fn seeded_office() -> Seeded {
    let clock = StillClock::at(office_time(2026, 1, 10, 10));
    let app = spawn_app_on_clock(clock.clone(), |flags| {
        flags.deadline_scan_interval = Some(Duration::from_millis(100));
    })
    .await;
    let officer = app.token("officer", None).await;
    let mut seeded = Seeded {
        app,
        clock,
        officer,
        position: 0,
    };
    // January.
    let wages = seeded
        .open("拖欠三个月工资", "涪城区", "wage_arrears")
        .await;
    let dust = seeded
        .open("粉尘岗位无口罩", "Youxian District", "ppe_shortfall")
        .await;
    let hours = seeded.open("连续加班", "涪城区", "working_hours").await;
    let wages_letter = seeded.letter(wages, "opinion", Some(40)).await;
    let dust_letter = seeded.letter(dust, "opinion", Some(40)).await;
    seeded.letter(hours, "reminder", None).await;
    // 31 January 17:30 UTC is already 1 February in the office.
    seeded
        .clock
        .set(Utc.with_ymd_and_hms(2026, 1, 31, 17, 30, 0).unwrap());
    let boundary = seeded
        .open("二月一日凌晨立案", "游仙区", "wage_arrears")
        .await;
    // February.
    seeded.clock.set(office_time(2026, 2, 12, 9));
    seeded
        .command(
            wages,
            &format!("letters/{wages_letter}/response"),
            json!({"rectified": true, "content": "已补发全部工资。"}),
        )
        .await;
    seeded
        .command(
            dust,
            &format!("letters/{dust_letter}/response"),
            json!({"rectified": false, "content": "正在采购。"}),
        )
        .await;
    seeded
        .command(
            wages,
            &format!("letters/{wages_letter}/follow-up"),
            json!({"visited_at": office_time(2026, 2, 11, 15).to_rfc3339(),
                "findings": "工资已发放到位。", "rectified": true}),
        )
        .await;
    seeded
        .command(
            wages,
            "close",
            json!({"outcome": "rectified", "summary": "已整改。"}),
        )
        .await;
    let hazard = seeded.open("脚手架隐患", "涪城区", "safety_hazard").await;
    let hazard_letter = seeded.letter(hazard, "opinion", Some(5)).await;
    seeded.letter(boundary, "reminder", None).await;
    // March: the hazard letter's deadline has passed unanswered; one more case closed.
    seeded.clock.set(office_time(2026, 3, 20, 11));
    seeded
        .command(
            hours,
            "close",
            json!({"outcome": "mediated", "summary": "双方调解。"}),
        )
        .await;
    seeded
        .open("三月新案", "Youxian District", "wage_arrears")
        .await;
    seeded.clock.set(office_time(2026, 3, 25, 10));
    // The deadline watcher marks the missed deadline within its (short) scan interval.
    let supervisor = seeded.app.token("supervisor", None).await;
    let started = std::time::Instant::now();
    loop {
        let stats = stats(&seeded.app, &supervisor, &[]).await;
        if stats["overdue_letters"] == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the missed deadline of {hazard_letter} was never marked: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = seeded.app.all_events().await;
    seeded.position = events.last().unwrap()["position"].as_u64().unwrap();
    seeded
}

/// `GET /v1/stats` with `query`, once the figures include everything written.
pub(crate) async fn stats(app: &TestApp, token: &str, query: &[(&str, String)]) -> Value {
    let response = app
        .request(reqwest::Method::GET, "/v1/stats", Some(token))
        .query(query)
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::OK).await
}

/// The `/v1/stats` query of a range of office days with filters.
pub(crate) fn api_query(
    first: NaiveDate,
    last: NaiveDate,
    region: &str,
    category: &str,
    position: u64,
) -> Vec<(&'static str, String)> {
    let start = |day: NaiveDate| {
        OFFICE
            .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
            .to_rfc3339()
    };
    let mut query = vec![
        ("from", start(first)),
        ("to", start(last.succ_opt().unwrap())),
        ("min_position", position.to_string()),
    ];
    if !region.is_empty() {
        query.push(("region", region.to_owned()));
    }
    if !category.is_empty() {
        query.push(("category", category.to_owned()));
    }
    query
}

/// The value of a dotted field of the API's answer (`letters_issued.opinion`).
fn api_value<'a>(stats: &'a Value, field: &str) -> Option<&'a Value> {
    match field.split_once('.') {
        Some((map, key)) => stats.get(map)?.get(key),
        None => stats.get(field),
    }
}

/// Every figure of the API's answer, as dotted fields.
fn api_fields(stats: &Value) -> BTreeMap<String, Value> {
    let mut fields = BTreeMap::new();
    for (name, value) in stats.as_object().unwrap() {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    fields.insert(format!("{name}.{key}"), inner.clone());
                }
            }
            other => {
                fields.insert(name.clone(), other.clone());
            }
        }
    }
    fields
}

/// Checks that `figures` (field → value as text, empty for none) are exactly the API's: every
/// figure the API gives is there, and each one there equals the API's (zero for a count the
/// API leaves out of a map).
pub(crate) fn assert_same_figures(what: &str, figures: &BTreeMap<String, String>, stats: &Value) {
    for (field, value) in api_fields(stats) {
        assert!(
            figures.contains_key(&field),
            "{what}: {field} = {value} is missing"
        );
    }
    for (field, text) in figures {
        let expected = api_value(stats, field);
        match expected {
            None => assert_eq!(text, "0", "{what}: {field} is not in the API's answer"),
            Some(Value::Null) => assert_eq!(text, "", "{what}: {field}"),
            Some(number) => {
                let got: f64 = text
                    .parse()
                    .unwrap_or_else(|_| panic!("{what}: {field} = {text:?}"));
                let want = number.as_f64().unwrap();
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{what}: {field} is {got}, the API says {want}"
                );
            }
        }
    }
}

/// The figures of a dashboard page: its `data-stat` cells.
pub(crate) fn page_figures(page: &str) -> BTreeMap<String, String> {
    let mut figures = BTreeMap::new();
    for piece in page.split("data-stat=\"").skip(1) {
        let field = &piece[..piece.find('"').unwrap()];
        let value_start = piece.find("data-value=\"").unwrap() + "data-value=\"".len();
        let value = &piece[value_start..value_start + piece[value_start..].find('"').unwrap()];
        figures.insert(unescape(field), value.to_owned());
    }
    figures
}

fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&amp;", "&")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
}

/// The figures of a CSV download: the rows after the column names, field → value.
pub(crate) fn csv_figures(bytes: &[u8]) -> BTreeMap<String, String> {
    let text = std::str::from_utf8(bytes).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let header = records
        .iter()
        .position(|record| record.len() == 4)
        .expect("a row of column names");
    records[header + 1..]
        .iter()
        .map(|record| (record[3].to_owned(), record[2].to_owned()))
        .collect()
}

/// The figures of an XLSX download read back with calamine: field → value.
pub(crate) fn xlsx_figures(bytes: &[u8]) -> (Vec<Vec<String>>, BTreeMap<String, String>) {
    use calamine::{Data, Reader as _};
    let mut workbook = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::Empty => String::new(),
                    Data::Float(value) => value.to_string(),
                    Data::Int(value) => value.to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let header = rows
        .iter()
        .position(|row| row.len() >= 4 && !row[3].is_empty() && !row[0].is_empty())
        .expect("a row of column names");
    let figures = rows[header + 1..]
        .iter()
        .map(|row| (row[3].clone(), row[2].clone()))
        .collect();
    (rows, figures)
}

/// `GET` with the browser's cookies, as bytes.
pub(crate) async fn download(
    browser: &Browser,
    url: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(url)
        .header(COOKIE, browser.cookie_header())
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

#[tokio::test]
async fn the_dashboard_and_its_downloads_hold_exactly_the_figures_of_v1_stats() {
    let seeded = seeded_office().await;
    let app = &seeded.app;
    let supervisor_token = app.token("supervisor", None).await;
    let mut supervisor = signed_in_as(app, "zhang.zhuguan", Role::Supervisor).await;

    let (status, _, queue) = supervisor.get(&format!("{}/console/", app.address)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(queue.contains("href=\"/console/dashboard\""), "{queue}");

    // (query of the page, first and last day it means, region, category)
    let cases = [
        ("", "2026-01-01", "2026-12-31", "", ""),
        (
            "period=quarter&region=%E6%B6%AA%E5%9F%8E%E5%8C%BA",
            "2026-01-01",
            "2026-03-31",
            "涪城区",
            "",
        ),
        ("period=month", "2026-03-01", "2026-03-31", "", ""),
        (
            "period=range&from=2026-02-01&to=2026-02-28&category=wage_arrears",
            "2026-02-01",
            "2026-02-28",
            "",
            "wage_arrears",
        ),
        (
            "period=year&region=youxian+district&category=ppe_shortfall",
            "2026-01-01",
            "2026-12-31",
            "youxian district",
            "ppe_shortfall",
        ),
    ];
    for (query, first, last, region, category) in cases {
        let expected = stats(
            app,
            &supervisor_token,
            &api_query(day(first), day(last), region, category, seeded.position),
        )
        .await;
        let url = format!("{}/console/dashboard?{query}", app.address);
        let (status, _, page) = supervisor.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert!(page.contains(&format!("{first} 至 {last}")), "{query}");
        assert!(page.contains("<svg class=\"chart\""), "{query}");
        assert!(page.contains("<figcaption"), "{query}");
        assert_same_figures(&format!("page {query}"), &page_figures(&page), &expected);

        // The downloads are linked with the period as a range of days and the filters.
        let marker = "href=\"/console/dashboard.xlsx?";
        let start = page.find(marker).unwrap() + marker.len();
        let download_query = unescape(&page[start..start + page[start..].find('"').unwrap()]);
        assert!(
            download_query.contains(&format!("from={first}")),
            "{download_query}"
        );

        let (status, headers, csv) = download(
            &supervisor,
            &format!("{}/console/dashboard.csv?{download_query}", app.address),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[CONTENT_TYPE], "text/csv; charset=utf-8");
        let disposition = headers[CONTENT_DISPOSITION].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
        // 案件统计 in UTF-8, then the period.
        assert!(
            disposition.contains(&format!(
                "filename*=UTF-8''%E6%A1%88%E4%BB%B6%E7%BB%9F%E8%AE%A1_{first}_{last}"
            )),
            "{disposition}"
        );
        assert_same_figures(&format!("CSV {query}"), &csv_figures(&csv), &expected);
        let csv_text = String::from_utf8(csv.clone()).unwrap();
        assert!(
            csv_text.contains(&format!("统计期间,{first} 至 {last}")),
            "{csv_text}"
        );
        assert!(csv_text.contains("分组,项目,数值,接口字段"), "{csv_text}");

        let (status, headers, xlsx) = download(
            &supervisor,
            &format!("{}/console/dashboard.xlsx?{download_query}", app.address),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[CONTENT_TYPE],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert!(headers[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .ends_with(".xlsx"));
        let (rows, figures) = xlsx_figures(&xlsx);
        assert_eq!(rows[0][0], "案件统计看板");
        assert!(rows
            .iter()
            .any(|row| row[0] == "统计期间" && row[1] == format!("{first} 至 {last}")));
        assert_same_figures(&format!("XLSX {query}"), &figures, &expected);
    }

    // The seeded figures themselves, so that "equal" is not "equally empty".
    let whole_year = stats(
        app,
        &supervisor_token,
        &api_query(
            day("2026-01-01"),
            day("2026-12-31"),
            "",
            "",
            seeded.position,
        ),
    )
    .await;
    assert_eq!(whole_year["cases"], 6, "{whole_year}");
    assert_eq!(whole_year["closed"], 2);
    assert_eq!(whole_year["overdue_letters"], 1);
    assert_eq!(
        whole_year["opened_by_month"],
        json!({"2026-01": 3, "2026-02": 2, "2026-03": 1})
    );
    assert_eq!(
        whole_year["closed_by_month"],
        json!({"2026-01": 0, "2026-02": 1, "2026-03": 1})
    );
    assert_eq!(
        whole_year["by_region"],
        json!({"涪城区": 3, "youxian district": 2, "游仙区": 1})
    );
    assert_eq!(whole_year["reply_rate"], json!(2.0 / 3.0));
    assert_eq!(whole_year["confirmed_rectification_rate"], json!(1.0 / 3.0));
    let wages_in_youxian = stats(
        app,
        &supervisor_token,
        &[
            ("region", "Youxian District".into()),
            ("category", "wage_arrears".into()),
        ],
    )
    .await;
    assert_eq!(wages_in_youxian["cases"], 1, "{wages_in_youxian}");

    // In English: English headers and file name.
    let (status, _, _) = supervisor
        .get(&format!(
            "{}/console/language/en?back=/console/dashboard",
            app.address
        ))
        .await;
    assert!(status.is_redirection());
    let (_, headers, csv) = download(
        &supervisor,
        &format!("{}/console/dashboard.csv?period=quarter", app.address),
    )
    .await;
    let disposition = headers[CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with(
            "attachment; filename=\"caseledger-statistics_2026-01-01_2026-03-31.csv\""
        ),
        "{disposition}"
    );
    let text = String::from_utf8(csv).unwrap();
    assert!(text.contains("Section,Figure,Value,API field"), "{text}");
    assert!(text.contains("Period,2026-01-01 to 2026-03-31"), "{text}");
}

#[tokio::test]
async fn bad_periods_and_filters_get_a_clear_page_and_change_nothing() {
    let clock = StillClock::at(office_time(2026, 5, 6, 10));
    let app = spawn_app_on_clock(clock, |_| {}).await;
    let mut supervisor = signed_in_as(&app, "zhang.zhuguan", Role::Supervisor).await;
    let before = app.all_events().await.len();
    for (query, message) in [
        (
            "period=range&from=2026-03-01&to=2026-02-01",
            "截止日期不能早于起始日期。",
        ),
        (
            "period=range&from=yesterday&to=2026-02-30",
            "请填写有效的日期。",
        ),
        ("period=range&from=&to=2026-02-01", "此项不能为空。"),
        ("category=weather", "请从列表中选择。"),
        ("period=decade", "请从列表中选择。"),
    ] {
        for path in ["dashboard", "dashboard.csv", "dashboard.xlsx"] {
            let url = format!("{}/console/{path}?{query}", app.address);
            let (status, headers, page) = supervisor.get(&url).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {page}");
            assert!(
                headers[CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "{url}"
            );
            assert!(page.contains(message), "{url}: {page}");
            assert!(page.contains("aria-invalid=\"true\""), "{url}");
            assert!(
                !page.contains("data-stat="),
                "{url}: figures on a refused page"
            );
        }
    }
    // Not a query at all.
    let (status, _, _) = supervisor
        .get(&format!(
            "{}/console/dashboard?period=a&period=b",
            app.address
        ))
        .await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(app.all_events().await.len(), before);

    // The API refuses an unknown category, naming it.
    let token = app.token("supervisor", None).await;
    let response = app
        .request(reqwest::Method::GET, "/v1/stats", Some(&token))
        .query(&[("category", "weather")])
        .send()
        .await
        .unwrap();
    let problem = crate::support::assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        crate::support::names_field(&problem, "category"),
        "{problem}"
    );
}

#[tokio::test]
async fn only_roles_that_read_statistics_see_the_dashboard() {
    let clock = StillClock::at(office_time(2026, 5, 6, 10));
    let app = spawn_app_on_clock(clock, |_| {}).await;
    let mut officer = signed_in_as(&app, "li.ganbu", Role::Officer).await;
    let (_, _, queue) = officer.get(&format!("{}/console/", app.address)).await;
    assert!(!queue.contains("href=\"/console/dashboard\""));
    for path in [
        "dashboard",
        "dashboard.csv",
        "dashboard.xlsx?period=range&from=x",
    ] {
        let (status, _, page) = officer
            .get(&format!("{}/console/{path}", app.address))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
        assert!(!page.contains("data-stat="));
    }
    let mut signed_out = Browser::new(&app.address);
    let (status, headers, _) = signed_out
        .get(&format!("{}/console/dashboard.xlsx", app.address))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location(&headers).starts_with("/console/sign-in?next="));
}

/// LibreOffice opens the XLSX and finds the same numbers: converted to CSV headless (a fresh
/// profile directory, so it runs as root and beside other runs). Without LibreOffice the test
/// says so and passes, except under `CI=true` or `CASELEDGER_REQUIRE_LIBREOFFICE=1` (`.ci/run`),
/// where it must be there.
#[tokio::test]
async fn libreoffice_reads_the_same_numbers_from_the_xlsx() {
    let Some(office) = ["libreoffice", "soffice"].into_iter().find(|program| {
        std::process::Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
    }) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true")
                && std::env::var("CASELEDGER_REQUIRE_LIBREOFFICE").as_deref() != Ok("1"),
            "LibreOffice is required under CI=true or CASELEDGER_REQUIRE_LIBREOFFICE=1 \
             (.ci/run installs libreoffice-calc-nogui)"
        );
        eprintln!(
            "SKIPPED (no LibreOffice): console_dashboard::libreoffice_reads_the_same_numbers_from_the_xlsx \
             needs libreoffice or soffice (apt-get install libreoffice-calc-nogui)"
        );
        return;
    };
    let seeded = seeded_office().await;
    let app = &seeded.app;
    let token = app.token("supervisor", None).await;
    let supervisor = signed_in_as(app, "zhang.zhuguan", Role::Supervisor).await;
    let expected = stats(
        app,
        &token,
        &api_query(
            day("2026-01-01"),
            day("2026-03-31"),
            "",
            "",
            seeded.position,
        ),
    )
    .await;
    let (status, _, xlsx) = download(
        &supervisor,
        &format!("{}/console/dashboard.xlsx?period=quarter", app.address),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("figures.xlsx");
    std::fs::write(&input, &xlsx).unwrap();
    let profile = work.path().join("profile");
    let mut command = std::process::Command::new(office);
    command
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
        ])
        .arg("--outdir")
        .arg(work.path())
        .arg(&input)
        .env("HOME", work.path());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let converted = work.path().join("figures.csv");
    assert!(
        converted.exists(),
        "LibreOffice made no CSV: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&converted).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut seen = 0;
    for record in reader.records().map(Result::unwrap) {
        if record.len() < 4 || record[3].is_empty() || record[3] == *"接口字段" {
            continue;
        }
        let field = &record[3];
        let shown = &record[2];
        let Some(want) = api_value(&expected, field) else {
            assert_eq!(shown, "0", "{field}");
            seen += 1;
            continue;
        };
        // LibreOffice writes what the cell shows: rates as percentages with one decimal,
        // days with one decimal.
        let want_text = match (want, field) {
            (Value::Null, _) => String::new(),
            (number, field) if field.ends_with("rate") => {
                format!("{:.1}%", number.as_f64().unwrap() * 100.0)
            }
            (number, "median_days_to_close") => format!("{:.1}", number.as_f64().unwrap()),
            (number, _) => number.to_string(),
        };
        assert_eq!(shown, want_text, "{field}");
        seen += 1;
    }
    assert!(seen >= api_fields(&expected).len(), "only {seen} figures");
}

/// The dashboard in a real browser: a supervisor signs in, opens the dashboard from the menu,
/// picks this quarter and a category, and the XLSX behind the page's link (fetched with the
/// browser's own session cookie) holds the figures of `/v1/stats` for that period and
/// category; axe and screenshots in Chinese and in English, and at 360 px.
#[tokio::test]
async fn a_supervisor_downloads_the_xlsx_in_a_real_browser() {
    use crate::support::browser::{ConsoleSession, ADMIN_PASSWORD};
    use chrono::Datelike as _;
    let Some(session) = ConsoleSession::admin(
        "console_dashboard::a_supervisor_downloads_the_xlsx_in_a_real_browser",
    )
    .await
    else {
        return;
    };
    let client = reqwest::Client::new();
    let admin_token = session.admin_token();
    let api = |path: &str| format!("{}{path}", session.server.address);
    // Seeding: cases opened now, one letter answered, one case closed.
    let token = |role: &'static str| {
        let request = client
            .post(api("/v1/tokens"))
            .bearer_auth(&admin_token)
            .json(&json!({"name": format!("test {role}"), "role": role}));
        async move {
            let body = expect_status(request.send().await.unwrap(), StatusCode::CREATED).await;
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let officer = token("officer").await;
    let supervisor_token = token("supervisor").await;
    let mut position = 0;
    for (region, category) in [
        ("涪城区", "ppe_shortfall"),
        ("涪城区", "wage_arrears"),
        ("游仙区", "ppe_shortfall"),
    ] {
        let mut body = valid_case_body();
        body["region"] = json!(region);
        body["category"] = json!(category);
        let response = client
            .post(api("/v1/cases"))
            .bearer_auth(&officer)
            .json(&body)
            .send()
            .await
            .unwrap();
        let answer = expect_status(response, StatusCode::CREATED).await;
        let case = answer["case_id"].as_str().unwrap().to_owned();
        let deadline = (Utc::now() + chrono::Duration::days(20)).to_rfc3339();
        let response = client
            .post(api(&format!("/v1/cases/{case}/letters")))
            .bearer_auth(&officer)
            .json(
                &json!({"kind": "opinion", "recipient": "某公司", "content": "请整改。",
                "deadline": deadline}),
            )
            .send()
            .await
            .unwrap();
        let answer = expect_status(response, StatusCode::OK).await;
        position = answer["position"].as_u64().unwrap();
    }
    let response = client
        .post(api("/v1/users"))
        .bearer_auth(&admin_token)
        .json(&json!({"login": "zhang.zhuguan", "name": "张主管", "role": "supervisor"}))
        .send()
        .await
        .unwrap();
    let created = expect_status(response, StatusCode::CREATED).await;
    let setup_url = created["setup_url"].as_str().unwrap().to_owned();

    let browser = &session.browser;
    browser.click_button("退出登录").await;
    browser.wait_for_heading("登录").await;
    browser.goto(&setup_url).await;
    browser.wait_for_heading("设置密码").await;
    browser.fill("新密码", ADMIN_PASSWORD).await;
    browser.fill("再次输入新密码", ADMIN_PASSWORD).await;
    browser.click_button("保存密码").await;
    browser.wait_for_heading("登录").await;
    session.sign_in("zhang.zhuguan", ADMIN_PASSWORD).await;
    browser.wait_for_heading("我的待办").await;
    browser.click_button("统计看板").await;
    browser.wait_for_heading("案件统计看板").await;
    browser.check_page("dashboard-zh-CN").await;

    browser
        .field("统计期间")
        .await
        .select_by_value("quarter")
        .await
        .unwrap();
    browser
        .field("类别")
        .await
        .select_by_value("ppe_shortfall")
        .await
        .unwrap();
    browser.click_button("查看统计").await;
    let today = Utc::now().with_timezone(&OFFICE).date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), (today.month() - 1) / 3 * 3 + 1, 1).unwrap();
    let last = (first + chrono::Months::new(3)).pred_opt().unwrap();
    browser
        .client()
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(fantoccini::Locator::XPath(&format!(
            "//h2[normalize-space(.)='{first} 至 {last}']"
        )))
        .await
        .unwrap();
    browser.check_page("dashboard-quarter-zh-CN").await;

    let link = browser
        .client()
        .find(fantoccini::Locator::LinkText("Excel 工作簿（XLSX）"))
        .await
        .unwrap();
    let href = link.prop("href").await.unwrap().unwrap();
    let cookies = browser.client().get_all_cookies().await.unwrap();
    let cookie_header = cookies
        .iter()
        .map(|cookie| format!("{}={}", cookie.name(), cookie.value()))
        .collect::<Vec<_>>()
        .join("; ");
    let response = client
        .get(&href)
        .header(COOKIE, cookie_header)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let xlsx = response.bytes().await.unwrap();
    let expected = {
        let query = api_query(first, last, "", "ppe_shortfall", position);
        let response = client
            .get(api("/v1/stats"))
            .bearer_auth(&supervisor_token)
            .query(&query)
            .send()
            .await
            .unwrap();
        expect_status(response, StatusCode::OK).await
    };
    assert_eq!(expected["cases"], 2, "{expected}");
    let (_, figures) = xlsx_figures(&xlsx);
    assert_same_figures("the browser's XLSX", &figures, &expected);

    browser.click_button("English").await;
    browser.wait_for_heading("Case statistics").await;
    browser.check_page("dashboard-quarter-en").await;
    browser.set_width(360).await;
    let whole_page = browser.screenshot("dashboard-quarter-en-360").await;
    // The charts as a phone shows them: the first screenful from the first chart.
    browser
        .run("document.querySelector('.charts').scrollIntoView(); return true;")
        .await;
    let png = browser.client().screenshot().await.unwrap();
    let charts_shot = whole_page.with_file_name("dashboard-charts-en-360.png");
    std::fs::write(charts_shot, png).unwrap();
    session.browser.close().await;
}
