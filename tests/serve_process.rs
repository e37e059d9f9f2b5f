//! The real `caseledger serve` binary as a child process, for the tests that need the whole
//! program: [`ServeProcess`] starts it on `127.0.0.1:0` with a data dir and extra flags (and,
//! unless told otherwise, webhooks allowed to reach the tests' receivers on 127.0.0.0/8), reads
//! where it listens from its log, and stops it gracefully (SIGTERM, exit 0 expected) or kills
//! it (SIGKILL). [`initial_admin_token`] reads the token a first start wrote; [`caseledger`]
//! runs one of the binary's other commands (backup, restore, audit…) to its end.
//!
//! It owns no assertions about behaviour beyond the clean exit of a graceful stop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A running `caseledger serve`; killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
}

impl ServeProcess {
    /// Starts the binary on `data_dir` with `flags` (e.g. `["--store", url]`) and waits for its
    /// "listening" line; panics with the first error line when it stops before that. Webhooks
    /// may reach 127.0.0.0/8, where the tests' receivers listen.
    pub fn start(data_dir: &Path, flags: &[&str]) -> ServeProcess {
        ServeProcess::start_with_env(
            data_dir,
            flags,
            &[("CASELEDGER_WEBHOOK_ALLOW_CIDR", "127.0.0.0/8")],
        )
    }

    /// [`ServeProcess::start`] with the environment variables of `env` (e.g. a test-only fault
    /// injection) and, of the `CASELEDGER_WEBHOOK_*` ones, only those in `env` (so without
    /// them webhooks may reach no internal address).
    pub fn start_with_env(data_dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(flags)
            .env_remove("CASELEDGER_WEBHOOK_ALLOW_CIDR")
            .env_remove("CASELEDGER_WEBHOOK_REQUIRE_HTTPS")
            .envs(env.iter().copied())
            .env("CASELEDGER_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the caseledger binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(index) = line.find("caseledger listening on http://") {
                        let address = line[index + "caseledger listening on ".len()..]
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        let _ = sender.send(Ok(address));
                        sent = true;
                    } else if line.contains("ERROR") || line.contains("Error:") {
                        let _ = sender.send(Err(line.clone()));
                        sent = true;
                    }
                }
                // Keep draining stderr so the service never blocks on a full pipe.
            }
        });
        let address = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("the service says where it listens")
            .unwrap_or_else(|line| panic!("the service did not start: {line}"));
        ServeProcess { child, address }
    }

    /// The service's process id (for `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `host:port`, for raw TCP.
    pub fn socket(&self) -> String {
        self.address.trim_start_matches("http://").to_owned()
    }

    /// SIGTERM and wait: the graceful stop of a deploy, which must exit 0.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("the service exits");
        assert!(exit.success(), "a SIGTERM stop exits 0, got {exit}");
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
        Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .args(&args)
            .env("CASELEDGER_LOG", "warn")
            .stdin(Stdio::null())
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
