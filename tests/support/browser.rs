//! A real browser for the console tests: Debian's headless `chromium`, driven over WebDriver
//! through `chromedriver` on a loopback port. [`Browser`] starts both (or says loudly why it
//! cannot and skips), and offers what a person does — open a page, type into the field a label
//! names, press a button by its text, press Tab — plus the checks every page gets: `axe-core`
//! (vendored in `tests/vendor/axe-core`) with no serious or critical violation, and a
//! screenshot under `target/console-screenshots/`. [`ConsoleSession`] is the real binary with
//! its first admin signed in in that browser, for any test of the console's pages.
//!
//! The browser reaches nothing but loopback: every host name fails to resolve, and every
//! request that is not for 127.0.0.1 or [::1] goes to a proxy on a closed loopback port.
//!
//! It owns no assertions about the console beyond the accessibility check.

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::binary::ServeProcess;

/// Set to `1` (as `.ci/run` does) to make a missing browser fail the browser tests instead of
/// skipping them.
pub const REQUIRE_BROWSER_ENV: &str = "CASELEDGER_REQUIRE_BROWSER";

/// Where the chromium binary is, when it is not Debian's `/usr/lib/chromium/chromium`.
pub const CHROMIUM_ENV: &str = "CASELEDGER_TEST_CHROMIUM";

/// How long chromedriver may take to say it listens, and a page or element to appear.
const PATIENCE: Duration = Duration::from_secs(30);

/// The line chromedriver writes to stdout once it listens.
const DRIVER_READY: &str = "started successfully";

/// The window of a desktop browser; [`Browser::set_width`] narrows it (e.g. to a phone's 360).
pub const DESKTOP_WIDTH: u32 = 1280;
/// The window's height, whatever its width.
pub const WINDOW_HEIGHT: u32 = 900;

/// axe-core, injected into each page over WebDriver (which the console's CSP does not block).
const AXE_SOURCE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// Runs axe on the page and hands back how many rules passed and its violations, each cut to
/// what a failure message needs. WebDriver's async script: the callback is the last argument.
const RUN_AXE: &str = r"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] })
  .then((results) => done({
    passes: results.passes.length,
    violations: results.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => ({
        target: node.target.join(' '),
        summary: node.failureSummary,
      })),
    })),
  }))
  .catch((error) => done({ error: String(error) }));
";

/// A headless chromium under a chromedriver of its own; both are killed when dropped (use
/// [`Browser::close`] to end the session politely first).
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: Child,
    screenshots: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless chromium, or `None` (after saying why on stderr) when
    /// this run should not have browser tests: in the PostgreSQL pass of the integration tests
    /// (the real binary runs on sled, so the sled pass already covered them), or when chromium
    /// or chromedriver is missing outside CI. With `CASELEDGER_REQUIRE_BROWSER=1` a missing
    /// browser fails the test instead.
    pub async fn start(test: &str) -> Option<Browser> {
        if std::env::var(super::in_process::TEST_STORE_ENV).as_deref() == Ok("postgres") {
            say(&format!(
                "SKIPPED (browser tests run in the sled pass only): {test}"
            ));
            return None;
        }
        let (chromium, chromedriver) = match browser_binaries() {
            Ok(found) => found,
            Err(missing) => {
                assert!(
                    std::env::var(REQUIRE_BROWSER_ENV).as_deref() != Ok("1"),
                    "{missing}: the browser tests are required here ({REQUIRE_BROWSER_ENV}=1); \
                     apt-get install chromium chromium-driver fonts-noto-cjk"
                );
                say(&format!(
                    "SKIPPED (no browser): {test} — {missing}; apt-get install chromium \
                     chromium-driver fonts-noto-cjk, and {REQUIRE_BROWSER_ENV}=1 makes it required"
                ));
                return None;
            }
        };
        let (driver, port) = start_driver(&chromedriver);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": chromium_args() }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("chromedriver starts a chromium session");
        let screenshots = screenshot_dir();
        std::fs::create_dir_all(&screenshots).unwrap();
        Some(Browser {
            client,
            driver,
            screenshots,
        })
    }

    /// The WebDriver client, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The address of the page shown.
    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// The `<title>`.
    pub async fn title(&self) -> String {
        self.client.title().await.unwrap()
    }

    /// The text of the page's `<main>`, as a person sees it.
    pub async fn main_text(&self) -> String {
        self.find("main").await.text().await.unwrap()
    }

    /// The element `css` selects, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(error) => panic!("no element {css} on {}: {error}", self.describe().await),
        }
    }

    /// Waits until the page's `<h1>` reads `heading` (after a click that loads another page)
    /// and returns that heading.
    pub async fn wait_for_heading(&self, heading: &str) -> Element {
        let xpath = format!("//h1[normalize-space(.)={}]", xpath_string(heading));
        let found = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await;
        match found {
            Ok(element) => element,
            Err(error) => panic!(
                "no heading «{heading}» on {}: {error}",
                self.describe().await
            ),
        }
    }

    /// The `<html lang>` of the page shown.
    pub async fn lang(&self) -> String {
        self.find("html")
            .await
            .attr("lang")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Types `value` into the field whose `<label>` reads `label` (a required field's `*`
    /// aside) or, failing that, whose `name` is `label`. Finding it by its label is the
    /// check that the field is labelled.
    pub async fn fill(&self, label: &str, value: &str) -> Element {
        let field = self.field(label).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
        field
    }

    /// The field a label names (see [`Browser::fill`]).
    pub async fn field(&self, label: &str) -> Element {
        let xpath = format!(
            "//label[normalize-space(.)={text} or normalize-space(.)={required}]",
            text = xpath_string(label),
            required = xpath_string(&format!("{label} *")),
        );
        let id = match self.client.find(Locator::XPath(&xpath)).await {
            Ok(found) => found.attr("for").await.unwrap(),
            Err(_) => None,
        };
        let css = match id {
            Some(id) => format!("#{id}"),
            None => format!("[name=\"{label}\"]"),
        };
        match self.client.find(Locator::Css(&css)).await {
            Ok(field) => field,
            Err(error) => panic!(
                "no field labelled or named «{label}» on {}: {error}",
                self.describe().await
            ),
        }
    }

    /// Clicks the button (or link styled as one) whose text is `text`.
    pub async fn click_button(&self, text: &str) {
        let xpath = format!(
            "//button[normalize-space(.)={text}] | //a[normalize-space(.)={text}]",
            text = xpath_string(text)
        );
        let button = match self.client.find(Locator::XPath(&xpath)).await {
            Ok(button) => button,
            Err(error) => panic!("no button «{text}» on {}: {error}", self.describe().await),
        };
        button.click().await.unwrap();
    }

    /// Presses a key (e.g. [`Key::Tab`]) in whatever has the focus, as a keyboard would.
    pub async fn press(&self, key: Key) {
        let value = char::from(key);
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        self.client.perform_actions(keys).await.unwrap();
    }

    /// The element that has the focus, described as `tag#id.class "text"`.
    pub async fn focused(&self) -> String {
        let described = self
            .client
            .execute(
                "const e = document.activeElement; return e.tagName.toLowerCase() + \
                 (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '') + \
                 ' \"' + (e.innerText || e.value || '').trim() + '\"';",
                vec![],
            )
            .await
            .unwrap();
        described.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` in the page (a WebDriver script, so the page's CSP does not apply to it)
    /// and returns what it returns.
    pub async fn run(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Narrows (or widens) the window to `width` CSS pixels and checks the page got that
    /// viewport.
    pub async fn set_width(&self, width: u32) {
        self.client
            .set_window_size(width, WINDOW_HEIGHT)
            .await
            .unwrap();
        let viewport = self.run("return window.innerWidth;").await;
        assert_eq!(
            viewport.as_u64(),
            Some(u64::from(width)),
            "the viewport is {width} px wide"
        );
    }

    /// Runs axe-core on the page shown, named `page` in messages, and fails the test on any
    /// violation of impact serious or critical, listing each with the elements it found.
    /// Lesser ones are printed, not failed.
    pub async fn axe(&self, page: &str) {
        let violations = self.axe_violations(page).await;
        let (blocking, lesser): (Vec<&Value>, Vec<&Value>) =
            violations.iter().partition(|violation| {
                matches!(violation["impact"].as_str(), Some("serious" | "critical"))
            });
        for violation in &lesser {
            say(&format!("axe, {page}: {}", describe_violation(violation)));
        }
        assert!(
            blocking.is_empty(),
            "axe-core finds serious or critical violations on {page} ({}):\n{}",
            self.url().await,
            blocking
                .iter()
                .map(|violation| describe_violation(violation))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// Every violation axe-core finds on the page shown (`id`, `impact`, `help`, and `nodes`
    /// with each element's `target` and `summary`), after checking that axe ran its rules.
    pub async fn axe_violations(&self, page: &str) -> Vec<Value> {
        // A WebDriver script runs whatever the page's Content-Security-Policy says about
        // inline scripts: that is what lets axe in without an exception in the policy.
        self.client.execute(AXE_SOURCE, vec![]).await.unwrap();
        let injected = self.run("return typeof window.axe;").await;
        assert_eq!(
            injected,
            json!("object"),
            "axe-core is injected into {page}"
        );
        let results = self.client.execute_async(RUN_AXE, vec![]).await.unwrap();
        if let Some(error) = results.get("error") {
            panic!("axe-core failed on {page}: {error}");
        }
        assert!(
            results["passes"].as_u64().unwrap_or(0) > 0,
            "axe-core checked nothing on {page}: {results}"
        );
        results["violations"]
            .as_array()
            .expect("axe's violations")
            .clone()
    }

    /// Writes the whole page (the window stretched to the page's height for the moment, at
    /// most 6000 px) to `target/console-screenshots/<name>.png` and returns the file's path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let (width, height) = self.client.get_window_size().await.unwrap();
        let (width, height) = (
            u32::try_from(width).unwrap(),
            u32::try_from(height).unwrap(),
        );
        // The page's height plus what the window keeps for itself outside the viewport.
        let wanted = self
            .run(
                "return document.documentElement.scrollHeight \
                 + (window.outerHeight - window.innerHeight);",
            )
            .await
            .as_u64()
            .map_or(height, |wanted| u32::try_from(wanted.min(6000)).unwrap());
        self.client
            .set_window_size(width, wanted.max(height))
            .await
            .unwrap();
        let png = self.client.screenshot().await.unwrap();
        self.client.set_window_size(width, height).await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// [`Browser::axe`] and [`Browser::screenshot`] of the page shown, both named `name`.
    pub async fn check_page(&self, name: &str) {
        self.axe(name).await;
        self.screenshot(name).await;
    }

    /// Ends the WebDriver session (chromium quits) and stops chromedriver.
    pub async fn close(self) {
        // Drop kills chromedriver's process group once the session is over.
        let _ = self.client.clone().close().await;
    }

    /// "<url> «<title>»", for failure messages.
    async fn describe(&self) -> String {
        let url = self
            .client
            .current_url()
            .await
            .map(|url| url.to_string())
            .unwrap_or_default();
        let title = self.client.title().await.unwrap_or_default();
        format!("{url} «{title}»")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group, chromium and its helpers included.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The real binary on a fresh data dir, with the first admin's password chosen through the
/// setup link and the admin signed in, in a real browser: what a test of the console's pages
/// starts from.
#[derive(Debug)]
pub struct ConsoleSession {
    /// The browser, signed in (after [`ConsoleSession::admin`]).
    pub browser: Browser,
    /// `caseledger serve`.
    pub server: ServeProcess,
    /// The server's data dir, removed when the session is dropped (after the server).
    _data_dir: tempfile::TempDir,
    /// The one-time setup link the first start wrote.
    pub setup_url: String,
}

/// The password the tests choose for the first admin.
pub const ADMIN_PASSWORD: &str = "维权干部的长密码一二三四";

/// The first admin's login.
pub const ADMIN_LOGIN: &str = "admin";

impl ConsoleSession {
    /// The binary started on a fresh data dir and a browser, nobody signed in yet; `None`
    /// when the browser tests skip (see [`Browser::start`]).
    pub async fn start(test: &str) -> Option<ConsoleSession> {
        let browser = Browser::start(test).await?;
        let data_dir = tempfile::tempdir().unwrap();
        let server = ServeProcess::start(data_dir.path(), &[]);
        let setup_url = std::fs::read_to_string(data_dir.path().join("initial-admin-setup-url"))
            .expect("the first start writes the admin's setup link")
            .trim()
            .to_owned();
        assert!(
            setup_url.starts_with(&format!("{}/console/setup/", server.address)),
            "{setup_url}"
        );
        Some(ConsoleSession {
            browser,
            server,
            _data_dir: data_dir,
            setup_url,
        })
    }

    /// [`ConsoleSession::start`], then the admin chooses [`ADMIN_PASSWORD`] through the setup
    /// link and signs in; the browser shows the console's home page, in Chinese.
    pub async fn admin(test: &str) -> Option<ConsoleSession> {
        let session = ConsoleSession::start(test).await?;
        session.choose_admin_password().await;
        session.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
        session.browser.wait_for_heading("我的待办").await;
        Some(session)
    }

    /// The first start's admin token, for seeding through the API.
    #[allow(dead_code, reason = "only the tests that seed through the API read it")]
    pub fn admin_token(&self) -> String {
        super::binary::initial_admin_token(self._data_dir.path())
    }

    /// The server's data dir (its `initial-admin-token`, for a test that also uses the API).
    pub fn data_dir(&self) -> &Path {
        self._data_dir.path()
    }

    /// `path` (e.g. `/console/`) on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.address)
    }

    /// Follows the setup link and saves [`ADMIN_PASSWORD`] (in Chinese, the default); the
    /// browser is left on the sign-in page.
    pub async fn choose_admin_password(&self) {
        self.browser.goto(&self.setup_url).await;
        self.browser.wait_for_heading("设置密码").await;
        self.browser.fill("新密码", ADMIN_PASSWORD).await;
        self.browser.fill("再次输入新密码", ADMIN_PASSWORD).await;
        self.browser.click_button("保存密码").await;
        self.browser.wait_for_heading("登录").await;
    }

    /// Opens the sign-in page, types `login` and `password` into the fields their labels
    /// name (in Chinese) and presses Enter in the password field. Waits for no particular
    /// page: the caller knows what should come.
    pub async fn sign_in(&self, login: &str, password: &str) {
        self.browser.goto(&self.url("/console/sign-in")).await;
        self.browser.wait_for_heading("登录").await;
        self.browser.fill("登录名", login).await;
        let field = self.browser.fill("密码", password).await;
        field.send_keys(&Key::Enter.to_string()).await.unwrap();
    }
}

/// Says `line` on the process's stderr, which the test harness does not capture.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The chromium binary (Debian's, not its launcher script, which adds flags and API keys of
/// its own) and chromedriver, or what is missing.
fn browser_binaries() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os(CHROMIUM_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/chromium/chromium"));
    let chromedriver = on_path("chromedriver");
    match (chromium.is_file(), chromedriver) {
        (true, Some(chromedriver)) => Ok((chromium, chromedriver)),
        (false, _) => Err(format!(
            "chromium is not at {} (set {CHROMIUM_ENV})",
            chromium.display()
        )),
        (true, None) => Err("chromedriver is not on PATH".to_owned()),
    }
}

/// `program` in a directory of `PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// chromium's flags: headless, no sandbox (the tests run as root), nothing that phones home,
/// and no way off loopback.
fn chromium_args() -> Vec<String> {
    [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-breakpad",
        "--no-pings",
        "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
        // Every host name fails to resolve; the tests use addresses.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        // What is not loopback goes to a proxy that is not there.
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1;[::1]",
        "--lang=zh-CN",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("--window-size={DESKTOP_WIDTH},{WINDOW_HEIGHT}")])
    .collect()
}

/// Starts chromedriver on a free loopback port, leading a process group of its own, and
/// waits until it says it listens. Returns it and its port.
fn start_driver(chromedriver: &Path) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    let mut driver = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let stdout = driver.stdout.take().expect("stdout is piped");
    let (ready, listening) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = Vec::new();
        let mut ready = Some(ready);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains(DRIVER_READY) {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
            } else if ready.is_some() {
                said.push(line);
            }
            // Keep draining, so chromedriver never blocks on a full pipe.
        }
        if let Some(ready) = ready {
            let _ = ready.send(Err(said.join("\n")));
        }
    });
    listening
        .recv_timeout(PATIENCE)
        .expect("chromedriver says it listens")
        .unwrap_or_else(|said| panic!("chromedriver did not start:\n{said}"));
    (driver, port)
}

/// `target/console-screenshots`: under `CARGO_TARGET_DIR` when set, else the target dir this
/// test binary was built in (`<target>/debug/deps/integration-…`).
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            exe.ancestors()
                .nth(3)
                .expect("the test binary is in <target>/<profile>/deps")
                .to_owned()
        });
    target.join("console-screenshots")
}

/// `text` as an XPath string literal (XPath 1 has no escapes: concat around `'`).
fn xpath_string(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    let parts: Vec<String> = text.split('\'').map(|part| format!("'{part}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}

/// One axe violation on one line per element: id, impact, help, and where.
fn describe_violation(violation: &Value) -> String {
    let nodes = violation["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .map(|node| {
                    format!(
                        "\n    at {}: {}",
                        node["target"].as_str().unwrap_or("?"),
                        node["summary"].as_str().unwrap_or("").replace('\n', " ")
                    )
                })
                .collect::<String>()
        })
        .unwrap_or_default();
    format!(
        "{} ({}): {}{nodes}",
        violation["id"].as_str().unwrap_or("?"),
        violation["impact"].as_str().unwrap_or("?"),
        violation["help"].as_str().unwrap_or("?"),
    )
}
