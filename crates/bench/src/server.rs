//! The service under test: a real `caseledger serve` process on a fresh temporary data dir and a
//! free loopback port, stopped with SIGTERM at the end.
//!
//! This module owns the process (start, the address read from its `caseledger listening on
//! http://ADDR` log line, the initial admin token read from the data dir, SIGTERM and exit).
//! It knows nothing of the requests sent to it.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// How long the service may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the service may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How many of the service's last log lines are kept to explain a failure.
const KEPT_LOG_LINES: usize = 40;

/// A running `caseledger serve`.
#[derive(Debug)]
pub struct Service {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    /// The initial admin token from `<data-dir>/initial-admin-token`.
    pub admin_token: String,
    /// The service's last log lines (stderr).
    log_tail: Arc<Mutex<Vec<String>>>,
    /// Kept so the data dir lives as long as the service.
    _data_dir: tempfile::TempDir,
}

impl Service {
    /// Starts `binary serve` on a fresh data dir (under `parent`, or the system's temporary
    /// directory) and 127.0.0.1:0, with `--store store` when given, and waits until it listens.
    pub fn start(
        binary: &Path,
        store: Option<&str>,
        parent: Option<&Path>,
        log_filter: &str,
    ) -> anyhow::Result<Service> {
        let data_dir = match parent {
            Some(parent) => tempfile::Builder::new()
                .prefix("caseledger-bench-")
                .tempdir_in(parent),
            None => tempfile::Builder::new()
                .prefix("caseledger-bench-")
                .tempdir(),
        }
        .context("cannot make a temporary data dir")?;
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .env("CASELEDGER_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(store) = store {
            command.args(["--store", store]);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {} (build it with `cargo build --release --bin caseledger`, or pass --binary)", binary.display()))?;
        let stderr = child.stderr.take().context("stderr is not piped")?;
        let log_tail = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let tail = Arc::clone(&log_tail);
        std::thread::spawn(move || {
            let mut sent = false;
            // Keep draining stderr to the end, so the service never blocks on a full pipe.
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(address) = listening_address(&line) {
                        let _ = sender.send(address);
                        sent = true;
                    }
                }
                if let Ok(mut tail) = tail.lock() {
                    if tail.len() == KEPT_LOG_LINES {
                        tail.remove(0);
                    }
                    tail.push(line);
                }
            }
        });
        let started = Instant::now();
        let address = loop {
            match receiver.recv_timeout(Duration::from_millis(200)) {
                Ok(address) => break address,
                Err(_) => {
                    if let Some(status) = child.try_wait().context("cannot poll the service")? {
                        anyhow::bail!(
                            "the service exited with {status} before listening; its last log lines:\n{}",
                            tail_text(&log_tail)
                        );
                    }
                    if started.elapsed() > START_TIMEOUT {
                        let _ = child.kill();
                        anyhow::bail!(
                            "the service did not say where it listens within {START_TIMEOUT:?}; its last log lines:\n{}",
                            tail_text(&log_tail)
                        );
                    }
                }
            }
        };
        let address: SocketAddr = address
            .parse()
            .with_context(|| format!("the service logged an unreadable address {address:?}"))?;
        let admin_token = read_admin_token(data_dir.path())?;
        Ok(Service {
            child,
            address,
            admin_token,
            log_tail,
            _data_dir: data_dir,
        })
    }

    /// The service's process id.
    /// The service's data dir.
    pub fn data_dir(&self) -> &Path {
        self._data_dir.path()
    }

    /// The service's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit (graceful shutdown: in-flight requests drain).
    pub fn stop(mut self) -> anyhow::Result<ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("cannot run kill")?;
        anyhow::ensure!(status.success(), "kill -TERM failed: {status}");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().context("cannot poll the service")? {
                return Ok(status);
            }
            if started.elapsed() > STOP_TIMEOUT {
                let _ = self.child.kill();
                anyhow::bail!(
                    "the service did not exit within {STOP_TIMEOUT:?} of SIGTERM; its last log lines:\n{}",
                    tail_text(&self.log_tail)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The service's last log lines, for a failure message.
    pub fn log_tail(&self) -> String {
        tail_text(&self.log_tail)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // After `stop` the child is already reaped and these do nothing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `ADDR` of a `caseledger listening on http://ADDR` line (human or JSON log format).
fn listening_address(line: &str) -> Option<String> {
    const MARK: &str = "caseledger listening on http://";
    let index = line.find(MARK)?;
    let address: String = line[index + MARK.len()..]
        .chars()
        .take_while(|character| !character.is_whitespace() && *character != '"')
        .collect();
    (!address.is_empty()).then_some(address)
}

fn read_admin_token(data_dir: &Path) -> anyhow::Result<String> {
    let path: PathBuf = data_dir.join("initial-admin-token");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the initial admin token {}", path.display()))?;
    let token = text.trim().to_owned();
    anyhow::ensure!(!token.is_empty(), "{} is empty", path.display());
    Ok(token)
}

fn tail_text(tail: &Mutex<Vec<String>>) -> String {
    tail.lock()
        .map(|lines| lines.join("\n"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::listening_address;

    #[test]
    fn the_address_is_read_from_human_and_json_lines() {
        assert_eq!(
            listening_address("2026-11-29T08:00:00Z  INFO caseledger::serve: caseledger listening on http://127.0.0.1:4321").as_deref(),
            Some("127.0.0.1:4321")
        );
        assert_eq!(
            listening_address(r#"{"level":"INFO","message":"caseledger listening on http://127.0.0.1:80","target":"x"}"#).as_deref(),
            Some("127.0.0.1:80")
        );
        assert_eq!(listening_address("starting caseledger 0.1.0"), None);
    }
}
