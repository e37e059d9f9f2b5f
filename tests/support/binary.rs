//! The real `caseledger` binary as a child process, for the tests that need the whole program.
//! [`ServeProcess`] starts `caseledger serve` on `127.0.0.1:0` with a data dir and extra flags
//! (and, unless told otherwise, webhooks allowed to reach the tests' receivers on
//! 127.0.0.0/8), reads where it listens from its log, keeps every line it writes to stderr, and
//! stops it gracefully (SIGTERM, exit 0 expected, its logs returned) or kills it (SIGKILL).
//! [`serve_command`] is the same start for a run that is expected to fail, [`command`] the
//! binary for any other command; [`initial_admin_token`] reads the token a first start wrote;
//! [`caseledger`] runs one of the binary's other commands (backup, restore, audit…) to its end
//! off the async executor.
//!
//! It owns no assertions about behaviour beyond the clean exit of a graceful stop.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a start may take before the test gives up, and a graceful stop likewise.
const PATIENCE: Duration = Duration::from_secs(60);

/// The line `serve` writes once it listens, followed by its address.
const LISTENING: &str = "caseledger listening on ";

/// A running `caseledger serve`; killed when dropped.
#[derive(Debug)]
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// Every line the process wrote to stderr so far.
    lines: Arc<Mutex<Vec<String>>>,
    /// The thread that reads stderr; it ends when the process closes stderr.
    reader: Option<std::thread::JoinHandle<()>>,
}

/// The binary, with stdin closed and no log format from the environment.
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_caseledger"));
    command
        .env_remove("CASELEDGER_LOG_FORMAT")
        .stdin(Stdio::null());
    command
}

/// The arguments of `serve` on a free loopback port with `data_dir` and `flags`.
pub fn serve_args(data_dir: &Path, flags: &[&str]) -> Vec<OsString> {
    let mut all: Vec<OsString> = ["serve", "--listen", "127.0.0.1:0", "--data-dir"]
        .into_iter()
        .map(OsString::from)
        .collect();
    all.push(data_dir.into());
    all.extend(flags.iter().map(OsString::from));
    all
}

/// `caseledger serve` on `data_dir` with `flags`, logging at info, with none of the
/// `CASELEDGER_WEBHOOK_*` variables: what [`ServeProcess`] starts, for a start that is
/// expected to fail (`.output()`).
pub fn serve_command(data_dir: &Path, flags: &[&str]) -> Command {
    let mut command = command();
    command
        .args(serve_args(data_dir, flags))
        .env_remove("CASELEDGER_WEBHOOK_ALLOW_CIDR")
        .env_remove("CASELEDGER_WEBHOOK_REQUIRE_HTTPS")
        .env("CASELEDGER_LOG", "info");
    command
}

impl ServeProcess {
    /// Starts the binary on `data_dir` with `flags` (e.g. `["--store", url]`) and waits for its
    /// "listening" line; panics with its output when it stops before that. Webhooks may reach
    /// 127.0.0.0/8, where the tests' receivers listen.
    pub fn start(data_dir: &Path, flags: &[&str]) -> ServeProcess {
        ServeProcess::start_with_env(
            data_dir,
            flags,
            &[("CASELEDGER_WEBHOOK_ALLOW_CIDR", "127.0.0.0/8")],
        )
    }

    /// [`ServeProcess::start`] with the environment variables of `env` (e.g. a test-only fault
    /// injection or `CASELEDGER_LOG`) and, of the `CASELEDGER_WEBHOOK_*` ones, only those in
    /// `env` (so without them webhooks may reach no internal address).
    pub fn start_with_env(data_dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut command = serve_command(data_dir, flags);
        command.envs(env.iter().copied());
        ServeProcess::spawn(command)
    }

    /// Starts `command` (a `serve` with a listen address, see [`serve_command`]) and waits for
    /// its "listening" line.
    pub fn spawn(mut command: Command) -> ServeProcess {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the caseledger binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&lines);
        let (sender, receiver) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut listening = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !listening {
                    if let Some(address) = listening_address(&line) {
                        let _ = sender.send(Ok(address));
                        listening = true;
                    }
                }
                // Keep draining stderr so the service never blocks on a full pipe.
                kept.lock().unwrap().push(line);
            }
            if !listening {
                let _ = sender.send(Err(kept.lock().unwrap().join("\n")));
            }
        });
        let address = receiver
            .recv_timeout(PATIENCE)
            .expect("the service says where it listens")
            .unwrap_or_else(|logs| panic!("the service did not start:\n{logs}"));
        ServeProcess {
            child,
            address,
            lines,
            reader: Some(reader),
        }
    }

    /// The service's process id (for `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `host:port`, for raw TCP.
    pub fn socket(&self) -> String {
        self.address.trim_start_matches("http://").to_owned()
    }

    /// SIGTERM and wait: the graceful stop of a deploy, which must exit 0 within a minute.
    /// Returns every line the process wrote to stderr.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let delivered = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(delivered.success(), "SIGTERM is delivered");
        let started = Instant::now();
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("the service is polled") {
                break exit;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the service exits within a minute of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(exit.success(), "a SIGTERM stop exits 0, got {exit}");
        // stderr closes with the process, so the reader has seen every line.
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the log reader ends");
        }
        let lines = self.lines.lock().unwrap();
        lines.join("\n")
    }

    /// Waits until the process ends by itself (e.g. an injected crash) and returns how.
    pub fn wait_for_exit(mut self) -> std::process::ExitStatus {
        self.child.wait().expect("the service exits")
    }

    /// `kill -9`: no chance to flush or drain anything.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL is delivered");
        self.child.wait().expect("the killed process is reaped");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in `serve`'s "listening" line, in human logs and JSON logs alike.
fn listening_address(line: &str) -> Option<String> {
    let index = line.find(LISTENING)?;
    let address: String = line[index + LISTENING.len()..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"')
        .collect();
    address.starts_with("http://").then_some(address)
}

/// The token a first start wrote to `<data_dir>/initial-admin-token`.
pub fn initial_admin_token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("initial-admin-token"))
        .expect("the initial admin token file")
        .trim()
        .to_owned()
}

/// Runs the binary with `args` off the async executor.
pub async fn caseledger(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        command()
            .args(&args)
            .env("CASELEDGER_LOG", "warn")
            .output()
            .expect("the caseledger binary runs")
    })
    .await
    .unwrap()
}

/// `parts` (paths and strings alike) as the arguments [`caseledger`] takes.
pub fn args(parts: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<String> {
    parts
        .iter()
        .map(|part| part.as_ref().to_string_lossy().into_owned())
        .collect()
}

/// What a run of the binary printed, with its exit status, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "exit {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
