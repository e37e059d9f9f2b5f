//! The service's configuration: the TOML file (`--config FILE`), its defaults, and how flags and
//! `CASELEDGER_*` environment variables override it.
//!
//! This module owns [`Config`] (the file, exactly as written, every key with a default),
//! [`Overrides`] (what the command line says), and [`Settings`] (the validated result that
//! `serve` runs with, holding the domain's [`Policy`] and the API's [`ApiConfig`]). Precedence is
//! flag or env var > config file > default. Every default is written out, with a comment, in
//! `deploy/caseledger.example.toml`, and a test keeps that file and [`Config::default`] equal.
//! This module does no I/O beyond reading the file it is given.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use caseledger_api::ApiConfig;
use caseledger_app::webhooks::{
    parse_cidr, EgressPolicy, IpNet, RetrySchedule, DEFAULT_RETRY_SCHEDULE,
};
use caseledger_domain::{Department, LetterKind, Policy, PolicyError, Tier};
use serde::{Deserialize, Serialize};

/// The longest default letter deadline, in days (ten years); longer ones are surely typos.
const MAX_DEADLINE_DAYS: i64 = 3650;

/// The longest deadline scan interval; the contract promises a missed deadline is recorded
/// within one interval, so a longer one would make `overdue` meaningless.
const MAX_DEADLINE_SCAN_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// The configuration file. Every key is optional; a missing key takes its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Directory for the embedded store, the initial admin token and the signing key.
    /// Default `./caseledger-data`.
    pub data_dir: PathBuf,
    /// Ed25519 key that signs audit checkpoints. Default: none (a key is kept in the data dir).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<PathBuf>,
    /// Key-encryption key that wraps personal-data keys. Default: none (a key is kept in the
    /// data dir; production deployments keep it elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kek_file: Option<PathBuf>,
    /// The previous key-encryption key, during a rotation. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_kek_file: Option<PathBuf>,
    /// A file holding the bearer token `/metrics` requires. Default: none (`/metrics` is open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token_file: Option<PathBuf>,
    /// Known partner departments. Default: the nine of contract §4.
    pub departments: Vec<Department>,
    /// Which event log to use.
    pub store: StoreConfig,
    /// Limits and intervals of the service.
    pub limits: LimitsConfig,
    /// Supervision letters.
    pub letters: LettersConfig,
    /// Default members of each joint-mechanism tier.
    pub tiers: TiersConfig,
    /// Webhook delivery to partner departments.
    pub webhooks: WebhooksConfig,
    /// What keeps one request or one caller from stalling the service.
    pub guards: GuardsConfig,
}

/// `[guards]`: what keeps one request or one caller from stalling the service (issue #20).
/// A rate of 0 turns that limit off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardsConfig {
    /// How long a case list or search may take before it is answered 503, in milliseconds.
    /// Default 2000; shorter than `limits.request_timeout_ms`.
    pub search_budget_ms: u64,
    /// The most events one case may hold; a command beyond is answered 409. Default 10000.
    pub max_case_events: u64,
    /// Requests a second per token, sustained. Default 20000.
    pub token_rate_per_second: u32,
    /// Requests one token may send at once after a quiet spell. Default 100000.
    pub token_rate_burst: u32,
    /// Requests without a valid token a second per client address. Default 50.
    pub address_rate_per_second: u32,
    /// Requests without a valid token one address may send at once. Default 500.
    pub address_rate_burst: u32,
    /// Whole-log reads (verify, export, statistics, backup) one token runs at once. Default 2.
    pub whole_log_reads_per_token: u32,
    /// Connections open at once; beyond, new ones wait to be accepted. Default 1024.
    pub max_connections: u32,
}

impl Default for GuardsConfig {
    fn default() -> Self {
        use caseledger_api::guards::{
            DEFAULT_ADDRESS_RATE, DEFAULT_TOKEN_RATE, DEFAULT_WHOLE_LOG_READS_PER_TOKEN,
        };
        GuardsConfig {
            search_budget_ms: caseledger_app::DEFAULT_SEARCH_BUDGET.as_millis() as u64,
            max_case_events: caseledger_domain::limits::DEFAULT_MAX_CASE_EVENTS,
            token_rate_per_second: DEFAULT_TOKEN_RATE.0,
            token_rate_burst: DEFAULT_TOKEN_RATE.1,
            address_rate_per_second: DEFAULT_ADDRESS_RATE.0,
            address_rate_burst: DEFAULT_ADDRESS_RATE.1,
            whole_log_reads_per_token: DEFAULT_WHOLE_LOG_READS_PER_TOKEN as u32,
            max_connections: 1024,
        }
    }
}

/// The `[guards]` flags (`--search-budget`, `--max-case-events`, `--token-rate`,
/// `--address-rate`, `--whole-log-reads`, `--max-connections`); `None` leaves the file's value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardsOverrides {
    /// `--search-budget`.
    pub search_budget: Option<Duration>,
    /// `--max-case-events`.
    pub max_case_events: Option<u64>,
    /// `--token-rate`: per second and burst.
    pub token_rate: Option<(u32, u32)>,
    /// `--address-rate`: per second and burst.
    pub address_rate: Option<(u32, u32)>,
    /// `--whole-log-reads`.
    pub whole_log_reads_per_token: Option<u32>,
    /// `--max-connections`.
    pub max_connections: Option<u32>,
}

/// A rate flag's text: `PER_SECOND` or `PER_SECOND:BURST` (burst defaults to five seconds'
/// worth); `0` turns the limit off.
pub fn parse_rate(text: &str) -> Result<(u32, u32), String> {
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .map_err(|_| format!("{text:?}: expected PER_SECOND or PER_SECOND:BURST, e.g. 100:500"))
    };
    match text.split_once(':') {
        Some((rate, burst)) => Ok((number(rate)?, number(burst)?)),
        None => {
            let rate = number(text)?;
            Ok((rate, rate.saturating_mul(5)))
        }
    }
}

/// A rate from its two numbers: `Ok(None)` when it is off (0 a second), an error for a burst of
/// 0 on a rate that is on.
fn rate(
    per_second: u32,
    burst: u32,
    key: &str,
) -> Result<Option<caseledger_api::guards::Rate>, ConfigError> {
    if per_second == 0 {
        return Ok(None);
    }
    caseledger_api::guards::Rate::new(per_second, burst)
        .map(Some)
        .ok_or_else(|| ConfigError::new(key, "the burst must be at least 1 when the rate is on"))
}

/// `[webhooks]`: delivery to partner departments' webhook endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Delays before each attempt at one message, comma-separated. Default
    /// `0s,5s,5m,30m,2h,5h,10h,10h`.
    pub retry_schedule: String,
    /// Internal address ranges (CIDRs) deliveries may reach all the same. Default: none.
    pub allow_cidrs: Vec<String>,
    /// Whether endpoints must be https. Default `false`.
    pub require_https: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            retry_schedule: DEFAULT_RETRY_SCHEDULE.to_owned(),
            allow_cidrs: Vec::new(),
            require_https: false,
        }
    }
}

/// `[store]`: which event log to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://…` for the PostgreSQL log, `sled` (or absent) for the embedded log in the
    /// data dir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<StoreSelection>,
    /// Commands are refused (503) while the data dir's filesystem has less free space than
    /// this, in bytes; 0 turns the check off. Embedded store only. Default 64 MiB.
    pub min_free_space_bytes: u64,
    /// The memory, in bytes, for the full states of recently used cases beyond those changed
    /// in the last few seconds; other cases are read from the store when needed. Default
    /// 16 MiB.
    pub case_cache_bytes: u64,
    /// The size of sled's page cache, in bytes. Embedded store only. Default 64 MiB.
    pub sled_cache_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: None,
            min_free_space_bytes: caseledger_store::DEFAULT_MIN_FREE_SPACE_BYTES,
            case_cache_bytes: caseledger_app::AppOptions::default().recent_cases_bytes as u64,
            sled_cache_bytes: caseledger_store::DEFAULT_SLED_CACHE_BYTES,
        }
    }
}

/// `[limits]`: sizes, waits and intervals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// The largest request body accepted; larger ones get 413. Default 1 MiB.
    pub body_limit_bytes: u64,
    /// How long a read with `?min_position=` waits for the log before answering 503.
    /// Default 3000 ms.
    pub read_wait_ms: u64,
    /// How long a request may take in all before it is answered 503. Default 30000 ms.
    pub request_timeout_ms: u64,
    /// How long a client may take to send a request's headers (and how long an idle
    /// keep-alive connection is kept) before its connection is closed. Default 30000 ms.
    pub header_read_timeout_ms: u64,
    /// How long a client may take to send a request's body before it is answered 408.
    /// Default 10000 ms; must be shorter than `request_timeout_ms`.
    pub body_read_timeout_ms: u64,
    /// The largest request head (request line and headers) accepted, in bytes; a larger one
    /// is answered 431. At least 8192. Default 65536.
    pub header_limit_bytes: u64,
    /// How often the service looks for letters whose deadline passed. Default 30 s.
    pub deadline_scan_interval_secs: u64,
    /// How long an `Idempotency-Key` replays its first answer, in hours; at least 24 (the
    /// contract). Default 168 (7 days).
    pub idempotency_ttl_hours: u64,
}

/// `[letters]`: supervision letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LettersConfig {
    /// Prefix of letter numbers, e.g. `MY` in `MY-2026-0042`. Default `MY`.
    pub number_prefix: String,
    /// Default answer deadline of each letter kind, in days.
    pub default_deadline_days: DeadlineDaysConfig,
}

/// `[letters.default_deadline_days]`: a kind left out takes its default; a reminder has no
/// default deadline unless one is given here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineDaysConfig {
    /// Reminder letters (提示函) need no answer. Default: no deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminder: Option<i64>,
    /// Opinion letters (意见书) to the employer. Default 21 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opinion: Option<i64>,
    /// Recommendation letters (建议书) to a government department. Default 60 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<i64>,
}

/// `[tiers]`: default members of the joint mechanism's tiers (三方驻会、四方协作、五方联动).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TiersConfig {
    /// Default `arbitration`, `justice`, `labour_inspection`.
    pub three_party: Vec<Department>,
    /// Default `hrss`, `justice`, `court`.
    pub four_way: Vec<Department>,
    /// Default `hrss`, `justice`, `court`, `procuratorate`.
    pub five_way: Vec<Department>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            data_dir: PathBuf::from("./caseledger-data"),
            signing_key: None,
            kek_file: None,
            previous_kek_file: None,
            metrics_token_file: None,
            // The contract's order, which reads better in the file than the domain's sorted set;
            // a test checks that the two agree.
            departments: [
                "hrss",
                "labour_inspection",
                "arbitration",
                "justice",
                "court",
                "procuratorate",
                "public_security",
                "emergency_management",
                "health",
            ]
            .into_iter()
            .filter_map(|name| Department::new(name).ok())
            .collect(),
            store: StoreConfig::default(),
            limits: LimitsConfig::default(),
            letters: LettersConfig::default(),
            tiers: TiersConfig::default(),
            webhooks: WebhooksConfig::default(),
            guards: GuardsConfig::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            body_limit_bytes: 1024 * 1024,
            read_wait_ms: 3_000,
            request_timeout_ms: 30_000,
            header_read_timeout_ms: 30_000,
            body_read_timeout_ms: 10_000,
            header_limit_bytes: 64 * 1024,
            deadline_scan_interval_secs: 30,
            idempotency_ttl_hours: 7 * 24,
        }
    }
}

impl Default for LettersConfig {
    fn default() -> Self {
        LettersConfig {
            number_prefix: Policy::default().letter_number_prefix,
            default_deadline_days: DeadlineDaysConfig::default(),
        }
    }
}

impl Default for DeadlineDaysConfig {
    fn default() -> Self {
        let deadlines = Policy::default().default_deadlines;
        let days = |kind| deadlines.get(&kind).map(chrono::Duration::num_days);
        DeadlineDaysConfig {
            reminder: days(LetterKind::Reminder),
            opinion: days(LetterKind::Opinion),
            recommendation: days(LetterKind::Recommendation),
        }
    }
}

impl Default for TiersConfig {
    fn default() -> Self {
        let mut tiers = Policy::default().tiers;
        let mut take = |tier| tiers.remove(&tier).unwrap_or_default();
        TiersConfig {
            three_party: take(Tier::ThreeParty),
            four_way: take(Tier::FourWay),
            five_way: take(Tier::FiveWay),
        }
    }
}

/// Which event log `serve` uses.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum StoreSelection {
    /// The embedded sled log in the data dir.
    Sled,
    /// The PostgreSQL log at this URL.
    Postgres(String),
}

impl FromStr for StoreSelection {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "sled" {
            return Ok(StoreSelection::Sled);
        }
        let is_postgres = ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| text.len() > scheme.len() && text.starts_with(scheme));
        if is_postgres {
            Ok(StoreSelection::Postgres(text.to_owned()))
        } else {
            Err(format!(
                "unsupported store {:?}: use `sled` for the embedded log in the data dir, or a \
                 `postgres://user@host/database` URL",
                redact_password(text)
            ))
        }
    }
}

impl TryFrom<String> for StoreSelection {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<StoreSelection> for String {
    fn from(selection: StoreSelection) -> Self {
        match selection {
            StoreSelection::Sled => "sled".to_owned(),
            StoreSelection::Postgres(url) => url,
        }
    }
}

impl fmt::Display for StoreSelection {
    /// Shows the store without any password in its URL, so it can be logged.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSelection::Sled => formatter.write_str("sled"),
            StoreSelection::Postgres(url) => formatter.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for StoreSelection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "StoreSelection({self})")
    }
}

/// `scheme://user:secret@host/…` → `scheme://user:***@host/…`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// What the command line (flags and `CASELEDGER_*` env vars) says; `None` leaves the file's
/// value, or the default, in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--store`.
    pub store: Option<StoreSelection>,
    /// `--deadline-scan-interval`.
    pub deadline_scan_interval: Option<Duration>,
    /// `--signing-key`.
    pub signing_key: Option<PathBuf>,
    /// `--kek-file`.
    pub kek_file: Option<PathBuf>,
    /// `--previous-kek-file`.
    pub previous_kek_file: Option<PathBuf>,
    /// `--webhook-retry-schedule`.
    pub webhook_retry_schedule: Option<RetrySchedule>,
    /// `--webhook-allow-cidr`, when given at least once.
    pub webhook_allow_cidrs: Option<Vec<IpNet>>,
    /// `--webhook-require-https`, when given.
    pub webhook_require_https: Option<bool>,
    /// `--metrics-token-file`.
    pub metrics_token_file: Option<PathBuf>,
    /// `--idempotency-ttl`.
    pub idempotency_ttl: Option<Duration>,
    /// `--min-free-space`, in bytes.
    pub min_free_space_bytes: Option<u64>,
    /// `--case-cache`, in bytes.
    pub case_cache_bytes: Option<u64>,
    /// `--sled-cache`, in bytes.
    pub sled_cache_bytes: Option<u64>,
    /// `--header-read-timeout`.
    pub header_read_timeout: Option<Duration>,
    /// `--body-read-timeout`.
    pub body_read_timeout: Option<Duration>,
    /// The `[guards]` flags.
    pub guards: GuardsOverrides,
}

/// A configuration value that cannot be used, naming its key (`tiers.four_way`) or flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key in the file, or the flag, that holds the bad value.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The validated configuration `serve` runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address and port to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Which event log to use.
    pub store: StoreSelection,
    /// The HTTP layer's limits.
    pub api: ApiConfig,
    /// The rules' configuration: departments, tiers, default deadlines, letter-number prefix.
    pub policy: Policy,
    /// How often to look for letters whose deadline passed.
    pub deadline_scan_interval: Duration,
    /// The checkpoint signing key, when one is given.
    pub signing_key: Option<PathBuf>,
    /// The key-encryption key file, when one is given.
    pub kek_file: Option<PathBuf>,
    /// The previous key-encryption key file, during a rotation.
    pub previous_kek_file: Option<PathBuf>,
    /// The delays before each attempt to deliver one webhook message.
    pub webhook_retry_schedule: RetrySchedule,
    /// Where webhooks may be delivered.
    pub webhook_egress: EgressPolicy,
    /// The file holding the token `/metrics` requires, when it requires one.
    pub metrics_token_file: Option<PathBuf>,
    /// Commands are refused while the data dir's filesystem has less free space (embedded
    /// store; 0: no reserve).
    pub min_free_space_bytes: u64,
    /// How the service uses memory.
    pub app: caseledger_app::AppOptions,
    /// sled's page cache, in bytes (embedded store).
    pub sled_cache_bytes: u64,
    /// The HTTP server's connection limits.
    pub http: HttpLimits,
}

/// Limits the HTTP server applies to each connection, before a request reaches the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A client that has not sent a whole request head in this time is disconnected.
    pub header_read_timeout: Duration,
    /// The largest request head accepted (hyper's read buffer); larger ones get 431.
    pub header_limit_bytes: usize,
    /// Connections open at once; beyond, the server stops accepting until one closes.
    pub max_connections: usize,
}

/// hyper refuses a read buffer smaller than this.
const MIN_HEADER_LIMIT_BYTES: u64 = 8192;

impl Config {
    /// Parses a configuration file's text.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads and parses the configuration file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        Config::from_toml(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// The file at `path` when there is one, the defaults otherwise.
    pub fn load_or_default(path: Option<&Path>) -> anyhow::Result<Config> {
        path.map_or_else(|| Ok(Config::default()), Config::load)
    }

    /// Applies the command line's overrides and checks the result.
    pub fn resolve(self, overrides: Overrides) -> Result<Settings, ConfigError> {
        let limits = &self.limits;
        let body_limit_bytes = match usize::try_from(limits.body_limit_bytes) {
            Ok(0) => {
                return Err(ConfigError::new(
                    "limits.body_limit_bytes",
                    "must be at least 1 byte",
                ))
            }
            Ok(bytes) => bytes,
            Err(_) => {
                return Err(ConfigError::new(
                    "limits.body_limit_bytes",
                    "is too large for this machine",
                ))
            }
        };
        if limits.request_timeout_ms == 0 {
            return Err(ConfigError::new(
                "limits.request_timeout_ms",
                "must be at least 1 ms",
            ));
        }
        if limits.read_wait_ms >= limits.request_timeout_ms {
            return Err(ConfigError::new(
                "limits.read_wait_ms",
                format!(
                    "must be shorter than limits.request_timeout_ms ({} ms), or waiting reads \
                     time out before they can answer 503",
                    limits.request_timeout_ms
                ),
            ));
        }
        let deadline_scan_interval = match overrides.deadline_scan_interval {
            Some(interval) => {
                check_scan_interval(interval)
                    .map_err(|message| ConfigError::new("--deadline-scan-interval", message))?;
                interval
            }
            None => {
                let interval = Duration::from_secs(limits.deadline_scan_interval_secs);
                check_scan_interval(interval).map_err(|message| {
                    ConfigError::new("limits.deadline_scan_interval_secs", message)
                })?;
                interval
            }
        };
        let request_timeout = Duration::from_millis(limits.request_timeout_ms);
        let (body_read_timeout, body_key) = match overrides.body_read_timeout {
            Some(timeout) => (timeout, "--body-read-timeout"),
            None => (
                Duration::from_millis(limits.body_read_timeout_ms),
                "limits.body_read_timeout_ms",
            ),
        };
        if body_read_timeout.is_zero() || body_read_timeout >= request_timeout {
            return Err(ConfigError::new(
                body_key,
                format!(
                    "must be at least 1 ms and shorter than limits.request_timeout_ms ({} ms)",
                    limits.request_timeout_ms
                ),
            ));
        }
        let (header_read_timeout, header_key) = match overrides.header_read_timeout {
            Some(timeout) => (timeout, "--header-read-timeout"),
            None => (
                Duration::from_millis(limits.header_read_timeout_ms),
                "limits.header_read_timeout_ms",
            ),
        };
        if header_read_timeout.is_zero() {
            return Err(ConfigError::new(header_key, "must be at least 1 ms"));
        }
        let header_limit_bytes = match usize::try_from(limits.header_limit_bytes) {
            Ok(bytes) if limits.header_limit_bytes >= MIN_HEADER_LIMIT_BYTES => bytes,
            _ => {
                return Err(ConfigError::new(
                    "limits.header_limit_bytes",
                    format!("must be at least {MIN_HEADER_LIMIT_BYTES} bytes"),
                ))
            }
        };
        let guards = &self.guards;
        let flags = &overrides.guards;
        let (search_budget, budget_key) = match flags.search_budget {
            Some(budget) => (budget, "--search-budget"),
            None => (
                Duration::from_millis(guards.search_budget_ms),
                "guards.search_budget_ms",
            ),
        };
        if search_budget.is_zero() || search_budget >= request_timeout {
            return Err(ConfigError::new(
                budget_key,
                format!(
                    "must be at least 1 ms and shorter than limits.request_timeout_ms ({} ms)",
                    limits.request_timeout_ms
                ),
            ));
        }
        let (token_rate, token_burst) = flags
            .token_rate
            .unwrap_or((guards.token_rate_per_second, guards.token_rate_burst));
        let (address_rate, address_burst) = flags
            .address_rate
            .unwrap_or((guards.address_rate_per_second, guards.address_rate_burst));
        let whole_log_reads = flags
            .whole_log_reads_per_token
            .unwrap_or(guards.whole_log_reads_per_token);
        if whole_log_reads == 0 {
            return Err(ConfigError::new(
                "guards.whole_log_reads_per_token",
                "must be at least 1",
            ));
        }
        let max_connections = flags.max_connections.unwrap_or(guards.max_connections);
        if max_connections == 0 {
            return Err(ConfigError::new(
                "guards.max_connections",
                "must be at least 1",
            ));
        }
        let api = ApiConfig {
            body_limit_bytes,
            read_wait: Duration::from_millis(limits.read_wait_ms),
            request_timeout,
            body_read_timeout,
            token_rate: rate(token_rate, token_burst, "guards.token_rate_burst")?,
            address_rate: rate(address_rate, address_burst, "guards.address_rate_burst")?,
            whole_log_reads_per_token: whole_log_reads as usize,
        };
        let mut policy = self.policy()?;
        policy.max_case_events = flags.max_case_events.unwrap_or(guards.max_case_events);
        policy
            .validate()
            .map_err(|error| ConfigError::new("guards.max_case_events", error.to_string()))?;
        let webhook_retry_schedule =
            match overrides.webhook_retry_schedule {
                Some(schedule) => schedule,
                None => self.webhooks.retry_schedule.parse().map_err(|error| {
                    ConfigError::new("webhooks.retry_schedule", format!("{error}"))
                })?,
            };
        let (idempotency_ttl, ttl_key) = match overrides.idempotency_ttl {
            Some(ttl) => (ttl, "--idempotency-ttl"),
            None => (
                Duration::from_secs(limits.idempotency_ttl_hours.saturating_mul(60 * 60)),
                "limits.idempotency_ttl_hours",
            ),
        };
        if idempotency_ttl < caseledger_app::MIN_IDEMPOTENCY_TTL {
            return Err(ConfigError::new(
                ttl_key,
                "must be at least 24 hours: the contract keeps an Idempotency-Key that long",
            ));
        }
        let webhook_egress = EgressPolicy {
            allowed: match overrides.webhook_allow_cidrs {
                Some(cidrs) => cidrs,
                None => self
                    .webhooks
                    .allow_cidrs
                    .iter()
                    .map(|text| parse_cidr(text))
                    .collect::<Result<_, _>>()
                    .map_err(|message| ConfigError::new("webhooks.allow_cidrs", message))?,
            },
            require_https: overrides
                .webhook_require_https
                .unwrap_or(self.webhooks.require_https),
        };
        Ok(Settings {
            listen: overrides.listen.unwrap_or(self.listen),
            data_dir: overrides.data_dir.unwrap_or(self.data_dir),
            store: overrides
                .store
                .or(self.store.url)
                .unwrap_or(StoreSelection::Sled),
            api,
            policy,
            deadline_scan_interval,
            signing_key: overrides.signing_key.or(self.signing_key),
            kek_file: overrides.kek_file.or(self.kek_file),
            previous_kek_file: overrides.previous_kek_file.or(self.previous_kek_file),
            webhook_retry_schedule,
            webhook_egress,
            metrics_token_file: overrides.metrics_token_file.or(self.metrics_token_file),
            min_free_space_bytes: overrides
                .min_free_space_bytes
                .unwrap_or(self.store.min_free_space_bytes),
            sled_cache_bytes: overrides
                .sled_cache_bytes
                .unwrap_or(self.store.sled_cache_bytes),
            app: caseledger_app::AppOptions {
                recent_cases_bytes: usize::try_from(
                    overrides
                        .case_cache_bytes
                        .unwrap_or(self.store.case_cache_bytes),
                )
                .unwrap_or(usize::MAX),
                search_budget,
                idempotency_ttl,
            },
            http: HttpLimits {
                header_read_timeout,
                header_limit_bytes,
                max_connections: max_connections as usize,
            },
        })
    }

    /// The domain's [`Policy`] this file describes, checked.
    pub fn policy(&self) -> Result<Policy, ConfigError> {
        let mut departments = BTreeSet::new();
        for department in &self.departments {
            if !departments.insert(department.clone()) {
                return Err(ConfigError::new(
                    "departments",
                    format!("'{department}' is listed twice"),
                ));
            }
        }
        let known = || {
            self.departments
                .iter()
                .map(Department::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut tiers = BTreeMap::new();
        for (tier, key, members) in [
            (
                Tier::ThreeParty,
                "tiers.three_party",
                &self.tiers.three_party,
            ),
            (Tier::FourWay, "tiers.four_way", &self.tiers.four_way),
            (Tier::FiveWay, "tiers.five_way", &self.tiers.five_way),
        ] {
            if members.is_empty() {
                return Err(ConfigError::new(key, "must name at least one department"));
            }
            let mut seen = BTreeSet::new();
            for member in members {
                if !departments.contains(member) {
                    return Err(ConfigError::new(
                        key,
                        format!("'{member}' is not one of the departments ({})", known()),
                    ));
                }
                if !seen.insert(member) {
                    return Err(ConfigError::new(key, format!("'{member}' is listed twice")));
                }
            }
            tiers.insert(tier, members.clone());
        }
        let days = &self.letters.default_deadline_days;
        let mut default_deadlines = BTreeMap::new();
        for (kind, key, value) in [
            (
                LetterKind::Reminder,
                "letters.default_deadline_days.reminder",
                days.reminder,
            ),
            (
                LetterKind::Opinion,
                "letters.default_deadline_days.opinion",
                days.opinion,
            ),
            (
                LetterKind::Recommendation,
                "letters.default_deadline_days.recommendation",
                days.recommendation,
            ),
        ] {
            let Some(value) = value else { continue };
            if !(1..=MAX_DEADLINE_DAYS).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "must be a whole number of days from 1 to {MAX_DEADLINE_DAYS}, not {value}"
                    ),
                ));
            }
            let deadline = chrono::Duration::try_days(value)
                .ok_or_else(|| ConfigError::new(key, "is out of range"))?;
            default_deadlines.insert(kind, deadline);
        }
        let policy = Policy {
            departments,
            tiers,
            default_deadlines,
            letter_number_prefix: self.letters.number_prefix.clone(),
            max_case_events: self.guards.max_case_events,
        };
        // The checks above name the key of each mistake; the domain's own check stays the
        // authority on what a consistent policy is.
        policy.validate().map_err(|error| {
            let key = match &error {
                PolicyError::UnknownTierMember { tier, .. } => format!("tiers.{tier}"),
                PolicyError::NonPositiveDeadline { kind } => {
                    format!("letters.default_deadline_days.{kind}")
                }
                PolicyError::InvalidPrefix { .. } => "letters.number_prefix".to_owned(),
                PolicyError::NoEventsAllowed => "guards.max_case_events".to_owned(),
            };
            ConfigError::new(key, error.to_string())
        })?;
        Ok(policy)
    }
}

fn check_scan_interval(interval: Duration) -> Result<(), String> {
    if interval.is_zero() {
        Err("must be longer than zero".to_owned())
    } else if interval > MAX_DEADLINE_SCAN_INTERVAL {
        Err("must be at most one day (86400 s)".to_owned())
    } else {
        Ok(())
    }
}

/// Parses a size: bytes (`1048576`) or a number with a unit `KiB`, `MiB`, `GiB` (also `K`, `M`,
/// `G`, powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits_end = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let invalid = || {
        format!("invalid size {text:?}: write a whole number of bytes, or with a unit like 64MiB or 1GiB")
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1024,
        "M" | "MiB" => 1024 * 1024,
        "G" | "GiB" => 1024 * 1024 * 1024,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Parses a duration such as `30s`, `500ms`, `2m` or `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits_end = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let invalid = || {
        format!("invalid duration {text:?}: write a whole number with a unit, like 30s, 500ms, 2m or 1h")
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let duration = match unit.trim() {
        "" | "s" | "sec" | "secs" => Some(Duration::from_secs(number)),
        "ms" => Some(Duration::from_millis(number)),
        "m" | "min" | "mins" => number.checked_mul(60).map(Duration::from_secs),
        "h" => number.checked_mul(60 * 60).map(Duration::from_secs),
        _ => return Err(invalid()),
    };
    duration.ok_or_else(|| format!("duration {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    const EXAMPLE: &str = include_str!("../../deploy/caseledger.example.toml");

    #[test]
    fn the_example_file_is_exactly_the_defaults() {
        let parsed = Config::from_toml(EXAMPLE).unwrap();
        assert_eq!(parsed, Config::default());
        // Every key with a default value is written out in the example, not left implicit.
        let example_keys: toml::Value = toml::from_str(EXAMPLE).unwrap();
        let default_keys = toml::Value::try_from(Config::default()).unwrap();
        assert_eq!(example_keys, default_keys);
    }

    #[test]
    fn the_commented_out_keys_of_the_example_are_valid() {
        // Lines such as `# url = "postgres://…"` document keys without a default; uncommented
        // they must still parse, or the example teaches a mistake.
        let uncommented: String = EXAMPLE
            .lines()
            .map(|line| {
                let rest = line.strip_prefix("# ").unwrap_or(line);
                let is_key = rest.split_once(" = ").is_some_and(|(key, _)| {
                    key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                });
                if is_key {
                    rest.to_owned()
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let config = Config::from_toml(&uncommented).unwrap();
        assert!(config.signing_key.is_some());
        assert!(matches!(
            config.store.url,
            Some(StoreSelection::Postgres(_))
        ));
        assert!(config.letters.default_deadline_days.reminder.is_some());
        config.policy().unwrap();
    }

    #[test]
    fn the_defaults_are_the_domain_defaults() {
        let settings = Config::default().resolve(Overrides::default()).unwrap();
        assert_eq!(settings.policy, Policy::default());
        assert_eq!(settings.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(settings.data_dir, PathBuf::from("./caseledger-data"));
        assert_eq!(settings.store, StoreSelection::Sled);
        assert_eq!(settings.deadline_scan_interval, Duration::from_secs(30));
        assert_eq!(settings.api.body_limit_bytes, 1024 * 1024);
        assert_eq!(settings.api.read_wait, Duration::from_secs(3));
        assert_eq!(settings.api.request_timeout, Duration::from_secs(30));
        assert_eq!(settings.api.body_read_timeout, Duration::from_secs(10));
        assert_eq!(settings.http.header_read_timeout, Duration::from_secs(30));
        assert_eq!(settings.http.header_limit_bytes, 64 * 1024);
        assert_eq!(settings.min_free_space_bytes, 64 * 1024 * 1024);
        assert_eq!(settings.app.recent_cases_bytes, 16 * 1024 * 1024);
        assert_eq!(settings.sled_cache_bytes, 64 * 1024 * 1024);
        assert_eq!(settings.signing_key, None);
    }

    #[test]
    fn sizes_take_binary_units_and_refuse_the_rest() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("2G"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size(" 8 KiB "), Ok(8 * 1024));
        assert!(parse_size("64MB").unwrap_err().contains("64MiB"));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_size("18014398509481984G")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn slow_client_limits_are_checked_and_named() {
        for (text, key) in [
            (
                "[limits]\nbody_read_timeout_ms = 30000\n",
                "limits.body_read_timeout_ms",
            ),
            (
                "[limits]\nbody_read_timeout_ms = 0\n",
                "limits.body_read_timeout_ms",
            ),
            (
                "[limits]\nheader_read_timeout_ms = 0\n",
                "limits.header_read_timeout_ms",
            ),
            (
                "[limits]\nheader_limit_bytes = 4096\n",
                "limits.header_limit_bytes",
            ),
        ] {
            let error = Config::from_toml(text)
                .unwrap()
                .resolve(Overrides::default())
                .unwrap_err();
            assert_eq!(error.key, key, "{text}");
        }
        let file = Config::from_toml(
            "[store]\nmin_free_space_bytes = 1024\n[limits]\nheader_read_timeout_ms = 1500\n",
        )
        .unwrap();
        let settings = file.clone().resolve(Overrides::default()).unwrap();
        assert_eq!(settings.min_free_space_bytes, 1024);
        assert_eq!(
            settings.http.header_read_timeout,
            Duration::from_millis(1500)
        );
        let error = file
            .resolve(Overrides {
                body_read_timeout: Some(Duration::from_secs(60)),
                ..Overrides::default()
            })
            .unwrap_err();
        assert_eq!(error.key, "--body-read-timeout");
    }

    #[test]
    fn guards_are_read_from_the_file_checked_and_named() {
        let settings = Config::from_toml(
            "[guards]\nsearch_budget_ms = 700\nmax_case_events = 20\ntoken_rate_per_second = 5\n\
             token_rate_burst = 9\nwhole_log_reads_per_token = 3\nmax_connections = 64\n",
        )
        .unwrap()
        .resolve(Overrides::default())
        .unwrap();
        assert_eq!(settings.app.search_budget, Duration::from_millis(700));
        assert_eq!(settings.policy.max_case_events, 20);
        assert_eq!(
            settings.api.token_rate,
            caseledger_api::guards::Rate::new(5, 9)
        );
        assert_eq!(settings.api.whole_log_reads_per_token, 3);
        assert_eq!(settings.http.max_connections, 64);
        let defaults = Config::default().resolve(Overrides::default()).unwrap();
        assert_eq!(defaults.policy.max_case_events, 10_000);
        assert_eq!(
            defaults.api.token_rate,
            caseledger_api::guards::Rate::new(20_000, 100_000)
        );

        let refused = |toml: &str| {
            Config::from_toml(toml)
                .unwrap()
                .resolve(Overrides::default())
                .unwrap_err()
                .key
        };
        assert_eq!(
            refused("[guards]\nsearch_budget_ms = 30000\n"),
            "guards.search_budget_ms"
        );
        assert_eq!(
            refused("[guards]\nmax_case_events = 0\n"),
            "guards.max_case_events"
        );
        assert_eq!(
            refused("[guards]\ntoken_rate_burst = 0\n"),
            "guards.token_rate_burst"
        );
        assert_eq!(
            refused("[guards]\nwhole_log_reads_per_token = 0\n"),
            "guards.whole_log_reads_per_token"
        );
        assert_eq!(
            refused("[guards]\nmax_connections = 0\n"),
            "guards.max_connections"
        );
        let error = Config::default()
            .resolve(Overrides {
                guards: GuardsOverrides {
                    search_budget: Some(Duration::ZERO),
                    ..GuardsOverrides::default()
                },
                ..Overrides::default()
            })
            .unwrap_err();
        assert_eq!(error.key, "--search-budget");
    }

    #[test]
    fn rates_are_per_second_with_an_optional_burst() {
        assert_eq!(parse_rate("100:500"), Ok((100, 500)));
        assert_eq!(parse_rate("100"), Ok((100, 500)));
        assert_eq!(parse_rate("0"), Ok((0, 0)));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10:").is_err());
        assert!(parse_rate("-1").is_err());
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn a_partial_table_keeps_the_defaults_of_the_keys_it_leaves_out() {
        let config = Config::from_toml(
            "[letters.default_deadline_days]\nopinion = 14\n\n[limits]\nread_wait_ms = 500\n",
        )
        .unwrap();
        let policy = config.policy().unwrap();
        assert_eq!(
            policy.default_deadlines.get(&LetterKind::Opinion),
            Some(&chrono::Duration::days(14))
        );
        assert_eq!(
            policy.default_deadlines.get(&LetterKind::Recommendation),
            Some(&chrono::Duration::days(60))
        );
        assert_eq!(policy.default_deadlines.get(&LetterKind::Reminder), None);
        assert_eq!(config.limits.request_timeout_ms, 30_000);
        assert_eq!(config.limits.read_wait_ms, 500);
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_the_defaults() {
        let config = Config::from_toml(
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/caseledger\"\n\
             [limits]\ndeadline_scan_interval_secs = 60\n",
        )
        .unwrap();

        // Nothing on the command line: the file wins over the defaults.
        let from_file = config.clone().resolve(Overrides::default()).unwrap();
        assert_eq!(from_file.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(from_file.data_dir, PathBuf::from("/var/lib/caseledger"));
        assert_eq!(from_file.deadline_scan_interval, Duration::from_secs(60));
        assert_eq!(from_file.store, StoreSelection::Sled);

        // Flags (or their env vars) win over the file.
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: Some(PathBuf::from("/tmp/elsewhere")),
            store: Some("postgres://caseledger@db/caseledger".parse().unwrap()),
            deadline_scan_interval: Some(Duration::from_secs(5)),
            signing_key: Some(PathBuf::from("/etc/caseledger/key")),
            kek_file: Some(PathBuf::from("/etc/caseledger/kek")),
            previous_kek_file: None,
            webhook_retry_schedule: Some("1s,1m".parse().unwrap()),
            webhook_allow_cidrs: Some(vec![parse_cidr("127.0.0.0/8").unwrap()]),
            webhook_require_https: Some(true),
            metrics_token_file: Some(PathBuf::from("/etc/caseledger/metrics-token")),
            idempotency_ttl: Some(Duration::from_secs(48 * 60 * 60)),
            min_free_space_bytes: Some(0),
            case_cache_bytes: Some(1024),
            sled_cache_bytes: Some(2048),
            header_read_timeout: Some(Duration::from_secs(2)),
            body_read_timeout: Some(Duration::from_secs(3)),
            guards: GuardsOverrides {
                search_budget: Some(Duration::from_millis(250)),
                max_case_events: Some(50),
                token_rate: Some((10, 20)),
                address_rate: Some((0, 0)),
                whole_log_reads_per_token: Some(1),
                max_connections: Some(8),
            },
        };
        let from_flags = config.resolve(overrides).unwrap();
        assert_eq!(from_flags.app.search_budget, Duration::from_millis(250));
        assert_eq!(from_flags.policy.max_case_events, 50);
        assert_eq!(
            from_flags.api.token_rate,
            caseledger_api::guards::Rate::new(10, 20)
        );
        assert_eq!(from_flags.api.address_rate, None, "a rate of 0 is off");
        assert_eq!(from_flags.api.whole_log_reads_per_token, 1);
        assert_eq!(from_flags.http.max_connections, 8);
        assert_eq!(from_flags.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(from_flags.data_dir, PathBuf::from("/tmp/elsewhere"));
        assert_eq!(from_flags.deadline_scan_interval, Duration::from_secs(5));
        assert_eq!(
            from_flags.store,
            StoreSelection::Postgres("postgres://caseledger@db/caseledger".into())
        );
        assert_eq!(
            from_flags.kek_file,
            Some(PathBuf::from("/etc/caseledger/kek"))
        );
        assert_eq!(
            from_flags.signing_key,
            Some(PathBuf::from("/etc/caseledger/key"))
        );
        assert_eq!(from_flags.min_free_space_bytes, 0);
        assert_eq!(from_flags.app.recent_cases_bytes, 1024);
        assert_eq!(from_flags.sled_cache_bytes, 2048);
        assert_eq!(from_flags.http.header_read_timeout, Duration::from_secs(2));
        assert_eq!(from_flags.api.body_read_timeout, Duration::from_secs(3));
    }

    #[test]
    fn a_flag_can_switch_a_configured_postgres_store_back_to_sled() {
        let config = Config::from_toml("[store]\nurl = \"postgresql://u@h/d\"\n").unwrap();
        let overrides = Overrides {
            store: Some(StoreSelection::Sled),
            ..Overrides::default()
        };
        assert_eq!(
            config.resolve(overrides).unwrap().store,
            StoreSelection::Sled
        );
    }

    #[test]
    fn configured_departments_and_tiers_reach_the_policy() {
        let config = Config::from_toml(
            "departments = [\"hrss\", \"court\", \"trade_bureau\"]\n\
             [tiers]\nthree_party = [\"trade_bureau\"]\nfour_way = [\"hrss\", \"court\"]\n\
             five_way = [\"hrss\", \"court\", \"trade_bureau\"]\n",
        )
        .unwrap();
        let policy = config.policy().unwrap();
        assert_eq!(policy.departments.len(), 3);
        assert_eq!(
            policy.tiers[&Tier::ThreeParty]
                .iter()
                .map(Department::as_str)
                .collect::<Vec<_>>(),
            ["trade_bureau"]
        );
    }

    fn error_of(text: &str) -> ConfigError {
        Config::from_toml(text)
            .unwrap()
            .resolve(Overrides::default())
            .unwrap_err()
    }

    #[test]
    fn validation_errors_name_the_key() {
        let cases = [
            (
                "[tiers]\nfour_way = [\"hrss\", \"courts\"]\n",
                "tiers.four_way",
                "'courts' is not one of the departments",
            ),
            (
                "departments = [\"hrss\", \"court\"]\n",
                "tiers.three_party",
                "'arbitration' is not one of the departments",
            ),
            (
                "[tiers]\nfive_way = []\n",
                "tiers.five_way",
                "at least one department",
            ),
            (
                "[tiers]\nthree_party = [\"justice\", \"justice\"]\n",
                "tiers.three_party",
                "listed twice",
            ),
            (
                "departments = [\"hrss\", \"hrss\"]\n",
                "departments",
                "listed twice",
            ),
            (
                "[letters.default_deadline_days]\nopinion = 0\n",
                "letters.default_deadline_days.opinion",
                "from 1 to 3650",
            ),
            (
                "[letters.default_deadline_days]\nrecommendation = -5\n",
                "letters.default_deadline_days.recommendation",
                "not -5",
            ),
            (
                "[letters.default_deadline_days]\nreminder = 9999999999999\n",
                "letters.default_deadline_days.reminder",
                "from 1 to 3650",
            ),
            (
                "[letters]\nnumber_prefix = \"my\"\n",
                "letters.number_prefix",
                "uppercase",
            ),
            (
                "[letters]\nnumber_prefix = \"\"\n",
                "letters.number_prefix",
                "uppercase",
            ),
            (
                "[limits]\nbody_limit_bytes = 0\n",
                "limits.body_limit_bytes",
                "at least 1 byte",
            ),
            (
                "[limits]\nrequest_timeout_ms = 0\n",
                "limits.request_timeout_ms",
                "at least 1 ms",
            ),
            (
                "[limits]\nread_wait_ms = 40000\n",
                "limits.read_wait_ms",
                "shorter than limits.request_timeout_ms",
            ),
            (
                "[limits]\ndeadline_scan_interval_secs = 0\n",
                "limits.deadline_scan_interval_secs",
                "longer than zero",
            ),
            (
                "[limits]\ndeadline_scan_interval_secs = 100000\n",
                "limits.deadline_scan_interval_secs",
                "at most one day",
            ),
        ];
        for (text, key, message) in cases {
            let error = error_of(text);
            assert_eq!(error.key, key, "{text}");
            assert!(
                error.message.contains(message),
                "{text}: {error} should say {message:?}"
            );
            assert!(error.to_string().starts_with(key));
        }
    }

    #[test]
    fn the_webhook_retry_schedule_comes_from_the_flag_the_file_or_the_default() {
        let default = Config::default().resolve(Overrides::default()).unwrap();
        assert_eq!(default.webhook_retry_schedule, RetrySchedule::default());
        let config = Config::from_toml("[webhooks]\nretry_schedule = \"0s,30s\"\n").unwrap();
        let from_file = config.clone().resolve(Overrides::default()).unwrap();
        assert_eq!(from_file.webhook_retry_schedule.to_string(), "0s,30s");
        let from_flag = config
            .resolve(Overrides {
                webhook_retry_schedule: Some("5m".parse().unwrap()),
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(from_flag.webhook_retry_schedule.to_string(), "5m");
        let error = error_of("[webhooks]\nretry_schedule = \"0s,soon\"\n");
        assert_eq!(error.key, "webhooks.retry_schedule");
        assert!(error.message.contains("soon"), "{error}");
    }

    #[test]
    fn the_idempotency_period_is_a_week_by_default_and_never_below_a_day() {
        let default = Config::default().resolve(Overrides::default()).unwrap();
        assert_eq!(
            default.app.idempotency_ttl,
            Duration::from_secs(7 * 24 * 60 * 60)
        );
        let from_file = Config::from_toml("[limits]\nidempotency_ttl_hours = 30\n")
            .unwrap()
            .resolve(Overrides::default())
            .unwrap();
        assert_eq!(
            from_file.app.idempotency_ttl,
            Duration::from_secs(30 * 3600)
        );
        let error = error_of("[limits]\nidempotency_ttl_hours = 23\n");
        assert_eq!(error.key, "limits.idempotency_ttl_hours");
        let error = Config::default()
            .resolve(Overrides {
                idempotency_ttl: Some(Duration::from_secs(3600)),
                ..Overrides::default()
            })
            .unwrap_err();
        assert_eq!(error.key, "--idempotency-ttl");
    }

    #[test]
    fn webhook_egress_comes_from_the_flags_the_file_or_the_default() {
        let default = Config::default().resolve(Overrides::default()).unwrap();
        assert_eq!(default.webhook_egress, EgressPolicy::default());
        let config = Config::from_toml(
            "[webhooks]\nallow_cidrs = [\"127.0.0.0/8\", \"fd00::/8\"]\nrequire_https = true\n",
        )
        .unwrap();
        let from_file = config.clone().resolve(Overrides::default()).unwrap();
        assert_eq!(
            from_file.webhook_egress.allowed,
            [
                parse_cidr("127.0.0.0/8").unwrap(),
                parse_cidr("fd00::/8").unwrap()
            ]
        );
        assert!(from_file.webhook_egress.require_https);
        let from_flag = config
            .resolve(Overrides {
                webhook_allow_cidrs: Some(vec![parse_cidr("10.0.0.0/8").unwrap()]),
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(
            from_flag.webhook_egress.allowed,
            [parse_cidr("10.0.0.0/8").unwrap()]
        );
        let error = error_of("[webhooks]\nallow_cidrs = [\"intranet\"]\n");
        assert_eq!(error.key, "webhooks.allow_cidrs");
        assert!(error.message.contains("intranet"), "{error}");
    }

    #[test]
    fn a_bad_flag_value_names_the_flag() {
        let overrides = Overrides {
            deadline_scan_interval: Some(Duration::ZERO),
            ..Overrides::default()
        };
        let error = Config::default().resolve(overrides).unwrap_err();
        assert_eq!(error.key, "--deadline-scan-interval");
    }

    #[test]
    fn parse_errors_point_at_the_offending_key() {
        for (text, expected) in [
            ("listen = \"not an address\"\n", "listen"),
            ("lissen = \"127.0.0.1:1\"\n", "unknown field `lissen`"),
            ("[limits]\nbody_limit = 5\n", "unknown field `body_limit`"),
            (
                "[letters.default_deadline_days]\nwarning = 5\n",
                "unknown field `warning`",
            ),
            ("[tiers]\nsix_way = []\n", "unknown field `six_way`"),
            (
                "departments = [\"Human Resources\"]\n",
                "invalid department name",
            ),
            ("[store]\nurl = \"mysql://x\"\n", "unsupported store"),
            ("[limits]\nread_wait_ms = -1\n", "read_wait_ms"),
        ] {
            let error = Config::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn store_urls() {
        assert_eq!("sled".parse::<StoreSelection>(), Ok(StoreSelection::Sled));
        assert!(matches!(
            "postgres://u:secret@host:5432/db".parse::<StoreSelection>(),
            Ok(StoreSelection::Postgres(_))
        ));
        for bad in ["", "postgres://", "mysql://u@h/d", "./data"] {
            assert!(bad.parse::<StoreSelection>().is_err(), "{bad:?}");
        }
        let with_password: StoreSelection = "postgres://u:secret@host:5432/db".parse().unwrap();
        assert_eq!(with_password.to_string(), "postgres://u:***@host:5432/db");
        assert!(!format!("{with_password:?}").contains("secret"));
        let error = "mysql://u:hunter2@h/d"
            .parse::<StoreSelection>()
            .unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in [
            "",
            "s",
            "-1s",
            "1.5s",
            "10 parsecs",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration(&format!("{}h", u64::MAX)).is_err());
    }
}
