//! The command line: `caseledger serve` and `caseledger audit verify`, with clap.
//!
//! This module owns the shape of the command line ([`Cli`], [`Command`], [`ServeArgs`],
//! [`VerifyArgs`]) and its help text. Every `serve` flag also reads `CASELEDGER_<FLAG>`; the
//! flag wins over the env var, and both win over the config file (see [`crate::config`]). It
//! does not run anything: `main` dispatches to [`crate::serve`] and [`crate::verify`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{parse_duration, Overrides, StoreSelection};

/// Case tracking for trade-union rights protection, on an append-only hash-chained event log.
#[derive(Debug, Parser)]
#[command(name = "caseledger", version, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr: `human` for people, `json` (one object a line) for machines.
    /// The log filter comes from CASELEDGER_LOG (e.g. `debug`, `caseledger=debug,info`),
    /// default `info`.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "CASELEDGER_LOG_FORMAT",
        default_value_t = LogFormat::Human,
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: the HTTP API over the event log in the data dir.
    ///
    /// On first start it creates an admin token, writes it to <DATA_DIR>/initial-admin-token
    /// (mode 0600) and logs that file's path. SIGTERM or Ctrl-C lets in-flight requests finish,
    /// then exits 0. Precedence of every setting: flag > CASELEDGER_* env var > config file >
    /// default.
    Serve(ServeArgs),
    /// Audit tools that work offline, with no server and no data dir.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// `caseledger audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain of an export (GET /v1/audit/export), line by line.
    ///
    /// Prints `ok: N events, head <position> <hash>` and exits 0 when the chain is intact, or
    /// `bad: position P: <reason>` for the first bad event and exits 1. Exits 2 when the file
    /// cannot be read.
    Verify(VerifyArgs),
}

/// Arguments of `caseledger serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML): departments, tier members, default letter deadlines, limits.
    /// deploy/caseledger.example.toml lists every key with its default.
    #[arg(long, short = 'c', env = "CASELEDGER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address and port to listen on; port 0 picks a free one [config: listen]
    /// [default: 127.0.0.1:8080]
    #[arg(long, env = "CASELEDGER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Directory for the embedded event log and the initial admin token, created when missing
    /// [config: data_dir] [default: ./caseledger-data]
    #[arg(long, env = "CASELEDGER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Event log: `sled` for the embedded log in the data dir, or a postgres:// URL
    /// [config: store.url] [default: sled]
    #[arg(long, env = "CASELEDGER_STORE", value_name = "URL", value_parser = parse_store)]
    pub store: Option<StoreSelection>,

    /// How often to look for letters whose deadline passed, e.g. 30s, 2m
    /// [config: limits.deadline_scan_interval_secs] [default: 30s]
    #[arg(
        long,
        env = "CASELEDGER_DEADLINE_SCAN_INTERVAL",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub deadline_scan_interval: Option<Duration>,

    /// Ed25519 key file that signs audit checkpoints [config: signing_key]
    /// [default: a key made at first start and kept in the data dir]
    #[arg(long, env = "CASELEDGER_SIGNING_KEY", value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
}

/// Arguments of `caseledger audit verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The export to verify: NDJSON, one event envelope a line, in position order.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The service's checkpoint public key (GET /v1/audit/public-key); with --checkpoints,
    /// also checks the export against every signed checkpoint it covers.
    #[arg(long, value_name = "KEY", requires = "checkpoints")]
    pub public_key: Option<String>,

    /// The signed checkpoints (GET /v1/audit/checkpoints), checked with --public-key.
    #[arg(long, value_name = "FILE2", requires = "public_key")]
    pub checkpoints: Option<PathBuf>,
}

/// How the log is written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object a line.
    Json,
}

impl Command {
    /// The exit code when the command fails with an error (rather than with a verdict): 2 for
    /// `audit verify`, whose exit 1 means "the chain is broken", 1 otherwise.
    pub fn failure_exit_code(&self) -> ExitCode {
        match self {
            Command::Serve(_) => ExitCode::FAILURE,
            Command::Audit(AuditCommand::Verify(_)) => ExitCode::from(2),
        }
    }
}

impl ServeArgs {
    /// The settings the command line overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            store: self.store.clone(),
            deadline_scan_interval: self.deadline_scan_interval,
            signing_key: self.signing_key.clone(),
        }
    }
}

fn parse_store(text: &str) -> Result<StoreSelection, String> {
    text.parse()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use clap::CommandFactory as _;

    use super::*;

    // Tests here pass every flag they check on the command line: the process environment is
    // shared by all tests, so none of them sets CASELEDGER_* variables.

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_and_argument_has_help() {
        fn check(command: &clap::Command, path: &str) {
            let path = format!("{path} {}", command.get_name());
            if path.trim() != "caseledger" {
                assert!(command.get_about().is_some(), "{path} has no help text");
            }
            for argument in command.get_arguments() {
                let builtin = ["help", "version"].contains(&argument.get_id().as_str());
                assert!(
                    builtin || argument.get_help().is_some(),
                    "{path} {} has no help text",
                    argument.get_id()
                );
            }
            for subcommand in command.get_subcommands() {
                if subcommand.get_name() != "help" {
                    check(subcommand, &path);
                }
            }
        }
        check(&Cli::command(), "");
    }

    #[test]
    fn every_serve_flag_reads_its_env_var() {
        let command = Cli::command();
        let serve = command
            .get_subcommands()
            .find(|subcommand| subcommand.get_name() == "serve")
            .unwrap();
        let global = command
            .get_arguments()
            .filter(|argument| argument.is_global_set());
        let mut checked = 0;
        for argument in serve.get_arguments().chain(global) {
            let Some(long) = argument.get_long() else {
                continue;
            };
            if long == "help" {
                continue;
            }
            let expected = format!("CASELEDGER_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(
                argument.get_env().and_then(|env| env.to_str()),
                Some(expected.as_str()),
                "--{long}"
            );
            checked += 1;
        }
        assert_eq!(checked, 7);
    }

    #[test]
    fn serve_parses_every_flag() {
        let cli = Cli::try_parse_from([
            "caseledger",
            "serve",
            "--config",
            "/etc/caseledger.toml",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "/tmp/data",
            "--store",
            "sled",
            "--log-format",
            "json",
            "--deadline-scan-interval",
            "2m",
            "--signing-key",
            "/etc/key",
        ])
        .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        let Command::Serve(serve) = cli.command else {
            panic!("expected serve, got {:?}", cli.command)
        };
        let overrides = serve.overrides();
        assert_eq!(serve.config, Some(PathBuf::from("/etc/caseledger.toml")));
        assert_eq!(overrides.listen, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(overrides.data_dir, Some(PathBuf::from("/tmp/data")));
        assert_eq!(overrides.store, Some(StoreSelection::Sled));
        assert_eq!(
            overrides.deadline_scan_interval,
            Some(Duration::from_secs(120))
        );
        assert_eq!(overrides.signing_key, Some(PathBuf::from("/etc/key")));
    }

    #[test]
    fn bad_flag_values_are_refused_by_name() {
        for (flag, value) in [
            ("--listen", "localhost"),
            ("--store", "mysql://x"),
            ("--deadline-scan-interval", "soon"),
            ("--log-format", "xml"),
        ] {
            let error = Cli::try_parse_from(["caseledger", "serve", flag, value]).unwrap_err();
            assert!(error.to_string().contains(flag), "{flag}: {error}");
        }
    }

    #[test]
    fn audit_verify_takes_a_file_and_an_optional_key_with_checkpoints() {
        let cli = Cli::try_parse_from(["caseledger", "audit", "verify", "export.ndjson"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Audit(AuditCommand::Verify(VerifyArgs { ref file, public_key: None, checkpoints: None }))
                if file == &PathBuf::from("export.ndjson")
        ));
        assert!(Cli::try_parse_from([
            "caseledger",
            "audit",
            "verify",
            "export.ndjson",
            "--public-key",
            "KEY",
            "--checkpoints",
            "checkpoints.json"
        ])
        .is_ok());
        // One without the other is a usage error.
        assert!(Cli::try_parse_from([
            "caseledger",
            "audit",
            "verify",
            "export.ndjson",
            "--public-key",
            "KEY"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["caseledger", "audit", "verify"]).is_err());
    }
}
