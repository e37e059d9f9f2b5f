//! The command line: `caseledger serve`, the offline audit tools (`caseledger audit verify`,
//! `export`, `replay`), `caseledger projections rebuild`, and the whole-store operations
//! (`caseledger store copy`, `backup`, `restore`), with clap.
//!
//! This module owns the shape of the command line ([`Cli`], [`Command`]) and the arguments of
//! the offline commands ([`VerifyArgs`], [`ExportArgs`], [`ReplayArgs`], [`RebuildArgs`],
//! [`CopyArgs`], [`BackupArgs`], [`RestoreArgs`]), with their help text. The `serve` flags are
//! defined once in [`crate::config::flags`] ([`ServeArgs`], flattened into `serve` and `demo`):
//! each also reads `CASELEDGER_<FLAG>`; the flag wins over the env var, and both win over the
//! config file. It does not run anything: `main` dispatches to [`crate::serve`],
//! [`crate::demo`], [`crate::audit`], [`crate::projections`] and [`crate::store`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use caseledger_domain::CaseId;

pub use crate::config::{GuardsArgs, ServeArgs};
use crate::store::Location;

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
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once at startup; `serve` and `demo` carry every serve flag"
)]
pub enum Command {
    /// Run the service: the HTTP API over the event log in the data dir.
    ///
    /// On first start it creates an admin token, writes it to <DATA_DIR>/initial-admin-token
    /// (mode 0600) and logs that file's path. SIGTERM or Ctrl-C lets in-flight requests finish,
    /// then exits 0. Precedence of every setting: flag > CASELEDGER_* env var > config file >
    /// default.
    Serve(Box<ServeArgs>),
    /// Audit tools that work offline: verify and replay an export with no server and no data
    /// dir; export the log of a data dir while the service is stopped.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Maintenance of the read models (projections), offline.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Whole-store operations: copying a store between backends.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Back up the whole store into a new directory: online from a running service, or from a
    /// stopped service's data dir.
    ///
    /// Writes DIR/snapshot.ndjson (every keyspace, then the idempotency records and the log up
    /// to the head committed after them; the case projection is left out and rebuilt at the
    /// first start) and DIR/manifest.json last (head, counts, SHA-256). The chain is verified
    /// while the backup is written. Prints `backed up N events, … to DIR: chain verified, head
    /// P HASH`. The signing key file and the key-encryption key file (KEK) are not part of the
    /// backup: keep copies of them apart from the backup, since the backup alone opens no
    /// personal data. The key of a case whose erasure the backup holds is never in it. Files
    /// are created 0600.
    Backup(BackupArgs),
    /// Restore a backup into a fresh data dir, offline, verifying the chain.
    ///
    /// Refuses a data dir that already holds a store. Checks the snapshot's SHA-256 against the
    /// manifest, imports it into DATA_DIR/sled.importing, moves it into place, reopens it and
    /// verifies the whole chain; the head must match the manifest's. With --erasures, destroys
    /// the key of every case in that erasure register (the JSON of GET /v1/admin/erasures from
    /// the live service) before the store is ever used; without it, says on stderr that
    /// erasures made after the backup are not applied. Start `caseledger serve` on the data dir
    /// afterwards with the KEK file that wrapped the backup's keys (--kek-file; it is not in the
    /// backup) — without it the personal data stays closed and `serve` refuses to start.
    Restore(RestoreArgs),
    /// Fill a fresh store with a demo office to explore: about 200 cases over the last 18
    /// months of a fictional city federation of trade unions, all through the real commands.
    ///
    /// Every letter kind with answers, refusals and missed deadlines, escalations through the
    /// three tiers, referrals with partner feedback, closures with every outcome, a reopened
    /// case and an erased complainant. The people, employers and ID numbers are invented (ID
    /// numbers in the unassigned address range 99…; see docs/operations.md, "The demo office").
    /// Takes the same flags as `serve` (data dir, store, config); serves nothing. Writes the
    /// people's tokens to <DATA_DIR>/demo-tokens (mode 0600), then start `caseledger serve` on
    /// the same data dir.
    Demo(DemoArgs),
    /// Witness a caseledger log: check that it only grew since the checkpoint this witness last
    /// signed, then co-sign its newest checkpoint (C2SP tlog-cosignature) and post it.
    ///
    /// Run by a partner department (or anyone an admin registered with `POST
    /// /v1/audit/witnesses`) on its own machine, e.g. hourly from cron. Fetches GET
    /// /v1/audit/checkpoint, checks the service's signature, asks for a consistency proof from
    /// the tree size in its state file and verifies it, signs, posts to POST
    /// /v1/audit/checkpoints/{tree_size}/cosignatures, and only then records the new size and
    /// root in its state file. Prints `co-signed <origin> tree size N root R` and exits 0;
    /// refuses with `REFUSED: …` on stderr and exits 1 when the log did not only grow (a smaller
    /// size, another root for the same size, a proof that fails) or the checkpoint's signature
    /// is bad; exits 2 on any other error. `--init` makes the key file and prints the public
    /// key to register.
    Witness(WitnessArgs),
}

/// Arguments of `caseledger witness`.
#[derive(Debug, Clone, Args)]
pub struct WitnessArgs {
    /// The witness's private key file (the 32-byte Ed25519 seed, base64, mode 0600); made by
    /// --init.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    /// The witness's name, as registered (e.g. hrss.example.gov.cn/witness).
    #[arg(long, value_name = "NAME")]
    pub name: String,

    /// Make the key file (refusing to replace one) and print the public key and the verifier
    /// key to register; contacts no service.
    #[arg(long)]
    pub init: bool,

    /// The service's base URL (e.g. `https://caseledger.example.org`).
    #[arg(long, value_name = "URL", required_unless_present = "init")]
    pub url: Option<String>,

    /// A file holding the API token to post with (a partner or auditor token).
    #[arg(long, value_name = "FILE", required_unless_present = "init")]
    pub token_file: Option<PathBuf>,

    /// The witness's state: the log's origin and public key, and the last tree size and root it
    /// signed (JSON; default: the key file's path with `.state.json` added). The first run
    /// trusts the key and checkpoint it finds and records them; every later run holds the log
    /// to them.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// The service's checkpoint public key (base64, or a file holding it or the JSON of GET
    /// /v1/audit/public-key), instead of trusting the one the service gives on the first run.
    #[arg(long, value_name = "KEY")]
    pub public_key: Option<String>,
}

/// `caseledger store …`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy a whole store into an empty one, exactly: sled → PostgreSQL or back.
    ///
    /// Every envelope lands byte-identical at its position with its hash, with every keyspace
    /// (tokens, personal-data keys, counters, checkpoints, webhook endpoints, state and feeds)
    /// and the idempotency records; the case projection is rebuilt by the target's first
    /// start. The source's chain is verified while it is read and the target's after it is
    /// written; both heads must match. Refuses a target that holds anything. The services on
    /// both stores must be stopped (a running one could write during the copy). The
    /// personal-data keys stay wrapped (the keys of erased cases are left out): serve the
    /// target with the same --kek-file.
    Copy(CopyArgs),
}

/// Arguments of `caseledger store copy`.
#[derive(Debug, Clone, Args)]
pub struct CopyArgs {
    /// The source: a data dir (the embedded store in its `sled/`) or a postgres:// URL.
    #[arg(long, value_name = "DIR|URL", value_parser = parse_location)]
    pub from: Location,

    /// The target, empty: a data dir or a postgres:// URL.
    #[arg(long, value_name = "DIR|URL", value_parser = parse_location)]
    pub to: Location,
}

/// Arguments of `caseledger backup`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["data_dir", "url"])))]
pub struct BackupArgs {
    /// The data dir of a stopped service (the embedded store).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The base URL of a running service (e.g. http://127.0.0.1:8080), backed up online
    /// through GET /v1/admin/backup; needs --token-file.
    #[arg(long, value_name = "URL", requires = "token_file")]
    pub url: Option<String>,

    /// A file holding an admin token (such as the data dir's initial-admin-token).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// The backup directory to create; it must be new or empty.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
}

/// Arguments of `caseledger demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where to put the demo office: the same flags as `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,

    /// The seed of the story: the same seed tells the same story.
    #[arg(long, default_value_t = 2026, value_name = "N")]
    pub seed: u64,
}

/// Arguments of `caseledger restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup directory (written by `caseledger backup`).
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,

    /// The data dir to restore into; it must hold no store yet.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,

    /// The erasure register of the live service (the body of GET /v1/admin/erasures): every
    /// case in it loses its personal-data key in the restored store.
    #[arg(long, value_name = "FILE")]
    pub erasures: Option<PathBuf>,
}

/// `caseledger audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain of an export (GET /v1/audit/export), line by line.
    ///
    /// Prints `ok: N events, head <position> <hash>` and exits 0 when the chain is intact, or
    /// `bad: position P: <reason>` for the first bad event and exits 1. With --public-key and
    /// --checkpoints it also checks every signed checkpoint the export covers (a bad signature
    /// or a hash that disagrees with the export exits 1) and prints a second line
    /// `checkpoints: K verified, M beyond the export`. Exits 2 when a file cannot be read.
    Verify(VerifyArgs),
    /// Write the log of a data dir to an NDJSON file, offline.
    ///
    /// The service must not be running on that data dir (the embedded store allows one process
    /// at a time). Writes FILE.partial and renames it to FILE when complete, then prints
    /// `exported N events to FILE, head P HASH`. The file is what GET /v1/audit/export returns;
    /// check it with `caseledger audit verify FILE`.
    Export(ExportArgs),
    /// Replay one case from an export, event by event, offline.
    ///
    /// Verifies the export's whole hash chain while reading it (a broken export is refused
    /// with exit 1 and nothing printed), then prints one JSON line per event of the case:
    /// `{"position","version","type","at","actor","case"}`, where `case` is the case right
    /// after that event. Complainants' details stay sealed, as in the export. Exits 2 when the
    /// file cannot be read or holds no event of the case.
    Replay(ReplayArgs),
    /// Check offline that one event is in the log, with nothing but its envelope, an inclusion
    /// proof, a signed checkpoint and the keys.
    ///
    /// EVENT_LINE is a file holding the event's envelope (a line of the export, or an event of
    /// GET /v1/cases/{id}/history), or that JSON itself. Checks that the envelope's hash is its
    /// content's, that the checkpoint note (GET /v1/audit/checkpoint) is signed by the service's
    /// key, that the proof (GET /v1/audit/proof/inclusion) leads from the event's hash to the
    /// checkpoint's root, and, with --witness, that enough witnesses co-signed it. Prints `ok:
    /// …` and exits 0, or `bad: …` naming what failed and exits 1; exits 2 when a file cannot
    /// be read.
    VerifyInclusion(VerifyInclusionArgs),
    /// Check offline that the log only grew between two signed checkpoints.
    ///
    /// Checks both checkpoint notes' signatures and the consistency proof (GET
    /// /v1/audit/proof/consistency?from=M&to=N) between their tree sizes and roots. Prints `ok:
    /// …` and exits 0, or `bad: …` naming the sizes and exits 1; exits 2 when a file cannot be
    /// read.
    VerifyConsistency(VerifyConsistencyArgs),
}

/// Arguments of `caseledger audit verify-inclusion`.
#[derive(Debug, Clone, Args)]
pub struct VerifyInclusionArgs {
    /// The event's envelope: a file holding it, or the JSON itself.
    #[arg(value_name = "EVENT_LINE")]
    pub event: String,

    /// The inclusion proof: the JSON of GET /v1/audit/proof/inclusion.
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,

    /// The signed checkpoint: the text of GET /v1/audit/checkpoint, for the proof's tree size.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,

    /// The service's checkpoint public key: base64, or a file holding it or the JSON of GET
    /// /v1/audit/public-key.
    #[arg(long, value_name = "KEY")]
    pub public_key: String,

    /// A witness's verifier key (`name+keyid+base64`, as GET /v1/audit/witnesses lists it);
    /// repeat for several.
    #[arg(long = "witness", value_name = "KEY")]
    pub witnesses: Vec<String>,

    /// How many of the --witness keys must have co-signed the checkpoint (default: all).
    #[arg(long, value_name = "K")]
    pub min_witnesses: Option<usize>,
}

/// Arguments of `caseledger audit verify-consistency`.
#[derive(Debug, Clone, Args)]
pub struct VerifyConsistencyArgs {
    /// The older signed checkpoint (text of GET /v1/audit/checkpoint).
    #[arg(long, value_name = "FILE")]
    pub old: PathBuf,

    /// The newer signed checkpoint.
    #[arg(long, value_name = "FILE")]
    pub new: PathBuf,

    /// The consistency proof: the JSON of GET /v1/audit/proof/consistency.
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,

    /// The service's checkpoint public key: base64, or a file holding it or the JSON of GET
    /// /v1/audit/public-key.
    #[arg(long, value_name = "KEY")]
    pub public_key: String,
}

/// `caseledger projections …`.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Rebuild the case projection (lists, search, statistics, deadlines) from the log,
    /// offline.
    ///
    /// Forgets the projection and folds every event of the log into it again. The service must
    /// not be running on that data dir. Needed only after a bug in the projection; the service
    /// rebuilds on its own when the projection's format changes.
    Rebuild(RebuildArgs),
}

/// Arguments of `caseledger audit verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The export to verify: NDJSON, one event envelope a line, in position order.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The service's checkpoint public key: the base64 key itself, or a file holding it or
    /// the JSON of GET /v1/audit/public-key. With --checkpoints, the export is also checked
    /// against every signed checkpoint it covers.
    #[arg(long, value_name = "KEY", requires = "checkpoints")]
    pub public_key: Option<String>,

    /// The signed checkpoints, checked with --public-key: the JSON of
    /// GET /v1/audit/checkpoints, a JSON array of checkpoints, or NDJSON (one checkpoint, or
    /// one `audit.checkpoint` webhook message, a line).
    #[arg(long, value_name = "FILE2", requires = "public_key")]
    pub checkpoints: Option<PathBuf>,

    /// A folder of downloaded attachments: every file in it (and its subfolders) must hash,
    /// by SHA-256, to an AttachmentAdded event of the export, whatever it is named
    #[arg(long, value_name = "DIR")]
    pub attachments: Option<PathBuf>,

    /// A witness's verifier key (`name+keyid+base64`, as GET /v1/audit/witnesses lists it);
    /// repeat for several. With --checkpoints, some checkpoint the export covers must carry
    /// cosignatures of --min-witnesses of them (the checkpoints' `note`, as GET
    /// /v1/audit/checkpoints gives it, carries the cosignatures).
    #[arg(long = "witness", value_name = "KEY", requires = "checkpoints")]
    pub witnesses: Vec<String>,

    /// How many of the --witness keys must have co-signed a covered checkpoint (default: all).
    #[arg(long, value_name = "K", requires = "checkpoints")]
    pub min_witnesses: Option<usize>,
}

/// Arguments of `caseledger audit export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The data dir of a stopped service (the one given to `caseledger serve --data-dir`).
    #[arg(long, env = "CASELEDGER_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,

    /// Where to write the export (NDJSON, one envelope a line); replaced if it exists.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,

    /// Export only the events after this position, to extend an earlier export: append the
    /// new file to the old one to get a file that verifies from position 1.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub after: u64,
}

/// Arguments of `caseledger audit replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The export to read (GET /v1/audit/export or `caseledger audit export`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The case to replay (its UUID).
    #[arg(long = "case", value_name = "ID")]
    pub case_id: CaseId,
}

/// Arguments of `caseledger projections rebuild`.
#[derive(Debug, Clone, Args)]
pub struct RebuildArgs {
    /// The data dir of a stopped service (the one given to `caseledger serve --data-dir`).
    #[arg(long, env = "CASELEDGER_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,

    /// The service's configuration file, if it has one (for the departments and tiers).
    #[arg(long, short = 'c', env = "CASELEDGER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    /// `audit verify` and `audit replay`, whose exit 1 means "the chain is broken", 1 otherwise.
    pub fn failure_exit_code(&self) -> ExitCode {
        match self {
            Command::Audit(
                AuditCommand::Verify(_)
                | AuditCommand::Replay(_)
                | AuditCommand::VerifyInclusion(_)
                | AuditCommand::VerifyConsistency(_),
            )
            | Command::Witness(_) => ExitCode::from(2),
            Command::Serve(_)
            | Command::Audit(AuditCommand::Export(_))
            | Command::Projections(_)
            | Command::Store(_)
            | Command::Backup(_)
            | Command::Restore(_)
            | Command::Demo(_) => ExitCode::FAILURE,
        }
    }
}

fn parse_location(text: &str) -> Result<Location, String> {
    text.parse()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use std::time::Duration;

    use clap::CommandFactory as _;

    use super::*;
    use crate::config::StoreSelection;

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
        // 13 before issue #20: its guards added 6, the KEK files 2, webhooks, metrics and
        // idempotency 4; the console (#13) 4; the working-day calendar (#15) 1; the letters'
        // templates and fonts (#15) 2.
        assert_eq!(checked, 33);
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
            "--kek-file",
            "/etc/kek",
            "--previous-kek-file",
            "/etc/kek.old",
            "--webhook-retry-schedule",
            "0s,1s,1m",
            "--webhook-allow-cidr",
            "127.0.0.0/8",
            "--webhook-allow-cidr",
            "10.20.0.0/16,::1",
            "--webhook-require-https",
            "--metrics-token-file",
            "/etc/caseledger/metrics-token",
            "--idempotency-ttl",
            "48h",
            "--calendar-dir",
            "/etc/caseledger/calendar",
            "--template-dir",
            "/etc/caseledger/templates",
            "--font-dir",
            "/etc/caseledger/fonts",
            "--min-free-space",
            "1GiB",
            "--case-cache",
            "8MiB",
            "--sled-cache",
            "16MiB",
            "--header-read-timeout",
            "5s",
            "--body-read-timeout",
            "2500ms",
            "--search-budget",
            "750ms",
            "--max-case-events",
            "500",
            "--token-rate",
            "100:300",
            "--address-rate",
            "7",
            "--whole-log-reads",
            "4",
            "--max-connections",
            "256",
        ])
        .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        let Command::Serve(serve) = cli.command else {
            panic!("expected serve, got {:?}", cli.command)
        };
        // The parsed flags are the layer `Config::resolve` merges over the file.
        let overrides = &serve;
        assert_eq!(serve.config, Some(PathBuf::from("/etc/caseledger.toml")));
        assert_eq!(
            serve.template_dir,
            Some(PathBuf::from("/etc/caseledger/templates"))
        );
        assert_eq!(serve.font_dir, Some(PathBuf::from("/etc/caseledger/fonts")));
        assert_eq!(overrides.listen, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(overrides.data_dir, Some(PathBuf::from("/tmp/data")));
        assert_eq!(overrides.store, Some(StoreSelection::Sled));
        assert_eq!(
            overrides.deadline_scan_interval,
            Some(Duration::from_secs(120))
        );
        assert_eq!(overrides.signing_key, Some(PathBuf::from("/etc/key")));
        assert_eq!(overrides.kek_file, Some(PathBuf::from("/etc/kek")));
        assert_eq!(
            overrides.previous_kek_file,
            Some(PathBuf::from("/etc/kek.old"))
        );
        assert_eq!(
            overrides
                .webhook_retry_schedule
                .clone()
                .unwrap()
                .to_string(),
            "0s,1s,1m"
        );
        assert_eq!(
            overrides
                .webhook_allow_cidr
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["127.0.0.0/8", "10.20.0.0/16", "::1/128"]
        );
        assert!(overrides.webhook_require_https);
        assert_eq!(
            overrides.idempotency_ttl,
            Some(Duration::from_secs(48 * 3600))
        );
        assert_eq!(
            overrides.metrics_token_file,
            Some(PathBuf::from("/etc/caseledger/metrics-token"))
        );
        assert_eq!(
            overrides.calendar_dir,
            Some(PathBuf::from("/etc/caseledger/calendar"))
        );
        assert_eq!(overrides.min_free_space, Some(1024 * 1024 * 1024));
        assert_eq!(overrides.case_cache, Some(8 * 1024 * 1024));
        assert_eq!(
            overrides.guards,
            GuardsArgs {
                search_budget: Some(Duration::from_millis(750)),
                max_case_events: Some(500),
                token_rate: Some((100, 300)),
                address_rate: Some((7, 35)),
                whole_log_reads: Some(4),
                max_connections: Some(256),
            }
        );
        assert_eq!(overrides.sled_cache, Some(16 * 1024 * 1024));
        assert_eq!(overrides.header_read_timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            overrides.body_read_timeout,
            Some(Duration::from_millis(2500))
        );
    }

    #[test]
    fn bad_flag_values_are_refused_by_name() {
        for (flag, value) in [
            ("--listen", "localhost"),
            ("--store", "mysql://x"),
            ("--deadline-scan-interval", "soon"),
            ("--log-format", "xml"),
            ("--webhook-retry-schedule", "5s,soon"),
            ("--webhook-allow-cidr", "intranet"),
            ("--min-free-space", "64MB"),
            ("--case-cache", "lots"),
            ("--header-read-timeout", "soon"),
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
            Command::Audit(AuditCommand::Verify(VerifyArgs { ref file, public_key: None, checkpoints: None, attachments: None, ref witnesses, min_witnesses: None }))
                if file == &PathBuf::from("export.ndjson") && witnesses.is_empty()
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

    #[test]
    fn the_offline_commands_parse() {
        let cli = Cli::try_parse_from([
            "caseledger",
            "audit",
            "export",
            "--data-dir",
            "/srv/data",
            "--out",
            "export.ndjson",
            "--after",
            "1000",
        ])
        .unwrap();
        let Command::Audit(AuditCommand::Export(export)) = &cli.command else {
            panic!("expected audit export, got {:?}", cli.command)
        };
        assert_eq!(export.data_dir, PathBuf::from("/srv/data"));
        assert_eq!(export.out, PathBuf::from("export.ndjson"));
        assert_eq!(export.after, 1000);
        assert_eq!(cli.command.failure_exit_code(), ExitCode::FAILURE);

        let case = "0190f5a3-7c1e-7d2a-9b3c-4d5e6f708192";
        let cli =
            Cli::try_parse_from(["caseledger", "audit", "replay", "x.ndjson", "--case", case])
                .unwrap();
        let Command::Audit(AuditCommand::Replay(replay)) = &cli.command else {
            panic!("expected audit replay, got {:?}", cli.command)
        };
        assert_eq!(replay.case_id.to_string(), case);
        assert_eq!(cli.command.failure_exit_code(), ExitCode::from(2));
        let error = Cli::try_parse_from(["caseledger", "audit", "replay", "x", "--case", "nope"])
            .unwrap_err();
        assert!(error.to_string().contains("--case"), "{error}");

        let cli = Cli::try_parse_from([
            "caseledger",
            "projections",
            "rebuild",
            "--data-dir",
            "/srv/data",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Projections(ProjectionsCommand::Rebuild(RebuildArgs {
                config: None,
                ..
            }))
        ));
    }

    #[test]
    fn the_store_commands_parse() {
        let cli = Cli::try_parse_from([
            "caseledger",
            "store",
            "copy",
            "--from",
            "/srv/data",
            "--to",
            "postgres://caseledger@db/caseledger",
        ])
        .unwrap();
        let Command::Store(StoreCommand::Copy(copy)) = &cli.command else {
            panic!("expected store copy, got {:?}", cli.command)
        };
        assert_eq!(copy.from, Location::DataDir(PathBuf::from("/srv/data")));
        assert_eq!(
            copy.to,
            Location::Postgres("postgres://caseledger@db/caseledger".into())
        );
        let error = Cli::try_parse_from([
            "caseledger",
            "store",
            "copy",
            "--from",
            "mysql://x@y/z",
            "--to",
            "/d",
        ])
        .unwrap_err();
        assert!(error.to_string().contains("--from"), "{error}");

        // A backup needs exactly one source, and --url needs a token file.
        assert!(Cli::try_parse_from(["caseledger", "backup", "--out", "b"]).is_err());
        assert!(
            Cli::try_parse_from(["caseledger", "backup", "--url", "http://h", "--out", "b"])
                .is_err()
        );
        assert!(Cli::try_parse_from([
            "caseledger",
            "backup",
            "--data-dir",
            "d",
            "--url",
            "http://h",
            "--token-file",
            "t",
            "--out",
            "b"
        ])
        .is_err());
        let cli = Cli::try_parse_from([
            "caseledger",
            "backup",
            "--url",
            "http://h:8080",
            "--token-file",
            "t",
            "--out",
            "b",
        ])
        .unwrap();
        assert!(matches!(
            &cli.command,
            Command::Backup(BackupArgs { url: Some(_), .. })
        ));
        let cli = Cli::try_parse_from(["caseledger", "restore", "--from", "b", "--data-dir", "d"])
            .unwrap();
        assert!(matches!(&cli.command, Command::Restore(_)));
        assert_eq!(cli.command.failure_exit_code(), ExitCode::FAILURE);
    }
}
