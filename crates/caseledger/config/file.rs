//! The configuration file (`--config FILE`, TOML): [`Config`] and its tables, exactly as
//! written, every key with its default.
//!
//! This module owns the file's keys, their defaults and their parsing (unknown keys are
//! refused). Every default is written out, with a comment, in `deploy/caseledger.example.toml`,
//! and a test keeps that file and [`Config::default`] equal. A key counted in a unit
//! (`read_wait_ms`, `min_free_space_bytes`) takes a number in that unit or the flags' text
//! (`"3s"`, `"64MiB"`; see [`super::units`]). Checking the values and merging them with the
//! flags is [`super::resolve`]'s. This module does no I/O beyond reading the file it is given.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use caseledger_app::webhooks::DEFAULT_RETRY_SCHEDULE;
use caseledger_domain::{DeadlineRule, Department, LetterKind, Policy, Tier};
use serde::{Deserialize, Serialize};

use super::store_selection::StoreSelection;
use super::units;

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
    /// A directory of working-day calendar files that add to the calendar built in. Default:
    /// none (the calendar built in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_dir: Option<PathBuf>,
    /// Known partner departments. Default: the nine of contract §4.
    pub departments: Vec<Department>,
    /// Which event log to use.
    pub store: StoreConfig,
    /// Limits and intervals of the service.
    pub limits: LimitsConfig,
    /// Supervision letters.
    pub letters: LettersConfig,
    /// Files attached to cases.
    pub attachments: AttachmentsConfig,
    /// Default members of each joint-mechanism tier.
    pub tiers: TiersConfig,
    /// Webhook delivery to partner departments.
    pub webhooks: WebhooksConfig,
    /// What keeps one request or one caller from stalling the service.
    pub guards: GuardsConfig,
    /// The console: sessions, time zone, public address.
    pub console: ConsoleFileConfig,
}

/// `[console]`: people's sessions, the time zone pages show, the address people reach the
/// service at (contract §8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleFileConfig {
    /// Minutes without use after which a session ends. Default 30.
    pub session_idle_minutes: u64,
    /// Hours after sign-in after which a session ends. Default 12.
    pub session_max_hours: u64,
    /// The IANA time zone times are shown in. Default `Asia/Shanghai`.
    pub timezone: String,
    /// The address people reach the service at. Default: `http://` and the listen address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl Default for ConsoleFileConfig {
    fn default() -> Self {
        ConsoleFileConfig {
            session_idle_minutes: 30,
            session_max_hours: 12,
            timezone: "Asia/Shanghai".into(),
            public_url: None,
        }
    }
}

/// `[guards]`: what keeps one request or one caller from stalling the service (issue #20).
/// A rate of 0 turns that limit off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardsConfig {
    /// How long a case list or search may take before it is answered 503, in milliseconds.
    /// Default 2000; shorter than `limits.request_timeout_ms`.
    #[serde(deserialize_with = "units::millis")]
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
    #[serde(deserialize_with = "units::bytes")]
    pub min_free_space_bytes: u64,
    /// The memory, in bytes, for the full states of recently used cases beyond those changed
    /// in the last few seconds; other cases are read from the store when needed. Default
    /// 16 MiB.
    #[serde(deserialize_with = "units::bytes")]
    pub case_cache_bytes: u64,
    /// The size of sled's page cache, in bytes. Embedded store only. Default 64 MiB.
    #[serde(deserialize_with = "units::bytes")]
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
    #[serde(deserialize_with = "units::bytes")]
    pub body_limit_bytes: u64,
    /// How long a read with `?min_position=` waits for the log before answering 503.
    /// Default 3000 ms.
    #[serde(deserialize_with = "units::millis")]
    pub read_wait_ms: u64,
    /// How long a request may take in all before it is answered 503. Default 30000 ms.
    #[serde(deserialize_with = "units::millis")]
    pub request_timeout_ms: u64,
    /// How long a client may take to send a request's headers (and how long an idle
    /// keep-alive connection is kept) before its connection is closed. Default 30000 ms.
    #[serde(deserialize_with = "units::millis")]
    pub header_read_timeout_ms: u64,
    /// How long a client may take to send a request's body before it is answered 408.
    /// Default 10000 ms; must be shorter than `request_timeout_ms`.
    #[serde(deserialize_with = "units::millis")]
    pub body_read_timeout_ms: u64,
    /// The largest request head (request line and headers) accepted, in bytes; a larger one
    /// is answered 431. At least 8192. Default 65536.
    #[serde(deserialize_with = "units::bytes")]
    pub header_limit_bytes: u64,
    /// How often the service looks for letters whose deadline passed. Default 30 s.
    #[serde(deserialize_with = "units::secs")]
    pub deadline_scan_interval_secs: u64,
    /// How long an `Idempotency-Key` replays its first answer, in hours; at least 24 (the
    /// contract). Default 168 (7 days).
    #[serde(deserialize_with = "units::hours")]
    pub idempotency_ttl_hours: u64,
}

/// `[attachments]`: files attached to cases as evidence (contract §10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// The largest file taken; a larger one is answered 413 (`--attachment-max`). Default
    /// 25 MiB.
    #[serde(deserialize_with = "units::bytes")]
    pub max_bytes: u64,
    /// The media types taken, as detected from a file's bytes; others are answered 415.
    pub accepted_types: Vec<String>,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        let limits = caseledger_app::AttachmentLimits::default();
        AttachmentsConfig {
            max_bytes: limits.max_bytes,
            accepted_types: limits.accepted,
        }
    }
}

/// `[letters]`: supervision letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LettersConfig {
    /// How numbers are written. Default `{issuer}{kind}〔{year}〕{n}号`.
    pub number_template: String,
    /// The issuer's abbreviation. Default `绵工监`.
    pub issuer: String,
    /// Before contract §9: the prefix of numbers such as `MY-2026-0042`. Still read: it names
    /// the issuer when `issuer` is left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_prefix: Option<String>,
    /// The deadline rule of each letter kind.
    pub deadlines: DeadlineRulesConfig,
    /// Who receives a copy (抄送) of each kind of letter.
    pub copies_to: CopiesToConfig,
    /// Before contract §9: deadlines in days from issue. Still read, as calendar days from
    /// issue; a kind may not be in both tables.
    #[serde(skip_serializing_if = "DeadlineDaysConfig::is_empty")]
    pub default_deadline_days: DeadlineDaysConfig,
    /// Who signs opinion and recommendation letters off before they are issued: `none`
    /// (default) or `supervisor`.
    pub approval: caseledger_domain::LetterApproval,
    /// The issuing office printed on letters. Default `绵阳市总工会`.
    pub office: String,
    /// The signature block of letters, one line each (empty: the office signs).
    pub signature: Vec<String>,
    /// The contact line printed among a letter's notes (empty: none).
    pub contact: String,
    /// A directory of letter templates (`opinion.typ`, `recommendation.typ`) that replace the
    /// ones built in (`--template-dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_dir: Option<PathBuf>,
    /// A directory of fonts added to the ones built in (`--font-dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub font_dir: Option<PathBuf>,
}

/// `[letters.copies_to]`: who receives a copy (抄送) of each kind of letter, printed at its foot
/// in this order; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CopiesToConfig {
    /// Opinion letters (意见书).
    pub opinion: Vec<String>,
    /// Recommendation letters (建议书).
    pub recommendation: Vec<String>,
}

/// `[letters.deadlines]`: a kind left out takes its default (opinion and recommendation
/// letters: 15 working days from service; reminders: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineRulesConfig {
    /// Reminder letters (提示函).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminder: Option<DeadlineRule>,
    /// Opinion letters (意见书).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opinion: Option<DeadlineRule>,
    /// Recommendation letters (建议书).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<DeadlineRule>,
}

/// `[letters.default_deadline_days]`, as before contract §9: days from issue per kind.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineDaysConfig {
    /// Reminder letters (提示函).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminder: Option<i64>,
    /// Opinion letters (意见书).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opinion: Option<i64>,
    /// Recommendation letters (建议书).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<i64>,
}

impl Default for DeadlineRulesConfig {
    fn default() -> Self {
        let rules = Policy::default().deadline_rules;
        DeadlineRulesConfig {
            reminder: rules.get(&LetterKind::Reminder).copied(),
            opinion: rules.get(&LetterKind::Opinion).copied(),
            recommendation: rules.get(&LetterKind::Recommendation).copied(),
        }
    }
}

impl DeadlineDaysConfig {
    fn is_empty(&self) -> bool {
        self == &DeadlineDaysConfig::default()
    }
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
            calendar_dir: None,
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
            attachments: AttachmentsConfig::default(),
            tiers: TiersConfig::default(),
            webhooks: WebhooksConfig::default(),
            guards: GuardsConfig::default(),
            console: ConsoleFileConfig::default(),
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
        let numbers = Policy::default().letter_numbers;
        let letterhead = caseledger_app::Letterhead::default();
        LettersConfig {
            number_template: numbers.template,
            issuer: numbers.issuer,
            number_prefix: None,
            deadlines: DeadlineRulesConfig::default(),
            copies_to: CopiesToConfig::default(),
            default_deadline_days: DeadlineDaysConfig::default(),
            approval: caseledger_domain::LetterApproval::None,
            office: letterhead.office,
            signature: letterhead.signature,
            contact: letterhead.contact,
            template_dir: None,
            font_dir: None,
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;
    use caseledger_domain::{PeriodStart, PeriodUnit};

    const EXAMPLE: &str = include_str!("../../../deploy/caseledger.example.toml");

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
        assert!(config.letters.deadlines.reminder.is_some());
        config.policy().unwrap();
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn a_partial_table_keeps_the_defaults_of_the_keys_it_leaves_out() {
        let config = Config::from_toml(
            "[letters.deadlines]\nopinion = { amount = 10, unit = \"calendar_days\", from = \"issued\" }\n\n\
             [limits]\nread_wait_ms = 500\n",
        )
        .unwrap();
        let policy = config.policy().unwrap();
        assert_eq!(
            policy.deadline_rules.get(&LetterKind::Opinion),
            Some(&DeadlineRule {
                amount: 10,
                unit: PeriodUnit::CalendarDays,
                from: PeriodStart::Issued
            })
        );
        assert_eq!(
            policy.deadline_rules.get(&LetterKind::Recommendation),
            Some(&DeadlineRule {
                amount: 15,
                unit: PeriodUnit::WorkingDays,
                from: PeriodStart::Served
            })
        );
        assert_eq!(policy.deadline_rules.get(&LetterKind::Reminder), None);
        assert_eq!(config.limits.request_timeout_ms, 30_000);
        assert_eq!(config.limits.read_wait_ms, 500);
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
}
