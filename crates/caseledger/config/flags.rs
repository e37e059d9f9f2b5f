//! The flags of `caseledger serve`, defined once: [`ServeArgs`] (with the `[guards]` flags in
//! [`GuardsArgs`]) is both what clap parses — flag, `CASELEDGER_*` env var, help text — and
//! the top layer [`Config::resolve`](super::Config::resolve) merges over the file.
//!
//! Each flag's help ends with the file key it overrides and its default, and
//! `deploy/caseledger.example.toml` names the flag beside each key. This module owns only the
//! definitions; the values are checked when they are merged ([`super::resolve`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use caseledger_app::webhooks::{parse_cidr, InvalidSchedule, IpNet, RetrySchedule};
use clap::Args;

use super::store_selection::StoreSelection;
use super::units::{parse_duration, parse_rate, parse_size};

/// The flags of `caseledger serve` (and of `caseledger demo`, which flattens them): each
/// reads its `CASELEDGER_*` env var too. `None` (or `false`, or no value) leaves the file's
/// value, or the default, in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
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

    /// Key-encryption key file that wraps the per-case personal-data keys at rest; keep it
    /// outside the data dir in production, apart from backups [config: kek_file]
    /// [default: a key made at first start and kept in the data dir]
    #[arg(long, env = "CASELEDGER_KEK_FILE", value_name = "FILE")]
    pub kek_file: Option<PathBuf>,

    /// The previous key-encryption key file, during a rotation: keys it wrapped are wrapped
    /// again under --kek-file at start [config: previous_kek_file]
    #[arg(long, env = "CASELEDGER_PREVIOUS_KEK_FILE", value_name = "FILE")]
    pub previous_kek_file: Option<PathBuf>,

    /// Delays before each attempt to deliver one webhook message, ±20 % jitter; when all are
    /// spent the endpoint is marked failing [config: webhooks.retry_schedule]
    /// [default: 0s,5s,5m,30m,2h,5h,10h,10h]
    #[arg(
        long,
        env = "CASELEDGER_WEBHOOK_RETRY_SCHEDULE",
        value_name = "DELAYS",
        value_parser = parse_retry_schedule
    )]
    pub webhook_retry_schedule: Option<RetrySchedule>,

    /// An internal address range webhooks may reach all the same, e.g. 10.20.0.0/16 or
    /// 127.0.0.0/8 (repeat the flag, or separate with commas). Without it, deliveries to
    /// loopback, private, link-local, CGNAT, unspecified, multicast and reserved addresses are
    /// refused [config: webhooks.allow_cidrs] [default: none]
    #[arg(
        long = "webhook-allow-cidr",
        env = "CASELEDGER_WEBHOOK_ALLOW_CIDR",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = parse_cidr_arg
    )]
    pub webhook_allow_cidr: Vec<IpNet>,

    /// Refuse webhook endpoints that are not https (at registration and at every delivery)
    /// [config: webhooks.require_https] [default: false]
    #[arg(long, env = "CASELEDGER_WEBHOOK_REQUIRE_HTTPS")]
    pub webhook_require_https: bool,

    /// A directory of calendar files in holiday-cn's format (`<year>.json`) that add years and
    /// regional holidays to the official working-day calendar built in, or replace a year
    /// (`"replace": true`); read at start, a bad file stops it
    /// [config: calendar_dir] [default: the calendar built in (holiday-cn, 2020-2026)]
    #[arg(long, env = "CASELEDGER_CALENDAR_DIR", value_name = "DIR")]
    pub calendar_dir: Option<PathBuf>,

    /// A directory of letter templates (opinion.typ, recommendation.typ) replacing the ones
    /// built in; read at start, a template that does not compile stops it
    /// [config: letters.template_dir] [default: the templates built in]
    #[arg(long, env = "CASELEDGER_TEMPLATE_DIR", value_name = "DIR")]
    pub template_dir: Option<PathBuf>,

    /// A directory of fonts (.ttf, .otf, .ttc) added to the Noto Serif CJK SC built in, for
    /// letters [config: letters.font_dir] [default: the fonts built in]
    #[arg(long, env = "CASELEDGER_FONT_DIR", value_name = "DIR")]
    pub font_dir: Option<PathBuf>,

    /// The largest file a case takes as an attachment, e.g. 25MiB; a larger one is answered
    /// 413 while it streams [config: attachments.max_bytes] [default: 25MiB]
    #[arg(
        long,
        env = "CASELEDGER_ATTACHMENT_MAX",
        value_name = "SIZE",
        value_parser = parse_size
    )]
    pub attachment_max: Option<u64>,

    /// A file holding the bearer token GET /metrics then requires (401 without it), read at
    /// start [config: metrics_token_file] [default: /metrics is open]
    #[arg(long, env = "CASELEDGER_METRICS_TOKEN_FILE", value_name = "FILE")]
    pub metrics_token_file: Option<PathBuf>,

    /// How long an Idempotency-Key replays its first answer, e.g. 168h; at least 24h; older
    /// records are removed every hour [config: limits.idempotency_ttl_hours] [default: 168h]
    #[arg(
        long,
        env = "CASELEDGER_IDEMPOTENCY_TTL",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub idempotency_ttl: Option<Duration>,

    /// Refuse commands (503 with Retry-After) while the data dir's filesystem has less free
    /// space than this, e.g. 64MiB, 1GiB, or bytes; 0 turns the reserve off. Embedded store
    /// only [config: store.min_free_space_bytes] [default: 64MiB]
    #[arg(
        long,
        env = "CASELEDGER_MIN_FREE_SPACE",
        value_name = "SIZE",
        value_parser = parse_size
    )]
    pub min_free_space: Option<u64>,

    /// Memory for the full states of recently used cases (views, list pages and commands on
    /// them are served without reading the store), e.g. 16MiB; the cases changed in the last
    /// few seconds are held besides, and every case's summary for lists and search
    /// [config: store.case_cache_bytes] [default: 16MiB]
    #[arg(
        long,
        env = "CASELEDGER_CASE_CACHE",
        value_name = "SIZE",
        value_parser = parse_size
    )]
    pub case_cache: Option<u64>,

    /// The size of sled's page cache, e.g. 64MiB (sled's own estimate: the memory it takes is
    /// somewhat more). Embedded store only [config: store.sled_cache_bytes] [default: 64MiB]
    #[arg(
        long,
        env = "CASELEDGER_SLED_CACHE",
        value_name = "SIZE",
        value_parser = parse_size
    )]
    pub sled_cache: Option<u64>,

    /// Close a connection whose client takes longer than this to send a request's headers,
    /// or stays idle between requests this long, e.g. 10s
    /// [config: limits.header_read_timeout_ms] [default: 30s]
    #[arg(
        long,
        env = "CASELEDGER_HEADER_READ_TIMEOUT",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub header_read_timeout: Option<Duration>,

    /// Answer 408 to a client that takes longer than this to send a request's body, e.g. 10s;
    /// shorter than the request timeout [config: limits.body_read_timeout_ms] [default: 10s]
    #[arg(
        long,
        env = "CASELEDGER_BODY_READ_TIMEOUT",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub body_read_timeout: Option<Duration>,

    /// What keeps one request or one caller from stalling the service.
    #[command(flatten)]
    pub guards: GuardsArgs,

    /// The console: sessions, time zone, public address.
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// The `serve` flags of the `[console]` table: people's sessions, the time zone pages show,
/// the address people reach the service at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ConsoleArgs {
    /// A console session ends after this long without use, e.g. 30m
    /// [config: console.session_idle_minutes] [default: 30m]
    #[arg(
        long,
        env = "CASELEDGER_SESSION_IDLE",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub session_idle: Option<Duration>,

    /// A console session ends this long after sign-in, used or not, e.g. 12h
    /// [config: console.session_max_hours] [default: 12h]
    #[arg(
        long,
        env = "CASELEDGER_SESSION_MAX",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub session_max: Option<Duration>,

    /// The time zone the console shows times in (IANA name); stored times stay UTC
    /// [config: console.timezone] [default: Asia/Shanghai]
    #[arg(long, env = "CASELEDGER_TIMEZONE", value_name = "ZONE")]
    pub timezone: Option<String>,

    /// The address people reach the service at, e.g. `https://caseledger.example.org`: setup
    /// links start with it, console forms must come from it, and cookies are Secure when it
    /// is https [config: console.public_url] [default: the bound address, over http]
    #[arg(long, env = "CASELEDGER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

/// The `serve` flags of the `[guards]` table: budgets, rates and bounds per caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct GuardsArgs {
    /// How long a case list or search may take before it is answered 503 with Retry-After,
    /// e.g. 2s, 500ms [config: guards.search_budget_ms] [default: 2s]
    #[arg(
        long,
        env = "CASELEDGER_SEARCH_BUDGET",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub search_budget: Option<Duration>,

    /// The most events one case may hold; a command beyond is answered 409
    /// (`case_event_limit_reached`); erasure is always allowed
    /// [config: guards.max_case_events] [default: 10000]
    #[arg(long, env = "CASELEDGER_MAX_CASE_EVENTS", value_name = "N")]
    pub max_case_events: Option<u64>,

    /// Requests per token: PER_SECOND or PER_SECOND:BURST (burst: 5 s worth), 0 for no
    /// limit; 429 with Retry-After beyond
    /// [config: guards.token_rate_per_second, token_rate_burst] [default: 20000:100000]
    #[arg(long, env = "CASELEDGER_TOKEN_RATE", value_name = "RATE", value_parser = parse_rate)]
    pub token_rate: Option<(u32, u32)>,

    /// Requests without a valid token per client address, as --token-rate
    /// [config: guards.address_rate_per_second, address_rate_burst] [default: 50:500]
    #[arg(long, env = "CASELEDGER_ADDRESS_RATE", value_name = "RATE", value_parser = parse_rate)]
    pub address_rate: Option<(u32, u32)>,

    /// Whole-log reads (verify, export, statistics, backup) one token runs at once; 429 with
    /// Retry-After beyond [config: guards.whole_log_reads_per_token] [default: 2]
    #[arg(long, env = "CASELEDGER_WHOLE_LOG_READS", value_name = "N")]
    pub whole_log_reads: Option<u32>,

    /// Connections open at once; beyond, new ones wait to be accepted
    /// [config: guards.max_connections] [default: 1024]
    #[arg(long, env = "CASELEDGER_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<u32>,
}

fn parse_cidr_arg(text: &str) -> Result<IpNet, String> {
    parse_cidr(text)
}

fn parse_retry_schedule(text: &str) -> Result<RetrySchedule, String> {
    text.parse()
        .map_err(|error: InvalidSchedule| error.to_string())
}

fn parse_store(text: &str) -> Result<StoreSelection, String> {
    text.parse()
}
